//! Load generator for remote write receivers, and a sink to relay into.
//!
//! `loadgen send --url URL [--pid PID]` sends pre-encoded remote write requests (2000
//! samples each by default, Prometheus' default batch) with a fixed concurrency and
//! prints one line: samples/s, and, given the receiver's PID, samples per CPU-second
//! of that process (the fair measure when the generator shares the machine).
//!
//! `loadgen sink` answers Timestream WriteRecords calls and remote write requests with
//! success at once, printing its address; relays under test forward into it.
//!
//! Loopback only. Used by `scripts/bench-peers`; results in docs/performance.md.

use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use prost::Message;
use timestream_prometheus_connector::fixtures;
use timestream_prometheus_connector::remote::snappy;

#[derive(Parser)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Send {
        #[arg(long)]
        url: String,
        #[arg(long, default_value_t = 1000)]
        requests: usize,
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
        #[arg(long, default_value_t = 2000)]
        series: usize,
        /// The receiver's process id, to report its CPU time.
        #[arg(long)]
        pid: Option<u32>,
        /// A name for the result line.
        #[arg(long, default_value = "target")]
        name: String,
    },
    Sink {
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: String,
    },
}

#[tokio::main]
async fn main() {
    match Args::parse().command {
        Command::Send {
            url,
            requests,
            concurrency,
            series,
            pid,
            name,
        } => send(&url, requests, concurrency, series, pid, &name).await,
        Command::Sink { listen } => sink(&listen).await,
    }
}

async fn send(
    url: &str,
    requests: usize,
    concurrency: usize,
    series: usize,
    pid: Option<u32>,
    name: &str,
) {
    // Distinct timestamps per body, so that stores do not see duplicates; bodies are
    // encoded before the clock starts.
    let distinct = requests.min(100);
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let bodies: Vec<Vec<u8>> = (0..distinct)
        .map(|i| {
            // Each body has its own series (a `shard` label): a receiver that insists on
            // in-order samples per series (Prometheus) sees each series once, whatever
            // order concurrent requests arrive in; a resent body is an exact duplicate.
            let mut request = fixtures::write_request(series, 6, 1);
            for ts in &mut request.timeseries {
                ts.samples[0].timestamp = now_ms - (distinct - i) as i64 * 1000;
                ts.labels
                    .push(timestream_prometheus_connector::remote::proto::Label {
                        name: "shard".into(),
                        value: i.to_string(),
                    });
            }

            snappy::compress(&request.encode_to_vec())
        })
        .collect();
    let client = reqwest::Client::new();
    let cpu_before = pid.map(cpu_seconds);
    let started = Instant::now();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let failed = std::sync::atomic::AtomicUsize::new(0);
    let worker = || async {
        loop {
            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if i >= requests {
                break;
            }
            let response = client
                .post(url)
                .header("Content-Encoding", "snappy")
                .header("Content-Type", "application/x-protobuf")
                .header("X-Prometheus-Remote-Write-Version", "0.1.0")
                .body(bodies[i % distinct].clone())
                .timeout(Duration::from_secs(30))
                .send()
                .await;
            if !matches!(&response, Ok(r) if r.status().is_success()) {
                failed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
    };
    futures::future::join_all((0..concurrency).map(|_| worker())).await;
    let elapsed = started.elapsed().as_secs_f64();
    let samples = (requests * series) as f64;
    let mut line = format!(
        "{name}: {requests} requests × {series} samples, concurrency {concurrency}: {:.0} samples/s, failed {}",
        samples / elapsed,
        failed.into_inner()
    );
    if let (Some(pid), Some(before)) = (pid, cpu_before) {
        let cpu = cpu_seconds(pid) - before;
        line += &format!(
            ", {cpu:.2} CPU-s, {:.0} samples per CPU-second",
            samples / cpu
        );
    }
    println!("{line}");
}

/// User + system CPU seconds of a process, from /proc (in USER_HZ ticks, 100 on Linux).
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .expect("the receiver's /proc/PID/stat");
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let after_name = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / 100.0
}

async fn sink(listen: &str) {
    use axum::http::{HeaderMap, StatusCode};
    let app = axum::Router::new().fallback(|headers: HeaderMap| async move {
        if headers.contains_key("x-amz-target") {
            let ok = r#"{"RecordsIngested":{"Total":100,"MemoryStore":100,"MagneticStore":0}}"#;
            (
                StatusCode::OK,
                [("content-type", "application/x-amz-json-1.0")],
                ok,
            )
        } else {
            (StatusCode::NO_CONTENT, [("content-type", "text/plain")], "")
        }
    });
    let listener = tokio::net::TcpListener::bind(listen).await.unwrap();
    println!("{}", listener.local_addr().unwrap());
    axum::serve(listener, app).await.unwrap();
}
