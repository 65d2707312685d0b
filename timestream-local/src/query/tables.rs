//! Tables as DataFusion sees them: a catalog whose schemas are Timestream databases, so
//! that `"db"."table"` resolves, and each table a snapshot of its rows as one Arrow batch.
//! A snapshot is rebuilt only when its table changed since the last one.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use datafusion::arrow::array::{
    ArrayRef, BooleanBuilder, Float64Builder, Int64Builder, RecordBatch, StringBuilder,
    TimestampNanosecondBuilder,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::catalog::{CatalogProvider, MemTable, SchemaProvider, TableProvider};
use datafusion::common::Result;

use super::functions::TIMESTAMP;
use crate::store::{ColumnKind, ScalarType, Store, Table, Value};

type Snapshot = (u64, Arc<MemTable>, u64);

/// Snapshots shared by all queries, keyed by database and table.
#[derive(Default)]
pub struct Snapshots(Mutex<HashMap<(String, String), Snapshot>>);

/// The catalog one query plans against; counts the bytes of the tables it opens.
pub struct Catalog {
    pub store: Arc<Store>,
    pub snapshots: Arc<Snapshots>,
    pub scanned: Arc<AtomicU64>,
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
        self.store.read().databases.contains_key(name).then(|| {
            Arc::new(Database {
                name: name.to_string(),
                store: self.store.clone(),
                snapshots: self.snapshots.clone(),
                scanned: self.scanned.clone(),
            }) as Arc<dyn SchemaProvider>
        })
    }
}

struct Database {
    name: String,
    store: Arc<Store>,
    snapshots: Arc<Snapshots>,
    scanned: Arc<AtomicU64>,
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
            return Ok(None);
        };
        let key = (self.name.clone(), name.to_string());
        let mut snapshots = self.snapshots.0.lock().unwrap_or_else(|e| e.into_inner());
        let (_, provider, bytes) = match snapshots.get(&key) {
            Some(s) if s.0 == table.generation => s.clone(),
            _ => {
                let batch = batch(table)?;
                let bytes = batch.get_array_memory_size() as u64;
                let provider = Arc::new(MemTable::try_new(batch.schema(), vec![vec![batch]])?);
                let snapshot = (table.generation, provider, bytes);
                snapshots.insert(key, snapshot.clone());
                snapshot
            }
        };
        self.scanned.fetch_add(bytes, Ordering::Relaxed);
        Ok(Some(provider))
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

/// A table's rows as one batch: dimensions absent from a row are NULL, as are the
/// measure columns a row has no value for.
fn batch(table: &Table) -> Result<RecordBatch> {
    let columns = table.columns();
    let rows = &table.rows;
    let fields: Vec<Field> = columns
        .iter()
        .map(|(name, kind)| {
            let required = matches!(kind, ColumnKind::MeasureName | ColumnKind::Time);
            Field::new(name, data_type(kind), !required)
        })
        .collect();
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
    Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)?)
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
