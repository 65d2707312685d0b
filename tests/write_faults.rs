//! How the connector answers when Timestream throttles, fails or rejects records, and
//! when the request itself is bad: statuses that make Prometheus retry what can still be
//! written and drop only what never can, and a daemon that keeps serving.

mod support;

use support::*;
use timestream_prometheus_connector::fixtures;

async fn setup(backend: Backend, extra: &[&str]) -> Stack {
    Stack::start(backend, Via::Faults, &["metrics"], extra).await
}

async fn throttling_and_500s_are_retried_inside_the_connector(backend: Backend) {
    let s = setup(backend, &[]).await;
    s.proxy().set(|f| {
        f.throttle = 2;
        f.fail = 1;
    });
    let request = fixtures::write_request(50, 4, 1);
    let (status, body) = remote_write(&s.connector.url, &request).await;
    assert_eq!(status, 204, "{body}");
    assert_eq!(s.stored_keys().await.len(), 50);
    assert_eq!(
        s.proxy().calls(),
        4,
        "one call of 50 records, three faults, one success"
    );
    assert_eq!(
        s.connector
            .metric("timestream_connector_retried_records_total")
            .await,
        150.0
    );
    assert_eq!(
        s.connector
            .metric("timestream_connector_write_calls_total{result=\"throttled\"}")
            .await,
        2.0
    );
}

async fn persistent_throttling_is_a_503_with_retry_after_and_a_resend_loses_nothing(
    backend: Backend,
) {
    let s = setup(backend, &["--max-write-retries=2"]).await;
    s.proxy().set(|f| f.throttle = 1000);
    let request = fixtures::write_request(250, 4, 1);
    let response = reqwest::Client::new()
        .post(format!("{}/write", s.connector.url))
        .header("Content-Encoding", "snappy")
        .body(timestream_prometheus_connector::remote::snappy::compress(
            &prost::Message::encode_to_vec(&request),
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    assert!(response.headers().get("retry-after").is_some());
    assert!(response.text().await.unwrap().contains("throttled"));
    assert_eq!(
        s.proxy().calls(),
        6,
        "three calls of ≤ 100 records, two attempts each"
    );

    // The sender retries the same request once Timestream recovers.
    s.proxy().set(|f| f.throttle = 0);
    assert_eq!(remote_write(&s.connector.url, &request).await.0, 204);
    assert_eq!(s.stored_keys().await.len(), 250);
}

async fn server_errors_are_a_503(backend: Backend) {
    let s = setup(backend, &["--max-write-retries=1"]).await;
    s.proxy().set(|f| f.fail = 1);
    let (status, body) = remote_write(&s.connector.url, &fixtures::write_request(5, 3, 1)).await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("unavailable"), "{body}");
}

async fn rejected_records_are_a_400_naming_them_and_the_rest_is_stored(backend: Backend) {
    let s = setup(backend, &[]).await;
    s.proxy().set(|f| f.reject_value = Some("666.0".into()));
    let t = 1_700_000_000_000;
    let mut request = fixtures::write_request(20, 4, 1);
    request.timeseries.push(series(
        &[("__name__", "doomed"), ("job", "x")],
        &[(t, 666.0)],
    ));
    let (status, body) = remote_write(&s.connector.url, &request).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("rejected 1 of 21 samples"), "{body}");
    assert!(
        body.contains("doomed{job=\"x\"}") && body.contains("outside the time range"),
        "{body}"
    );
    let stored = s.stored_keys().await;
    assert_eq!(stored.len(), 20);
    assert!(stored.iter().all(|(name, _, _)| name != "doomed"));
    assert_eq!(
        s.connector
            .metric("timestream_connector_rejected_records_total{reason=\"time_out_of_range\"}")
            .await,
        1.0
    );
}

async fn a_missing_table_is_a_400(backend: Backend) {
    let s = Stack::start(
        backend,
        Via::Direct,
        &["metrics"],
        &["--default-table=nosuchtable"],
    )
    .await;
    let (status, body) = remote_write(&s.connector.url, &fixtures::write_request(1, 3, 1)).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("not found"), "{body}");
}

async fn bad_requests_get_a_clear_4xx_and_the_daemon_keeps_serving(backend: Backend) {
    let s = setup(
        backend,
        &["--fail-on-long-label", "--fail-on-invalid-sample-value"],
    )
    .await;
    let url = &s.connector.url;
    let client = reqwest::Client::new();

    let (status, body) = remote_write_raw(url, b"not snappy at all".to_vec(), None).await;
    assert_eq!(status, 400);
    assert!(body.contains("snappy"), "{body}");

    let garbage =
        timestream_prometheus_connector::remote::snappy::compress(&[0x0a, 0xff, 0xff, 0xff]);
    let (status, body) = remote_write_raw(url, garbage, None).await;
    assert_eq!(status, 400);
    assert!(body.contains("protobuf"), "{body}");

    let huge_claim = vec![0xff, 0xff, 0xff, 0xff, 0x0f];
    let (status, body) = remote_write_raw(url, huge_claim, None).await;
    assert_eq!(status, 400);
    assert!(body.contains("over the limit"), "{body}");

    let response = client
        .post(format!("{url}/write"))
        .header("Content-Encoding", "gzip")
        .body(vec![1, 2, 3])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 415);
    let response = client
        .post(format!("{url}/write"))
        .header("Content-Encoding", "snappy")
        .header(
            "Content-Type",
            "application/x-protobuf;proto=io.prometheus.write.v3.Request",
        )
        .body(vec![1, 2, 3])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 415);

    let t = 1_700_000_000_000;
    let long = "l".repeat(61);
    let mut request = fixtures::write_request(10, 3, 1);
    request.timeseries.push(series(
        &[("__name__", "too_long"), (&long, "v")],
        &[(t, 1.0)],
    ));
    let (status, body) = remote_write(url, &request).await;
    assert_eq!(status, 400);
    assert!(
        body.contains(&format!("too_long{{{long}=\"v\"}}")) && body.contains("60-byte"),
        "{body}"
    );

    let mut request = fixtures::write_request(10, 3, 1);
    request
        .timeseries
        .push(series(&[("__name__", "not_a_number")], &[(t, f64::NAN)]));
    let (status, body) = remote_write(url, &request).await;
    assert_eq!(status, 400);
    assert!(
        body.contains("not_a_number{}") && body.contains("NaN"),
        "{body}"
    );

    assert!(
        s.stored_keys().await.is_empty(),
        "refused requests write nothing"
    );
    assert_eq!(s.proxy().calls(), 0);
    assert_eq!(
        reqwest::get(format!("{url}/health"))
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        remote_write(url, &fixtures::write_request(10, 3, 1))
            .await
            .0,
        204
    );
}

on_both_backends!(
    throttling_and_500s_are_retried_inside_the_connector,
    persistent_throttling_is_a_503_with_retry_after_and_a_resend_loses_nothing,
    server_errors_are_a_503,
    rejected_records_are_a_400_naming_them_and_the_rest_is_stored,
    a_missing_table_is_a_400,
    bad_requests_get_a_clear_4xx_and_the_daemon_keeps_serving,
);
