//! Native histograms through the connector into Timestream Local and back through
//! `/read`: written by remote write 1.0, stored in the documented form, returned bit for
//! bit in SAMPLES answers and, in streamed answers, as histogram chunks that a decoder
//! of the tests' own reads back to what was written, cut where a reader needs them.
//! Exemplars beside them are stored and do not show in reads.

mod support;

use support::*;
use timestream_prometheus_connector::histogram::{Counts, Histogram, ResetHint, Span};
use timestream_prometheus_connector::remote::{histogram, proto};
use timestream_prometheus_connector::series::STALE_NAN_BITS;

const T0: i64 = 1_676_398_017_000;
const STEP: i64 = 15_000;

/// A request latency histogram scraped 10 times: counts grow, a bucket appears at the
/// fifth scrape (new spans), the target restarts at the seventh (counts drop, and the
/// sender does not say so), and the series goes stale after the last.
fn counter() -> Vec<Histogram> {
    let mut out = Vec::new();
    for i in 0..10i64 {
        let n = if i < 6 { i as u64 + 1 } else { i as u64 - 5 };
        let wide = i >= 4;
        let mut deltas = vec![n as i64, 1, -1];
        let mut spans = vec![Span {
            offset: -1,
            length: 3,
        }];
        if wide {
            deltas.push(2);
            spans.push(Span {
                offset: 2,
                length: 1,
            });
        }
        let count: u64 = {
            let mut running = 0;
            deltas
                .iter()
                .map(|d| {
                    running += d;
                    running as u64
                })
                .sum::<u64>()
                + 2
        };
        out.push(Histogram {
            timestamp_ms: T0 + i * STEP,
            schema: 3,
            zero_threshold: 2f64.powi(-128),
            sum: n as f64 * 0.37,
            counts: Counts::Integer {
                count,
                zero_count: 2,
                positive_deltas: deltas,
                negative_deltas: vec![],
            },
            positive_spans: spans,
            negative_spans: vec![],
            reset_hint: if i == 0 {
                ResetHint::Yes
            } else {
                ResetHint::Unknown
            },
            custom_values: vec![],
        });
    }
    out.push(Histogram {
        timestamp_ms: T0 + 10 * STEP,
        sum: f64::from_bits(STALE_NAN_BITS),
        ..Histogram::default()
    });
    out
}

/// A float gauge histogram with negative buckets and a zero bucket of its own width.
fn gauge() -> Vec<Histogram> {
    (0..5i64)
        .map(|i| Histogram {
            timestamp_ms: T0 + i * STEP,
            schema: -2,
            zero_threshold: 0.001,
            sum: -1.5 + i as f64,
            counts: Counts::Float {
                count: 7.25 + i as f64,
                zero_count: 0.25,
                positive_counts: vec![1.0, 0.5 * i as f64, 3.0],
                negative_counts: vec![2.0 + 0.1 * i as f64, 0.5],
            },
            positive_spans: vec![
                Span {
                    offset: 0,
                    length: 1,
                },
                Span {
                    offset: 1,
                    length: 2,
                },
            ],
            negative_spans: vec![Span {
                offset: 3,
                length: 2,
            }],
            reset_hint: ResetHint::Gauge,
            custom_values: vec![],
        })
        .collect()
}

/// Custom bucket bounds (schema −53), one of them not a whole number of thousandths.
fn custom() -> Vec<Histogram> {
    (0..3i64)
        .map(|i| Histogram {
            timestamp_ms: T0 + i * STEP,
            schema: -53,
            sum: 10.0 * i as f64,
            counts: Counts::Integer {
                count: 3 * i as u64,
                zero_count: 0,
                positive_deltas: vec![i, 0, 0],
                negative_deltas: vec![],
            },
            positive_spans: vec![Span {
                offset: 0,
                length: 3,
            }],
            custom_values: vec![0.005, 0.1, 1.0 / 3.0],
            ..Histogram::default()
        })
        .collect()
}

fn labels(name: &str) -> Vec<(String, String)> {
    vec![
        ("__name__".to_string(), name.to_string()),
        ("job".to_string(), "api".to_string()),
    ]
}

fn request() -> proto::WriteRequest {
    let series = |name: &str, histograms: Vec<Histogram>| {
        let mut ts = support::series(&[("__name__", name), ("job", "api")], &[]);
        ts.histograms = histograms.iter().map(histogram::to_proto).collect();
        ts
    };
    // Exemplars beside them, as Prometheus sends them: in series entries of their own.
    let mut exemplars = support::series(&[("__name__", "latency_seconds"), ("job", "api")], &[]);
    exemplars.exemplars = (0..2)
        .map(|i| proto::Exemplar {
            labels: vec![proto::Label {
                name: "trace_id".into(),
                value: format!("t{i}"),
            }],
            value: 0.25 * i as f64,
            timestamp: T0 + i * STEP + 7,
        })
        .collect();
    let mut up = support::series(
        &[("__name__", "up"), ("job", "api")],
        &[(T0, 1.0), (T0 + STEP, 1.0)],
    );
    up.exemplars = vec![proto::Exemplar {
        labels: vec![],
        value: 1.0,
        timestamp: T0 + 1,
    }];
    proto::WriteRequest {
        timeseries: vec![
            exemplars,
            series("latency_seconds", counter()),
            series("queue_depth", gauge()),
            series("size_bytes", custom()),
            up,
        ],
        metadata: vec![],
    }
}

fn query(metric: &str) -> proto::Query {
    read_query(T0 - 60_000, T0 + 600_000, &[(0, "__name__", metric)])
}

fn same(got: &[Histogram], sent: &[Histogram]) -> bool {
    got.len() == sent.len() && got.iter().zip(sent).all(|(a, b)| a.same_bits(b))
}

/// `h` with the hint a chunk cannot carry set to what a reader gets.
fn hinted(mut h: Histogram, hint: ResetHint) -> Histogram {
    h.reset_hint = hint;
    h
}

#[tokio::test]
async fn histograms_are_stored_and_read_back_exactly_in_both_answer_types() {
    let stack = Stack::start(Backend::Local, Via::Direct, &["metrics"], &[]).await;
    let url = &stack.connector.url;
    let (status, body) = remote_write(url, &request()).await;
    assert_eq!(status, 204, "{body}");
    let sent = counter().len() + gauge().len() + custom().len();
    let metric = |name: &str| {
        format!("timestream_connector_{name}_histograms_total{{protocol=\"remote_write\"}}")
    };
    assert_eq!(
        stack.connector.metric(&metric("received")).await,
        sent as f64
    );
    assert_eq!(
        stack.connector.metric(&metric("written")).await,
        sent as f64
    );
    let exemplars = "timestream_connector_written_exemplars_total{protocol=\"remote_write\"}";
    assert_eq!(stack.connector.metric(exemplars).await, 3.0);

    // SAMPLES: every field of every histogram, the hint included.
    for (name, histograms) in [
        ("latency_seconds", counter()),
        ("queue_depth", gauge()),
        ("size_bytes", custom()),
    ] {
        let got = read_histograms(url, query(name), false).await;
        assert_eq!(got.len(), 1, "{name}");
        assert_eq!(got[0].0, labels(name));
        assert!(same(&got[0].1, &histograms), "{name}: {:#?}", got[0].1);
    }
    // The float samples beside them are untouched, and the exemplars are not samples.
    for streamed in [false, true] {
        let (_, _, floats) = remote_read(url, vec![query("up")], streamed).await;
        assert_eq!(floats[0].len(), 1);
        assert_eq!(
            floats[0][0].1,
            [(T0, 1f64.to_bits()), (T0 + STEP, 1f64.to_bits())]
        );
    }

    // Streamed: the gauge in one chunk, every sample a gauge.
    let got = read_histograms(url, query("queue_depth"), true).await;
    assert!(same(&got[0].1, &gauge()));
    let got = read_histograms(url, query("size_bytes"), true).await;
    let expected: Vec<Histogram> = custom()
        .into_iter()
        .enumerate()
        .map(|(i, h)| {
            hinted(
                h,
                if i == 0 {
                    ResetHint::Unknown
                } else {
                    ResetHint::No
                },
            )
        })
        .collect();
    assert!(same(&got[0].1, &expected), "{:#?}", got[0].1);

    // The counter: chunks cut at the new span (no reset known), at the restart (a reset,
    // found though the sender did not say), and before the staleness marker.
    let got = read_histograms(url, query("latency_seconds"), true).await;
    let expected: Vec<Histogram> = counter()
        .into_iter()
        .enumerate()
        .map(|(i, h)| {
            let hint = match i {
                0 | 6 => ResetHint::Yes,
                4 | 10 => ResetHint::Unknown,
                _ => ResetHint::No,
            };
            hinted(h, hint)
        })
        .collect();
    assert!(same(&got[0].1, &expected), "{:#?}", got[0].1);

    // In the table: one multi-measure record per histogram, in the documented form.
    let rows = stack.timestream.records(DB, "metrics").await;
    let exemplar_rows = rows
        .iter()
        .filter(|r| r["MeasureName"] == "__exemplar__")
        .count();
    assert_eq!(exemplar_rows, 3);
    let histogram_rows: Vec<_> = rows
        .iter()
        .filter(|r| r["MeasureValueType"] == "MULTI")
        .collect();
    assert_eq!(histogram_rows.len(), sent, "{rows:#?}");
    let t0 = T0.to_string();
    let first = histogram_rows
        .iter()
        .find(|r| r["MeasureName"] == "latency_seconds" && r["Time"] == t0.as_str())
        .expect("the first scrape's row");
    assert!(first.get("MeasureValue").is_none());
    // (In the table's column order, not the order of the form; DOUBLEs as Timestream
    // prints them.)
    let mut measures: Vec<(&str, &str)> = first["MeasureValues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["Name"].as_str().unwrap(), m["Value"].as_str().unwrap()))
        .collect();
    measures.sort();
    assert_eq!(
        measures,
        [
            ("__count", "6"),
            ("__positive_deltas", "1,1,-1"),
            ("__positive_spans", "-1:3"),
            ("__reset_hint", "yes"),
            ("__schema", "3"),
            ("__sum", "0.37"),
            ("__zero_count", "2"),
            ("__zero_threshold", "2.938735877055719E-39"),
        ]
    );
}

#[tokio::test]
async fn a_histogram_whose_buckets_do_not_match_its_spans_is_counted_not_stored() {
    let stack = Stack::start(Backend::Local, Via::Direct, &["metrics"], &[]).await;
    let url = &stack.connector.url;
    let mut broken = counter()[1].clone();
    broken.positive_spans[0].length = 5;
    let mut ts = series(&[("__name__", "broken"), ("job", "api")], &[]);
    ts.histograms = vec![histogram::to_proto(&broken)];
    let request = proto::WriteRequest {
        timeseries: vec![ts],
        metadata: vec![],
    };
    let (status, body) = remote_write(url, &request).await;
    assert_eq!(
        status, 204,
        "1.0 skips and counts, as for other unstorable data: {body}"
    );
    let ignored = "timestream_connector_ignored_histograms_total{protocol=\"remote_write\",reason=\"invalid_histogram\"}";
    assert_eq!(stack.connector.metric(ignored).await, 1.0);
    assert!(read_histograms(url, query("broken"), false)
        .await
        .is_empty());
}
