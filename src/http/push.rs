//! The Pushgateway's API on the connector's port: `PUT`, `POST` and `DELETE` on
//! `/metrics/job/<job>{/<label>/<value>}`, and JSON events on `POST /events`.
//!
//! Each handler extracts (path, content type and encoding, credentials), decodes with
//! [`crate::push`], hands the series to the ingest pipeline and maps its outcome:
//! - a push answers 200 once everything writable is written, 400 for a body the
//!   Pushgateway would refuse (nothing of it is written), 503 with Retry-After when
//!   Timestream throttles or fails (pushing again is safe: the same samples at the same
//!   times are idempotent);
//! - `DELETE` answers 202 and deletes nothing: Timestream keeps history, and a query
//!   over a time range already shows a group's last push as its last samples.
//! - events answer 200 with what was written, or 400 naming each refused event by index.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use metrics::counter;

use super::error::AppError;
use super::AppState;
use crate::inflight::{Permit, FOOTPRINT_PER_DECODED_BYTE};
use crate::ingest::events::{self as ingest_events, Answer};
use crate::ingest::{now_ms, Protocol};
use crate::push::{self, batch, events, grouping, protobuf, text, PushError};
use crate::telemetry;

/// The content type of the delimited protobuf exposition format.
const PROTOBUF_MEDIA_TYPE: &str = "application/vnd.google.protobuf";

/// `PUT`, `POST` or `DELETE` on a grouping key's path.
pub async fn push(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, AppError> {
    let path = uri.path().strip_prefix("/metrics/").unwrap_or_default();
    let key = grouping::parse(path).inspect_err(|_| count_malformed())?;
    if method == Method::DELETE {
        return Ok(StatusCode::ACCEPTED);
    }
    let credentials = super::auth::basic_auth(&headers)?;
    let body = decoded_body(&headers, &body)?;
    let _bytes = reserve(&state, &body)?;
    let exposition = if is_protobuf(&headers) {
        protobuf::parse(&body)
    } else {
        std::str::from_utf8(&body)
            .map_err(|e| PushError::Text {
                line: line_of(&body, e.valid_up_to()),
                message: "invalid UTF-8".into(),
            })
            .and_then(text::parse)
    }
    .inspect_err(|_| count_malformed())?;
    let batch = batch::pushed(&exposition, &key, now_ms()).inspect_err(|_| count_malformed())?;
    state
        .ingest
        .ingest(&batch, Protocol::Pushgateway, credentials.as_ref())
        .await?;
    Ok(StatusCode::OK)
}

/// The body as sent, inflated when it came gzip-encoded.
fn decoded_body<'b>(
    headers: &HeaderMap,
    body: &'b [u8],
) -> Result<std::borrow::Cow<'b, [u8]>, AppError> {
    match headers.get(header::CONTENT_ENCODING).map(|v| v.as_bytes()) {
        None => Ok(body.into()),
        Some(e) if e.eq_ignore_ascii_case(b"identity") => Ok(body.into()),
        Some(e) if e.eq_ignore_ascii_case(b"gzip") => Ok(push::gunzip(body)
            .inspect_err(|_| count_malformed())?
            .into()),
        Some(e) => Err(AppError::UnsupportedMediaType(format!(
            "Content-Encoding {:?} is not supported; pushes may be gzip-encoded",
            String::from_utf8_lossy(e)
        ))),
    }
}

/// Reserves the memory a push of `body` (decoded) will hold.
fn reserve(state: &AppState, body: &[u8]) -> Result<Permit, AppError> {
    Ok(state
        .in_flight
        .bytes(FOOTPRINT_PER_DECODED_BYTE * body.len())?)
}

/// Whether the body is the delimited protobuf format (anything else is read as text,
/// as the Pushgateway does).
fn is_protobuf(headers: &HeaderMap) -> bool {
    let Some(content_type) = headers.get(header::CONTENT_TYPE) else {
        return false;
    };
    let content_type = String::from_utf8_lossy(content_type.as_bytes()).to_ascii_lowercase();
    let mut parts = content_type.split(';').map(str::trim);
    parts.next() == Some(PROTOBUF_MEDIA_TYPE)
        && parts.any(|p| p.replace(' ', "") == "encoding=delimited")
}

/// The 1-based line of byte `offset` of `body`.
fn line_of(body: &[u8], offset: usize) -> usize {
    1 + body[..offset].iter().filter(|&&b| b == b'\n').count()
}

/// `POST /events`: one JSON event, or an array of them.
pub async fn events(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    match handle_events(&state, &headers, &body).await {
        Ok((status, answer)) => (status, Json(answer)).into_response(),
        Err(error) => error.into_response(),
    }
}

async fn handle_events(
    state: &AppState,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(StatusCode, Answer), AppError> {
    let credentials = super::auth::basic_auth(headers)?;
    let body = decoded_body(headers, body)?;
    let _bytes = reserve(state, &body)?;
    let parsed = events::parse(&body).inspect_err(|_| count_malformed())?;
    let (items, invalid) = ingest_events::items(&parsed, now_ms());
    let partial = state.accept_partial_events;
    let outcome = ingest_events::write(
        &state.ingest,
        &items,
        invalid,
        !partial,
        Protocol::Events,
        credentials.as_ref(),
    )
    .await?;
    // Invalid events refuse the body unless partial bodies are accepted; records
    // Timestream rejected always make the answer a 400 (the sender must know).
    let refused = !outcome.rejected.is_empty() || (!outcome.invalid.is_empty() && !partial);
    if !outcome.invalid.is_empty() {
        counter!(telemetry::ERRORS, "stage" => "convert", "kind" => "invalid_event")
            .increment(outcome.invalid.len() as u64);
    }
    let status = if refused {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    Ok((status, Answer::new(parsed.events.len(), outcome)))
}

fn count_malformed() {
    counter!(telemetry::ERRORS, "stage" => "decode", "kind" => "malformed").increment(1);
}
