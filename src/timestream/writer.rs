//! Sends a request's WriteRecords calls concurrently, retries what is worth retrying
//! with jittered exponential backoff, and says what became of every record.
//!
//! Nothing is spawned: the calls run inside the caller's future, so when the HTTP
//! client goes away and the request future is dropped, its calls stop too.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use futures::stream::{self, StreamExt};
use metrics::counter;
use rand::Rng;

use super::backend::{Backend, BackendError, Credentials};
use super::batch::WriteCall;
use crate::telemetry;

/// How often and how patiently a call is tried.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Total attempts per call, the first one included (the Go connector's meaning).
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
}

impl RetryPolicy {
    /// Full jitter: a uniform delay in [0, min(max, base × 2^(attempt-1))], so that the
    /// many shards of a throttled Prometheus do not retry in lockstep.
    fn delay(&self, attempt: u32) -> Duration {
        let ceiling = self
            .base_delay
            .saturating_mul(1 << attempt.saturating_sub(1).min(16))
            .min(self.max_delay);
        ceiling.mul_f64(rand::rng().random::<f64>())
    }
}

/// A record Timestream refused, described for the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub series: String,
    pub reason: String,
}

/// What became of a request's records.
#[derive(Debug, Default)]
pub struct Outcome {
    pub written: u64,
    pub rejected: Vec<Rejection>,
    /// The failure that decides the answer when not every call succeeded: a retryable
    /// one wins over a permanent one, since a retry may then store everything.
    pub failure: Option<BackendError>,
}

type CallFuture<'a> = BoxFuture<'a, (&'a WriteCall<'a>, Result<(), BackendError>)>;

pub struct Writer {
    backend: Arc<dyn Backend>,
    retry: RetryPolicy,
    concurrency: usize,
}

impl Writer {
    pub fn new(backend: Arc<dyn Backend>, retry: RetryPolicy, concurrency: usize) -> Self {
        Writer {
            backend,
            retry,
            concurrency: concurrency.max(1),
        }
    }

    pub async fn write(
        &self,
        calls: &[WriteCall<'_>],
        credentials: Option<&Credentials>,
    ) -> Outcome {
        // Collected, boxed futures (not a lazy `map` with a closure) because axum needs
        // the handler's future to be Send for every lifetime, which the compiler cannot
        // prove through a closure type held across an await.
        let mut futures: Vec<CallFuture<'_>> = Vec::with_capacity(calls.len());
        for call in calls {
            futures.push(Box::pin(async move {
                (call, self.write_call(call, credentials).await)
            }));
        }
        let mut results = stream::iter(futures).buffer_unordered(self.concurrency);
        let mut outcome = Outcome::default();
        while let Some((call, result)) = results.next().await {
            let records = call.records.len() as u64;
            match result {
                Ok(()) => {
                    outcome.written += records;
                    counter!(telemetry::BILLED_WRITE_UNITS).increment(call.billed_units() as u64);
                }
                Err(BackendError::Rejected(rejected)) => {
                    outcome.written += records.saturating_sub(rejected.len() as u64);
                    for r in rejected {
                        counter!(telemetry::REJECTED_RECORDS, "reason" => r.kind()).increment(1);
                        let series = call.records.get(r.index).map_or_else(
                            || {
                                format!(
                                    "record #{} of a call to {}",
                                    r.index, call.destination.table
                                )
                            },
                            |record| describe_record(record.measure, record.dimensions),
                        );
                        outcome.rejected.push(Rejection {
                            series,
                            reason: r.reason,
                        });
                    }
                }
                Err(error) => {
                    let replace = match &outcome.failure {
                        None => true,
                        Some(current) => error.is_retryable() && !current.is_retryable(),
                    };
                    if replace {
                        outcome.failure = Some(error);
                    }
                }
            }
        }
        counter!(telemetry::WRITTEN_RECORDS).increment(outcome.written);
        outcome
    }

    async fn write_call(
        &self,
        call: &WriteCall<'_>,
        credentials: Option<&Credentials>,
    ) -> Result<(), BackendError> {
        let mut attempt = 1;
        loop {
            let result = self.backend.write_records(call, credentials).await;
            let kind = result.as_ref().err().map_or("ok", BackendError::kind);
            counter!(telemetry::WRITE_CALLS, "result" => kind).increment(1);
            match result {
                Err(error) if error.is_retryable() && attempt < self.retry.max_attempts => {
                    tracing::debug!(%error, attempt, "retrying WriteRecords call");
                    counter!(telemetry::RETRIED_RECORDS).increment(call.records.len() as u64);
                    tokio::time::sleep(self.retry.delay(attempt)).await;
                    attempt += 1;
                }
                Err(error) => {
                    counter!(telemetry::ERRORS, "stage" => "write", "kind" => error.kind())
                        .increment(1);
                    return Err(error);
                }
                Ok(()) => return Ok(()),
            }
        }
    }
}

fn describe_record(measure: &str, dimensions: &[crate::series::Label<'_>]) -> String {
    let labels: Vec<String> = dimensions
        .iter()
        .map(|d| format!("{}={:?}", d.name, d.value))
        .collect();
    format!("{measure}{{{}}}", labels.join(","))
}
