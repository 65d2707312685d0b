//! The daemon: flags, logging, listener, then [`timestream_prometheus_connector::run`].

use clap::Parser;
use timestream_prometheus_connector::config::{Config, LogFormat, LogLevel};
use timestream_prometheus_connector::{run, shutdown_signal};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

// The AWS SDK allocates several strings per record and remote write requests arrive as
// multi-megabyte buffers; mimalloc handles both better than the system allocator
// (docs/performance.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]

async fn main() -> std::process::ExitCode {
    let config = Config::parse();
    init_logging(&config);
    let address = config.bind_address();
    let listener = match std::net::TcpListener::bind(&address) {
        Ok(listener) => listener,
        Err(error) => {
            tracing::error!(%address, %error, "cannot listen");
            eprintln!("cannot listen on {address}: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match run(config, listener, shutdown_signal()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "stopped");
            eprintln!("timestream-prometheus-connector: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn init_logging(config: &Config) {
    if !config.enable_logging {
        return;
    }
    let level = match config.log_level {
        LogLevel::Error => "error",
        LogLevel::Warn => "warn",
        LogLevel::Info => "info",
        LogLevel::Debug => "debug",
    };
    // Our own level from the flag; the AWS SDK's chatter only from warn up. RUST_LOG,
    // when set, overrides both (e.g. RUST_LOG=hyper=trace to debug connections).
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new(format!("warn,timestream_prometheus_connector={level}"))
    });
    let layer = match config.log_format {
        LogFormat::Logfmt => tracing_logfmt::builder()
            .layer()
            .with_writer(std::io::stderr)
            .boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .with_writer(std::io::stderr)
            .boxed(),
    };
    tracing_subscriber::registry()
        .with(layer.with_filter(filter))
        .init();
}
