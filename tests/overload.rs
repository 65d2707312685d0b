//! Overload is answered, not queued: with Timestream stalled, hundreds of concurrent
//! writes get either their 204 (once Timestream answers) or a 503 with Retry-After at
//! once, and the connector's memory stays bounded meanwhile.

mod support;

use std::time::Duration;

use prost::Message;
use support::*;
use timestream_prometheus_connector::remote::{proto, snappy};

const WRITES: usize = 300;
const MAX_REQUESTS: usize = 32;
/// The bound the connector's resident memory must stay under (a debug build).
const MAX_RSS_BYTES: f64 = 256.0 * 1024.0 * 1024.0;

/// The `i`th request: 2000 samples of its own series, as Prometheus sends them.
fn request(i: usize) -> Vec<u8> {
    let series = (0..200)
        .map(|s| {
            let name = format!("overload_{s}");
            let writer = format!("w{i}");
            series(
                &[
                    ("__name__", &name),
                    ("job", "overload"),
                    ("writer", &writer),
                ],
                &(0..10)
                    .map(|t| (1_700_000_000_000 + t * 1000, (i * 1000 + s) as f64))
                    .collect::<Vec<_>>(),
            )
        })
        .collect();
    let request = proto::WriteRequest {
        timeseries: series,
        metadata: vec![],
    };
    snappy::compress(&request.encode_to_vec())
}

#[tokio::test]
async fn a_stalled_timestream_makes_writes_wait_or_be_refused_at_once_never_queue() {
    let max_requests = format!("--max-concurrent-requests={MAX_REQUESTS}");
    let stack = Stack::start(Backend::Local, Via::Gate, &["metrics"], &[&max_requests]).await;
    let url = stack.connector.url.clone();
    let client = reqwest::Client::new();
    let (done, mut answers) = tokio::sync::mpsc::unbounded_channel();
    for i in 0..WRITES {
        let (client, url, done) = (client.clone(), url.clone(), done.clone());
        tokio::spawn(async move {
            let response = client
                .post(format!("{url}/write"))
                .header("Content-Encoding", "snappy")
                .header("Content-Type", "application/x-protobuf")
                .body(request(i))
                .send()
                .await
                .expect("an answer, not a dropped connection");
            let retry_after = response.headers().contains_key("retry-after");
            let _ = done.send((response.status().as_u16(), retry_after));
        });
    }

    // Timestream answers nothing yet: the writes past the bound are refused at once,
    // the others wait.
    let mut peak_rss: f64 = 0.0;
    let mut refused = 0;
    while refused < WRITES - MAX_REQUESTS {
        let (status, retry_after) = tokio::time::timeout(Duration::from_secs(60), answers.recv())
            .await
            .expect("refusals come at once, while Timestream is stalled")
            .unwrap();
        assert_eq!(
            status, 503,
            "nothing else can finish while Timestream is stalled"
        );
        assert!(retry_after, "a 503 tells the sender when to retry");
        refused += 1;
        if refused % 50 == 0 {
            peak_rss = peak_rss.max(
                stack
                    .connector
                    .metric("process_resident_memory_bytes")
                    .await,
            );
        }
    }
    peak_rss = peak_rss.max(
        stack
            .connector
            .metric("process_resident_memory_bytes")
            .await,
    );
    assert_eq!(
        stack
            .connector
            .metric("timestream_connector_errors_total{stage=\"admit\",kind=\"busy_requests\"}")
            .await,
        (WRITES - MAX_REQUESTS) as f64
    );

    // Timestream answers: the waiting writes are stored.
    stack.proxy().release();
    for _ in 0..MAX_REQUESTS {
        let (status, _) = tokio::time::timeout(Duration::from_secs(120), answers.recv())
            .await
            .expect("the admitted writes finish once Timestream answers")
            .unwrap();
        assert_eq!(status, 204);
    }
    assert_eq!(
        stack.timestream.records(DB, "metrics").await.len(),
        MAX_REQUESTS * 2000,
        "every admitted write stored, whole"
    );
    assert!(
        peak_rss > 0.0 && peak_rss < MAX_RSS_BYTES,
        "resident memory under load: {peak_rss} bytes"
    );
    eprintln!(
        "overload | {WRITES} concurrent writes of 2000 samples, {MAX_REQUESTS} admitted | peak RSS {:.0} MiB",
        peak_rss / 1048576.0
    );
}
