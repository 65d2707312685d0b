//! The other push formats: delimited protobuf, JSON events, grouping keys.

use super::*;

// ---------------------------------------------------------------------------------------
// Delimited protobuf pushes

const FAMILY_NAMES: &[&str] = &["a", "a_sum", "a_count", "a_bucket", "b", "", "1x", "x:y"];
const PAIR_NAMES: &[&str] = &["le", "quantile", "instance", "job", "x", "__x", "a-b", ""];

fn optional_value() -> impl Strategy<Value = Option<f64>> {
    prop::option::of(value_bits())
}

fn metric() -> impl Strategy<Value = client_model::Metric> {
    let pair = (prop::sample::select(PAIR_NAMES), text_value()).prop_map(|(name, value)| {
        client_model::LabelPair {
            name: Some(name.to_string()),
            value: Some(value),
        }
    });
    let quantile = (optional_value(), optional_value())
        .prop_map(|(quantile, value)| client_model::Quantile { quantile, value });
    let summary = (
        prop::option::of(any::<u64>()),
        optional_value(),
        prop::collection::vec(quantile, 0..4),
    )
        .prop_map(
            |(sample_count, sample_sum, quantile)| client_model::Summary {
                sample_count,
                sample_sum,
                quantile,
            },
        );
    let bucket = (prop::option::of(any::<u64>()), optional_value()).prop_map(
        |(cumulative_count, upper_bound)| client_model::Bucket {
            cumulative_count,
            upper_bound,
        },
    );
    let histogram = (
        prop::option::of(any::<u64>()),
        optional_value(),
        prop::collection::vec(bucket, 0..5),
    )
        .prop_map(
            |(sample_count, sample_sum, bucket)| client_model::Histogram {
                sample_count,
                sample_sum,
                bucket,
            },
        );
    (
        prop::collection::vec(pair, 0..3),
        prop::option::of(optional_value()),
        prop::option::of(optional_value()),
        prop::option::of(summary),
        prop::option::of(optional_value()),
        prop::option::of(histogram),
        prop::option::of(any::<i64>()),
    )
        .prop_map(
            |(label, gauge, counter, summary, untyped, histogram, timestamp_ms)| {
                client_model::Metric {
                    label,
                    gauge: gauge.map(|value| client_model::Gauge { value }),
                    counter: counter.map(|value| client_model::Counter { value }),
                    summary,
                    untyped: untyped.map(|value| client_model::Untyped { value }),
                    histogram,
                    timestamp_ms,
                }
            },
        )
}

fn metric_family() -> impl Strategy<Value = client_model::MetricFamily> {
    (
        prop::option::of(prop::sample::select(FAMILY_NAMES)),
        prop::option::of(prop::collection::vec(any::<u8>(), 0..8)),
        prop::option::of(prop_oneof![0..6i32, any::<i32>()]),
        prop::collection::vec(metric(), 0..4),
    )
        .prop_map(|(name, help, kind, metric)| client_model::MetricFamily {
            name: name.map(String::from),
            help,
            r#type: kind,
            metric,
        })
}

proptest! {
    #![proptest_config(config(1000))]

    /// Without it: a protobuf push could panic the parser, through its length prefixes,
    /// or through the conversion of summaries and histograms into samples (bounds, counts,
    /// NaN quantiles, families colliding by suffix).
    #[test]
    fn protobuf_push_parser_never_panics(
        bytes in prop::collection::vec(any::<u8>(), 0..512),
        families in prop::collection::vec(metric_family(), 0..4),
        mutations in prop::collection::vec(mutation(), 0..3),
    ) {
        let _ = protobuf::parse(&bytes);
        let mut body = Vec::new();
        for family in &families {
            family
                .encode_length_delimited(&mut body)
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
        }
        let _ = protobuf::parse(&body);
        let _ = protobuf::parse(&mutate(body, &mutations));
    }
}

// ---------------------------------------------------------------------------------------
// JSON events

/// One generated event, and what it must read as.
#[derive(Debug, Clone)]
struct GeneratedEvent {
    /// `None`: no `dimensions` field.
    dimensions: Option<Vec<(String, String)>>,
    /// `None`: no `timestamp` field; `Some(None)`: `"timestamp": null`.
    timestamp: Option<Option<i64>>,
    /// Name, the value's JSON text, what it must read as.
    metrics: Vec<(String, String, Number)>,
    /// An unknown top-level field, which must be ignored.
    extra: bool,
}

/// JSON tokens and event fields, to reach past the JSON syntax into the event checks.
const JSON_PIECES: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "\"",
    "\"metrics\"",
    "\"dimensions\"",
    "\"timestamp\"",
    "null",
    "1",
    "-1",
    "1e400",
    "\"NaN\"",
    "\"x\"",
    "\\u0000",
    "\"__a\"",
    " ",
    "18446744073709551616",
    "1.5",
];

fn json_string(s: &str) -> String {
    serde_json::to_string(s).expect("a string serialises")
}

impl GeneratedEvent {
    fn json(&self) -> String {
        let mut fields = Vec::new();
        if self.extra {
            fields.push(r#""source":{"x":[1,"2",null]}"#.to_string());
        }
        if let Some(dimensions) = &self.dimensions {
            let members: Vec<String> = dimensions
                .iter()
                .map(|(n, v)| format!("{}:{}", json_string(n), json_string(v)))
                .collect();
            fields.push(format!("\"dimensions\":{{{}}}", members.join(",")));
        }
        match self.timestamp {
            Some(Some(t)) => fields.push(format!("\"timestamp\":{t}")),
            Some(None) => fields.push("\"timestamp\":null".into()),
            None => {}
        }
        let metrics: Vec<String> = self
            .metrics
            .iter()
            .map(|(n, text, _)| format!("{}:{text}", json_string(n)))
            .collect();
        fields.push(format!("\"metrics\":{{{}}}", metrics.join(",")));
        format!("{{{}}}", fields.join(","))
    }
}

/// A metric value as a JSON number or a string, and what it must read as.
fn event_value() -> impl Strategy<Value = (String, Number)> {
    prop_oneof![
        4 => finite().prop_map(|v| (format!("{v:?}"), Number::Finite(v))),
        4 => finite().prop_map(|v| (format!("\"{v:?}\""), Number::Finite(v))),
        2 => finite().prop_map(|v| (format!("{v:e}"), Number::Finite(v))),
        2 => finite().prop_map(|v| (format!("\"{v:e}\""), Number::Finite(v))),
        1 => Just(("\"NaN\"".to_string(), Number::Nan)),
        1 => Just(("\"+Inf\"".to_string(), Number::PosInf)),
        1 => Just(("\"-Infinity\"".to_string(), Number::NegInf)),
        1 => Just(("\"inf\"".to_string(), Number::PosInf)),
    ]
}

fn event() -> impl Strategy<Value = GeneratedEvent> {
    let dimensions = prop::collection::vec(("[a-zA-Z_][a-zA-Z0-9_]{0,10}", chars(16)), 0..4)
        .prop_map(|pairs| {
            let mut seen = HashSet::new();
            pairs
                .into_iter()
                .filter(|(n, _)| !n.starts_with("__") && seen.insert(n.clone()))
                .collect::<Vec<_>>()
        });
    let metrics = prop::collection::vec(("[a-zA-Z_:][a-zA-Z0-9_:]{0,10}", event_value()), 1..5)
        .prop_map(|pairs| {
            let mut seen = HashSet::new();
            pairs
                .into_iter()
                .filter(|(n, _)| seen.insert(n.clone()))
                .map(|(n, (text, number))| (n, text, number))
                .collect::<Vec<_>>()
        });
    let timestamp = prop_oneof![
        Just(None),
        Just(Some(None)),
        (0..=i64::MAX).prop_map(|t| Some(Some(t))),
    ];
    (
        prop::option::of(dimensions),
        timestamp,
        metrics,
        any::<bool>(),
    )
        .prop_map(|(dimensions, timestamp, metrics, extra)| GeneratedEvent {
            dimensions,
            timestamp,
            metrics,
            extra,
        })
}

proptest! {
    #![proptest_config(config(1000))]

    /// Without it: an /events body could panic the parser instead of being a 400.
    #[test]
    fn events_parser_never_panics(
        bytes in prop::collection::vec(any::<u8>(), 0..256),
        body in chars(128),
        pieces in prop::collection::vec(prop::sample::select(JSON_PIECES), 0..40),
    ) {
        let _ = events::parse(&bytes);
        let _ = events::parse(body.as_bytes());
        let _ = events::parse(pieces.concat().as_bytes());
    }

    /// Without it: an event's values could be stored rounded (a JSON number read through
    /// an f64 parse that is not correctly rounded, a string read differently from
    /// Prometheus), or its dimensions or time changed.
    #[test]
    fn valid_events_read_back_exactly(
        generated in prop::collection::vec(event(), 1..4),
        array in any::<bool>(),
    ) {
        let array = array || generated.len() > 1;
        let items: Vec<String> = generated.iter().map(GeneratedEvent::json).collect();
        let body = if array { format!("[{}]", items.join(",")) } else { items[0].clone() };
        let parsed = events::parse(body.as_bytes())
            .map_err(|e| TestCaseError::fail(format!("refused: {e}\n{body}")))?;
        prop_assert_eq!(parsed.batch, array);
        prop_assert_eq!(parsed.events.len(), generated.len());
        for (got, want) in parsed.events.iter().zip(&generated) {
            let got = got
                .as_ref()
                .map_err(|e| TestCaseError::fail(format!("{e}\n{body}")))?;
            let dimensions: Vec<(&str, &str)> =
                got.dimensions.iter().map(|(n, v)| (&**n, &**v)).collect();
            let want_dimensions: Vec<(&str, &str)> = want
                .dimensions
                .iter()
                .flatten()
                .map(|(n, v)| (n.as_str(), v.as_str()))
                .collect();
            prop_assert_eq!(dimensions, want_dimensions);
            prop_assert_eq!(got.timestamp_ms, want.timestamp.flatten());
            prop_assert_eq!(got.metrics.len(), want.metrics.len());
            for ((name, value), (want_name, text, number)) in got.metrics.iter().zip(&want.metrics) {
                prop_assert_eq!(&**name, want_name.as_str());
                prop_assert!(number.matches(*value), "{text} read as {value:?}");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Pushgateway grouping keys

const PATH_PIECES: &[&str] = &[
    "job",
    "job@base64",
    "/",
    "%",
    "%2F",
    "%zz",
    "%C3%A9",
    "%FF",
    "=",
    "a",
    "__x",
    "x@base64",
    "YQ",
    "YR",
    "",
    ".",
    "..",
    "é",
    "instance",
    "@base64",
    "//",
];

/// A grouping key path segment for `value`, base64 or percent-encoded.
fn segment(value: &str, base64: bool) -> String {
    if base64 {
        if value.is_empty() {
            // An empty segment is `//` unless last; `=` is the empty value.
            return "=".into();
        }
        return base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value);
    }
    percent_encoding::utf8_percent_encode(value, percent_encoding::NON_ALPHANUMERIC).to_string()
}

proptest! {
    #![proptest_config(config(1000))]

    /// Without it: a push URL could panic the grouping key parser (percent escapes,
    /// base64, slashes) instead of being a 400.
    #[test]
    fn grouping_key_parser_never_panics(
        path in chars(64),
        pieces in prop::collection::vec(prop::sample::select(PATH_PIECES), 0..16),
    ) {
        let _ = grouping::parse(&path);
        let _ = grouping::parse(&pieces.concat());
    }

    /// Without it: a label value sent base64- or percent-encoded (any text, slashes and
    /// unicode included) could be stored as something else than what was sent.
    #[test]
    fn grouping_keys_decode_what_was_encoded(
        job in chars(16).prop_filter("a job", |j| !j.is_empty()),
        job_base64 in any::<bool>(),
        labels in prop::collection::vec(("[a-zA-Z_][a-zA-Z0-9_]{0,8}", chars(16), any::<bool>()), 0..4),
    ) {
        // Plain segments cannot be empty or relative (`.`, `..`): those need base64.
        let plain_ok = |v: &str| !v.is_empty() && v != "." && v != "..";
        let job_base64 = job_base64 || !plain_ok(&job);
        let mut path = format!(
            "{}/{}",
            if job_base64 { "job@base64" } else { "job" },
            segment(&job, job_base64)
        );
        let mut expected = vec![("job".to_string(), job.clone())];
        for (name, value, base64) in &labels {
            if name.starts_with("__") {
                continue;
            }
            let base64 = *base64 || !plain_ok(value);
            let suffix = if base64 { "@base64" } else { "" };
            let _ = write!(path, "/{name}{suffix}/{}", segment(value, base64));
            if name == "job" {
                continue; // the path's job wins
            }
            match expected.iter_mut().find(|(n, _)| n == name) {
                Some(label) => label.1 = value.clone(),
                None => expected.push((name.clone(), value.clone())),
            }
        }
        let key = grouping::parse(&path)
            .map_err(|e| TestCaseError::fail(format!("refused {path}: {e}")))?;
        prop_assert_eq!(key.labels, expected);
    }
}
