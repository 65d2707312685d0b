//! WriteRecords as Timestream documents it: CommonAttributes, multi-measure records,
//! malformed calls, rejected records, versions and the magnetic store.

use aws_sdk_timestreamwrite::error::ProvideErrorMetadata;
use aws_sdk_timestreamwrite::operation::write_records::WriteRecordsError;
use aws_sdk_timestreamwrite::types::{
    Dimension, MagneticStoreWriteProperties, MeasureValue, MeasureValueType, Record,
    RetentionProperties, TimeUnit,
};

use super::{with_table, DB};
use crate::support::{self, now_ms, record, Server};

// Writes: CommonAttributes are merged into every record (API_WriteRecords); a dimension a
// record lacks reads as NULL; time is a TIMESTAMP with nanosecond precision; TimeUnit
// is honoured; records are counted in RecordsIngested.
#[tokio::test]
async fn common_attributes_are_merged_and_absent_dimensions_read_as_null() {
    let s = with_table("cpu").await;
    let t = now_ms() - 60_000;
    let common = Record::builder()
        .dimensions(
            Dimension::builder()
                .name("host")
                .value("h1")
                .build()
                .unwrap(),
        )
        .measure_value_type(MeasureValueType::Double)
        .time_unit(TimeUnit::Milliseconds)
        .build();
    let records = vec![
        record("cpu_user", &[("core", "0")], "0.5", t),
        record("cpu_user", &[], "1.25", t + 1),
        Record::builder()
            .measure_name("cpu_user")
            .measure_value("7")
            .time(((t + 2) * 1000).to_string())
            .time_unit(TimeUnit::Microseconds)
            .build(),
    ];
    let out = s
        .write
        .write_records()
        .database_name(DB)
        .table_name("cpu")
        .common_attributes(common)
        .set_records(Some(records))
        .send()
        .await
        .unwrap();
    assert_eq!(out.records_ingested.unwrap().total, 3);

    let (columns, rows) = s
        .query_all(&format!(
            "SELECT host, core, measure_name, time, measure_value::double FROM \"{DB}\".\"cpu\" ORDER BY time"
        ))
        .await;
    assert_eq!(
        columns,
        [
            "host:VARCHAR",
            "core:VARCHAR",
            "measure_name:VARCHAR",
            "time:TIMESTAMP",
            "measure_value::double:DOUBLE"
        ]
    );
    let ts = |ms: i64| support::timestamp_text(ms * 1_000_000);
    assert_eq!(
        rows,
        vec![
            vec![
                Some("h1".into()),
                Some("0".into()),
                Some("cpu_user".into()),
                Some(ts(t)),
                Some("0.5".into())
            ],
            vec![
                Some("h1".into()),
                None,
                Some("cpu_user".into()),
                Some(ts(t + 1)),
                Some("1.25".into())
            ],
            vec![
                Some("h1".into()),
                None,
                Some("cpu_user".into()),
                Some(ts(t + 2)),
                Some("7.0".into())
            ],
        ]
    );
    assert!(
        rows[0][3].as_ref().unwrap().ends_with(".000000000")
            || rows[0][3].as_ref().unwrap().len() == 29
    );
}

// Multi-measure records (API_MeasureValue, "Multi-measure records"): each measure is a
// column named after it, typed; measure_name names the record.
#[tokio::test]
async fn multi_measure_records_become_typed_columns() {
    let s = with_table("metrics").await;
    let t = now_ms() - 1000;
    let multi = Record::builder()
        .dimensions(
            Dimension::builder()
                .name("region")
                .value("eu")
                .build()
                .unwrap(),
        )
        .measure_name("stats")
        .measure_value_type(MeasureValueType::Multi)
        .measure_values(
            MeasureValue::builder()
                .name("load")
                .value("0.75")
                .r#type(MeasureValueType::Double)
                .build()
                .unwrap(),
        )
        .measure_values(
            MeasureValue::builder()
                .name("count")
                .value("42")
                .r#type(MeasureValueType::Bigint)
                .build()
                .unwrap(),
        )
        .measure_values(
            MeasureValue::builder()
                .name("ok")
                .value("true")
                .r#type(MeasureValueType::Boolean)
                .build()
                .unwrap(),
        )
        .measure_values(
            MeasureValue::builder()
                .name("note")
                .value("fine")
                .r#type(MeasureValueType::Varchar)
                .build()
                .unwrap(),
        )
        .measure_values(
            MeasureValue::builder()
                .name("seen")
                .value(t.to_string())
                .r#type(MeasureValueType::Timestamp)
                .build()
                .unwrap(),
        )
        .time(t.to_string())
        .build();
    s.write
        .write_records()
        .database_name(DB)
        .table_name("metrics")
        .records(multi)
        .send()
        .await
        .unwrap();
    let (columns, rows) = s
        .query_all(&format!(
            "SELECT measure_name, load, count, ok, note, seen FROM {DB}.metrics"
        ))
        .await;
    assert_eq!(
        columns,
        [
            "measure_name:VARCHAR",
            "load:DOUBLE",
            "count:BIGINT",
            "ok:BOOLEAN",
            "note:VARCHAR",
            "seen:TIMESTAMP"
        ]
    );
    assert_eq!(
        rows[0],
        [
            "stats",
            "0.75",
            "42",
            "true",
            "fine",
            &support::timestamp_text(t * 1_000_000)
        ]
        .map(|v| Some(v.to_string()))
    );
    // DESCRIBE names each column's Timestream attribute type.
    let (_, described) = s.query_all(&format!("DESCRIBE \"{DB}\".\"metrics\"")).await;
    let kinds: Vec<(String, String)> = described
        .iter()
        .map(|r| (r[0].clone().unwrap(), r[2].clone().unwrap()))
        .collect();
    assert!(kinds.contains(&("region".into(), "DIMENSION".into())));
    assert!(kinds.contains(&("load".into(), "MULTI".into())));
    assert!(kinds.contains(&("time".into(), "TIMESTAMP".into())));

    // The name is a multi-measure name now: a single DOUBLE under it is rejected.
    let single = Record::builder()
        .measure_name("stats")
        .measure_value("1.5")
        .time((t + 1).to_string())
        .build();
    let error = s
        .write
        .write_records()
        .database_name(DB)
        .table_name("metrics")
        .records(single)
        .send()
        .await
        .unwrap_err();
    let WriteRecordsError::RejectedRecordsException(rejected) = error.into_service_error() else {
        panic!("expected RejectedRecordsException");
    };
    let reason = rejected.rejected_records()[0].reason().unwrap_or_default();
    assert!(reason.contains("has type multi, not double"), "{reason}");
}

// API_WriteRecords: 1 to 100 records per call; a dimension both in CommonAttributes and
// a record, or a single-measure TIMESTAMP, is a ValidationException for the call.
#[tokio::test]
async fn malformed_calls_are_validation_exceptions_and_store_nothing() {
    let s = with_table("tbl").await;
    let t = now_ms();
    let many: Vec<Record> = (0..101).map(|i| record("m", &[], "1", t - i)).collect();
    let err = s.write_records("tbl", None, many).await.unwrap_err();
    assert_eq!(err.code(), Some("ValidationException"));

    let common = Record::builder()
        .dimensions(
            Dimension::builder()
                .name("host")
                .value("a")
                .build()
                .unwrap(),
        )
        .build();
    let err = s
        .write_records(
            "tbl",
            Some(common),
            vec![record("m", &[("host", "b")], "1", t)],
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("ValidationException"));

    let single_timestamp = Record::builder()
        .measure_name("m")
        .measure_value(t.to_string())
        .measure_value_type(MeasureValueType::Timestamp)
        .time(t.to_string())
        .build();
    let err = s
        .write_records("tbl", None, vec![single_timestamp])
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("ValidationException"));
    assert_eq!(s.count("tbl").await, 0);
}

// RejectedRecordsException (API_RejectedRecord): records past the limits (ts-limits:
// dimension names ≤ 60 bytes, measure names ≤ 256), reserved names, NaN/Infinity, times
// outside the memory store's retention or more than 15 minutes ahead are rejected with
// their RecordIndex and a Reason; the call's other records are written.
#[tokio::test]
async fn invalid_records_are_rejected_by_index_and_the_rest_is_written() {
    let s = with_table("tbl").await;
    let t = now_ms() - 1000;
    let long_name = "d".repeat(61);
    let records = vec![
        record("good", &[("a", "1")], "1", t),
        record("m", &[(long_name.as_str(), "x")], "1", t),
        record(&"m".repeat(257), &[], "1", t),
        record("m", &[("measure_name", "x")], "1", t),
        record("m", &[("ts_thing", "x")], "1", t),
        record("m", &[], "NaN", t),
        record("m", &[], "Infinity", t),
        record("m", &[], "1", t - 7 * 3_600_000),
        record("m", &[], "1", t + 20 * 60_000),
        record("good", &[("a", "2")], "2", t),
    ];
    let err = s.write_records("tbl", None, records).await.unwrap_err();
    let WriteRecordsError::RejectedRecordsException(rejected) = err.into_service_error() else {
        panic!("expected RejectedRecordsException");
    };
    let indexes: Vec<i32> = rejected
        .rejected_records()
        .iter()
        .map(|r| r.record_index)
        .collect();
    assert_eq!(indexes, [1, 2, 3, 4, 5, 6, 7, 8]);
    assert!(rejected
        .rejected_records()
        .iter()
        .all(|r| !r.reason().unwrap_or_default().is_empty()));
    let (_, rows) = s
        .query_all(&format!(
            "SELECT a, measure_value::double FROM {DB}.tbl ORDER BY a"
        ))
        .await;
    assert_eq!(
        rows,
        vec![
            vec![Some("1".to_string()), Some("1.0".to_string())],
            vec![Some("2".to_string()), Some("2.0".to_string())]
        ]
    );
}

// API_RejectedRecord: the same dimensions, time and measure name with another value is
// rejected, with ExistingVersion, unless the Version is higher; an identical resend
// succeeds (writes are idempotent); a higher Version replaces the value.
#[tokio::test]
async fn duplicates_follow_versions_and_identical_resends_succeed() {
    let s = with_table("tbl").await;
    let t = now_ms() - 1000;
    s.write_records("tbl", None, vec![record("m", &[("k", "v")], "1", t)])
        .await
        .unwrap();
    s.write_records("tbl", None, vec![record("m", &[("k", "v")], "1", t)])
        .await
        .expect("an identical resend succeeds");
    let err = s
        .write_records("tbl", None, vec![record("m", &[("k", "v")], "2", t)])
        .await
        .unwrap_err();
    let WriteRecordsError::RejectedRecordsException(rejected) = err.into_service_error() else {
        panic!("expected RejectedRecordsException");
    };
    assert_eq!(rejected.rejected_records()[0].existing_version, Some(1));
    let mut newer = record("m", &[("k", "v")], "3", t);
    newer.version = Some(2);
    s.write_records("tbl", None, vec![newer]).await.unwrap();
    let (_, rows) = s
        .query_all(&format!("SELECT measure_value::double FROM {DB}.tbl"))
        .await;
    assert_eq!(rows, vec![vec![Some("3.0".to_string())]]);
}

// Magnetic store writes (API_MagneticStoreWriteProperties): with them enabled, records
// older than the memory store's retention are accepted into the magnetic store.
#[tokio::test]
async fn magnetic_store_writes_accept_old_records() {
    let s = Server::start().await;
    s.write
        .create_database()
        .database_name(DB)
        .send()
        .await
        .unwrap();
    s.write
        .create_table()
        .database_name(DB)
        .table_name("old")
        .retention_properties(
            RetentionProperties::builder()
                .memory_store_retention_period_in_hours(1)
                .magnetic_store_retention_period_in_days(3650)
                .build()
                .unwrap(),
        )
        .magnetic_store_write_properties(
            MagneticStoreWriteProperties::builder()
                .enable_magnetic_store_writes(true)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let day = 86_400_000;
    let out = s
        .write_records(
            "old",
            None,
            vec![
                record("m", &[], "1", now_ms() - 30 * day),
                record("m", &[], "2", now_ms()),
            ],
        )
        .await
        .unwrap();
    let ingested = out.records_ingested.unwrap();
    assert_eq!(
        (
            ingested.total,
            ingested.magnetic_store,
            ingested.memory_store
        ),
        (2, 1, 1)
    );
    let err = s
        .write_records(
            "old",
            None,
            vec![record("m", &[], "1", now_ms() - 4000 * day)],
        )
        .await
        .unwrap_err();
    assert!(matches!(
        err.into_service_error(),
        WriteRecordsError::RejectedRecordsException(_)
    ));
}
