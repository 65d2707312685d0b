//! Load generator for remote write receivers, and a sink to relay into.
//!
//! `loadgen send --url URL [--pid PID]` sends pre-encoded remote write requests (2000
//! samples each by default, Prometheus' default batch) with a fixed concurrency and
//! prints one line: samples/s, and, given the receiver's PID, samples per CPU-second
//! of that process (the fair measure when the generator shares the machine).
//!
//! `--workload node` sends a node_exporter fleet's scrapes instead
//! ([`fixtures::node_exporter`]), each sample once. The line also has the request
//! latency (p50, p99) and the receiver's peak resident memory.
//!
//! `loadgen sink` answers Timestream WriteRecords calls and remote write requests with
//! success at once, printing its address; relays under test forward into it. It meters
//! every WriteRecords body as Timestream bills it ([`billing`]); `GET /billing` answers
//! the totals so far.
//!
//! `loadgen fill --url URL` writes the recent past of a set of series (one sample every
//! 15 s for `--minutes`), each series whole in one request, so that stores that insist
//! on in-order samples take it; `loadgen read --url URL [--pid PID]` then reads one
//! metric of it back over remote read, repeatedly, and prints samples/s and samples per
//! CPU-second of each PID given.
//!
//! Loopback only. Used by `scripts/bench-peers` and `scripts/bench-read-peers`; results
//! in docs/performance.md.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand, ValueEnum};
use prost::Message;
use timestream_prometheus_connector::fixtures;
use timestream_prometheus_connector::remote::{chunks, proto, snappy};

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
        #[arg(long, value_enum, default_value_t = Workload::Synthetic)]
        workload: Workload,
    },
    Sink {
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: String,
    },
    Fill {
        #[arg(long)]
        url: String,
        #[arg(long, default_value_t = 500)]
        series: usize,
        #[arg(long, default_value_t = 50)]
        minutes: usize,
    },
    Read(ReadLoad),
}

/// What `send` sends.
#[derive(Clone, Copy, ValueEnum)]
enum Workload {
    /// `fixtures::write_request`: `--series` series of made-up targets, resent.
    Synthetic,
    /// `fixtures::node_exporter`: 50 targets of 120 series, scraped until `--requests`
    /// requests of 2000 samples are made, each sample sent once.
    Node,
}

mod billing;

const STEP_MS: i64 = 15_000;

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
            workload,
        } => {
            let bodies = match workload {
                Workload::Synthetic => synthetic(requests, series),
                Workload::Node => node(requests),
            };
            send(&url, &bodies, requests, concurrency, pid, &name).await
        }
        Command::Sink { listen } => sink(&listen).await,
        Command::Fill {
            url,
            series,
            minutes,
        } => fill(&url, series, minutes).await,
        Command::Read(load) => load.run().await,
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

async fn fill(url: &str, series: usize, minutes: usize) {
    let samples = minutes * 60_000 / STEP_MS as usize;
    let end = now_ms() / STEP_MS * STEP_MS;
    let mut request = fixtures::write_request(series, 6, samples);
    for ts in &mut request.timeseries {
        for (k, sample) in ts.samples.iter_mut().enumerate() {
            sample.timestamp = end - (samples - 1 - k) as i64 * STEP_MS;
        }
    }
    let client = reqwest::Client::new();
    // About Prometheus' 2000-sample batch per request, whole series only.
    let per_request = (2000 / samples).max(1);
    for part in request.timeseries.chunks(per_request) {
        write(&client, url, part.to_vec()).await;
    }
    println!("filled {url}: {series} series × {samples} samples");
}

/// A remote write request, snappy-compressed `body`, as Prometheus sends one.
fn remote_write(client: &reqwest::Client, url: &str, body: Vec<u8>) -> reqwest::RequestBuilder {
    client
        .post(url)
        .header("Content-Encoding", "snappy")
        .header("Content-Type", "application/x-protobuf")
        .header("X-Prometheus-Remote-Write-Version", "0.1.0")
        .body(body)
}

/// Writes `timeseries`, which the receiver must take.
async fn write(client: &reqwest::Client, url: &str, timeseries: Vec<proto::TimeSeries>) {
    let request = proto::WriteRequest {
        timeseries,
        metadata: vec![],
    };
    let response = remote_write(client, url, snappy::compress(&request.encode_to_vec()))
        .send()
        .await
        .expect("the receiver answers");
    let status = response.status();
    assert!(
        status.is_success(),
        "{url}: {status}: {}",
        response.text().await.unwrap_or_default()
    );
}

#[derive(clap::Args)]
struct ReadLoad {
    #[arg(long)]
    url: String,
    #[arg(long, default_value_t = 100)]
    requests: usize,
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// The metric read back (a fifth of the filled series carry each name).
    #[arg(long, default_value = "go_goroutines")]
    metric: String,
    #[arg(long, default_value_t = 50)]
    minutes: usize,
    /// Ask for STREAMED_XOR_CHUNKS rather than SAMPLES.
    #[arg(long)]
    streamed: bool,
    /// Remote write one new sample here before each read, as Prometheus keeps
    /// writing while dashboards read (to another metric: answers stay the same).
    #[arg(long)]
    write_url: Option<String>,
    /// Processes whose CPU time the read costs (`name=PID`, repeatable).
    #[arg(long)]
    pid: Vec<String>,
    #[arg(long, default_value = "target")]
    name: String,
}

impl ReadLoad {
    async fn run(&self) {
        let end = now_ms();
        let request = proto::ReadRequest {
            queries: vec![proto::Query {
                start_timestamp_ms: end - self.minutes as i64 * 60_000 - STEP_MS,
                end_timestamp_ms: end,
                matchers: vec![proto::LabelMatcher {
                    r#type: proto::label_matcher::Type::Eq as i32,
                    name: "__name__".into(),
                    value: self.metric.clone(),
                }],
                hints: None,
            }],
            accepted_response_types: if self.streamed { vec![1] } else { vec![0] },
        };
        let body = snappy::compress(&request.encode_to_vec());
        let pids: Vec<(&str, u32)> = self
            .pid
            .iter()
            .map(|p| {
                let (name, pid) = p.split_once('=').expect("--pid NAME=PID");
                (name, pid.parse().expect("a process id"))
            })
            .collect();
        let client = reqwest::Client::new();
        let cpu_before: Vec<f64> = pids.iter().map(|(_, pid)| cpu_seconds(*pid)).collect();
        let started = Instant::now();
        let next = AtomicUsize::new(0);
        let workers = (0..self.concurrency).map(|id| self.reads(id, &client, &body, &next, end));
        let samples = futures::future::join_all(workers)
            .await
            .iter()
            .sum::<usize>() as f64;
        let elapsed = started.elapsed().as_secs_f64();
        let mut kind = if self.streamed { "streamed" } else { "samples" }.to_string();
        if self.write_url.is_some() {
            kind += ", a write before each";
        }
        let mut line = format!(
            "{} ({kind}): {} reads of {:.0} samples, concurrency {}: {:.0} samples/s",
            self.name,
            self.requests,
            samples / self.requests as f64,
            self.concurrency,
            samples / elapsed
        );
        for ((process, pid), before) in pids.iter().zip(cpu_before) {
            let cpu = cpu_seconds(*pid) - before;
            line += &format!(
                "; {process} {cpu:.2} CPU-s, {:.0} samples per CPU-second",
                samples / cpu
            );
        }
        println!("{line}");
    }

    /// One worker's reads until `next` passes the count; returns the samples read.
    async fn reads(
        &self,
        id: usize,
        client: &reqwest::Client,
        body: &[u8],
        next: &AtomicUsize,
        end: i64,
    ) -> usize {
        let mut samples = 0;
        let mut written = 0;
        while next.fetch_add(1, Ordering::Relaxed) < self.requests {
            if let Some(write_url) = &self.write_url {
                // One series per worker, so that each receives its samples in order.
                written += 1;
                let series = proto::TimeSeries {
                    labels: vec![
                        proto::Label {
                            name: "__name__".into(),
                            value: "bench_writes".into(),
                        },
                        proto::Label {
                            name: "worker".into(),
                            value: id.to_string(),
                        },
                    ],
                    samples: vec![proto::Sample {
                        value: written as f64,
                        timestamp: end + written,
                    }],
                    exemplars: vec![],
                    histograms: vec![],
                };
                write(client, write_url, vec![series]).await;
            }
            let response = client
                .post(&self.url)
                .header("Content-Encoding", "snappy")
                .header("Content-Type", "application/x-protobuf")
                .header("X-Prometheus-Remote-Read-Version", "0.1.0")
                .body(body.to_vec())
                .timeout(Duration::from_secs(60))
                .send()
                .await
                .expect("the server answers");
            let status = response.status();
            let bytes = response.bytes().await.expect("a whole answer");
            assert!(status.is_success(), "{}: {status}", self.url);
            samples += if self.streamed {
                streamed_samples(&bytes)
            } else {
                let raw = snappy::decompress(&bytes).expect("snappy");
                let answer = proto::ReadResponse::decode(raw.as_slice()).expect("protobuf");
                answer.results[0]
                    .timeseries
                    .iter()
                    .map(|s| s.samples.len())
                    .sum()
            };
        }
        samples
    }
}

/// Samples in a STREAMED_XOR_CHUNKS answer, every frame's checksum and chunk decoded.
fn streamed_samples(mut body: &[u8]) -> usize {
    let mut samples = 0;
    while !body.is_empty() {
        let (data, rest) = chunks::read_frame(body).expect("a whole frame with a good CRC");
        body = rest;
        let frame = proto::ChunkedReadResponse::decode(data).expect("protobuf");
        for series in &frame.chunked_series {
            for chunk in &series.chunks {
                samples += chunks::decode_xor(&chunk.data).expect("an XOR chunk").len();
            }
        }
    }
    samples
}

/// Remote write bodies of `series` made-up series; `send` resends them in turn.
fn synthetic(requests: usize, series: usize) -> Vec<(Vec<u8>, usize)> {
    // Distinct timestamps per body, so that stores do not see duplicates.
    let distinct = requests.min(100);
    let now_ms = now_ms();
    (0..distinct)
        .map(|i| {
            // Each body has its own series (a `shard` label): a receiver that insists on
            // in-order samples per series (Prometheus) sees each series once, whatever
            // order concurrent requests arrive in; a resent body is an exact duplicate.
            let mut request = fixtures::write_request(series, 6, 1);
            for ts in &mut request.timeseries {
                ts.samples[0].timestamp = now_ms - (distinct - i) as i64 * 1000;
                ts.labels.push(proto::Label {
                    name: "shard".into(),
                    value: i.to_string(),
                });
            }
            (snappy::compress(&request.encode_to_vec()), series)
        })
        .collect()
}

/// A node_exporter fleet's scrapes of the last hours, `requests` bodies, each once.
fn node(requests: usize) -> Vec<(Vec<u8>, usize)> {
    const TARGETS: usize = 50;
    let scrapes = (requests * 2000).div_ceil(TARGETS * 120);
    let mut all = fixtures::node_exporter(TARGETS, scrapes);
    all.truncate(requests);
    // The fixture starts in 2023: move it to end now, within Timestream's memory store.
    let first = 1_700_000_000_000;
    let shift = now_ms() - first - scrapes as i64 * STEP_MS;
    all.into_iter()
        .map(|mut request| {
            for ts in &mut request.timeseries {
                ts.samples.iter_mut().for_each(|s| s.timestamp += shift);
            }
            let samples = request.timeseries.iter().map(|t| t.samples.len()).sum();
            (snappy::compress(&request.encode_to_vec()), samples)
        })
        .collect()
}

async fn send(
    url: &str,
    bodies: &[(Vec<u8>, usize)],
    requests: usize,
    concurrency: usize,
    pid: Option<u32>,
    name: &str,
) {
    let client = reqwest::Client::new();
    let cpu_before = pid.map(cpu_seconds);
    let started = Instant::now();
    let next = AtomicUsize::new(0);
    let failed = AtomicUsize::new(0);
    let samples = AtomicUsize::new(0);
    let latencies = std::sync::Mutex::new(Vec::with_capacity(requests));
    let worker = || async {
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            if i >= requests {
                break;
            }
            let (body, count) = &bodies[i % bodies.len()];
            let sent = Instant::now();
            let response = remote_write(&client, url, body.clone())
                .timeout(Duration::from_secs(30))
                .send()
                .await;
            latencies.lock().unwrap().push(sent.elapsed());
            if matches!(&response, Ok(r) if r.status().is_success()) {
                samples.fetch_add(*count, Ordering::Relaxed);
            } else {
                failed.fetch_add(1, Ordering::Relaxed);
            }
        }
    };
    futures::future::join_all((0..concurrency).map(|_| worker())).await;
    let elapsed = started.elapsed().as_secs_f64();
    let samples = samples.into_inner() as f64;
    let mut latencies = latencies.into_inner().unwrap();
    latencies.sort();
    let percentile = |p: f64| {
        let i = ((latencies.len() as f64 * p).ceil() as usize).clamp(1, latencies.len()) - 1;
        latencies[i].as_secs_f64() * 1000.0
    };
    let mut line = format!(
        "{name}: {requests} requests, {samples:.0} samples stored, concurrency {concurrency}: {:.0} samples/s, p50 {:.1} ms, p99 {:.1} ms, failed {}",
        samples / elapsed,
        percentile(0.5),
        percentile(0.99),
        failed.into_inner()
    );
    if let (Some(pid), Some(before)) = (pid, cpu_before) {
        let cpu = cpu_seconds(pid) - before;
        line += &format!(
            ", {cpu:.2} CPU-s, {:.0} samples per CPU-second, peak RSS {:.0} MiB",
            samples / cpu,
            peak_rss_kib(pid) as f64 / 1024.0
        );
    }
    println!("{line}");
}

/// The process' peak resident set (VmHWM), in KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
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
    use axum::http::{HeaderMap, Method, StatusCode};
    let meter = std::sync::Arc::new(billing::Meter::default());
    let app = axum::Router::new().fallback(
        move |method: Method, headers: HeaderMap, body: axum::body::Bytes| {
            let meter = meter.clone();
            async move {
                if method == Method::GET {
                    let totals = meter.totals();
                    return (StatusCode::OK, [("content-type", "text/plain")], totals);
                }
                if headers.contains_key("x-amz-target") {
                    meter.add(&body);
                    let ok =
                        r#"{"RecordsIngested":{"Total":100,"MemoryStore":100,"MagneticStore":0}}"#;
                    (
                        StatusCode::OK,
                        [("content-type", "application/x-amz-json-1.0")],
                        ok.to_string(),
                    )
                } else {
                    (
                        StatusCode::NO_CONTENT,
                        [("content-type", "text/plain")],
                        String::new(),
                    )
                }
            }
        },
    );
    let listener = tokio::net::TcpListener::bind(listen).await.unwrap();
    println!("{}", listener.local_addr().unwrap());
    axum::serve(listener, app).await.unwrap();
}
