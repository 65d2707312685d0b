//! Native histograms end to end with a real Prometheus (Debian's 2.42, with
//! `--enable-feature=native-histograms` and `send_native_histograms`): it scrapes a
//! target exposing a native histogram in the protobuf format and remote-writes to the
//! connector, which writes to Timestream Local. What `/read` returns, in both answer
//! types, must be what Prometheus' own storage returns through its own remote read
//! (streamed histogram chunks, read by the tests' decoder): every histogram at every
//! time, bucket for bucket.
//!
//! Prometheus 2.42's remote read client does not read histograms (2.55 is the first
//! that does), so PromQL over the connector's `/read` cannot be compared here.

mod support;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use prost::Message;
use support::*;
use timestream_prometheus_connector::histogram::{Counts, Histogram, Span};
use timestream_prometheus_connector::series::is_stale_marker;

/// The exposition format's messages (`io.prometheus.client`), as much as a native
/// histogram needs; written here because the connector's own copy models only what
/// pushes use.
mod exposition {
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct MetricFamily {
        #[prost(string, optional, tag = "1")]
        pub name: Option<String>,
        #[prost(string, optional, tag = "2")]
        pub help: Option<String>,
        #[prost(int32, optional, tag = "3")]
        pub r#type: Option<i32>,
        #[prost(message, repeated, tag = "4")]
        pub metric: Vec<Metric>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Metric {
        #[prost(message, optional, tag = "7")]
        pub histogram: Option<Histogram>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Histogram {
        #[prost(uint64, optional, tag = "1")]
        pub sample_count: Option<u64>,
        #[prost(double, optional, tag = "2")]
        pub sample_sum: Option<f64>,
        #[prost(sint32, optional, tag = "5")]
        pub schema: Option<i32>,
        #[prost(double, optional, tag = "6")]
        pub zero_threshold: Option<f64>,
        #[prost(uint64, optional, tag = "7")]
        pub zero_count: Option<u64>,
        #[prost(message, repeated, tag = "9")]
        pub negative_span: Vec<BucketSpan>,
        #[prost(sint64, repeated, tag = "10")]
        pub negative_delta: Vec<i64>,
        #[prost(message, repeated, tag = "12")]
        pub positive_span: Vec<BucketSpan>,
        #[prost(sint64, repeated, tag = "13")]
        pub positive_delta: Vec<i64>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct BucketSpan {
        #[prost(sint32, optional, tag = "1")]
        pub offset: Option<i32>,
        #[prost(uint32, optional, tag = "2")]
        pub length: Option<u32>,
    }
}

const PROTOBUF: &str =
    "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited";

/// The histogram a scrape sees the `n`th time: counts grow, and from the fifth scrape a
/// bucket further out appears (new spans, which Prometheus' chunks must absorb).
fn exposed(n: u64) -> exposition::MetricFamily {
    let span = |offset, length| exposition::BucketSpan {
        offset: Some(offset),
        length: Some(length),
    };
    let mut positive_span = vec![span(-1, 3)];
    let mut positive_delta = vec![n as i64 + 1, 1, -1];
    if n >= 4 {
        positive_span.push(span(3, 1));
        positive_delta.push(2);
    }
    let negative_delta = vec![n as i64];
    let mut buckets = 0;
    let mut running = 0;
    for d in &positive_delta {
        running += d;
        buckets += running;
    }
    buckets += n as i64;
    let zero = 1 + n / 3;
    exposition::MetricFamily {
        name: Some("e2e_request_seconds".into()),
        help: Some("Native histogram end to end.".into()),
        r#type: Some(4),
        metric: vec![exposition::Metric {
            histogram: Some(exposition::Histogram {
                sample_count: Some(buckets as u64 + zero),
                sample_sum: Some(0.125 * n as f64 + 3.0),
                schema: Some(1),
                zero_threshold: Some(2f64.powi(-128)),
                zero_count: Some(zero),
                negative_span: vec![span(0, 1)],
                negative_delta,
                positive_span,
                positive_delta,
            }),
        }],
    }
}

async fn start_target() -> (String, Arc<AtomicU64>) {
    let scrapes = Arc::new(AtomicU64::new(0));
    let count = scrapes.clone();
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let n = count.fetch_add(1, Ordering::SeqCst);
            let body = exposed(n).encode_length_delimited_to_vec();
            std::future::ready(([("content-type", PROTOBUF)], body))
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (address, scrapes)
}

fn config(connector: &str, target: Option<&str>) -> String {
    let mut config = String::from("global:\n  scrape_interval: 1s\nscrape_configs:\n");
    match target {
        Some(target) => config.push_str(&format!(
            "  - job_name: native\n    static_configs: [{{targets: ['{target}']}}]\n"
        )),
        None => config = config.replace("scrape_configs:\n", "scrape_configs: []\n"),
    }
    config.push_str(&format!(
        "remote_write:\n  - url: {connector}/write\n    send_native_histograms: true\n    \
         queue_config:\n      batch_send_deadline: 1s\n      min_backoff: 50ms\n      max_backoff: 1s\n"
    ));
    config
}

/// A histogram as what it counts: time, count, zero count, sum's bits, schema, zero
/// threshold, and the count of every non-empty bucket by index (so that layouts that
/// differ only by empty buckets, as Prometheus' chunks may widen them, compare equal).
type Shape = (i64, u64, u64, u64, i32, u64, BTreeMap<(bool, i32), u64>);

fn shape(h: &Histogram) -> Shape {
    let Counts::Integer {
        count,
        zero_count,
        positive_deltas,
        negative_deltas,
    } = &h.counts
    else {
        panic!("an integer histogram: {h:?}");
    };
    let mut buckets = BTreeMap::new();
    for (positive, spans, deltas) in [
        (true, &h.positive_spans, positive_deltas),
        (false, &h.negative_spans, negative_deltas),
    ] {
        let mut index = 0;
        let mut deltas = deltas.iter();
        let mut running = 0i64;
        for (i, Span { offset, length }) in spans.iter().enumerate() {
            index = if i == 0 { *offset } else { index + offset };
            for _ in 0..*length {
                running += deltas.next().expect("as many buckets as spans say");
                if running != 0 {
                    buckets.insert((positive, index), running as u64);
                }
                index += 1;
            }
        }
    }
    (
        h.timestamp_ms,
        *count,
        *zero_count,
        h.sum.to_bits(),
        h.schema,
        h.zero_threshold.to_bits(),
        buckets,
    )
}

fn shapes(series: &[HistogramSeries]) -> Vec<Shape> {
    assert_eq!(series.len(), 1, "one series: {series:#?}");
    series[0]
        .1
        .iter()
        .filter(|h| !is_stale_marker(h.sum))
        .map(shape)
        .collect()
}

#[tokio::test]
async fn histograms_prometheus_scrapes_read_back_as_its_own_storage_holds_them() {
    let stack = Stack::start(Backend::Local, Via::Direct, &["metrics"], &[]).await;
    let connector = &stack.connector;
    let (target, scrapes) = start_target().await;
    let prometheus = Prometheus::start_with(
        &config(&connector.url, Some(&target)),
        &["--enable-feature=native-histograms"],
    )
    .await;
    let received = "timestream_connector_received_histograms_total{protocol=\"remote_write\"}";
    eventually(
        "the connector to receive 8 histograms",
        Duration::from_secs(120),
        || async { connector.metric(received).await >= 8.0 },
    )
    .await;
    // Stop scraping, and let everything appended reach the connector.
    prometheus.reload(&config(&connector.url, None)).await;
    prometheus.drained().await;
    assert!(scrapes.load(Ordering::SeqCst) >= 8);
    let failed = "timestream_connector_errors_total{stage=\"write\"}";
    assert_eq!(connector.metric(failed).await, 0.0);

    let query = || {
        read_query(
            0,
            i64::MAX / 2,
            &[(0, "__name__", "e2e_request_seconds"), (0, "job", "native")],
        )
    };
    let own = read_histograms(&format!("{}/api/v1", prometheus.url), query(), true).await;
    let expected = shapes(&own);
    assert!(expected.len() >= 8, "{expected:#?}");
    for streamed in [false, true] {
        let got = read_histograms(&connector.url, query(), streamed).await;
        assert_eq!(got[0].0, own[0].0, "the same labels (streamed: {streamed})");
        assert_eq!(shapes(&got), expected, "streamed: {streamed}");
    }
}
