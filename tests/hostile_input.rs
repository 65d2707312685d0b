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

mod support;

use std::time::{Duration, Instant};

use prost::Message;
use support::*;
use timestream_prometheus_connector::http::MAX_BODY_BYTES;
use timestream_prometheus_connector::push::MAX_DECODED_BYTES as MAX_PUSH_DECODED_BYTES;
use timestream_prometheus_connector::remote::{proto, snappy};

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

fn cases() -> Vec<Case> {
    let stale = f64::from_bits(0x7ff0_0000_0000_0002);
    let probe_push = "/metrics/job/hostile";
    vec![
        // Remote write: the body is not a snappy-compressed WriteRequest.
        write_case("write: empty body", Vec::new, refused(&["snappy"])),
        write_case(
            "write: not snappy (GARBAGE + 4 KiB of noise)",
            not_snappy,
            refused(&["snappy"]),
        ),
        write_case(
            "write: snappy header claims 2^32 bytes",
            || snappy_claiming(1 << 32, b"\x0cabcd"),
            refused(&["snappy"]),
        ),
        write_case(
            "write: snappy header claims 2 GiB",
            || snappy_claiming(1 << 31, b"\x0cabcd"),
            refused(&["snappy"]),
        ),
        write_case(
            "write: snappy header claims 64 MiB + 1 (one past the limit)",
            || snappy_claiming(snappy::MAX_DECODED_BYTES as u64 + 1, b"\x0cabcd"),
            refused(&["snappy"]),
        ),
        write_case(
            "write: snappy header claims 64 MiB (the limit) over 6 bytes",
            || snappy_claiming(snappy::MAX_DECODED_BYTES as u64, b"\x0cabcd"),
            refused(&["snappy"]),
        ),
        write_case(
            "write: snappy header longer than 5 bytes",
            || snappy_claiming(1 << 35, b"\x0cabcd"),
            refused(&["snappy"]),
        ),
        write_protobuf(
            "write: valid snappy of text, not protobuf",
            b"this is text, not a protobuf message".to_vec(),
            refused(&["protobuf"]),
        ),
        write_protobuf(
            "write: timeseries sent as a varint (wrong wire type)",
            pb().uint(1, 1).bytes(),
            refused(&["wire type"]),
        ),
        write_protobuf(
            "write: sample value sent as a varint (wrong wire type)",
            pb_write(&[pb()
                .len_field(1, &pb_label(b"__name__", b"hostile_wire_type"))
                .len_field(2, &pb().uint(1, 1).bytes())
                .bytes()]),
            refused(&["wire type"]),
        ),
        write_protobuf(
            "write: label sent as a group (wire type 3)",
            pb_write(&[pb().key(1, 3).bytes()]),
            refused(&["wire type"]),
        ),
        write_protobuf(
            "write: unknown field with wire type 7",
            pb().key(9, 7).bytes(),
            refused(&["wire type"]),
        ),
        write_protobuf(
            "write: truncated varint",
            vec![0x0a, 0x80],
            refused(&["truncated"]),
        ),
        write_protobuf(
            "write: varint longer than 10 bytes",
            pb().raw(&[0x0a]).raw(&[0xff; 10]).raw(&[0x01]).bytes(),
            refused(&["varint"]),
        ),
        write_protobuf(
            "write: length past the end of the body",
            vec![0x0a, 0x7f, 0x0a],
            refused(&["truncated"]),
        ),
        write_protobuf(
            "write: invalid UTF-8 in a label name",
            one_raw_series(b"\xff\xfe", b"v"),
            refused(&["UTF-8"]),
        ),
        write_protobuf(
            "write: invalid UTF-8 in a label value",
            one_raw_series(b"job", b"\xc3\x28"),
            refused(&["UTF-8"]),
        ),
        write_protobuf(
            "write: overlong UTF-8 (C0 80) in a label value",
            one_raw_series(b"job", b"a\xc0\x80"),
            refused(&["UTF-8"]),
        ),
        write_protobuf(
            "write: UTF-16 surrogate (ED A0 80) in a label name",
            one_raw_series(b"\xed\xa0\x80", b"v"),
            refused(&["UTF-8"]),
        ),
        Case::new(
            "write: Content-Encoding gzip",
            "/write",
            with(remote_write_headers(), "Content-Encoding", "gzip"),
            valid_write,
            refused_with(415, &["Content-Encoding"]),
        ),
        Case::new(
            "write: remote write 2.0 content type",
            "/write",
            with(
                remote_write_headers(),
                "Content-Type",
                "application/x-protobuf;proto=io.prometheus.write.v2.Request",
            ),
            valid_write,
            refused_with(415, &["Content-Type"]),
        ),
        Case::new(
            "write: Content-Type text/plain",
            "/write",
            with(remote_write_headers(), "Content-Type", "text/plain"),
            valid_write,
            refused_with(415, &["Content-Type"]),
        ),
        write_case(
            "write: body 1 byte past the 32 MiB limit",
            || vec![0; MAX_BODY_BYTES + 1],
            refused_with(413, &["length limit", "more than the"]),
        ),
        write_case(
            "write: 64 MiB body (twice the limit)",
            || vec![0; 2 * MAX_BODY_BYTES],
            refused_with(413, &["length limit", "more than the"]),
        ),
        // Remote write: valid requests that Timestream cannot store (or that are not
        // valid Prometheus data): skipped and counted, or refused naming the series.
        write_series(
            "write: a series with 5,000 labels",
            vec![five_thousand_labels()],
            ignored("too_many_labels", 1),
        ),
        write_series(
            "write: a 1 MiB label value",
            vec![series(
                &[
                    ("__name__", "hostile_big_value"),
                    ("big", &"v".repeat(1 << 20)),
                    ("job", "hostile"),
                ],
                &[(T0, 1.0)],
            )],
            ignored("record_too_large", 1),
        ),
        write_series(
            "write: an empty label name",
            vec![series(
                &[
                    ("", "x"),
                    ("__name__", "hostile_empty_label_name"),
                    ("job", "hostile"),
                ],
                &[(T0, 1.0)],
            )],
            // Valid protobuf, unstorable: skipped and counted, as the other label
            // problems are, with the rest of the request written.
            ignored("empty_label_name", 1),
        ),
        write_series(
            "write: the same label name twice",
            vec![series(
                &[
                    ("__name__", "hostile_duplicate_label"),
                    ("a", "1"),
                    ("a", "2"),
                    ("job", "hostile"),
                ],
                &[(T0, 1.0)],
            )],
            ignored("duplicate_label_name", 1),
        ),
        write_series(
            "write: __name__ twice",
            vec![series(
                &[
                    ("__name__", "hostile_name_a"),
                    ("__name__", "hostile_name_b"),
                    ("job", "hostile"),
                ],
                &[(T0, 1.0)],
            )],
            ignored("duplicate_label_name", 1),
        ),
        write_series(
            "write: no __name__",
            vec![series(&[("job", "hostile_no_name")], &[(T0, 1.0)])],
            ignored("missing_metric_name", 1),
        ),
        write_series(
            "write: a 257-byte metric name",
            vec![series(
                &[
                    ("__name__", &format!("hostile_{}", "m".repeat(249))),
                    ("job", "hostile"),
                ],
                &[(T0, 1.0)],
            )],
            ignored("long_metric_name", 1),
        ),
        write_series(
            "write: a 61-byte label name",
            vec![series(
                &[("__name__", "hostile_long_label"), (&"l".repeat(61), "v")],
                &[(T0, 1.0)],
            )],
            ignored("long_label_name", 1),
        ),
        write_series(
            "write: a label named measure_value::double",
            vec![series(
                &[
                    ("__name__", "hostile_reserved_label"),
                    ("measure_value::double", "1"),
                ],
                &[(T0, 1.0)],
            )],
            ignored("reserved_label_name", 1),
        ),
        write_series(
            "write: NaN, +Inf and -Inf samples",
            vec![series(
                &[("__name__", "hostile_non_finite"), ("job", "hostile")],
                &[
                    (T0, f64::NAN),
                    (T0 + 1, f64::INFINITY),
                    (T0 + 2, f64::NEG_INFINITY),
                ],
            )],
            ignored("non_finite_value", 3),
        ),
        write_series(
            "write: a staleness marker",
            vec![series(
                &[("__name__", "hostile_stale"), ("job", "hostile")],
                &[(T0, stale)],
            )],
            ignored("stale_marker", 1),
        ),
        write_protobuf(
            "write: a native histogram sample",
            pb_write(&[pb()
                .len_field(1, &pb_label(b"__name__", b"hostile_histogram"))
                .len_field(4, &[])
                .bytes()]),
            ignored("native_histogram", 1),
        ),
        write_case(
            "write: 200,000 empty series, then a real one",
            || {
                let mut body = [0x0a, 0x00].repeat(200_000);
                let real = proto::WriteRequest {
                    timeseries: vec![series(
                        &[
                            ("__name__", "hostile_after_empty_series"),
                            ("job", "hostile"),
                        ],
                        &[(T0, 1.0)],
                    )],
                    metadata: vec![],
                };
                body.extend(real.encode_to_vec());
                snappy::compress(&body)
            },
            Expect::Stored,
        )
        .stores("hostile_after_empty_series"),
        write_series(
            "write: SQL in a label value",
            vec![series(
                &[
                    ("__name__", "hostile_sql_values"),
                    ("job", "'; DROP TABLE metrics; --"),
                ],
                &[(T0, 1.0)],
            )],
            Expect::Stored,
        )
        .stores("hostile_sql_values"),
        write_series(
            "write: a sample at i64::MAX milliseconds",
            vec![series(
                &[("__name__", "hostile_end_of_time"), ("job", "hostile")],
                &[(i64::MAX, 1.0)],
            )],
            refused(&["Timestream"]),
        ),
        // Remote read: bodies that are not a ReadRequest.
        read_raw("read: empty body", Vec::new, refused(&["snappy"])),
        read_raw(
            "read: not snappy (GARBAGE + 4 KiB of noise)",
            not_snappy,
            refused(&["snappy"]),
        ),
        read_raw(
            "read: snappy header claims 2^32 bytes",
            || snappy_claiming(1 << 32, b"\x0cabcd"),
            refused(&["snappy"]),
        ),
        read_raw(
            "read: valid snappy of text, not protobuf",
            || snappy::compress(b"this is text, not a protobuf message"),
            refused(&["protobuf"]),
        ),
        read_raw(
            "read: invalid UTF-8 in a matcher value",
            read_with_invalid_utf8,
            refused(&["protobuf"]),
        ),
        Case::new(
            "read: Content-Encoding zstd",
            "/read",
            with(remote_read_headers(), "Content-Encoding", "zstd"),
            || read_request_body(vec![selector(&[(EQ, "__name__", "hostile_target")])], false),
            refused_with(415, &["Content-Encoding"]),
        ),
        // Remote read: requests that are valid protobuf but hostile.
        read_case(
            "read: 5,000 queries in one request",
            || {
                (0..5_000)
                    .map(|_| selector(&[(EQ, "__name__", "hostile_target")]))
                    .collect()
            },
            refused(&["queries"]),
        ),
        read_case("read: no queries", Vec::new, Expect::Read { series: 0 }),
        read_case(
            "read: a query without matchers",
            || vec![selector(&[])],
            Expect::Read { series: 0 },
        ),
        read_case(
            "read: unknown matcher type 99",
            || vec![selector(&[(99, "__name__", "hostile_target")])],
            refused(&["matcher"]),
        ),
        read_case(
            "read: start after end",
            || {
                vec![read_query(
                    END,
                    START,
                    &[(EQ, "__name__", "hostile_target")],
                )]
            },
            refused(&["start time"]),
        ),
        read_case(
            "read: the whole i64 time range",
            || {
                vec![read_query(
                    i64::MIN,
                    i64::MAX,
                    &[(EQ, "__name__", "hostile_target")],
                )]
            },
            Expect::NotServerError,
        ),
        read_case(
            "read: SQL as the metric name",
            || vec![selector(&[(EQ, "__name__", "'; DROP TABLE metrics; --")])],
            Expect::Read { series: 0 },
        ),
        read_case(
            "read: SQL in a label value",
            || {
                vec![selector(&[
                    (EQ, "__name__", "hostile_target"),
                    (EQ, "job", "x' OR '1'='1"),
                ])]
            },
            Expect::Read { series: 0 },
        ),
        read_case(
            "read: SQL in a regex",
            || {
                vec![selector(&[(
                    RE,
                    "__name__",
                    "hostile_target|'; DROP TABLE metrics; --",
                )])]
            },
            Expect::Read { series: 1 },
        ),
        read_case(
            "read: label name measure_value::double = \"\"",
            || {
                vec![selector(&[
                    (EQ, "__name__", "hostile_target"),
                    (EQ, "measure_value::double", ""),
                ])]
            },
            Expect::Read { series: 1 },
        ),
        read_case(
            "read: label name measure_value::double = \"1\"",
            || {
                vec![selector(&[
                    (EQ, "__name__", "hostile_target"),
                    (EQ, "measure_value::double", "1"),
                ])]
            },
            Expect::Read { series: 0 },
        ),
        read_case(
            "read: label name x\" OR 1=1 -- (absent), != \"y\"",
            || {
                vec![selector(&[
                    (EQ, "__name__", "hostile_target"),
                    (NEQ, "x\" OR 1=1 --", "y"),
                ])]
            },
            Expect::Read { series: 1 },
        ),
        read_case(
            "read: a regex 100 KB long",
            || vec![selector(&[(RE, "__name__", &long_regex())])],
            Expect::NotServerError,
        ),
        read_case(
            "read: regex (a+)+$ on 40 a's and a !",
            || vec![selector(&[(RE, "victim", "(a+)+$")])],
            Expect::NotServerError,
        )
        .timeout(REGEX_TIMEOUT),
        read_case(
            "read: regex (a|aa)*b on 40 a's and a !",
            || vec![selector(&[(RE, "victim", "(a|aa)*b")])],
            Expect::NotServerError,
        )
        .timeout(REGEX_TIMEOUT),
        read_case(
            "read: a regex whose compiled size explodes",
            || vec![selector(&[(RE, "__name__", "(?:(?:x{1000}){1000}){1000}")])],
            refused(&["regular expression"]),
        ),
        read_case(
            "read: a regex nested 1,000 deep",
            || {
                let nested = format!("{}hostile_target{}", "(".repeat(1_000), ")".repeat(1_000));
                vec![selector(&[(RE, "__name__", &nested)])]
            },
            refused(&["regular expression"]),
        ),
        read_case(
            "read: an invalid regex",
            || vec![selector(&[(RE, "__name__", "(")])],
            refused(&["regular expression"]),
        ),
        read_case(
            "read: a (?m) regex",
            || vec![selector(&[(RE, "__name__", "(?m)^hostile_target$")])],
            refused(&["multi-line"]),
        ),
        // A label name that needs quoting in SQL: written, then read by it. Last of the
        // reads, as every later SELECT names its column.
        write_series(
            "write: a label named a\"b",
            vec![series(
                &[
                    ("__name__", "hostile_sql_names"),
                    ("a\"b", "q\"'x"),
                    ("job", "hostile"),
                ],
                &[(T0, 1.0)],
            )],
            Expect::Stored,
        )
        .stores("hostile_sql_names"),
        read_case(
            "read: label name a\"b = \"q\\\"'x\"",
            || {
                vec![selector(&[
                    (EQ, "__name__", "hostile_sql_names"),
                    (EQ, "a\"b", "q\"'x"),
                ])]
            },
            Expect::Read { series: 1 },
        ),
        read_case(
            "read: label name a\"b =~ \"q.*\"",
            || {
                vec![selector(&[
                    (EQ, "__name__", "hostile_sql_names"),
                    (RE, "a\"b", "q.*"),
                ])]
            },
            Expect::Read { series: 1 },
        ),
        // Pushgateway pushes.
        Case::new(
            "push: empty body",
            probe_push,
            text_headers(),
            Vec::new,
            Expect::Stored,
        ),
        Case::new(
            "push: a 10 MB label value",
            probe_push,
            text_headers(),
            || format!("hostile_push_big{{big=\"{}\"}} 1\n", "v".repeat(10_000_000)).into_bytes(),
            ignored("record_too_large", 1),
        ),
        Case::new(
            "push: a 10 MB label value cut by a newline",
            probe_push,
            text_headers(),
            || {
                format!(
                    "hostile_push_newline{{big=\"{}\n\"}} 1\n",
                    "v".repeat(10_000_000)
                )
                .into_bytes()
            },
            refused(&["new-line"]),
        ),
        Case::new(
            "push: invalid UTF-8 in a label value",
            probe_push,
            text_headers(),
            || b"hostile_push_utf8{a=\"\xff\"} 1\n".to_vec(),
            refused(&["UTF-8"]),
        ),
        Case::new(
            "push: not the text format",
            probe_push,
            text_headers(),
            || b"\x01\x02 garbage {{{\n".to_vec(),
            refused(&["text format"]),
        ),
        Case::new(
            "push: delimited protobuf announcing 2^62 bytes",
            probe_push,
            delimited_protobuf_headers(),
            || pb().varint(1 << 62).raw(b"\x0a\x01x").bytes(),
            refused(&["protobuf"]),
        ),
        Case::new(
            "push: Content-Encoding br",
            probe_push,
            with(text_headers(), "Content-Encoding", "br"),
            || b"hostile_push_br 1\n".to_vec(),
            refused_with(415, &["Content-Encoding"]),
        ),
        Case::new(
            "push: gzip that is not gzip",
            probe_push,
            with(text_headers(), "Content-Encoding", "gzip"),
            || b"hostile_push_gzip 1\n".to_vec(),
            refused(&["gzip"]),
        ),
        Case::new(
            "push: 430 KB of gzip inflating to 65 MiB",
            probe_push,
            with(text_headers(), "Content-Encoding", "gzip"),
            gzip_bomb,
            refused(&["gzip"]),
        ),
        Case::new(
            "push: percent-encoded invalid UTF-8 in the grouping key",
            "/metrics/job/hostile/instance/%FF",
            text_headers(),
            || b"hostile_push_path 1\n".to_vec(),
            refused(&["UTF-8"]),
        ),
        Case::new(
            "push: invalid base64 in the grouping key",
            "/metrics/job/hostile/instance@base64/!!!",
            text_headers(),
            || b"hostile_push_path 1\n".to_vec(),
            refused(&["base64"]),
        ),
        // JSON events.
        Case::new(
            "events: empty body",
            "/events",
            json_headers(),
            Vec::new,
            refused(&["JSON"]),
        ),
        Case::new(
            "events: invalid UTF-8",
            "/events",
            json_headers(),
            || b"{\"metrics\": {\"hostile_event\": 1}, \"note\": \"\xff\"}".to_vec(),
            refused(&["UTF-8"]),
        ),
        Case::new(
            "events: [[[...]]] nested 100,000 deep",
            "/events",
            json_headers(),
            || format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)).into_bytes(),
            refused(&["JSON"]),
        ),
        Case::new(
            "events: a 10 MB dimension value",
            "/events",
            json_headers(),
            || {
                let big = "v".repeat(10_000_000);
                format!(
                    r#"{{"dimensions": {{"big": "{big}"}}, "timestamp": {T0}, "metrics": {{"hostile_event_big": 1}}}}"#
                )
                .into_bytes()
            },
            refused(&["2 KiB"]),
        ),
        Case::new(
            "events: Content-Encoding deflate",
            "/events",
            with(json_headers(), "Content-Encoding", "deflate"),
            || br#"{"metrics": {"hostile_event": 1}}"#.to_vec(),
            refused_with(415, &["Content-Encoding"]),
        ),
        // Last: its million distinct metric names fill the table's quota of measure
        // names (8192), so no later write could add a new one.
        Case::new(
            "events: 1,000,000 metrics in one event",
            "/events",
            json_headers(),
            million_metrics,
            Expect::NotServerError,
        )
        .timeout(LONG_TIMEOUT),
    ]
}

/// Writes what the read cases read: a plain series, and one whose label value makes
/// backtracking regex engines explode; and checks a read of the first.
async fn setup(url: &str) {
    let victim = format!("{}!", "a".repeat(40));
    let request = proto::WriteRequest {
        timeseries: vec![
            series(
                &[("__name__", "hostile_target"), ("job", "hostile")],
                &[(T0, 1.0)],
            ),
            series(
                &[
                    ("__name__", "hostile_redos"),
                    ("job", "hostile"),
                    ("victim", &victim),
                ],
                &[(T0, 1.0)],
            ),
        ],
        metadata: vec![],
    };
    let (status, body) = remote_write(url, &request).await;
    assert_eq!(status, 204, "setup write: {body}");
    let query = selector(&[(EQ, "__name__", "hostile_target")]);
    let (status, text, results) = remote_read(url, vec![query], false).await;
    assert_eq!(
        (status, results.first().map(Vec::len)),
        (200, Some(1)),
        "setup read: {text}"
    );
}

/// What the connector answered.
struct Answer {
    status: u16,
    content_type: String,
    body: Vec<u8>,
}

/// Sends one case, prints its line, and says what was not as expected.
async fn run(
    client: &reqwest::Client,
    url: &str,
    timestream: &aws_sdk_timestreamquery::Client,
    case: Case,
) -> Result<(), String> {
    let Case {
        name,
        route,
        headers,
        body,
        expect,
        timeout,
        stores,
    } = case;
    let before = match &expect {
        Expect::Ignored { reason, .. } => match ignored_count(client, url, &route, reason).await {
            Ok(count) => count,
            Err(failure) => {
                eprintln!("hostile-input | {name} | --- | not sent | FAILED: {failure}");
                return Err(failure);
            }
        },
        _ => 0.0,
    };
    let body = body();
    let started = Instant::now();
    let sent = send(client, url, &route, &headers, body, timeout).await;
    let took = started.elapsed().as_secs_f64();
    let answer = match sent {
        Ok(answer) => answer,
        Err(failure) => {
            eprintln!("hostile-input | {name} | --- | {took:.1}s | FAILED: {failure}");
            return Err(failure);
        }
    };
    let status = answer.status;
    let mut verdict = judge(client, url, &route, &expect, &answer, before).await;
    if let (true, Some(measure)) = (verdict.is_ok(), stores) {
        if let Err(failure) = stored_measure(timestream, measure).await {
            verdict = Err(failure);
        }
    }
    match verdict {
        Ok(detail) => {
            eprintln!("hostile-input | {name} | {status} | {took:.1}s | {detail}");
            Ok(())
        }
        Err(failure) => {
            let message = snippet(&String::from_utf8_lossy(&answer.body));
            eprintln!(
                "hostile-input | {name} | {status} | {took:.1}s | {message} | FAILED: {failure}"
            );
            Err(failure)
        }
    }
}

/// Checks `answer` against `expect`: the summary for the case's line, or what is wrong.
async fn judge(
    client: &reqwest::Client,
    url: &str,
    route: &str,
    expect: &Expect,
    answer: &Answer,
    before: f64,
) -> Result<String, String> {
    let status = answer.status;
    let message = String::from_utf8_lossy(&answer.body);
    let success = (200..300).contains(&status);
    let client_error = (400..500).contains(&status);
    if status >= 500 {
        return Err(format!(
            "answered {status}, a server error, to input that is the client's fault: {}",
            snippet(&message)
        ));
    }
    if client_error && message.trim().is_empty() {
        return Err(format!("answered {status} with no message"));
    }
    if client_error && message.len() > MAX_MESSAGE_BYTES {
        return Err(format!(
            "answered {status} with a message of {} bytes: it echoes the input rather than saying what is wrong",
            message.len()
        ));
    }
    match expect {
        Expect::Refused {
            status: wanted,
            words,
        } => {
            if !client_error || wanted.is_some_and(|wanted| wanted != status) {
                let wanted = wanted.map_or_else(|| "a 4xx".to_owned(), |w| w.to_string());
                return Err(format!("answered {status}, expected {wanted}"));
            }
            if !words.iter().any(|word| message.contains(word)) {
                return Err(format!("the message names none of {words:?}"));
            }
            Ok(snippet(&message))
        }
        Expect::Stored => {
            if !success {
                return Err(format!("answered {status}, expected a 2xx"));
            }
            Ok(snippet(&message))
        }
        Expect::Ignored { reason, samples } => {
            if !success {
                return Err(format!("answered {status}, expected a 2xx"));
            }
            let grew = (ignored_count(client, url, route, reason).await? - before).max(0.0) as u64;
            if grew != *samples {
                return Err(format!(
                    "ignored samples ({reason}) grew by {grew}, expected {samples}"
                ));
            }
            Ok(format!("ignored +{grew} ({reason})"))
        }
        Expect::Read { series } => {
            if status != 200 {
                return Err(format!("answered {status}, expected 200"));
            }
            let found = read_series(answer)?;
            if found != *series {
                return Err(format!(
                    "the answer holds {found} series, expected {series}"
                ));
            }
            Ok(format!("{found} series"))
        }
        Expect::NotServerError => {
            if success && route == "/read" {
                Ok(format!("{} series", read_series(answer)?))
            } else if success || client_error {
                Ok(snippet(&message))
            } else {
                Err(format!("answered {status}, expected a 2xx or a 4xx"))
            }
        }
    }
}

/// POSTs `body` to `route`; a timeout or any other failure to get a whole answer (a
/// connection reset, closed or refused) is the case's failure.
async fn send(
    client: &reqwest::Client,
    url: &str,
    route: &str,
    headers: &[(&'static str, String)],
    body: Vec<u8>,
    timeout: Duration,
) -> Result<Answer, String> {
    let mut request = client
        .post(format!("{url}{route}"))
        .timeout(timeout)
        .body(body);
    for (name, value) in headers {
        request = request.header(*name, value.as_str());
    }
    let failed = |error: reqwest::Error| {
        if error.is_timeout() {
            format!(
                "no whole answer within {}s: the connector hangs on this input",
                timeout.as_secs()
            )
        } else {
            format!("the connection failed or was dropped: {}", describe(&error))
        }
    };
    let response = request.send().await.map_err(failed)?;
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = response.bytes().await.map_err(failed)?.to_vec();
    Ok(Answer {
        status,
        content_type,
        body,
    })
}

/// An error with its chain of causes (reqwest's own text says little).
fn describe(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The series count of a SAMPLES answer.
fn read_series(answer: &Answer) -> Result<usize, String> {
    if answer.content_type != "application/x-protobuf" {
        return Err(format!(
            "a read answered with content type {:?}",
            answer.content_type
        ));
    }
    let raw = snappy::decompress(&answer.body)
        .map_err(|e| format!("the read answer is not snappy: {e}"))?;
    let response = proto::ReadResponse::decode(raw.as_slice())
        .map_err(|e| format!("the read answer is not a ReadResponse: {e}"))?;
    Ok(response.results.iter().map(|r| r.timeseries.len()).sum())
}

/// `timestream_connector_ignored_samples_total` for `reason`, of `route`'s protocol.
async fn ignored_count(
    client: &reqwest::Client,
    url: &str,
    route: &str,
    reason: &str,
) -> Result<f64, String> {
    let protocol = if route == "/write" {
        "remote_write"
    } else if route == "/events" {
        "events"
    } else {
        "pushgateway"
    };
    let text = client
        .get(format!("{url}/metrics"))
        .timeout(TIMEOUT)
        .send()
        .await
        .map_err(|e| format!("scraping the connector's metrics failed: {}", describe(&e)))?
        .text()
        .await
        .map_err(|e| format!("scraping the connector's metrics failed: {}", describe(&e)))?;
    Ok(metric_value(
        &text,
        &format!(
            "timestream_connector_ignored_samples_total{{protocol=\"{protocol}\",reason=\"{reason}\"}}"
        ),
    ))
}

/// Checks that Timestream holds `measure`.
async fn stored_measure(
    timestream: &aws_sdk_timestreamquery::Client,
    measure: &str,
) -> Result<(), String> {
    let sql =
        format!("SELECT measure_name FROM \"{DB}\".\"metrics\" WHERE measure_name = '{measure}'");
    if query_rows(timestream, &sql).await?.is_empty() {
        return Err(format!("answered 2xx, but Timestream holds no {measure}"));
    }
    Ok(())
}

/// Writes one small valid series named after the case's index and reads it back from
/// Timestream itself (not through the connector's read path).
async fn probe(
    client: &reqwest::Client,
    url: &str,
    timestream: &aws_sdk_timestreamquery::Client,
    index: usize,
) -> Result<(), String> {
    let tag = format!("p{index:03}");
    let time = T0 + 10_000 + index as i64;
    let value = index as f64 + 0.25;
    let request = proto::WriteRequest {
        timeseries: vec![series(
            &[("__name__", PROBE), ("job", "hostile"), ("probe", &tag)],
            &[(time, value)],
        )],
        metadata: vec![],
    };
    let body = snappy::compress(&request.encode_to_vec());
    let answer = send(
        client,
        url,
        "/write",
        &remote_write_headers(),
        body,
        TIMEOUT,
    )
    .await
    .map_err(|e| format!("a valid remote write failed: {e}"))?;
    if answer.status != 204 {
        return Err(format!(
            "a valid remote write answered {}: {}",
            answer.status,
            snippet(&String::from_utf8_lossy(&answer.body))
        ));
    }
    let sql = format!(
        "SELECT to_milliseconds(time), measure_value::double FROM \"{DB}\".\"metrics\" \
         WHERE measure_name = '{PROBE}' AND probe = '{tag}'"
    );
    let rows = query_rows(timestream, &sql)
        .await
        .map_err(|e| format!("reading a valid write back failed: {e}"))?;
    let found: Vec<(Option<i64>, Option<u64>)> = rows
        .iter()
        .map(|row| {
            let cell = |i: usize| row.get(i).cloned().flatten();
            (
                cell(0).and_then(|t| t.parse().ok()),
                cell(1)
                    .and_then(|v| v.parse::<f64>().ok())
                    .map(f64::to_bits),
            )
        })
        .collect();
    if found != [(Some(time), Some(value.to_bits()))] {
        return Err(format!(
            "a valid remote write answered 204, but Timestream holds {rows:?} for it"
        ));
    }
    Ok(())
}

/// Every row of `sql`'s answer, its cells as text (`None` for NULL).
async fn query_rows(
    timestream: &aws_sdk_timestreamquery::Client,
    sql: &str,
) -> Result<Vec<Vec<Option<String>>>, String> {
    let mut rows = Vec::new();
    let mut token = None;
    loop {
        let page = timestream
            .query()
            .query_string(sql)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| format!("{sql}: {:?}", e.into_service_error()))?;
        for row in page.rows() {
            rows.push(
                row.data()
                    .iter()
                    .map(|datum| datum.scalar_value().map(str::to_owned))
                    .collect(),
            );
        }
        token = page.next_token;
        if token.is_none() {
            return Ok(rows);
        }
    }
}

/// The first 100 characters of `text`, on one line.
fn snippet(text: &str) -> String {
    text.chars()
        .take(100)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

// Bodies.

/// A valid remote write body, for the cases whose headers are wrong.
fn valid_write() -> Vec<u8> {
    let request = proto::WriteRequest {
        timeseries: vec![series(
            &[("__name__", "hostile_headers"), ("job", "hostile")],
            &[(T0, 1.0)],
        )],
        metadata: vec![],
    };
    snappy::compress(&request.encode_to_vec())
}

/// Bytes that are not snappy: the header declares 71 bytes ('G'), and the first tag
/// ('A') copies from before the start of the output. Then 4 KiB of noise.
fn not_snappy() -> Vec<u8> {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let noise = (0..4096).map(|_| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 24) as u8
    });
    b"GARBAGE".iter().copied().chain(noise).collect()
}

/// A snappy block whose header declares `declared` decoded bytes, followed by `rest`.
fn snappy_claiming(declared: u64, rest: &[u8]) -> Vec<u8> {
    pb().varint(declared).raw(rest).bytes()
}

/// A WriteRequest with one series: a metric name, the label `name`=`value` as raw bytes,
/// and one sample.
fn one_raw_series(name: &[u8], value: &[u8]) -> Vec<u8> {
    pb_write(&[pb_series(
        &[
            pb_label(b"__name__", b"hostile_utf8"),
            pb_label(name, value),
        ],
        &[pb_sample(1.0, T0)],
    )])
}

/// A ReadRequest whose one matcher has bytes that are not UTF-8 as its value.
fn read_with_invalid_utf8() -> Vec<u8> {
    let matcher = pb()
        .uint(1, 0)
        .len_field(2, b"__name__")
        .len_field(3, b"\xff\xfe")
        .bytes();
    let query = pb()
        .uint(1, START as u64)
        .uint(2, END as u64)
        .len_field(3, &matcher)
        .bytes();
    snappy::compress(&pb().len_field(1, &query).bytes())
}

/// A series with its name and 4,999 other labels.
fn five_thousand_labels() -> proto::TimeSeries {
    let names: Vec<String> = (0..4_999).map(|i| format!("l{i:04}")).collect();
    let mut labels = vec![("__name__", "hostile_5000_labels")];
    labels.extend(names.iter().map(|name| (name.as_str(), "v")));
    series(&labels, &[(T0, 1.0)])
}

/// An alternation of 6,400 names, about 100 KB, that matches `hostile_target`.
fn long_regex() -> String {
    let mut regex: String = (0..6_400).map(|i| format!("hostile_x{i:06}|")).collect();
    regex.push_str("hostile_target");
    regex
}

/// One event with a million metrics (about 20 MB of JSON).
fn million_metrics() -> Vec<u8> {
    use std::fmt::Write;
    let mut body = String::with_capacity(24 << 20);
    write!(
        body,
        r#"{{"dimensions": {{"job": "hostile"}}, "timestamp": {T0}, "metrics": {{"#
    )
    .unwrap();
    for i in 0..1_000_000 {
        if i > 0 {
            body.push(',');
        }
        write!(body, r#""hostile_m{i:07}": {i}"#).unwrap();
    }
    body.push_str("}}");
    body.into_bytes()
}

/// A gzip member of 430 KB that inflates to 65 MiB of zeros, past what a push may
/// inflate to. Built by hand (compressing 65 MiB takes seconds in a debug build): one
/// fixed-Huffman deflate block of a literal 0 and then 264,177 copies of 258 bytes at
/// distance 1, 13 bits each; the trailer's CRC-32 and size are those of the zeros.
fn gzip_bomb() -> Vec<u8> {
    const COPIES: usize = 264_177;
    const INFLATED: u32 = 68_157_667; // 1 + 258 × COPIES
    const CRC32: u32 = 0xbf96_fb69; // of INFLATED zero bytes
    const _: () = assert!(INFLATED as usize > MAX_PUSH_DECODED_BYTES);
    let mut bits = Bits::default();
    bits.put(1, 1); // BFINAL
    bits.put(1, 2); // BTYPE 01: fixed Huffman codes

    // Huffman codes go most significant bit first: reversed for this LSB-first writer.
    bits.put(u64::from(0x30u8.reverse_bits()), 8); // literal 0: 0x30 + 0, 8 bits
    for _ in 0..COPIES {
        bits.put(u64::from(0xc5u8.reverse_bits()), 8); // length 258: symbol 285
        bits.put(0, 5); // distance 1: code 0
    }
    bits.put(0, 7); // end of block: symbol 256
    let mut body = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    body.extend(bits.finish());
    body.extend(CRC32.to_le_bytes());
    body.extend(INFLATED.to_le_bytes());
    body
}

/// Bits written least significant first, as deflate packs them.
#[derive(Default)]
struct Bits {
    out: Vec<u8>,
    pending: u64,
    count: u32,
}

impl Bits {
    fn put(&mut self, value: u64, bits: u32) {
        self.pending |= value << self.count;
        self.count += bits;
        while self.count >= 8 {
            self.out.push(self.pending as u8);
            self.pending >>= 8;
            self.count -= 8;
        }
    }

    fn finish(mut self) -> Vec<u8> {
        if self.count > 0 {
            self.out.push(self.pending as u8);
        }
        self.out
    }
}

// Protobuf by hand, for what prost will not encode: wrong wire types, truncated or
// overlong varints, label text that is not UTF-8.

#[derive(Default)]
struct Pb(Vec<u8>);

fn pb() -> Pb {
    Pb::default()
}

impl Pb {
    fn varint(mut self, mut value: u64) -> Pb {
        while value >= 0x80 {
            self.0.push((value as u8) | 0x80);
            value >>= 7;
        }
        self.0.push(value as u8);
        self
    }

    fn key(self, field: u32, wire_type: u8) -> Pb {
        self.varint((u64::from(field) << 3) | u64::from(wire_type))
    }

    fn uint(self, field: u32, value: u64) -> Pb {
        self.key(field, 0).varint(value)
    }

    fn fixed64(self, field: u32, value: u64) -> Pb {
        self.key(field, 1).raw(&value.to_le_bytes())
    }

    fn len_field(self, field: u32, data: &[u8]) -> Pb {
        self.key(field, 2).varint(data.len() as u64).raw(data)
    }

    fn raw(mut self, data: &[u8]) -> Pb {
        self.0.extend_from_slice(data);
        self
    }

    fn bytes(self) -> Vec<u8> {
        self.0
    }
}

/// prometheus.Label
fn pb_label(name: &[u8], value: &[u8]) -> Vec<u8> {
    pb().len_field(1, name).len_field(2, value).bytes()
}

/// prometheus.Sample
fn pb_sample(value: f64, timestamp_ms: i64) -> Vec<u8> {
    pb().fixed64(1, value.to_bits())
        .uint(2, timestamp_ms as u64)
        .bytes()
}

/// prometheus.TimeSeries
fn pb_series(labels: &[Vec<u8>], samples: &[Vec<u8>]) -> Vec<u8> {
    let with_labels = labels.iter().fold(pb(), |s, label| s.len_field(1, label));
    samples
        .iter()
        .fold(with_labels, |s, sample| s.len_field(2, sample))
        .bytes()
}

/// prometheus.WriteRequest
fn pb_write(series: &[Vec<u8>]) -> Vec<u8> {
    series
        .iter()
        .fold(pb(), |request, s| request.len_field(1, s))
        .bytes()
}
