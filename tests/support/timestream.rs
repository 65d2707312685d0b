//! The Timestream the connector writes to in a test: moto's or Timestream Local, and the
//! SDK clients the tests use on it.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};

use serde_json::Value;
use timestream_prometheus_connector::timestream::histograms;

use super::REGION;

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

/// Every row of a Timestream Local table, as the record that was written (a native
/// histogram's as a multi-measure record).
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
                    measure if histograms::MEASURES.contains(&measure) => {
                        record["MeasureValueType"] = "MULTI".into();
                        let values = record["MeasureValues"].as_array_mut();
                        let value = serde_json::json!({ "Name": measure, "Value": value });
                        match values {
                            Some(values) => values.push(value),
                            None => record["MeasureValues"] = serde_json::json!([value]),
                        }
                    }
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
