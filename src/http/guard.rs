//! What every request to the API routes passes through before its handler, outermost
//! first:
//! - [`count`]: requests by protocol and status, and their duration, whatever answered
//!   them (a handler, a bound, a deadline, or nobody: `499` when the client left first).
//! - [`deadline`]: the request's time bound, and the cut-off when a drain runs out of
//!   time: the answer is then a 503 with Retry-After, never a half-acknowledged write.
//! - [`oversized`]: a body whose declared length is past the limit is answered 413
//!   after it is read and dropped, so the client reads the answer instead of a reset
//!   connection.
//! - [`admit`] (write routes): the bound on write requests in flight.
//!
//! And, around every route, [`authenticate`]: the Basic auth users of
//! `--web.config.file`, when it names any.

use std::time::Duration;

use std::sync::Arc;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics::counter;

use super::error::AppError;
use super::AppState;
use crate::ingest::Protocol;
use crate::telemetry::{self, Requests};
use crate::webconfig::Inbound;

/// Counts the request under its route's protocol.
pub async fn count(path: Option<MatchedPath>, request: Request, next: Next) -> Response {
    let route = path.as_ref().map_or("", |p| p.as_str());
    let requests = match route {
        "/read" => Requests::Read,
        "/write" => Requests::Write(Protocol::RemoteWrite.as_str()),
        "/events" => Requests::Write(Protocol::Events.as_str()),
        _ => Requests::Write(Protocol::Pushgateway.as_str()),
    };
    let mut counted = telemetry::Request::start(requests);
    let response = next.run(request).await;
    counted.finish(response.status().as_u16());
    response
}

/// Answers 503 when the request outlives its time bound or the drain's deadline.
pub async fn deadline(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let in_flight = &state.in_flight;
    let timeout = in_flight.bounds().request_timeout;
    tokio::select! {
        response = next.run(request) => response,
        () = tokio::time::sleep(timeout) => {
            counter!(telemetry::ERRORS, "stage" => "admit", "kind" => "timeout").increment(1);
            AppError::Unavailable(format!(
                "the request took longer than {}; retry later",
                seconds(timeout)
            ))
            .into_response()
        }
        () = in_flight.cut() => {
            counter!(telemetry::ERRORS, "stage" => "admit", "kind" => "shutdown").increment(1);
            AppError::Unavailable(
                "the connector is shutting down and could not finish this request; retry".into(),
            )
            .into_response()
        }
    }
}

/// The most of an oversized body read (and dropped) before answering: beyond it the
/// connection is closed on the client.
const MAX_DRAINED_BYTES: u64 = 4 * super::MAX_BODY_BYTES as u64;

/// Answers 413 to a body whose `Content-Length` is past [`super::MAX_BODY_BYTES`]. The
/// body is read and dropped first (up to [`MAX_DRAINED_BYTES`]): a server that answers
/// before reading closes a connection the client is still writing to, and the client
/// sees a reset instead of the answer.
pub async fn oversized(request: Request, next: Next) -> Response {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    let Some(declared) = declared.filter(|&d| d > super::MAX_BODY_BYTES as u64) else {
        return next.run(request).await;
    };
    if declared <= MAX_DRAINED_BYTES {
        let mut body = request.into_body().into_data_stream();
        while let Some(Ok(_)) = futures::StreamExt::next(&mut body).await {}
    }
    counter!(telemetry::ERRORS, "stage" => "decode", "kind" => "too_large").increment(1);
    (
        StatusCode::PAYLOAD_TOO_LARGE,
        format!(
            "the body is {declared} bytes, more than the {} a request may have\n",
            super::MAX_BODY_BYTES
        ),
    )
        .into_response()
}

/// Admits a write request within the bound on requests in flight, or answers 503.
pub async fn admit(State(state): State<AppState>, request: Request, next: Next) -> Response {
    match state.in_flight.request() {
        Ok(_permit) => next.run(request).await,
        Err(busy) => AppError::from(busy).into_response(),
    }
}

/// Lets a request through only with the credentials of a configured user (when users
/// are configured), as Prometheus' own servers do: 401 with `WWW-Authenticate`
/// otherwise. The header is then removed: it named a user of the connector, and must
/// not be read as AWS keys by the handlers.
pub async fn authenticate(
    State(inbound): State<Arc<Inbound>>,
    mut request: Request,
    next: Next,
) -> Response {
    let Some(users) = inbound.users() else {
        return next.run(request).await;
    };
    let credentials = super::auth::basic_pair(request.headers());
    let allowed = match &credentials {
        Some((user, password)) => users.check(user, password).await,
        None => false,
    };
    if !allowed {
        counter!(telemetry::ERRORS, "stage" => "admit", "kind" => "unauthorized").increment(1);
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Basic")],
            "Unauthorized\n",
        )
            .into_response();
    }
    request.headers_mut().remove(header::AUTHORIZATION);
    next.run(request).await
}

/// The answer to a request whose handler panicked (a bug): a 500, counted, and the
/// daemon goes on serving. Nothing of a write that panicked was acknowledged.
pub fn panicked(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    counter!(telemetry::ERRORS, "stage" => "panic", "kind" => "panic").increment(1);
    tracing::error!("a request's handler panicked; answered 500");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        "the connector failed on this request (a bug); nothing of it was acknowledged\n",
    )
        .into_response()
}

fn seconds(duration: Duration) -> String {
    format!("{}s", duration.as_secs_f64())
}
