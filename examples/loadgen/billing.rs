//! The sink's meter: what Timestream would bill for the WriteRecords bodies that reached
//! it, and what the same samples would cost in the Go connector's shape.
//!
//! Ours is read from each body as sent ([`wire::metered_bytes`]), rounded up to a KiB
//! per request. The Go connector's shape is rebuilt from the same bodies: one
//! single-measure record per sample, every label a dimension, no CommonAttributes, 100
//! records per request in arrival order.

use std::sync::Mutex;

use serde_json::Value;
use timestream_prometheus_connector::timestream::batch::{
    BILLED_WRITE_UNIT_BYTES as UNIT, MAX_RECORDS_PER_CALL,
};
use timestream_prometheus_connector::timestream::quota::limits::{DOUBLE_BYTES, TIME_BYTES};
use timestream_prometheus_connector::timestream::wire;

#[derive(Default)]
pub struct Meter {
    totals: Mutex<Totals>,
}

#[derive(Default)]
struct Totals {
    requests: usize,
    units: usize,
    samples: usize,
    go_units: usize,
    /// The Go shape's request being filled: records and bytes so far.
    go_records: usize,
    go_bytes: usize,
}

impl Meter {
    pub fn add(&self, body: &[u8]) {
        let (Some(bytes), Ok(request)) = (
            wire::metered_bytes(body),
            serde_json::from_slice::<Value>(body),
        ) else {
            return;
        };
        let mut totals = self.totals.lock().unwrap();
        totals.requests += 1;
        totals.units += bytes.div_ceil(UNIT);
        for record in go_records(&request) {
            totals.samples += 1;
            totals.go_records += 1;
            totals.go_bytes += record;
            if totals.go_records == MAX_RECORDS_PER_CALL {
                totals.go_units += totals.go_bytes.div_ceil(UNIT);
                totals.go_records = 0;
                totals.go_bytes = 0;
            }
        }
    }

    /// `requests units go_units samples`, the Go shape's last request counted as sent.
    pub fn totals(&self) -> String {
        let t = self.totals.lock().unwrap();
        let go_units = t.go_units + t.go_bytes.div_ceil(UNIT);
        format!("{} {} {} {}\n", t.requests, t.units, go_units, t.samples)
    }
}

/// The size of each sample's record in the Go connector's shape.
fn go_records(request: &Value) -> Vec<usize> {
    let empty = Value::Null;
    let common = request.get("CommonAttributes").unwrap_or(&empty);
    let dimension_bytes = |record: &Value| -> usize {
        record
            .get("Dimensions")
            .and_then(Value::as_array)
            .map_or(0, |d| {
                d.iter().map(|d| text(d, "Name") + text(d, "Value")).sum()
            })
    };
    let shared = dimension_bytes(common);
    let mut sizes = Vec::new();
    for record in request
        .get("Records")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let dimensions = shared + dimension_bytes(record);
        let base = TIME_BYTES + DOUBLE_BYTES + dimensions;
        match record.get("MeasureValues").and_then(Value::as_array) {
            // A multi-measure record's values are each a record of their own there.
            Some(values) => sizes.extend(values.iter().map(|v| base + text(v, "Name"))),
            None => {
                let name = match record.get("MeasureName") {
                    Some(_) => text(record, "MeasureName"),
                    None => text(common, "MeasureName"),
                };
                sizes.push(base + name);
            }
        }
    }
    sizes
}

fn text(value: &Value, key: &str) -> usize {
    value.get(key).and_then(Value::as_str).map_or(0, str::len)
}
