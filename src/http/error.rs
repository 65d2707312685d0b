//! The one place where failures become HTTP status codes.
//!
//! Remote write senders retry 5xx and drop on 4xx, so the mapping decides what is lost:
//! - 400: the request itself is bad (undecodable, refused under a `--fail-on-*` flag, or
//!   records Timestream rejected for good); retrying cannot help.
//! - 403: Timestream refused the credentials.
//! - 413: a request larger than the connector may hold at once, even alone.
//! - 415: a content type or encoding this connector does not speak.
//! - 503 with Retry-After: Timestream throttled or failed; the sender retries later and
//!   nothing is lost. (Not 429: Prometheus drops on 429 unless told otherwise.)
//!
//! Remote read uses the same mapping: a matcher that cannot be translated is a 400, an
//! unavailable Timestream a 503, and a row Timestream answered that cannot be read back
//! a 502.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use thiserror::Error;

use crate::inflight::Busy;
use crate::ingest::IngestError;
use crate::push::PushError;
use crate::remote::DecodeError;
use crate::timestream::backend::BackendError;
use crate::timestream::reader::ReadError;

/// Seconds a sender is asked to wait after a 503.
pub const RETRY_AFTER_SECONDS: u64 = 2;

#[derive(Debug, Error)]
pub enum AppError {
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("cannot decode the request body: {0}")]
    Decode(#[from] DecodeError),
    #[error("{0}")]
    Push(#[from] PushError),
    #[error("invalid Authorization header: {0}")]
    Authorization(&'static str),
    #[error("{0}")]
    Ingest(#[from] IngestError),
    #[error("remote read: {0}")]
    Read(#[from] ReadError),
    /// A bound on work in flight was met: the client should retry later.
    #[error("{0}")]
    Busy(#[from] Busy),
    /// The request could not be finished (its deadline, a drain that ran out of time).
    #[error("{0}")]
    Unavailable(String),
}

impl AppError {
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::Decode(_)
            | AppError::Push(_)
            | AppError::Authorization(_)
            | AppError::Ingest(IngestError::Refused(_) | IngestError::Rejected { .. }) => {
                StatusCode::BAD_REQUEST
            }
            AppError::Ingest(IngestError::Failed { error: e, .. })
            | AppError::Read(ReadError::Backend(e)) => backend_status(e),
            AppError::Read(
                ReadError::Translate(_)
                | ReadError::Routing { .. }
                | ReadError::TooManySamples { .. }
                | ReadError::TooManyQueries { .. },
            ) => StatusCode::BAD_REQUEST,
            AppError::Read(ReadError::Row(_)) => StatusCode::BAD_GATEWAY,
            AppError::Busy(Busy::TooLarge { .. }) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::Busy(_) | AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

fn backend_status(e: &BackendError) -> StatusCode {
    match e {
        BackendError::Throttled(_) | BackendError::Unavailable(_) => {
            StatusCode::SERVICE_UNAVAILABLE
        }
        BackendError::AccessDenied(_) => StatusCode::FORBIDDEN,
        BackendError::Rejected(_) | BackendError::NotFound(_) | BackendError::Invalid(_) => {
            StatusCode::BAD_REQUEST
        }
    }
}

/// The longest message an answer (and its log line) carries: a message quotes the
/// series or value it is about, which a hostile request can make megabytes long.
const MAX_MESSAGE_BYTES: usize = 4096;

/// `message`, cut to [`MAX_MESSAGE_BYTES`] at a character boundary.
fn bounded(mut message: String) -> String {
    if message.len() > MAX_MESSAGE_BYTES {
        let mut end = MAX_MESSAGE_BYTES;
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        message.truncate(end);
        message.push_str("… (cut)");
    }
    message
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        let message = bounded(self.to_string());
        if status.is_server_error() {
            tracing::warn!(%status, error = %message, "the client should retry");
            let retry_after = [(header::RETRY_AFTER, RETRY_AFTER_SECONDS.to_string())];
            (status, retry_after, message).into_response()
        } else {
            tracing::warn!(%status, error = %message, "request refused");
            (status, message).into_response()
        }
    }
}
