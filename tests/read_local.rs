//! Remote read against Timestream Local: what was written comes back, for every kind of
//! matcher, exactly as Prometheus' own storage would select it (the expected answer is
//! computed here with Prometheus' matching rules), in both response types, across query
//! pages, chunks and several queries per request.

mod support;

use regex::Regex;
use support::*;

const T0: i64 = 1_700_000_000_000;
const STEP: i64 = 15_000;
/// Samples per series: more than a query page and more than a chunk hold.
const SAMPLES: i64 = 130;

const EQ: i32 = 0;
const NEQ: i32 = 1;
const RE: i32 = 2;
const NRE: i32 = 3;

fn written() -> Vec<Vec<(&'static str, &'static str)>> {
    vec![
        vec![("__name__", "up"), ("instance", "a:1"), ("job", "api")],
        vec![
            ("__name__", "up"),
            ("instance", "b:2"),
            ("job", "api"),
            ("zone", "eu"),
        ],
        vec![("__name__", "up"), ("instance", "c:3"), ("job", "web'x")],
        vec![("Zone", "Z"), ("__name__", "up"), ("job", "upper")],
        vec![
            ("__name__", "http_requests_total"),
            ("job", "api"),
            ("method", "GET"),
            ("path", "/a.b"),
        ],
        vec![
            ("__name__", "http_requests_total"),
            ("job", "web'x"),
            ("method", "POST"),
            ("path", "/x\ny$"),
        ],
        vec![("__name__", "node_cpu"), ("cpu", "0"), ("mode", "idle")],
        vec![("__name__", "node_cpu"), ("cpu", "0"), ("mode", "user")],
        // Series that share labels and times with `up` and `node_cpu` ones: one
        // multi-measure record with them under `--record-mode=multi`.
        vec![
            ("__name__", "node_load1"),
            ("instance", "a:1"),
            ("job", "api"),
        ],
        vec![
            ("__name__", "node_load5"),
            ("instance", "a:1"),
            ("job", "api"),
        ],
        vec![
            ("__name__", "node_cpu_guest"),
            ("cpu", "0"),
            ("mode", "idle"),
        ],
    ]
}

fn value(series: usize, i: i64) -> f64 {
    (series as f64 + 1.0) * 0.1 + i as f64 * 1.5e-3
}

/// Prometheus' rules: a missing label is "", regexes are anchored and `.` matches "\n".
fn matches(labels: &[(&str, &str)], (kind, name, want): (i32, &str, &str)) -> bool {
    let have = labels
        .iter()
        .find(|(n, _)| *n == name)
        .map_or("", |(_, v)| *v);
    match kind {
        EQ => have == want,
        NEQ => have != want,
        RE | NRE => {
            let re = Regex::new(&format!("^(?s:{want})$")).unwrap();
            re.is_match(have) == (kind == RE)
        }
        _ => unreachable!(),
    }
}

fn expected(start: i64, end: i64, matchers: &[(i32, &str, &str)]) -> Vec<ReadSeries> {
    let mut out: Vec<ReadSeries> = written()
        .iter()
        .enumerate()
        .filter(|(_, labels)| matchers.iter().all(|m| matches(labels, *m)))
        .map(|(s, labels)| {
            let samples = (0..SAMPLES)
                .map(|i| (T0 + i * STEP, value(s, i).to_bits()))
                .filter(|(t, _)| (start..=end).contains(t))
                .collect::<Vec<_>>();
            let labels = labels
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect();
            (labels, samples)
        })
        .filter(|(_, samples)| !samples.is_empty())
        .collect();
    out.sort();
    out
}

async fn stack() -> Stack {
    stack_in(Mode::Single).await
}

/// The record mode the connector writes in.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Mode {
    Single,
    Multi,
}

async fn stack_in(mode: Mode) -> Stack {
    let extra: &[&str] = match mode {
        Mode::Single => &[],
        Mode::Multi => &["--record-mode=multi"],
    };
    let s = Stack::start(Backend::Local, Via::Faults, &["metrics"], extra).await;
    let timeseries = written()
        .iter()
        .enumerate()
        .map(|(s, labels)| {
            let samples: Vec<(i64, f64)> =
                (0..SAMPLES).map(|i| (T0 + i * STEP, value(s, i))).collect();
            series(labels, &samples)
        })
        .collect();
    let request = timestream_prometheus_connector::remote::proto::WriteRequest {
        timeseries,
        metadata: vec![],
    };
    let (status, body) = remote_write(&s.connector.url, &request).await;
    assert_eq!(status, 204, "{body}");
    let records = s.timestream.records(DB, "metrics").await;
    let multi = records.iter().filter(|r| is_multi_measure(r)).count() as i64;
    let rows = records.len() as i64;
    // Multi: `up`, `node_load1` and `node_load5` of a:1 share a record at each time, and
    // so do the two series of cpu 0 in idle mode.
    let (want_multi, want_rows) = match mode {
        Mode::Single => (0, written().len() as i64 * SAMPLES),
        Mode::Multi => (2 * SAMPLES, (written().len() as i64 - 3) * SAMPLES),
    };
    assert_eq!((multi, rows), (want_multi, want_rows));
    s
}

/// A matcher: (type, label name, value), as in the protocol.
type M = (i32, &'static str, &'static str);

fn cases() -> Vec<(i64, i64, Vec<M>)> {
    let all = (T0, T0 + SAMPLES * STEP);
    let mut cases: Vec<Vec<M>> = vec![
        vec![(EQ, "__name__", "up")],
        vec![(EQ, "__name__", "up"), (EQ, "zone", "")],
        vec![(EQ, "__name__", "up"), (NEQ, "zone", "eu")],
        vec![(EQ, "__name__", "up"), (NEQ, "zone", "")],
        vec![(RE, "__name__", "up|http_.*"), (RE, "job", "api")],
        vec![(RE, "job", "ap"), (RE, "__name__", ".+")],
        vec![(NRE, "job", "api|web.*"), (RE, "__name__", ".+")],
        vec![(EQ, "__name__", "up"), (NRE, "zone", "e.")],
        vec![(EQ, "__name__", "up"), (RE, "zone", "eu|")],
        vec![(EQ, "job", "web'x")],
        vec![(RE, "path", "/a\\.b")],
        vec![(RE, "path", "/x.y\\$")],
        vec![(RE, "path", "/x\ny[$]")],
        vec![(RE, "job", "(?i)API"), (EQ, "__name__", "up")],
        vec![(RE, "mode", "[[:alpha:]]+"), (EQ, "__name__", "node_cpu")],
        vec![(EQ, "nolabel", "x")],
        vec![(EQ, "__name__", "up"), (EQ, "nolabel", "")],
        vec![(EQ, "__name__", "up"), (NEQ, "nolabel", "x")],
        vec![(EQ, "__name__", "up"), (NRE, "nolabel", ".+")],
        vec![(EQ, "__name__", "up"), (RE, "nolabel", ".+")],
        vec![(EQ, "__name__", "nosuchmetric")],
        vec![(RE, "__name__", "node_.*")],
        vec![(NEQ, "__name__", "up"), (EQ, "job", "api")],
        vec![(NRE, "__name__", "up|node_load1"), (EQ, "instance", "a:1")],
        vec![(EQ, "__name__", "node_load5"), (EQ, "nolabel", "x")],
        vec![(EQ, "__name__", "node_load5"), (NEQ, "instance", "a:1")],
        vec![(RE, "__name__", "node_load.|up"), (RE, "instance", "a:.*")],
    ]
    .into_iter()
    .collect();
    let mut out: Vec<_> = cases.drain(..).map(|m| (all.0, all.1, m)).collect();
    // Millisecond-exact, inclusive bounds.
    out.push((T0 + STEP, T0 + 3 * STEP, vec![(EQ, "__name__", "node_cpu")]));
    out.push((
        T0 + STEP + 1,
        T0 + 3 * STEP - 1,
        vec![(EQ, "__name__", "node_cpu")],
    ));
    out
}

async fn every_matcher_kind_reads_back_what_prometheus_would_select(streamed: bool, mode: Mode) {
    let s = stack_in(mode).await;
    let cases = cases();
    let queries = cases
        .iter()
        .map(|(a, b, m)| read_query(*a, *b, m))
        .collect();
    let (status, body, results) = remote_read(&s.connector.url, queries, streamed).await;
    assert_eq!(status, 200, "{body}");
    for ((start, end, matchers), got) in cases.iter().zip(&results) {
        let want = expected(*start, *end, matchers);
        let names = |r: &[ReadSeries]| {
            r.iter()
                .map(|(l, s)| (l.clone(), s.len()))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            names(got),
            names(&want),
            "series of {matchers:?} in [{start}, {end}]"
        );
        assert!(*got == want, "samples of {matchers:?}");
    }
    assert!(
        s.connector
            .metric("timestream_connector_query_pages_total")
            .await
            > cases.len() as f64
    );
}

#[tokio::test]
async fn samples_responses_match_prometheus_selection() {
    every_matcher_kind_reads_back_what_prometheus_would_select(false, Mode::Single).await;
}

#[tokio::test]
async fn streamed_responses_match_prometheus_selection() {
    every_matcher_kind_reads_back_what_prometheus_would_select(true, Mode::Single).await;
}

#[tokio::test]
async fn multi_measure_records_read_back_as_their_series() {
    every_matcher_kind_reads_back_what_prometheus_would_select(false, Mode::Multi).await;
}

#[tokio::test]
async fn multi_measure_records_stream_back_as_their_series() {
    every_matcher_kind_reads_back_what_prometheus_would_select(true, Mode::Multi).await;
}

#[tokio::test]
async fn bad_queries_are_400s_and_the_daemon_keeps_serving() {
    let s = stack().await;
    let url = &s.connector.url;
    let (status, body, _) = remote_read(
        url,
        vec![read_query(T0, T0 + 1, &[(RE, "job", "(")])],
        false,
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("invalid regular expression"), "{body}");
    let (status, _, _) =
        remote_read(url, vec![read_query(T0 + 1, T0, &[(EQ, "job", "a")])], true).await;
    assert_eq!(status, 400);
    let gzip = reqwest::Client::new()
        .post(format!("{url}/read"))
        .header("Content-Encoding", "gzip")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(gzip.status(), 415);
    let garbage = reqwest::Client::new()
        .post(format!("{url}/read"))
        .body("nonsense")
        .send()
        .await
        .unwrap();
    assert_eq!(garbage.status(), 400);
    let errors = |kind: &'static str| {
        let connector = &s.connector;
        async move {
            connector
                .metric(&format!(
                    "timestream_connector_errors_total{{stage=\"read\",kind=\"{kind}\"}}"
                ))
                .await
        }
    };
    assert_eq!(errors("bad_regex").await, 1.0);
    assert_eq!(errors("bad_range").await, 1.0);
    assert_eq!(errors("malformed").await, 1.0);
    let (status, _, results) = remote_read(
        url,
        vec![read_query(T0, T0 + STEP, &[(EQ, "__name__", "up")])],
        false,
    )
    .await;
    assert_eq!((status, results[0].len()), (200, 4));
}

#[tokio::test]
async fn throttling_is_retried_and_persistent_failure_is_a_503() {
    let s = stack().await;
    let url = &s.connector.url;
    let query = || vec![read_query(T0, T0 + STEP, &[(EQ, "__name__", "up")])];
    s.proxy().set(|f| f.query_throttle = 2);
    let (status, body, results) = remote_read(url, query(), false).await;
    assert_eq!((status, results[0].len()), (200, 4), "{body}");

    s.proxy().set(|f| f.query_fail = 100);
    let response = reqwest::Client::new()
        .post(format!("{url}/read"))
        .header("Content-Encoding", "snappy")
        .body(timestream_prometheus_connector::remote::snappy::compress(
            &prost::Message::encode_to_vec(
                &timestream_prometheus_connector::remote::proto::ReadRequest {
                    queries: query(),
                    accepted_response_types: vec![],
                },
            ),
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    assert!(response.headers().contains_key("retry-after"));
    assert_eq!(
        s.connector
            .metric("timestream_connector_read_requests_total{code=\"503\"}")
            .await,
        1.0
    );
    s.proxy().set(|f| f.query_fail = 0);
    let (status, _, _) = remote_read(url, query(), true).await;
    assert_eq!(status, 200, "and then it serves again");
}

#[tokio::test]
async fn basic_auth_passes_the_clients_credentials_to_timestream_queries() {
    let s = stack().await;
    let body =
        timestream_prometheus_connector::remote::snappy::compress(&prost::Message::encode_to_vec(
            &timestream_prometheus_connector::remote::proto::ReadRequest {
                queries: vec![read_query(T0, T0 + STEP, &[(EQ, "__name__", "up")])],
                accepted_response_types: vec![],
            },
        ));
    let response = reqwest::Client::new()
        .post(format!("{}/read", s.connector.url))
        .basic_auth("AKIDREADER", Some("secret"))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let keys = s.proxy().faults.lock().unwrap().query_access_keys.clone();
    assert!(
        !keys.is_empty() && keys.iter().all(|k| k == "AKIDREADER"),
        "{keys:?}"
    );
}

/// The connector in `--record-mode=multi` on Timestream Local, table `metrics`.
async fn multi_mode_stack() -> Stack {
    Stack::start(
        Backend::Local,
        Via::Direct,
        &["metrics"],
        &["--record-mode=multi"],
    )
    .await
}

/// Each series of `{job="node"}` at T0, by its metric name, with its samples (values as
/// bits).
async fn metrics_of_job_node(url: &str) -> Vec<(String, Vec<(i64, u64)>)> {
    let (status, body, results) =
        remote_read(url, vec![read_query(T0, T0, &[(EQ, "job", "node")])], false).await;
    assert_eq!(status, 200, "{body}");
    results[0]
        .iter()
        .map(|(labels, samples)| (labels[0].1.clone(), samples.clone()))
        .collect()
}

/// Prometheus sends a scrape in several requests, and after a restart may send a sample
/// again in other company: each request's multi-measure record of a target and time
/// is a record of its own, one that clashes with a stored record is written as
/// single-measure records, and a sample stored twice reads back once.
#[tokio::test]
async fn a_scrape_split_or_resent_across_requests_reads_back_whole_and_once() {
    let s = multi_mode_stack().await;
    let target = |name| [("__name__", name), ("instance", "h:1"), ("job", "node")];
    let request =
        |names: &[&'static str]| timestream_prometheus_connector::remote::proto::WriteRequest {
            timeseries: names
                .iter()
                .map(|name| series(&target(name), &[(T0, name.len() as f64)]))
                .collect(),
            metadata: vec![],
        };
    for names in [
        &["load1", "load15"][..],
        &["memory", "up"],
        // `load15` again, beside a metric of the second request.
        &["load15", "up"],
        // An identical resend.
        &["load1", "load15"],
        // `load1` again with another metric: a record of the first request's target,
        // time and first metric with other measures, which Timestream refuses.
        &["load1", "load5"],
    ] {
        let (status, body) = remote_write(&s.connector.url, &request(names)).await;
        assert_eq!(status, 204, "{names:?}: {body}");
    }
    // The last request's record clashed: its two samples went as single records.
    assert_eq!(
        s.connector
            .metric("timestream_connector_multi_measure_conflicts_total")
            .await,
        2.0
    );
    assert_eq!(
        s.connector
            .metric("timestream_connector_rejected_records_total")
            .await,
        0.0,
        "a clash written again as single records is not rejected for good"
    );
    let got = metrics_of_job_node(&s.connector.url).await;
    let want: Vec<(String, Vec<(i64, u64)>)> = ["load1", "load15", "load5", "memory", "up"]
        .iter()
        .map(|name| (name.to_string(), vec![(T0, (name.len() as f64).to_bits())]))
        .collect();
    assert_eq!(got, want);
}

/// In multi mode as in single mode a sample keeps the first value written. The same
/// series twice at one time in a request stays single-measure records, and Timestream
/// rejects the other value. A changed value whose multi-measure record clashes with the
/// stored one is written as a single-measure record beside it, and reads give the
/// stored, first, value.
#[tokio::test]
async fn a_changed_value_reads_back_as_the_first_one_written() {
    let s = multi_mode_stack().await;
    let at = |name: &'static str, value: f64| {
        series(
            &[("__name__", name), ("instance", "h:1"), ("job", "node")],
            &[(T0, value)],
        )
    };
    let request = |timeseries| timestream_prometheus_connector::remote::proto::WriteRequest {
        timeseries,
        metadata: vec![],
    };
    let write = |timeseries| {
        let body = request(timeseries);
        let url = s.connector.url.clone();
        async move { remote_write(&url, &body).await }
    };
    // x and y share a multi-measure record.
    assert_eq!(write(vec![at("x", 1.0), at("y", 1.0)]).await.0, 204);
    // x changed: the record clashes, and its samples go as single-measure records.
    assert_eq!(write(vec![at("x", 5.0), at("y", 1.0)]).await.0, 204);
    // z twice at one time, beside w.
    let (status, body) = write(vec![at("z", 1.0), at("z", 2.0), at("w", 1.0)]).await;
    assert_eq!(status, 400, "the second value of z is rejected: {body}");
    assert!(body.contains("z{"), "{body}");

    let got = metrics_of_job_node(&s.connector.url).await;
    let want: Vec<(String, Vec<(i64, u64)>)> = ["w", "x", "y", "z"]
        .iter()
        .map(|name| (name.to_string(), vec![(T0, 1.0f64.to_bits())]))
        .collect();
    assert_eq!(got, want);
}
