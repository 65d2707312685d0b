//! What the integration tests start: a Timestream ([`timestream`]), the connector binary,
//! Prometheus ([`prometheus`]), the Pushgateway ([`pushgateway`]), each on loopback,
//! readiness checked over the wire, killed on drop; and the remote storage protocol as a
//! client speaks it ([`remote`]) and a decoder of histogram chunks of its own
//! ([`histogram_chunks`]); the connector as a Lambda function against a fake Runtime API
//! ([`lambda`]).

#![allow(dead_code)] // each test binary uses a different part of this module

pub mod histogram_chunks;
pub mod lambda;
pub mod parity;
pub mod prometheus;
pub mod proxy;
pub mod pushgateway;
pub mod remote;
pub mod timestream;

// Each test binary uses a different part of these, like the rest of this module.
#[allow(unused_imports)]
pub use prometheus::{remote_write_config, Prometheus};
#[allow(unused_imports)]
pub use pushgateway::Pushgateway;
#[allow(unused_imports)]
pub use remote::*;
#[allow(unused_imports)]
pub use timestream::*;

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

pub const REGION: &str = "us-east-1";

/// The database the integration tests write to.
pub const DB: &str = "prometheus_db";

/// What stands between the connector and Timestream.
pub enum Via {
    Direct,
    /// A [`proxy::FaultProxy`] that injects faults on demand.
    Faults,
    /// A [`proxy::FaultProxy`] that also holds every WriteRecords call until released.
    Gate,
}

/// A Timestream with database [`DB`] and `tables`, optionally a proxy, and the connector
/// writing to them (default table: the first of `tables`, unless `extra` names one).
pub struct Stack {
    pub timestream: Timestream,
    pub proxy: Option<proxy::FaultProxy>,
    pub connector: Connector,
}

impl Stack {
    pub async fn start(backend: Backend, via: Via, tables: &[&str], extra: &[&str]) -> Stack {
        Self::start_with_env(backend, via, tables, extra, &[]).await
    }

    /// [`Stack::start`], with `env` added to the connector's environment (after the test
    /// credentials of [`aws_env`], which it may replace).
    pub async fn start_with_env(
        backend: Backend,
        via: Via,
        tables: &[&str],
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Stack {
        let timestream = Timestream::start(backend);
        create_table(&timestream, DB, tables).await;
        let proxy = match via {
            Via::Direct => None,
            Via::Faults => Some(proxy::FaultProxy::start(&timestream.endpoint).await),
            Via::Gate => Some(proxy::FaultProxy::start_gated(&timestream.endpoint).await),
        };
        let endpoint = proxy.as_ref().map_or(&timestream.endpoint, |p| &p.endpoint);
        let mut args = vec![
            format!("--write-base-endpoint={endpoint}"),
            format!("--query-base-endpoint={endpoint}"),
            format!("--default-database={DB}"),
        ];
        if let Some(table) = tables
            .first()
            .filter(|_| !extra.iter().any(|a| a.starts_with("--default-table")))
        {
            args.push(format!("--default-table={table}"));
        }
        args.extend(extra.iter().map(|a| a.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let connector = Connector::start_with_env(&args, env).await;
        Stack {
            timestream,
            proxy,
            connector,
        }
    }

    pub fn proxy(&self) -> &proxy::FaultProxy {
        self.proxy.as_ref().expect("a stack started with a proxy")
    }

    /// The records stored in table `metrics`, keyed.
    pub async fn stored_keys(&self) -> std::collections::BTreeSet<Key> {
        self.timestream
            .records(DB, "metrics")
            .await
            .iter()
            .map(|r| stored(r).0)
            .collect()
    }
}

/// Whether a stored record (as [`Timestream::records`] gives it) is a multi-measure
/// record of float samples (`--record-mode=multi`).
pub fn is_multi_measure(record: &Value) -> bool {
    record["MeasureName"]
        .as_str()
        .is_some_and(|name| name.starts_with("__metrics__"))
}

/// The connector binary, started with `args` on a loopback port.
pub struct Connector {
    child: Child,
    pub url: String,
    /// Every line it printed, stderr (its log) and stdout alike, in arrival order.
    log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    /// The threads reading its stderr and stdout; they end when it exits.
    readers: Vec<std::thread::JoinHandle<()>>,
}

impl Connector {
    pub async fn start(args: &[&str]) -> Connector {
        Self::start_with_env(args, &[]).await
    }

    /// [`Connector::start`], with `env` added to its environment (after the test
    /// credentials of [`aws_env`], which it may replace; e.g. `RUST_LOG`).
    pub async fn start_with_env(args: &[&str], env: &[(&str, &str)]) -> Connector {
        Self::spawn("127.0.0.1:0", args, env).await
    }

    /// [`Connector::start`] on `--web.listen-address={address}` rather than a free port,
    /// for a connector restarted where its clients already send. (The flag cannot be
    /// given twice: clap refuses a repeated flag.)
    pub async fn start_at(address: &str, args: &[&str]) -> Connector {
        Self::spawn(address, args, &[]).await
    }

    async fn spawn(address: &str, args: &[&str], env: &[(&str, &str)]) -> Connector {
        let mut child = aws_env(&mut Command::new(env!(
            "CARGO_BIN_EXE_timestream-prometheus-connector"
        )))
        .envs(env.iter().copied())
        .arg(format!("--web.listen-address={address}"))
        .arg("--log.level=debug")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the connector");
        // The first log line that names the address says it is listening.
        let stderr = child.stderr.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let lines = log.clone();
        let stderr_reader = std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("connector| {line}");
                lines.lock().unwrap().push(line.clone());
                // Only the "listening" line: with RUST_LOG=trace, libraries log too.
                if let Some(address) =
                    log_field(&line, "address").filter(|_| line.contains("listening"))
                {
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(address);
                    }
                }
            }
        });
        // It prints nothing there; kept all the same, for tests that check all it printed.
        let lines = log.clone();
        let stdout_reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                eprintln!("connector (stdout)| {line}");
                lines.lock().unwrap().push(line);
            }
        });
        let address: SocketAddr = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the connector logs its address once listening")
            .parse()
            .unwrap();
        let tls = args.iter().any(|a| a.starts_with("--tls-certificate"));
        // A web config may ask for credentials or TLS: its tests check readiness.
        let web_config = args.iter().any(|a| a.starts_with("--web.config.file"));
        let connector = Connector {
            child,
            log,
            readers: vec![stderr_reader, stdout_reader],
            url: format!("{}://{address}", if tls { "https" } else { "http" }),
        };
        if !tls && !web_config {
            let health = reqwest::get(format!("{}/health", connector.url))
                .await
                .unwrap();
            assert_eq!(health.status(), 200);
        }
        connector
    }

    /// Every line it has printed so far (stderr and stdout).
    pub fn log_lines(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    /// Stops it with SIGTERM, waits for it to exit and for its output to be read to the
    /// end, and returns every line it printed.
    pub fn stop(&mut self) -> Vec<String> {
        signal(self.pid(), "TERM");
        self.child.wait().unwrap();
        for reader in self.readers.drain(..) {
            reader.join().unwrap();
        }
        self.log_lines()
    }

    /// The value of `key=` in the first log line that has one.
    pub fn logged(&self, key: &str) -> Option<String> {
        let log = self.log.lock().unwrap();
        log.iter().find_map(|line| log_field(line, key))
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn wait(&mut self) -> std::process::ExitStatus {
        self.child.wait().unwrap()
    }

    /// The value of the connector's own metric `name{labels}` (0 if absent).
    pub async fn metric(&self, name_and_labels: &str) -> f64 {
        scrape(&self.url, name_and_labels).await
    }
}

/// The value of `key=` in a logfmt line (quotes removed).
fn log_field(line: &str, key: &str) -> Option<String> {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(key)?.strip_prefix('='))
        .map(|v| v.trim_matches('"').to_string())
}

impl Drop for Connector {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Fetches `{url}/metrics` and finds `name{labels}` in it.
pub async fn scrape(url: &str, name_and_labels: &str) -> f64 {
    let text = reqwest::get(format!("{url}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    metric_value(&text, name_and_labels)
}

/// Finds `name{labels}` in a Prometheus text exposition and sums its samples (several
/// when `name_and_labels` names a subset of the labels).
pub fn metric_value(text: &str, name_and_labels: &str) -> f64 {
    let (name, labels) = match name_and_labels.split_once('{') {
        Some((name, rest)) => (name, rest.trim_end_matches('}')),
        None => (name_and_labels, ""),
    };
    let wanted: Vec<&str> = labels.split(',').filter(|l| !l.is_empty()).collect();
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (series_name, series_labels) = match series.split_once('{') {
                Some((n, l)) => (n, l),
                None => (series, ""),
            };
            (series_name == name && wanted.iter().all(|w| series_labels.contains(w)))
                .then(|| value.parse::<f64>().ok())?
        })
        .sum()
}

/// A stored record as (measure, sorted dimensions, time ms, value bits).
pub type Key = (String, Vec<(String, String)>, i64);

pub fn stored(record: &Value) -> (Key, u64) {
    let mut dimensions: Vec<(String, String)> = record["Dimensions"]
        .as_array()
        .map(|d| {
            d.iter()
                .map(|d| {
                    (
                        d["Name"].as_str().unwrap().to_string(),
                        d["Value"].as_str().unwrap().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    dimensions.sort();
    assert_eq!(record["MeasureValueType"], "DOUBLE", "{record}");
    assert_eq!(
        record
            .get("TimeUnit")
            .and_then(Value::as_str)
            .unwrap_or("MILLISECONDS"),
        "MILLISECONDS"
    );
    let value: f64 = record["MeasureValue"].as_str().unwrap().parse().unwrap();
    let time: i64 = record["Time"].as_str().unwrap().parse().unwrap();
    (
        (
            record["MeasureName"].as_str().unwrap().to_string(),
            dimensions,
            time,
        ),
        value.to_bits(),
    )
}

/// The record a metric of a JSON event becomes: measure = metric, dimensions = the
/// event's (sorted), its time, the value's bits.
pub fn record(metric: &str, dimensions: &[(&str, &str)], time: i64, value: f64) -> (Key, u64) {
    let mut dimensions: Vec<(String, String)> = dimensions
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    dimensions.sort();
    ((metric.to_string(), dimensions, time), value.to_bits())
}

/// The answer to a body of JSON events when every event was written.
pub fn written(events: u64, samples: u64) -> Value {
    serde_json::json!({"written_events": events, "written_samples": samples, "refused": []})
}

/// Polls `check` until it is true; for conditions reached by other processes.
pub async fn eventually<F, Fut>(what: &str, timeout: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + timeout;
    while !check().await {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Writes `text` to a new file in `dir`.
pub fn write_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::File::create(&path)
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    path
}

/// Asserts two stores hold the same records, listing only the differences.
pub fn assert_same_records(
    actual: &std::collections::BTreeMap<Key, u64>,
    expected: &std::collections::BTreeMap<Key, u64>,
) {
    let missing: Vec<_> = expected
        .iter()
        .filter(|(k, v)| actual.get(*k) != Some(v))
        .take(10)
        .collect();
    let extra: Vec<_> = actual
        .iter()
        .filter(|(k, v)| expected.get(*k) != Some(v))
        .take(10)
        .collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{} expected records differ or are missing, e.g. {missing:?}\n{} stored records are unexpected, e.g. {extra:?}",
        expected.iter().filter(|(k, v)| actual.get(*k) != Some(v)).count(),
        actual.iter().filter(|(k, v)| expected.get(*k) != Some(v)).count(),
    );
}

/// Sends `signal` (e.g. "TERM") to process `pid`.
pub fn signal(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()
        .unwrap();
    assert!(status.success());
}

/// Runs each named `async fn(Backend)` test against moto and against Timestream Local, as
/// tests `moto::name` and `local::name`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod moto {
            $(#[tokio::test]
            async fn $name() {
                super::$name($crate::support::Backend::Moto).await
            })*
        }
        mod local {
            $(#[tokio::test]
            async fn $name() {
                super::$name($crate::support::Backend::Local).await
            })*
        }
    };
}
