//! What the integration tests start: moto's Timestream, the connector binary, Prometheus,
//! each a real process on loopback, readiness checked over the wire, killed on drop.

#![allow(dead_code)] // each test binary uses a different part of this module

pub mod proxy;

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::Duration;

use prost::Message;
use serde_json::Value;
use timestream_prometheus_connector::remote::{proto, snappy};

pub const REGION: &str = "us-east-1";

/// The Python with moto installed: `$CONNECTOR_TEST_PYTHON`, else `.venv/bin/python`
/// (what `.ci/run` creates).
pub fn python() -> PathBuf {
    if let Some(path) = std::env::var_os("CONNECTOR_TEST_PYTHON") {
        return path.into();
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
    assert!(
        venv.exists(),
        "no Python with moto: run `bash .ci/run` once, or set CONNECTOR_TEST_PYTHON"
    );
    venv
}

/// Static test credentials, so that no AWS account or profile is ever used.
pub fn aws_env(command: &mut Command) -> &mut Command {
    command
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", REGION)
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
        .env("AWS_EC2_METADATA_DISABLED", "true")
}

/// Which Timestream the connector writes to: moto's (an independent implementation of the
/// write API, in Python) or Timestream Local (ours, which also merges CommonAttributes,
/// validates and answers queries).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Moto,
    Local,
}

/// Rows per query page in the tests' Timestream Local.
pub const LOCAL_PAGE_ROWS: usize = 50;

/// A running Timestream, with what it stored readable as moto stores records.
pub struct Timestream {
    pub endpoint: String,
    pub backend: Backend,
    inner: Inner,
}

enum Inner {
    Moto {
        child: Child,
        _stdin: ChildStdin,
        records_url: String,
    },
    Local {
        _shutdown: tokio::sync::oneshot::Sender<()>,
        query: aws_sdk_timestreamquery::Client,
    },
}

impl Timestream {
    pub fn start(backend: Backend) -> Timestream {
        match backend {
            Backend::Moto => Timestream::moto(),
            Backend::Local => Timestream::local(),
        }
    }

    fn moto() -> Timestream {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/moto_timestream.py");
        let mut child = aws_env(&mut Command::new(python()))
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start moto");
        let stdin = child.stdin.take().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("moto's READY line");
        let ports: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(ports.first(), Some(&"READY"), "moto said {line:?}");
        Timestream {
            endpoint: format!("http://127.0.0.1:{}", ports[1]),
            backend: Backend::Moto,
            inner: Inner::Moto {
                child,
                _stdin: stdin,
                records_url: format!("http://127.0.0.1:{}/records", ports[2]),
            },
        }
    }

    /// Timestream Local, in memory, on a runtime of its own (so that a test blocking its
    /// own runtime cannot stall it).
    fn local() -> Timestream {
        // Small pages, so that every read spans several of them.
        let local = timestream_local::Local::open(&timestream_local::Options {
            max_page_rows: LOCAL_PAGE_ROWS,
            ..Default::default()
        })
        .unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                let _ = local
                    .serve(listener, async {
                        let _ = rx.await;
                    })
                    .await;
            });
        });
        Timestream {
            backend: Backend::Local,
            inner: Inner::Local {
                _shutdown: tx,
                query: query_client(&endpoint),
            },
            endpoint,
        }
    }

    /// The records stored in `database.table`, in moto's shape (WriteRecords' Record).
    pub async fn records(&self, database: &str, table: &str) -> Vec<Value> {
        match &self.inner {
            Inner::Moto { records_url, .. } => {
                let url = format!("{records_url}?database={database}&table={table}");
                let body: Value = reqwest::get(url).await.unwrap().json().await.unwrap();
                body.as_array().unwrap().clone()
            }
            Inner::Local { query, .. } => local_records(query, database, table).await,
        }
    }
}

/// Every row of a Timestream Local table, as the record that was written.
async fn local_records(
    client: &aws_sdk_timestreamquery::Client,
    database: &str,
    table: &str,
) -> Vec<Value> {
    let sql = format!(
        "SELECT *, to_milliseconds(time) AS \"written ms\" FROM \"{database}\".\"{table}\""
    );
    let mut records = Vec::new();
    let mut token = None;
    loop {
        let page = client
            .query()
            .query_string(&sql)
            .set_next_token(token)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{sql}: {:?}", e.into_service_error()));
        let names: Vec<&str> = page
            .column_info()
            .iter()
            .map(|c| c.name().unwrap_or_default())
            .collect();
        for row in page.rows() {
            let mut record = serde_json::json!({ "Dimensions": [], "MeasureValueType": "DOUBLE" });
            for (name, datum) in names.iter().zip(row.data()) {
                let Some(value) = datum.scalar_value() else {
                    continue; // NULL: a dimension this record does not have
                };
                match *name {
                    "measure_name" => record["MeasureName"] = value.into(),
                    "measure_value::double" => record["MeasureValue"] = value.into(),
                    "written ms" => record["Time"] = value.into(),
                    "time" => {}
                    dimension => record["Dimensions"]
                        .as_array_mut()
                        .unwrap()
                        .push(serde_json::json!({ "Name": dimension, "Value": value })),
                }
            }
            records.push(record);
        }
        token = page.next_token;
        if token.is_none() {
            return records;
        }
    }
}

impl Drop for Timestream {
    fn drop(&mut self) {
        if let Inner::Moto { child, .. } = &mut self.inner {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A Timestream query client for `endpoint`.
pub fn query_client(endpoint: &str) -> aws_sdk_timestreamquery::Client {
    let config = aws_sdk_timestreamquery::Config::builder()
        .behavior_version(aws_sdk_timestreamquery::config::BehaviorVersion::latest())
        .region(aws_sdk_timestreamquery::config::Region::new(REGION))
        .endpoint_url(endpoint)
        .credentials_provider(aws_credential_types::Credentials::new(
            "testing", "testing", None, None, "test",
        ))
        .build();
    aws_sdk_timestreamquery::Client::from_conf(config)
}

/// A Timestream write client for `endpoint`, the way the tests set up tables.
pub async fn write_client(endpoint: &str) -> aws_sdk_timestreamwrite::Client {
    let config = aws_sdk_timestreamwrite::Config::builder()
        .behavior_version(aws_sdk_timestreamwrite::config::BehaviorVersion::latest())
        .region(aws_sdk_timestreamwrite::config::Region::new(REGION))
        .endpoint_url(endpoint)
        .credentials_provider(aws_credential_types::Credentials::new(
            "testing", "testing", None, None, "test",
        ))
        .build();
    aws_sdk_timestreamwrite::Client::from_conf(config)
}

/// Creates `database` and `tables` in `timestream`. Timestream Local's tables take
/// writes of any age (magnetic store writes), as the fixtures' times are fixed.
pub async fn create_table(timestream: &Timestream, database: &str, tables: &[&str]) {
    let client = write_client(&timestream.endpoint).await;
    client
        .create_database()
        .database_name(database)
        .send()
        .await
        .expect("create database");
    for table in tables {
        let mut request = client
            .create_table()
            .database_name(database)
            .table_name(*table);
        if timestream.backend == Backend::Local {
            request = request.magnetic_store_write_properties(
                aws_sdk_timestreamwrite::types::MagneticStoreWriteProperties::builder()
                    .enable_magnetic_store_writes(true)
                    .build()
                    .unwrap(),
            );
        }
        request.send().await.expect("create table");
    }
}

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
        let connector = Connector::start(&args).await;
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

/// The connector binary, started with `args` on a loopback port.
pub struct Connector {
    child: Child,
    pub url: String,
    log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Connector {
    pub async fn start(args: &[&str]) -> Connector {
        let mut child = aws_env(&mut Command::new(env!(
            "CARGO_BIN_EXE_timestream-prometheus-connector"
        )))
        .arg("--web.listen-address=127.0.0.1:0")
        .arg("--log.level=debug")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the connector");
        // The first log line that names the address says it is listening.
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let lines = log.clone();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("connector| {line}");
                lines.lock().unwrap().push(line.clone());
                if let Some(address) = line
                    .split_whitespace()
                    .find_map(|w| w.strip_prefix("address="))
                {
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(address.trim_matches('"').to_string());
                    }
                }
            }
        });
        let address: SocketAddr = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the connector logs its address once listening")
            .parse()
            .unwrap();
        let tls = args.iter().any(|a| a.starts_with("--tls-certificate"));
        let connector = Connector {
            child,
            log,
            url: format!("{}://{address}", if tls { "https" } else { "http" }),
        };
        if !tls {
            let health = reqwest::get(format!("{}/health", connector.url))
                .await
                .unwrap();
            assert_eq!(health.status(), 200);
        }
        connector
    }

    /// The value of `key=` in the first log line that has one.
    pub fn logged(&self, key: &str) -> Option<String> {
        let prefix = format!("{key}=");
        self.log.lock().unwrap().iter().find_map(|line| {
            line.split_whitespace()
                .find_map(|w| w.strip_prefix(prefix.as_str()))
                .map(|v| v.trim_matches('"').to_string())
        })
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

/// Sends `request` as Prometheus would: snappy-compressed protobuf.
pub async fn remote_write(url: &str, request: &proto::WriteRequest) -> (u16, String) {
    remote_write_raw(url, snappy::compress(&request.encode_to_vec()), None).await
}

pub async fn remote_write_raw(
    url: &str,
    body: Vec<u8>,
    auth: Option<(&str, &str)>,
) -> (u16, String) {
    let mut request = reqwest::Client::new()
        .post(format!("{url}/write"))
        .header("Content-Encoding", "snappy")
        .header("Content-Type", "application/x-protobuf")
        .header("X-Prometheus-Remote-Write-Version", "0.1.0")
        .body(body);
    if let Some((user, password)) = auth {
        request = request.basic_auth(user, Some(password));
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

/// A series for a WriteRequest.
pub fn series(labels: &[(&str, &str)], samples: &[(i64, f64)]) -> proto::TimeSeries {
    proto::TimeSeries {
        labels: labels
            .iter()
            .map(|(n, v)| proto::Label {
                name: n.to_string(),
                value: v.to_string(),
            })
            .collect(),
        samples: samples
            .iter()
            .map(|&(timestamp, value)| proto::Sample { value, timestamp })
            .collect(),
        exemplars: vec![],
    }
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

/// Debian's Prometheus on a loopback port, with its own data directory.
pub struct Prometheus {
    child: Child,
    pub url: String,
    dir: tempfile::TempDir,
}

impl Prometheus {
    /// Starts Prometheus with `config`, in which `{self}` stands for its own address.
    pub async fn start(config: &str) -> Prometheus {
        let dir = tempfile::tempdir().unwrap();
        // Prometheus must know its own address to scrape itself, so it cannot take port 0.
        let address = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let config_path = write_file(
            dir.path(),
            "prometheus.yml",
            &config.replace("{self}", &address.to_string()),
        );
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address={address}"))
            .arg("--web.enable-lifecycle")
            .arg("--log.level=warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start prometheus (Debian package `prometheus`)");
        let prometheus = Prometheus {
            child,
            url: format!("http://{address}"),
            dir,
        };
        let ready = format!("{}/-/ready", prometheus.url);
        eventually(
            "Prometheus to be ready",
            Duration::from_secs(60),
            || async { matches!(reqwest::get(&ready).await, Ok(r) if r.status() == 200) },
        )
        .await;
        prometheus
    }

    /// Replaces the configuration and waits for Prometheus to apply it.
    pub async fn reload(&self, config: &str) {
        let address = self.url.trim_start_matches("http://");
        write_file(
            self.dir.path(),
            "prometheus.yml",
            &config.replace("{self}", address),
        );
        let response = reqwest::Client::new()
            .post(format!("{}/-/reload", self.url))
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            200,
            "reload: {}",
            response.text().await.unwrap()
        );
    }

    /// The value of one of Prometheus' own metrics, summed over matching series.
    pub async fn metric(&self, name_and_labels: &str) -> f64 {
        scrape(&self.url, name_and_labels).await
    }

    /// Waits until everything Prometheus appended has been sent by remote write, and
    /// checks that nothing failed.
    pub async fn drained(&self) {
        eventually(
            "Prometheus' remote write queue to drain",
            Duration::from_secs(120),
            || async {
                let pending = self
                    .metric("prometheus_remote_storage_samples_pending")
                    .await;
                let appended = self
                    .metric("prometheus_remote_storage_highest_timestamp_in_seconds")
                    .await;
                let sent = self
                    .metric("prometheus_remote_storage_queue_highest_sent_timestamp_seconds")
                    .await;
                pending == 0.0 && sent >= appended
            },
        )
        .await;
        assert_eq!(
            self.metric("prometheus_remote_storage_samples_failed_total")
                .await,
            0.0
        );
    }

    /// GET `/api/v1/{path}` with `params`; the response, checked to be a success.
    pub async fn api(&self, path: &str, params: &[(&str, &str)]) -> Value {
        let response: Value = reqwest::Client::new()
            .get(format!("{}/api/v1/{path}", self.url))
            .query(params)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            response["status"], "success",
            "{path} {params:?}: {response}"
        );
        response
    }

    /// Every finite sample in Prometheus' own storage from the last `range`.
    pub async fn all_samples(&self, range: &str) -> std::collections::BTreeMap<Key, u64> {
        let query = format!("{{__name__=~\".+\"}}[{range}]");
        let response = self.api("query", &[("query", &query)]).await;
        let mut samples = std::collections::BTreeMap::new();
        for series in response["data"]["result"].as_array().unwrap() {
            let metric = series["metric"].as_object().unwrap();
            let name = metric["__name__"].as_str().unwrap().to_string();
            let mut dims: Vec<(String, String)> = metric
                .iter()
                .filter(|(k, _)| *k != "__name__")
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
                .collect();
            dims.sort();
            for pair in series["values"].as_array().unwrap() {
                // [seconds as a float with millisecond precision, value as text]
                let millis = (pair[0].as_f64().unwrap() * 1000.0).round() as i64;
                let value: f64 = pair[1].as_str().unwrap().parse().unwrap();
                if value.is_finite() {
                    samples.insert((name.clone(), dims.clone(), millis), value.to_bits());
                }
            }
        }
        samples
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
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

/// A series as remote read returns it: labels, samples (value bits, for exactness).
pub type ReadSeries = (Vec<(String, String)>, Vec<(i64, u64)>);

/// Sends a remote read request; `streamed` asks for STREAMED_XOR_CHUNKS first. Returns
/// the status, the content type and, on success, each query's series (a streamed series
/// split over frames is joined again).
pub async fn remote_read(
    url: &str,
    queries: Vec<proto::Query>,
    streamed: bool,
) -> (u16, String, Vec<Vec<ReadSeries>>) {
    use timestream_prometheus_connector::remote::chunks;
    let request = proto::ReadRequest {
        queries,
        accepted_response_types: if streamed { vec![1, 0] } else { vec![] },
    };
    let response = reqwest::Client::new()
        .post(format!("{url}/read"))
        .header("Content-Encoding", "snappy")
        .header("Content-Type", "application/x-protobuf")
        .header("X-Prometheus-Remote-Read-Version", "0.1.0")
        .body(snappy::compress(&request.encode_to_vec()))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let body = response.bytes().await.unwrap();
    if status != 200 {
        return (status, String::from_utf8_lossy(&body).into_owned(), vec![]);
    }
    let mut results: Vec<Vec<ReadSeries>> = vec![vec![]; request.queries.len()];
    let labels = |labels: &[proto::Label]| -> Vec<(String, String)> {
        labels
            .iter()
            .map(|l| (l.name.clone(), l.value.clone()))
            .collect()
    };
    if streamed {
        assert!(
            content_type.starts_with("application/x-streamed-protobuf"),
            "{content_type}"
        );
        let mut rest: &[u8] = &body;
        while !rest.is_empty() {
            let (data, next) = chunks::read_frame(rest).expect("a whole frame with a good CRC");
            rest = next;
            let frame = proto::ChunkedReadResponse::decode(data).unwrap();
            assert_eq!(frame.chunked_series.len(), 1, "one series per frame");
            let query = &mut results[frame.query_index as usize];
            for series in frame.chunked_series {
                let series_labels = labels(&series.labels);
                let mut samples = Vec::new();
                for chunk in &series.chunks {
                    let decoded = chunks::decode_xor(&chunk.data).unwrap();
                    assert_eq!(decoded.first().unwrap().0, chunk.min_time_ms);
                    assert_eq!(decoded.last().unwrap().0, chunk.max_time_ms);
                    samples.extend(decoded.into_iter().map(|(t, v)| (t, v.to_bits())));
                }
                match query.last_mut() {
                    Some((last, s)) if *last == series_labels => s.extend(samples),
                    _ => query.push((series_labels, samples)),
                }
            }
        }
    } else {
        assert_eq!(content_type, "application/x-protobuf");
        let response =
            proto::ReadResponse::decode(snappy::decompress(&body).unwrap().as_slice()).unwrap();
        for (i, result) in response.results.into_iter().enumerate() {
            results[i] = result
                .timeseries
                .iter()
                .map(|s| {
                    (
                        labels(&s.labels),
                        s.samples
                            .iter()
                            .map(|x| (x.timestamp, x.value.to_bits()))
                            .collect(),
                    )
                })
                .collect();
        }
    }
    (status, content_type, results)
}

/// A remote read query.
pub fn read_query(start: i64, end: i64, matchers: &[(i32, &str, &str)]) -> proto::Query {
    proto::Query {
        start_timestamp_ms: start,
        end_timestamp_ms: end,
        matchers: matchers
            .iter()
            .map(|(kind, name, value)| proto::LabelMatcher {
                r#type: *kind,
                name: name.to_string(),
                value: value.to_string(),
            })
            .collect(),
        hints: None,
    }
}
