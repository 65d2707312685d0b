//! Query: Timestream SQL executed by DataFusion, with Timestream's pagination.
//!
//! The query text is translated ([`dialect`]), planned against the store's tables
//! ([`tables`]) with Timestream's functions ([`functions`]), and its results handed out
//! a page at a time: a query that has more rows leaves a cursor behind its NextToken,
//! which pulls further batches only when the next page is asked for.
//!
//! The top layer, with [`crate::server`]: it reads the store, and is handed its clock.

pub mod dialect;
pub mod format;
pub mod functions;
pub mod metadata;
pub mod tables;

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use datafusion::common::{DataFusionError, SchemaError};
use datafusion::execution::SendableRecordBatchStream;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::prelude::{SQLOptions, SessionConfig, SessionContext};
use futures::StreamExt;
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{json, Value};

use crate::clock::Clock;
use crate::error::Error;
use crate::store::Store;
use crate::wire;

/// Timestream's largest MaxRows, and the page size when none is asked for.
pub const MAX_ROWS: usize = 1000;
/// Timestream meters at least this much per query.
const MIN_METERED_BYTES: u64 = 10_000_000;
/// A NextToken not used for this long is forgotten.
const CURSOR_IDLE: Duration = Duration::from_secs(600);
const CATALOG: &str = "timestream";

pub struct Queries {
    store: Arc<Store>,
    snapshots: Arc<tables::Snapshots>,
    cursors: Mutex<HashMap<String, Cursor>>,
    max_page_rows: usize,
    /// Whose time `now()` and its kin are.
    clock: Clock,
}

/// A Query answer, with its rows already JSON text (see [`format::rows`]).
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Page<'a> {
    query_id: &'a str,
    rows: Vec<Box<RawValue>>,
    column_info: &'a [Value],
    query_status: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<&'a str>,
}

struct Cursor {
    id: String,
    query: String,
    columns: Vec<Value>,
    stream: Option<SendableRecordBatchStream>,
    pending: VecDeque<Box<RawValue>>,
    scanned: Arc<AtomicU64>,
    touched: Instant,
}

impl Queries {
    pub fn new(store: Arc<Store>, max_page_rows: usize, clock: Clock) -> Queries {
        Queries {
            store,
            snapshots: Default::default(),
            cursors: Mutex::new(HashMap::new()),
            max_page_rows,
            clock,
        }
    }

    /// One page of a query's result, as the JSON text of Timestream's answer.
    pub async fn query(&self, r: wire::Query) -> Result<String, Error> {
        let max_rows = r.max_rows.unwrap_or(MAX_ROWS);
        if !(1..=MAX_ROWS).contains(&max_rows) {
            return Err(Error::Validation(format!(
                "MaxRows must be between 1 and {MAX_ROWS}"
            )));
        }
        let page_rows = max_rows.min(self.max_page_rows);
        let mut cursor = match &r.next_token {
            Some(token) => {
                let cursor = self.cursors().remove(token).ok_or_else(|| {
                    Error::Validation("The NextToken is invalid or has expired.".into())
                })?;
                if cursor.query != r.query_string {
                    return Err(Error::Validation(
                        "The NextToken belongs to another QueryString.".into(),
                    ));
                }
                cursor
            }
            None => self.start(&r.query_string).await?,
        };
        while cursor.pending.len() < page_rows {
            let Some(stream) = cursor.stream.as_mut() else {
                break;
            };
            match stream.next().await {
                Some(Ok(batch)) => cursor.pending.extend(format::rows(&batch)),
                Some(Err(e)) => return Err(translate(e, &r.query_string, None)),
                None => cursor.stream = None,
            }
        }
        let take = cursor.pending.len().min(page_rows);
        let rows: Vec<Box<RawValue>> = cursor.pending.drain(..take).collect();
        let done = cursor.stream.is_none() && cursor.pending.is_empty();
        let scanned = cursor.scanned.load(Ordering::Relaxed);
        let token = (!done).then(random_id);
        let page = Page {
            query_id: &cursor.id,
            rows,
            column_info: &cursor.columns,
            query_status: json!({
                "ProgressPercentage": if done { 100.0 } else { 50.0 },
                "CumulativeBytesScanned": scanned,
                "CumulativeBytesMetered": scanned.max(MIN_METERED_BYTES),
            }),
            next_token: token.as_deref(),
        };
        let text = serde_json::to_string(&page).expect("a page serialises");
        if let Some(token) = token {
            cursor.touched = Instant::now();
            let mut cursors = self.cursors();
            cursors.retain(|_, c| c.touched.elapsed() < CURSOR_IDLE);
            cursors.insert(token, cursor);
        }
        Ok(text)
    }

    pub fn cancel(&self, query_id: &str) -> Result<Value, Error> {
        let mut cursors = self.cursors();
        let before = cursors.len();
        cursors.retain(|_, c| c.id != query_id);
        let message = if cursors.len() < before {
            "Query canceled."
        } else {
            "Query already finished or unknown."
        };
        Ok(json!({ "CancellationMessage": message }))
    }

    fn cursors(&self) -> std::sync::MutexGuard<'_, HashMap<String, Cursor>> {
        self.cursors.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn start(&self, query: &str) -> Result<Cursor, Error> {
        let sql = dialect::rewrite(query);
        let scanned = Arc::new(AtomicU64::new(0));
        let stream: SendableRecordBatchStream = match metadata::answer(&sql, &self.store) {
            Some(batch) => {
                let batch = batch?;
                Box::pin(RecordBatchStreamAdapter::new(
                    batch.schema(),
                    futures::stream::iter([Ok(batch)]),
                ))
            }
            None => {
                let missing = Arc::new(tables::Missing::default());
                let ctx = self.session(scanned.clone(), missing.clone());
                let options = SQLOptions::new()
                    .with_allow_ddl(false)
                    .with_allow_dml(false)
                    .with_allow_statements(false);
                let plan = ctx
                    .sql_with_options(&sql, options)
                    .await
                    .map_err(|e| translate(e, query, missing.take()))?;
                plan.execute_stream()
                    .await
                    .map_err(|e| translate(e, query, None))?
            }
        };
        Ok(Cursor {
            id: random_id(),
            query: query.to_string(),
            columns: format::column_info(&stream.schema()),
            stream: Some(stream),
            pending: VecDeque::new(),
            scanned,
            touched: Instant::now(),
        })
    }

    fn session(&self, scanned: Arc<AtomicU64>, missing: Arc<tables::Missing>) -> SessionContext {
        let mut config = SessionConfig::new()
            .with_default_catalog_and_schema(CATALOG, "__no_database__")
            .with_information_schema(false);
        // Timestream's names are case-sensitive, quoted or not.
        config.options_mut().sql_parser.enable_ident_normalization = false;
        let ctx = SessionContext::new_with_config(config);
        ctx.register_catalog(
            CATALOG,
            Arc::new(tables::Catalog {
                store: self.store.clone(),
                snapshots: self.snapshots.clone(),
                scanned,
                missing,
            }),
        );
        for f in functions::all(self.clock.nanos()) {
            ctx.register_udf(f);
        }
        ctx
    }
}

/// DataFusion's errors as Timestream words them, where Timestream has a form for them:
/// a column the table does not have (DataFusion's typed schema error), and a database
/// or table the catalog was asked for and does not have (`missing`, noted by the
/// catalog while planning).
fn translate(e: DataFusionError, query: &str, missing: Option<(String, Option<String>)>) -> Error {
    let root = e.find_root();
    if let DataFusionError::SchemaError(schema_error, _) = root {
        if let SchemaError::FieldNotFound { field, .. } = schema_error.as_ref() {
            let (line, column) = dialect::position_of(query, &field.name);
            return Error::Validation(format!(
                "line {line}:{column}: Column '{}' does not exist",
                field.name
            ));
        }
    }
    if let (DataFusionError::Plan(_), Some((db, table))) = (root, missing) {
        return Error::Validation(match table {
            None => {
                let (line, column) = dialect::position_of(query, &db);
                format!("line {line}:{column}: Database '{db}' does not exist")
            }
            Some(table) => {
                let (line, column) = dialect::position_of(query, &table);
                format!("line {line}:{column}: Table '{db}.{table}' does not exist")
            }
        });
    }
    Error::Validation(root.to_string())
}

fn random_id() -> String {
    let bytes: [u8; 16] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
