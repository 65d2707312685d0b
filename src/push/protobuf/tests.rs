//! Unit tests of [`super`].

use super::client_model::{
    Bucket, Counter, Gauge, Histogram, LabelPair, Quantile, Summary, Untyped,
};
use super::*;
use crate::push::render;

fn label(name: &str, value: &str) -> LabelPair {
    LabelPair {
        name: Some(name.into()),
        value: Some(value.into()),
    }
}

fn family(name: &str, kind: Option<MetricType>, metric: Vec<Metric>) -> MetricFamily {
    MetricFamily {
        name: Some(name.into()),
        help: Some(b"help".to_vec()),
        r#type: kind.map(|k| k as i32),
        metric,
    }
}

fn counter(labels: &[(&str, &str)], value: f64) -> Metric {
    Metric {
        label: labels.iter().map(|(n, v)| label(n, v)).collect(),
        counter: Some(Counter { value: Some(value) }),
        ..Metric::default()
    }
}

fn body(families: &[MetricFamily]) -> Vec<u8> {
    let mut body = Vec::new();
    for family in families {
        family.encode_length_delimited(&mut body).unwrap();
    }
    body
}

fn accepted(families: &[MetricFamily]) -> Vec<String> {
    render(&parse(&body(families)).unwrap_or_else(|e| panic!("refused: {e}")))
}

#[track_caller]
fn refused(body: &[u8], message: &str) {
    match parse(body) {
        Err(PushError::Protobuf(why)) => {
            assert!(why.contains(message), "expected {message:?}, got {why:?}")
        }
        other => panic!("expected a refusal with {message:?}, got {other:?}"),
    }
}

#[test]
fn counters_gauges_and_untyped() {
    let families = [
        family(
            "requests_total",
            Some(MetricType::Counter),
            vec![
                counter(&[("path", "/"), ("code", "200")], 3.0),
                counter(&[("path", "/x")], 1.5),
            ],
        ),
        family(
            "temperature",
            Some(MetricType::Gauge),
            vec![Metric {
                label: vec![label("room", "a\"b\n")],
                gauge: Some(Gauge { value: Some(-1.25) }),
                timestamp_ms: Some(1_700_000_000_000),
                ..Metric::default()
            }],
        ),
        family(
            "things",
            Some(MetricType::Untyped),
            vec![Metric {
                untyped: Some(Untyped { value: None }),
                ..Metric::default()
            }],
        ),
        // No type is a counter, as in Go.
        family("untyped_counter", None, vec![counter(&[], f64::NAN)]),
    ];
    assert_eq!(
        accepted(&families),
        [
            r#"requests_total{path="/",code="200"} 3"#,
            r#"requests_total{path="/x"} 1.5"#,
            r#"temperature{room="a\"b\n"} -1.25 1700000000000"#,
            "things{} 0",
            "untyped_counter{} NaN",
        ]
    );
    assert_eq!(accepted(&[]), Vec::<String>::new());
    // An empty message is an empty family: nothing.
    assert_eq!(render(&parse(&[0, 0]).unwrap()), Vec::<String>::new());
}

#[test]
fn summaries() {
    let summary = Metric {
        label: vec![label("job", "j")],
        summary: Some(Summary {
            sample_count: Some(7),
            sample_sum: Some(12.5),
            quantile: vec![
                Quantile {
                    quantile: Some(0.5),
                    value: Some(1.0),
                },
                Quantile {
                    quantile: Some(0.00001),
                    value: Some(2.0),
                },
                Quantile {
                    quantile: None,
                    value: None,
                },
            ],
        }),
        timestamp_ms: Some(5),
        ..Metric::default()
    };
    let empty = Metric {
        summary: Some(Summary::default()),
        ..Metric::default()
    };
    assert_eq!(
        accepted(&[family(
            "rpc_seconds",
            Some(MetricType::Summary),
            vec![summary, empty]
        )]),
        [
            r#"rpc_seconds{job="j",quantile="0.5"} 1 5"#,
            r#"rpc_seconds{job="j",quantile="1e-05"} 2 5"#,
            r#"rpc_seconds{job="j",quantile="0"} 0 5"#,
            r#"rpc_seconds_sum{job="j"} 12.5 5"#,
            r#"rpc_seconds_count{job="j"} 7 5"#,
            "rpc_seconds_sum{} 0",
            "rpc_seconds_count{} 0",
        ]
    );
}

#[test]
fn histograms() {
    let bucket = |bound: f64, count: u64| Bucket {
        upper_bound: Some(bound),
        cumulative_count: Some(count),
    };
    let without_inf = Metric {
        label: vec![label("path", "/")],
        histogram: Some(Histogram {
            sample_count: Some(9),
            sample_sum: Some(3.5),
            bucket: vec![bucket(0.5, 2), bucket(1.0, 5), bucket(1e6, 8)],
        }),
        ..Metric::default()
    };
    let with_inf = Metric {
        label: vec![label("path", "/x")],
        histogram: Some(Histogram {
            sample_count: Some(4),
            sample_sum: None,
            bucket: vec![bucket(0.25, 1), bucket(f64::INFINITY, 3)],
        }),
        ..Metric::default()
    };
    assert_eq!(
        accepted(&[family(
            "latency",
            Some(MetricType::Histogram),
            vec![without_inf, with_inf]
        )]),
        [
            r#"latency_bucket{path="/",le="0.5"} 2"#,
            r#"latency_bucket{path="/",le="1"} 5"#,
            r#"latency_bucket{path="/",le="1e+06"} 8"#,
            r#"latency_bucket{path="/",le="+Inf"} 9"#,
            r#"latency_sum{path="/"} 3.5"#,
            r#"latency_count{path="/"} 9"#,
            r#"latency_bucket{path="/x",le="0.25"} 1"#,
            r#"latency_bucket{path="/x",le="+Inf"} 3"#,
            r#"latency_sum{path="/x"} 0"#,
            r#"latency_count{path="/x"} 4"#,
        ]
    );
}

#[test]
fn the_same_samples_as_the_text_format() {
    let text = "# TYPE h histogram\nh_bucket{a=\"1\",le=\"0.5\"} 1\nh_sum{a=\"1\"} 2\nh_count{a=\"1\"} 3\n\
                # TYPE s summary\ns{quantile=\"0.9\"} 4 7\ns_sum 5 7\ns_count 6 7\n# TYPE c counter\nc{b=\"x\"} 8\n";
    let families = [
        family(
            "h",
            Some(MetricType::Histogram),
            vec![Metric {
                label: vec![label("a", "1")],
                histogram: Some(Histogram {
                    sample_count: Some(3),
                    sample_sum: Some(2.0),
                    bucket: vec![Bucket {
                        upper_bound: Some(0.5),
                        cumulative_count: Some(1),
                    }],
                }),
                ..Metric::default()
            }],
        ),
        family(
            "s",
            Some(MetricType::Summary),
            vec![Metric {
                summary: Some(Summary {
                    sample_count: Some(6),
                    sample_sum: Some(5.0),
                    quantile: vec![Quantile {
                        quantile: Some(0.9),
                        value: Some(4.0),
                    }],
                }),
                timestamp_ms: Some(7),
                ..Metric::default()
            }],
        ),
        family(
            "c",
            Some(MetricType::Counter),
            vec![counter(&[("b", "x")], 8.0)],
        ),
    ];
    let mut from_text = render(&crate::push::text::parse(text).unwrap());
    let mut from_protobuf = accepted(&families);
    from_text.sort();
    from_protobuf.sort();
    assert_eq!(from_text, from_protobuf);
}

#[test]
fn inconsistent_metrics() {
    let gauge_in_counter = family(
        "a",
        Some(MetricType::Counter),
        vec![Metric {
            gauge: Some(Gauge { value: Some(1.0) }),
            ..Metric::default()
        }],
    );
    refused(
        &body(&[gauge_in_counter]),
        "metric 1 of \"a\" has no counter value, but its family is a counter",
    );
    let untyped_without_type = family(
        "a",
        None,
        vec![Metric {
            untyped: Some(Untyped { value: Some(1.0) }),
            ..Metric::default()
        }],
    );
    refused(&body(&[untyped_without_type]), "has no counter value");
    // An unknown type number reads as no type (Go keeps it as an unknown field).
    let mut unknown = family("a", None, vec![counter(&[], 1.0)]);
    unknown.r#type = Some(9);
    assert_eq!(accepted(&[unknown]), ["a{} 1"]);
    let gauge_histogram = family(
        "g",
        Some(MetricType::GaugeHistogram),
        vec![Metric {
            histogram: Some(Histogram::default()),
            ..Metric::default()
        }],
    );
    refused(&body(&[gauge_histogram]), "\"g\" is a gauge_histogram");
    assert_eq!(
        accepted(&[family("g", Some(MetricType::GaugeHistogram), vec![])]),
        Vec::<String>::new()
    );
}

#[test]
fn names_and_labels() {
    let one = |name: &str, labels: &[(&str, &str)]| {
        body(&[family(name, None, vec![counter(labels, 1.0)])])
    };
    refused(&one("1a", &[]), "invalid metric name \"1a\"");
    refused(&one("", &[]), "invalid metric name \"\"");
    refused(&one("a", &[("b-c", "1")]), "invalid name: \"b-c\"");
    refused(&one("a", &[("", "1")]), "invalid name: \"\"");
    refused(
        &one("a", &[("__name__", "1")]),
        "invalid name: \"__name__\" (names starting with \"__\" are reserved)",
    );
    refused(&one("a", &[("__x", "1")]), "\"__x\"");
    refused(
        &one("a", &[("b", "1"), ("c", "2"), ("b", "1")]),
        "two or more labels named \"b\"",
    );
    let quantile = Metric {
        label: vec![label("quantile", "0.5")],
        summary: Some(Summary::default()),
        ..Metric::default()
    };
    refused(
        &body(&[family("s", Some(MetricType::Summary), vec![quantile])]),
        "metric \"s\" has a summary with an explicit \"quantile\" label",
    );
    let le = Metric {
        label: vec![label("le", "0.5")],
        histogram: Some(Histogram::default()),
        ..Metric::default()
    };
    refused(
        &body(&[family("h", Some(MetricType::Histogram), vec![le])]),
        "has a histogram with an explicit \"le\" label",
    );
    let counter_with_summary = Metric {
        label: vec![label("quantile", "1")],
        counter: Some(Counter { value: Some(1.0) }),
        summary: Some(Summary::default()),
        ..Metric::default()
    };
    refused(
        &body(&[family("c", None, vec![counter_with_summary])]),
        "metric \"c\" has a summary with an explicit \"quantile\" label",
    );
    // `le` and `quantile` are ordinary labels elsewhere; a family without metrics is
    // not checked.
    assert_eq!(
        accepted(&[
            family(
                "c",
                None,
                vec![counter(&[("le", "x"), ("quantile", "y")], 1.0)]
            ),
            family("1x", None, vec![])
        ])
        .len(),
        1
    );
}

#[test]
fn the_same_series_twice() {
    let twice = family(
        "a",
        None,
        vec![
            counter(&[("x", "1"), ("y", "2")], 1.0),
            counter(&[("y", "2"), ("x", "1")], 2.0),
        ],
    );
    refused(
        &body(&[twice]),
        "a{y=\"2\",x=\"1\"} is the same series as an earlier sample",
    );
    let instance = family(
        "a",
        None,
        vec![counter(&[], 1.0), counter(&[("instance", "")], 2.0)],
    );
    refused(&body(&[instance]), "a{instance=\"\"} is the same series");
    let empty = family(
        "a",
        None,
        vec![counter(&[], 1.0), counter(&[("b", "")], 2.0)],
    );
    assert_eq!(accepted(&[empty]).len(), 2);
    // The same labels in two families are two series.
    assert_eq!(
        accepted(&[
            family("a", None, vec![counter(&[], 1.0)]),
            family("b", None, vec![counter(&[], 1.0)])
        ])
        .len(),
        2
    );
    let two_families = [
        family("a", None, vec![counter(&[], 1.0)]),
        family("a", None, vec![counter(&[("b", "c")], 1.0)]),
    ];
    refused(&body(&two_families), "metric family \"a\" is pushed twice");
}

#[test]
fn collisions() {
    let summary = family(
        "x",
        Some(MetricType::Summary),
        vec![Metric {
            summary: Some(Summary::default()),
            ..Metric::default()
        }],
    );
    refused(
        &body(&[
            family("x_sum", None, vec![counter(&[], 1.0)]),
            summary.clone(),
        ]),
        "summary \"x\" collides with metric \"x_sum\"",
    );
    // Families without metrics count, as the Pushgateway gathers them too.
    refused(
        &body(&[
            summary.clone(),
            family("x_count", Some(MetricType::Gauge), vec![]),
        ]),
        "collides with metric \"x_count\"",
    );
    assert_eq!(
        accepted(&[summary, family("x_bucket", None, vec![counter(&[], 1.0)])]).len(),
        3
    );
    let histogram = family("y", Some(MetricType::Histogram), vec![]);
    refused(
        &body(&[family("y_bucket", None, vec![counter(&[], 1.0)]), histogram]),
        "histogram \"y\" collides with metric \"y_bucket\"",
    );
}

#[test]
fn framing() {
    let whole = body(&[family("a", None, vec![counter(&[], 1.0)])]);
    assert_eq!(
        accepted(&[family("a", None, vec![counter(&[], 1.0)])]),
        ["a{} 1"]
    );
    refused(&whole[..whole.len() - 1], "message 1 is truncated");
    refused(
        &whole[..1],
        &format!(
            "message 1 is truncated: {} bytes announced, 0 left",
            whole[0]
        ),
    );
    let mut two = whole.clone();
    two.push(0x80);
    refused(&two, "message 2: the body ends inside the length prefix");
    refused(
        &[0x80, 0x80, 0x80, 0x80, 0x80, 0x01],
        "message 1: invalid varint32 length prefix",
    );
    refused(&[3, 0x0a, 0x05, b'a'], "message 1:");
    // A label value that is not UTF-8: the Pushgateway refuses it too.
    let not_utf8 = [
        15, 0x0a, 1, b'a', 0x22, 10, 0x0a, 6, 0x0a, 1, b'b', 0x12, 1, 0xff, 0x1a, 0,
    ];
    refused(&not_utf8, "message 1:");
    // Help text is not checked for UTF-8, as in Go's proto2 code.
    let mut help = family("a", None, vec![counter(&[], 1.0)]);
    help.help = Some(vec![0xff]);
    assert_eq!(accepted(&[help]), ["a{} 1"]);
}

#[test]
fn expansion_is_bounded() {
    let many_labels: Vec<(String, String)> = (0..2_000)
        .map(|i| (format!("l{i}"), String::new()))
        .collect();
    let labels: Vec<(&str, &str)> = many_labels
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let metric = Metric {
        label: labels.iter().map(|(n, v)| label(n, v)).collect(),
        histogram: Some(Histogram {
            bucket: vec![Bucket::default(); 10_000],
            ..Histogram::default()
        }),
        ..Metric::default()
    };
    let encoded = body(&[family("h", Some(MetricType::Histogram), vec![metric])]);
    assert!(encoded.len() < 100_000);
    refused(&encoded, "the body expands to more than");
}
