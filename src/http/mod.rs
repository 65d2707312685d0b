//! HTTP: the router, its handlers, and the mapping of errors to status codes.
//!
//! - `POST /write`: Prometheus remote write 1.0 ([`write`]).
//! - `POST /read`: Prometheus remote read, SAMPLES or STREAMED_XOR_CHUNKS ([`read`]).
//! - `PUT`, `POST`, `DELETE /metrics/job/<job>{/<label>/<value>}`: the Pushgateway's
//!   API; `POST /events`: JSON events ([`push`]).
//! - `GET <telemetry path>`: the connector's own metrics.
//! - `GET /health` (also `/-/healthy`, `/-/ready`): liveness.
//!
//! The API routes pass through [`guard`]: counted, bounded in time, and (writes) in
//! number in flight.

mod auth;
pub mod error;
mod guard;
pub mod push;
mod read;
mod write;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderMap};
use axum::middleware::{from_fn, from_fn_with_state};
use axum::routing::{get, post, put};
use axum::Router;
use tower_http::catch_panic::CatchPanicLayer;

use error::AppError;

pub use crate::state::AppState;
use crate::telemetry::Telemetry;
use crate::webconfig::Inbound;

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

/// Paths of the API routes, which the telemetry path may not take.
const API_PATHS: [&str; 6] = [
    "/write",
    "/read",
    "/events",
    "/health",
    "/-/healthy",
    "/-/ready",
];

/// Refuses a telemetry path the router could not serve beside the API routes, with a
/// clear message (axum would panic on the collision).
pub fn check_telemetry_path(path: &str) -> Result<(), String> {
    let collides = API_PATHS.contains(&path)
        || path == "/metrics/job"
        || path.starts_with("/metrics/job/")
        || path.starts_with("/metrics/job@base64");
    if !path.starts_with('/') || path.contains(['{', '}', '*']) {
        Err(format!(
            "--web.telemetry-path {path:?} must be a plain path starting with /"
        ))
    } else if collides {
        Err(format!(
            "--web.telemetry-path {path:?} is one of the connector's own routes; choose another path"
        ))
    } else {
        Ok(())
    }
}

/// The connector's router. `telemetry_path` must have passed [`check_telemetry_path`];
/// `inbound` says who may call it.
pub fn app(
    state: AppState,
    telemetry_path: &str,
    telemetry: Telemetry,
    inbound: Arc<Inbound>,
) -> Router {
    let health = get(|| async { "ok\n" });
    let writes = Router::new()
        .route("/write", post(write::write))
        .route("/metrics/job/{*grouping}", pushes())
        .route("/metrics/job@base64/{*grouping}", pushes())
        // Paths that end before the job's name, so that they are a 400 from the
        // grouping key's parser rather than a 404.
        .route("/metrics/job", pushes())
        .route("/metrics/job/", pushes())
        .route("/metrics/job@base64", pushes())
        .route("/metrics/job@base64/", pushes())
        .route("/events", post(push::events))
        .route_layer(from_fn_with_state(state.clone(), guard::admit));
    Router::new()
        .merge(writes)
        .route("/read", post(read::read))
        .route_layer(from_fn_with_state(state.clone(), guard::deadline))
        .route_layer(from_fn(guard::oversized))
        .route_layer(from_fn(guard::count))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
        .route("/health", health.clone())
        .route("/-/healthy", health.clone())
        .route("/-/ready", health)
        .route(
            telemetry_path,
            get(move || std::future::ready(telemetry.render())),
        )
        .layer(from_fn_with_state(inbound, guard::authenticate))
        .layer(CatchPanicLayer::custom(guard::panicked))
}

/// The Pushgateway's methods on a grouping key's path.
fn pushes() -> axum::routing::MethodRouter<AppState> {
    put(push::push).post(push::push).delete(push::push)
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use tower::ServiceExt;

    use super::*;

    #[tokio::test]
    async fn a_handler_that_panics_is_a_500_counted_and_the_router_goes_on() {
        let app = Router::new()
            .route(
                "/panic",
                get(|| async {
                    panic!("a bug");
                    #[allow(unreachable_code)]
                    "never"
                }),
            )
            .route("/fine", get(|| async { "ok" }))
            .layer(CatchPanicLayer::custom(guard::panicked));
        let call = |path: &str| Request::get(path).body(Body::empty()).unwrap();
        let answer = app.clone().oneshot(call("/panic")).await.unwrap();
        assert_eq!(answer.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let answer = app.oneshot(call("/fine")).await.unwrap();
        assert_eq!(answer.status(), StatusCode::OK);
    }
}
