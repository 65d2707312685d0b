//! Timestream's JSON wire format (`awsJson1_0`), written and read without the SDK's
//! owned objects: a WriteRecords body serialized straight from a borrowed
//! [`WriteCall`], Query requests and their answers parsed straight into a [`Page`], and
//! the error bodies the service answers with.
//!
//! The body is byte for byte what `aws-sdk-timestreamwrite` sends for the same call
//! (members in the model's order, absent members left out, the SDK's string escaping);
//! `tests/wire_compat.rs` compares the two. Hand-written because it is the hottest code
//! of the write path: the SDK's builders copied every dimension into a `String` and
//! showed at the top of the daemon's profile.
//!
//! Pure: no I/O, no signing ([`super::direct`] does those).

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use super::backend::{BackendError, Page, RejectedRecord};
use super::batch::WriteCall;
use super::quota::limits::{DOUBLE_BYTES, TIME_BYTES};
use crate::series::Label;

/// The `X-Amz-Target` of a WriteRecords request.
pub const WRITE_RECORDS_TARGET: &str = "Timestream_20181101.WriteRecords";
/// The `X-Amz-Target` of a DescribeEndpoints request (the write API's).
pub const DESCRIBE_ENDPOINTS_TARGET: &str = "Timestream_20181101.DescribeEndpoints";
/// The content type of every request and answer.
pub const CONTENT_TYPE: &str = "application/x-amz-json-1.0";

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
    out.extend_from_slice(b"\"DOUBLE\"");
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
        if record.dimensions.len() > common.dimensions.len() {
            dimensions(out, record.own_dimensions(common));
            first = false;
        }
        if common.measure.is_none() {
            key(out, &mut first, "MeasureName");
            string(out, record.measure);
        }
        key(out, &mut first, "MeasureValue");
        // ryu's shortest round-trip text; the plan let only finite values through.
        string(out, value_text.format_finite(record.sample.value));
        if common.time_ms.is_none() {
            key(out, &mut first, "Time");
            integer_string(out, record.sample.timestamp_ms);
        }
        out.push(b'}');
    }
    out.extend_from_slice(b"]}");
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

/// A JSON string, escaped as the SDK escapes: `"` and `\`, the control characters
/// (short forms where JSON has them, else `\u00xx`), nothing else.
fn string(out: &mut Vec<u8>, text: &str) {
    out.push(b'"');
    let mut rest = text.as_bytes();
    // Label text rarely needs an escape: copy the runs between escapes whole.
    while let Some(at) = rest
        .iter()
        .position(|&b| b < 0x20 || b == b'"' || b == b'\\')
    {
        out.extend_from_slice(&rest[..at]);
        match rest[at] {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0C => out.extend_from_slice(b"\\f"),
            byte => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(byte >> 4)]);
                out.push(HEX[usize::from(byte & 0xF)]);
            }
        }
        rest = &rest[at + 1..];
    }
    out.extend_from_slice(rest);
    out.push(b'"');
}

/// The `X-Amz-Target` of a Query request.
pub const QUERY_TARGET: &str = "Timestream_20181101.Query";

/// The Query request body for `sql`, continuing at `next_token`.
pub fn query(sql: &str, next_token: Option<&str>, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"QueryString\":");
    string(out, sql);
    if let Some(token) = next_token {
        out.extend_from_slice(b",\"NextToken\":");
        string(out, token);
    }
    out.push(b'}');
}

/// A Query answer's body as a [`Page`]: the rows' scalar cells (anything else, such as
/// a time series cell, is NULL, as the connector selects none), the next token and the
/// bytes scanned so far. Parsed in one pass into the page's one text buffer, without a
/// value per cell.
pub fn query_page(body: &[u8]) -> Result<Page, serde_json::Error> {
    let mut page = Page::default();
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    PageSeed(&mut page).deserialize(&mut deserializer)?;
    deserializer.end()?;
    Ok(page)
}

/// The members of the objects a Query answer nests, by name; others are skipped.
#[derive(Deserialize)]
enum Member {
    Rows,
    NextToken,
    QueryStatus,
    Data,
    ScalarValue,
    #[serde(other)]
    Other,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct QueryStatus {
    #[serde(default)]
    cumulative_bytes_scanned: i64,
}

/// Each seed below reads one level of the answer into the page.
struct PageSeed<'p>(&'p mut Page);
struct RowsSeed<'p>(&'p mut Page);
struct RowSeed<'p>(&'p mut Page);
struct DataSeed<'p>(&'p mut Page);
struct DatumSeed<'p>(&'p mut Page);
/// A scalar cell's text, appended to the page without a `String` of its own.
struct ScalarSeed<'p>(&'p mut Page);

macro_rules! seed {
    ($seed:ident, $expecting:literal, $deserialize:ident, $($visit:tt)*) => {
        impl<'de> DeserializeSeed<'de> for $seed<'_> {
            type Value = ();
            fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
                d.$deserialize(self)
            }
        }
        impl<'de> Visitor<'de> for $seed<'_> {
            type Value = ();
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str($expecting)
            }
            $($visit)*
        }
    };
}

seed!(
    PageSeed,
    "a Query answer",
    deserialize_map,
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(member) = map.next_key::<Member>()? {
            match member {
                Member::Rows => map.next_value_seed(RowsSeed(self.0))?,
                Member::NextToken => self.0.next_token = map.next_value()?,
                Member::QueryStatus => {
                    let status: QueryStatus = map.next_value()?;
                    self.0.bytes_scanned = status.cumulative_bytes_scanned.max(0) as u64;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
);

seed!(
    RowsSeed,
    "rows",
    deserialize_seq,
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(RowSeed(&mut *self.0))?.is_some() {}
        Ok(())
    }
);

seed!(
    RowSeed,
    "a row",
    deserialize_map,
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(member) = map.next_key::<Member>()? {
            match member {
                Member::Data => map.next_value_seed(DataSeed(&mut *self.0))?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        self.0.end_row();
        Ok(())
    }
);

seed!(
    DataSeed,
    "a row's cells",
    deserialize_seq,
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(DatumSeed(&mut *self.0))?.is_some() {}
        Ok(())
    }
);

seed!(
    DatumSeed,
    "a cell",
    deserialize_map,
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut scalar = false;
        while let Some(member) = map.next_key::<Member>()? {
            match member {
                Member::ScalarValue if !scalar => {
                    map.next_value_seed(ScalarSeed(&mut *self.0))?;
                    scalar = true;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if !scalar {
            self.0.push_cell(None);
        }
        Ok(())
    }
);

seed!(
    ScalarSeed,
    "a scalar value",
    deserialize_str,
    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<(), E> {
        self.0.push_cell(Some(text));
        Ok(())
    }
);

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
                    .map(|v| text_len(v, "Name").unwrap_or(0) + DOUBLE_BYTES)
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

/// A DescribeEndpoints answer: where to send requests, and for how long.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Endpoints {
    pub endpoints: Vec<DiscoveredEndpoint>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DiscoveredEndpoint {
    pub address: String,
    pub cache_period_in_minutes: i64,
}

/// An error answer's body.
#[derive(Debug, Default, Deserialize)]
struct ErrorBody {
    #[serde(rename = "__type")]
    kind: Option<String>,
    // Both spellings occur, sometimes in one answer: two fields, not an alias (which
    // would make a duplicate of the other and fail the whole body).
    message: Option<String>,
    #[serde(rename = "Message")]
    message_capitalized: Option<String>,
    #[serde(rename = "RejectedRecords")]
    rejected: Option<Vec<Rejected>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Rejected {
    record_index: Option<i64>,
    reason: Option<String>,
    existing_version: Option<i64>,
}

/// An error answer as the class that decides what happens next. The error code comes
/// from the `X-Amzn-ErrorType` header when there is one, else from the body's `__type`
/// (both may carry a namespace and a `:` suffix, as the protocol allows).
pub fn error(status: u16, error_type_header: Option<&str>, body: &[u8]) -> BackendError {
    let parsed: ErrorBody = serde_json::from_slice(body).unwrap_or_default();
    let code = error_type_header
        .or(parsed.kind.as_deref())
        .map(error_code)
        .unwrap_or("unknown error");
    let rejected = parsed.rejected.filter(|r| !r.is_empty());
    if code == "RejectedRecordsException" {
        // Which records were refused decides what was written: without the list, none
        // can be counted as written.
        let Some(rejected) = rejected else {
            return BackendError::Invalid(
                "Timestream rejected records but the answer does not say which".into(),
            );
        };
        return BackendError::Rejected(
            rejected
                .into_iter()
                .map(|r| RejectedRecord {
                    index: r.record_index.unwrap_or(0).max(0) as usize,
                    reason: r.reason.unwrap_or_else(|| "no reason given".into()),
                    existing_version: r.existing_version,
                })
                .collect(),
        );
    }
    let message = parsed
        .message
        .or(parsed.message_capitalized)
        .unwrap_or_default();
    BackendError::from_code(code, message, status)
}

/// `aws.protocols#awsJson1_0` error codes: `ns#Code:extra` → `Code`.
fn error_code(raw: &str) -> &str {
    let code = raw.split(':').next().unwrap_or(raw);
    code.rsplit('#').next().unwrap_or(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_escape_as_the_sdk_escapes() {
        let mut out = Vec::new();
        string(&mut out, "a\"b\\c\nd\u{1}e\u{7f}é/");
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "\"a\\\"b\\\\c\\nd\\u0001e\u{7f}é/\""
        );
    }

    #[test]
    fn the_billing_estimate_is_what_the_body_meters() {
        use crate::timestream::batch::calls;
        use crate::timestream::records::{plan, Routing, Strictness};
        let routing = Routing {
            default_database: "db".into(),
            default_table: "tbl".into(),
            database_label: None,
            table_label: None,
        };
        let mut requests = crate::fixtures::node_exporter(20, 2);
        requests.push(crate::fixtures::write_request(500, 6, 3));
        let mut checked = 0;
        for request in requests {
            let raw = prost::Message::encode_to_vec(&request);
            let batch = crate::remote::write::decode(&raw).unwrap();
            let p = plan(&batch, &routing, Strictness::default()).unwrap();
            for call in calls(&p) {
                let mut body = Vec::new();
                write_records(&call, &mut body);
                assert_eq!(metered_bytes(&body), Some(call.billed_bytes()));
                checked += 1;
            }
        }
        assert!(checked > 50);
    }

    #[test]
    fn records_carry_their_own_dimensions_and_common_ones_go_once() {
        use crate::series::{Sample, SeriesBatch};
        use crate::timestream::batch::calls;
        use crate::timestream::records::{plan, Routing, Strictness};
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
        let routing = Routing {
            default_database: "db1".into(),
            default_table: "tbl".into(),
            database_label: None,
            table_label: None,
        };
        let p = plan(&b, &routing, Strictness::default()).unwrap();
        let calls = calls(&p);
        assert_eq!(calls.len(), 1);
        let mut body = Vec::new();
        write_records(&calls[0], &mut body);
        let mut body: serde_json::Value = serde_json::from_slice(&body).unwrap();
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

    #[test]
    fn query_answers_become_pages_of_cells() {
        let body = br#"{"QueryId":"q1","Rows":[{"Data":[{"ScalarValue":"up"},{"NullValue":true},{"ScalarValue":"a\"b\u00e9"}]},{"Data":[{"ScalarValue":"x"},{"TimeSeriesValue":[]},{"ScalarValue":""}]}],"ColumnInfo":[{"Name":"a","Type":{"ScalarType":"VARCHAR"}}],"NextToken":"t2","QueryStatus":{"ProgressPercentage":100.0,"CumulativeBytesScanned":1234,"CumulativeBytesMetered":10000000}}"#;
        let page = query_page(body).unwrap();
        let rows: Vec<Vec<Option<&str>>> = page.rows().map(|r| r.cells().collect()).collect();
        assert_eq!(
            rows,
            [
                vec![Some("up"), None, Some("a\"bé")],
                vec![Some("x"), None, Some("")]
            ]
        );
        assert_eq!(page.next_token.as_deref(), Some("t2"));
        assert_eq!(page.bytes_scanned, 1234);
        let last = query_page(br#"{"Rows":[],"QueryStatus":{}}"#).unwrap();
        assert_eq!((last.row_count(), last.next_token), (0, None));
        assert!(query_page(br#"{"Rows":[{"Data":[{"ScalarValue":1}]}]}"#).is_err());
        assert!(query_page(b"{\"Rows\":[").is_err());
    }

    #[test]
    fn query_requests_carry_the_statement_and_the_token() {
        let mut out = Vec::new();
        query("SELECT \"a\" FROM t", Some("tok"), &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"QueryString":"SELECT \"a\" FROM t","NextToken":"tok"}"#
        );
    }

    #[test]
    fn error_codes_lose_namespace_and_suffix() {
        assert_eq!(
            error_code("com.amazonaws.timestream.v20181101#ThrottlingException"),
            "ThrottlingException"
        );
        assert_eq!(
            error_code("ValidationException:http://internal"),
            "ValidationException"
        );
    }

    #[test]
    fn rejected_records_come_back_by_index() {
        let body = br#"{"__type":"com.amazonaws.timestream.v20181101#RejectedRecordsException","Message":"One or more records have been rejected.","message":"One or more records have been rejected.","RejectedRecords":[{"RecordIndex":3,"Reason":"A record with this time already exists.","ExistingVersion":1}]}"#;
        assert_eq!(
            error(419, None, body),
            BackendError::Rejected(vec![RejectedRecord {
                index: 3,
                reason: "A record with this time already exists.".into(),
                existing_version: Some(1),
            }])
        );
    }

    #[test]
    fn a_rejection_that_names_no_record_writes_nothing() {
        let header = Some("RejectedRecordsException");
        assert!(matches!(
            error(419, header, b"{}"),
            BackendError::Invalid(_)
        ));
        assert!(matches!(
            error(419, header, b"not json"),
            BackendError::Invalid(_)
        ));
    }

    #[test]
    fn errors_are_classed_by_code_then_status() {
        let throttled = error(400, Some("ThrottlingException"), b"{\"message\":\"slow\"}");
        assert_eq!(throttled, BackendError::Throttled("slow".into()));
        assert!(error(503, None, b"not json").is_retryable());
        assert!(matches!(
            error(400, None, br#"{"__type":"ResourceNotFoundException","Message":"no table"}"#),
            BackendError::NotFound(m) if m == "no table"
        ));
    }
}
