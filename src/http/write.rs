//! `POST /write`: one remote write request, from body to status code.
//!
//! decode (snappy, protobuf) → the ingest pipeline → 204, or the error that tells the
//! sender what to do.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use metrics::counter;

use super::error::AppError;
use super::AppState;
use crate::inflight::FOOTPRINT_PER_DECODED_BYTE;
use crate::ingest::Protocol;
use crate::remote::{snappy, write as remote_write};
use crate::telemetry;

pub async fn write(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, AppError> {
    check_content(&headers)?;
    let credentials = super::auth::basic_auth(&headers)?;
    // The memory this request will hold, reserved before it is taken.
    let declared = snappy::declared_len(&body).inspect_err(|_| count_malformed())?;
    let _bytes = state
        .in_flight
        .bytes(body.len() + FOOTPRINT_PER_DECODED_BYTE * declared)?;
    let decoded = snappy::decompress(&body).inspect_err(|_| count_malformed())?;
    let batch = remote_write::decode(&decoded).inspect_err(|_| count_malformed())?;
    state
        .ingest
        .ingest(&batch, Protocol::RemoteWrite, credentials.as_ref())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

fn count_malformed() {
    counter!(telemetry::ERRORS, "stage" => "decode", "kind" => "malformed").increment(1);
}

/// Remote write 1.0 is snappy-compressed protobuf; 2.0 is announced by its content type.
fn check_content(headers: &HeaderMap) -> Result<(), AppError> {
    super::require_snappy(headers, "remote write")?;
    if let Some(content_type) = headers.get(header::CONTENT_TYPE) {
        let content_type = String::from_utf8_lossy(content_type.as_bytes()).to_ascii_lowercase();
        let proto = content_type
            .split(';')
            .skip(1)
            .find_map(|p| p.trim().strip_prefix("proto="));
        if !content_type.starts_with("application/x-protobuf")
            || proto.is_some_and(|p| {
                p.trim_matches('"') != "prometheus.WriteRequest".to_ascii_lowercase()
            })
        {
            return Err(AppError::UnsupportedMediaType(format!(
                "Content-Type {content_type:?} is not supported; this connector speaks remote write 1.0 (application/x-protobuf)"
            )));
        }
    }
    Ok(())
}
