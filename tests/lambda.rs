//! The connector as an AWS Lambda function: the same binary, started as Lambda starts a
//! custom runtime (`AWS_LAMBDA_RUNTIME_API`, settings in the Go connector's environment
//! variables), against a fake Runtime API that hands it recorded-shape events and
//! collects its answers. HTTP events (API Gateway HTTP and REST APIs, ALB) reach the
//! daemon's routes with the daemon's status codes; SQS batches name exactly the messages
//! not written; direct invocations answer as `POST /events`. What is stored is checked
//! exactly in Timestream Local, and the process must survive every bad event.

mod support;

use std::collections::BTreeMap;

use prost::Message;
use serde_json::{json, Value};
use support::lambda::*;
use support::*;
use timestream_prometheus_connector::fixtures;
use timestream_prometheus_connector::remote::{proto, snappy};

const RE: i32 = 2;
const T0: i64 = 1_676_398_017_000;

/// Timestream Local with table `metrics`, optionally a fault proxy in front of it, and
/// the function writing to it (through the proxy if there is one).
struct LambdaStack {
    timestream: Timestream,
    proxy: Option<proxy::FaultProxy>,
    runtime: RuntimeApi,
    function: LambdaFunction,
}

impl LambdaStack {
    async fn start(via: Via, settings: &[(&str, &str)]) -> LambdaStack {
        let timestream = Timestream::start(Backend::Local);
        create_table(&timestream, DB, &["metrics"]).await;
        let proxy = match via {
            Via::Direct => None,
            Via::Faults => Some(proxy::FaultProxy::start(&timestream.endpoint).await),
            Via::Gate => Some(proxy::FaultProxy::start_gated(&timestream.endpoint).await),
        };
        let endpoint = proxy
            .as_ref()
            .map_or(&timestream.endpoint, |p| &p.endpoint)
            .clone();
        let mut env = vec![
            ("default_database", DB),
            ("default_table", "metrics"),
            ("region", REGION),
            ("write_base_endpoint", endpoint.as_str()),
            ("query_base_endpoint", endpoint.as_str()),
            ("log_level", "debug"),
        ];
        env.extend_from_slice(settings);
        let runtime = RuntimeApi::start().await;
        let function = LambdaFunction::start(&runtime, &env).await;
        LambdaStack {
            timestream,
            proxy,
            runtime,
            function,
        }
    }

    fn proxy(&self) -> &proxy::FaultProxy {
        self.proxy.as_ref().expect("a stack started with a proxy")
    }

    async fn invoke(&self, event: Value) -> Invocation {
        self.runtime.invoke(event).await
    }

    /// Invokes with an HTTP event and reads the HTTP answer.
    async fn http(&self, event: Value) -> HttpAnswer {
        HttpAnswer::of(self.invoke(event).await)
    }

    /// Everything stored in table `metrics`, keyed; no record twice.
    async fn stored(&self) -> BTreeMap<Key, u64> {
        let records = self.timestream.records(DB, "metrics").await;
        let stored: BTreeMap<Key, u64> = records.iter().map(stored).collect();
        assert_eq!(stored.len(), records.len(), "one record per sample");
        stored
    }
}

/// A remote write body as Prometheus sends it.
fn write_body(request: &proto::WriteRequest) -> Vec<u8> {
    snappy::compress(&request.encode_to_vec())
}

/// An HTTP API event carrying `request` as a remote write.
fn write_event(request: &proto::WriteRequest) -> Value {
    http_api_event(
        "POST",
        "/write",
        &REMOTE_WRITE_HEADERS,
        &write_body(request),
    )
}

/// The records a remote write request must become: measure = `__name__`, the other
/// labels as dimensions, each sample's time and value bits.
fn records_of(request: &proto::WriteRequest) -> BTreeMap<Key, u64> {
    let mut records = BTreeMap::new();
    for series in &request.timeseries {
        let mut name = String::new();
        let mut dimensions = Vec::new();
        for label in &series.labels {
            match label.name.as_str() {
                "__name__" => name = label.value.clone(),
                _ => dimensions.push((label.name.clone(), label.value.clone())),
            }
        }
        dimensions.sort();
        for sample in &series.samples {
            let key = (name.clone(), dimensions.clone(), sample.timestamp);
            records.insert(key, sample.value.to_bits());
        }
    }
    records
}

/// The series a remote read of everything in `request` must answer: sorted labels,
/// ordered as Prometheus orders label sets, samples in time order with their bits.
fn read_series_of(request: &proto::WriteRequest) -> Vec<ReadSeries> {
    let mut all: Vec<ReadSeries> = request
        .timeseries
        .iter()
        .map(|s| {
            let mut labels: Vec<(String, String)> = s
                .labels
                .iter()
                .map(|l| (l.name.clone(), l.value.clone()))
                .collect();
            labels.sort();
            let mut samples: Vec<(i64, u64)> = s
                .samples
                .iter()
                .map(|x| (x.timestamp, x.value.to_bits()))
                .collect();
            samples.sort();
            (labels, samples)
        })
        .collect();
    all.sort();
    all
}

/// The message ids an SQS batch answer reports as failed, sorted.
fn failed_messages(answer: &Value) -> Vec<String> {
    let mut ids: Vec<String> = answer["batchItemFailures"]
        .as_array()
        .unwrap_or_else(|| panic!("a batchItemFailures list: {answer}"))
        .iter()
        .map(|f| f["itemIdentifier"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

/// Remote write then remote read through HTTP API events (the Go connector's SAM
/// deployment): what reads back, in both answer types, is exactly what was written.
#[tokio::test]
async fn http_api_remote_write_then_read_round_trips_exactly() {
    let stack = LambdaStack::start(Via::Direct, &[]).await;
    let mut request = fixtures::write_request(20, 4, 3);
    // Values whose text a lossy formatting would change, and a label needing escapes.
    request.timeseries.push(series(
        &[("__name__", "exact"), ("site", "lab \"A\"")],
        &[
            (T0, 1e-9),
            (T0 + 1000, 0.1 + 0.2),
            (T0 + 2000, -123_456_789.125),
        ],
    ));
    let answer = stack.http(write_event(&request)).await;
    assert_eq!(answer.status, 204, "{}", answer.text());

    // fixtures::write_request's samples are at 1_700_000_000_000 + 0, 1 and 2 s.
    let everything = || vec![read_query(T0, 1_700_000_002_000, &[(RE, "__name__", ".+")])];
    for streamed in [false, true] {
        let body = read_request_body(everything(), streamed);
        let answer = stack
            .http(http_api_event("POST", "/read", &REMOTE_READ_HEADERS, &body))
            .await;
        assert_eq!(
            answer.status,
            200,
            "streamed: {streamed}: {}",
            answer.text()
        );
        let content_type = answer
            .header("content-type")
            .unwrap_or_default()
            .to_string();
        let results = decode_read_answer(&content_type, &answer.body, streamed, 1);
        assert_eq!(
            results,
            vec![read_series_of(&request)],
            "streamed: {streamed}"
        );
    }
}

/// Builds an HTTP event: (method, path, headers, body).
type EventBuilder = fn(&str, &str, &[(&str, &str)], &[u8]) -> Value;

/// A remote write in an event built by `event` is routed to `/write`, answered 204 and
/// stored exactly; a remote read in the same kind of event reads it back exactly.
async fn remote_write_through(event: EventBuilder) {
    let stack = LambdaStack::start(Via::Direct, &[]).await;
    let request = fixtures::write_request(30, 5, 2);
    let answer = stack
        .http(event(
            "POST",
            "/write",
            &REMOTE_WRITE_HEADERS,
            &write_body(&request),
        ))
        .await;
    assert_eq!(answer.status, 204, "{}", answer.text());
    assert_same_records(&stack.stored().await, &records_of(&request));

    // fixtures::write_request's samples are at 1_700_000_000_000 + 0 and 1 s.
    let query = vec![read_query(T0, 1_700_000_001_000, &[(RE, "__name__", ".+")])];
    let body = read_request_body(query, false);
    let answer = stack
        .http(event("POST", "/read", &REMOTE_READ_HEADERS, &body))
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    let content_type = answer
        .header("content-type")
        .unwrap_or_default()
        .to_string();
    let results = decode_read_answer(&content_type, &answer.body, false, 1);
    assert_eq!(results, vec![read_series_of(&request)]);
}

/// REST API events carry the stage (`prod`), which lambda_http would put in front of
/// the path (`/prod/write`, a 404): the function must route them to `/write`. Headers
/// come in the client's case (`Content-Encoding`), not lower case.
#[tokio::test]
async fn rest_api_remote_write_and_read_are_routed_and_exact() {
    remote_write_through(rest_api_event).await;
}

#[tokio::test]
async fn alb_remote_write_and_read_are_exact() {
    remote_write_through(alb_event).await;
}

/// A body that is not snappy is the daemon's 400 (Prometheus drops it: it can never be
/// written), not a function error, and the warm function serves the next invocation.
#[tokio::test]
async fn a_malformed_remote_write_is_a_400_and_the_next_one_is_written() {
    let stack = LambdaStack::start(Via::Direct, &[]).await;
    let bad = http_api_event(
        "POST",
        "/write",
        &REMOTE_WRITE_HEADERS,
        b"not snappy at all",
    );
    let answer = stack.http(bad).await;
    assert_eq!(answer.status, 400, "{}", answer.text());
    assert!(answer.text().contains("snappy"), "{}", answer.text());

    let request = fixtures::write_request(10, 3, 1);
    let answer = stack.http(write_event(&request)).await;
    assert_eq!(answer.status, 204, "{}", answer.text());
    assert_same_records(&stack.stored().await, &records_of(&request));
}

/// An SQS batch: each message an event or an array of them. The answer lists exactly
/// the messages that were not written, so that SQS redelivers only those (and its
/// dead-letter queue catches them), and the others are stored exactly.
#[tokio::test]
async fn an_sqs_batch_reports_exactly_the_messages_not_written() {
    let stack = LambdaStack::start(Via::Direct, &[]).await;
    let one = "059f36b4-87a3-44ab-83d2-661975830a7d";
    let not_json = "2e1424d4-f796-459a-8184-9c92662be6da";
    let array = "3f4c4b9e-9f0b-4a87-9a1b-1c5d3b7e8a11";
    let no_metrics = "7a1f3e52-0c4d-4b7e-8e3a-5d9c2b1a0f66";
    let messages = [
        (
            one,
            json!({"dimensions": {"site": "a"}, "timestamp": T0,
                   "metrics": {"temperature": "14.3", "ph": 6.7}})
            .to_string(),
        ),
        (
            not_json,
            r#"{"dimensions": {"site": "b"}, "timestamp": 1676398017000, "metr"#.to_string(),
        ),
        (
            array,
            json!([
                {"dimensions": {"site": "b"}, "timestamp": T0 + 1000, "metrics": {"temperature": -0.5}},
                {"dimensions": {"site": "c"}, "timestamp": T0 + 2000, "metrics": {"temperature": "1e-9"}}
            ])
            .to_string(),
        ),
        (
            no_metrics,
            json!({"dimensions": {"site": "d"}, "timestamp": T0, "metrics": {}}).to_string(),
        ),
    ];
    let messages: Vec<(&str, &str)> = messages.iter().map(|(i, b)| (*i, b.as_str())).collect();
    let answer = stack.invoke(sqs_event(&messages)).await.response();
    let mut expected_failures = vec![not_json.to_string(), no_metrics.to_string()];
    expected_failures.sort();
    assert_eq!(failed_messages(&answer), expected_failures, "{answer}");
    assert_same_records(
        &stack.stored().await,
        &BTreeMap::from([
            record("temperature", &[("site", "a")], T0, 14.3),
            record("ph", &[("site", "a")], T0, 6.7),
            record("temperature", &[("site", "b")], T0 + 1000, -0.5),
            record("temperature", &[("site", "c")], T0 + 2000, 1e-9),
        ]),
    );
}

/// Direct invocations (`aws lambda invoke --payload`, an IoT rule): one event or an
/// array, answered as `POST /events` answers. A payload that is no event is answered
/// (a function error or a refusal), writes nothing, and does not end the process.
#[tokio::test]
async fn direct_invocations_write_events_and_survive_bad_ones() {
    let mut stack = LambdaStack::start(Via::Direct, &[]).await;
    let one = json!({"dimensions": {"customerId": "c1"}, "timestamp": T0,
                     "metrics": {"temperature": "14.3", "ph": 6.7}});
    assert_eq!(stack.invoke(one).await.response(), written(1, 2));
    let array = json!([
        {"dimensions": {"customerId": "c2"}, "timestamp": T0 + 1, "metrics": {"temperature": 15}},
        {"timestamp": T0 + 2, "metrics": {"temperature": "1e-9"}}
    ]);
    assert_eq!(stack.invoke(array).await.response(), written(2, 2));

    for bad in [json!("not an event"), json!({})] {
        match stack.invoke(bad.clone()).await {
            Invocation::Error(error) => assert!(
                error["errorMessage"]
                    .as_str()
                    .is_some_and(|m| !m.is_empty()),
                "{bad}: an error that says why: {error}"
            ),
            Invocation::Response(answer) => {
                assert_eq!(answer["written_events"], 0, "{bad}: {answer}");
                assert!(
                    answer["refused"].as_array().is_some_and(|r| !r.is_empty()),
                    "{bad}: a refusal naming the event: {answer}"
                );
            }
        }
    }
    assert!(
        stack.function.running(),
        "a bad event does not end the process"
    );
    let after = json!({"timestamp": T0 + 3, "metrics": {"ph": "7.25"}});
    assert_eq!(stack.invoke(after).await.response(), written(1, 1));

    assert_same_records(
        &stack.stored().await,
        &BTreeMap::from([
            record("temperature", &[("customerId", "c1")], T0, 14.3),
            record("ph", &[("customerId", "c1")], T0, 6.7),
            record("temperature", &[("customerId", "c2")], T0 + 1, 15.0),
            record("temperature", &[], T0 + 2, 1e-9),
            record("ph", &[], T0 + 3, 7.25),
        ]),
    );
}

/// When Timestream throttles past the retries, nothing may be acknowledged as written:
/// a remote write is a 503 with Retry-After (Prometheus retries it; the Go connector's
/// 400 made it drop the data) and an SQS batch reports every message for redelivery.
/// Once Timestream recovers, the retried write and the redelivered batch are stored.
#[tokio::test]
async fn throttling_is_a_503_and_fails_every_sqs_message() {
    let stack = LambdaStack::start(Via::Faults, &[("max_write_retries", "1")]).await;
    stack.proxy().set(|f| f.throttle = 1000);

    let request = fixtures::write_request(10, 3, 1);
    let answer = stack.http(write_event(&request)).await;
    assert_eq!(answer.status, 503, "{}", answer.text());
    assert!(answer.header("retry-after").is_some(), "{answer:?}");

    let first = "8d2d3b6e-4c1a-4f0e-9b7d-2a6c5e4f3d21";
    let second = "9e3e4c7f-5d2b-4a1f-8c8e-3b7d6f5a4e32";
    let a = json!({"dimensions": {"site": "a"}, "timestamp": T0, "metrics": {"t": 1}}).to_string();
    let b = json!({"dimensions": {"site": "b"}, "timestamp": T0, "metrics": {"t": 2}}).to_string();
    let batch = sqs_event(&[(first, a.as_str()), (second, b.as_str())]);
    let answer = stack.invoke(batch.clone()).await.response();
    assert_eq!(
        failed_messages(&answer),
        vec![first.to_string(), second.to_string()],
        "{answer}"
    );
    assert!(
        stack.proxy().calls() >= 2,
        "both the write and the batch reached Timestream"
    );
    assert!(stack.stored().await.is_empty(), "nothing got through");

    stack.proxy().set(|f| f.throttle = 0);
    let answer = stack.invoke(batch).await.response();
    assert_eq!(failed_messages(&answer), Vec::<String>::new(), "{answer}");
    let answer = stack.http(write_event(&request)).await;
    assert_eq!(answer.status, 204, "{}", answer.text());
    let mut expected = records_of(&request);
    expected.extend([
        record("t", &[("site", "a")], T0, 1.0),
        record("t", &[("site", "b")], T0, 2.0),
    ]);
    assert_same_records(&stack.stored().await, &expected);
}

/// The cold start (clients, telemetry) happens once: the one process started serves
/// every invocation, asking for the next event after each answer, and its own metrics,
/// read through the telemetry path like any HTTP route, count across invocations.
#[tokio::test]
async fn one_cold_start_serves_every_invocation_and_telemetry_accumulates() {
    let mut stack = LambdaStack::start(Via::Direct, &[]).await;
    let pid = stack.function.pid();
    assert_eq!(stack.runtime.seen().next_calls, 1, "one process, waiting");

    const WRITES: u32 = 3;
    for i in 0..WRITES {
        let time = T0 + i64::from(i) * 1000;
        let request = proto::WriteRequest {
            timeseries: vec![series(
                &[("__name__", "warm"), ("job", "lambda")],
                &[(time, 1.5)],
            )],
            metadata: vec![],
        };
        let answer = stack.http(write_event(&request)).await;
        assert_eq!(answer.status, 204, "write {i}: {}", answer.text());
    }
    let scrape = http_api_event("GET", "/metrics", &[("Accept", "text/plain")], b"");
    let metrics = stack.http(scrape).await;
    assert_eq!(metrics.status, 200, "{}", metrics.text());
    let text = metrics.text();
    assert_eq!(
        metric_value(
            &text,
            "timestream_connector_write_requests_total{code=\"204\",protocol=\"remote_write\"}"
        ),
        f64::from(WRITES),
        "{text}"
    );
    assert_eq!(
        metric_value(
            &text,
            "timestream_connector_received_samples_total{protocol=\"remote_write\"}"
        ),
        f64::from(WRITES),
        "{text}"
    );

    // WRITES + 1 invocations answered, each followed by a `next`, after the first one:
    // all from the process started above (this harness never starts another one, so a
    // crash would have been an exit, and Lambda's answer to it a second cold start).
    let seen = stack.runtime.wait_next_calls(WRITES + 2).await;
    assert_eq!(seen.next_calls, WRITES + 2);
    assert!(seen.init_error.is_none(), "{seen:?}");
    assert!(
        stack.function.running(),
        "the process is still the one started"
    );
    assert_eq!(stack.function.pid(), pid);
    assert_same_records(
        &stack.stored().await,
        &(0..WRITES)
            .map(|i| record("warm", &[("job", "lambda")], T0 + i64::from(i) * 1000, 1.5))
            .collect(),
    );
}
