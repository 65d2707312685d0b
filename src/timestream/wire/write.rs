//! WriteRecords: the request body for a call, and what Timestream bills for one.

use super::string;
use crate::series::Label;
use crate::timestream::batch::WriteCall;
use crate::timestream::exemplars;
use crate::timestream::histograms::Stored;
use crate::timestream::quota::limits::{DOUBLE_BYTES, TIME_BYTES};

/// The `X-Amz-Target` of a WriteRecords request.
pub const WRITE_RECORDS_TARGET: &str = "Timestream_20181101.WriteRecords";

/// Appends the WriteRecords request body for `call` to `out`.
pub fn write_records(call: &WriteCall<'_>, out: &mut Vec<u8>) {
    // A record is about 30 bytes of JSON punctuation and names plus its text.
    out.reserve(128 + call.records.len() * 96);
    let common = &call.common;
    out.extend_from_slice(b"{\"DatabaseName\":");
    string(out, call.destination.database);
    out.extend_from_slice(b",\"TableName\":");
    string(out, call.destination.table);
    out.extend_from_slice(b",\"CommonAttributes\":{");
    let mut first = true;
    if !common.dimensions.is_empty() {
        dimensions(out, common.dimensions.iter());
        first = false;
    }
    if let Some(measure) = common.measure {
        key(out, &mut first, "MeasureName");
        string(out, measure);
    }
    key(out, &mut first, "MeasureValueType");
    out.extend_from_slice(if call.is_multi_measure() {
        b"\"MULTI\""
    } else {
        b"\"DOUBLE\""
    });
    if let Some(time_ms) = common.time_ms {
        key(out, &mut first, "Time");
        integer_string(out, time_ms);
    }
    out.extend_from_slice(b",\"TimeUnit\":\"MILLISECONDS\"},\"Records\":[");
    let mut value_text = ryu::Buffer::new();
    for (i, record) in call.records.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.push(b'{');
        let mut first = true;
        if let Some(exemplar) = record.exemplar {
            let extra = [
                Label {
                    name: exemplars::METRIC,
                    value: exemplar.metric,
                },
                Label {
                    name: exemplars::LABELS,
                    value: &exemplar.labels,
                },
            ];
            dimensions(out, record.own_dimensions(common).chain(&extra));
            first = false;
        } else if record.dimensions.len() > common.dimensions.len() {
            dimensions(out, record.own_dimensions(common));
            first = false;
        }
        if common.measure.is_none() {
            key(out, &mut first, "MeasureName");
            string(out, record.measure);
        }
        if record.histogram.is_none() && record.multi.is_none() {
            key(out, &mut first, "MeasureValue");
            // ryu's shortest round-trip text; the plan let only finite values through.
            string(out, value_text.format_finite(record.sample.value));
        }
        if common.time_ms.is_none() {
            key(out, &mut first, "Time");
            integer_string(out, record.sample.timestamp_ms);
        }
        if let Some(histogram) = record.histogram {
            // After Time: the SDK writes a record's members in its model's order.
            key(out, &mut first, "MeasureValues");
            measure_values(out, histogram);
        }
        if let Some(measures) = record.multi {
            key(out, &mut first, "MeasureValues");
            out.push(b'[');
            for (i, m) in measures.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(b"{\"Name\":");
                string(out, m.name);
                out.extend_from_slice(b",\"Value\":");
                // Finite: only finite samples are merged.
                string(out, value_text.format_finite(m.value));
                out.extend_from_slice(b",\"Type\":\"DOUBLE\"}");
            }
            out.push(b']');
        }
        out.push(b'}');
    }
    out.extend_from_slice(b"]}");
}

fn measure_values(out: &mut Vec<u8>, histogram: &Stored) {
    out.push(b'[');
    for (i, m) in histogram.measures.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"Name\":");
        string(out, m.name);
        out.extend_from_slice(b",\"Value\":");
        string(out, &m.value);
        out.extend_from_slice(b",\"Type\":\"");
        out.extend_from_slice(m.kind.as_str().as_bytes());
        out.extend_from_slice(b"\"}");
    }
    out.push(b']');
}

fn key(out: &mut Vec<u8>, first: &mut bool, name: &str) {
    if !std::mem::take(first) {
        out.push(b',');
    }
    out.push(b'"');
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\":");
}

fn dimensions<'l, 'a: 'l>(out: &mut Vec<u8>, labels: impl Iterator<Item = &'l Label<'a>>) {
    out.extend_from_slice(b"\"Dimensions\":[");
    for (i, label) in labels.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"Name\":");
        string(out, label.name);
        out.extend_from_slice(b",\"Value\":");
        string(out, label.value);
        out.push(b'}');
    }
    out.push(b']');
}

fn integer_string(out: &mut Vec<u8>, value: i64) {
    out.push(b'"');
    out.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
    out.push(b'"');
}

/// What Timestream bills for a WriteRecords body, in bytes before rounding: per record
/// 8 bytes of time, its dimensions' names and values, its measure name and 8 bytes per
/// DOUBLE (a multi-measure record: each measure's name and value), with
/// CommonAttributes counted once. Read from the body as sent, for benchmarks and tests
/// to check [`super::batch::WriteCall::billed_bytes`] against; `None` for a body that is
/// not a WriteRecords request.
pub fn metered_bytes(body: &[u8]) -> Option<usize> {
    let request: serde_json::Value = serde_json::from_slice(body).ok()?;
    let common = request.get("CommonAttributes");
    let records = request.get("Records")?.as_array()?;
    let text_len = |record: &serde_json::Value, key: &str| {
        record.get(key).and_then(|v| v.as_str()).map(str::len)
    };
    let attributes = |record: &serde_json::Value| -> usize {
        let dimensions: usize =
            record
                .get("Dimensions")
                .and_then(|d| d.as_array())
                .map_or(0, |dimensions| {
                    dimensions
                        .iter()
                        .map(|d| {
                            text_len(d, "Name").unwrap_or(0) + text_len(d, "Value").unwrap_or(0)
                        })
                        .sum()
                });
        let measures: usize = record
            .get("MeasureValues")
            .and_then(|m| m.as_array())
            .map_or(0, |values| {
                values
                    .iter()
                    .map(|v| {
                        let value = match v.get("Type").and_then(|t| t.as_str()) {
                            Some("VARCHAR") => text_len(v, "Value").unwrap_or(0),
                            // DOUBLE and BIGINT.
                            _ => DOUBLE_BYTES,
                        };
                        text_len(v, "Name").unwrap_or(0) + value
                    })
                    .sum()
            });
        dimensions + measures + text_len(record, "MeasureName").unwrap_or(0)
    };
    let common_time = common.is_some_and(|c| c.get("Time").is_some());
    let mut bytes = common.map_or(0, attributes) + if common_time { TIME_BYTES } else { 0 };
    for record in records {
        bytes += attributes(record);
        if record.get("Time").is_some() || !common_time {
            bytes += TIME_BYTES;
        }
        if record.get("MeasureValue").is_some() {
            bytes += DOUBLE_BYTES;
        }
    }
    Some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Series go to `database`, table `tbl`.
    fn routing(database: &str) -> crate::timestream::records::Routing {
        crate::timestream::records::Routing {
            default_database: database.into(),
            default_table: "tbl".into(),
            database_label: None,
            table_label: None,
        }
    }

    /// The body of `call`, parsed.
    fn json_body(call: &WriteCall<'_>) -> serde_json::Value {
        let mut body = Vec::new();
        write_records(call, &mut body);
        serde_json::from_slice(&body).unwrap()
    }

    #[test]
    fn the_billing_estimate_is_what_the_body_meters() {
        use crate::timestream::batch::calls;
        use crate::timestream::records::{plan, Strictness};
        let routing = routing("db");
        let mut requests = crate::fixtures::node_exporter(20, 2);
        requests.push(crate::fixtures::write_request(500, 6, 3));
        let mut with_histograms = crate::fixtures::write_request(3, 4, 1);
        for series in &mut with_histograms.timeseries {
            series.histograms = crate::fixtures::histograms()
                .iter()
                .map(crate::remote::histogram::to_proto)
                .collect();
        }
        requests.push(with_histograms);
        let mut checked = 0;
        let mut multi_calls = 0;
        for request in requests {
            let raw = prost::Message::encode_to_vec(&request);
            let batch = crate::remote::write::decode(&raw).unwrap();
            for multi_measure in [false, true] {
                let mut p = plan(&batch, &routing, Strictness::default()).unwrap();
                if multi_measure {
                    crate::timestream::multi::merge(&mut p);
                }
                for call in calls(&p) {
                    let mut body = Vec::new();
                    write_records(&call, &mut body);
                    assert_eq!(metered_bytes(&body), Some(call.billed_bytes()));
                    checked += 1;
                    multi_calls += usize::from(call.is_multi());
                }
            }
        }
        assert!(checked > 100);
        assert!(multi_calls >= 3, "{multi_calls} of {checked}");
    }

    #[test]
    fn a_multi_measure_record_holds_a_measure_per_metric() {
        use crate::series::{Sample, SeriesBatch};
        use crate::timestream::batch::calls;
        use crate::timestream::records::{plan, Strictness};
        let mut b = SeriesBatch::default();
        let label = |name, value| Label { name, value };
        for (name, value) in [("load1", 0.25), ("load5", 1e-9)] {
            b.push(
                &[label("__name__", name), label("instance", "h1")],
                &[Sample {
                    value,
                    timestamp_ms: 5,
                }],
            );
        }
        let routing = routing("db1");
        let mut p = plan(&b, &routing, Strictness::default()).unwrap();
        crate::timestream::multi::merge(&mut p);
        let calls = calls(&p);
        assert_eq!(calls.len(), 1);
        let body = json_body(&calls[0]);
        assert_eq!(
            body,
            serde_json::json!({
                "DatabaseName": "db1",
                "TableName": "tbl",
                "CommonAttributes": {
                    "Dimensions": [{"Name": "instance", "Value": "h1"}],
                    "MeasureName": "__metrics__load1",
                    "MeasureValueType": "MULTI",
                    "Time": "5",
                    "TimeUnit": "MILLISECONDS"
                },
                "Records": [{"MeasureValues": [
                    {"Name": "load1", "Value": "0.25", "Type": "DOUBLE"},
                    {"Name": "load5", "Value": "1e-9", "Type": "DOUBLE"}
                ]}]
            })
        );
        // Time, instance h1 and the record's measure name once; 5 + 8 and 5 + 8.
        assert_eq!(calls[0].billed_bytes(), 8 + 10 + 16 + 13 + 13);
    }

    #[test]
    fn records_carry_their_own_dimensions_and_common_ones_go_once() {
        use crate::series::{Sample, SeriesBatch};
        use crate::timestream::batch::calls;
        use crate::timestream::records::{plan, Strictness};
        let mut b = SeriesBatch::default();
        let label = |name, value| Label { name, value };
        let sample = |value, timestamp_ms| Sample {
            value,
            timestamp_ms,
        };
        // Labels out of order in one series: the plan sorts them.
        b.push(
            &[
                label("job", "node"),
                label("__name__", "a"),
                label("instance", "h1"),
                label("zone", "eu"),
            ],
            &[sample(0.1, 5)],
        );
        b.push(
            &[
                label("__name__", "b"),
                label("instance", "h1"),
                label("job", "node"),
                label("mode", "idle"),
            ],
            &[sample(1e-9, 6)],
        );
        let routing = routing("db1");
        let p = plan(&b, &routing, Strictness::default()).unwrap();
        let calls = calls(&p);
        assert_eq!(calls.len(), 1);
        let mut body = json_body(&calls[0]);
        // Records come in the order of a hash of their measure names.
        let records = body["Records"].as_array_mut().unwrap();
        records.sort_by_key(|r| r["MeasureName"].as_str().unwrap().to_string());
        assert_eq!(
            body,
            serde_json::json!({
                "DatabaseName": "db1",
                "TableName": "tbl",
                "CommonAttributes": {
                    "Dimensions": [
                        {"Name": "instance", "Value": "h1"},
                        {"Name": "job", "Value": "node"}
                    ],
                    "MeasureValueType": "DOUBLE",
                    "TimeUnit": "MILLISECONDS"
                },
                "Records": [
                    {"Dimensions": [{"Name": "zone", "Value": "eu"}], "MeasureName": "a", "MeasureValue": "0.1", "Time": "5"},
                    {"Dimensions": [{"Name": "mode", "Value": "idle"}], "MeasureName": "b", "MeasureValue": "1e-9", "Time": "6"}
                ]
            })
        );
    }
}
