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
//! - [`histogram`]: native histograms as plain data.
//! - [`series`]: the plain data in the middle: batches of borrowed series, selectors,
//!   the sink series are read into.
//! - [`ingest`]: the one ingest pipeline every front-end calls, and its outcome.
//! - [`timestream`]: records, batching, the SDK clients, the writer with retries, and
//!   the read pipeline (matchers to SQL, rows back to series).
//! - [`state`]: the clients, writer, reader and pipelines, built once from the config.
//! - [`inflight`]: the bounds on work in flight (requests, bytes, time).
//! - [`lambda`]: the other front-end: the same state and router as an AWS Lambda
//!   function, plus SQS batches and direct invocations of JSON events.
//! - [`telemetry`]: the connector's own metrics.
//! - [`webconfig`]: `--web.config.file`, inbound TLS and Basic auth users.
//!
//! [`run`] serves on a listener it is given until a shutdown future completes, so the
//! binary and the tests start the daemon the same way.

pub mod config;
pub mod fixtures;
pub mod histogram;
pub mod http;
pub mod inflight;
pub mod ingest;
pub mod lambda;
pub mod push;
pub mod remote;
pub mod series;
pub mod state;
pub mod telemetry;
pub mod timestream;
pub mod webconfig;

use std::future::Future;
use std::time::Duration;

use config::Config;
pub use state::StartError;

/// How long the answers of requests cut off at the end of a drain have to go out.
const CUT_OFF_GRACE: Duration = Duration::from_secs(5);

/// Serves the connector on `listener` until `shutdown` completes, then drains.
pub async fn run(
    config: Config,
    listener: std::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StartError> {
    http::check_telemetry_path(&config.telemetry_path).map_err(StartError::Config)?;
    // The recorder first: building the state registers the zero counters.
    let metrics = telemetry::install();
    let state = state::build(&config).await?;
    let in_flight = state.in_flight.clone();
    let web = match &config.web_config_file {
        Some(path) => {
            if config.tls_certificate.is_some() {
                return Err(StartError::Config(
                    "--tls-certificate/--tls-key and --web.config.file's tls_server_config: choose one".into(),
                ));
            }
            let served = webconfig::Served::load(path)
                .map_err(|e| StartError::Config(format!("--web.config.file: {e}")))?;
            Some(served)
        }
        None => None,
    };
    let inbound = web
        .as_ref()
        .map_or_else(webconfig::Inbound::open, |w| w.inbound.clone());
    let app = http::app(state, &config.telemetry_path, metrics, inbound);
    listener.set_nonblocking(true)?;
    tracing::info!(address = %listener.local_addr()?, "listening");

    // After a shutdown signal, in-flight requests have the drain timeout to finish; what
    // still runs then is answered 503 (the sender retries), never left half-answered.
    let drain_timeout = config.drain_timeout;
    let (signalled, mut drain) = tokio::sync::watch::channel(false);
    let shutdown = async move {
        shutdown.await;
        tracing::info!("shutting down: finishing in-flight requests");
        let _ = signalled.send(true);
    };
    let cut_off = async move {
        let _ = drain.wait_for(|s| *s).await;
        tokio::time::sleep(drain_timeout).await;
        tracing::warn!(
            "in-flight requests did not finish within {drain_timeout:?}: answering them 503"
        );
        in_flight.cut_off();
        tokio::time::sleep(CUT_OFF_GRACE).await;
    };
    let tls = match (&config.tls_certificate, &config.tls_key, &web) {
        (Some(certificate), Some(key), _) => Some(
            axum_server::tls_rustls::RustlsConfig::from_pem_file(certificate, key)
                .await
                .map_err(StartError::Tls)?,
        ),
        (_, _, Some(web)) => web.tls.clone(),
        _ => None,
    };
    if let Some(web) = web {
        tokio::spawn(web.watch());
    }
    match tls {
        Some(tls) => {
            let handle = axum_server::Handle::new();
            let on_signal = handle.clone();
            tokio::spawn(async move {
                shutdown.await;
                on_signal.graceful_shutdown(Some(drain_timeout + CUT_OFF_GRACE));
            });
            tokio::spawn(cut_off);
            axum_server::from_tcp_rustls(listener, tls)?
                .handle(handle)
                .serve(app.into_make_service())
                .await?;
        }
        _ => {
            let server = axum::serve(tokio::net::TcpListener::from_std(listener)?, app)
                .with_graceful_shutdown(shutdown);
            tokio::select! {
                served = server => served?,
                () = cut_off => tracing::warn!("connections still open after the cut-off; stopping anyway"),
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
