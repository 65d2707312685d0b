//! What a stored record is: the scalar types a measure can have, their values, a row
//! of a table (one record), the columns a table has gained from its rows, and what
//! bounds them: Timestream's limits and a table's settings.
//!
//! The bottom layer, with [`crate::error`], [`crate::wire`] and [`crate::clock`]: it
//! imports none of the crate's modules.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

/// Timestream's documented limits (developer guide, "Quotas").
pub const MAX_RECORDS_PER_CALL: usize = 100;
pub const MAX_DIMENSION_NAME_BYTES: usize = 60;
pub const MAX_MEASURE_NAME_BYTES: usize = 256;
pub const MAX_DIMENSIONS_PER_TABLE: usize = 128;
pub const MAX_MEASURES_PER_RECORD: usize = 256;
pub const MAX_MEASURE_NAMES_PER_TABLE: usize = 8192;
pub const MAX_RECORD_BYTES: usize = 2048;
pub const MAX_FUTURE_NS: i64 = 15 * 60 * 1_000_000_000;
pub const DEFAULT_MEMORY_HOURS: i64 = 6;
pub const DEFAULT_MAGNETIC_DAYS: i64 = 73_000;

pub(crate) const NS_PER_HOUR: i64 = 3_600 * 1_000_000_000;

/// A table's retention and whether it takes writes older than its memory store.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TableSettings {
    pub memory_hours: i64,
    pub magnetic_days: i64,
    pub magnetic_writes: bool,
}

impl Default for TableSettings {
    fn default() -> Self {
        TableSettings {
            memory_hours: DEFAULT_MEMORY_HOURS,
            magnetic_days: DEFAULT_MAGNETIC_DAYS,
            magnetic_writes: false,
        }
    }
}

/// The scalar types a measure can have.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ScalarType {
    Double,
    Bigint,
    Varchar,
    Boolean,
    Timestamp,
}

impl ScalarType {
    pub(crate) fn parse(name: &str) -> Option<ScalarType> {
        Some(match name {
            "DOUBLE" => ScalarType::Double,
            "BIGINT" => ScalarType::Bigint,
            "VARCHAR" => ScalarType::Varchar,
            "BOOLEAN" => ScalarType::Boolean,
            "TIMESTAMP" => ScalarType::Timestamp,
            _ => return None,
        })
    }

    /// How Timestream spells the type in DESCRIBE and in `measure_value::<type>`.
    pub fn lower_name(self) -> &'static str {
        match self {
            ScalarType::Double => "double",
            ScalarType::Bigint => "bigint",
            ScalarType::Varchar => "varchar",
            ScalarType::Boolean => "boolean",
            ScalarType::Timestamp => "timestamp",
        }
    }

    pub(crate) fn parse_value(self, text: &str) -> Result<Value, String> {
        let bad = || {
            format!(
                "Measure value '{text}' is not a valid {}",
                self.lower_name()
            )
        };
        Ok(match self {
            ScalarType::Double => {
                let v: f64 = text.trim().parse().map_err(|_| bad())?;
                if !v.is_finite() {
                    return Err(format!(
                        "Measure value '{text}' is not supported: NaN and Infinity cannot be stored"
                    ));
                }
                Value::Double(v)
            }
            ScalarType::Bigint => Value::Bigint(text.trim().parse().map_err(|_| bad())?),
            ScalarType::Varchar => Value::Varchar(text.to_string()),
            ScalarType::Boolean => match text.to_ascii_lowercase().as_str() {
                "true" => Value::Boolean(true),
                "false" => Value::Boolean(false),
                _ => return Err(bad()),
            },
            // A TIMESTAMP measure is epoch milliseconds.
            ScalarType::Timestamp => {
                let ms: i64 = text.trim().parse().map_err(|_| bad())?;
                Value::Timestamp(ms.checked_mul(1_000_000).ok_or_else(bad)?)
            }
        })
    }
}

/// One stored measure value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Value {
    Double(f64),
    Bigint(i64),
    Varchar(String),
    Boolean(bool),
    /// Nanoseconds since the epoch.
    Timestamp(i64),
}

impl Value {
    pub fn scalar_type(&self) -> ScalarType {
        match self {
            Value::Double(_) => ScalarType::Double,
            Value::Bigint(_) => ScalarType::Bigint,
            Value::Varchar(_) => ScalarType::Varchar,
            Value::Boolean(_) => ScalarType::Boolean,
            Value::Timestamp(_) => ScalarType::Timestamp,
        }
    }

    pub(crate) fn same(&self, other: &Value) -> bool {
        match (self, other) {
            // Bit equality, so that a resend of the same record is always a no-op.
            (Value::Double(a), Value::Double(b)) => a.to_bits() == b.to_bits(),
            _ => self == other,
        }
    }
}

/// A stored record: one row of its table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// Nanoseconds since the epoch.
    pub time: i64,
    pub measure_name: String,
    /// Sorted by name.
    pub dimensions: Vec<(String, String)>,
    /// Column name (`measure_value::double` for single-measure records) and value.
    pub measures: Vec<(String, Value)>,
    pub version: i64,
}

impl Row {
    pub(crate) fn key(&self) -> RowKey {
        (
            self.dimensions.clone(),
            self.measure_name.clone(),
            self.time,
        )
    }

    pub(crate) fn same_values(&self, other: &Row) -> bool {
        self.measures.len() == other.measures.len()
            && self
                .measures
                .iter()
                .zip(&other.measures)
                .all(|((n1, v1), (n2, v2))| n1 == n2 && v1.same(v2))
    }

    /// The record's size as Timestream counts it against the 2 KB limit.
    pub(crate) fn size(&self) -> usize {
        let dims: usize = self.dimensions.iter().map(|(n, v)| n.len() + v.len()).sum();
        let values: usize = self
            .measures
            .iter()
            .map(|(n, v)| {
                let name = if self.measures.len() > 1 { n.len() } else { 0 };
                name + match v {
                    Value::Varchar(s) => s.len(),
                    Value::Boolean(_) => 1,
                    _ => 8,
                }
            })
            .sum();
        8 + dims + self.measure_name.len() + values
    }
}

pub(crate) type RowKey = (Vec<(String, String)>, String, i64);

/// What kind of column a table has, in the order Timestream lists them.
#[derive(Clone, Debug, PartialEq)]
pub enum ColumnKind {
    Dimension,
    MeasureName,
    Time,
    /// `measure_value::<type>` of single-measure records.
    MeasureValue(ScalarType),
    /// A measure of multi-measure records.
    Multi(ScalarType),
}

/// A table's columns. Timestream tables declare none: a column appears with the first
/// record that has it, and keeps the type it first had.
#[derive(Clone, Debug, Default)]
pub struct Schema {
    /// Dimension names in the order they first appeared.
    pub dimensions: Vec<String>,
    /// Measure columns (typed `measure_value::*` and multi-measure names), first-seen order.
    pub measures: Vec<(String, ColumnKind)>,
    /// The type each measure name was first written with.
    pub(crate) measure_types: HashMap<String, NameType>,
}

/// What a measure name holds, fixed by its first write: single measures of one type,
/// or multi-measure records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NameType {
    Single(ScalarType),
    Multi,
}

impl NameType {
    pub(crate) fn of(row: &Row) -> NameType {
        match row.measures.as_slice() {
            [(column, value)] if column.starts_with("measure_value::") => {
                NameType::Single(value.scalar_type())
            }
            _ => NameType::Multi,
        }
    }

    pub(crate) fn lower_name(self) -> &'static str {
        match self {
            NameType::Single(t) => t.lower_name(),
            NameType::Multi => "multi",
        }
    }
}

impl Schema {
    /// Every column, in the order `SELECT *` and DESCRIBE give them.
    pub fn columns(&self) -> Vec<(String, ColumnKind)> {
        let mut columns: Vec<(String, ColumnKind)> = self
            .dimensions
            .iter()
            .map(|d| (d.clone(), ColumnKind::Dimension))
            .collect();
        columns.push(("measure_name".into(), ColumnKind::MeasureName));
        columns.push(("time".into(), ColumnKind::Time));
        columns.extend(self.measures.iter().cloned());
        columns
    }

    /// Adds the columns `row` has and the schema lacks.
    pub(crate) fn learn(&mut self, row: &Row) {
        for (name, _) in &row.dimensions {
            if !self.dimensions.contains(name) {
                self.dimensions.push(name.clone());
            }
        }
        for (column, value) in &row.measures {
            if !self.measures.iter().any(|(c, _)| c == column) {
                let kind = if row.measures.len() == 1 && column.starts_with("measure_value::") {
                    ColumnKind::MeasureValue(value.scalar_type())
                } else {
                    ColumnKind::Multi(value.scalar_type())
                };
                self.measures.push((column.clone(), kind));
            }
        }
        self.measure_types
            .entry(row.measure_name.clone())
            .or_insert(NameType::of(row));
    }
}
