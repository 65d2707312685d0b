//! Timestream Local: Amazon Timestream's write and query APIs, served on your machine.
//!
//! It speaks Timestream's wire protocol (AWS JSON 1.0, `X-Amz-Target:
//! Timestream_20181101.*`), so the official SDKs talk to it unchanged through an endpoint
//! override. Writes are validated as Timestream validates them and kept in a log that
//! survives restarts ([`log`]); queries run on DataFusion after Timestream's dialect is
//! translated ([`query`]).
//!
//! Layered, bottom to top; each module imports only from the layers below it:
//!
//! - [`record`], [`error`], [`wire`], [`clock`]: what a record is (with Timestream's
//!   limits and a table's settings), the errors, the request shapes, and the time.
//! - `admission`: WriteRecords' rules, record by record. [`log`]: persistence.
//! - [`store`]: databases, tables and rows, changed only through the log.
//! - [`query`]: Timestream SQL on DataFusion, with paginated results. [`server`]: the
//!   HTTP route and the mapping of errors to Timestream's exceptions. [`Local`] ties
//!   them together, and owns the clock they are handed.

mod admission;
pub mod clock;
pub mod error;
pub mod log;
pub mod query;
pub mod record;
pub mod server;
pub mod store;
pub mod wire;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

pub use clock::Clock;
pub use error::Error;
use record::TableSettings;
use store::Store;

/// How to run Timestream Local.
#[derive(Clone, Debug)]
pub struct Options {
    /// Where data is kept; `None` keeps it in memory only.
    pub data_dir: Option<PathBuf>,
    /// fdatasync every change (survives power loss, not only a crash of the process).
    pub sync: bool,
    /// The most rows a Query page holds, whatever MaxRows asks (Timestream caps pages too).
    pub max_page_rows: usize,
    /// What time it is, for retention windows, catalog times and `now()`; the system's
    /// unless a test needs another.
    pub clock: Clock,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            data_dir: None,
            sync: false,
            max_page_rows: query::MAX_ROWS,
            clock: Clock::system(),
        }
    }
}

/// A Timestream Local instance: its store, its running queries, and its clock.
#[derive(Clone)]
pub struct Local {
    store: Arc<Store>,
    queries: Arc<query::Queries>,
    clock: Clock,
}

impl Local {
    pub fn open(options: &Options) -> Result<Local, Error> {
        let store = Arc::new(Store::open(options.data_dir.as_deref(), options.sync)?);
        let clock = options.clock.clone();
        let queries = Arc::new(query::Queries::new(
            store.clone(),
            options.max_page_rows,
            clock.clone(),
        ));
        Ok(Local {
            store,
            queries,
            clock,
        })
    }

    /// Creates `database` and `table` unless they exist.
    pub fn ensure_table(&self, database: &str, table: &str) -> Result<(), Error> {
        let now = self.clock.seconds();
        match self.store.create_database(database, now) {
            Ok(()) | Err(Error::Conflict(_)) => {}
            Err(e) => return Err(e),
        }
        match self
            .store
            .create_table(database, table, TableSettings::default(), now)
        {
            Ok(()) | Err(Error::Conflict(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    pub fn router(&self) -> axum::Router {
        axum::Router::new()
            .route("/", axum::routing::post(server::handle))
            .with_state(self.clone())
    }

    /// Serves on `listener` until `shutdown` completes.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        axum::serve(listener, self.router())
            .with_graceful_shutdown(shutdown)
            .await
    }
}
