//! WriteRecords admission.

use super::*;

// ---------------------------------------------------------------------------------------
// WriteRecords admission

/// A record (or CommonAttributes) as a client may send it.
#[derive(Debug, Clone)]
struct Rec {
    dimensions: Vec<(String, String, Option<String>)>,
    measure_name: Option<String>,
    measure_value: Option<String>,
    value_type: Option<String>,
    measure_values: Vec<(String, String, String)>,
    time: Option<String>,
    unit: Option<String>,
    version: Option<i64>,
}

impl Rec {
    fn json(&self) -> Value {
        let dimensions: Vec<Value> = self
            .dimensions
            .iter()
            .map(|(name, value, kind)| {
                json!({ "Name": name, "Value": value, "DimensionValueType": kind })
            })
            .collect();
        let measure_values: Vec<Value> = self
            .measure_values
            .iter()
            .map(|(name, value, kind)| json!({ "Name": name, "Value": value, "Type": kind }))
            .collect();
        json!({
            "Dimensions": dimensions,
            "MeasureName": self.measure_name,
            "MeasureValue": self.measure_value,
            "MeasureValueType": self.value_type,
            "MeasureValues": measure_values,
            "Time": self.time,
            "TimeUnit": self.unit,
            "Version": self.version,
        })
    }

    fn record_in(&self) -> RecordIn {
        RecordIn {
            dimensions: self
                .dimensions
                .iter()
                .map(|(name, value, kind)| DimensionIn {
                    name: name.clone(),
                    value: value.clone(),
                    dimension_value_type: kind.clone(),
                })
                .collect(),
            measure_name: self.measure_name.clone(),
            measure_value: self.measure_value.clone(),
            measure_value_type: self.value_type.clone(),
            measure_values: self
                .measure_values
                .iter()
                .map(|(name, value, kind)| MeasureValueIn {
                    name: name.clone(),
                    value: value.clone(),
                    r#type: kind.clone(),
                })
                .collect(),
            time: self.time.clone(),
            time_unit: self.unit.clone(),
            version: self.version,
        }
    }
}

/// The single-measure DOUBLE value a record stores with `common`, if it is one: its
/// value text.
fn double_text<'a>(record: &'a Rec, common: Option<&'a Rec>) -> Option<&'a str> {
    let value_type = record
        .value_type
        .as_deref()
        .or(common.and_then(|c| c.value_type.as_deref()))
        .unwrap_or("DOUBLE");
    if value_type != "DOUBLE" {
        return None;
    }
    record
        .measure_value
        .as_deref()
        .or(common.and_then(|c| c.measure_value.as_deref()))
}

/// Names of every length around Timestream's limits, reserved ones, and any text.
const NAMES: &[&str] = &[
    "",
    "time",
    "measure_name",
    "measure_value",
    "measure_value::double",
    "ts_x",
    "host",
    "m",
];

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[a-z_]{1,10}",
        2 => chars(12),
        1 => "[a-z]{55,66}",
        1 => "[a-z]{250,262}",
        2 => prop::sample::select(NAMES).prop_map(String::from),
    ]
}

const ODD_VALUES: &[&str] = &[
    "NaN",
    "nan",
    "inf",
    "-Infinity",
    "1e400",
    "-0",
    "",
    " ",
    "true",
    "TRUE",
    "9223372036854775808",
    "0x10",
    "1_000",
    "+1.5",
];

fn measure_value() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => finite().prop_map(|v| format!("{v:?}")),
        1 => finite().prop_map(|v| format!("{v:e}")),
        1 => finite().prop_map(|v| format!("{v}")),
        1 => finite().prop_map(|v| format!(" {v:?}\t")),
        2 => prop::sample::select(ODD_VALUES).prop_map(String::from),
        1 => chars(12),
        1 => any::<i64>().prop_map(|v| v.to_string()),
    ]
}

const TYPES: &[&str] = &[
    "DOUBLE",
    "DOUBLE",
    "BIGINT",
    "VARCHAR",
    "BOOLEAN",
    "TIMESTAMP",
    "MULTI",
    "double",
];
const TIME_UNITS: &[&str] = &["MILLISECONDS", "SECONDS", "MICROSECONDS", "NANOSECONDS"];
const ODD_TIMES: &[&str] = &[" 1700000000000 ", "", "1e12", "-1", "9223372036854775807"];

fn some_type() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(TYPES).prop_map(String::from),
        1 => chars(6),
    ]
}

/// A time: recent (inside the memory store's window) in the record's unit, or any text.
#[derive(Debug, Clone)]
enum TimeChoice {
    RecentMs(i64),
    Text(String),
    Absent,
}

fn time_and_unit() -> impl Strategy<Value = (Option<String>, Option<String>)> {
    let unit = prop_oneof![
        Just(None),
        prop::sample::select(TIME_UNITS).prop_map(|u| Some(u.to_string())),
        chars(8).prop_map(Some),
    ];
    let time = prop_oneof![
        4 => (0i64..5 * 3_600_000).prop_map(TimeChoice::RecentMs),
        1 => any::<i64>().prop_map(|t| TimeChoice::Text(t.to_string())),
        1 => chars(10).prop_map(TimeChoice::Text),
        1 => prop::sample::select(ODD_TIMES).prop_map(|t| TimeChoice::Text(t.to_string())),
        1 => Just(TimeChoice::Absent),
    ];
    (unit, time).prop_map(|(unit, time)| {
        let text = match time {
            TimeChoice::RecentMs(ago) => {
                let ms = NOW_MS - ago;
                Some(match unit.as_deref() {
                    Some("SECONDS") => (ms / 1000).to_string(),
                    Some("MICROSECONDS") => (ms * 1000).to_string(),
                    Some("NANOSECONDS") => (ms * 1_000_000).to_string(),
                    _ => ms.to_string(),
                })
            }
            TimeChoice::Text(text) => Some(text),
            TimeChoice::Absent => None,
        };
        (text, unit)
    })
}

fn dimension() -> impl Strategy<Value = (String, String, Option<String>)> {
    (
        name(),
        prop_oneof!["[a-z]{0,4}", chars(8)],
        prop_oneof![
            4 => Just(None),
            1 => Just(Some("VARCHAR".to_string())),
            1 => chars(6).prop_map(Some),
        ],
    )
}

fn record() -> impl Strategy<Value = Rec> {
    // Mostly a few dimensions; sometimes up to 200, past the table's 128.
    let dimensions = prop_oneof![
        4 => prop::collection::vec(dimension(), 0..4),
        1 => prop::collection::vec(dimension(), 0..200),
    ];
    let measure = (name(), measure_value(), some_type());
    (
        dimensions,
        prop::option::weighted(0.9, name()),
        prop::option::weighted(0.9, measure_value()),
        prop::option::weighted(0.4, some_type()),
        prop::collection::vec(measure, 0..4),
        time_and_unit(),
        prop::option::of(prop_oneof![Just(1i64), Just(0), Just(-1), any::<i64>()]),
    )
        .prop_map(
            |(
                dimensions,
                measure_name,
                measure_value,
                value_type,
                measure_values,
                (time, unit),
                version,
            )| Rec {
                dimensions,
                measure_name,
                measure_value,
                value_type,
                measure_values,
                time,
                unit,
                version,
            },
        )
}

/// CommonAttributes: usually none, or a few shared fields.
fn common() -> impl Strategy<Value = Option<Rec>> {
    prop::option::weighted(0.3, record())
}

fn store() -> Store {
    let store = Store::open(None, false).expect("an in-memory store");
    store.create_database(DB, 0.0).expect("the database");
    store
        .create_table(DB, TABLE, TableSettings::default(), 0.0)
        .expect("the table");
    store
}

proptest! {
    #![proptest_config(config(512))]

    /// Without it: a record could panic admission (a time times its unit overflowing, a
    /// name sliced inside a character, a size counted wrong), and a DOUBLE it accepts
    /// could be stored other than as the nearest f64 to its text.
    #[test]
    fn write_records_are_admitted_or_refused_and_doubles_stored_exactly(
        common in common(),
        record in record(),
    ) {
        let store = store();
        let common_in = common.as_ref().map(Rec::record_in);
        let written = store.write(DB, TABLE, common_in.as_ref(), &[record.record_in()], NOW_NS);
        let (ingested, rejected) = match written {
            Ok(outcome) => outcome,
            Err(Error::Validation(_)) => return Ok(()),
            Err(other) => return Err(TestCaseError::fail(format!("{other:?}"))),
        };
        prop_assert_eq!(ingested.total + rejected.len(), 1);
        let catalog = store.read();
        let rows = &catalog.table(DB, TABLE).expect("the table").rows;
        prop_assert_eq!(rows.len(), ingested.total);
        if let (1, Some(text)) = (ingested.total, double_text(&record, common.as_ref())) {
            let want: f64 = text
                .trim()
                .parse()
                .map_err(|_| TestCaseError::fail(format!("accepted {text:?}")))?;
            match rows[0].measures.as_slice() {
                [(column, Stored::Double(stored))] => {
                    prop_assert_eq!(column.as_str(), "measure_value::double");
                    prop_assert_eq!(stored.to_bits(), want.to_bits(), "{:?}", text);
                }
                other => return Err(TestCaseError::fail(format!("stored {other:?}"))),
            }
        }
    }
}

proptest! {
    #![proptest_config(config(128))]

    /// Without it: a call of many records (past the limit of 100 included) could panic
    /// admission, through records judged against the ones before them in the call.
    #[test]
    fn write_records_calls_are_admitted_or_refused(
        common in common(),
        records in prop::collection::vec(record(), 0..105),
    ) {
        let store = store();
        let common_in = common.as_ref().map(Rec::record_in);
        let records_in: Vec<RecordIn> = records.iter().map(Rec::record_in).collect();
        match store.write(DB, TABLE, common_in.as_ref(), &records_in, NOW_NS) {
            Ok((ingested, rejected)) => {
                prop_assert_eq!(ingested.total + rejected.len(), records.len());
            }
            Err(Error::Validation(_)) => {}
            Err(other) => return Err(TestCaseError::fail(format!("{other:?}"))),
        }
    }

    /// Without it: a WriteRecords body could panic the handler, or be answered with an
    /// exception the SDKs do not expect; and an accepted DOUBLE could read back through
    /// Query as other text than the value written (Java's layout must still round-trip).
    #[test]
    fn write_records_over_http_answer_and_doubles_read_back_exactly(
        common in common(),
        record in record(),
    ) {
        let body = json!({
            "DatabaseName": DB,
            "TableName": TABLE,
            "CommonAttributes": common.as_ref().map(Rec::json),
            "Records": [record.json()],
        })
        .to_string();
        let expect_double = double_text(&record, common.as_ref());
        run(async {
            let local = local();
            let (status, answer) = call(&local, "WriteRecords", &body).await;
            match status {
                200 => prop_assert_eq!(&answer["RecordsIngested"]["Total"], &json!(1)),
                400 => {
                    prop_assert!(answer["__type"].is_string(), "{answer}");
                    return Ok(());
                }
                419 => {
                    prop_assert_eq!(&answer["RejectedRecords"][0]["RecordIndex"], &json!(0));
                    return Ok(());
                }
                other => return Err(TestCaseError::fail(format!("status {other}: {answer}"))),
            }
            let Some(text) = expect_double else {
                return Ok(());
            };
            let want: f64 = text
                .trim()
                .parse()
                .map_err(|_| TestCaseError::fail(format!("accepted {text:?}")))?;
            let sql = format!("SELECT measure_value::double FROM \"{DB}\".\"{TABLE}\"");
            let (status, page) = query(&local, &sql).await;
            prop_assert_eq!(status, 200, "{}", page);
            let read = page["Rows"][0]["Data"][0]["ScalarValue"]
                .as_str()
                .ok_or_else(|| TestCaseError::fail(format!("no value in {page}")))?;
            let read: f64 = read
                .parse()
                .map_err(|_| TestCaseError::fail(format!("{text:?} reads back as {read:?}")))?;
            prop_assert_eq!(read.to_bits(), want.to_bits(), "{:?}", text);
            Ok::<(), TestCaseError>(())
        })?;
    }

    /// Without it: any body sent to any operation could panic the handler instead of
    /// answering a ValidationException.
    #[test]
    fn any_body_to_any_operation_is_answered(
        operation in prop::sample::select(OPERATIONS),
        body in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..64)
                .prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
            chars(64),
            prop::collection::vec(prop::sample::select(JSON_PIECES), 0..24)
                .prop_map(|p| p.concat()),
        ],
    ) {
        let (status, answer) = run(async { call(&local(), operation, &body).await });
        prop_assert!(
            matches!(status, 200 | 400 | 419),
            "{operation} {body:?}: {status} {answer}"
        );
    }
}
