//! `POST /read`: remote read, from body to series.
//!
//! Every query is planned first (its table, that table's columns, its SQL), so that a
//! bad matcher or an unavailable Timestream is a clean 400 or 503. Then pages are
//! fetched in order and turned into series as they arrive: gathered for a SAMPLES
//! answer, or streamed frame by frame for STREAMED_XOR_CHUNKS, where a failure after the
//! first frame can only cut the stream short (the client then reports the read failed).

use std::collections::HashMap;
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use metrics::{counter, histogram};

use super::error::AppError;
use super::AppState;
use crate::remote::proto;
use crate::remote::read::{self as remote_read, ResponseType, SamplesSink, StreamSink};
use crate::telemetry;
use crate::timestream::backend::Credentials;
use crate::timestream::reader::{Assembler, Columns, ReadError, Reader, SeriesSink};
use crate::timestream::sql::{self, Select};

pub async fn read(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let started = Instant::now();
    let response = match handle(&state, &headers, &body).await {
        Ok(response) => response,
        Err(error) => {
            count_failure(&error);
            error.into_response()
        }
    };
    counter!(telemetry::READ_REQUESTS, "code" => response.status().as_str().to_owned())
        .increment(1);
    histogram!(telemetry::READ_DURATION).record(started.elapsed().as_secs_f64());
    response
}

/// Counts a request refused before any query ran; failures of queries are counted where
/// they happen (in [`Reader::page`] and [`run`]), since a streamed answer can fail after
/// its response has started.
fn count_failure(error: &AppError) {
    let kind = match error {
        AppError::Decode(_) => "malformed",
        AppError::Read(e @ (ReadError::Translate(_) | ReadError::Routing { .. })) => e.kind(),
        _ => return,
    };
    counter!(telemetry::ERRORS, "stage" => "read", "kind" => kind).increment(1);
}

async fn handle(state: &AppState, headers: &HeaderMap, body: &[u8]) -> Result<Response, AppError> {
    super::require_snappy(headers, "remote read")?;
    let credentials = super::auth::basic_auth(headers)?;
    let request = remote_read::decode(body)?;
    let reader = &state.reader;
    let plans = plan(reader, &request, credentials.as_ref()).await?;
    match remote_read::response_type(&request) {
        ResponseType::Samples => {
            let mut results = Vec::with_capacity(plans.len());
            for plan in &plans {
                let mut sink = SamplesSink::default();
                if let Some(select) = plan {
                    run(reader, select, credentials.as_ref(), &mut sink, |_| async {
                        Ok::<_, ReadError>(())
                    })
                    .await?;
                }
                counter!(telemetry::READ_SERIES).increment(sink.series.len() as u64);
                results.push(sink.series);
            }
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

/// Each query's SELECT, or `None` where nothing can match.
async fn plan(
    reader: &Reader,
    request: &proto::ReadRequest,
    credentials: Option<&Credentials>,
) -> Result<Vec<Option<Select>>, ReadError> {
    let mut columns: HashMap<(String, String), Columns> = HashMap::new();
    let mut plans = Vec::with_capacity(request.queries.len());
    for query in &request.queries {
        let target = reader.target(remote_read::matchers(query))?;
        let key = (target.database.clone(), target.table.clone());
        if !columns.contains_key(&key) {
            let found = reader
                .columns(&target.database, &target.table, credentials)
                .await?;
            columns.insert(key.clone(), found);
        }
        let select = match (&columns[&key], remote_read::time_range(query)) {
            (Columns::Dimensions(dimensions), Some((start, end))) => sql::select(
                &target.database,
                &target.table,
                dimensions,
                &target.matchers,
                start,
                end,
            )?,
            _ => None,
        };
        let answered = if select.is_some() {
            "timestream"
        } else {
            "empty"
        };
        counter!(telemetry::READ_QUERIES, "answered" => answered).increment(1);
        plans.push(select);
    }
    Ok(plans)
}

/// Fetches every page of `select` into `sink`, calling `after_page` between pages (where
/// a streamed answer sends its frames).
async fn run<S, F, Fut, E>(
    reader: &Reader,
    select: &Select,
    credentials: Option<&Credentials>,
    sink: &mut S,
    mut after_page: F,
) -> Result<(), E>
where
    S: SeriesSink,
    F: FnMut(&mut S) -> Fut,
    Fut: std::future::Future<Output = Result<(), E>>,
    E: From<ReadError>,
{
    let mut assembler = Assembler::new(select.dimensions.clone());
    let mut token: Option<String> = None;
    let mut scanned = 0;
    loop {
        let page = reader
            .page(&select.sql, token.as_deref(), credentials)
            .await?;
        scanned = page.bytes_scanned.max(scanned);
        for row in page.rows {
            assembler.push(row, sink).inspect_err(|e| {
                counter!(telemetry::ERRORS, "stage" => "read", "kind" => e.kind()).increment(1);
            })?;
        }
        token = page.next_token;
        if token.is_none() {
            break;
        }
        after_page(sink).await?;
    }
    assembler.finish(sink);
    counter!(telemetry::QUERY_BYTES_SCANNED).increment(scanned);
    Ok(())
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
        run(
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
