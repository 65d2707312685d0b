//! `timestream-local`: Timestream Local on its own, for trying Timestream clients and for
//! other projects' CI.

use std::path::PathBuf;

use clap::Parser;
use timestream_local::{Local, Options};

#[derive(Parser)]
#[command(
    version,
    about = "A local, wire-compatible Amazon Timestream (write and query APIs)"
)]
struct Args {
    /// Address to listen on; point the SDKs' endpoint URL at it.
    #[arg(long, default_value = "127.0.0.1:8900")]
    listen: String,
    /// Directory to keep data in; without it, data lives in memory only.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// fdatasync every change, so it survives power loss and not only a crash.
    #[arg(long)]
    sync: bool,
    /// The most rows one Query page holds.
    #[arg(long, default_value_t = timestream_local::query::MAX_ROWS)]
    max_page_rows: usize,
    /// Create this database and table at start (`DB.TABLE`), unless they exist.
    #[arg(long, value_name = "DB.TABLE")]
    create: Vec<String>,
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
    if let Err(e) = run(Args::parse()).await {
        eprintln!("timestream-local: {e}");
        std::process::exit(1);
    }
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let local = Local::open(&Options {
        data_dir: args.data_dir,
        sync: args.sync,
        max_page_rows: args.max_page_rows.max(1),
        ..Default::default()
    })?;
    for name in &args.create {
        let (db, table) = name
            .split_once('.')
            .ok_or_else(|| format!("--create {name}: expected DB.TABLE"))?;
        local.ensure_table(db, table)?;
    }
    let listener = tokio::net::TcpListener::bind(&args.listen).await?;
    tracing::info!(address = %listener.local_addr()?, "listening");
    local.serve(listener, shutdown_signal()).await?;
    Ok(())
}

/// SIGINT or SIGTERM: stop taking requests and finish those in flight.
async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("a SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
