//! Bounds that a single client can run into: a body that trickles in is cut off at the
//! request timeout with a 503 (the sender may retry), and a SAMPLES read past
//! `--max-read-samples` is a 400 naming the flag, while a streamed read of the same
//! series, bounded by its frames instead, is answered.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use support::*;
use timestream_prometheus_connector::remote::proto;

const EQ: i32 = 0;
const T0: i64 = 1_700_000_000_000;

#[tokio::test]
async fn a_body_that_trickles_in_is_cut_off_at_the_request_timeout() {
    let stack = Stack::start(
        Backend::Local,
        Via::Direct,
        &["metrics"],
        &["--web.request-timeout=2s"],
    )
    .await;
    let address = stack
        .connector
        .url
        .trim_start_matches("http://")
        .to_string();
    let answer = tokio::task::spawn_blocking(move || {
        let mut socket = TcpStream::connect(address).unwrap();
        // The client's own limit, far past the connector's: only a failing bound hits it.
        socket
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        // Headers announcing 1000 bytes, then 10 of them, then nothing more.
        socket
            .write_all(
                b"POST /write HTTP/1.1\r\nHost: connector\r\nContent-Encoding: snappy\r\n\
                  Content-Type: application/x-protobuf\r\nContent-Length: 1000\r\n\r\n0123456789",
            )
            .unwrap();
        let mut answer = Vec::new();
        let mut buffer = [0; 4096];
        // Until the connector answers and closes, or the client's limit.
        while let Ok(n) = socket.read(&mut buffer) {
            if n == 0 {
                break;
            }
            answer.extend_from_slice(&buffer[..n]);
            if answer.windows(4).any(|w| w == b"\r\n\r\n") {
                break;
            }
        }
        String::from_utf8_lossy(&answer).into_owned()
    })
    .await
    .unwrap();
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("retry-after"),
        "{answer}"
    );
    assert_eq!(
        stack
            .connector
            .metric(
                "timestream_connector_write_requests_total{code=\"503\",protocol=\"remote_write\"}"
            )
            .await,
        1.0
    );
}

#[tokio::test]
async fn a_samples_answer_past_its_bound_is_refused_and_a_streamed_one_answered() {
    let stack = Stack::start(
        Backend::Local,
        Via::Direct,
        &["metrics"],
        &["--max-read-samples=10"],
    )
    .await;
    let url = &stack.connector.url;
    let request = proto::WriteRequest {
        timeseries: vec![series(
            &[("__name__", "bounded"), ("job", "b")],
            &(0..20)
                .map(|i| (T0 + i * 1000, i as f64))
                .collect::<Vec<_>>(),
        )],
        metadata: vec![],
    };
    assert_eq!(remote_write(url, &request).await.0, 204);
    let query = || vec![read_query(T0, T0 + 60_000, &[(EQ, "__name__", "bounded")])];

    let (status, body, _) = remote_read(url, query(), false).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("--max-read-samples"), "{body}");

    let (status, body, results) = remote_read(url, query(), true).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(results[0][0].1.len(), 20, "all 20 samples, streamed");

    let narrow = vec![read_query(T0, T0 + 9_000, &[(EQ, "__name__", "bounded")])];
    let (status, body, results) = remote_read(url, narrow, false).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(results[0][0].1.len(), 10, "at the bound is within it");
}
