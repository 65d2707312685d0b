//! `POST /events`: JSON events (`{"dimensions", "timestamp", "metrics"}`, one or an
//! array), each metric a sample of a series named after it with the event's dimensions
//! as labels. What is stored must be exactly what was sent, values bit for bit whether
//! given as JSON numbers or strings; a body with a bad event writes nothing and names
//! every bad event by index, unless `--accept-partial-events` asks for the good ones to
//! be written. Stored records are checked on moto (an independent implementation of the
//! write API) and Timestream Local; reading back through remote read on Timestream Local.

mod support;

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use support::*;

const EQ: i32 = 0;
const T0: i64 = 1_676_398_017_000;

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// POSTs `body` to `/events`: the status and the answer's text.
async fn post_events(url: &str, body: impl Into<reqwest::Body>) -> (u16, String) {
    let response = reqwest::Client::new()
        .post(format!("{url}/events"))
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

/// POSTs `events` and parses the JSON answer.
async fn post_json(url: &str, events: &Value) -> (u16, Value) {
    let (status, text) = post_events(url, events.to_string()).await;
    let answer = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("the answer ({status}) is JSON: {e}: {text}"));
    (status, answer)
}

/// Everything stored in table `metrics`, keyed; no record twice.
async fn stored_records(timestream: &Timestream) -> BTreeMap<Key, u64> {
    let records = timestream.records(DB, "metrics").await;
    let stored: BTreeMap<Key, u64> = records.iter().map(stored).collect();
    assert_eq!(stored.len(), records.len(), "one record per sample");
    stored
}

async fn a_single_event_is_stored_one_record_per_metric(backend: Backend) {
    let stack = Stack::start(backend, Via::Direct, &["metrics"], &[]).await;
    let event = json!({
        "dimensions": {"customerId": "c1"},
        "timestamp": T0,
        "metrics": {"temperature": "14.3", "ph": 6.7}
    });
    let (status, body) = post_json(&stack.connector.url, &event).await;
    assert_eq!((status, body), (200, written(1, 2)));
    let dims = [("customerId", "c1")];
    assert_same_records(
        &stored_records(&stack.timestream).await,
        &BTreeMap::from([
            record("temperature", &dims, T0, 14.3),
            record("ph", &dims, T0, 6.7),
        ]),
    );
}

async fn an_array_of_events_is_stored_and_counted(backend: Backend) {
    let stack = Stack::start(backend, Via::Direct, &["metrics"], &[]).await;
    let long_name = "d".repeat(60); // Timestream's longest dimension name
    let events = json!([
        {"dimensions": {"customerId": "c1", "site": "lab \"A\"\n2"}, "timestamp": T0,
         "metrics": {"temperature": 14.3, "ph": "6.7"}},
        // No dimensions: a series with the metric name only.
        {"timestamp": T0 + 1, "metrics": {"temperature": 15}},
        // An empty value is no label; the same metric as above with other labels.
        {"dimensions": {"customerId": "c2", "zone": "", long_name.clone(): "v"},
         "timestamp": T0 + 2, "metrics": {"temperature": "-3.5"}}
    ]);
    let (status, body) = post_json(&stack.connector.url, &events).await;
    assert_eq!((status, body), (200, written(3, 4)));
    let c1 = [("customerId", "c1"), ("site", "lab \"A\"\n2")];
    assert_same_records(
        &stored_records(&stack.timestream).await,
        &BTreeMap::from([
            record("temperature", &c1, T0, 14.3),
            record("ph", &c1, T0, 6.7),
            record("temperature", &[], T0 + 1, 15.0),
            record(
                "temperature",
                &[("customerId", "c2"), (long_name.as_str(), "v")],
                T0 + 2,
                -3.5,
            ),
        ]),
    );
    let metric = |m: &'static str| stack.connector.metric(m);
    assert_eq!(
        metric("timestream_connector_received_samples_total{protocol=\"events\"}").await,
        4.0
    );
    assert_eq!(
        metric("timestream_connector_write_requests_total{code=\"200\",protocol=\"events\"}").await,
        1.0
    );
}

async fn values_are_stored_exactly_from_strings_and_numbers(backend: Backend) {
    let stack = Stack::start(backend, Via::Direct, &["metrics"], &[]).await;
    // Strings are read as the decimal they spell, never through a lossy float first:
    // "1e-9" is the f64 nearest 1e-9, "12.0" is 12.
    let cases: [(&str, Value, f64); 12] = [
        ("s_tiny", json!("1e-9"), 1e-9),
        ("s_twelve", json!("12.0"), 12.0),
        ("s_negative", json!("-0.5"), -0.5),
        ("s_sum", json!("0.30000000000000004"), 0.1 + 0.2),
        (
            "s_long",
            json!("123456789.12345678"),
            123_456_789.123_456_78,
        ),
        ("s_max", json!("1.7976931348623157e308"), f64::MAX),
        ("s_subnormal", json!("5e-324"), 5e-324),
        ("n_integer", json!(42), 42.0),
        ("n_tenth", json!(0.1), 0.1),
        ("n_tiny", json!(1e-300), 1e-300),
        ("n_negative", json!(-1.5), -1.5),
        (
            "n_big_integer",
            json!(9_007_199_254_740_993_u64),
            9_007_199_254_740_992.0,
        ),
    ];
    let metrics: serde_json::Map<String, Value> = cases
        .iter()
        .map(|(name, value, _)| (name.to_string(), value.clone()))
        .collect();
    let event = json!({"dimensions": {"probe": "exact"}, "timestamp": T0, "metrics": metrics});
    let (status, body) = post_json(&stack.connector.url, &event).await;
    assert_eq!((status, body), (200, written(1, cases.len() as u64)));
    let expected: BTreeMap<Key, u64> = cases
        .iter()
        .map(|(name, _, value)| record(name, &[("probe", "exact")], T0, *value))
        .collect();
    assert_same_records(&stored_records(&stack.timestream).await, &expected);
}

async fn an_event_without_timestamp_is_stored_at_the_time_of_receipt(backend: Backend) {
    let stack = Stack::start(backend, Via::Direct, &["metrics"], &[]).await;
    let before = now_ms();
    let (status, body) = post_json(&stack.connector.url, &json!({"metrics": {"untimed": 1}})).await;
    let after = now_ms();
    assert_eq!((status, body), (200, written(1, 1)));
    let stored: Vec<(Key, u64)> = stored_records(&stack.timestream)
        .await
        .into_iter()
        .collect();
    let [((name, dims, time), value)]: [(Key, u64); 1] = stored
        .try_into()
        .unwrap_or_else(|s| panic!("one record: {s:?}"));
    assert_eq!(
        (name.as_str(), dims, value),
        ("untimed", vec![], 1.0_f64.to_bits())
    );
    assert!(
        (before..=after).contains(&time),
        "{time} in [{before}, {after}]"
    );
}

/// A batch of good events (0, 2, 10) and bad ones, each bad for one reason.
fn mixed_batch() -> (Value, Vec<usize>, BTreeMap<Key, u64>) {
    let events = json!([
        {"dimensions": {"customerId": "c1"}, "timestamp": T0, "metrics": {"temperature": "14.3"}},
        {"timestamp": T0, "metrics": {"temperature": "warm"}},
        {"timestamp": T0 + 1000, "metrics": {"ph": 6.7}},
        {"dimensions": {"customerId": "c2"}, "timestamp": T0},
        {"timestamp": T0, "metrics": {}},
        {"timestamp": 1_676_398_017_000.5, "metrics": {"ph": 7}},
        {"timestamp": T0, "metrics": {"cpu load": 1}},
        {"dimensions": {"customer-id": "c3"}, "timestamp": T0, "metrics": {"ph": 7}},
        // Valid Prometheus, but past Timestream's 60-byte dimension names.
        {"dimensions": {"d".repeat(61): "v"}, "timestamp": T0, "metrics": {"ph": 7}},
        // Valid Prometheus, but a name Timestream reserves.
        {"dimensions": {"time": "noon"}, "timestamp": T0, "metrics": {"ph": 7}},
        {"dimensions": {"customerId": "c4"}, "timestamp": T0 + 2000,
         "metrics": {"temperature": 15, "ph": "7.25"}},
        {"timestamp": T0, "metrics": {"ph": true}}
    ]);
    let bad = vec![1, 3, 4, 5, 6, 7, 8, 9, 11];
    let good = BTreeMap::from([
        record("temperature", &[("customerId", "c1")], T0, 14.3),
        record("ph", &[], T0 + 1000, 6.7),
        record("temperature", &[("customerId", "c4")], T0 + 2000, 15.0),
        record("ph", &[("customerId", "c4")], T0 + 2000, 7.25),
    ]);
    (events, bad, good)
}

/// The indices an answer refuses, each with a reason.
fn refused_indices(answer: &Value) -> Vec<usize> {
    let mut indices: Vec<usize> = answer["refused"]
        .as_array()
        .unwrap_or_else(|| panic!("a `refused` list: {answer}"))
        .iter()
        .map(|r| {
            assert!(
                !r["reason"].as_str().unwrap_or_default().is_empty(),
                "a reason for each refused event: {r}"
            );
            r["index"].as_u64().unwrap() as usize
        })
        .collect();
    indices.sort();
    indices
}

async fn a_bad_event_refuses_the_batch_and_every_bad_one_is_named(backend: Backend) {
    let stack = Stack::start(backend, Via::Direct, &["metrics"], &[]).await;
    let (events, bad, _) = mixed_batch();
    let (status, body) = post_json(&stack.connector.url, &events).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(refused_indices(&body), bad, "{body}");
    assert_eq!(
        (&body["written_events"], &body["written_samples"]),
        (&json!(0), &json!(0))
    );
    assert!(
        stack.timestream.records(DB, "metrics").await.is_empty(),
        "nothing of a refused batch is written"
    );
}

async fn accept_partial_events_writes_the_good_ones_and_names_the_bad(backend: Backend) {
    let stack = Stack::start(
        backend,
        Via::Direct,
        &["metrics"],
        &["--accept-partial-events"],
    )
    .await;
    let (events, bad, good) = mixed_batch();
    let (status, body) = post_json(&stack.connector.url, &events).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(refused_indices(&body), bad, "{body}");
    assert_eq!(
        (&body["written_events"], &body["written_samples"]),
        (&json!(3), &json!(good.len()))
    );
    assert_same_records(&stored_records(&stack.timestream).await, &good);
}

async fn a_body_that_is_not_json_is_refused(backend: Backend) {
    let stack = Stack::start(backend, Via::Direct, &["metrics"], &[]).await;
    for body in [
        "temperature=14.3",
        r#"{"timestamp": 1676398017000, "metrics": {"ph": 6.7}"#,
        "",
    ] {
        let (status, answer) = post_events(&stack.connector.url, body).await;
        assert_eq!(status, 400, "{body:?}: {answer}");
    }
    assert!(stack.timestream.records(DB, "metrics").await.is_empty());
}

on_both_backends!(
    a_single_event_is_stored_one_record_per_metric,
    an_array_of_events_is_stored_and_counted,
    values_are_stored_exactly_from_strings_and_numbers,
    an_event_without_timestamp_is_stored_at_the_time_of_receipt,
    a_bad_event_refuses_the_batch_and_every_bad_one_is_named,
    accept_partial_events_writes_the_good_ones_and_names_the_bad,
    a_body_that_is_not_json_is_refused,
);

/// Events read back through remote read as any other series: labels = the dimensions
/// and `__name__`, sorted; samples exact, in time order.
#[tokio::test]
async fn events_read_back_through_remote_read() {
    let stack = Stack::start(Backend::Local, Via::Direct, &["metrics"], &[]).await;
    let site = "lab \"A\"";
    let events = json!([
        {"dimensions": {"site": site, "customerId": "c1"}, "timestamp": T0,
         "metrics": {"temperature": "14.3", "ph": 6.7}},
        {"dimensions": {"customerId": "c1", "site": site}, "timestamp": T0 + 60_000,
         "metrics": {"temperature": "1e-9"}},
        {"dimensions": {"customerId": "c2"}, "timestamp": T0, "metrics": {"temperature": -0.5}}
    ]);
    let (status, body) = post_json(&stack.connector.url, &events).await;
    assert_eq!((status, body), (200, written(3, 4)));

    let labels = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    };
    let c1_ph: ReadSeries = (
        labels(&[("__name__", "ph"), ("customerId", "c1"), ("site", site)]),
        vec![(T0, 6.7_f64.to_bits())],
    );
    let c1_temperature: ReadSeries = (
        labels(&[
            ("__name__", "temperature"),
            ("customerId", "c1"),
            ("site", site),
        ]),
        vec![(T0, 14.3_f64.to_bits()), (T0 + 60_000, 1e-9_f64.to_bits())],
    );
    let c2_temperature: ReadSeries = (
        labels(&[("__name__", "temperature"), ("customerId", "c2")]),
        vec![(T0, (-0.5_f64).to_bits())],
    );
    let queries = || {
        vec![
            read_query(T0, T0 + 60_000, &[(EQ, "customerId", "c1")]),
            read_query(T0, T0 + 60_000, &[(EQ, "__name__", "temperature")]),
        ]
    };
    for streamed in [false, true] {
        let (status, body, results) = remote_read(&stack.connector.url, queries(), streamed).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            results,
            [
                vec![c1_ph.clone(), c1_temperature.clone()],
                vec![c1_temperature.clone(), c2_temperature.clone()],
            ],
            "streamed: {streamed}"
        );
    }
}

/// Timestream keeps one value per series and time: the same value again is harmless,
/// another one is rejected by Timestream and reported by the index of its event, while
/// the other events of the body are written. (Timestream Local only: moto does not
/// reject.)
#[tokio::test]
async fn a_point_timestream_rejects_is_reported_by_its_event() {
    let stack = Stack::start(Backend::Local, Via::Direct, &["metrics"], &[]).await;
    let url = &stack.connector.url;
    let time = now_ms();
    let first = json!({"dimensions": {"site": "a"}, "timestamp": time, "metrics": {"t": "1"}});
    assert_eq!(post_json(url, &first).await, (200, written(1, 1)));
    assert_eq!(
        post_json(url, &first).await,
        (200, written(1, 1)),
        "an identical resend is idempotent"
    );

    let events = json!([
        {"dimensions": {"site": "b"}, "timestamp": time, "metrics": {"t": "5"}},
        {"dimensions": {"site": "a"}, "timestamp": time, "metrics": {"t": "2"}},
    ]);
    let (status, body) = post_json(url, &events).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["written_events"], 1, "{body}");
    assert_eq!(body["written_samples"], 1, "{body}");
    let refused = body["refused"].as_array().unwrap();
    assert_eq!(refused.len(), 1, "{body}");
    assert_eq!(refused[0]["index"], 1, "{body}");
    assert!(
        refused[0]["reason"]
            .as_str()
            .unwrap()
            .contains("t{site=\"a\"}"),
        "the reason names the series: {body}"
    );
    assert_eq!(
        stored_records(&stack.timestream).await,
        BTreeMap::from([
            record("t", &[("site", "a")], time, 1.0),
            record("t", &[("site", "b")], time, 5.0),
        ]),
        "the first value stays, the other event was written"
    );
}

/// With `--record-mode=multi` an event's metrics share one record. When Timestream
/// rejects that record, every one of its samples is refused with its event, and the
/// answer counts only what was written.
#[tokio::test]
async fn a_rejected_multi_measure_record_refuses_its_event_and_counts_its_samples() {
    let stack = Stack::start(
        Backend::Local,
        Via::Direct,
        &["metrics"],
        &["--record-mode=multi"],
    )
    .await;
    // Two days ahead: past what Timestream takes in the future.
    let (now, ahead) = (now_ms(), now_ms() + 2 * 86_400_000);
    let events = json!([
        {"dimensions": {"site": "a"}, "timestamp": now, "metrics": {"t": "1", "h": "2"}},
        {"dimensions": {"site": "b"}, "timestamp": ahead, "metrics": {"t": "1", "h": "2", "p": "3"}},
    ]);
    let (status, body) = post_json(&stack.connector.url, &events).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["written_events"], 1, "{body}");
    assert_eq!(body["written_samples"], 2, "{body}");
    assert_eq!(refused_indices(&body), [1], "{body}");
    let records = stack.timestream.records(DB, "metrics").await;
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0]["MeasureName"], "__metrics__h", "{records:?}");
}
