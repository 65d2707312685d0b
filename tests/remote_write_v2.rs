//! Remote write 2.0 on `/write`, case by case as the receiver cases of the public
//! compliance suite (prometheus/compliance, remotewrite/receiver) group them: content
//! types and encodings, corrupt bodies, one and many series, odd label text, a series
//! without a name among valid ones, created timestamps, metadata, exemplars, native
//! histograms, many series, and 1.0 beside it. Each asserts the status and the three
//! `X-Prometheus-Remote-Write-*-Written` counts exactly, then reads what was stored back
//! through `/read` and compares it with what was sent.

mod support;

use std::collections::BTreeMap;

use prost::Message;
use support::*;
use timestream_prometheus_connector::remote::proto::v2;
use timestream_prometheus_connector::remote::snappy;

const V2: &str = "application/x-protobuf;proto=io.prometheus.write.v2.Request";
const T0: i64 = 1_676_398_017_000;

/// A 2.0 request from series given as labels and samples, with a symbols table.
struct Builder {
    symbols: Vec<String>,
    request: v2::Request,
}

impl Builder {
    fn new() -> Builder {
        Builder {
            symbols: vec![String::new()],
            request: v2::Request::default(),
        }
    }

    fn symbol(&mut self, text: &str) -> u32 {
        match self.symbols.iter().position(|s| s == text) {
            Some(i) => i as u32,
            None => {
                self.symbols.push(text.to_string());
                (self.symbols.len() - 1) as u32
            }
        }
    }

    fn series(mut self, labels: &[(&str, &str)], samples: &[(i64, f64)]) -> Builder {
        let mut refs = Vec::new();
        for (name, value) in labels {
            refs.push(self.symbol(name));
            refs.push(self.symbol(value));
        }
        self.request.timeseries.push(v2::TimeSeries {
            labels_refs: refs,
            samples: samples
                .iter()
                .map(|&(timestamp, value)| v2::Sample {
                    value,
                    timestamp,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        });
        self
    }

    /// Changes the last series.
    fn with(mut self, change: impl FnOnce(&mut v2::TimeSeries, &mut Vec<String>)) -> Builder {
        let last = self.request.timeseries.last_mut().unwrap();
        change(last, &mut self.symbols);
        self
    }

    fn body(mut self) -> Vec<u8> {
        self.request.symbols = self.symbols;
        snappy::compress(&self.request.encode_to_vec())
    }
}

/// Status, the three written counts (None when absent) and the body of an answer.
type Answer = (u16, [Option<u64>; 3], String);

async fn post(url: &str, content_type: &str, encoding: &str, body: Vec<u8>) -> Answer {
    let response = reqwest::Client::new()
        .post(format!("{url}/write"))
        .header("Content-Type", content_type)
        .header("Content-Encoding", encoding)
        .header("X-Prometheus-Remote-Write-Version", "2.0.0")
        .body(body)
        .send()
        .await
        .unwrap();
    let count = |name: &str| {
        response
            .headers()
            .get(format!("x-prometheus-remote-write-{name}-written"))
            .map(|v| v.to_str().unwrap().parse().unwrap())
    };
    let counts = [count("samples"), count("histograms"), count("exemplars")];
    let status = response.status().as_u16();
    (status, counts, response.text().await.unwrap())
}

async fn send(url: &str, body: Vec<u8>) -> Answer {
    post(url, V2, "snappy", body).await
}

/// Everything stored under `metric`, as remote read returns it.
async fn read(url: &str, metric: &str) -> Vec<ReadSeries> {
    let query = read_query(T0 - 3_600_000, T0 + 3_600_000, &[(0, "__name__", metric)]);
    let (status, body, mut results) = remote_read(url, vec![query], false).await;
    assert_eq!(status, 200, "{body}");
    results.remove(0)
}

fn stored(labels: &[(&str, &str)], samples: &[(i64, f64)]) -> ReadSeries {
    let mut labels: Vec<(String, String)> = labels
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    labels.sort();
    (
        labels,
        samples.iter().map(|&(t, v)| (t, v.to_bits())).collect(),
    )
}

async fn start() -> Stack {
    Stack::start(Backend::Local, Via::Direct, &["metrics"], &[]).await
}

#[tokio::test]
async fn content_types_and_encodings_other_than_the_two_versions_are_415() {
    let stack = start().await;
    let url = &stack.connector.url;
    let body = Builder::new()
        .series(&[("__name__", "ct"), ("job", "j")], &[(T0, 1.0)])
        .body();
    for content_type in [
        "application/json",
        "application/x-protobuf;proto=io.prometheus.write.v3.Request",
        "text/plain;proto=io.prometheus.write.v2.Request",
    ] {
        let (status, _, text) = post(url, content_type, "snappy", body.clone()).await;
        assert_eq!(status, 415, "{content_type}: {text}");
        assert!(text.contains("io.prometheus.write.v2.Request"), "{text}");
    }
    for encoding in ["gzip", "zstd"] {
        let (status, _, text) = post(url, V2, encoding, body.clone()).await;
        assert_eq!(status, 415, "{encoding}: {text}");
    }
    assert!(
        read(url, "ct").await.is_empty(),
        "nothing refused was stored"
    );
}

#[tokio::test]
async fn corrupt_bodies_and_broken_references_are_400_with_nothing_written() {
    let stack = start().await;
    let url = &stack.connector.url;
    let good = Builder::new().series(&[("__name__", "corrupt"), ("job", "j")], &[(T0, 1.0)]);
    let raw = {
        let mut request = good.request.clone();
        request.symbols = good.symbols.clone();
        request.encode_to_vec()
    };
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("not snappy", b"\xff\xff\xff\xffnot snappy".to_vec()),
        (
            "truncated protobuf",
            snappy::compress(&raw[..raw.len() - 3]),
        ),
        (
            "odd label references",
            Builder::new()
                .series(&[("__name__", "corrupt")], &[(T0, 1.0)])
                .with(|ts, _| ts.labels_refs.push(1))
                .body(),
        ),
        (
            "reference out of range",
            Builder::new()
                .series(&[("__name__", "corrupt")], &[(T0, 1.0)])
                .with(|ts, _| ts.labels_refs[1] = 77)
                .body(),
        ),
        (
            "symbols not starting with the empty string",
            Builder::new()
                .series(&[("__name__", "corrupt")], &[(T0, 1.0)])
                .with(|_, symbols| symbols[0] = "x".into())
                .body(),
        ),
    ];
    for (case, body) in cases {
        let (status, counts, text) = send(url, body).await;
        assert_eq!(status, 400, "{case}: {text}");
        if case != "not snappy" {
            assert_eq!(counts, [Some(0), Some(0), Some(0)], "{case}");
        }
    }
    assert!(read(url, "corrupt").await.is_empty());
}

#[tokio::test]
async fn series_are_stored_exactly_and_counted() {
    let stack = start().await;
    let url = &stack.connector.url;
    let odd = [
        ("__name__", "v2_odd"),
        ("job", "dots.and spaces"),
        ("path", "new\nline"),
        ("zone", "é ✓"),
    ];
    let body = Builder::new()
        .series(&[("__name__", "v2_one"), ("job", "j")], &[(T0, 1.5)])
        .series(
            &[("__name__", "v2_many"), ("instance", "a"), ("job", "j")],
            &[(T0, 0.1 + 0.2), (T0 + 15_000, -1e-300)],
        )
        .series(
            &[("__name__", "v2_many"), ("instance", "b"), ("job", "j")],
            &[(T0, f64::MAX)],
        )
        .series(&odd, &[(T0, 42.0)])
        .body();
    let (status, counts, text) = send(url, body).await;
    assert_eq!(status, 204, "{text}");
    assert_eq!(counts, [Some(5), Some(0), Some(0)]);
    assert_eq!(
        read(url, "v2_one").await,
        [stored(
            &[("__name__", "v2_one"), ("job", "j")],
            &[(T0, 1.5)]
        )]
    );
    let many = read(url, "v2_many").await;
    assert_eq!(
        many,
        [
            stored(
                &[("__name__", "v2_many"), ("instance", "a"), ("job", "j")],
                &[(T0, 0.1 + 0.2), (T0 + 15_000, -1e-300)]
            ),
            stored(
                &[("__name__", "v2_many"), ("instance", "b"), ("job", "j")],
                &[(T0, f64::MAX)]
            ),
        ]
    );
    assert_eq!(read(url, "v2_odd").await, [stored(&odd, &[(T0, 42.0)])]);
}

#[tokio::test]
async fn a_series_without_a_name_among_valid_ones_is_a_400_after_the_others_are_stored() {
    let stack = start().await;
    let url = &stack.connector.url;
    let body = Builder::new()
        .series(
            &[("__name__", "v2_named"), ("job", "j")],
            &[(T0, 1.0), (T0 + 1, 2.0)],
        )
        .series(&[("job", "nameless")], &[(T0, 3.0)])
        .body();
    let (status, counts, text) = send(url, body).await;
    assert_eq!(status, 400, "{text}");
    assert_eq!(counts, [Some(2), Some(0), Some(0)]);
    assert!(text.contains("__name__"), "{text}");
    assert_eq!(
        read(url, "v2_named").await,
        [stored(
            &[("__name__", "v2_named"), ("job", "j")],
            &[(T0, 1.0), (T0 + 1, 2.0)]
        )]
    );
}

#[tokio::test]
async fn created_timestamps_and_metadata_are_accepted_and_exemplars_stored() {
    let stack = start().await;
    let url = &stack.connector.url;
    let body = Builder::new()
        .series(&[("__name__", "v2_meta_total"), ("job", "j")], &[(T0, 7.0)])
        .with(|ts, symbols| {
            symbols.extend([
                "Requests served.".into(),
                "requests".into(),
                "trace_id".into(),
                "abc".into(),
            ]);
            let at = |text: &str| symbols.iter().position(|s| s == text).unwrap() as u32;
            ts.metadata = Some(v2::Metadata {
                r#type: 1,
                help_ref: at("Requests served."),
                unit_ref: at("requests"),
            });
            ts.created_timestamp = T0 - 60_000;
            ts.samples[0].start_timestamp = T0 - 60_000;
            ts.exemplars.push(v2::Exemplar {
                labels_refs: vec![at("trace_id"), at("abc")],
                value: 7.0,
                timestamp: T0,
            });
            // Exemplars are optional: one that cannot be stored is counted, and does
            // not fail the request.
            ts.exemplars.push(v2::Exemplar {
                labels_refs: vec![],
                value: f64::NAN,
                timestamp: T0,
            });
            // A day ahead: Timestream rejects it, which is counted too.
            let tomorrow = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_millis() as i64
                + 86_400_000;
            ts.exemplars.push(v2::Exemplar {
                labels_refs: vec![],
                value: 3.0,
                timestamp: tomorrow,
            });
        })
        .body();
    let (status, counts, text) = send(url, body).await;
    assert_eq!(status, 204, "{text}");
    assert_eq!(counts, [Some(1), Some(0), Some(1)]);
    // Reads see the sample, not the exemplar.
    assert_eq!(
        read(url, "v2_meta_total").await,
        [stored(
            &[("__name__", "v2_meta_total"), ("job", "j")],
            &[(T0, 7.0)]
        )]
    );
    let rows = stack.timestream.records(DB, "metrics").await;
    let exemplar: Vec<_> = rows
        .iter()
        .filter(|r| r["MeasureName"] == "__exemplar__")
        .collect();
    assert_eq!(exemplar.len(), 1, "{rows:#?}");
    let mut dimensions: Vec<(&str, &str)> = exemplar[0]["Dimensions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["Name"].as_str().unwrap(), d["Value"].as_str().unwrap()))
        .collect();
    dimensions.sort();
    assert_eq!(
        dimensions,
        [
            ("__labels__", "{trace_id=\"abc\"}"),
            ("__metric__", "v2_meta_total"),
            ("job", "j")
        ]
    );
    assert_eq!(exemplar[0]["MeasureValue"], "7.0");
    let ignored = |reason: &str| {
        format!("timestream_connector_ignored_exemplars_total{{protocol=\"remote_write_2\",reason=\"{reason}\"}}")
    };
    assert_eq!(
        stack.connector.metric(&ignored("non_finite_value")).await,
        1.0
    );
    assert_eq!(stack.connector.metric(&ignored("rejected")).await, 1.0);
}

#[tokio::test]
async fn exponential_and_custom_bucket_histograms_are_stored_and_counted() {
    use timestream_prometheus_connector::remote::histogram;
    let stack = start().await;
    let url = &stack.connector.url;
    let exponential = |i: i64| v2::Histogram {
        count: Some(v2::histogram::Count::CountInt(3 + i as u64)),
        sum: 1.5 + i as f64,
        schema: 3,
        zero_threshold: 1e-128,
        zero_count: Some(v2::histogram::ZeroCount::ZeroCountInt(1)),
        timestamp: T0 + i,
        positive_spans: vec![v2::BucketSpan {
            offset: 0,
            length: 2,
        }],
        positive_deltas: vec![1, i],
        negative_spans: vec![v2::BucketSpan {
            offset: -2,
            length: 1,
        }],
        negative_deltas: vec![1],
        ..Default::default()
    };
    let custom = v2::Histogram {
        count: Some(v2::histogram::Count::CountFloat(4.5)),
        sum: 9.0,
        schema: -53,
        timestamp: T0,
        positive_spans: vec![v2::BucketSpan {
            offset: 0,
            length: 3,
        }],
        positive_counts: vec![1.0, 2.5, 1.0],
        custom_values: vec![0.1, 0.5, 2.0],
        reset_hint: 3,
        ..Default::default()
    };
    let positive_only = v2::Histogram {
        timestamp: T0,
        ..exponential(0)
    };
    let negative_only = v2::Histogram {
        positive_spans: vec![],
        positive_deltas: vec![],
        timestamp: T0 + 1,
        ..exponential(0)
    };
    let empty = v2::Histogram {
        timestamp: T0 + 2,
        ..Default::default()
    };
    // A histogram whose spans promise more buckets than it has: not stored.
    let broken = v2::Histogram {
        positive_deltas: vec![1],
        timestamp: T0 + 3,
        ..exponential(0)
    };
    let body = Builder::new()
        .series(&[("__name__", "v2_float"), ("job", "j")], &[(T0, 1.0)])
        .series(&[("__name__", "v2_latency"), ("job", "j")], &[])
        .with(|ts, _| ts.histograms = vec![exponential(0), exponential(1), exponential(2)])
        .series(&[("__name__", "v2_custom"), ("job", "j")], &[])
        .with(|ts, _| ts.histograms = vec![custom.clone()])
        .series(&[("__name__", "v2_sides"), ("job", "j")], &[])
        .with(|ts, _| {
            ts.histograms = vec![positive_only.clone(), negative_only.clone(), empty.clone()]
        })
        .body();
    let (status, counts, text) = send(url, body).await;
    assert_eq!(status, 204, "{text}");
    assert_eq!(counts, [Some(1), Some(7), Some(0)]);

    // Read back through both answer types: what was sent, field by field.
    let as_sent = |h: &v2::Histogram| {
        let v1 = timestream_prometheus_connector::remote::proto::Histogram::decode(
            h.encode_to_vec().as_slice(),
        )
        .unwrap();
        histogram::from_proto(&v1)
    };
    for (metric, sent) in [
        (
            "v2_latency",
            vec![exponential(0), exponential(1), exponential(2)],
        ),
        ("v2_custom", vec![custom]),
        ("v2_sides", vec![positive_only, negative_only, empty]),
    ] {
        let sent: Vec<_> = sent.iter().map(as_sent).collect();
        let query = read_query(T0 - 60_000, T0 + 60_000, &[(0, "__name__", metric)]);
        let got = read_histograms(url, query, false).await;
        assert_eq!(got.len(), 1, "{metric}");
        assert!(
            got[0].1.len() == sent.len() && got[0].1.iter().zip(&sent).all(|(a, b)| a.same_bits(b)),
            "{metric}: {:#?}",
            got[0].1
        );
    }
    assert_eq!(read(url, "v2_float").await.len(), 1);

    let body = Builder::new()
        .series(&[("__name__", "v2_broken"), ("job", "j")], &[(T0, 2.0)])
        .with(|ts, _| ts.histograms = vec![broken])
        .body();
    let (status, counts, text) = send(url, body).await;
    assert_eq!(status, 400, "{text}");
    assert_eq!(counts, [Some(1), Some(0), Some(0)]);
    assert!(
        text.contains("1 native histogram sample(s) not written"),
        "{text}"
    );
    assert_eq!(read(url, "v2_broken").await.len(), 1);
}

#[tokio::test]
async fn many_series_and_version_1_beside_them() {
    let stack = start().await;
    let url = &stack.connector.url;
    let mut builder = Builder::new();
    let instances: Vec<String> = (0..500).map(|i| format!("host-{i}:9100")).collect();
    for (i, instance) in instances.iter().enumerate() {
        builder = builder.series(
            &[
                ("__name__", "v2_bulk"),
                ("instance", instance),
                ("job", "node"),
            ],
            &[(T0, i as f64)],
        );
    }
    let (status, counts, text) = send(url, builder.body()).await;
    assert_eq!(status, 204, "{text}");
    assert_eq!(counts, [Some(500), Some(0), Some(0)]);
    let bulk: BTreeMap<String, Vec<(i64, u64)>> = read(url, "v2_bulk")
        .await
        .into_iter()
        .map(|(labels, samples)| (labels[1].1.clone(), samples))
        .collect();
    assert_eq!(bulk.len(), 500);
    for (i, instance) in instances.iter().enumerate() {
        assert_eq!(bulk[instance], [(T0, (i as f64).to_bits())]);
    }

    // 1.0, bare and named, on the same endpoint.
    let v1 = timestream_prometheus_connector::remote::proto::WriteRequest {
        timeseries: vec![series(
            &[("__name__", "v1_beside"), ("job", "j")],
            &[(T0, 9.0)],
        )],
        metadata: vec![],
    };
    let v1_body = snappy::compress(&v1.encode_to_vec());
    for content_type in [
        "application/x-protobuf",
        "application/x-protobuf;proto=prometheus.WriteRequest",
    ] {
        let (status, _, text) = post(url, content_type, "snappy", v1_body.clone()).await;
        assert_eq!(status, 204, "{content_type}: {text}");
    }
    assert_eq!(
        read(url, "v1_beside").await,
        [stored(
            &[("__name__", "v1_beside"), ("job", "j")],
            &[(T0, 9.0)]
        )]
    );
}

#[tokio::test]
async fn a_failed_call_still_counts_what_the_others_wrote() {
    let stack = Stack::start(
        Backend::Local,
        Via::Direct,
        &["metrics"],
        &["--table-label=ts_table"],
    )
    .await;
    let url = &stack.connector.url;
    let body = Builder::new()
        .series(
            &[("__name__", "v2_here"), ("job", "j")],
            &[(T0, 1.0), (T0 + 1, 2.0)],
        )
        .series(
            &[
                ("__name__", "v2_nowhere"),
                ("job", "j"),
                ("ts_table", "missing"),
            ],
            &[(T0, 1.0)],
        )
        .body();
    let (status, counts, text) = send(url, body).await;
    assert!((400..500).contains(&status), "{status} {text}");
    assert_eq!(counts, [Some(2), Some(0), Some(0)], "{text}");
    assert_eq!(read(url, "v2_here").await.len(), 1);
}
