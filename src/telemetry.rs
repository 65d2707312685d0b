//! The connector's own metrics, served at `--web.telemetry-path`.
//!
//! Names keep the Go connector's (`timestream_connector_*`) so dashboards carry over;
//! labels are bounded sets (a reason, a kind, a status code), never request data. The
//! standard process metrics (`process_cpu_seconds_total`, `process_resident_memory_bytes`,
//! `process_open_fds`, `process_start_time_seconds`, …) come from `metrics-process`.

use std::sync::OnceLock;
use std::time::Instant;

use metrics::{counter, describe_counter, describe_histogram, histogram, Unit};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

pub const RECEIVED_SAMPLES: &str = "timestream_connector_received_samples_total";
pub const IGNORED_SAMPLES: &str = "timestream_connector_ignored_samples_total";
pub const RECEIVED_HISTOGRAMS: &str = "timestream_connector_received_histograms_total";
pub const IGNORED_HISTOGRAMS: &str = "timestream_connector_ignored_histograms_total";
pub const WRITTEN_HISTOGRAMS: &str = "timestream_connector_written_histograms_total";
pub const RECEIVED_EXEMPLARS: &str = "timestream_connector_received_exemplars_total";
pub const IGNORED_EXEMPLARS: &str = "timestream_connector_ignored_exemplars_total";
pub const WRITTEN_EXEMPLARS: &str = "timestream_connector_written_exemplars_total";
pub const WRITE_REQUESTS: &str = "timestream_connector_write_requests_total";
pub const WRITE_DURATION: &str = "timestream_connector_write_duration_seconds";
pub const WRITTEN_RECORDS: &str = "timestream_connector_written_records_total";
pub const REJECTED_RECORDS: &str = "timestream_connector_rejected_records_total";
pub const RETRIED_RECORDS: &str = "timestream_connector_retried_records_total";
pub const MULTI_MEASURE_CONFLICTS: &str = "timestream_connector_multi_measure_conflicts_total";
pub const WRITE_CALLS: &str = "timestream_connector_write_calls_total";
pub const BILLED_WRITE_UNITS: &str = "timestream_connector_billed_write_units_total";
pub const ERRORS: &str = "timestream_connector_errors_total";
pub const READ_REQUESTS: &str = "timestream_connector_read_requests_total";
pub const READ_DURATION: &str = "timestream_connector_read_duration_seconds";
pub const READ_QUERIES: &str = "timestream_connector_read_queries_total";
pub const QUERY_PAGES: &str = "timestream_connector_query_pages_total";
pub const QUERY_ROWS: &str = "timestream_connector_query_rows_total";
pub const QUERY_BYTES_SCANNED: &str = "timestream_connector_query_bytes_scanned_total";
pub const READ_SERIES: &str = "timestream_connector_read_series_total";

const DURATION_BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// The connector's metrics, ready to render at the telemetry path.
#[derive(Clone)]
pub struct Telemetry {
    handle: PrometheusHandle,
    process: metrics_process::Collector,
}

impl Telemetry {
    /// The text exposition of every metric, the process' own (CPU, memory, file
    /// descriptors, start time, threads) read at this moment.
    pub fn render(&self) -> String {
        self.process.collect();
        self.handle.render()
    }
}

/// Installs the process-wide recorder once and returns what renders it.
pub fn install() -> Telemetry {
    static TELEMETRY: OnceLock<Telemetry> = OnceLock::new();
    TELEMETRY
        .get_or_init(|| {
            let handle = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Suffix("_duration_seconds".into()),
                    &DURATION_BUCKETS,
                )
                .expect("non-empty bucket list")
                .install_recorder()
                .expect("no other metrics recorder is installed in this process");
            describe();
            // The process metrics every Prometheus server exports, under their usual
            // names, so that dashboards and benchmarks read CPU and memory here.
            let process = metrics_process::Collector::default();
            process.describe();
            Telemetry { handle, process }
        })
        .clone()
}

fn describe() {
    describe_counter!(
        MULTI_MEASURE_CONFLICTS,
        "Samples of multi-measure records that met a stored record of the same name and time, written again as single-measure records (--record-mode=multi)."
    );
    describe_counter!(
        RECEIVED_SAMPLES,
        "Float samples received, by protocol (remote_write, remote_write_2, pushgateway, events)."
    );
    describe_counter!(
        RECEIVED_HISTOGRAMS,
        "Native histogram samples received, by protocol."
    );
    describe_counter!(
        IGNORED_HISTOGRAMS,
        "Native histogram samples not written because Timestream cannot store them, by protocol and reason."
    );
    describe_counter!(
        WRITTEN_HISTOGRAMS,
        "Native histogram samples Timestream accepted, by protocol."
    );
    describe_counter!(RECEIVED_EXEMPLARS, "Exemplars received, by protocol.");
    describe_counter!(
        IGNORED_EXEMPLARS,
        "Exemplars not written because Timestream cannot store them, by protocol and reason."
    );
    describe_counter!(
        WRITTEN_EXEMPLARS,
        "Exemplars Timestream accepted, by protocol."
    );
    describe_counter!(
        IGNORED_SAMPLES,
        "Samples not written because Timestream cannot store them, by protocol and reason."
    );
    describe_counter!(
        WRITE_REQUESTS,
        "Write requests (remote write, pushes, events), by protocol and HTTP status code answered."
    );
    describe_histogram!(
        WRITE_DURATION,
        Unit::Seconds,
        "Time to handle a write request, by protocol."
    );
    describe_counter!(WRITTEN_RECORDS, "Records Timestream accepted.");
    describe_counter!(
        REJECTED_RECORDS,
        "Records Timestream rejected for good (RejectedRecords), by kind of reason."
    );
    describe_counter!(
        RETRIED_RECORDS,
        "Records sent again after Timestream throttled or failed a call."
    );
    describe_counter!(WRITE_CALLS, "WriteRecords calls, by result.");
    describe_counter!(
        BILLED_WRITE_UNITS,
        "Estimate of Timestream write units billed (1 KiB of each accepted call, rounded up)."
    );
    describe_counter!(ERRORS, "Failures, by stage and kind.");
    describe_counter!(
        READ_REQUESTS,
        "Remote read requests, by HTTP status code answered."
    );
    describe_histogram!(
        READ_DURATION,
        Unit::Seconds,
        "Time to answer a remote read request."
    );
    describe_counter!(
        READ_QUERIES,
        "Queries of remote read requests, by how they were answered (timestream, empty)."
    );
    describe_counter!(QUERY_PAGES, "Timestream query result pages fetched.");
    describe_counter!(QUERY_ROWS, "Timestream query result rows fetched.");
    describe_counter!(
        QUERY_BYTES_SCANNED,
        "Bytes Timestream reports scanned by remote read queries (billed at 10 MB or more per query)."
    );
    describe_counter!(READ_SERIES, "Series returned to remote read clients.");
}

/// Which requests a [`Request`] counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requests {
    /// Write requests of a protocol (`remote_write`, `pushgateway`, `events`).
    Write(&'static str),
    /// Remote read requests.
    Read,
}

/// Counts one request by the status it was answered with, and times it; as `499` (the
/// convention for "client closed request") when the client went away first: hyper then
/// drops the request's future, and with it this guard and every WriteRecords call
/// still in flight.
pub struct Request {
    requests: Requests,
    started: Instant,
    code: Option<u16>,
}

impl Request {
    pub fn start(requests: Requests) -> Self {
        Request {
            requests,
            started: Instant::now(),
            code: None,
        }
    }

    pub fn finish(&mut self, code: u16) {
        self.code = Some(code);
    }
}

impl Drop for Request {
    fn drop(&mut self) {
        let code = self
            .code
            .map_or_else(|| "499".to_owned(), |c| c.to_string());
        let elapsed = self.started.elapsed().as_secs_f64();
        match self.requests {
            Requests::Write(protocol) => {
                counter!(WRITE_REQUESTS, "code" => code, "protocol" => protocol).increment(1);
                histogram!(WRITE_DURATION, "protocol" => protocol).record(elapsed);
            }
            Requests::Read => {
                counter!(READ_REQUESTS, "code" => code).increment(1);
                histogram!(READ_DURATION).record(elapsed);
            }
        }
    }
}
