//! Remote write 1.0 decoding, and remote read requests on to SQL.

use super::*;

// ---------------------------------------------------------------------------------------
// Remote write 1.0 decoding

/// Series as (labels, (value bits, timestamp)), for comparing decoders.
type Decoded = Vec<(Vec<(String, String)>, Vec<(u64, i64)>)>;

fn ours(batch: &SeriesBatch<'_>) -> Decoded {
    batch
        .iter()
        .map(|s| {
            (
                s.labels
                    .iter()
                    .map(|l| (l.name.to_string(), l.value.to_string()))
                    .collect(),
                s.samples
                    .iter()
                    .map(|x| (x.value.to_bits(), x.timestamp_ms))
                    .collect(),
            )
        })
        .collect()
}

/// What a request holds. prost does not write a proto3 double equal to 0.0, -0.0
/// included, so a -0.0 it was given reads back as 0.0 whoever decodes it.
fn theirs(request: &proto::WriteRequest) -> Decoded {
    request
        .timeseries
        .iter()
        .map(|s| {
            (
                s.labels
                    .iter()
                    .map(|l| (l.name.clone(), l.value.clone()))
                    .collect(),
                s.samples
                    .iter()
                    .map(|x| {
                        let bits = if x.value == 0.0 { 0 } else { x.value.to_bits() };
                        (bits, x.timestamp)
                    })
                    .collect(),
            )
        })
        .collect()
}

fn label() -> impl Strategy<Value = proto::Label> {
    (text_value(), text_value()).prop_map(|(name, value)| proto::Label { name, value })
}

fn time_series() -> impl Strategy<Value = proto::TimeSeries> {
    let sample =
        (value_bits(), time()).prop_map(|(value, timestamp)| proto::Sample { value, timestamp });
    let exemplar = (prop::collection::vec(label(), 0..2), value_bits(), time()).prop_map(
        |(labels, value, timestamp)| proto::Exemplar {
            labels,
            value,
            timestamp,
        },
    );
    (
        prop::collection::vec(label(), 0..6),
        prop::collection::vec(sample, 0..6),
        prop::collection::vec(exemplar, 0..2),
    )
        .prop_map(|(labels, samples, exemplars)| proto::TimeSeries {
            labels,
            samples,
            exemplars,
            histograms: vec![],
        })
}

fn write_request() -> impl Strategy<Value = proto::WriteRequest> {
    let metadata = (any::<i32>(), text_value(), text_value(), text_value()).prop_map(
        |(r#type, metric_family_name, help, unit)| proto::MetricMetadata {
            r#type,
            metric_family_name,
            help,
            unit,
        },
    );
    (
        prop::collection::vec(time_series(), 0..5),
        prop::collection::vec(metadata, 0..2),
    )
        .prop_map(|(timeseries, metadata)| proto::WriteRequest {
            timeseries,
            metadata,
        })
}

/// Where prost decodes `bytes`, our decoder must give the same series, or refuse what
/// the real schema forbids and prost's model here does not know: groups (wire types 3
/// and 4, which no Prometheus sends), and field 4 of TimeSeries (native histograms) with
/// a wire type other than length-delimited.
fn same_as_prost(bytes: &[u8]) -> Result<(), TestCaseError> {
    let result = write::decode(bytes);
    let Ok(reference) = proto::WriteRequest::decode(bytes) else {
        return Ok(());
    };
    match result {
        Ok(batch) => prop_assert_eq!(ours(&batch), theirs(&reference)),
        Err(DecodeError::WireType(3 | 4)) => {}
        Err(DecodeError::UnexpectedWireType { field: 4, .. }) => {}
        Err(e) => {
            return Err(TestCaseError::fail(format!(
                "prost decodes {bytes:?}; ours refuses it: {e}"
            )))
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(1000))]

    /// Without it: a remote write body (whose bytes anyone who can reach /write chooses)
    /// could panic the hand-written decoder, which reads lengths and varints from it.
    #[test]
    fn remote_write_decode_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = write::decode(&bytes);
        same_as_prost(&bytes)?;
    }

    /// Without it: the borrowing decoder and its fast path for short labels could read a
    /// request differently from the schema (labels, sample values bit for bit, times),
    /// and store wrong data for requests no fixed fixture has.
    #[test]
    fn remote_write_decode_equals_prost_on_any_request(request in write_request()) {
        let bytes = request.encode_to_vec();
        let batch = write::decode(&bytes)
            .map_err(|e| TestCaseError::fail(format!("refused a prost encoding: {e}")))?;
        prop_assert_eq!(ours(&batch), theirs(&request));
        same_as_prost(&bytes)?;
    }

    /// Without it: a body damaged in transit or built by hand near the valid shape (where
    /// random bytes rarely land) could panic the decoder or be read differently from
    /// prost.
    #[test]
    fn remote_write_decode_survives_damaged_requests(
        request in write_request(),
        mutations in prop::collection::vec(mutation(), 1..4),
    ) {
        let bytes = mutate(request.encode_to_vec(), &mutations);
        same_as_prost(&bytes)?;
    }

    /// Without it: a snappy body could panic the decompressor before any protobuf is read.
    #[test]
    fn snappy_never_panics(
        body in prop::collection::vec(any::<u8>(), 0..512),
        data in prop::collection::vec(any::<u8>(), 0..512),
        mutations in prop::collection::vec(mutation(), 1..4),
    ) {
        let _ = snappy::decompress(&body);
        let damaged = mutate(snappy::compress(&data), &mutations);
        if let Ok(out) = snappy::decompress(&damaged) {
            prop_assert!(out.len() <= snappy::MAX_DECODED_BYTES);
        }
    }

    /// Without it: compression and decompression could disagree, and no request would
    /// decode as sent.
    #[test]
    fn snappy_round_trips(data in prop::collection::vec(any::<u8>(), 0..4096)) {
        prop_assert_eq!(snappy::decompress(&snappy::compress(&data)), Ok(data));
    }

    /// Without it: a few bytes declaring a decoded length of gigabytes could make the
    /// connector reserve that much memory per request.
    #[test]
    fn snappy_refuses_huge_declared_lengths(
        declared in (snappy::MAX_DECODED_BYTES as u64 + 1)..(1u64 << 31),
        tail in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        let mut body = uvarint(declared);
        body.extend_from_slice(&tail);
        let result = snappy::decompress(&body);
        prop_assert!(
            matches!(result, Err(DecodeError::TooLarge { .. })),
            "declared {declared} bytes: {result:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Remote read request decoding, and on to SQL

fn label_matcher() -> impl Strategy<Value = proto::LabelMatcher> {
    (
        prop_oneof![0..4i32, any::<i32>()],
        prop_oneof![Just("__name__".to_string()), hostile()],
        prop_oneof![hostile(), regexish()],
    )
        .prop_map(|(r#type, name, value)| proto::LabelMatcher {
            r#type,
            name,
            value,
        })
}

fn read_request() -> impl Strategy<Value = proto::ReadRequest> {
    let hints = (time(), time(), any::<i64>(), text_value()).prop_map(
        |(start_ms, end_ms, step_ms, func)| proto::ReadHints {
            start_ms,
            end_ms,
            step_ms,
            func,
            ..Default::default()
        },
    );
    let query = (
        time(),
        time(),
        prop::collection::vec(label_matcher(), 0..4),
        prop::option::of(hints),
    )
        .prop_map(|(start, end, matchers, hints)| proto::Query {
            start_timestamp_ms: start,
            end_timestamp_ms: end,
            matchers,
            hints,
        });
    (
        prop::collection::vec(query, 0..4),
        prop::collection::vec(prop_oneof![0..2i32, any::<i32>()], 0..3),
    )
        .prop_map(|(queries, accepted_response_types)| proto::ReadRequest {
            queries,
            accepted_response_types,
        })
}

/// Selectors of a decoded request, each translated as the read pipeline would: SQL, or
/// a refusal that is the client's fault (a bad regex, a reversed range).
fn translate_all(request: &proto::ReadRequest) -> Result<(), TestCaseError> {
    let _ = read::response_type(request);
    // A matcher type Prometheus does not define refuses the request (a 400).
    let Ok(selectors) = read::selectors(request) else {
        prop_assert!(request
            .queries
            .iter()
            .flat_map(|q| &q.matchers)
            .any(|m| !(0..4).contains(&m.r#type)));
        return Ok(());
    };
    for selector in selectors {
        let Some((start, end)) = selector.range else {
            continue;
        };
        let dimensions: Vec<String> = selector
            .matchers
            .iter()
            .map(|m| m.name.clone())
            .filter(|n| n != "__name__")
            .collect();
        match sql::select(
            "prometheus",
            "metrics",
            &dimensions,
            false,
            &selector.matchers,
            start,
            end,
        ) {
            Ok(_) | Err(sql::TranslateError::Regex { .. }) => {}
            Err(sql::TranslateError::Range { .. }) => prop_assert!(start > end),
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(1000))]

    /// Without it: a /read body could panic snappy, prost, or the selector and SQL
    /// building after them.
    #[test]
    fn remote_read_decode_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = read::decode(&bytes);
        // Past snappy, straight into prost and what follows a decode.
        if let Ok(request) = read::decode(&snappy::compress(&bytes)) {
            translate_all(&request)?;
        }
    }
}

proptest! {
    // Each case compiles up to 16 regexes twice (unoptimised in a debug build).
    #![proptest_config(config(500))]

    /// Without it: a query's matchers or time range could be mangled between the wire
    /// and the SQL (a matcher dropped, a range widened past what was asked), or a
    /// damaged request could panic the path.
    #[test]
    fn remote_read_requests_become_the_selectors_they_hold(
        request in read_request(),
        mutations in prop::collection::vec(mutation(), 0..3),
    ) {
        let raw = request.encode_to_vec();
        let decoded = read::decode(&snappy::compress(&raw));
        prop_assert_eq!(decoded.as_ref(), Ok(&request));
        let defined = request
            .queries
            .iter()
            .flat_map(|q| &q.matchers)
            .all(|m| (0..4).contains(&m.r#type));
        let selectors = read::selectors(&request);
        prop_assert_eq!(selectors.is_ok(), defined, "unknown matcher types are refused");
        let Ok(selectors) = selectors else {
            return Ok(());
        };
        prop_assert_eq!(selectors.len(), request.queries.len());
        for (selector, query) in selectors.iter().zip(&request.queries) {
            prop_assert_eq!(selector.matchers.len(), query.matchers.len());
            for (m, wire) in selector.matchers.iter().zip(&query.matchers) {
                prop_assert_eq!(&m.name, &wire.name);
                prop_assert_eq!(&m.value, &wire.value);
                let expected = match wire.r#type {
                    0 => Some(MatchKind::Equal),
                    1 => Some(MatchKind::NotEqual),
                    2 => Some(MatchKind::Regex),
                    3 => Some(MatchKind::NotRegex),
                    _ => None,
                };
                if let Some(kind) = expected {
                    prop_assert_eq!(m.kind, kind);
                }
            }
            if query.matchers.is_empty() {
                prop_assert_eq!(selector.range, None, "no matchers select nothing");
            }
            if let Some((start, end)) = selector.range {
                if query.start_timestamp_ms <= query.end_timestamp_ms {
                    prop_assert!(
                        query.start_timestamp_ms <= start && start <= end
                            && end <= query.end_timestamp_ms,
                        "range {:?} outside the query's [{}, {}]",
                        selector.range, query.start_timestamp_ms, query.end_timestamp_ms
                    );
                }
            }
        }
        translate_all(&request)?;
        if let Ok(damaged) = read::decode(&snappy::compress(&mutate(raw, &mutations))) {
            translate_all(&damaged)?;
        }
    }
}
