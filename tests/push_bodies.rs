//! Push bodies at the edges, each sent to the connector and to Debian's Pushgateway
//! 1.5.1: bodies the Pushgateway refuses are refused with nothing stored, the ones it
//! takes are stored as it exposes them; gzip and delimited protobuf; and where the two
//! differ by design: samples with timestamps are written (the Pushgateway refuses them),
//! and NaN/±Inf, which Timestream cannot store, are skipped and counted.

mod support;

use support::parity::*;
use support::pushgateway::{push, PROTOBUF_CONTENT_TYPE};
use support::*;

/// A body the Pushgateway answers: `refused` ones with a 400 (the connector too, naming
/// one of `mentions`: the line, as the Pushgateway does, or the series), accepted ones
/// with a 200 (the connector then stores what the Pushgateway exposes).
struct Case {
    job: &'static str,
    body: &'static [u8],
    refused: bool,
    mentions: &'static [&'static str],
}

const fn refused(
    job: &'static str,
    body: &'static [u8],
    mentions: &'static [&'static str],
) -> Case {
    Case {
        job,
        body,
        refused: true,
        mentions,
    }
}

const fn accepted(job: &'static str, body: &'static [u8]) -> Case {
    Case {
        job,
        body,
        refused: false,
        mentions: &[],
    }
}

/// Verdicts observed on Debian's Pushgateway 1.5.1 (the test asserts them again). Every
/// refused body starts with a valid line, so "nothing of it is stored" means something.
const CASES: &[Case] = &[
    refused(
        "bad_unterminated_labels",
        b"before_error 1\nunterminated{b=\"c\" 1\n",
        &["line 2"],
    ),
    refused(
        "bad_newline_in_value",
        b"before_error 1\nunterminated{b=\"c\n",
        &["line 2"],
    ),
    refused(
        "bad_value",
        b"before_error 1\nnot_a_number xyz\n",
        &["line 2"],
    ),
    refused(
        "bad_second_type",
        b"before_error 1\n# TYPE twice gauge\n# TYPE twice counter\ntwice 1\n",
        &["line 3"],
    ),
    refused(
        "bad_type_after_samples",
        b"before_error 1\nlate_type 1\n# TYPE late_type gauge\n",
        &["line 3"],
    ),
    refused(
        "bad_second_help",
        b"before_error 1\n# HELP help_twice x\n# HELP help_twice y\nhelp_twice 1\n",
        &["line 3"],
    ),
    refused(
        "bad_unknown_type",
        b"before_error 1\n# TYPE odd_type foo\nodd_type 1\n",
        &["line 2"],
    ),
    refused(
        "bad_same_series_twice",
        b"before_error 1\ndup_series{b=\"c\"} 1\ndup_series{b=\"c\"} 2\n",
        &["dup_series", "line 3"],
    ),
    // Different in the body, the same once the path's job overrides the body's.
    refused(
        "bad_same_series_after_grouping",
        b"before_error 1\ndup_job{job=\"x\"} 1\ndup_job{job=\"y\"} 2\n",
        &["dup_job", "line 3"],
    ),
    refused(
        "bad_label_name",
        b"before_error 1\nbad_label{1b=\"c\"} 1\n",
        &["line 2"],
    ),
    refused(
        "bad_reserved_label_name",
        b"before_error 1\nreserved_label{__x=\"1\"} 1\n",
        &["__x", "line 2"],
    ),
    refused(
        "bad_label_twice",
        b"before_error 1\nlabel_twice{b=\"1\",b=\"2\"} 1\n",
        &["line 2"],
    ),
    refused(
        "bad_metric_name",
        b"before_error 1\n1bad_name 1\n",
        &["line 2"],
    ),
    refused(
        "bad_escape",
        b"before_error 1\nbad_escape{b=\"\\q\"} 1\n",
        &["line 2"],
    ),
    refused(
        "bad_le",
        b"before_error 1\n# TYPE bad_le histogram\nbad_le_bucket{le=\"x\"} 1\n",
        &["line 3"],
    ),
    refused(
        "bad_no_final_newline",
        b"before_error 1\nno_newline 1",
        &["line 2"],
    ),
    refused(
        "bad_utf8",
        b"before_error 1\nbad_utf8{l=\"\xff\"} 1\n",
        &["line 2"],
    ),
    // The Pushgateway adds the missing `+Inf` bucket (= the count) when it exposes it.
    accepted(
        "ok_histogram_without_inf",
        b"# TYPE no_inf histogram\nno_inf_bucket{le=\"1\"} 1\nno_inf_sum 0.5\nno_inf_count 1\n",
    ),
    // Accepted too (not a 400): the Pushgateway drops the bucket without `le` and
    // exposes a `+Inf` bucket from the count.
    accepted(
        "ok_bucket_without_le",
        b"# TYPE no_le histogram\nno_le_bucket 1\nno_le_sum 2\nno_le_count 1\n",
    ),
    accepted("ok_nan_value", b"nan_value NaN\nnan_neighbour 2\n"),
    accepted("ok_empty_body", b""),
    accepted(
        "ok_negative_counter",
        b"# TYPE negative_counter counter\nnegative_counter -1\n",
    ),
    accepted("ok_colon_in_name", b"recording:rule_name 1\n"),
];

/// (b) Bodies the Pushgateway refuses are refused whole; bodies it takes are stored as
/// it exposes them; a body with timestamps is the one documented difference.
#[tokio::test]
async fn bodies_are_refused_and_accepted_as_the_pushgateway_does() {
    let (stack, pushgateway) = start().await;
    let connector = &stack.connector.url;
    let before = now_ms();
    for case in CASES {
        let path = format!("/metrics/job/{}", case.job);
        let want = if case.refused { 400 } else { 200 };
        let (status, answer) = push(&pushgateway.url, "PUT", &path, &[], case.body.to_vec()).await;
        assert_eq!(status, want, "the Pushgateway on {}: {answer}", case.job);
        let (status, answer) = push(connector, "PUT", &path, &[], case.body.to_vec()).await;
        assert_eq!(status, want, "the connector on {}: {answer}", case.job);
        if case.refused {
            assert!(
                case.mentions.iter().any(|m| answer.contains(m)),
                "the connector's answer on {} names one of {:?}: {answer:?}",
                case.job,
                case.mentions
            );
        }
    }
    let after = now_ms();

    for case in CASES.iter().filter(|c| c.refused) {
        let stored = connector_group(connector, case.job, before, after).await;
        assert!(
            stored.is_empty(),
            "nothing of a refused body is stored ({}): {stored:?}",
            case.job
        );
    }
    // At least push_time_seconds each.
    let taken: Vec<(&str, usize)> = CASES
        .iter()
        .filter(|c| !c.refused)
        .map(|c| (c.job, 1))
        .collect();
    assert_parity(&stack, &pushgateway, &taken, (before, after)).await;

    // Timestamps: the Pushgateway refuses them; the connector writes the sample at its
    // own time, and the others of the body at the time of receipt.
    let t = 1_700_000_000_123;
    let body = format!("with_timestamp 2.5 {t}\nwithout_timestamp 3\n");
    let path = "/metrics/job/timestamped";
    let (status, answer) = push(
        &pushgateway.url,
        "PUT",
        path,
        &[],
        body.clone().into_bytes(),
    )
    .await;
    assert_eq!(status, 400, "the Pushgateway refuses timestamps: {answer}");
    let received = now_ms();
    let (status, answer) = push(connector, "PUT", path, &[], body.into_bytes()).await;
    assert_eq!(status, 200, "{answer}");
    let done = now_ms();
    let stored = connector_group(connector, "timestamped", t, done).await;
    let job = vec![("job".to_string(), "timestamped".to_string())];
    assert_eq!(
        stored.keys().cloned().collect::<Vec<_>>(),
        [
            ("push_time_seconds".to_string(), job.clone()),
            ("with_timestamp".to_string(), job.clone()),
            ("without_timestamp".to_string(), job.clone()),
        ]
    );
    assert_eq!(
        stored[&("with_timestamp".to_string(), job.clone())],
        [(t, 2.5_f64.to_bits())]
    );
    let [(at, value)] = stored[&("without_timestamp".to_string(), job)][..] else {
        panic!("one sample: {stored:?}");
    };
    assert_eq!(value, 3.0_f64.to_bits());
    assert!(
        (received..=done).contains(&at),
        "{at} in [{received}, {done}]"
    );

    // A path without a job is refused. (The Pushgateway answers these with a 307 and a
    // 404: its router has no such route.)
    for path in ["/metrics/job/", "/metrics/job"] {
        let (status, answer) = push(connector, "PUT", path, &[], b"x 1\n".to_vec()).await;
        assert_eq!(status, 400, "{path}: {answer}");
    }
}

/// A delimited protobuf body with every metric type, label values the text format would
/// escape, and a body `job` the path overrides. Built with the connector's own
/// client_model types, encoded with prost as a Go client's `pbutil.WriteDelimited` does.
// Struct updates keep this independent of the metrics.proto version (newer ones add
// fields such as `unit` and `created_timestamp`), even where they are needless.
#[allow(clippy::needless_update)]
fn protobuf_body() -> Vec<u8> {
    use prost::Message;
    use timestream_prometheus_connector::push::protobuf::client_model as pb;

    let label = |name: &str, value: &str| pb::LabelPair {
        name: Some(name.to_string()),
        value: Some(value.to_string()),
        ..Default::default()
    };
    let family = |name: &str, kind: pb::MetricType, metric: Vec<pb::Metric>| pb::MetricFamily {
        name: Some(name.to_string()),
        help: Some(format!("{name} help").into_bytes()),
        r#type: Some(kind as i32),
        metric,
        ..Default::default()
    };
    let families = [
        family(
            "pb_requests_total",
            pb::MetricType::Counter,
            vec![
                pb::Metric {
                    label: vec![label("path", "/a\"b\\c\nd")],
                    counter: Some(pb::Counter {
                        value: Some(7.0),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                pb::Metric {
                    label: vec![label("path", "/"), label("empty", "")],
                    counter: Some(pb::Counter {
                        value: Some(0.5),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
            ],
        ),
        family(
            "pb_temperature",
            pb::MetricType::Gauge,
            vec![pb::Metric {
                label: vec![label("job", "overridden_by_path"), label("unit", "°C")],
                gauge: Some(pb::Gauge {
                    value: Some(1e-9),
                    ..Default::default()
                }),
                ..Default::default()
            }],
        ),
        family(
            "pb_untyped",
            pb::MetricType::Untyped,
            vec![pb::Metric {
                untyped: Some(pb::Untyped {
                    value: Some(-2.5),
                    ..Default::default()
                }),
                ..Default::default()
            }],
        ),
        family(
            "pb_latency_seconds",
            pb::MetricType::Histogram,
            vec![pb::Metric {
                histogram: Some(pb::Histogram {
                    sample_count: Some(5),
                    sample_sum: Some(3.25),
                    bucket: [(0.25, 1), (1.0, 3), (1e6, 4), (f64::INFINITY, 5)]
                        .into_iter()
                        .map(|(upper_bound, count)| pb::Bucket {
                            upper_bound: Some(upper_bound),
                            cumulative_count: Some(count),
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                }),
                ..Default::default()
            }],
        ),
        family(
            "pb_rpc_seconds",
            pb::MetricType::Summary,
            vec![pb::Metric {
                summary: Some(pb::Summary {
                    sample_count: Some(42),
                    sample_sum: Some(17.5),
                    quantile: [(0.5, 0.05), (0.99, 0.15)]
                        .into_iter()
                        .map(|(quantile, value)| pb::Quantile {
                            quantile: Some(quantile),
                            value: Some(value),
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                }),
                ..Default::default()
            }],
        ),
    ];
    families
        .iter()
        .flat_map(|f| f.encode_length_delimited_to_vec())
        .collect()
}

/// Request headers of a push: (name, value) pairs.
type Headers<'a> = &'a [(&'a str, &'a str)];

/// (c) gzip-encoded text and delimited protobuf (plain and gzip-encoded) are taken, and
/// stored as the Pushgateway exposes them.
#[tokio::test]
async fn gzip_and_protobuf_bodies_are_stored_as_the_pushgateway_exposes_them() {
    let (stack, pushgateway) = start().await;
    let connector = &stack.connector.url;
    let text = b"gz_value{kind=\"gzip\"} 0.1\n# TYPE gz_hist histogram\ngz_hist_bucket{le=\"0.5\"} 1\ngz_hist_bucket{le=\"+Inf\"} 2\ngz_hist_sum 1.25\ngz_hist_count 2\n";
    let protobuf = protobuf_body();
    let pushes: [(&str, Headers, Vec<u8>); 3] = [
        (
            "/metrics/job/pgw_gzip",
            &[("Content-Encoding", "gzip")],
            gzip(text),
        ),
        (
            "/metrics/job/pgw_protobuf/instance/pb",
            &[("Content-Type", PROTOBUF_CONTENT_TYPE)],
            protobuf.clone(),
        ),
        (
            "/metrics/job/pgw_protobuf_gzip",
            &[
                ("Content-Type", PROTOBUF_CONTENT_TYPE),
                ("Content-Encoding", "gzip"),
            ],
            gzip(&protobuf),
        ),
    ];
    let before = now_ms();
    for (path, headers, body) in &pushes {
        for base in [connector, &pushgateway.url] {
            let (status, answer) = push(base, "PUT", path, headers, body.clone()).await;
            assert_eq!(status, 200, "{base}{path}: {answer}");
        }
    }
    let after = now_ms();
    // gz: value, 2 buckets, sum, count, push time; protobuf: 2 counters, gauge, untyped,
    // 4 buckets, sum, count, 2 quantiles, sum, count, push time.
    let jobs = [
        ("pgw_gzip", 6),
        ("pgw_protobuf", 15),
        ("pgw_protobuf_gzip", 15),
    ];
    assert_parity(&stack, &pushgateway, &jobs, (before, after)).await;

    // A protobuf body that does not decode is refused whole, by both.
    let mut truncated = protobuf.clone();
    truncated.truncate(protobuf.len() - 3);
    let path = "/metrics/job/pgw_protobuf_truncated";
    for base in [connector, &pushgateway.url] {
        let headers = [("Content-Type", PROTOBUF_CONTENT_TYPE)];
        let (status, answer) = push(base, "PUT", path, &headers, truncated.clone()).await;
        assert_eq!(status, 400, "{base}: {answer}");
    }
    let stored = connector_group(connector, "pgw_protobuf_truncated", before, now_ms()).await;
    assert!(stored.is_empty(), "{stored:?}");
}

const NON_FINITE_BODY: &[u8] =
    b"finite_value 1.5\nnan_value NaN\ninf_value +Inf\nneg_inf_value -Inf\n";

/// (d) NaN and ±Inf, which Timestream cannot store as DOUBLEs, are stored in the
/// connector's documented form and read back; nothing is skipped.
#[tokio::test]
async fn non_finite_values_are_stored_and_read_back() {
    let stack = Stack::start(Backend::Local, Via::Direct, &["metrics"], &[]).await;
    let connector = &stack.connector;
    let before = now_ms();
    let path = "/metrics/job/non_finite";
    let (status, answer) = push(&connector.url, "PUT", path, &[], NON_FINITE_BODY.to_vec()).await;
    assert_eq!(status, 200, "{answer}");
    let stored = connector_group(&connector.url, "non_finite", before, now_ms()).await;
    let values: Vec<(&str, f64)> = stored
        .iter()
        .map(|((name, _), samples)| (name.as_str(), f64::from_bits(samples[0].1)))
        .collect();
    let names: Vec<&str> = values.iter().map(|(name, _)| *name).collect();
    assert_eq!(
        names,
        [
            "finite_value",
            "inf_value",
            "nan_value",
            "neg_inf_value",
            "push_time_seconds"
        ]
    );
    assert_eq!(values[0].1, 1.5);
    assert_eq!(values[1].1, f64::INFINITY);
    assert!(values[2].1.is_nan());
    assert_eq!(values[3].1, f64::NEG_INFINITY);

    assert_eq!(
        connector
            .metric(
                "timestream_connector_ignored_samples_total{protocol=\"pushgateway\",reason=\"non_finite_value\"}"
            )
            .await,
        0.0
    );
    // The body's four samples and the push_time_seconds the connector adds.
    assert_eq!(
        connector
            .metric("timestream_connector_received_samples_total{protocol=\"pushgateway\"}")
            .await,
        5.0
    );
    assert_eq!(
        connector
            .metric(
                "timestream_connector_write_requests_total{code=\"200\",protocol=\"pushgateway\"}"
            )
            .await,
        1.0
    );
}

/// (d) With `--fail-on-invalid-sample-value`, a push with NaN or ±Inf is refused whole.
#[tokio::test]
async fn fail_on_invalid_sample_value_refuses_a_push_with_non_finite_values() {
    let stack = Stack::start(
        Backend::Local,
        Via::Direct,
        &["metrics"],
        &["--fail-on-invalid-sample-value"],
    )
    .await;
    let connector = &stack.connector;
    let before = now_ms();
    let (status, answer) = push(
        &connector.url,
        "PUT",
        "/metrics/job/refused_non_finite",
        &[],
        NON_FINITE_BODY.to_vec(),
    )
    .await;
    assert_eq!(status, 400, "{answer}");
    // A finite push is still taken: the flag refuses non-finite values, not pushes.
    let (status, answer) = push(
        &connector.url,
        "PUT",
        "/metrics/job/finite",
        &[],
        b"finite_value 1.5\n".to_vec(),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let after = now_ms();
    let refused = connector_group(&connector.url, "refused_non_finite", before, after).await;
    assert!(
        refused.is_empty(),
        "nothing of the refused push: {refused:?}"
    );
    let finite = connector_group(&connector.url, "finite", before, after).await;
    let names: Vec<&str> = finite.keys().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names, ["finite_value", "push_time_seconds"]);
    assert_eq!(
        connector
            .metric(
                "timestream_connector_write_requests_total{code=\"400\",protocol=\"pushgateway\"}"
            )
            .await,
        1.0
    );
}
