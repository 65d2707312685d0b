//! Timestream's JSON 1.0 request shapes (botocore's `timestream-write` and
//! `timestream-query` models), as far as Timestream Local reads them.

use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DimensionIn {
    pub name: String,
    pub value: String,
    pub dimension_value_type: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MeasureValueIn {
    pub name: String,
    pub value: String,
    pub r#type: String,
}

/// A record, or the CommonAttributes every record of a call shares.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RecordIn {
    #[serde(default)]
    pub dimensions: Vec<DimensionIn>,
    pub measure_name: Option<String>,
    pub measure_value: Option<String>,
    pub measure_value_type: Option<String>,
    #[serde(default)]
    pub measure_values: Vec<MeasureValueIn>,
    pub time: Option<String>,
    pub time_unit: Option<String>,
    pub version: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct WriteRecords {
    pub database_name: String,
    pub table_name: String,
    pub common_attributes: Option<RecordIn>,
    pub records: Vec<RecordIn>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DatabaseRef {
    pub database_name: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Retention {
    pub memory_store_retention_period_in_hours: i64,
    pub magnetic_store_retention_period_in_days: i64,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MagneticWrites {
    pub enable_magnetic_store_writes: bool,
}

/// CreateTable, UpdateTable, DescribeTable and DeleteTable.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TableRef {
    pub database_name: String,
    pub table_name: String,
    pub retention_properties: Option<Retention>,
    pub magnetic_store_write_properties: Option<MagneticWrites>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct List {
    pub database_name: Option<String>,
    pub max_results: Option<usize>,
    pub next_token: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Query {
    pub query_string: String,
    pub next_token: Option<String>,
    pub max_rows: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CancelQuery {
    pub query_id: String,
}
