//! WriteRecords' rules: how a record and the call's CommonAttributes become a row, and
//! whether Timestream would take that row into a table (limits, reserved names, values,
//! retention windows, versions, the table's schema). Pure: the store applies what is
//! admitted.
//!
//! Above [`crate::record`], [`crate::error`] and [`crate::wire`], and importing only
//! them: a table reaches it as its parts (settings, schema, rows), not as the store's
//! `Table`.

use std::collections::HashMap;

use crate::error::Error;
use crate::record::{
    ColumnKind, NameType, Row, RowKey, ScalarType, Schema, TableSettings, Value,
    MAX_DIMENSIONS_PER_TABLE, MAX_DIMENSION_NAME_BYTES, MAX_FUTURE_NS, MAX_MEASURES_PER_RECORD,
    MAX_MEASURE_NAMES_PER_TABLE, MAX_MEASURE_NAME_BYTES, MAX_RECORD_BYTES, NS_PER_HOUR,
};
use crate::wire::{MeasureValueIn, RecordIn};

/// Names Timestream keeps for itself.
fn reserved(name: &str) -> bool {
    name.starts_with("measure_value")
        || name.starts_with("ts_")
        || name == "time"
        || name == "measure_name"
}

pub(crate) type Rejection = (String, Option<i64>);

/// Merges a record with the call's CommonAttributes into a row. Malformed requests fail
/// the whole call (ValidationException); records Timestream would store elsewhere but not
/// here come back as `Err` rejections.
pub(crate) fn merge(
    common: Option<&RecordIn>,
    record: &RecordIn,
) -> Result<Result<Row, Rejection>, Error> {
    let pick = |f: fn(&RecordIn) -> Option<&String>| {
        f(record).or_else(|| common.and_then(f)).map(String::as_str)
    };
    let mut dimensions: Vec<(String, String)> = Vec::new();
    for d in common
        .map(|c| c.dimensions.as_slice())
        .unwrap_or_default()
        .iter()
        .chain(&record.dimensions)
    {
        if d.dimension_value_type
            .as_deref()
            .is_some_and(|t| t != "VARCHAR")
        {
            return Err(Error::Validation(format!(
                "Dimension {} has an unsupported DimensionValueType",
                d.name
            )));
        }
        if dimensions.iter().any(|(n, _)| *n == d.name) {
            return Err(Error::Validation(format!(
                "Dimension {} appears more than once in the record and its common attributes",
                d.name
            )));
        }
        dimensions.push((d.name.clone(), d.value.clone()));
    }
    dimensions.sort();

    let measure_name = pick(|r| r.measure_name.as_ref())
        .ok_or_else(|| Error::Validation("A record has no MeasureName".into()))?
        .to_string();
    let value_type = pick(|r| r.measure_value_type.as_ref()).unwrap_or("DOUBLE");
    let time_text = pick(|r| r.time.as_ref())
        .ok_or_else(|| Error::Validation("A record has no Time".into()))?;
    let unit = pick(|r| r.time_unit.as_ref()).unwrap_or("MILLISECONDS");
    let scale: i64 = match unit {
        "MILLISECONDS" => 1_000_000,
        "SECONDS" => 1_000_000_000,
        "MICROSECONDS" => 1_000,
        "NANOSECONDS" => 1,
        other => return Err(Error::Validation(format!("Unknown TimeUnit {other}"))),
    };
    let time = time_text
        .trim()
        .parse::<i64>()
        .ok()
        .and_then(|t| t.checked_mul(scale))
        .ok_or_else(|| {
            Error::Validation(format!(
                "Time '{time_text}' is not a valid {unit} timestamp"
            ))
        })?;
    let version = record
        .version
        .or(common.and_then(|c| c.version))
        .unwrap_or(1);

    let measures = if value_type == "MULTI" {
        let values: &[MeasureValueIn] = if record.measure_values.is_empty() {
            common
                .map(|c| c.measure_values.as_slice())
                .unwrap_or_default()
        } else {
            &record.measure_values
        };
        if values.is_empty() || pick(|r| r.measure_value.as_ref()).is_some() {
            return Err(Error::Validation(
                "A MULTI record needs MeasureValues and no MeasureValue".into(),
            ));
        }
        if values.len() > MAX_MEASURES_PER_RECORD {
            return Ok(Err((
                format!("A record has more than {MAX_MEASURES_PER_RECORD} measures"),
                None,
            )));
        }
        let mut measures = Vec::with_capacity(values.len());
        for m in values {
            let Some(ty) = ScalarType::parse(&m.r#type) else {
                return Err(Error::Validation(format!(
                    "Unknown measure type {}",
                    m.r#type
                )));
            };
            if let Some(reason) = bad_measure_name(&m.name) {
                return Ok(Err((reason, None)));
            }
            if measures.iter().any(|(n, _): &(String, Value)| *n == m.name) {
                return Err(Error::Validation(format!(
                    "Measure {} appears twice",
                    m.name
                )));
            }
            match ty.parse_value(&m.value) {
                Ok(v) => measures.push((m.name.clone(), v)),
                Err(reason) => return Ok(Err((reason, None))),
            }
        }
        measures
    } else {
        let Some(ty) = ScalarType::parse(value_type) else {
            return Err(Error::Validation(format!(
                "Unknown MeasureValueType {value_type}"
            )));
        };
        if ty == ScalarType::Timestamp {
            return Err(Error::Validation(
                "MeasureValueType TIMESTAMP is only supported inside MULTI records".into(),
            ));
        }
        let text = pick(|r| r.measure_value.as_ref()).ok_or_else(|| {
            Error::Validation(format!("Record {measure_name} has no MeasureValue"))
        })?;
        match ty.parse_value(text) {
            Ok(v) => vec![(format!("measure_value::{}", ty.lower_name()), v)],
            Err(reason) => return Ok(Err((reason, None))),
        }
    };
    Ok(Ok(Row {
        time,
        measure_name,
        dimensions,
        measures,
        version,
    }))
}

fn bad_measure_name(name: &str) -> Option<String> {
    if name.is_empty() || name.len() > MAX_MEASURE_NAME_BYTES {
        Some(format!(
            "Measure name '{name}' must be 1 to {MAX_MEASURE_NAME_BYTES} bytes"
        ))
    } else if reserved(name) {
        Some(format!("Measure name '{name}' is reserved"))
    } else {
        None
    }
}

pub(crate) enum Admitted {
    /// Store this row; `true` if it goes to the magnetic store.
    Store(Row, bool),
    /// An identical record is stored already: a resend, which succeeds.
    AlreadyThere,
}

/// Checks records against a table, and against the records of the same call admitted
/// before them (so that a call is judged as if written record by record).
pub(crate) struct Admission<'a> {
    settings: &'a TableSettings,
    /// The table's rows, and where each key's row is among them.
    rows: &'a [Row],
    index: &'a HashMap<RowKey, usize>,
    now: i64,
    dimensions: Vec<String>,
    measure_columns: HashMap<String, ScalarType>,
    measure_types: HashMap<String, NameType>,
    staged: HashMap<RowKey, Row>,
}

impl<'a> Admission<'a> {
    pub(crate) fn new(
        settings: &'a TableSettings,
        schema: &Schema,
        rows: &'a [Row],
        index: &'a HashMap<RowKey, usize>,
        now: i64,
    ) -> Admission<'a> {
        Admission {
            settings,
            rows,
            index,
            now,
            dimensions: schema.dimensions.clone(),
            measure_columns: schema
                .measures
                .iter()
                .map(|(n, k)| match k {
                    ColumnKind::MeasureValue(t) | ColumnKind::Multi(t) => (n.clone(), *t),
                    _ => unreachable!("measure columns only"),
                })
                .collect(),
            measure_types: schema.measure_types.clone(),
            staged: HashMap::new(),
        }
    }

    pub(crate) fn admit(&mut self, row: Row) -> Result<Admitted, Rejection> {
        if let Some(reason) = bad_measure_name(&row.measure_name) {
            return Err((reason, None));
        }
        for (name, _) in &row.dimensions {
            if name.is_empty() || name.len() > MAX_DIMENSION_NAME_BYTES {
                return Err((
                    format!(
                        "Dimension name '{name}' must be 1 to {MAX_DIMENSION_NAME_BYTES} bytes"
                    ),
                    None,
                ));
            }
            if reserved(name) {
                return Err((format!("Dimension name '{name}' is reserved"), None));
            }
            if self.measure_columns.contains_key(name) {
                return Err((
                    format!("Dimension name '{name}' is already the name of a measure"),
                    None,
                ));
            }
        }
        if row.size() > MAX_RECORD_BYTES {
            return Err((
                format!(
                    "The record is {} bytes; the limit is {MAX_RECORD_BYTES}",
                    row.size()
                ),
                None,
            ));
        }
        let settings = self.settings;
        let memory_start = self.now - settings.memory_hours * NS_PER_HOUR;
        let magnetic_start = self
            .now
            .saturating_sub(settings.magnetic_days.saturating_mul(24 * NS_PER_HOUR));
        let magnetic = row.time < memory_start;
        if row.time > self.now + MAX_FUTURE_NS
            || (magnetic && !(settings.magnetic_writes && row.time >= magnetic_start))
        {
            return Err((
                format!(
                    "The record timestamp is outside the time range [{memory_start}, {}) of the \
                     memory store (nanoseconds since the epoch){}",
                    self.now + MAX_FUTURE_NS,
                    if settings.magnetic_writes {
                        " and the magnetic store's retention"
                    } else {
                        ""
                    }
                ),
                None,
            ));
        }
        let key = row.key();
        let existing = self
            .staged
            .get(&key)
            .or_else(|| self.index.get(&key).map(|&i| &self.rows[i]));
        if let Some(existing) = existing {
            if existing.same_values(&row) && row.version <= existing.version {
                return Ok(Admitted::AlreadyThere);
            }
            if row.version <= existing.version {
                return Err((
                    format!(
                        "A record with the same dimensions, time and measure name but another \
                         value exists with version {}; write a higher Version to replace it",
                        existing.version
                    ),
                    Some(existing.version),
                ));
            }
        }
        self.check_schema(&row)?;
        for (name, _) in &row.dimensions {
            if !self.dimensions.contains(name) {
                self.dimensions.push(name.clone());
            }
        }
        for (column, value) in &row.measures {
            self.measure_columns
                .insert(column.clone(), value.scalar_type());
        }
        self.measure_types
            .entry(row.measure_name.clone())
            .or_insert(NameType::of(&row));
        self.staged.insert(key, row.clone());
        Ok(Admitted::Store(row, magnetic))
    }

    fn check_schema(&self, row: &Row) -> Result<(), Rejection> {
        let new_dimensions = row
            .dimensions
            .iter()
            .filter(|(n, _)| !self.dimensions.contains(n))
            .count();
        if self.dimensions.len() + new_dimensions > MAX_DIMENSIONS_PER_TABLE {
            return Err((
                format!("The table would have more than {MAX_DIMENSIONS_PER_TABLE} dimensions"),
                None,
            ));
        }
        if !self.measure_types.contains_key(&row.measure_name)
            && self.measure_types.len() >= MAX_MEASURE_NAMES_PER_TABLE
        {
            return Err((
                format!(
                    "The table would have more than {MAX_MEASURE_NAMES_PER_TABLE} measure names"
                ),
                None,
            ));
        }
        for (column, value) in &row.measures {
            if self.dimensions.contains(column) {
                return Err((
                    format!("Measure '{column}' is already the name of a dimension"),
                    None,
                ));
            }
            if let Some(ty) = self.measure_columns.get(column) {
                if *ty != value.scalar_type() && !column.starts_with("measure_value::") {
                    return Err((
                        format!(
                            "Measure '{column}' has type {}, not {}",
                            ty.lower_name(),
                            value.scalar_type().lower_name()
                        ),
                        None,
                    ));
                }
            }
        }
        // A measure name keeps what its first write made it: one type of single
        // measure, or multi-measure records.
        let this = NameType::of(row);
        if let Some(first) = self.measure_types.get(&row.measure_name) {
            if *first != this {
                return Err((
                    format!(
                        "Measure name '{}' has type {}, not {}",
                        row.measure_name,
                        first.lower_name(),
                        this.lower_name()
                    ),
                    None,
                ));
            }
        }
        Ok(())
    }
}
