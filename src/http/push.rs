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

use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use metrics::counter;
use serde::Serialize;

use super::error::AppError;
use super::AppState;
use crate::ingest::{IngestError, Protocol};
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
    let mut request = telemetry::WriteRequest::start(Protocol::Pushgateway.as_str());
    let result = handle_push(&state, &method, &uri, &headers, &body).await;
    request.finish(match &result {
        Ok(status) => status.as_u16(),
        Err(error) => error.status().as_u16(),
    });
    result
}

async fn handle_push(
    state: &AppState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<StatusCode, AppError> {
    let path = uri.path().strip_prefix("/metrics/").unwrap_or_default();
    let key = grouping::parse(path).inspect_err(|_| count_malformed())?;
    if method == Method::DELETE {
        return Ok(StatusCode::ACCEPTED);
    }
    let credentials = super::auth::basic_auth(headers)?;
    let body = decoded_body(headers, body)?;
    let exposition = if is_protobuf(headers) {
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

/// What `POST /events` answers.
#[derive(Debug, Default, Serialize)]
pub struct EventsAnswer {
    /// Events written whole.
    pub written_events: usize,
    /// Samples written (a metric of an event is a sample).
    pub written_samples: u64,
    /// Events not written, by index in the body, with why.
    pub refused: Vec<RefusedEvent>,
}

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct RefusedEvent {
    pub index: usize,
    pub reason: String,
}

/// `POST /events`: one JSON event, or an array of them.
pub async fn events(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let mut request = telemetry::WriteRequest::start(Protocol::Events.as_str());
    let response = match handle_events(&state, &headers, &body).await {
        Ok((status, answer)) => (status, Json(answer)).into_response(),
        Err(error) => error.into_response(),
    };
    request.finish(response.status().as_u16());
    response
}

async fn handle_events(
    state: &AppState,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(StatusCode, EventsAnswer), AppError> {
    let credentials = super::auth::basic_auth(headers)?;
    let body = decoded_body(headers, body)?;
    let parsed = events::parse(&body).inspect_err(|_| count_malformed())?;
    let received_ms = now_ms();
    let mut refused: Vec<RefusedEvent> = Vec::new();
    let valid = || {
        parsed
            .events
            .iter()
            .enumerate()
            .filter_map(|(i, e)| e.as_ref().ok().map(|e| (i, e)))
    };
    for error in parsed.events.iter().filter_map(|e| e.as_ref().err()) {
        refused.push(RefusedEvent {
            index: error.index,
            reason: error.reason.clone(),
        });
    }
    // What Timestream could not store (names past its limits, reserved names) refuses
    // its event before anything is written.
    let (all, owners) = batch::events(valid(), received_ms);
    for (series, reason) in state.ingest.check(&all) {
        let index = owners[series as usize] as usize;
        if !refused.iter().any(|r| r.index == index) {
            refused.push(RefusedEvent {
                index,
                reason: format!(
                    "{} {}",
                    all.get(series as usize).display(),
                    reason.describe()
                ),
            });
        }
    }
    refused.sort_by_key(|r| r.index);
    if !refused.is_empty() && !state.accept_partial_events {
        counter!(telemetry::ERRORS, "stage" => "convert", "kind" => "invalid_event")
            .increment(refused.len() as u64);
        return Ok((
            StatusCode::BAD_REQUEST,
            EventsAnswer {
                refused,
                ..EventsAnswer::default()
            },
        ));
    }
    let good = || valid().filter(|(i, _)| !refused.iter().any(|r| r.index == *i));
    let (batch, owners) = batch::events(good(), received_ms);
    let mut answer = EventsAnswer {
        written_events: good().count(),
        ..EventsAnswer::default()
    };
    match state
        .ingest
        .ingest(&batch, Protocol::Events, credentials.as_ref())
        .await
    {
        Ok(written) => answer.written_samples = written.records,
        // Timestream refused some records for good (a late point, another value at the
        // same time): their events are reported, the others were written.
        Err(IngestError::Rejected { rejected, total }) => {
            answer.written_samples = (total - rejected.len()) as u64;
            for rejection in rejected {
                let index = rejection.source.map(|s| owners[s as usize] as usize);
                let reason = format!("{}: {}", rejection.series, rejection.reason);
                match index {
                    Some(index) if !refused.iter().any(|r| r.index == index) => {
                        answer.written_events -= 1;
                        refused.push(RefusedEvent { index, reason });
                    }
                    Some(_) => {}
                    None => refused.push(RefusedEvent {
                        index: usize::MAX,
                        reason,
                    }),
                }
            }
            refused.sort_by_key(|r| r.index);
            answer.refused = refused;
            return Ok((StatusCode::BAD_REQUEST, answer));
        }
        Err(error) => return Err(error.into()),
    }
    answer.refused = refused;
    Ok((StatusCode::OK, answer))
}

fn count_malformed() {
    counter!(telemetry::ERRORS, "stage" => "decode", "kind" => "malformed").increment(1);
}

/// The time of receipt, in milliseconds since the epoch.
fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
