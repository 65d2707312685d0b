//! The oracle: a real Prometheus (Debian's) scrapes a target and remote-writes to the
//! connector on Timestream Local; a second Prometheus, with no data of its own, reads
//! only through the connector's `/read`. The same PromQL over the same range must give
//! the same answer from both: selectors with every matcher type, rate, sum by,
//! histogram_quantile, subqueries, and series that go stale (a series vanishes from the
//! target mid-way: Prometheus writes a staleness marker, which must come back through
//! `/read` for `count`, `absent` and the series itself to end where they end).

mod support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use support::*;

/// A target whose counters grow with every scrape, with label sets that exercise
/// absent labels, regex metacharacters and quotes.
async fn shop() -> (String, Arc<AtomicU64>) {
    let scrapes = Arc::new(AtomicU64::new(0));
    let count = scrapes.clone();
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let n = count.fetch_add(1, Ordering::SeqCst) + 1;
            let f = n as f64;
            // A series that vanishes after the 15th scrape: Prometheus marks it stale.
            let vanishing = if n <= 15 {
                "shop_sessions{id=\"x\"} 1\n"
            } else {
                ""
            };
            let sessions =
                format!("# TYPE shop_sessions gauge\n{vanishing}shop_sessions{{id=\"y\"}} 2\n");
            std::future::ready(
                sessions
                    + &format!(
                        "# TYPE shop_requests_total counter
shop_requests_total{{path=\"/api/v1\",method=\"GET\",code=\"200\"}} {}
shop_requests_total{{path=\"/api/v1\",method=\"POST\",code=\"500\"}} {}
shop_requests_total{{path=\"/a.b\",method=\"GET\"}} {}
shop_requests_total{{path=\"/x'y\",method=\"GET\",code=\"200\"}} {}
# TYPE shop_latency_seconds histogram
shop_latency_seconds_bucket{{le=\"0.1\"}} {}
shop_latency_seconds_bucket{{le=\"0.5\"}} {}
shop_latency_seconds_bucket{{le=\"1\"}} {}
shop_latency_seconds_bucket{{le=\"+Inf\"}} {}
shop_latency_seconds_sum {}
shop_latency_seconds_count {}
# TYPE shop_temperature gauge
shop_temperature{{room=\"a\"}} {}
shop_temperature{{room=\"b\",floor=\"2\"}} {}
",
                        3.0 * f,
                        f + (n % 3) as f64,
                        2.0 * f,
                        5.0 * f + 0.25,
                        f,
                        3.0 * f + (n % 2) as f64,
                        4.0 * f,
                        4.0 * f + 1.0,
                        1.7 * f,
                        4.0 * f + 1.0,
                        20.0 + (n % 7) as f64 * 0.5,
                        18.0 - (n % 5) as f64 / 3.0,
                    ),
            )
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (address, scrapes)
}

fn writer_config(connector: &str, shop: Option<&str>) -> String {
    let scrape = match shop {
        Some(shop) => format!(
            "scrape_configs:
  - job_name: prometheus
    static_configs: [{{targets: ['{{self}}']}}]
  - job_name: shop
    static_configs: [{{targets: ['{shop}']}}]
"
        ),
        None => "scrape_configs: []\n".into(),
    };
    format!(
        "global:
  scrape_interval: 1s
{scrape}remote_write:
  - url: {connector}/write
    queue_config: {{batch_send_deadline: 1s, min_backoff: 50ms, max_backoff: 1s}}
"
    )
}

const QUERIES: &[&str] = &[
    "up",
    "shop_requests_total",
    "shop_requests_total{code=\"\"}",
    "shop_requests_total{code!=\"500\"}",
    "shop_requests_total{path=~\"/a.*\"}",
    "shop_requests_total{path!~\".*v1\"}",
    "shop_requests_total{path=\"/x'y\"}",
    "{__name__=~\"shop_.*_total\", method=\"GET\"}",
    "{__name__=~\"shop_(requests|latency).*\", code!~\"2..\"}",
    "rate(shop_requests_total[5s])",
    "sum by (method) (rate(shop_requests_total[5s]))",
    "histogram_quantile(0.9, rate(shop_latency_seconds_bucket[5s]))",
    "histogram_quantile(0.5, sum by (le) (rate(shop_latency_seconds_bucket[10s])))",
    "max_over_time(shop_temperature[6s:2s])",
    "shop_temperature{floor=\"\"}",
    "avg_over_time(shop_temperature{room=~\"a|b\"}[10s])",
    "count by (job) (up{job=~\"shop|prometheus\"})",
    "shop_latency_seconds_sum / shop_latency_seconds_count",
    // Staleness: without the marker, the vanished series would live on for the
    // five-minute lookback in the remote reader's answers.
    "shop_sessions",
    "count(shop_sessions)",
    "absent(shop_sessions{id=\"x\"})",
    "count_over_time(shop_sessions[5s])",
];

async fn query_range(prometheus: &Prometheus, query: &str, start: f64, end: f64) -> Vec<Value> {
    let (start, end) = (format!("{start:.3}"), format!("{end:.3}"));
    let params = [
        ("query", query),
        ("start", &start),
        ("end", &end),
        ("step", "1"),
    ];
    let response = prometheus.api("query_range", &params).await;
    let mut result = response["data"]["result"].as_array().unwrap().clone();
    result.sort_by_key(|series| series["metric"].to_string());
    result
}

fn now_seconds() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

#[tokio::test]
async fn promql_through_remote_read_equals_promql_on_prometheus_own_storage() {
    promql_over_remote_read_equals_promql_over_own_storage(&[]).await;
}

/// With multi-measure records, `up` and the scrape's other series of a target, and the
/// histogram's `_sum` and `_count`, are stored together; reads must not tell.
#[tokio::test]
async fn promql_is_the_same_over_multi_measure_records() {
    promql_over_remote_read_equals_promql_over_own_storage(&["--record-mode=multi"]).await;
}

async fn promql_over_remote_read_equals_promql_over_own_storage(extra: &[&str]) {
    let s = Stack::start(Backend::Local, Via::Direct, &["metrics"], extra).await;
    let connector = &s.connector;
    let (shop, scrapes) = shop().await;
    let writer = Prometheus::start(&writer_config(&connector.url, Some(&shop))).await;
    eventually("a first scrape", Duration::from_secs(60), || async {
        scrapes.load(Ordering::SeqCst) >= 1
    })
    .await;
    let start = now_seconds() + 8.0;
    eventually("25 scrapes", Duration::from_secs(120), || async {
        scrapes.load(Ordering::SeqCst) >= 25
    })
    .await;
    let end = now_seconds() - 2.0;

    // Stop scraping; wait until everything appended has been sent.
    writer.reload(&writer_config(&connector.url, None)).await;
    writer.drained().await;

    let reader = Prometheus::start(&format!(
        "global: {{scrape_interval: 1m}}
scrape_configs: []
remote_read:
  - url: {}/read
    read_recent: true
",
        connector.url
    ))
    .await;
    for query in QUERIES {
        let own = query_range(&writer, query, start, end).await;
        let remote = query_range(&reader, query, start, end).await;
        assert!(!own.is_empty(), "{query} selects something");
        assert_eq!(remote, own, "{query} over [{start}, {end}]");
    }
    assert!(
        connector
            .metric("timestream_connector_read_requests_total{code=\"200\"}")
            .await
            > 0.0
    );
    assert!(
        connector
            .metric("timestream_connector_query_bytes_scanned_total")
            .await
            > 0.0
    );
    let multi = s
        .timestream
        .records(DB, "metrics")
        .await
        .iter()
        .filter(|r| is_multi_measure(r))
        .count();
    assert_eq!(
        multi > 0,
        !extra.is_empty(),
        "{multi} multi-measure records"
    );
}
