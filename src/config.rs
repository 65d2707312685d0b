//! Command-line flags, each also settable from the environment.
//!
//! Flag names, defaults and meanings are the Go connector's (v1.3.2), so that existing
//! command lines and Lambda environments keep working; environment variable names are
//! its Lambda names (the flag in snake_case: `--default-database` → `default_database`).
//! Boolean flags take Go's forms: `--fail-on-long-label` or `--fail-on-long-label=false`.
//!
//! Additions: `--database-label` / `--table-label` (routing per series, which the Go
//! connector dropped in v1.0), `--max-concurrent-writes`, `--accept-partial-events`, and
//! the bounds on work in flight (`--max-concurrent-requests`, `--max-bytes-in-flight`,
//! `--web.request-timeout`, `--max-read-queries`, `--max-read-samples`).

use std::path::PathBuf;

use clap::{ArgAction, Parser, ValueEnum};

#[derive(Debug, Clone, Parser)]
#[command(name = "timestream-prometheus-connector", version, about)]
pub struct Config {
    /// Address to listen on for remote write/read and telemetry. `:9201` means every
    /// interface, as in Go.
    #[arg(
        long = "web.listen-address",
        env = "web_listen_address",
        default_value = ":9201"
    )]
    pub listen_address: String,

    /// Path under which the connector's own metrics are served.
    #[arg(
        long = "web.telemetry-path",
        env = "web_telemetry_path",
        default_value = "/metrics"
    )]
    pub telemetry_path: String,

    /// Database written to (and read from) when a series names none.
    #[arg(long = "default-database", env = "default_database")]
    pub default_database: Option<String>,

    /// Table written to (and read from) when a series names none.
    #[arg(long = "default-table", env = "default_table")]
    pub default_table: Option<String>,

    /// Label whose value names the database of a series; not written as a dimension.
    #[arg(long = "database-label", env = "database_label")]
    pub database_label: Option<String>,

    /// Label whose value names the table of a series; not written as a dimension.
    #[arg(long = "table-label", env = "table_label")]
    pub table_label: Option<String>,

    /// AWS region of the Timestream database.
    #[arg(long, env = "region", default_value = "us-east-1")]
    pub region: String,

    /// Attempts per Timestream query, the first included.
    #[arg(long = "max-read-retries", env = "max_read_retries", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_read_retries: u32,

    /// Attempts per WriteRecords call, the first included. Retries back off
    /// exponentially with jitter.
    #[arg(long = "max-write-retries", env = "max_write_retries", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_write_retries: u32,

    /// WriteRecords calls in flight at once for one remote write request.
    #[arg(long = "max-concurrent-writes", env = "max_concurrent_writes", default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_concurrent_writes: u32,

    /// Write requests (remote write, pushes, events) in flight at once; past it, a write
    /// is answered 503 with Retry-After at once.
    #[arg(long = "max-concurrent-requests", env = "max_concurrent_requests", default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_concurrent_requests: u32,

    /// Bytes of request bodies and what they decode to in flight at once; past it, a
    /// write is answered 503 with Retry-After at once. Default: a quarter of the memory
    /// the process may use (its cgroup's limit, else the machine's), 64 MiB to 4 GiB.
    #[arg(long = "max-bytes-in-flight", env = "max_bytes_in_flight")]
    pub max_bytes_in_flight: Option<u64>,

    /// How long a request may take, reading its body included; past it, the answer is
    /// 503 with Retry-After (the sender may retry; what was written stays written, and a
    /// resend of the same samples is idempotent). Go duration syntax: 30s, 2m.
    #[arg(long = "web.request-timeout", env = "web_request_timeout", default_value = "1m", value_parser = parse_duration)]
    pub request_timeout: std::time::Duration,

    /// How long in-flight requests may take to finish after SIGTERM; what still runs then
    /// is answered 503 with Retry-After. Go duration syntax.
    #[arg(long = "web.drain-timeout", env = "web_drain_timeout", default_value = "30s", value_parser = parse_duration)]
    pub drain_timeout: std::time::Duration,

    /// Queries one remote read request may hold; more is a 400.
    #[arg(long = "max-read-queries", env = "max_read_queries", default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_read_queries: u32,

    /// Samples one SAMPLES remote read answer may hold (Prometheus' own default for
    /// `--storage.remote.read-sample-limit`); more is a 400. Streamed answers are bounded
    /// by their frames instead.
    #[arg(long = "max-read-samples", env = "max_read_samples", default_value_t = 50_000_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_read_samples: u64,

    /// Log at all.
    #[arg(long = "enable-logging", env = "enable_logging", default_value_t = true, action = ArgAction::Set,
          num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub enable_logging: bool,

    /// Refuse a whole request (400, naming the series) when a series breaks a Timestream
    /// label limit, instead of skipping and counting that series.
    #[arg(long = "fail-on-long-label", env = "fail_on_long_label", default_value_t = false, action = ArgAction::Set,
          num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub fail_on_long_label: bool,

    /// Refuse a whole request (400, naming the series) when a sample is NaN, ±Inf or a
    /// staleness marker, instead of storing it (or, with `--non-finite-values=ignore`,
    /// skipping and counting it).
    #[arg(long = "fail-on-invalid-sample-value", env = "fail_on_invalid_sample_value", default_value_t = false,
          action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub fail_on_invalid_sample_value: bool,

    /// Staleness markers, NaN and ±Inf: `store` them as records marked with a
    /// `__value__` dimension, read back exactly (so PromQL over remote read sees series
    /// go stale as Prometheus does), or `ignore` them (skipped and counted, as the Go
    /// connector does).
    #[arg(long = "non-finite-values", env = "non_finite_values", value_enum, default_value_t = NonFiniteValues::Store)]
    pub non_finite_values: NonFiniteValues,

    /// How float samples are written: `single`, a single-measure record per sample (the
    /// Go connector's form), or `multi`, where the samples of one request that share
    /// their labels (all but the metric name) and time go in one multi-measure record
    /// with a measure per metric (fewer records and calls; every metric name becomes a
    /// column of its table). Reads give both forms back alike.
    #[arg(long = "record-mode", env = "record_mode", value_enum, default_value_t = RecordMode::Single)]
    pub record_mode: RecordMode,

    /// On `POST /events`, write the valid events of a batch and list the invalid ones in
    /// the answer, instead of refusing the whole batch (400) when one event is invalid.
    #[arg(long = "accept-partial-events", env = "accept_partial_events", default_value_t = false,
          action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub accept_partial_events: bool,

    /// Least severe level logged.
    #[arg(long = "log.level", env = "log_level", value_enum, default_value_t = LogLevel::Info)]
    pub log_level: LogLevel,

    /// Log line format.
    #[arg(long = "log.format", env = "log_format", value_enum, default_value_t = LogFormat::Logfmt)]
    pub log_format: LogFormat,

    /// Web configuration file (the format of Prometheus' own servers: `tls_server_config`,
    /// `basic_auth_users` with bcrypt hashes), re-read when it changes. With users, every
    /// request needs their Basic credentials, which are then not AWS keys.
    #[arg(long = "web.config.file", env = "web_config_file")]
    pub web_config_file: Option<PathBuf>,

    /// PEM certificate to serve HTTPS with (needs --tls-key).
    #[arg(
        long = "tls-certificate",
        env = "tls_certificate",
        requires = "tls_key"
    )]
    pub tls_certificate: Option<PathBuf>,

    /// PEM private key to serve HTTPS with (needs --tls-certificate).
    #[arg(long = "tls-key", env = "tls_key", requires = "tls_certificate")]
    pub tls_key: Option<PathBuf>,

    /// Timestream write endpoint (PrivateLink, a local Timestream); skips endpoint discovery.
    #[arg(long = "write-base-endpoint", env = "write_base_endpoint")]
    pub write_base_endpoint: Option<String>,

    /// Timestream query endpoint (PrivateLink, a local Timestream); skips endpoint discovery.
    #[arg(long = "query-base-endpoint", env = "query_base_endpoint")]
    pub query_base_endpoint: Option<String>,

    /// Use Timestream Local, started in this process, instead of Amazon Timestream: no
    /// AWS account needed. Creates the default database and table (default
    /// `prometheus`.`metrics`) unless they exist.
    #[arg(long, env = "local", default_value_t = false, action = ArgAction::Set,
          num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub local: bool,

    /// Where Timestream Local keeps its data (with --local).
    #[arg(
        long = "data-dir",
        env = "data_dir",
        default_value = "data/timestream-local"
    )]
    pub data_dir: PathBuf,

    /// Where Timestream Local listens (with --local), for other Timestream clients such
    /// as the AWS CLI; a free loopback port by default.
    #[arg(
        long = "local.listen-address",
        env = "local_listen_address",
        default_value = "127.0.0.1:0"
    )]
    pub local_listen_address: String,

    /// The endpoint of the in-process Timestream Local, once started: it takes static
    /// credentials, which no AWS credential chain need provide.
    #[arg(skip)]
    pub local_endpoint: Option<String>,
}

/// What `--non-finite-values` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum NonFiniteValues {
    Store,
    Ignore,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RecordMode {
    Single,
    Multi,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Logfmt,
    Json,
}

/// The database and table `--local` creates when none is named.
pub const LOCAL_DATABASE: &str = "prometheus";
pub const LOCAL_TABLE: &str = "metrics";

/// A duration as Go and Prometheus write them: `500ms`, `30s`, `2m`, `1h`, `1h30m`.
fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let mut total = std::time::Duration::ZERO;
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err("empty duration".into());
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let number: u64 = rest[..digits]
            .parse()
            .map_err(|_| format!("{text:?} is not a duration such as 30s or 2m"))?;
        rest = &rest[digits..];
        let unit = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let one = match &rest[..unit] {
            "ms" => std::time::Duration::from_millis(1),
            "s" => std::time::Duration::from_secs(1),
            "m" => std::time::Duration::from_secs(60),
            "h" => std::time::Duration::from_secs(3600),
            other => return Err(format!("unknown unit {other:?} in {text:?} (ms, s, m, h)")),
        };
        total += one
            .checked_mul(u32::try_from(number).map_err(|_| format!("{text:?} is too long"))?)
            .ok_or_else(|| format!("{text:?} is too long"))?;
        rest = &rest[unit..];
    }
    Ok(total)
}

impl Config {
    /// The listen address as a socket address string; Go's `:port` means all interfaces.
    pub fn bind_address(&self) -> String {
        match self.listen_address.strip_prefix(':') {
            Some(port) => format!("0.0.0.0:{port}"),
            None => self.listen_address.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Config, clap::Error> {
        Config::try_parse_from(std::iter::once("connector").chain(args.iter().copied()))
    }

    #[test]
    fn defaults_are_the_go_connectors() {
        let c = parse(&[]).unwrap();
        assert_eq!(c.listen_address, ":9201");
        assert_eq!(c.bind_address(), "0.0.0.0:9201");
        assert_eq!(c.telemetry_path, "/metrics");
        assert_eq!(c.region, "us-east-1");
        assert_eq!((c.max_read_retries, c.max_write_retries), (3, 10));
        assert!(c.enable_logging && !c.fail_on_long_label && !c.fail_on_invalid_sample_value);
        assert_eq!(
            (c.log_level, c.log_format),
            (LogLevel::Info, LogFormat::Logfmt)
        );
    }

    #[test]
    fn booleans_take_go_forms() {
        let c = parse(&[
            "--fail-on-long-label",
            "--enable-logging=false",
            "--fail-on-invalid-sample-value=true",
        ])
        .unwrap();
        assert!(c.fail_on_long_label && !c.enable_logging && c.fail_on_invalid_sample_value);
    }

    #[test]
    fn dotted_flags_and_routing_labels() {
        let c = parse(&[
            "--web.listen-address=127.0.0.1:0",
            "--log.format=json",
            "--database-label=tsdb",
            "--table-label=tstable",
        ])
        .unwrap();
        assert_eq!(c.bind_address(), "127.0.0.1:0");
        assert_eq!(c.log_format, LogFormat::Json);
        assert_eq!(c.database_label.as_deref(), Some("tsdb"));
        assert_eq!(c.table_label.as_deref(), Some("tstable"));
    }

    #[test]
    fn durations_read_as_go_writes_them() {
        let c = parse(&["--web.request-timeout=1m30s"]).unwrap();
        assert_eq!(c.request_timeout, std::time::Duration::from_secs(90));
        assert_eq!(
            parse(&[]).unwrap().request_timeout,
            std::time::Duration::from_secs(60)
        );
        assert!(parse(&["--web.request-timeout=10"]).is_err());
        assert!(parse(&["--web.request-timeout=5d"]).is_err());
        assert_eq!(
            parse_duration("250ms"),
            Ok(std::time::Duration::from_millis(250))
        );
    }

    #[test]
    fn refuses_zero_retries_and_lone_tls_files() {
        assert!(parse(&["--max-write-retries=0"]).is_err());
        assert!(parse(&["--tls-key=k.pem"]).is_err());
    }
}
