//! `--tls-certificate` / `--tls-key`: the connector serves HTTPS, with a clear error at
//! start when the files are unusable.

mod support;

use std::process::Command;

use support::*;

#[tokio::test]
async fn serves_https_with_the_given_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );

    let timestream = Timestream::start(Backend::Local);
    let endpoint = format!("--write-base-endpoint={}", timestream.endpoint);
    let cert_flag = format!("--tls-certificate={}", cert.display());
    let key_flag = format!("--tls-key={}", key.display());
    let connector = Connector::start(&[
        &endpoint,
        "--default-database=dbx",
        "--default-table=tbl",
        &cert_flag,
        &key_flag,
    ])
    .await;
    assert!(connector.url.starts_with("https://"));

    let health = Command::new("curl")
        .args(["-s", "--cacert"])
        .arg(&cert)
        .arg("--resolve")
        .arg(format!(
            "localhost:{}:127.0.0.1",
            connector.url.rsplit(':').next().unwrap()
        ))
        .arg(format!(
            "https://localhost:{}/health",
            connector.url.rsplit(':').next().unwrap()
        ))
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&health.stdout),
        "ok\n",
        "{}",
        String::from_utf8_lossy(&health.stderr)
    );

    let plain = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}"])
        .arg(connector.url.replace("https://", "http://") + "/health")
        .output()
        .unwrap();
    assert_ne!(
        String::from_utf8_lossy(&plain.stdout),
        "200",
        "plain HTTP is not served"
    );
}

#[tokio::test]
async fn unusable_tls_files_stop_the_start_with_a_message() {
    let output = aws_env(&mut Command::new(env!(
        "CARGO_BIN_EXE_timestream-prometheus-connector"
    )))
    .args([
        "--web.listen-address=127.0.0.1:0",
        "--default-database=dbx",
        "--default-table=tbl",
        "--write-base-endpoint=http://127.0.0.1:9",
        "--tls-certificate=/nonexistent/cert.pem",
        "--tls-key=/nonexistent/key.pem",
    ])
    .output()
    .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("TLS") && stderr.contains("No such file"),
        "{stderr}"
    );
}
