//! End to end with a real Prometheus (Debian's package) as the remote write client:
//! it scrapes itself and the connector and remote-writes to the connector, which writes
//! to Timestream. Every sample Prometheus stored must be in Timestream, exactly, and Prometheus must
//! report nothing failed or dropped, also when Timestream throttles and fails.

mod support;

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use support::*;

/// A scrape target with values at the edges of what a float and Timestream can hold,
/// and a series that vanishes on cue (Prometheus then writes a staleness marker).
struct Target {
    address: String,
    scrapes: Arc<AtomicU32>,
    vanished: Arc<AtomicBool>,
}

impl Target {
    async fn start() -> Target {
        let scrapes = Arc::new(AtomicU32::new(0));
        let vanished = Arc::new(AtomicBool::new(false));
        let (count, gone) = (scrapes.clone(), vanished.clone());
        let app = axum::Router::new().route(
            "/metrics",
            axum::routing::get(move || {
                count.fetch_add(1, Ordering::SeqCst);
                let mut text = String::from(
                    "# TYPE edge_values gauge\n\
                     edge_values{case=\"tiny\"} 1e-09\n\
                     edge_values{case=\"max\"} 1.7976931348623157e+308\n\
                     edge_values{case=\"third\"} 0.3333333333333333\n\
                     edge_values{case=\"nan\"} NaN\n\
                     edge_values{case=\"inf\"} +Inf\n",
                );
                if !gone.load(Ordering::SeqCst) {
                    text.push_str("# TYPE vanishing gauge\nvanishing 1\n");
                }
                std::future::ready(text)
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Target {
            address,
            scrapes,
            vanished,
        }
    }
}

fn config(connector: &str, target: &str, scrape: bool) -> String {
    let queue = [
        ("batch_send_deadline", "1s"),
        ("max_samples_per_send", "500"),
        ("min_backoff", "50ms"),
        ("max_backoff", "1s"),
    ];
    remote_write_config(connector, &[("edge", target)], scrape, &queue)
}

/// Lets Prometheus scrape until it has sent `samples` samples, stops scraping, waits for
/// its queue to drain, and checks that Timestream holds exactly what Prometheus stored.
async fn scrape_and_compare(store: &Timestream, connector: &Connector, samples: f64) -> Prometheus {
    let target = Target::start().await;
    let prometheus = Prometheus::start(&config(&connector.url, &target.address, true)).await;
    eventually(
        "Prometheus to send samples",
        Duration::from_secs(120),
        || async {
            prometheus
                .metric("prometheus_remote_storage_samples_total")
                .await
                >= samples
                && target.scrapes.load(Ordering::SeqCst) >= 3
        },
    )
    .await;

    // A vanished series gets a staleness marker, stored in its documented form.
    target.vanished.store(true, Ordering::SeqCst);
    let marked = |kind: &'static str, name: &'static str| async move {
        store.records(DB, "metrics").await.iter().any(|r| {
            let (key, _) = support::stored(r);
            key.0 == name && key.1.iter().any(|(n, v)| n == "__value__" && v == kind)
        })
    };
    eventually(
        "a staleness marker to be stored",
        Duration::from_secs(60),
        || marked("stale", "vanishing"),
    )
    .await;
    assert!(marked("NaN", "edge_values").await, "NaN is stored");
    assert!(marked("+Inf", "edge_values").await, "+Inf is stored");
    // And read back as the very NaN Prometheus wrote (moto has no query API).
    if store.backend == Backend::Local {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64;
        let query = read_query(
            now - 3_600_000,
            now + 60_000,
            &[(0, "__name__", "vanishing")],
        );
        let (status, detail, results) = remote_read(&connector.url, vec![query], false).await;
        assert_eq!(status, 200, "{detail}");
        let (_, points) = &results[0][0];
        let stale = timestream_prometheus_connector::series::STALE_NAN_BITS;
        assert!(points.iter().any(|&(_, bits)| bits == stale), "{points:?}");
    }

    // No more scrapes: the queue can now drain to the last sample appended.
    prometheus
        .reload(&config(&connector.url, &target.address, false))
        .await;
    prometheus.drained().await;
    assert_eq!(
        prometheus
            .metric("prometheus_remote_storage_samples_dropped_total")
            .await,
        0.0
    );

    let expected = prometheus.all_samples("1h").await;
    let records = store.records(DB, "metrics").await;
    let every: std::collections::BTreeMap<Key, u64> = records.iter().map(stored).collect();
    // Prometheus' query API gives finite samples only: compare those.
    let stored: std::collections::BTreeMap<Key, u64> = every
        .iter()
        .filter(|((_, dims, _), _)| !dims.iter().any(|(n, _)| n == "__value__"))
        .map(|(key, bits)| (key.clone(), *bits))
        .collect();
    assert!(
        expected.len() as f64 >= samples / 2.0,
        "Prometheus stored only {} samples",
        expected.len()
    );
    let edge = |case: &str| {
        (
            String::from("edge_values"),
            vec![
                ("case".into(), case.into()),
                ("instance".into(), target.address.clone()),
                ("job".into(), "edge".into()),
            ],
        )
    };
    for case in ["tiny", "max", "third"] {
        assert!(
            expected
                .keys()
                .any(|(n, d, _)| (n, d) == (&edge(case).0, &edge(case).1)),
            "{case} scraped"
        );
    }
    assert_same_records(&stored, &expected);
    // A request Prometheus retries after a 503 may rewrite records that one of its
    // calls had stored: Timestream takes an identical rewrite as a no-op (Timestream
    // Local too), moto stores it again. Either way it must be the very same record.
    for record in &records {
        let (key, bits) = support::stored(record);
        assert_eq!(every[&key], bits, "{key:?} stored again with another value");
    }
    prometheus
}

async fn every_sample_prometheus_sends_is_stored(backend: Backend) {
    let s = Stack::start(backend, Via::Direct, &["metrics"], &[]).await;
    let (store, connector) = (&s.timestream, &s.connector);

    let prometheus = scrape_and_compare(store, connector, 3000.0).await;
    assert!(
        connector
            .metric("timestream_connector_write_requests_total{code=\"204\"}")
            .await
            > 0.0
    );
    drop(prometheus);
}

async fn nothing_is_lost_when_timestream_throttles_and_fails(backend: Backend) {
    // One attempt per call: every fault reaches Prometheus as a 503, which it retries.
    let s = Stack::start(
        backend,
        Via::Faults,
        &["metrics"],
        &["--max-write-retries=1"],
    )
    .await;
    s.proxy().set(|f| {
        f.throttle = 6;
        f.fail = 4;
    });
    let (store, connector) = (&s.timestream, &s.connector);

    let prometheus = scrape_and_compare(store, connector, 3000.0).await;

    assert!(
        connector
            .metric("timestream_connector_write_requests_total{code=\"503\"}")
            .await
            >= 1.0
    );
    assert!(
        prometheus
            .metric("prometheus_remote_storage_samples_retried_total")
            .await
            > 0.0
    );
}

on_both_backends!(
    every_sample_prometheus_sends_is_stored,
    nothing_is_lost_when_timestream_throttles_and_fails,
);
