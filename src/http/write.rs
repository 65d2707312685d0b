//! `POST /write`: one remote write request, from body to status code.
//!
//! The content type says the version: `application/x-protobuf` (with no `proto`, or
//! `proto=prometheus.WriteRequest`) is 1.0, `proto=io.prometheus.write.v2.Request` is
//! 2.0; anything else is a 415. decode (snappy, protobuf) → the ingest pipeline → 204,
//! or the error that tells the sender what to do.
//!
//! A 2.0 answer says what was stored (`X-Prometheus-Remote-Write-*-Written`), and is
//! 2xx only when every sample and histogram was: one that could not be stored (a series
//! without a name, non-finite values under `--non-finite-values=ignore`, a histogram
//! too large for one record) makes it a 400 that names why, after everything storable
//! was stored. Exemplars are stored too, but one that cannot be is only counted: the
//! specification leaves them optional.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use metrics::counter;

use super::error::AppError;
use super::AppState;
use crate::inflight::FOOTPRINT_PER_DECODED_BYTE;
use crate::ingest::{Protocol, Written};
use crate::remote::{snappy, write as remote_write, write_v2};
use crate::telemetry;
use crate::timestream::quota::Ignored;

const SAMPLES_WRITTEN: HeaderName =
    HeaderName::from_static("x-prometheus-remote-write-samples-written");
const HISTOGRAMS_WRITTEN: HeaderName =
    HeaderName::from_static("x-prometheus-remote-write-histograms-written");
const EXEMPLARS_WRITTEN: HeaderName =
    HeaderName::from_static("x-prometheus-remote-write-exemplars-written");

/// The remote write versions, told apart by content type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Version {
    V1,
    V2,
}

pub async fn write(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    let version = version(&headers)?;
    let credentials = super::auth::basic_auth(&headers)?;
    // The memory this request will hold, reserved before it is taken.
    let declared = snappy::declared_len(&body).inspect_err(|_| count_malformed())?;
    let _bytes = state
        .in_flight
        .bytes(body.len() + FOOTPRINT_PER_DECODED_BYTE * declared)?;
    let decoded = snappy::decompress(&body).inspect_err(|_| count_malformed())?;
    if version == Version::V1 {
        let batch = remote_write::decode(&decoded).inspect_err(|_| count_malformed())?;
        state
            .ingest
            .ingest(&batch, Protocol::RemoteWrite, credentials.as_ref())
            .await?;
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let request = match write_v2::decode(&decoded) {
        Ok(request) => request,
        Err(error) => {
            count_malformed();
            return Ok(with_counts(AppError::from(error).into_response(), [0; 3]));
        }
    };
    let result = state
        .ingest
        .ingest(&request.batch, Protocol::RemoteWrite2, credentials.as_ref())
        .await;
    Ok(match result {
        Ok(written) => answer_v2(&written),
        Err(error) => {
            // What the calls that did succeed wrote is stored, whatever the answer.
            let counts = error.written().counts();
            with_counts(AppError::from(error).into_response(), counts)
        }
    })
}

/// 204 when everything was stored, else a 400 that says what was not.
fn answer_v2(written: &Written) -> Response {
    let not_written = |ignored: &Ignored, what: &str| {
        ignored
            .iter()
            .map(|(reason, n)| format!("{n} {what} not written (a series {})", reason.describe()))
            .collect::<Vec<_>>()
    };
    let mut unwritten = not_written(&written.ignored, "sample(s)");
    unwritten.extend(not_written(
        &written.ignored_histograms,
        "native histogram sample(s)",
    ));
    let counts = written.stored.counts();
    let [samples, histograms, _] = counts;
    if unwritten.is_empty() {
        return with_counts(StatusCode::NO_CONTENT.into_response(), counts);
    }
    let message = format!(
        "remote write 2.0: {samples} of {} samples and {histograms} of {} histograms written; {}",
        written.received,
        written.received_histograms,
        unwritten.join("; ")
    );
    tracing::warn!(status = 400, error = %message, "request partly written");
    with_counts((StatusCode::BAD_REQUEST, message).into_response(), counts)
}

/// The 2.0 answer headers: samples, histograms and exemplars written.
fn with_counts(mut response: Response, [samples, histograms, exemplars]: [u64; 3]) -> Response {
    let headers = response.headers_mut();
    headers.insert(SAMPLES_WRITTEN, HeaderValue::from(samples));
    headers.insert(HISTOGRAMS_WRITTEN, HeaderValue::from(histograms));
    headers.insert(EXEMPLARS_WRITTEN, HeaderValue::from(exemplars));
    response
}

fn count_malformed() {
    counter!(telemetry::ERRORS, "stage" => "decode", "kind" => "malformed").increment(1);
}

/// The remote write version `headers` announce: snappy-compressed protobuf, of the
/// message the content type's `proto` names.
fn version(headers: &HeaderMap) -> Result<Version, AppError> {
    super::require_snappy(headers, "remote write")?;
    let Some(content_type) = headers.get(header::CONTENT_TYPE) else {
        return Ok(Version::V1);
    };
    let content_type = String::from_utf8_lossy(content_type.as_bytes()).to_ascii_lowercase();
    let mut parts = content_type.split(';').map(str::trim);
    let media = parts.next().unwrap_or_default();
    let proto = parts
        .find_map(|p| p.strip_prefix("proto="))
        .map(|p| p.trim_matches('"'));
    match (media, proto) {
        ("application/x-protobuf", None | Some("prometheus.writerequest")) => Ok(Version::V1),
        ("application/x-protobuf", Some("io.prometheus.write.v2.request")) => Ok(Version::V2),
        _ => Err(AppError::UnsupportedMediaType(format!(
            "Content-Type {content_type:?} is not supported; this connector speaks remote write \
             1.0 (application/x-protobuf;proto=prometheus.WriteRequest) and 2.0 \
             (application/x-protobuf;proto=io.prometheus.write.v2.Request)"
        ))),
    }
}
