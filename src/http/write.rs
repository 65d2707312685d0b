//! `POST /write`: one remote write request, from body to status code.
//!
//! decode (snappy, protobuf) → plan (routing, quotas) → calls (≤ 100 records each) →
//! concurrent WriteRecords → 204, or the error that tells the sender what to do.

use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use metrics::{counter, histogram};

use super::error::AppError;
use super::AppState;
use crate::remote::{snappy, write as remote_write};
use crate::telemetry;
use crate::timestream::{batch, records};

pub async fn write(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, AppError> {
    let mut request = RequestMetrics::start();
    let result = handle(&state, &headers, &body).await;
    request.finish(match &result {
        Ok(status) => *status,
        Err(error) => error.status(),
    });
    result
}

/// Counts a request by the status it was answered with, or as `499` (the convention for
/// "client closed request") when the client went away first: hyper then drops the
/// handler's future, and with it every WriteRecords call still in flight.
struct RequestMetrics {
    started: Instant,
    code: Option<StatusCode>,
}

impl RequestMetrics {
    fn start() -> Self {
        RequestMetrics {
            started: Instant::now(),
            code: None,
        }
    }

    fn finish(&mut self, code: StatusCode) {
        self.code = Some(code);
    }
}

impl Drop for RequestMetrics {
    fn drop(&mut self) {
        let code = self
            .code
            .map_or_else(|| "499".to_owned(), |status| status.as_str().to_owned());

        counter!(telemetry::WRITE_REQUESTS, "code" => code).increment(1);

        histogram!(telemetry::WRITE_DURATION).record(self.started.elapsed().as_secs_f64());
    }
}

async fn handle(
    state: &AppState,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<StatusCode, AppError> {
    check_content(headers)?;
    let credentials = super::auth::basic_auth(headers)?;

    let decoded = snappy::decompress(body).inspect_err(|_| count_malformed())?;
    let batch = remote_write::decode(&decoded).inspect_err(|_| count_malformed())?;
    let plan = records::plan(&batch, &state.routing, state.strictness).inspect_err(|e| {
        counter!(telemetry::ERRORS, "stage" => "convert", "kind" => e.reason.as_str()).increment(1);
    })?;

    counter!(telemetry::RECEIVED_SAMPLES).increment(plan.received);
    for (reason, samples) in plan.ignored.iter() {
        counter!(telemetry::IGNORED_SAMPLES, "reason" => reason.as_str()).increment(samples);
    }

    let calls = batch::calls(&plan);
    let outcome = state.writer.write(&calls, credentials.as_ref()).await;
    if let Some(failure) = outcome.failure {
        return Err(failure.into());
    }
    if !outcome.rejected.is_empty() {
        return Err(AppError::Rejected {
            rejected: outcome.rejected,
            total: plan.record_count(),
        });
    }
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
