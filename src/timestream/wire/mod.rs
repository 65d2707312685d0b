//! Timestream's JSON wire format (`awsJson1_0`), written and read without the SDK's
//! owned objects: WriteRecords bodies serialized straight from a borrowed call
//! ([`write`]), Query requests and their answers parsed straight into a page
//! ([`query`]), and here what both share: targets, strings, the error answers.
//!
//! Bodies are byte for byte what the AWS SDK sends for the same call (members in the
//! model's order, absent members left out, the SDK's string escaping);
//! `tests/wire_compat.rs` compares the two. Hand-written because this is the hottest
//! code of both paths: the SDK's builders copied every dimension into a `String`, and
//! its parser allocated one per result cell.
//!
//! Pure: no I/O, no signing ([`super::direct`] does those).

mod query;
mod write;

use serde::Deserialize;

pub use query::{query, query_page, QUERY_TARGET};
pub use write::{metered_bytes, write_records, WRITE_RECORDS_TARGET};

use super::backend::{BackendError, RejectedRecord};

/// The `X-Amz-Target` of a DescribeEndpoints request (both APIs answer it).
pub const DESCRIBE_ENDPOINTS_TARGET: &str = "Timestream_20181101.DescribeEndpoints";
/// The content type of every request and answer.
pub const CONTENT_TYPE: &str = "application/x-amz-json-1.0";

/// A JSON string, escaped as the SDK escapes: `"` and `\`, the control characters
/// (short forms where JSON has them, else `\u00xx`), nothing else.
pub(super) fn string(out: &mut Vec<u8>, text: &str) {
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
