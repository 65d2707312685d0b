//! AWS Lambda: the connector as a function, on the official runtime crates.
//!
//! The state (clients, writer, reader, pipelines) and the router are the daemon's, built
//! once per cold start and shared by every invocation. An invocation is told apart by
//! its shape:
//! - HTTP events (API Gateway HTTP and REST APIs, ALB, function URLs) go through
//!   `lambda_http` to the daemon's router: the same routes, handlers and status codes;
//!   the answer is buffered, and one past Lambda's response limit is a 413.
//! - SQS batches (`Records[].eventSource == "aws:sqs"`): each message holds a JSON event
//!   or an array of them, and the answer lists the messages not written
//!   (`batchItemFailures`), so SQS redelivers only those and its dead-letter queue
//!   catches the poison ones.
//! - Anything else is a direct invocation with one JSON event or an array, answered as
//!   `POST /events` answers.
//!
//! Nothing runs between invocations, when Lambda freezes the process: a discovered
//! Timestream endpoint is reloaded by the first call after it expires
//! ([`crate::timestream::direct`]), and so are credentials.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use axum::body::Body;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use futures::StreamExt;
use lambda_runtime::{service_fn, LambdaEvent, Service};
use serde_json::Value;
use std::collections::BTreeMap;

use crate::config::Config;
use crate::http::error::RETRY_AFTER_SECONDS;
use crate::ingest::events::{self as ingest_events, Answer, Item};
use crate::ingest::{now_ms, Protocol};
use crate::push::events;
use crate::state::{self, AppState};
use crate::telemetry;

/// The environment variable whose presence means "running on Lambda".
pub const RUNTIME_API: &str = "AWS_LAMBDA_RUNTIME_API";

/// Lambda's limit on a synchronous invocation's answer is 6 MB of JSON, in which a
/// binary body travels as base64 (4 characters for 3 bytes); room is left for headers.
pub const MAX_RESPONSE_BODY_BYTES: usize = 6 * 1024 * 1024 / 4 * 3 - 64 * 1024;

/// Whether this process was started by Lambda.
pub fn detected() -> bool {
    std::env::var_os(RUNTIME_API).is_some()
}

/// Why the function could not start.
#[derive(Debug, thiserror::Error)]
pub enum LambdaError {
    #[error("{0}")]
    Start(#[from] state::StartError),
    #[error("--local (Timestream Local) is not available on Lambda")]
    Local,
    #[error("Lambda runtime: {0}")]
    Runtime(lambda_runtime::Error),
}

/// Serves invocations until Lambda ends the process.
pub async fn run(mut config: Config) -> Result<(), LambdaError> {
    if config.local {
        return Err(LambdaError::Local);
    }
    // The Go connector's Lambda reads `region`; without it, the function's own region.
    if std::env::var_os("region").is_none() {
        if let Ok(region) = std::env::var("AWS_REGION") {
            config.region = region;
        }
    }
    crate::http::check_telemetry_path(&config.telemetry_path).map_err(state::StartError::Config)?;
    let metrics = telemetry::install();
    let state = state::build(&config).await?;
    // API Gateway, ALB and function URLs say who may invoke the function.
    let app = crate::http::app(
        state.clone(),
        &config.telemetry_path,
        metrics,
        crate::webconfig::Inbound::open(),
    )
    .layer(axum::middleware::map_response(buffered));
    tracing::info!(region = %config.region, "serving Lambda invocations");
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let (app, state) = (app.clone(), state.clone());
        async move {
            // Lambda reports the error as the invocation's; the function goes on.
            invocation(event, app, &state).await.map_err(|error| {
                tracing::warn!(%error, "invocation failed");
                lambda_runtime::Error::from(error)
            })
        }
    }))
    .await
    .map_err(LambdaError::Runtime)
}

/// Why an invocation was answered with an error (Lambda reports it as a function error).
#[derive(Debug, thiserror::Error)]
enum InvocationError {
    #[error("not an event this function answers: {0}")]
    Shape(serde_json::Error),
    #[error("{0}")]
    Events(#[from] crate::push::PushError),
    #[error("{0}")]
    Ingest(#[from] crate::ingest::IngestError),
}

async fn invocation(
    event: LambdaEvent<Value>,
    app: Router,
    state: &AppState,
) -> Result<Value, InvocationError> {
    let (payload, context) = event.into_parts();
    let answer = if is_sqs(&payload) {
        let event: SqsEvent = serde_json::from_value(payload).map_err(InvocationError::Shape)?;
        serde_json::to_value(sqs(state, &event).await)
    } else if payload.get("requestContext").is_some() {
        let request: lambda_http::request::LambdaRequest =
            serde_json::from_value(payload).map_err(InvocationError::Shape)?;
        // lambda_http's adapter turns the event into an HTTP request for the router and
        // the router's answer into the answer this kind of event expects.
        let mut adapter = lambda_http::Adapter::from(app);
        let response = match adapter.call(LambdaEvent::new(request, context)).await {
            Ok(response) => response,
            Err(never) => match never {},
        };
        serde_json::to_value(response)
    } else {
        let body = serde_json::to_vec(&payload).map_err(InvocationError::Shape)?;
        serde_json::to_value(direct(state, &body).await?)
    };
    answer.map_err(InvocationError::Shape)
}

/// Whether `payload` is an SQS batch.
fn is_sqs(payload: &Value) -> bool {
    payload
        .get("Records")
        .and_then(Value::as_array)
        .and_then(|records| records.first())
        .and_then(|record| record.get("eventSource"))
        .is_some_and(|source| source == "aws:sqs")
}

/// A direct invocation: one event or an array, answered as `POST /events` answers.
async fn direct(state: &AppState, body: &[u8]) -> Result<Answer, InvocationError> {
    let parsed = events::parse(body)?;
    let (items, invalid) = ingest_events::items(&parsed, now_ms());
    let outcome = ingest_events::write(
        &state.ingest,
        &items,
        invalid,
        !state.accept_partial_events,
        Protocol::Events,
        None,
    )
    .await?;
    Ok(Answer::new(parsed.events.len(), outcome))
}

/// An SQS batch: each message written whole or reported as failed.
async fn sqs(state: &AppState, event: &SqsEvent) -> SqsBatchResponse {
    let messages = &event.records;
    let parsed: Vec<_> = messages
        .iter()
        .map(|m| events::parse(m.body.as_deref().unwrap_or_default().as_bytes()))
        .collect();
    let mut items = Vec::new();
    let mut invalid = BTreeMap::new();
    for (index, (message, parsed)) in messages.iter().zip(&parsed).enumerate() {
        let owner = index as u32;
        // Events without a timestamp take the time SQS first received the message, so
        // that a redelivery writes the same points again rather than new ones.
        let sent_ms = message
            .attributes
            .get("SentTimestamp")
            .and_then(|t| t.parse().ok())
            .unwrap_or_else(now_ms);
        match parsed {
            Err(error) => {
                invalid.insert(owner, error.to_string());
            }
            Ok(parsed) => {
                for event in &parsed.events {
                    match event {
                        Ok(event) => items.push(Item {
                            owner,
                            event,
                            default_ms: sent_ms,
                        }),
                        Err(error) => {
                            invalid.entry(owner).or_insert_with(|| {
                                format!("event {}: {}", error.index, error.reason)
                            });
                        }
                    }
                }
            }
        }
    }
    let written = ingest_events::write(
        &state.ingest,
        &items,
        invalid,
        false,
        Protocol::Events,
        None,
    )
    .await;
    let mut response = SqsBatchResponse::default();
    for (index, message) in messages.iter().enumerate() {
        let id = message.message_id.clone().unwrap_or_default();
        let failure = match &written {
            Ok(outcome) if outcome.is_written(index as u32) => continue,
            Ok(outcome) => outcome
                .invalid
                .get(&(index as u32))
                .or_else(|| outcome.rejected.get(&(index as u32)))
                .cloned()
                .unwrap_or_default(),
            // Which calls failed is not known per message: all are redelivered, and
            // what was written is written again at the same times.
            Err(error) => error.to_string(),
        };
        tracing::warn!(message_id = %id, reason = %failure, "SQS message not written");
        response.add_failure(id);
    }
    response
}

/// Buffers an answer for Lambda, which sends it whole: one past the response limit
/// becomes a 413, and a streamed answer that failed half-way a 503 (the client may
/// retry), rather than a truncated body.
async fn buffered(response: Response) -> Response {
    let (parts, body) = response.into_parts();
    let mut stream = body.into_data_stream();
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(chunk) if bytes.len() + chunk.len() <= MAX_RESPONSE_BODY_BYTES => {
                bytes.extend_from_slice(&chunk)
            }
            Ok(_) => {
                return (
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!(
                        "the answer is larger than Lambda's 6 MB response limit allows \
                         ({MAX_RESPONSE_BODY_BYTES} bytes): read a shorter time range or \
                         fewer series, or run the connector as a daemon"
                    ),
                )
                    .into_response()
            }
            Err(error) => {
                return (
                    StatusCode::SERVICE_UNAVAILABLE,
                    [(header::RETRY_AFTER, RETRY_AFTER_SECONDS.to_string())],
                    format!("the answer failed half-way: {error}"),
                )
                    .into_response()
            }
        }
    }
    Response::from_parts(parts, Body::from(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn text(response: Response) -> (StatusCode, Vec<u8>) {
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, body.to_vec())
    }

    #[tokio::test]
    async fn an_answer_within_the_limit_is_passed_whole() {
        let body = vec![7u8; MAX_RESPONSE_BODY_BYTES];
        let response = (StatusCode::OK, body.clone()).into_response();
        assert_eq!(text(buffered(response).await).await, (StatusCode::OK, body));
    }

    #[tokio::test]
    async fn an_answer_past_the_limit_is_a_413_saying_why() {
        let chunks = futures::stream::iter(
            (0..2).map(|_| Ok::<_, std::io::Error>(vec![0u8; MAX_RESPONSE_BODY_BYTES / 2 + 1])),
        );
        let response = Response::new(Body::from_stream(chunks));
        let (status, body) = text(buffered(response).await).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        assert!(String::from_utf8(body).unwrap().contains("6 MB"));
    }

    #[tokio::test]
    async fn a_stream_that_fails_half_way_is_a_503_to_retry() {
        let chunks = futures::stream::iter([
            Ok(vec![1u8; 10]),
            Err(std::io::Error::other("Timestream went away")),
        ]);
        let response = buffered(Response::new(Body::from_stream(chunks))).await;
        assert!(response.headers().contains_key(header::RETRY_AFTER));
        let (status, body) = text(response).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(String::from_utf8(body)
            .unwrap()
            .contains("Timestream went away"));
    }

    #[test]
    fn sqs_batches_are_told_from_other_events() {
        let sqs = serde_json::json!({"Records": [{"eventSource": "aws:sqs", "body": "{}"}]});
        let s3 = serde_json::json!({"Records": [{"eventSource": "aws:s3"}]});
        let event = serde_json::json!({"metrics": {"a": 1}});
        assert!(is_sqs(&sqs));
        assert!(!is_sqs(&s3) && !is_sqs(&event));
    }
}
