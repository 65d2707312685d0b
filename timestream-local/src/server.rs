//! The HTTP face: one POST route that dispatches on `X-Amz-Target`, as Timestream's
//! write and query endpoints do, and answers in JSON 1.0 with Timestream's error shapes.
//!
//! The top layer, with [`crate::query`]: it reads the time from [`Local`]'s clock, so
//! that one instance has one idea of now.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::FutureExt;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use crate::error::Error;
use crate::record::TableSettings;
use crate::store::{Database, Rejected, Table};
use crate::wire;
use crate::Local;

const TARGET_PREFIX: &str = "Timestream_20181101.";
const CONTENT_TYPE: &str = "application/x-amz-json-1.0";
/// ListDatabases and ListTables answer at most this many per page.
const MAX_LIST_RESULTS: usize = 20;
/// Where ARNs say the resources live.
const ARN_PREFIX: &str = "arn:aws:timestream:local:000000000000:database";

pub async fn handle(State(local): State<Local>, headers: HeaderMap, body: Bytes) -> Response {
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let host = headers
        .get("host")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("localhost");
    let operation = target.strip_prefix(TARGET_PREFIX).unwrap_or(target);
    tracing::debug!(operation, "request");
    // A bug must cost one request a 500, not the process or its connection.
    let dispatched = AssertUnwindSafe(dispatch(&local, operation, host, &body))
        .catch_unwind()
        .await;
    let Ok(dispatched) = dispatched else {
        let panics = PANICS.fetch_add(1, Ordering::Relaxed) + 1;
        tracing::error!(operation, panics, "a request panicked; answered 500");
        return exception(
            "InternalServerException",
            500,
            "Timestream Local failed on this request (a bug): it was not applied",
            json!({}),
        );
    };
    match dispatched {
        Ok(text) => reply(StatusCode::OK, &[], text),
        Err(Failure::Error(e)) => {
            let (name, status) = e.wire();
            if status >= 500 {
                tracing::error!(operation, error = %e, "request failed");
            }
            exception(name, status, &e.to_string(), json!({}))
        }
        Err(Failure::Rejected(records)) => exception(
            "RejectedRecordsException",
            419,
            "One or more records have been rejected. See RejectedRecords for details.",
            json!({ "RejectedRecords": records.iter().map(rejected_json).collect::<Vec<_>>() }),
        ),
    }
}

/// Requests that panicked since the process started.
static PANICS: AtomicU64 = AtomicU64::new(0);

/// How many requests panicked (each answered 500) since the process started.
pub fn panics() -> u64 {
    PANICS.load(Ordering::Relaxed)
}

enum Failure {
    Error(Error),
    Rejected(Vec<Rejected>),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Error(e)
    }
}

fn reply(status: StatusCode, extra: &[(&'static str, &str)], body: String) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert("content-type", CONTENT_TYPE.parse().unwrap());
    for (name, value) in extra {
        headers.insert(*name, value.parse().unwrap());
    }
    response
}

fn exception(name: &str, status: u16, message: &str, mut fields: Value) -> Response {
    let full = format!("com.amazonaws.timestream.v20181101#{name}");
    fields["__type"] = json!(full);
    // The models name the member `Message`; some clients read `message`.
    fields["Message"] = json!(message);
    fields["message"] = json!(message);
    reply(
        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
        &[("x-amzn-errortype", name)],
        fields.to_string(),
    )
}

fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, Error> {
    serde_json::from_slice(if body.is_empty() { b"{}" } else { body })
        .map_err(|e| Error::Validation(format!("The request body is not valid: {e}")))
}

async fn dispatch(
    local: &Local,
    operation: &str,
    host: &str,
    body: &[u8],
) -> Result<String, Failure> {
    let store = &local.store;
    let clock = &local.clock;
    let value = match operation {
        "DescribeEndpoints" => json!({
            "Endpoints": [{ "Address": host, "CachePeriodInMinutes": 1440 }]
        }),
        "CreateDatabase" => {
            let r: wire::DatabaseRef = parse(body)?;
            store.create_database(&r.database_name, clock.seconds())?;
            let catalog = store.read();
            json!({ "Database": database_json(catalog.database(&r.database_name)?) })
        }
        "DescribeDatabase" => {
            let r: wire::DatabaseRef = parse(body)?;
            json!({ "Database": database_json(store.read().database(&r.database_name)?) })
        }
        "DeleteDatabase" => {
            let r: wire::DatabaseRef = parse(body)?;
            store.delete_database(&r.database_name)?;
            json!({})
        }
        "ListDatabases" => {
            let r: wire::List = parse(body)?;
            let catalog = store.read();
            let (page, next) = page(catalog.databases.keys(), &r)?;
            let databases: Vec<Value> = page
                .iter()
                .map(|name| database_json(&catalog.databases[*name]))
                .collect();
            json!({ "Databases": databases, "NextToken": next })
        }
        "CreateTable" => {
            let r: wire::TableRef = parse(body)?;
            store.create_table(
                &r.database_name,
                &r.table_name,
                settings(&r, None),
                clock.seconds(),
            )?;
            json!({ "Table": table_json(&r.database_name, store.read().table(&r.database_name, &r.table_name)?) })
        }
        "UpdateTable" => {
            let r: wire::TableRef = parse(body)?;
            let current = store
                .read()
                .table(&r.database_name, &r.table_name)?
                .settings
                .clone();
            store.update_table(
                &r.database_name,
                &r.table_name,
                settings(&r, Some(current)),
                clock.seconds(),
            )?;
            json!({ "Table": table_json(&r.database_name, store.read().table(&r.database_name, &r.table_name)?) })
        }
        "DescribeTable" => {
            let r: wire::TableRef = parse(body)?;
            json!({ "Table": table_json(&r.database_name, store.read().table(&r.database_name, &r.table_name)?) })
        }
        "DeleteTable" => {
            let r: wire::TableRef = parse(body)?;
            store.delete_table(&r.database_name, &r.table_name)?;
            json!({})
        }
        "ListTables" => {
            let r: wire::List = parse(body)?;
            let catalog = store.read();
            let mut tables: Vec<(&Database, &Table)> = Vec::new();
            for db in catalog.databases.values() {
                if r.database_name
                    .as_deref()
                    .is_none_or(|name| name == db.name)
                {
                    tables.extend(db.tables.values().map(|t| (db, t)));
                }
            }
            if let Some(name) = &r.database_name {
                catalog.database(name)?;
            }
            let keys: Vec<String> = tables
                .iter()
                .map(|(d, t)| format!("{}/{}", d.name, t.name))
                .collect();
            let (page, next) = page(keys.iter(), &r)?;
            let page: Vec<Value> = tables
                .iter()
                .zip(&keys)
                .filter(|(_, k)| page.contains(k))
                .map(|((d, t), _)| table_json(&d.name, t))
                .collect();
            json!({ "Tables": page, "NextToken": next })
        }
        "WriteRecords" => {
            let r: wire::WriteRecords = parse(body)?;
            let (ingested, rejected) = store.write(
                &r.database_name,
                &r.table_name,
                r.common_attributes.as_ref(),
                &r.records,
                clock.nanos(),
            )?;
            if !rejected.is_empty() {
                return Err(Failure::Rejected(rejected));
            }
            json!({ "RecordsIngested": {
                "Total": ingested.total,
                "MemoryStore": ingested.memory,
                "MagneticStore": ingested.magnetic,
            }})
        }
        // Already text: its rows are written as text, for speed (see `format::rows`).
        "Query" => return Ok(local.queries.query(parse(body)?).await?),
        "CancelQuery" => {
            let r: wire::CancelQuery = parse(body)?;
            local.queries.cancel(&r.query_id)?
        }
        #[cfg(test)]
        "TestPanic" => panic!("a request that panics, for the tests"),
        other => {
            return Err(Error::UnknownOperation(format!("Unknown operation {other:?}")).into())
        }
    };
    Ok(value.to_string())
}

/// One page of names, after `NextToken` (the last name of the previous page).
fn page<'a, I: Iterator<Item = &'a String>>(
    names: I,
    r: &wire::List,
) -> Result<(Vec<&'a String>, Option<String>), Error> {
    let size = r.max_results.unwrap_or(MAX_LIST_RESULTS);
    if !(1..=MAX_LIST_RESULTS).contains(&size) {
        return Err(Error::Validation(format!(
            "MaxResults must be between 1 and {MAX_LIST_RESULTS}"
        )));
    }
    let mut rest: Vec<&String> = names
        .filter(|n| r.next_token.as_ref().is_none_or(|after| *n > after))
        .collect();
    let next = (rest.len() > size).then(|| rest[size - 1].clone());
    rest.truncate(size);
    Ok((rest, next))
}

fn settings(r: &wire::TableRef, current: Option<TableSettings>) -> TableSettings {
    let mut s = current.unwrap_or_default();
    if let Some(retention) = &r.retention_properties {
        s.memory_hours = retention.memory_store_retention_period_in_hours;
        s.magnetic_days = retention.magnetic_store_retention_period_in_days;
    }
    if let Some(magnetic) = &r.magnetic_store_write_properties {
        s.magnetic_writes = magnetic.enable_magnetic_store_writes;
    }
    s
}

fn database_json(db: &Database) -> Value {
    json!({
        "Arn": format!("{ARN_PREFIX}/{}", db.name),
        "DatabaseName": db.name,
        "TableCount": db.tables.len(),
        "KmsKeyId": "local",
        "CreationTime": db.created,
        "LastUpdatedTime": db.created,
    })
}

fn table_json(database: &str, t: &Table) -> Value {
    json!({
        "Arn": format!("{ARN_PREFIX}/{database}/table/{}", t.name),
        "TableName": t.name,
        "DatabaseName": database,
        "TableStatus": "ACTIVE",
        "RetentionProperties": {
            "MemoryStoreRetentionPeriodInHours": t.settings.memory_hours,
            "MagneticStoreRetentionPeriodInDays": t.settings.magnetic_days,
        },
        "MagneticStoreWriteProperties": { "EnableMagneticStoreWrites": t.settings.magnetic_writes },
        "CreationTime": t.created,
        "LastUpdatedTime": t.updated,
    })
}

fn rejected_json(r: &Rejected) -> Value {
    let mut v = json!({ "RecordIndex": r.index, "Reason": r.reason });
    if let Some(version) = r.existing_version {
        v["ExistingVersion"] = json!(version);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(operation: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        let target = format!("{TARGET_PREFIX}{operation}");
        headers.insert("x-amz-target", target.parse().unwrap());
        headers
    }

    #[tokio::test]
    async fn a_request_that_panics_is_a_500_and_the_next_is_served() {
        let local = Local::open(&crate::Options::default()).unwrap();
        let before = panics();
        let answer = handle(State(local.clone()), call("TestPanic"), Bytes::new()).await;
        assert_eq!(answer.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(panics(), before + 1);
        let answer = handle(State(local), call("DescribeEndpoints"), Bytes::new()).await;
        assert_eq!(answer.status(), StatusCode::OK);
    }
}
