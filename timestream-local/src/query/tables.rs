//! Tables as DataFusion sees them: a catalog whose schemas are Timestream databases, so
//! that `"db"."table"` resolves, and each table a snapshot of its rows as Arrow batches.
//!
//! A table written to all the time (Prometheus remote-writes every few seconds) is read
//! between writes, so a snapshot is not rebuilt from the rows each time: the rows
//! appended since the last one become one more batch, and older batches only gain NULL
//! columns when a new column appeared. Only a replaced row (a higher Version) makes a
//! full rebuild.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use datafusion::arrow::array::{
    new_null_array, ArrayRef, BooleanBuilder, Float64Builder, Int64Builder, RecordBatch,
    StringBuilder, TimestampNanosecondBuilder,
};
use datafusion::arrow::compute::concat_batches;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::{CatalogProvider, MemTable, SchemaProvider, TableProvider};
use datafusion::common::Result;

use super::functions::TIMESTAMP;
use crate::record::{ColumnKind, Row, ScalarType, Value};
use crate::store::{Store, Table};

/// The first `rows` rows of a table of the given lineage, as query input.
struct Snapshot {
    lineage: u64,
    rows: usize,
    columns: Vec<(String, ColumnKind)>,
    /// All of the schema of `columns`; each holds over twice the rows of the next.
    batches: Vec<RecordBatch>,
    provider: Arc<MemTable>,
    bytes: u64,
}

impl Snapshot {
    fn is_current(&self, table: &Table) -> bool {
        self.lineage == table.lineage && self.rows == table.rows.len()
    }

    /// `table` as it is now, reusing what of `previous` still holds.
    fn refresh(previous: Option<&Snapshot>, table: &Table) -> Result<Snapshot> {
        let columns = table.columns();
        let schema = schema(&columns);
        let (mut batches, from) = match previous {
            Some(p) if p.lineage == table.lineage => {
                let widened = p
                    .batches
                    .iter()
                    .map(|b| widen(b, &p.columns, &columns, &schema))
                    .collect::<Result<Vec<_>>>()?;
                (widened, p.rows)
            }
            _ => (Vec::new(), 0),
        };
        batches.push(batch(&columns, schema.clone(), &table.rows[from..])?);
        // Merged like the digits of a binary counter: a table grown a few rows at a
        // time is held in O(log rows) batches, and a row is copied O(log rows) times.
        while let [.., older, newer] = batches.as_slice() {
            if older.num_rows() > 2 * newer.num_rows() {
                break;
            }
            let merged = concat_batches(&schema, [older, newer])?;
            batches.truncate(batches.len() - 2);
            batches.push(merged);
        }
        let bytes = batches
            .iter()
            .map(|b| b.get_array_memory_size() as u64)
            .sum();
        let provider = Arc::new(MemTable::try_new(schema, vec![batches.clone()])?);
        Ok(Snapshot {
            lineage: table.lineage,
            rows: table.rows.len(),
            columns,
            batches,
            provider,
            bytes,
        })
    }
}

/// Snapshots shared by all queries, keyed by database and table.
#[derive(Default)]
pub struct Snapshots(Mutex<HashMap<(String, String), Snapshot>>);

/// The catalog one query plans against; counts the bytes of the tables it opens, and
/// notes the first database or table it was asked for and does not have.
pub struct Catalog {
    pub store: Arc<Store>,
    pub snapshots: Arc<Snapshots>,
    pub scanned: Arc<AtomicU64>,
    pub missing: Arc<Missing>,
}

/// The first database (and table, when the database exists) a query named and the
/// catalog does not have: what tells a planning error to be "no such table" by what
/// happened, rather than by the words of DataFusion's message.
#[derive(Debug, Default)]
pub struct Missing(Mutex<Option<(String, Option<String>)>>);

impl Missing {
    fn note(&self, database: &str, table: Option<&str>) {
        let mut missing = self.0.lock().unwrap_or_else(|e| e.into_inner());
        missing.get_or_insert_with(|| (database.to_string(), table.map(str::to_string)));
    }

    /// The database and table that were not found, if any was asked for.
    pub fn take(&self) -> Option<(String, Option<String>)> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

impl fmt::Debug for Catalog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TimestreamCatalog")
    }
}

impl CatalogProvider for Catalog {
    fn schema_names(&self) -> Vec<String> {
        self.store.read().databases.keys().cloned().collect()
    }

    fn schema(&self, name: &str) -> Option<Arc<dyn SchemaProvider>> {
        if !self.store.read().databases.contains_key(name) {
            self.missing.note(name, None);
            return None;
        }
        Some(Arc::new(Database {
            name: name.to_string(),
            store: self.store.clone(),
            snapshots: self.snapshots.clone(),
            scanned: self.scanned.clone(),
            missing: self.missing.clone(),
        }))
    }
}

struct Database {
    name: String,
    store: Arc<Store>,
    snapshots: Arc<Snapshots>,
    scanned: Arc<AtomicU64>,
    missing: Arc<Missing>,
}

impl fmt::Debug for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Database({})", self.name)
    }
}

#[async_trait]
impl SchemaProvider for Database {
    fn table_names(&self) -> Vec<String> {
        let catalog = self.store.read();
        catalog
            .databases
            .get(&self.name)
            .map(|db| db.tables.keys().cloned().collect())
            .unwrap_or_default()
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        let catalog = self.store.read();
        let Some(table) = catalog
            .databases
            .get(&self.name)
            .and_then(|db| db.tables.get(name))
        else {
            self.missing.note(&self.name, Some(name));
            return Ok(None);
        };
        let key = (self.name.clone(), name.to_string());
        let mut snapshots = self.snapshots.0.lock().unwrap_or_else(|e| e.into_inner());
        let fresh = match snapshots.get(&key) {
            Some(s) if s.is_current(table) => None,
            previous => Some(Snapshot::refresh(previous, table)?),
        };
        if let Some(snapshot) = fresh {
            snapshots.insert(key.clone(), snapshot);
        }
        let snapshot = &snapshots[&key];
        self.scanned.fetch_add(snapshot.bytes, Ordering::Relaxed);
        Ok(Some(snapshot.provider.clone()))
    }

    fn table_exist(&self, name: &str) -> bool {
        self.store.read().table(&self.name, name).is_ok()
    }
}

pub fn data_type(kind: &ColumnKind) -> DataType {
    match kind {
        ColumnKind::Dimension | ColumnKind::MeasureName => DataType::Utf8,
        ColumnKind::Time => TIMESTAMP,
        ColumnKind::MeasureValue(t) | ColumnKind::Multi(t) => match t {
            ScalarType::Double => DataType::Float64,
            ScalarType::Bigint => DataType::Int64,
            ScalarType::Varchar => DataType::Utf8,
            ScalarType::Boolean => DataType::Boolean,
            ScalarType::Timestamp => TIMESTAMP,
        },
    }
}

fn schema(columns: &[(String, ColumnKind)]) -> SchemaRef {
    let fields: Vec<Field> = columns
        .iter()
        .map(|(name, kind)| {
            let required = matches!(kind, ColumnKind::MeasureName | ColumnKind::Time);
            Field::new(name, data_type(kind), !required)
        })
        .collect();
    Arc::new(Schema::new(fields))
}

/// `batch`, made with `old` columns, given those of `new` (a superset): the columns it
/// lacks are all NULL.
fn widen(
    batch: &RecordBatch,
    old: &[(String, ColumnKind)],
    new: &[(String, ColumnKind)],
    schema: &SchemaRef,
) -> Result<RecordBatch> {
    if old == new {
        return Ok(batch.clone());
    }
    let arrays = new
        .iter()
        .map(|column| match old.iter().position(|c| c == column) {
            Some(i) => batch.column(i).clone(),
            None => new_null_array(&data_type(&column.1), batch.num_rows()),
        })
        .collect();
    Ok(RecordBatch::try_new(schema.clone(), arrays)?)
}

/// Rows as one batch: dimensions absent from a row are NULL, as are the measure
/// columns a row has no value for.
fn batch(columns: &[(String, ColumnKind)], schema: SchemaRef, rows: &[Row]) -> Result<RecordBatch> {
    let arrays: Vec<ArrayRef> = columns
        .iter()
        .map(|(name, kind)| -> ArrayRef {
            match kind {
                ColumnKind::Dimension => {
                    let mut b = StringBuilder::with_capacity(rows.len(), rows.len() * 8);
                    for row in rows {
                        b.append_option(
                            row.dimensions
                                .binary_search_by(|(n, _)| n.as_str().cmp(name))
                                .ok()
                                .map(|i| row.dimensions[i].1.as_str()),
                        );
                    }
                    Arc::new(b.finish())
                }
                ColumnKind::MeasureName => {
                    let mut b = StringBuilder::with_capacity(rows.len(), rows.len() * 16);
                    for row in rows {
                        b.append_value(&row.measure_name);
                    }
                    Arc::new(b.finish())
                }
                ColumnKind::Time => {
                    let mut b = TimestampNanosecondBuilder::with_capacity(rows.len());
                    for row in rows {
                        b.append_value(row.time);
                    }
                    Arc::new(b.finish())
                }
                ColumnKind::MeasureValue(t) | ColumnKind::Multi(t) => {
                    let values = rows
                        .iter()
                        .map(|row| row.measures.iter().find(|(n, _)| n == name).map(|(_, v)| v));
                    measure_array(*t, values)
                }
            }
        })
        .collect();
    Ok(RecordBatch::try_new(schema, arrays)?)
}

fn measure_array<'a>(ty: ScalarType, values: impl Iterator<Item = Option<&'a Value>>) -> ArrayRef {
    match ty {
        ScalarType::Double => {
            let mut b = Float64Builder::new();
            values.for_each(|v| {
                b.append_option(v.and_then(|v| match v {
                    Value::Double(x) => Some(*x),
                    _ => None,
                }))
            });
            Arc::new(b.finish())
        }
        ScalarType::Bigint => {
            let mut b = Int64Builder::new();
            values.for_each(|v| {
                b.append_option(v.and_then(|v| match v {
                    Value::Bigint(x) => Some(*x),
                    _ => None,
                }))
            });
            Arc::new(b.finish())
        }
        ScalarType::Varchar => {
            let mut b = StringBuilder::new();
            values.for_each(|v| {
                b.append_option(v.and_then(|v| match v {
                    Value::Varchar(x) => Some(x.as_str()),
                    _ => None,
                }))
            });
            Arc::new(b.finish())
        }
        ScalarType::Boolean => {
            let mut b = BooleanBuilder::new();
            values.for_each(|v| {
                b.append_option(v.and_then(|v| match v {
                    Value::Boolean(x) => Some(*x),
                    _ => None,
                }))
            });
            Arc::new(b.finish())
        }
        ScalarType::Timestamp => {
            let mut b = TimestampNanosecondBuilder::new();
            values.for_each(|v| {
                b.append_option(v.and_then(|v| match v {
                    Value::Timestamp(x) => Some(*x),
                    _ => None,
                }))
            });
            Arc::new(b.finish())
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use crate::clock::Clock;
    use crate::query::Queries;
    use crate::record::TableSettings;
    use crate::store::Store;
    use crate::wire::{Query, RecordIn};

    fn record(zone: Option<&str>, time_ms: i64, value: f64, version: i64) -> RecordIn {
        let mut dimensions = vec![json!({"Name": "host", "Value": "h"})];
        if let Some(zone) = zone {
            dimensions.push(json!({"Name": "zone", "Value": zone}));
        }
        serde_json::from_value(json!({
            "Dimensions": dimensions,
            "MeasureName": "m",
            "MeasureValue": value.to_string(),
            "MeasureValueType": "DOUBLE",
            "Time": time_ms.to_string(),
            "Version": version,
        }))
        .unwrap()
    }

    async fn scalars(queries: &Queries, select: &str) -> Vec<String> {
        let query = Query {
            query_string: format!(r#"SELECT {select} FROM "dbx"."tbl""#),
            next_token: None,
            max_rows: None,
        };
        let answer: serde_json::Value =
            serde_json::from_str(&queries.query(query).await.unwrap()).unwrap();
        answer["Rows"][0]["Data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["ScalarValue"].as_str().unwrap_or("NULL").to_string())
            .collect()
    }

    /// However a snapshot came to be (extended by the rows written since, widened by a
    /// new column, merged, rebuilt after a row was replaced, or after its table was
    /// dropped and created again), a query sees exactly the rows written before it.
    #[tokio::test]
    async fn each_query_sees_exactly_the_rows_written_before_it() {
        let store = Arc::new(Store::open(None, false).unwrap());
        store.create_database("dbx", 0.0).unwrap();
        let clock = Clock::system();
        let queries = Queries::new(store.clone(), 1000, clock.clone());
        let now_ms = clock.nanos() / 1_000_000;
        let zone = |step: i64| (step >= 10).then_some("a");
        let write = |r: RecordIn| {
            let (_, rejected) = store
                .write("dbx", "tbl", None, &[r], clock.nanos())
                .unwrap();
            assert_eq!(rejected, vec![]);
        };
        for round in 0..2 {
            store
                .create_table("dbx", "tbl", TableSettings::default(), 0.0)
                .unwrap();
            let (mut count, mut sum) = (0, 0.0);
            for step in 0..40 {
                write(record(zone(step), now_ms - 1000 * step, step as f64, 1));
                count += 1;
                sum += step as f64;
                if step % 7 == 6 {
                    let old = step - 3;
                    write(record(zone(old), now_ms - 1000 * old, 100.0, 2));
                    sum += 100.0 - old as f64;
                }
                let seen = scalars(&queries, "count(*), sum(measure_value::double)").await;
                assert_eq!(
                    seen,
                    [count.to_string(), format!("{sum:.1}")],
                    "round {round}, step {step}"
                );
                if step >= 10 {
                    let zoned = scalars(&queries, "count(zone)").await;
                    assert_eq!(
                        zoned,
                        [(step - 9).to_string()],
                        "round {round}, step {step}"
                    );
                }
            }
            store.delete_table("dbx", "tbl").unwrap();
        }
    }
}
