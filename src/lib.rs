//! A Prometheus remote write and remote read connector for Amazon Timestream, which also
//! takes Pushgateway pushes and JSON events.
//!
//! # Layout
//! Data flows one way: front-ends decode with protocol code into plain data, which the
//! pipelines write to or read from Timestream.
//! - [`config`]: command-line flags and their environment variables.
//! - [`http`]: the front-end: router, handlers, and the one mapping of errors to status
//!   codes.
//! - [`remote`]: Prometheus' remote storage protocol: snappy, protobuf, XOR chunks.
//! - [`push`]: pushed metrics: the text and protobuf exposition formats, Pushgateway
//!   grouping keys, JSON events.
//! - [`series`]: the plain data in the middle: batches of borrowed series, selectors,
//!   the sink series are read into.
//! - [`ingest`]: the one ingest pipeline every front-end calls, and its outcome.
//! - [`timestream`]: records, batching, the SDK clients, the writer with retries, and
//!   the read pipeline (matchers to SQL, rows back to series).
//! - [`state`]: the clients, writer, reader and pipelines, built once from the config.
//! - [`lambda`]: the other front-end: the same state and router as an AWS Lambda
//!   function, plus SQS batches and direct invocations of JSON events.
//! - [`telemetry`]: the connector's own metrics.
//!
//! [`run`] serves on a listener it is given until a shutdown future completes, so the
//! binary and the tests start the daemon the same way.

pub mod config;
pub mod fixtures;
pub mod http;
pub mod ingest;
pub mod lambda;
pub mod push;
pub mod remote;
pub mod series;
pub mod state;
pub mod telemetry;
pub mod timestream;

use std::future::Future;
use std::time::Duration;

use config::Config;
pub use state::StartError;

/// How long in-flight requests may take to finish after a shutdown signal.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// Serves the connector on `listener` until `shutdown` completes, then drains.
pub async fn run(
    config: Config,
    listener: std::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StartError> {
    // The recorder first: building the state registers the zero counters.
    let metrics = telemetry::install();
    let state = state::build(&config, timestream::sdk::Refresh::Background).await?;
    let app = http::app(state, &config.telemetry_path, metrics);
    listener.set_nonblocking(true)?;
    tracing::info!(address = %listener.local_addr()?, "listening");

    match (&config.tls_certificate, &config.tls_key) {
        (Some(certificate), Some(key)) => {
            let tls = axum_server::tls_rustls::RustlsConfig::from_pem_file(certificate, key)
                .await
                .map_err(StartError::Tls)?;
            let handle = axum_server::Handle::new();
            let on_signal = handle.clone();
            tokio::spawn(async move {
                shutdown.await;
                on_signal.graceful_shutdown(Some(DRAIN_TIMEOUT));
            });
            axum_server::from_tcp_rustls(listener, tls)?
                .handle(handle)
                .serve(app.into_make_service())
                .await?;
        }
        _ => {
            let (signalled, mut drain) = tokio::sync::watch::channel(false);
            let server = axum::serve(tokio::net::TcpListener::from_std(listener)?, app)
                .with_graceful_shutdown(async move {
                    shutdown.await;
                    tracing::info!("shutting down: finishing in-flight requests");
                    let _ = signalled.send(true);
                });
            tokio::select! {
                served = server => served?,
                _ = async { let _ = drain.wait_for(|s| *s).await; tokio::time::sleep(DRAIN_TIMEOUT).await } => {
                    tracing::warn!("in-flight requests did not finish within {DRAIN_TIMEOUT:?}; stopping anyway");
                }
            }
        }
    }
    Ok(())
}

/// Completes on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}
