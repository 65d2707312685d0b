//! A Prometheus remote write and remote read connector for Amazon Timestream.
//!
//! # Layout
//! - [`config`]: command-line flags and their environment variables.
//! - [`http`]: the router, handlers, and the one mapping of errors to status codes.
//! - [`remote`]: Prometheus' remote storage protocol: snappy, protobuf, XOR chunks.
//! - [`series`]: the plain, borrowed sample data every ingest format decodes into.
//! - [`timestream`]: records, batching, the SDK clients, the writer with retries, and
//!   the reader (matchers to SQL, rows back to series).
//! - [`telemetry`]: the connector's own metrics.
//!
//! [`run`] serves on a listener it is given until a shutdown future completes, so the
//! binary and the tests start the daemon the same way.

pub mod config;
pub mod fixtures;
pub mod http;
pub mod remote;
pub mod series;
pub mod telemetry;
pub mod timestream;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use thiserror::Error;

use config::Config;
use timestream::backend::{BackendError, Credentials, Page, QueryBackend};
use timestream::quota::valid_resource_name;
use timestream::reader::Reader;
use timestream::records::{Routing, Strictness};
use timestream::sdk::{Endpoint, SdkBackend, SdkQueryBackend};
use timestream::writer::{RetryPolicy, Writer};

/// How long in-flight requests may take to finish after a shutdown signal.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// Why the daemon could not start (or stopped serving).
#[derive(Debug, Error)]
pub enum StartError {
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("Timestream client: {0}")]
    Timestream(String),
    #[error("TLS: {0}")]
    Tls(std::io::Error),
    #[error("serving HTTP: {0}")]
    Serve(#[from] std::io::Error),
}

/// The write path's backoff: short first, capped well under Prometheus' 30 s timeout.
const WRITE_RETRY_BASE: Duration = Duration::from_millis(50);
const WRITE_RETRY_CAP: Duration = Duration::from_secs(2);

/// Serves the connector on `listener` until `shutdown` completes, then drains.
pub async fn run(
    config: Config,
    listener: std::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StartError> {
    let routing = routing(&config)?;
    let write_endpoint = Endpoint::choose(&config.local_endpoint, &config.write_base_endpoint);
    let backend = SdkBackend::connect(&config.region, write_endpoint)
        .await
        .map_err(StartError::Timestream)?;
    let query_endpoint = Endpoint::choose(&config.local_endpoint, &config.query_base_endpoint);
    // A deployment that only writes may lack query permissions: reads then fail, the
    // writes go on.
    let queries: Arc<dyn QueryBackend> =
        match SdkQueryBackend::connect(&config.region, query_endpoint).await {
            Ok(backend) => Arc::new(backend),
            Err(error) => {
                tracing::error!(%error, "remote read is unavailable");
                Arc::new(Unavailable(error))
            }
        };
    let retry = RetryPolicy {
        max_attempts: config.max_write_retries,
        base_delay: WRITE_RETRY_BASE,
        max_delay: WRITE_RETRY_CAP,
    };
    let read_retry = RetryPolicy {
        max_attempts: config.max_read_retries,
        ..retry
    };
    let routing = Arc::new(routing);
    let state = http::AppState {
        reader: Arc::new(Reader::new(queries, read_retry, routing.clone())),
        writer: Arc::new(Writer::new(
            Arc::new(backend),
            retry,
            config.max_concurrent_writes as usize,
        )),
        routing,
        strictness: Strictness {
            fail_on_long_label: config.fail_on_long_label,
            fail_on_invalid_sample_value: config.fail_on_invalid_sample_value,
        },
    };
    let app = http::app(state, &config.telemetry_path, telemetry::install());
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

fn routing(config: &Config) -> Result<Routing, StartError> {
    let required = |value: &Option<String>, flag: &str| match value {
        Some(name) if valid_resource_name(name) => Ok(name.clone()),
        Some(name) => Err(StartError::Config(format!(
            "--{flag} {name:?} is not a Timestream name ([a-zA-Z0-9_.-], 3 to 256 bytes)"
        ))),
        None => Err(StartError::Config(format!("--{flag} is required"))),
    };
    Ok(Routing {
        default_database: required(&config.default_database, "default-database")?,
        default_table: required(&config.default_table, "default-table")?,
        database_label: config.database_label.clone(),
        table_label: config.table_label.clone(),
    })
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

/// The query backend when the query client could not be set up.
struct Unavailable(String);

impl QueryBackend for Unavailable {
    fn query<'a>(
        &'a self,
        _: &'a str,
        _: Option<&'a str>,
        _: Option<&'a Credentials>,
    ) -> futures::future::BoxFuture<'a, Result<Page, BackendError>> {
        Box::pin(std::future::ready(Err(BackendError::Unavailable(
            self.0.clone(),
        ))))
    }
}
