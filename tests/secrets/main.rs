//! No secret ever appears in what the connector prints or answers: not the secret access
//! key a client sends as its Basic-auth password (alone, as `keyid:secret`, or as the
//! base64 its header carries), not the default chain's secret key or session token, not
//! a password or bearer token in an Authorization header the connector refuses; at any
//! log level, in metric labels or in error bodies.
//!
//! Each test runs one connector (`--log.level=debug`, as every test connector) in front of
//! Timestream Local through a fault-injecting proxy, and sends it every kind of request
//! a secret travels with: writes, pushes, events and reads (both answer types) that
//! succeed, that Timestream throttles, fails (5xx), refuses (AccessDenied) or partly
//! rejects, with the client's keys in Basic auth or with the default chain's; and
//! requests whose Authorization header is malformed. Then it greps everything the daemon
//! printed (stderr and stdout, up to its exit), every answer it gave (status, headers,
//! body) and its `/metrics`. The second test does it all again with `RUST_LOG=trace`,
//! which lets the AWS SDK, hyper and every other library log all they do: a secret they
//! print fails the test as surely as one the connector prints.
//!
//! The access key id is not a secret in AWS's model (it names the key, and travels in
//! clear in every signed request's `Credential=`), so it may be logged: it is not checked.

#[path = "../support/mod.rs"]
mod support;

use base64::Engine;
use reqwest::header::{HeaderValue, AUTHORIZATION};
use serde_json::{json, Value};
use support::proxy::Faults;
use support::*;
use timestream_prometheus_connector::remote::{proto, snappy};

mod helpers;

use helpers::*;

/// The client's credentials, sent as `Authorization: Basic base64(KEY_ID:SECRET)`, as the
/// Go connector takes them.
const KEY_ID: &str = "AKIATESTSECRETKEYID1";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYSECRETKEY";

/// The default chain's credentials (the connector's environment), temporary ones as STS
/// hands them out: they sign every request that carries no Authorization header.
const ENV_KEY_ID: &str = "ASIATESTENVCHAINKEY01";
const ENV_SECRET: &str = "Zq8vN3xT6yR1wK4mP7sL0dH/EnvChainSECRETKEY";
const SESSION_TOKEN: &str =
    "IQoJb3JpZ2luX2VjEXAMPLE/SESSIONTOKEN+4xQm9TvHk2LwRpZs8NyBdCFjUa7GeYiSESSIONEND==";

/// A password that is no AWS key (a Basic auth meant for a proxy in front), and a bearer
/// token: the connector must not echo either.
const PASSWORD: &str = "Pa55w0rd-BASIC-PASSWORD-7f3a9c";
const BEARER: &str = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJwcm9tZXRoZXVzIn0.BEARERTOKENSIGNATURE";

/// When the written samples are (Timestream Local's test tables take any age).
const T: i64 = 1_700_000_000_000;
/// A value the proxy rejects when told to (RejectedRecords): Timestream names the
/// record, and the connector the series, in its answer.
const DOOMED: f64 = 666.0;
const EQ: i32 = 0;

#[tokio::test]
async fn nothing_secret_is_logged_at_debug_level_answered_or_exposed() {
    exercise(&[]).await.assert_no_secret();
}

#[tokio::test]
async fn nothing_secret_is_logged_even_at_trace_level_of_the_aws_sdk_and_hyper() {
    let found = exercise(&[("RUST_LOG", "trace")]).await;
    // The test means something only if the libraries did log: the SDK's orchestrator,
    // signer and credentials, hyper's connections.
    assert!(
        found
            .log
            .iter()
            .any(|l| l.contains("level=trace") && l.contains("target=aws_")),
        "RUST_LOG=trace shows the AWS SDK's trace logs"
    );
    found.assert_no_secret();
}

/// What a run left behind to grep.
struct Found {
    /// Every line the connector printed, up to its exit.
    log: Vec<String>,
    /// Every answer it gave, as text: what was asked, status, headers, body.
    answers: Vec<String>,
    /// Its `/metrics` at the end.
    metrics: String,
    /// Every Authorization header value sent: none may come back, whole or in part
    /// (the part after the scheme is the credential).
    authorizations: Vec<Vec<u8>>,
}

/// Starts a stack with the default chain's credentials (and `env`), drives it through
/// every path a secret travels, stops it and returns what it printed and answered.
async fn exercise(env: &[(&str, &str)]) -> Found {
    let mut environment = vec![
        ("AWS_ACCESS_KEY_ID", ENV_KEY_ID),
        ("AWS_SECRET_ACCESS_KEY", ENV_SECRET),
        ("AWS_SESSION_TOKEN", SESSION_TOKEN),
    ];
    environment.extend_from_slice(env);
    // Three attempts per call: a throttle then a 5xx are retried into a success, and
    // faults that last fail fast.
    let mut s = Stack::start_with_env(
        Backend::Local,
        Via::Faults,
        &["metrics"],
        &["--max-write-retries=3", "--max-read-retries=3"],
        &environment,
    )
    .await;
    let mut c = Client::new(&s.connector.url);
    let proxy = s.proxy();
    let key = || Some(basic(KEY_ID, SECRET));

    // 1. Everything succeeds with the client's keys: the secret signs WriteRecords and
    //    Query calls (a DESCRIBE and a SELECT per read) and nothing is refused.
    c.write("write", key(), &write_request(1.0))
        .await
        .expect(204, "");
    c.push("push", key(), "leak_test_push 1\n")
        .await
        .expect(200, "");
    c.events("events", key(), &event(1.5))
        .await
        .expect(200, "written_events");
    for streamed in [false, true] {
        let answer = c.read("read", key(), streamed).await.expect(200, "");
        assert_eq!(answer.series(streamed), 1, "the series written above");
    }

    // 2. The same without Authorization: the default chain's key and session token sign.
    c.write("write, default chain", None, &write_request(1.0))
        .await
        .expect(204, "");
    c.read("read, default chain", None, false)
        .await
        .expect(200, "");

    // 3. A Basic password that is no AWS key (meant for a proxy in front) is still taken
    //    as one, and signs; Timestream Local checks no signature, so it is written.
    c.write(
        "write, a proxy's password",
        Some(basic("prometheus", PASSWORD)),
        &write_request(1.0),
    )
    .await
    .expect(204, "");

    // 4. Timestream throttles once, then fails once: the connector retries, logging each
    //    error at debug level, and writes. The same for a query page.
    proxy.set(|f| {
        f.throttle = 1;
        f.fail = 1;
    });
    c.write("write, retried", key(), &write_request(1.0))
        .await
        .expect(204, "");
    proxy.set(|f| f.query_throttle = 1);
    c.read("read, retried", key(), false).await.expect(200, "");
    proxy.set(clear);

    // 5. Faults that outlast the retries, on every write path, with either credentials:
    //    the answer and the warn line carry Timestream's message.
    type Fault = (&'static str, fn(&mut Faults), u16, &'static str);
    let write_faults: [Fault; 3] = [
        ("throttled", |f| f.throttle = u32::MAX, 503, "throttled"),
        ("5xx", |f| f.fail = u32::MAX, 503, "unavailable"),
        ("access denied", |f| f.deny = u32::MAX, 403, "denied access"),
    ];
    for (fault, set, status, says) in write_faults {
        proxy.set(set);
        c.write(&format!("write, {fault}"), key(), &write_request(1.0))
            .await
            .expect(status, says);
        c.write(
            &format!("write, {fault}, default chain"),
            None,
            &write_request(1.0),
        )
        .await
        .expect(status, says);
        c.push(&format!("push, {fault}"), key(), "leak_test_push 2\n")
            .await
            .expect(status, says);
        c.events(&format!("events, {fault}"), key(), &event(1.5))
            .await
            .expect(status, says);
        proxy.set(clear);
    }

    // 6. Records Timestream rejects for good: a 400 naming them; the others are written.
    proxy.set(|f| f.reject_value = Some("666.0".into()));
    let mut request = write_request(1.0);
    request.timeseries.push(series(
        &[("__name__", "leak_test_doomed"), ("job", "leak_test")],
        &[(T, DOOMED)],
    ));
    c.write("write, rejected", key(), &request)
        .await
        .expect(400, "leak_test_doomed");
    c.push("push, rejected", key(), "leak_test_push 666\n")
        .await
        .expect(400, "leak_test_push");
    c.events("events, rejected", key(), &event(DOOMED))
        .await
        .expect(400, "leak_test_event");
    proxy.set(clear);

    // 7. Query faults that outlast the retries: the read is refused before answering
    //    (its DESCRIBE fails)...
    let read_faults: [Fault; 3] = [
        (
            "throttled",
            |f| f.query_throttle = u32::MAX,
            503,
            "throttled",
        ),
        ("5xx", |f| f.query_fail = u32::MAX, 503, "unavailable"),
        (
            "access denied",
            |f| f.query_deny = u32::MAX,
            403,
            "denied access",
        ),
    ];
    for (fault, set, status, says) in read_faults {
        for streamed in [false, true] {
            proxy.set(set);
            c.read(&format!("read, {fault}"), key(), streamed)
                .await
                .expect(status, says);
            proxy.set(clear);
        }
        proxy.set(set);
        c.read(&format!("read, {fault}, default chain"), None, false)
            .await
            .expect(status, says);
        proxy.set(clear);
    }
    //    ... or, when the DESCRIBE passes and the SELECT fails, a SAMPLES read is refused
    //    and a streamed one, already answered 200, is cut short (and logged).
    for (fault, set, status, says) in read_faults {
        proxy.set(|f| {
            set(f);
            f.query_faults_after = 1;
        });
        c.read(&format!("read, SELECT {fault}"), key(), false)
            .await
            .expect(status, says);
        proxy.set(|f| {
            set(f);
            f.query_faults_after = 1;
        });
        c.read(&format!("read, SELECT {fault}, streamed"), key(), true)
            .await
            .expect(200, "");
        proxy.set(clear);
    }

    // 8. Malformed Authorization headers, on every route that reads one: refused (400)
    //    before anything is decoded or written, each carrying secret material.
    let malformed = [
        (
            "the pair, not base64-encoded",
            HeaderValue::from_str(&format!("Basic {KEY_ID}:{SECRET}")).unwrap(),
        ),
        (
            "the secret alone (no colon)",
            HeaderValue::from_str(&format!("Basic {}", b64(SECRET.as_bytes()))).unwrap(),
        ),
        ("an empty user, the secret as password", basic("", SECRET)),
        (
            "a password after bytes that are not UTF-8",
            HeaderValue::from_str(&format!(
                "Basic {}",
                b64(&[
                    b"\xff".as_slice(),
                    format!("prometheus:{PASSWORD}").as_bytes()
                ]
                .concat())
            ))
            .unwrap(),
        ),
        (
            "the pair after a byte that is not ASCII",
            HeaderValue::from_bytes(format!("Basic \u{e9}{KEY_ID}:{SECRET}").as_bytes()).unwrap(),
        ),
    ];
    // A scheme other than Basic carries no AWS credentials: the default chain writes,
    // and the token is no more printed than a key would be.
    c.write(
        "write, a bearer token",
        Some(HeaderValue::from_str(&format!("Bearer {BEARER}")).unwrap()),
        &write_request(1.0),
    )
    .await
    .expect(204, "");
    for (what, header) in malformed {
        let says = "invalid Authorization header";
        let auth = || Some(header.clone());
        c.write(&format!("write, {what}"), auth(), &write_request(1.0))
            .await
            .expect(400, says);
        c.read(&format!("read, {what}"), auth(), true)
            .await
            .expect(400, says);
        c.push(&format!("push, {what}"), auth(), "leak_test_push 3\n")
            .await
            .expect(400, says);
        c.events(&format!("events, {what}"), auth(), &event(1.5))
            .await
            .expect(400, says);
    }

    // Every credential did sign what it was meant to: the Basic keys (the secret as the
    // signing key) and the default chain's.
    {
        let faults = proxy.faults.lock().unwrap();
        for key in [KEY_ID, ENV_KEY_ID, "prometheus"] {
            assert!(
                faults.access_keys.iter().any(|k| k == key),
                "{key} signed a WriteRecords call: {:?}",
                faults.access_keys
            );
        }
        for key in [KEY_ID, ENV_KEY_ID] {
            assert!(
                faults.query_access_keys.iter().any(|k| k == key),
                "{key} signed a Query call: {:?}",
                faults.query_access_keys
            );
        }
    }

    let metrics = c.get("/metrics").await.expect(200, "").text();
    for counted in [
        "timestream_connector_write_requests_total{code=\"403\",protocol=\"remote_write\"}",
        "timestream_connector_read_requests_total{code=\"403\"}",
    ] {
        assert!(
            metric_value(&metrics, counted) > 0.0,
            "{counted} in\n{metrics}"
        );
    }

    // Dropping the client closes its kept-alive connections, which a drain waits for.
    let Client {
        answers,
        authorizations,
        ..
    } = c;
    let log = s.connector.stop();
    // The paths above were taken, and logged: refusals and failures at warn, retries (with
    // Timestream's message) at debug.
    for logged in [
        "request refused",
        "the client should retry",
        "retrying WriteRecords call",
        "query page will be retried",
        "streamed remote read cut short",
        "denied access",
    ] {
        assert!(
            log.iter().any(|l| l.contains(logged)),
            "a log line says {logged:?}"
        );
    }
    Found {
        log,
        answers,
        metrics,
        authorizations,
    }
}
