//! The Pushgateway API on the connector's port, held against the real thing with real
//! clients: Debian's Pushgateway 1.5.1 gets the same pushes from prometheus_client and
//! curl, and what the connector stores in Timestream Local and serves back through remote
//! read must be what the Pushgateway exposes: the same series, the same values bit for
//! bit. DELETE differs by design: the connector keeps history. (Bodies, encodings and
//! non-finite values: push_bodies.rs.)

mod support;

use support::parity::*;
use support::pushgateway::{parse_exposition, push};
use support::*;

/// A text body with what the format allows: HELP and TYPE lines, a plain comment,
/// escapes in label values, UTF-8, untyped metrics, labels the path overrides (`job`,
/// `instance`, `zone`, and `empty`, which the path sets to the empty value, removing it),
/// an empty label value, and bucket and quantile bounds the Pushgateway re-formats
/// (`1e3` -> `1000`, `1000000` -> `1e+06`, `0.50` -> `0.5`).
const CURL_BODY: &str = r#"# HELP curl_requests_total Requests, with a \\ backslash and a \n newline in HELP.
# TYPE curl_requests_total counter
curl_requests_total{method="GET",path="/a\"b\\c\nd"} 1027
curl_requests_total{method="POST",path="/"} 3
# A comment that is neither HELP nor TYPE.
curl_untyped{job="overridden_by_path",instance="from_body",empty="from body",zone="from body"} -0.5
curl_untyped_plain 1e-9
# TYPE curl_temperature gauge
curl_temperature{sensor="s:1"} 21.0
curl_temperature{sensor="s 2",unicode="ünï"} -12.25
curl_temperature{sensor="blank",unset=""} 0.1
# TYPE curl_rpc_seconds summary
curl_rpc_seconds{quantile="0.50"} 0.05
curl_rpc_seconds{quantile="0.99"} 1.5e-1
curl_rpc_seconds_sum 17.5
curl_rpc_seconds_count 42
# TYPE curl_size_bytes histogram
curl_size_bytes_bucket{le="100"} 3
curl_size_bytes_bucket{le="1e3"} 5
curl_size_bytes_bucket{le="1000000"} 6
curl_size_bytes_bucket{le="+Inf"} 7
curl_size_bytes_sum 4500.5
curl_size_bytes_count 7
"#;

/// Values at the edges of an f64, pushed with POST to a base64-encoded job.
const CURL_EDGES_BODY: &str = "curl_edges{a=\"max\"} 1.7976931348623157e+308
curl_edges{a=\"subnormal\"} 5e-324
curl_edges{a=\"sum\"} 0.30000000000000004
";

#[test]
fn the_exposition_parser_reads_what_the_pushgateway_writes() {
    // The comparisons below are only as exact as this parser: check it on the escapes
    // and values the Pushgateway writes.
    let parsed = parse_exposition(concat!(
        "# HELP x Help.\n",
        "# TYPE x gauge\n",
        "x{a=\"q\\\"b\\\\s\\nn\",b=\"},{=,\",c=\"trailing\\\\\"} 1.7960625208243804e+09\n",
        "y +Inf\n",
        "y{z=\"\"} -Inf\n",
        "w NaN\n",
        "v{l=\"ünï\",} 5e-324\n",
    ));
    assert_eq!(parsed.len(), 5);
    assert_eq!(parsed[0].name, "x");
    assert_eq!(
        parsed[0].labels,
        [
            ("a".to_string(), "q\"b\\s\nn".to_string()),
            ("b".to_string(), "},{=,".to_string()),
            ("c".to_string(), "trailing\\".to_string()),
        ]
    );
    assert_eq!(
        parsed[0].value.to_bits(),
        1.7960625208243804e9_f64.to_bits()
    );
    assert_eq!(
        (parsed[1].value, parsed[2].value),
        (f64::INFINITY, f64::NEG_INFINITY)
    );
    assert_eq!(parsed[2].labels, [("z".to_string(), String::new())]);
    assert!(parsed[3].value.is_nan());
    assert_eq!(parsed[4].labels, [("l".to_string(), "ünï".to_string())]);
    assert_eq!(parsed[4].value.to_bits(), 5e-324_f64.to_bits());
}

/// (a) prometheus_client's push_to_gateway, pushadd_to_gateway and delete_from_gateway,
/// and curl, each sent to both: the connector then serves what the Pushgateway exposes.
#[tokio::test]
async fn pushes_from_real_clients_are_stored_as_the_pushgateway_exposes_them() {
    let (stack, pushgateway) = start().await;
    let connector = &stack.connector.url;
    let before = now_ms();

    for sent in python_clients("push", &pushgateway.url, connector) {
        assert_eq!(sent[3], 200, "prometheus_client push answered: {sent}");
    }

    let dir = tempfile::tempdir().unwrap();
    let text = write_file(dir.path(), "push.prom", CURL_BODY);
    let edges = write_file(dir.path(), "edges.prom", CURL_EDGES_BODY);
    // `host/12` in URL-safe base64 without its padding (`aG9zdC8xMg==`): padding is
    // optional; `=` is the empty value; `%20` a space.
    let grouped =
        "/metrics/job/pgw_parity_curl/instance@base64/aG9zdC8xMg/zone/eu%20west/empty@base64/=";
    // `curl/job` in URL-safe base64, without padding.
    let base64_job = "/metrics/job@base64/Y3VybC9qb2I";
    for base in [connector, &pushgateway.url] {
        let (status, answer) = curl("PUT", &format!("{base}{grouped}"), &text);
        assert_eq!(status, 200, "curl PUT to {base}: {answer}");
        let (status, answer) = curl("POST", &format!("{base}{base64_job}"), &edges);
        assert_eq!(status, 200, "curl POST to {base}: {answer}");
    }
    let after = now_ms();

    // The Pushgateway forgets a group on DELETE, so compare first. The series counts are
    // what each push yields at the Pushgateway (push_time_seconds included).
    let jobs = [
        ("pgw_parity_py", 19),
        ("pgw/parity py", 6),
        ("pgw_parity_curl", 18),
        ("curl/job", 4),
    ];
    assert_parity(&stack, &pushgateway, &jobs, (before, after)).await;

    // Spot checks of what the comparison relies on, so that a parity bug shared by both
    // sides' readers cannot hide: the grouping key as the Pushgateway decodes it, the
    // body's `job` overridden, a POST's new value the latest one.
    let curl_group = connector_group(connector, "pgw_parity_curl", before, after).await;
    let untyped: Vec<_> = curl_group
        .keys()
        .filter(|(name, _)| name == "curl_untyped")
        .collect();
    assert_eq!(
        untyped,
        [&(
            "curl_untyped".to_string(),
            vec![
                ("instance".to_string(), "host/12".to_string()),
                ("job".to_string(), "pgw_parity_curl".to_string()),
                ("zone".to_string(), "eu west".to_string()),
            ]
        )]
    );
    let py_group = connector_group(connector, "pgw_parity_py", before, after).await;
    let ((_, labels), samples) = py_group
        .iter()
        .find(|((name, _), _)| name == "py_temperature_celsius")
        .expect("the gauge of the Python registry");
    assert_eq!(
        *labels,
        [
            ("instance".to_string(), "a/b c".to_string()),
            ("job".to_string(), "pgw_parity_py".to_string()),
            // prometheus_client sends "x y+z" as `x+y%2Bz`; a path keeps `+` as `+`.
            ("zone".to_string(), "x+y+z".to_string()),
        ]
    );
    let values: Vec<u64> = samples.iter().map(|(_, v)| *v).collect();
    assert_eq!(
        values,
        [1e-9_f64.to_bits(), (-0.5_f64).to_bits()],
        "the PUT's value, then the POST's: the connector keeps both"
    );

    // DELETE answers 202 on both; the connector deletes nothing: Timestream keeps history.
    let stored_before = connector_group(connector, "pgw_parity_py", before, after).await;
    for sent in python_clients("delete", &pushgateway.url, connector) {
        assert_eq!(sent[3], 202, "delete_from_gateway answered: {sent}");
    }
    let (status, _) = push(connector, "DELETE", grouped, &[], vec![]).await;
    assert_eq!(status, 202);
    let exposed = pushgateway.exposition().await;
    assert!(
        pushgateway_group(&exposed, "pgw_parity_py").is_empty(),
        "the Pushgateway forgot the deleted group"
    );
    assert_eq!(
        connector_group(connector, "pgw_parity_py", before, now_ms()).await,
        stored_before,
        "DELETE keeps what was stored"
    );
}
