//! `POST /read`: remote read over HTTP: extract, choose the answer type, stream.
//!
//! The read pipeline ([`crate::timestream::query`]) plans every query before anything is
//! answered, so a bad matcher or an unavailable Timestream is a clean 400 or 503. A
//! SAMPLES answer is gathered whole; a STREAMED_XOR_CHUNKS answer is sent frame by frame
//! as pages arrive, where a failure after the first frame can only cut the stream short
//! (the client then reports the read failed).

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use metrics::counter;

use super::error::AppError;
use super::AppState;
use crate::remote::read::{self as remote_read, ResponseType, SamplesSink, StreamSink};
use crate::telemetry;
use crate::timestream::backend::Credentials;
use crate::timestream::query;
use crate::timestream::reader::{ReadError, Reader};
use crate::timestream::sql::Select;

pub async fn read(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    match handle(&state, &headers, &body).await {
        Ok(response) => response,
        Err(error) => {
            count_failure(&error);
            error.into_response()
        }
    }
}

/// Counts a request refused before any query ran; failures of queries are counted where
/// they happen (in [`Reader::page`] and [`query::run`]), since a streamed answer can fail after
/// its response has started.
fn count_failure(error: &AppError) {
    let kind = match error {
        AppError::Decode(_) => "malformed",
        AppError::Read(
            e @ (ReadError::Translate(_)
            | ReadError::Routing { .. }
            | ReadError::TooManyQueries { .. }
            | ReadError::TooManySamples { .. }),
        ) => e.kind(),
        _ => return,
    };
    counter!(telemetry::ERRORS, "stage" => "read", "kind" => kind).increment(1);
}

async fn handle(state: &AppState, headers: &HeaderMap, body: &[u8]) -> Result<Response, AppError> {
    super::require_snappy(headers, "remote read")?;
    let credentials = super::auth::basic_auth(headers)?;
    let request = remote_read::decode(body)?;
    if request.queries.len() > state.max_read_queries {
        return Err(ReadError::TooManyQueries {
            queries: request.queries.len(),
            limit: state.max_read_queries,
        }
        .into());
    }
    let reader = &state.reader;
    let plans = query::plan(
        reader,
        remote_read::selectors(&request)?,
        credentials.as_ref(),
    )
    .await?;
    match remote_read::response_type(&request) {
        ResponseType::Samples => {
            let sinks: Vec<SamplesSink> =
                query::gather(reader, &plans, credentials.as_ref(), state.max_read_samples).await?;
            let results: Vec<_> = sinks.into_iter().map(|sink| sink.series).collect();
            let series = results.iter().map(Vec::len).sum::<usize>();
            counter!(telemetry::READ_SERIES).increment(series as u64);
            Ok((
                [
                    (header::CONTENT_TYPE, remote_read::SAMPLES_CONTENT_TYPE),
                    (header::CONTENT_ENCODING, "snappy"),
                ],
                remote_read::samples_response(results),
            )
                .into_response())
        }
        ResponseType::Streamed => {
            let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
            let reader = state.reader.clone();
            tokio::spawn(async move {
                if let Err(e) = stream(&reader, &plans, credentials.as_ref(), &tx).await {
                    tracing::warn!(error = %e, "streamed remote read cut short");
                    let _ = tx.send(Err(std::io::Error::other(e.to_string()))).await;
                }
            });
            let body = Body::from_stream(tokio_stream_from(rx));
            Ok((
                StatusCode::OK,
                [(header::CONTENT_TYPE, remote_read::STREAMED_CONTENT_TYPE)],
                body,
            )
                .into_response())
        }
    }
}

#[derive(Debug, thiserror::Error)]
enum StreamError {
    #[error("{0}")]
    Read(#[from] ReadError),
    #[error("the client went away")]
    Gone,
}

async fn stream(
    reader: &Reader,
    plans: &[Option<Select>],
    credentials: Option<&Credentials>,
    tx: &tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>,
) -> Result<(), StreamError> {
    for (index, plan) in plans.iter().enumerate() {
        let Some(select) = plan else { continue };
        let mut sink = StreamSink::new(index, remote_read::MAX_BYTES_IN_FRAME);
        // Frames go out between pages; a client gone stops the querying.
        query::run(
            reader,
            select,
            credentials,
            &mut sink,
            |sink: &mut StreamSink| {
                let frames = std::mem::take(&mut sink.frames);
                async move {
                    for frame in frames {
                        tx.send(Ok(frame)).await.map_err(|_| StreamError::Gone)?;
                    }
                    Ok::<_, StreamError>(())
                }
            },
        )
        .await?;
        counter!(telemetry::READ_SERIES).increment(sink.series);
        for frame in std::mem::take(&mut sink.frames) {
            tx.send(Ok(frame)).await.map_err(|_| StreamError::Gone)?;
        }
    }
    Ok(())
}

/// The receiving end of a channel as a stream of body chunks.
fn tokio_stream_from(
    mut rx: tokio::sync::mpsc::Receiver<Result<Bytes, std::io::Error>>,
) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}
