//! The cases of remote read, Pushgateway pushes and JSON events.

use super::*;

pub(super) fn read_cases() -> Vec<Case> {
    vec![
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
    ]
}

pub(super) fn push_cases() -> Vec<Case> {
    let probe_push = "/metrics/job/hostile";
    vec![
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
