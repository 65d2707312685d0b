//! The daemon: flags, logging, listener, then [`timestream_prometheus_connector::run`];
//! or, where Lambda started the process, the function
//! ([`timestream_prometheus_connector::lambda`]).

use clap::Parser;
use timestream_prometheus_connector::config::{Config, LogFormat, LogLevel};
use timestream_prometheus_connector::{lambda, run, shutdown_signal};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

// The AWS SDK allocates several strings per record and remote write requests arrive as
// multi-megabyte buffers; mimalloc handles both better than the system allocator
// (docs/performance.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let config = Config::parse();
    init_logging(&config);
    if lambda::detected() {
        // API Gateway REST API events carry their stage, which lambda_http would put in
        // front of the path (`/prod/write`); the routes are the daemon's. Set before the
        // runtime starts any thread that could read the environment.
        if std::env::var_os("AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH").is_none() {
            std::env::set_var("AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH", "true");
        }
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("cannot start the async runtime: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    if lambda::detected() {
        return runtime.block_on(async {
            match lambda::run(config).await {
                Ok(()) => std::process::ExitCode::SUCCESS,
                Err(error) => {
                    tracing::error!(%error, "the Lambda function stopped");
                    eprintln!("timestream-prometheus-connector: {error}");
                    std::process::ExitCode::FAILURE
                }
            }
        });
    }
    runtime.block_on(daemon(config))
}

async fn daemon(mut config: Config) -> std::process::ExitCode {
    if config.local {
        if let Err(error) = start_local(&mut config).await {
            tracing::error!(%error, "cannot start Timestream Local");
            eprintln!("cannot start Timestream Local: {error}");
            return std::process::ExitCode::FAILURE;
        }
    }
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

/// Starts Timestream Local on a loopback port for `--local`, creates the default database
/// and table, and points the connector at it.
#[cfg(feature = "local")]
async fn start_local(config: &mut Config) -> Result<(), Box<dyn std::error::Error>> {
    use timestream_prometheus_connector::config::{LOCAL_DATABASE, LOCAL_TABLE};
    let database = config
        .default_database
        .get_or_insert_with(|| LOCAL_DATABASE.into());
    let table = config
        .default_table
        .get_or_insert_with(|| LOCAL_TABLE.into());
    let local = timestream_local::Local::open(&timestream_local::Options {
        data_dir: Some(config.data_dir.clone()),
        ..Default::default()
    })?;
    local.ensure_table(database, table)?;
    let listener = tokio::net::TcpListener::bind(&config.local_listen_address).await?;
    let endpoint = format!("http://{}", listener.local_addr()?);
    tracing::info!(
        message = "timestream local",
        endpoint,
        data_dir = %config.data_dir.display(),
        database = %database,
        table = %table,
    );
    // It serves until the process ends: after the connector has drained.
    tokio::spawn(local.serve(listener, std::future::pending()));
    config.local_endpoint = Some(endpoint);
    Ok(())
}

#[cfg(not(feature = "local"))]
async fn start_local(_: &mut Config) -> Result<(), String> {
    Err("this build has no Timestream Local (built without the `local` feature)".into())
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
