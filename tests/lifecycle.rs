//! The daemon's life: SIGTERM finishes in-flight writes before exiting, and answers 503
//! to what cannot finish in the drain's time; a client that goes away cancels its
//! request's remaining WriteRecords calls.

mod support;

use std::time::Duration;

use prost::Message;
use support::proxy::FaultProxy;
use support::*;
use timestream_prometheus_connector::fixtures;
use timestream_prometheus_connector::remote::snappy;
use tokio::io::AsyncWriteExt;

async fn setup(backend: Backend, extra: &[&str]) -> (Timestream, FaultProxy, Connector) {
    let Stack {
        timestream: store,
        proxy,
        connector,
    } = Stack::start(backend, Via::Gate, &["metrics"], extra).await;
    (store, proxy.expect("a gated proxy"), connector)
}

async fn sigterm_finishes_in_flight_writes_then_exits(backend: Backend) {
    let (store, proxy, mut connector) = setup(backend, &[]).await;
    let url = connector.url.clone();
    let request = fixtures::write_request(150, 4, 1);
    let in_flight = tokio::spawn(async move { remote_write(&url, &request).await });
    proxy.held().await;

    signal(connector.pid(), "TERM");
    // Once draining, the listener is closed: new connections are refused.
    let health = format!("{}/health", connector.url);
    eventually("the listener to close", Duration::from_secs(10), || async {
        reqwest::Client::new().get(&health).send().await.is_err()
    })
    .await;

    proxy.release();
    let (status, body) = in_flight.await.unwrap();
    assert_eq!(status, 204, "{body}");
    assert!(connector.wait().success(), "a drained shutdown exits 0");
    assert_eq!(store.records(DB, "metrics").await.len(), 150);
}

/// Timestream Local only: what is checked is the connector's answer, not the store.
#[tokio::test]
async fn a_write_still_running_when_the_drain_runs_out_is_answered_503() {
    let (_store, proxy, mut connector) = setup(Backend::Local, &["--web.drain-timeout=1s"]).await;
    let url = connector.url.clone();
    let request = fixtures::write_request(50, 4, 1);
    let in_flight = tokio::spawn(async move {
        let response = reqwest::Client::new()
            .post(format!("{url}/write"))
            .header("Content-Encoding", "snappy")
            .body(snappy::compress(&request.encode_to_vec()))
            .send()
            .await
            .expect("an answer, not a dropped connection");
        let retry_after = response.headers().contains_key("retry-after");
        (response.status().as_u16(), retry_after)
    });
    proxy.held().await;
    signal(connector.pid(), "TERM");
    // Timestream never answers: the drain runs out, the write is answered, not dropped.
    let (status, retry_after) = in_flight.await.unwrap();
    assert_eq!(status, 503, "the sender retries what was not acknowledged");
    assert!(retry_after);
    assert!(connector.wait().success(), "then the daemon exits 0");
}

async fn a_client_going_away_cancels_the_rest_of_its_request(backend: Backend) {
    // One call at a time, so that the request's later calls are provably not yet sent.
    let (store, proxy, connector) = setup(backend, &["--max-concurrent-writes=1"]).await;
    // A raw socket, closed the way Prometheus' Go client closes it on a timeout.
    let body = snappy::compress(&fixtures::write_request(300, 4, 1).encode_to_vec());
    let address = connector.url.trim_start_matches("http://");
    let mut socket = tokio::net::TcpStream::connect(address).await.unwrap();
    let head = format!(
        "POST /write HTTP/1.1\r\nHost: {address}\r\nContent-Encoding: snappy\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    socket.write_all(head.as_bytes()).await.unwrap();
    socket.write_all(&body).await.unwrap();
    proxy.held().await;
    drop(socket);

    eventually(
        "the connector to see the client leave",
        Duration::from_secs(10),
        || async {
            connector
                .metric("timestream_connector_write_requests_total{code=\"499\"}")
                .await
                == 1.0
        },
    )
    .await;
    // The handler and its calls are dropped: letting the held call go changes nothing.
    proxy.release();
    assert_eq!(
        remote_write(&connector.url, &fixtures::write_request(1, 3, 1))
            .await
            .0,
        204
    );
    assert_eq!(
        proxy.calls(),
        2,
        "the held call and the second request's; none of the first request's others"
    );
    // The held call itself may or may not reach Timestream, depending on whether the proxy
    // noticed the connector hang up before the gate opened; the other two never left.
    let stored = store.records(DB, "metrics").await.len();
    assert!(stored == 1 || stored == 101, "{stored} records stored");
}

on_both_backends!(
    sigterm_finishes_in_flight_writes_then_exits,
    a_client_going_away_cancels_the_rest_of_its_request,
);
