//! Query results in Timestream's shapes: column types by Timestream's names, and every
//! value as text the way Timestream writes it (TIMESTAMP with nine fractional digits,
//! DOUBLE as Java prints it, NULL as `NullValue`).

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{
    DataType, Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, Int8Type, TimeUnit,
    TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType, UInt16Type, UInt32Type, UInt64Type, UInt8Type,
};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use serde_json::value::RawValue;
use serde_json::{json, Value};

/// Timestream's name for the type of a result column.
pub fn scalar_type(data_type: &DataType) -> &'static str {
    match data_type {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "VARCHAR",
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::UInt8 | DataType::UInt16 => {
            "INTEGER"
        }
        DataType::Int64 | DataType::UInt32 | DataType::UInt64 => "BIGINT",
        DataType::Float16 | DataType::Float32 | DataType::Float64 | DataType::Decimal128(..) => {
            "DOUBLE"
        }
        DataType::Boolean => "BOOLEAN",
        DataType::Timestamp(..) => "TIMESTAMP",
        DataType::Date32 | DataType::Date64 => "DATE",
        DataType::Time32(_) | DataType::Time64(_) => "TIME",
        DataType::Interval(_) | DataType::Duration(_) => "INTERVAL_DAY_TO_SECOND",
        DataType::Null => "UNKNOWN",
        _ => "VARCHAR",
    }
}

/// `ColumnInfo` for a result schema.
pub fn column_info(schema: &datafusion::arrow::datatypes::Schema) -> Vec<Value> {
    schema
        .fields()
        .iter()
        .map(|f| json!({ "Name": f.name(), "Type": { "ScalarType": scalar_type(f.data_type()) } }))
        .collect()
}

/// The rows of `batch`, each the JSON text of `{"Data": [Datum…]}`. Written as text:
/// building them as `serde_json::Value` trees first took most of a query's time.
pub fn rows(batch: &RecordBatch) -> Vec<Box<RawValue>> {
    let options = FormatOptions::default();
    let fallbacks: Vec<Option<ArrayFormatter>> = batch
        .columns()
        .iter()
        .map(|array| ArrayFormatter::try_new(array.as_ref(), &options).ok())
        .collect();
    (0..batch.num_rows())
        .map(|r| {
            let mut row: Vec<u8> = br#"{"Data":["#.to_vec();
            for (c, array) in batch.columns().iter().enumerate() {
                if c > 0 {
                    row.push(b',');
                }
                if array.is_null(r) {
                    row.extend_from_slice(br#"{"NullValue":true}"#);
                    continue;
                }
                let text = datum(array.as_ref(), r).unwrap_or_else(|| {
                    fallbacks[c]
                        .as_ref()
                        .map(|f| f.value(r).to_string())
                        .unwrap_or_default()
                });
                row.extend_from_slice(br#"{"ScalarValue":"#);
                serde_json::to_writer(&mut row, &text).expect("a string is written to a Vec");
                row.push(b'}');
            }
            row.extend_from_slice(b"]}");
            let row = String::from_utf8(row).expect("JSON text is UTF-8");
            RawValue::from_string(row).expect("a row is valid JSON by construction")
        })
        .collect()
}

fn datum(array: &dyn Array, i: usize) -> Option<String> {
    Some(match array.data_type() {
        DataType::Utf8 => array.as_string::<i32>().value(i).to_string(),
        DataType::LargeUtf8 => array.as_string::<i64>().value(i).to_string(),
        DataType::Utf8View => array.as_string_view().value(i).to_string(),
        DataType::Boolean => array.as_boolean().value(i).to_string(),
        DataType::Float64 => double(array.as_primitive::<Float64Type>().value(i)),
        DataType::Float32 => double(array.as_primitive::<Float32Type>().value(i) as f64),
        DataType::Int64 => array.as_primitive::<Int64Type>().value(i).to_string(),
        DataType::Int32 => array.as_primitive::<Int32Type>().value(i).to_string(),
        DataType::Int16 => array.as_primitive::<Int16Type>().value(i).to_string(),
        DataType::Int8 => array.as_primitive::<Int8Type>().value(i).to_string(),
        DataType::UInt64 => array.as_primitive::<UInt64Type>().value(i).to_string(),
        DataType::UInt32 => array.as_primitive::<UInt32Type>().value(i).to_string(),
        DataType::UInt16 => array.as_primitive::<UInt16Type>().value(i).to_string(),
        DataType::UInt8 => array.as_primitive::<UInt8Type>().value(i).to_string(),
        DataType::Timestamp(unit, _) => {
            let (v, scale) = match unit {
                TimeUnit::Second => (
                    array.as_primitive::<TimestampSecondType>().value(i),
                    1_000_000_000,
                ),
                TimeUnit::Millisecond => (
                    array.as_primitive::<TimestampMillisecondType>().value(i),
                    1_000_000,
                ),
                TimeUnit::Microsecond => (
                    array.as_primitive::<TimestampMicrosecondType>().value(i),
                    1_000,
                ),
                TimeUnit::Nanosecond => {
                    (array.as_primitive::<TimestampNanosecondType>().value(i), 1)
                }
            };
            timestamp(v.saturating_mul(scale))
        }
        _ => return None,
    })
}

/// `2020-06-05 15:15:51.000000000`: UTC, always nine fractional digits.
pub fn timestamp(nanos: i64) -> String {
    chrono::DateTime::from_timestamp_nanos(nanos)
        .format("%Y-%m-%d %H:%M:%S%.9f")
        .to_string()
}

/// A double as Java's `Double.toString` lays it out (Timestream's engine runs on the
/// JVM): plain notation with at least one fractional digit for 1e-3 ≤ |v| < 1e7,
/// otherwise `d.dddE±n`; the digits are the shortest that read back to the same value.
pub fn double(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    if v == 0.0 {
        return if v.is_sign_negative() { "-0.0" } else { "0.0" }.into();
    }
    // Rust's `{:e}` gives the shortest round-trip digits: "1.2345e6", "-5e-4".
    let sci = format!("{v:e}");
    let (mantissa, exponent) = sci.split_once('e').expect("{:e} has an exponent");
    let exponent: i32 = exponent.parse().expect("{:e}'s exponent is an integer");
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    if (-3..7).contains(&exponent) {
        let point = exponent + 1; // digits before the decimal point
        let (int, frac) = if point <= 0 {
            ("0".to_string(), "0".repeat((-point) as usize) + &digits)
        } else if point as usize >= digits.len() {
            (
                digits.clone() + &"0".repeat(point as usize - digits.len()),
                String::new(),
            )
        } else {
            (
                digits[..point as usize].to_string(),
                digits[point as usize..].to_string(),
            )
        };
        let frac = if frac.is_empty() {
            "0".to_string()
        } else {
            frac
        };
        format!("{sign}{int}.{frac}")
    } else {
        let frac = if digits.len() > 1 { &digits[1..] } else { "0" };
        format!("{sign}{}.{frac}E{exponent}", &digits[..1])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_print_as_java_prints_them() {
        for (v, text) in [
            (1.0, "1.0"),
            (0.5, "0.5"),
            (-2.25, "-2.25"),
            (123456.0, "123456.0"),
            (1e7, "1.0E7"),
            (12345678.9, "1.23456789E7"),
            (0.001, "0.001"),
            (0.0001, "1.0E-4"),
            (1e-300, "1.0E-300"),
            (f64::MAX, "1.7976931348623157E308"),
            (0.1 + 0.2, "0.30000000000000004"),
        ] {
            assert_eq!(double(v), text, "{v}");
            assert_eq!(double(v).parse::<f64>().unwrap().to_bits(), v.to_bits());
        }
    }

    #[test]
    fn rows_are_timestream_data_with_nulls_and_escapes() {
        use datafusion::arrow::array::{Float64Array, StringArray};
        use std::sync::Arc;
        let batch = RecordBatch::try_from_iter([
            (
                "a",
                Arc::new(StringArray::from(vec![Some("x\"y\n"), None])) as _,
            ),
            ("b", Arc::new(Float64Array::from(vec![1.0, 1e7])) as _),
        ])
        .unwrap();
        let rows: Vec<Value> = rows(&batch)
            .iter()
            .map(|r| serde_json::from_str(r.get()).unwrap())
            .collect();
        assert_eq!(
            rows,
            [
                json!({"Data": [{"ScalarValue": "x\"y\n"}, {"ScalarValue": "1.0"}]}),
                json!({"Data": [{"NullValue": true}, {"ScalarValue": "1.0E7"}]}),
            ]
        );
    }

    #[test]
    fn timestamps_have_nine_fractional_digits() {
        assert_eq!(
            timestamp(1_591_370_151_000_000_000),
            "2020-06-05 15:15:51.000000000"
        );
        assert_eq!(
            timestamp(1_591_370_151_123_456_789),
            "2020-06-05 15:15:51.123456789"
        );
        assert_eq!(timestamp(-1), "1969-12-31 23:59:59.999999999");
    }
}
