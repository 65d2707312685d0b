//! Hostile input over HTTP: what a broken or malicious client may send to each route.
//!
//! Each input gets a 4xx whose body says what is wrong, or a 2xx where the input is valid
//! but cannot be stored (then `timestream_connector_ignored_samples_total` counts it):
//! never a 5xx, a hang or a dropped connection. After each one a small valid remote
//! write must be stored, which shows the daemon still serves.
//!
//! One connector on Timestream Local; a table of cases, run in order. Each case prints
//! `hostile-input | case | status | seconds | message` (docs/reliability.md is filled
//! from these lines). Every case runs even when an earlier one failed; the test fails at
//! the end, listing each case that did not behave as expected.

#[path = "../support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use prost::Message;
use support::*;
use timestream_prometheus_connector::http::MAX_BODY_BYTES;
use timestream_prometheus_connector::push::MAX_DECODED_BYTES as MAX_PUSH_DECODED_BYTES;
use timestream_prometheus_connector::remote::{proto, snappy};

mod bodies;
mod cases;
mod harness;
mod more_cases;

use bodies::*;
use cases::cases;
use harness::*;

/// When the samples of the cases are (the tables take writes of any age).
const T0: i64 = 1_700_000_000_000;
/// The range the read cases query.
const START: i64 = T0 - 1_000;
const END: i64 = T0 + 3_600_000;

/// How long a case may take before it counts as a hang.
const TIMEOUT: Duration = Duration::from_secs(60);
/// For regexes shaped for catastrophic backtracking.
const REGEX_TIMEOUT: Duration = Duration::from_secs(30);
/// For the case that makes the connector send a million records: past the connector's
/// own request deadline (`--web.request-timeout`, 1m), so that its answer is seen.
const LONG_TIMEOUT: Duration = Duration::from_secs(120);

/// The longest refusal that is still a clear message: past it, the answer echoes the
/// input (a 10 MB label value, a 100 KB regex) instead of saying what is wrong with it.
const MAX_MESSAGE_BYTES: usize = 64 << 10;

/// The metric of the valid write after each case.
const PROBE: &str = "hostile_probe";

/// Matcher types of remote read.
const EQ: i32 = 0;
const NEQ: i32 = 1;
const RE: i32 = 2;

#[tokio::test]
async fn hostile_inputs_are_refused_or_counted_and_the_daemon_keeps_serving() {
    let stack = Stack::start(Backend::Local, Via::Direct, &["metrics"], &[]).await;
    let url = stack.connector.url.clone();
    // No idle connections kept: a connection the connector closed after refusing a body
    // must not be reused by the next request and mistaken for a dropped one.
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let timestream = query_client(&stack.timestream.endpoint);
    setup(&url).await;

    let cases = cases();
    let total = cases.len();
    let mut failures = Vec::new();
    for (index, case) in cases.into_iter().enumerate() {
        let name = case.name.clone();
        if let Err(failure) = run(&client, &url, &timestream, case).await {
            failures.push(format!("{name}: {failure}"));
        }
        if let Err(failure) = probe(&client, &url, &timestream, index).await {
            eprintln!("hostile-input | {name} | then a valid write FAILED: {failure}");
            failures.push(format!("{name}: then {failure}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {total} hostile inputs were not handled as expected:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// What a case must get back.
enum Expect {
    /// A 4xx (this one, if given) whose message has one of these words.
    Refused {
        status: Option<u16>,
        words: &'static [&'static str],
    },
    /// A 2xx: the input is valid, and what it holds (if anything) is stored.
    Stored,
    /// A 2xx, and `samples` more samples counted as ignored for `reason`.
    Ignored { reason: &'static str, samples: u64 },
    /// A 200 SAMPLES answer holding this many series in all.
    Read { series: usize },
    /// A 2xx or a 4xx (with a message): the input may be served or refused, not fail.
    NotServerError,
}

fn refused(words: &'static [&'static str]) -> Expect {
    Expect::Refused {
        status: None,
        words,
    }
}

fn refused_with(status: u16, words: &'static [&'static str]) -> Expect {
    Expect::Refused {
        status: Some(status),
        words,
    }
}

fn ignored(reason: &'static str, samples: u64) -> Expect {
    Expect::Ignored { reason, samples }
}

type Headers = Vec<(&'static str, String)>;

struct Case {
    name: String,
    route: String,
    headers: Headers,
    /// Built when the case runs, so that large bodies are not all held at once.
    body: Box<dyn FnOnce() -> Vec<u8>>,
    expect: Expect,
    timeout: Duration,
    /// A metric the case's body writes, checked in Timestream after a 2xx.
    stores: Option<&'static str>,
}

impl Case {
    fn new(
        name: &str,
        route: &str,
        headers: Headers,
        body: impl FnOnce() -> Vec<u8> + 'static,
        expect: Expect,
    ) -> Self {
        Case {
            name: name.to_owned(),
            route: route.to_owned(),
            headers,
            body: Box::new(body),
            expect,
            timeout: TIMEOUT,
            stores: None,
        }
    }

    fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    fn stores(mut self, measure: &'static str) -> Self {
        self.stores = Some(measure);
        self
    }
}

fn remote_write_headers() -> Headers {
    vec![
        ("Content-Encoding", "snappy".into()),
        ("Content-Type", "application/x-protobuf".into()),
        ("X-Prometheus-Remote-Write-Version", "0.1.0".into()),
    ]
}

fn remote_read_headers() -> Headers {
    vec![
        ("Content-Encoding", "snappy".into()),
        ("Content-Type", "application/x-protobuf".into()),
        ("X-Prometheus-Remote-Read-Version", "0.1.0".into()),
    ]
}

fn text_headers() -> Headers {
    vec![("Content-Type", "text/plain; version=0.0.4".into())]
}

fn delimited_protobuf_headers() -> Headers {
    vec![(
        "Content-Type",
        "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited"
            .into(),
    )]
}

fn json_headers() -> Headers {
    vec![("Content-Type", "application/json".into())]
}

/// `headers` with `name` set to `value` (replacing it if present).
fn with(mut headers: Headers, name: &'static str, value: &str) -> Headers {
    headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    headers.push((name, value.to_owned()));
    headers
}

/// A body sent to `/write` as it is (headers of remote write 1.0).
fn write_case(name: &str, body: impl FnOnce() -> Vec<u8> + 'static, expect: Expect) -> Case {
    Case::new(name, "/write", remote_write_headers(), body, expect)
}

/// Hand-made protobuf bytes, snappy-compressed, to `/write`.
fn write_protobuf(name: &str, protobuf: Vec<u8>, expect: Expect) -> Case {
    write_case(name, move || snappy::compress(&protobuf), expect)
}

/// A WriteRequest of `series`, encoded as Prometheus encodes it, to `/write`.
fn write_series(name: &str, series: Vec<proto::TimeSeries>, expect: Expect) -> Case {
    write_case(
        name,
        move || {
            let request = proto::WriteRequest {
                timeseries: series,
                metadata: vec![],
            };
            snappy::compress(&request.encode_to_vec())
        },
        expect,
    )
}

/// A ReadRequest of `queries` asking for SAMPLES, to `/read`.
fn read_case(
    name: &str,
    queries: impl FnOnce() -> Vec<proto::Query> + 'static,
    expect: Expect,
) -> Case {
    Case::new(
        name,
        "/read",
        remote_read_headers(),
        move || read_request_body(queries(), false),
        expect,
    )
}

/// A body sent to `/read` as it is.
fn read_raw(name: &str, body: impl FnOnce() -> Vec<u8> + 'static, expect: Expect) -> Case {
    Case::new(name, "/read", remote_read_headers(), body, expect)
}

/// A query over the read cases' range.
fn selector(matchers: &[(i32, &str, &str)]) -> proto::Query {
    read_query(START, END, matchers)
}
