//! The write path through the connector binary and the official AWS SDK, into moto's
//! Timestream (an independent implementation of the wire protocol) and into Timestream
//! Local (which also applies Timestream's merging and validation): what is stored must be
//! exactly what was sent.

mod support;

use std::collections::BTreeMap;

use support::*;
use timestream_prometheus_connector::fixtures;
use timestream_prometheus_connector::remote::proto;

async fn setup(backend: Backend, extra: &[&str]) -> (Timestream, Connector) {
    let Stack {
        timestream: store,
        connector,
        ..
    } = Stack::start(backend, Via::Direct, &["metrics", "other_table"], extra).await;
    (store, connector)
}

async fn samples_are_stored_exactly_and_unwritable_ones_counted(backend: Backend) {
    // Non-finite values skipped and counted here; their stored form is
    // tests/non_finite.rs's.
    let (store, connector) = setup(
        backend,
        &["--table-label=ts_table", "--non-finite-values=ignore"],
    )
    .await;
    let t = 1_700_000_000_000;
    let stale = f64::from_bits(0x7ff0_0000_0000_0002);
    // (-0.0 is covered by the decoder's unit tests: prost, the client here, does not encode it.)
    let values = [
        1e-9,
        1e300,
        -1e-300,
        5e-324,
        0.1 + 0.2,
        123_456_789.123_456_78,
        -1.5,
        f64::MAX,
    ];
    let exact: Vec<(i64, f64)> = values
        .iter()
        .enumerate()
        .map(|(i, v)| (t + i as i64, *v))
        .collect();
    let mut request = fixtures::write_request(300, 6, 2);
    request.timeseries.extend([
        series(&[("__name__", "exact_values"), ("job", "edge")], &exact),
        series(
            &[("__name__", "with_invalid"), ("job", "edge")],
            &[
                (t, 1.0),
                (t + 1, f64::NAN),
                (t + 2, stale),
                (t + 3, f64::INFINITY),
            ],
        ),
        series(
            &[("__name__", "long_label"), (&"l".repeat(61), "v")],
            &[(t, 1.0), (t + 1, 2.0)],
        ),
        series(
            &[
                ("__name__", "routed"),
                ("job", "r"),
                ("ts_table", "other_table"),
            ],
            &[(t, 7.0)],
        ),
    ]);

    let (status, body) = remote_write(&connector.url, &request).await;
    assert_eq!(status, 204, "{body}");

    let mut expected: BTreeMap<Key, u64> = BTreeMap::new();
    for series in &request.timeseries {
        let name = series
            .labels
            .iter()
            .find(|l| l.name == "__name__")
            .unwrap()
            .value
            .clone();
        if name == "long_label" || name == "routed" {
            continue;
        }
        let mut dims: Vec<(String, String)> = series
            .labels
            .iter()
            .filter(|l| l.name != "__name__")
            .map(|l| (l.name.clone(), l.value.clone()))
            .collect();
        dims.sort();
        for s in series.samples.iter().filter(|s| s.value.is_finite()) {
            expected.insert((name.clone(), dims.clone(), s.timestamp), s.value.to_bits());
        }
    }
    let stored_records: Vec<(Key, u64)> = store
        .records(DB, "metrics")
        .await
        .iter()
        .map(stored)
        .collect();
    assert_eq!(
        stored_records.len(),
        expected.len(),
        "one record per writable sample, no duplicates"
    );
    let stored_map: BTreeMap<Key, u64> = stored_records.into_iter().collect();
    assert_same_records(&stored_map, &expected);

    let routed: Vec<(Key, u64)> = store
        .records(DB, "other_table")
        .await
        .iter()
        .map(stored)
        .collect();
    assert_eq!(
        routed,
        [(
            ("routed".into(), vec![("job".into(), "r".into())], t),
            7.0f64.to_bits()
        )],
        "the routing label picks the table and is not a dimension"
    );

    let metric = |m: &'static str| connector.metric(m);
    assert_eq!(
        metric("timestream_connector_ignored_samples_total{reason=\"non_finite_value\"}").await,
        2.0
    );
    assert_eq!(
        metric("timestream_connector_ignored_samples_total{reason=\"stale_marker\"}").await,
        1.0
    );
    assert_eq!(
        metric("timestream_connector_ignored_samples_total{reason=\"long_label_name\"}").await,
        2.0
    );
    let received = request
        .timeseries
        .iter()
        .map(|s| s.samples.len())
        .sum::<usize>() as f64;
    assert_eq!(
        metric("timestream_connector_received_samples_total").await,
        received
    );
    assert_eq!(
        metric("timestream_connector_written_records_total").await,
        (expected.len() + 1) as f64
    );
    assert_eq!(
        metric("timestream_connector_write_requests_total{code=\"204\"}").await,
        1.0
    );
    assert!(metric("timestream_connector_billed_write_units_total").await > 0.0);
}

async fn metadata_only_and_empty_requests_succeed(backend: Backend) {
    let (store, connector) = setup(backend, &[]).await;
    let request = proto::WriteRequest {
        timeseries: vec![],
        metadata: vec![proto::MetricMetadata {
            r#type: 1,
            metric_family_name: "up".into(),
            help: "help".into(),
            unit: String::new(),
        }],
    };
    assert_eq!(remote_write(&connector.url, &request).await.0, 204);
    assert!(store.records(DB, "metrics").await.is_empty());
}

async fn basic_auth_passes_the_clients_credentials_to_timestream(backend: Backend) {
    let s = Stack::start(backend, Via::Faults, &["metrics"], &[]).await;
    let (proxy, connector) = (s.proxy(), &s.connector);

    let body = timestream_prometheus_connector::remote::snappy::compress(
        &prost::Message::encode_to_vec(&fixtures::write_request(1, 3, 1)),
    );
    let (status, text) =
        remote_write_raw(&connector.url, body.clone(), Some(("AKIDCLIENT", "secret"))).await;
    assert_eq!(status, 204, "{text}");
    let (status, _) = remote_write_raw(&connector.url, body, None).await;
    assert_eq!(status, 204);
    let keys = proxy.faults.lock().unwrap().access_keys.clone();
    assert_eq!(
        keys,
        ["AKIDCLIENT", "testing"],
        "per-request credentials, then the default chain"
    );

    // Another scheme carries no AWS credentials (behind API Gateway with IAM
    // authorization every request has a SigV4 one): the default chain writes.
    let response = reqwest::Client::new()
        .post(format!("{}/write", connector.url))
        .header("Authorization", "Bearer token")
        .header("Content-Encoding", "snappy")
        .body(body_of_one_sample())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    let keys = proxy.faults.lock().unwrap().access_keys.clone();
    assert_eq!(keys.last().map(String::as_str), Some("testing"));

    let response = reqwest::Client::new()
        .post(format!("{}/write", connector.url))
        .header("Authorization", "Basic not-base64!")
        .body(vec![])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert!(response.text().await.unwrap().contains("base64"));
}

/// One sample of `bearer_test`, snappy-compressed.
fn body_of_one_sample() -> Vec<u8> {
    let request = timestream_prometheus_connector::remote::proto::WriteRequest {
        timeseries: vec![series(
            &[("__name__", "bearer_test")],
            &[(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_millis() as i64,
                1.0,
            )],
        )],
        metadata: vec![],
    };
    timestream_prometheus_connector::remote::snappy::compress(&prost::Message::encode_to_vec(
        &request,
    ))
}

on_both_backends!(
    samples_are_stored_exactly_and_unwritable_ones_counted,
    metadata_only_and_empty_requests_succeed,
    basic_auth_passes_the_clients_credentials_to_timestream,
);
