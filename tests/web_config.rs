//! `--web.config.file`: inbound Basic auth users and TLS as Prometheus' own servers take
//! them, reloaded when the file changes; refusals at start name what is wrong.

mod support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use support::*;
use timestream_prometheus_connector::fixtures;

/// A bcrypt hash at the lowest cost, so that the tests spend no time hashing.
fn hash(password: &str) -> String {
    bcrypt::hash(password, 4).unwrap()
}

fn users(pairs: &[(&str, &str)]) -> String {
    let mut text = String::from("basic_auth_users:\n");
    for (user, password) in pairs {
        text.push_str(&format!("  {user}: {}\n", hash(password)));
    }
    text
}

/// A remote write of one small request with `credentials`: the status.
async fn write(url: &str, credentials: Option<(&str, &str)>) -> u16 {
    let request = fixtures::write_request(3, 3, 1);
    let body = timestream_prometheus_connector::remote::snappy::compress(
        &prost::Message::encode_to_vec(&request),
    );
    remote_write_raw(url, body, credentials).await.0
}

#[tokio::test]
async fn users_must_authenticate_and_their_credentials_are_not_aws_keys() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(dir.path(), "web.yml", &users(&[("prometheus", "s3cret")]));
    let flag = format!("--web.config.file={}", file.display());
    let stack = Stack::start(Backend::Local, Via::Faults, &["metrics"], &[&flag]).await;
    let url = &stack.connector.url;

    let anonymous = reqwest::get(format!("{url}/health")).await.unwrap();
    assert_eq!(anonymous.status(), 401, "every route needs credentials");
    assert_eq!(
        anonymous.headers()["www-authenticate"],
        "Basic",
        "the challenge a client answers with Basic auth"
    );
    assert_eq!(write(url, None).await, 401);
    assert_eq!(write(url, Some(("prometheus", "wrong"))).await, 401);
    assert_eq!(write(url, Some(("someone", "s3cret"))).await, 401);

    assert_eq!(write(url, Some(("prometheus", "s3cret"))).await, 204);
    assert_eq!(
        write(url, Some(("prometheus", "s3cret"))).await,
        204,
        "and again, from the cache of verified credentials"
    );
    let keys = stack.proxy().faults.lock().unwrap().access_keys.clone();
    assert!(
        keys.iter().all(|k| k == "testing"),
        "the connector's own credentials wrote, not the user's: {keys:?}"
    );
    let client = reqwest::Client::new();
    let anonymous = client.get(format!("{url}/metrics")).send().await.unwrap();
    assert_eq!(
        anonymous.status(),
        401,
        "the telemetry path needs credentials too"
    );
    let telemetry = client
        .get(format!("{url}/metrics"))
        .basic_auth("prometheus", Some("s3cret"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        metric_value(
            &telemetry,
            "timestream_connector_errors_total{stage=\"admit\",kind=\"unauthorized\"}"
        ),
        5.0,
        "each refusal counted: health, three writes, the anonymous scrape"
    );
}

#[tokio::test]
async fn a_changed_file_is_read_again_and_a_broken_one_keeps_the_last_good_one() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(dir.path(), "web.yml", &users(&[("prometheus", "one")]));
    let flag = format!("--web.config.file={}", file.display());
    let stack = Stack::start(Backend::Local, Via::Direct, &["metrics"], &[&flag]).await;
    let url = stack.connector.url.clone();
    assert_eq!(write(&url, Some(("prometheus", "one"))).await, 204);

    write_file(dir.path(), "web.yml", &users(&[("grafana", "two")]));
    eventually(
        "the new users to be in force",
        Duration::from_secs(30),
        || {
            let url = url.clone();
            async move { write(&url, Some(("grafana", "two"))).await == 204 }
        },
    )
    .await;
    assert_eq!(write(&url, Some(("prometheus", "one"))).await, 401);

    write_file(dir.path(), "web.yml", "basic_auth_users: [not, a, map]\n");
    eventually(
        "the broken file to be noticed",
        Duration::from_secs(30),
        || {
            let logged = stack
                .connector
                .log_lines()
                .iter()
                .any(|line| line.contains("the last good one stays in force"));
            async move { logged }
        },
    )
    .await;
    assert_eq!(write(&url, Some(("grafana", "two"))).await, 204);
}

/// Makes a certificate authority, and a certificate it signed for `name` (server or
/// client) in `dir`: `<name>.crt`, `<name>.key`, and `ca.crt`.
fn certificates(dir: &Path, names: &[&str]) {
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("openssl");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=test-ca",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
    ]);
    for name in names {
        let (key, csr, crt) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.crt"),
        );
        run(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-keyout",
            &key,
            "-out",
            &csr,
        ]);
        let extensions = dir.join(format!("{name}.ext"));
        std::fs::write(&extensions, "subjectAltName=DNS:localhost\n").unwrap();
        run(&[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "1",
            "-out",
            &crt,
            "-extfile",
            extensions.to_str().unwrap(),
        ]);
    }
}

/// `curl` of `/health` over HTTPS as `localhost`, with a client certificate or not: the
/// body, or curl's failure.
fn health_over_tls(dir: &Path, url: &str, client: bool) -> Result<String, String> {
    let port = url.rsplit(':').next().unwrap();
    let mut curl = Command::new("curl");
    curl.args(["-sS", "--cacert"])
        .arg(dir.join("ca.crt"))
        .arg("--resolve")
        .arg(format!("localhost:{port}:127.0.0.1"));
    if client {
        curl.arg("--cert")
            .arg(dir.join("client.crt"))
            .arg("--key")
            .arg(dir.join("client.key"));
    }
    let out = curl
        .arg(format!("https://localhost:{port}/health"))
        .output()
        .unwrap();
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

#[tokio::test]
async fn tls_with_client_certificates_lets_in_only_the_verified_ones() {
    let dir = tempfile::tempdir().unwrap();
    certificates(dir.path(), &["server", "client"]);
    let config = "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  \
                  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.crt\n  \
                  min_version: TLS12\n";
    let file = write_file(dir.path(), "web.yml", config);
    let flag = format!("--web.config.file={}", file.display());
    let stack = Stack::start(Backend::Local, Via::Direct, &["metrics"], &[&flag]).await;
    let url = stack.connector.url.clone();

    let mut answer = Err(String::new());
    eventually(
        "the TLS listener to answer",
        Duration::from_secs(30),
        || {
            answer = health_over_tls(dir.path(), &url, true);
            let ok = answer.is_ok();
            async move { ok }
        },
    )
    .await;
    assert_eq!(answer, Ok("ok\n".to_string()));
    assert!(
        health_over_tls(dir.path(), &url, false).is_err(),
        "a client without a certificate is refused"
    );
}

/// Starts the connector with `args` and expects it to refuse, saying `says`.
fn refuses_to_start(args: &[&str], says: &str) {
    let output = aws_env(&mut Command::new(env!(
        "CARGO_BIN_EXE_timestream-prometheus-connector"
    )))
    .args([
        "--web.listen-address=127.0.0.1:0",
        "--default-database=dbx",
        "--default-table=tbl",
        "--write-base-endpoint=http://127.0.0.1:9",
        "--query-base-endpoint=http://127.0.0.1:9",
    ])
    .args(args)
    .output()
    .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(says), "expected {says:?} in: {stderr}");
}

#[test]
fn unusable_web_configs_stop_the_start_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let plain = write_file(
        dir.path(),
        "plain.yml",
        "basic_auth_users:\n  a: not-a-hash\n",
    );
    refuses_to_start(
        &[&format!("--web.config.file={}", plain.display())],
        "not a bcrypt hash",
    );
    let unknown = write_file(dir.path(), "unknown.yml", "tls_config: {}\n");
    refuses_to_start(
        &[&format!("--web.config.file={}", unknown.display())],
        "tls_config",
    );
    let missing = dir.path().join("missing.yml");
    refuses_to_start(
        &[&format!("--web.config.file={}", missing.display())],
        "missing.yml",
    );
    let tls = write_file(
        dir.path(),
        "tls.yml",
        "tls_server_config:\n  cert_file: a.crt\n  key_file: a.key\n",
    );
    refuses_to_start(
        &[
            &format!("--web.config.file={}", tls.display()),
            "--tls-certificate=a.crt",
            "--tls-key=a.key",
        ],
        "choose one",
    );
    refuses_to_start(
        &["--web.telemetry-path=/write"],
        "one of the connector's own routes",
    );
}
