//! Timestream Local on a loopback port, and the official SDK clients pointed at it.

#![allow(dead_code)] // each test binary uses a different part of this module

use aws_sdk_timestreamwrite::error::SdkError;
use aws_sdk_timestreamwrite::operation::write_records::{WriteRecordsError, WriteRecordsOutput};
use aws_sdk_timestreamwrite::types::{Dimension, Record};
use timestream_local::{Local, Options};

pub const REGION: &str = "us-east-1";

pub struct Server {
    pub endpoint: String,
    pub write: aws_sdk_timestreamwrite::Client,
    pub query: aws_sdk_timestreamquery::Client,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

impl Server {
    /// An in-memory instance, served from this test's runtime.
    pub async fn start() -> Server {
        Server::start_with(Options::default()).await
    }

    pub async fn start_with(options: Options) -> Server {
        let local = Local::open(&options).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(local.serve(listener, async {
            let _ = rx.await;
        }));
        Server::connect(endpoint, tx)
    }

    pub fn connect(endpoint: String, shutdown: tokio::sync::oneshot::Sender<()>) -> Server {
        Server {
            write: write_client(&endpoint),
            query: query_client(&endpoint),
            endpoint,
            _shutdown: shutdown,
        }
    }

    pub async fn create(&self, database: &str, table: &str) {
        let _ = self
            .write
            .create_database()
            .database_name(database)
            .send()
            .await;
        self.write
            .create_table()
            .database_name(database)
            .table_name(table)
            .send()
            .await
            .unwrap();
    }

    pub async fn write_records(
        &self,
        table: &str,
        common: Option<Record>,
        records: Vec<Record>,
    ) -> Result<
        WriteRecordsOutput,
        SdkError<WriteRecordsError, aws_smithy_runtime_api::http::Response>,
    > {
        self.write
            .write_records()
            .database_name("conformance")
            .table_name(table)
            .set_common_attributes(common)
            .set_records(Some(records))
            .send()
            .await
    }

    /// Runs `sql` to the last page: column `name:TYPE`s and rows (None for NULL).
    pub async fn query_all(&self, sql: &str) -> (Vec<String>, Vec<Vec<Option<String>>>) {
        query_all(&self.query, sql).await
    }

    pub async fn count(&self, table: &str) -> usize {
        let (_, rows) = self
            .query_all(&format!("SELECT count(*) FROM \"conformance\".\"{table}\""))
            .await;
        rows[0][0].as_ref().unwrap().parse().unwrap()
    }
}

pub async fn query_all(
    client: &aws_sdk_timestreamquery::Client,
    sql: &str,
) -> (Vec<String>, Vec<Vec<Option<String>>>) {
    let mut token = None;
    let mut rows = Vec::new();
    loop {
        let page = client
            .query()
            .query_string(sql)
            .set_next_token(token)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{sql}: {:?}", e.into_service_error()));
        let columns = page
            .column_info()
            .iter()
            .map(|c| {
                format!(
                    "{}:{}",
                    c.name().unwrap_or_default(),
                    c.r#type()
                        .and_then(|t| t.scalar_type())
                        .map(|t| t.as_str().to_string())
                        .unwrap_or_default()
                )
            })
            .collect();
        rows.extend(page.rows().iter().map(|r| {
            r.data()
                .iter()
                .map(|d| d.scalar_value().map(str::to_string))
                .collect()
        }));
        token = page.next_token;
        if token.is_none() {
            return (columns, rows);
        }
    }
}

fn credentials() -> aws_credential_types::Credentials {
    aws_credential_types::Credentials::new("local", "local", None, None, "test")
}

pub fn write_client(endpoint: &str) -> aws_sdk_timestreamwrite::Client {
    let config = aws_sdk_timestreamwrite::Config::builder()
        .behavior_version(aws_sdk_timestreamwrite::config::BehaviorVersion::latest())
        .region(aws_sdk_timestreamwrite::config::Region::new(REGION))
        .endpoint_url(endpoint)
        .credentials_provider(credentials())
        .build();
    aws_sdk_timestreamwrite::Client::from_conf(config)
}

pub fn query_client(endpoint: &str) -> aws_sdk_timestreamquery::Client {
    let config = aws_sdk_timestreamquery::Config::builder()
        .behavior_version(aws_sdk_timestreamquery::config::BehaviorVersion::latest())
        .region(aws_sdk_timestreamquery::config::Region::new(REGION))
        .endpoint_url(endpoint)
        .credentials_provider(credentials())
        .build();
    aws_sdk_timestreamquery::Client::from_conf(config)
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// A single-measure DOUBLE record at `time_ms`.
pub fn record(measure: &str, dimensions: &[(&str, &str)], value: &str, time_ms: i64) -> Record {
    let mut builder = Record::builder()
        .measure_name(measure)
        .measure_value(value)
        .time(time_ms.to_string());
    for (name, value) in dimensions {
        builder = builder.dimensions(
            Dimension::builder()
                .name(*name)
                .value(*value)
                .build()
                .unwrap(),
        );
    }
    builder.build()
}

/// How Timestream prints a TIMESTAMP: `2020-06-05 15:15:51.000000000`.
pub fn timestamp_text(nanos: i64) -> String {
    timestream_local::query::format::timestamp(nanos)
}

/// Polls `check` until it is true; for conditions another task or process reaches.
pub async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !check() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
