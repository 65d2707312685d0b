//! HTTP: the router, its handlers, and the mapping of errors to status codes.
//!
//! - `POST /write`: Prometheus remote write 1.0 ([`write`]).
//! - `POST /read`: Prometheus remote read, SAMPLES or STREAMED_XOR_CHUNKS ([`read`]).
//! - `PUT`, `POST`, `DELETE /metrics/job/<job>{/<label>/<value>}`: the Pushgateway's
//!   API; `POST /events`: JSON events ([`push`]).
//! - `GET <telemetry path>`: the connector's own metrics.
//! - `GET /health` (also `/-/healthy`, `/-/ready`): liveness.

mod auth;
pub mod error;
pub mod push;
mod read;
mod write;

use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderMap};
use axum::routing::{get, post, put};
use axum::Router;
use metrics_exporter_prometheus::PrometheusHandle;

use error::AppError;

pub use crate::state::AppState;

/// Largest compressed request body accepted; snappy's and gzip's decoded sizes are
/// checked apart.
pub const MAX_BODY_BYTES: usize = 32 << 20;

/// Both remote storage protocols compress with snappy; a body in another encoding is a
/// 415 rather than a decoding error.
fn require_snappy(headers: &HeaderMap, protocol: &str) -> Result<(), AppError> {
    match headers.get(header::CONTENT_ENCODING) {
        Some(encoding) if !encoding.as_bytes().eq_ignore_ascii_case(b"snappy") => {
            Err(AppError::UnsupportedMediaType(format!(
                "Content-Encoding {:?} is not supported; {protocol} uses snappy",
                String::from_utf8_lossy(encoding.as_bytes())
            )))
        }
        _ => Ok(()),
    }
}

/// The connector's router.
pub fn app(state: AppState, telemetry_path: &str, metrics: PrometheusHandle) -> Router {
    let health = get(|| async { "ok\n" });
    Router::new()
        .route("/write", post(write::write))
        .route("/read", post(read::read))
        .route("/metrics/job/{*grouping}", pushes())
        .route("/metrics/job@base64/{*grouping}", pushes())
        // Paths that end before the job's name, so that they are a 400 from the
        // grouping key's parser rather than a 404.
        .route("/metrics/job", pushes())
        .route("/metrics/job/", pushes())
        .route("/metrics/job@base64", pushes())
        .route("/metrics/job@base64/", pushes())
        .route("/events", post(push::events))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
        .route("/health", health.clone())
        .route("/-/healthy", health.clone())
        .route("/-/ready", health)
        .route(
            telemetry_path,
            get(move || std::future::ready(metrics.render())),
        )
}

/// The Pushgateway's methods on a grouping key's path.
fn pushes() -> axum::routing::MethodRouter<AppState> {
    put(push::push).post(push::push).delete(push::push)
}
