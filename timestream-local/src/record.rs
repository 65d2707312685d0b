//! What a stored record is: the scalar types a measure can have, their values, a row
//! of a table (one record), and the kinds of column a table lists.

use serde::{Deserialize, Serialize};

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
