//! The connector's state, built once from the configuration: the Timestream clients, routing,
//! the ingest pipeline and the reader. Apart from serving, so that every entry point
//! (the daemon's HTTP server, a Lambda function) builds the same state the same way.

use std::sync::Arc;
use std::time::Duration;

use thiserror::Error;

use crate::config::Config;
use crate::inflight::{self, Bounds, InFlight};
use crate::ingest::Ingest;
use crate::timestream::backend::{BackendError, Credentials, Page, QueryBackend};
use crate::timestream::direct::{Api, DirectBackend};
use crate::timestream::quota::valid_resource_name;
use crate::timestream::reader::Reader;
use crate::timestream::records::{Routing, Strictness};
use crate::timestream::sdk::Endpoint;
use crate::timestream::writer::{RetryPolicy, Writer};

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

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub ingest: Arc<Ingest>,
    pub reader: Arc<Reader>,
    /// Write the valid events of a batch and report the others, instead of refusing it.
    pub accept_partial_events: bool,
    /// The work in flight, and its bounds.
    pub in_flight: Arc<InFlight>,
    /// Queries one remote read may hold.
    pub max_read_queries: usize,
    /// Samples one SAMPLES remote read answer may hold.
    pub max_read_samples: u64,
}

/// Builds the state `config` asks for: the Timestream clients (with endpoint discovery
/// unless an endpoint is configured), the writer, the reader and the ingest pipeline.
pub async fn build(config: &Config) -> Result<AppState, StartError> {
    let routing = Arc::new(routing(config)?);
    let write_endpoint = Endpoint::choose(&config.local_endpoint, &config.write_base_endpoint);
    let backend = DirectBackend::connect(Api::Write, &config.region, write_endpoint)
        .await
        .map_err(StartError::Timestream)?;
    let query_endpoint = Endpoint::choose(&config.local_endpoint, &config.query_base_endpoint);
    // A deployment that only writes may lack query permissions: reads then fail, the
    // writes go on.
    let queries: Arc<dyn QueryBackend> =
        match DirectBackend::connect(Api::Query, &config.region, query_endpoint).await {
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
    let writer = Arc::new(Writer::new(
        Arc::new(backend),
        retry,
        config.max_concurrent_writes as usize,
    ));
    let strictness = Strictness {
        fail_on_long_label: config.fail_on_long_label,
        fail_on_invalid_sample_value: config.fail_on_invalid_sample_value,
        store_non_finite: config.non_finite_values == crate::config::NonFiniteValues::Store,
    };
    Ok(AppState {
        reader: Arc::new(Reader::new(queries, read_retry, routing.clone())),
        ingest: Arc::new(Ingest::new(
            writer,
            routing,
            strictness,
            config.record_mode == crate::config::RecordMode::Multi,
        )),
        accept_partial_events: config.accept_partial_events,
        in_flight: Arc::new(InFlight::new(Bounds {
            max_requests: config.max_concurrent_requests as usize,
            max_bytes: config
                .max_bytes_in_flight
                .map_or_else(inflight::default_max_bytes, |bytes| bytes as usize),
            request_timeout: config.request_timeout,
        })),
        max_read_queries: config.max_read_queries as usize,
        max_read_samples: config.max_read_samples,
    })
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
