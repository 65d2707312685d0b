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

use super::backend::{Backend, BackendError, Credentials, RejectionKind};
use super::batch::{self, Record, WriteCall};
use super::records::Destination;
use crate::series::{series_text, Sample};
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
    pub fn delay(&self, attempt: u32) -> Duration {
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
    /// The series' index in its batch, where the call still has the record.
    pub source: Option<u32>,
    pub reason: String,
}

/// Records written, of each kind.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct WrittenRecords {
    /// Float samples, non-finite ones in their stored form included.
    pub samples: u64,
    pub histograms: u64,
    pub exemplars: u64,
}

impl WrittenRecords {
    pub fn total(&self) -> u64 {
        self.samples + self.histograms + self.exemplars
    }

    /// As remote write 2.0's answer headers count them: samples, histograms, exemplars.
    pub fn counts(&self) -> [u64; 3] {
        [self.samples, self.histograms, self.exemplars]
    }

    /// Counts what `call` wrote: all its records but those `rejected` (indices).
    /// Returns the records written.
    fn add(&mut self, call: &WriteCall<'_>, rejected: &[usize]) -> u64 {
        let records = call.records.len().saturating_sub(rejected.len()) as u64;
        if call.is_multi() {
            // A multi-measure record holds a sample of each of its metrics.
            self.samples += call
                .records
                .iter()
                .enumerate()
                .filter(|(i, _)| !rejected.contains(i))
                .map(|(_, r)| r.multi.map_or(0, <[_]>::len) as u64)
                .sum::<u64>();
        } else if call.is_histograms() {
            self.histograms += records;
        } else if call.is_exemplars() {
            self.exemplars += records;
        } else {
            self.samples += records;
        }
        records
    }
}

/// What became of a request's records.
#[derive(Debug, Default)]
pub struct Outcome {
    pub written: WrittenRecords,
    /// Exemplars Timestream rejected (not in `rejected`: they fail nothing).
    pub rejected_exemplars: u64,
    pub rejected: Vec<Rejection>,
    /// The failure that decides the answer when not every call succeeded: a retryable
    /// one wins over a permanent one, since a retry may then store everything.
    pub failure: Option<BackendError>,
}

/// A call's index among those sent, and its result.
type CallFuture<'a> = BoxFuture<'a, (usize, Result<(), BackendError>)>;

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
        let mut outcome = Outcome::default();
        let (mut written_records, conflicts) = self.send(calls, credentials, &mut outcome).await;
        if !conflicts.is_empty() {
            // A multi-measure record that clashes with one stored before (the same
            // target, time and first metric, other measures: samples Prometheus sent
            // again in other company) is written as single-measure records instead,
            // which take any resend; reads give a sample stored twice once.
            tracing::debug!(
                samples = conflicts.len(),
                "multi-measure records met stored ones; written as single-measure records"
            );
            counter!(telemetry::MULTI_MEASURE_CONFLICTS).increment(conflicts.len() as u64);
            let retry = batch::single_calls(&conflicts);
            written_records += self.send(&retry, credentials, &mut outcome).await.0;
        }
        counter!(telemetry::WRITTEN_RECORDS).increment(written_records);
        outcome
    }

    /// Sends `calls`, adding what became of them to `outcome`. Returns the records
    /// written, and the samples of multi-measure records Timestream refused as
    /// conflicting with a stored record, as single-measure records.
    async fn send<'c>(
        &self,
        calls: &'c [WriteCall<'c>],
        credentials: Option<&Credentials>,
        outcome: &mut Outcome,
    ) -> (u64, Vec<(Destination<'c>, Record<'c>)>) {
        let mut conflicts = Vec::new();
        // Collected, boxed futures (not a lazy `map` with a closure) because axum needs
        // the handler's future to be Send for every lifetime, which the compiler cannot
        // prove through a closure type held across an await.
        let mut futures: Vec<CallFuture<'_>> = Vec::with_capacity(calls.len());
        for (i, call) in calls.iter().enumerate() {
            futures.push(Box::pin(async move {
                (i, self.write_call(call, credentials).await)
            }));
        }
        let mut results = stream::iter(futures).buffer_unordered(self.concurrency);
        // Records, not samples: a multi-measure record holds several.
        let mut written_records = 0;
        while let Some((i, result)) = results.next().await {
            // Looked up here, not returned by the future: the records it yields must
            // live as long as `calls`, not as the future's borrows.
            let call = &calls[i];
            match result {
                Ok(()) => {
                    written_records += outcome.written.add(call, &[]);
                    counter!(telemetry::BILLED_WRITE_UNITS).increment(call.billed_units() as u64);
                }
                Err(BackendError::Rejected(rejected)) => {
                    let indices: Vec<usize> = rejected.iter().map(|r| r.index).collect();
                    written_records += outcome.written.add(call, &indices);
                    for r in rejected {
                        let record = call.records.get(r.index);
                        // A multi-measure record that clashes with a stored one is not
                        // rejected for good: its samples are written again below, as
                        // single-measure records.
                        let regrouped = record
                            .and_then(|record| Some((record, record.multi?)))
                            .filter(|_| r.kind() == RejectionKind::ConflictingValue);
                        if regrouped.is_none() {
                            counter!(telemetry::REJECTED_RECORDS, "reason" => r.kind().as_str())
                                .increment(1);
                        }
                        // Exemplars are optional data: one Timestream refuses is
                        // counted, and does not fail the request.
                        if call.is_exemplars() {
                            outcome.rejected_exemplars += 1;
                            continue;
                        }
                        if let Some((record, measures)) = regrouped {
                            conflicts.extend(measures.iter().map(|m| {
                                (
                                    call.destination,
                                    Record {
                                        source: m.source,
                                        measure: m.name,
                                        dimensions: record.dimensions,
                                        sample: Sample {
                                            value: m.value,
                                            timestamp_ms: record.sample.timestamp_ms,
                                        },
                                        histogram: None,
                                        exemplar: None,
                                        multi: None,
                                    },
                                )
                            }));
                            continue;
                        }
                        let series = record.map_or_else(
                            || {
                                format!(
                                    "record #{} of a call to {}",
                                    r.index, call.destination.table
                                )
                            },
                            |record| match record.multi {
                                // The metrics of a multi-measure record, and their labels.
                                Some(measures) => {
                                    let names: Vec<&str> =
                                        measures.iter().map(|m| m.name).collect();
                                    format!(
                                        "{} of {}",
                                        names.join(", "),
                                        series_text(record.measure, record.dimensions)
                                    )
                                }
                                None => series_text(record.measure, record.dimensions),
                            },
                        );
                        // A multi-measure record holds samples of several series (events,
                        // messages): each of them was refused.
                        let mut sources: Vec<Option<u32>> = match record.and_then(|r| r.multi) {
                            Some(measures) => measures.iter().map(|m| Some(m.source)).collect(),
                            None => vec![record.map(|r| r.source)],
                        };
                        sources.sort_unstable();
                        sources.dedup();
                        for source in sources {
                            outcome.rejected.push(Rejection {
                                series: series.clone(),
                                source,
                                reason: r.reason.clone(),
                            });
                        }
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
        (written_records, conflicts)
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

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::series::{Label, Sample};
    use crate::timestream::backend::RejectedRecord;
    use crate::timestream::batch::{Common, Record};
    use crate::timestream::exemplars;
    use crate::timestream::records::Destination;

    /// Answers each call of a table with the next scripted result, then Ok.
    struct Scripted {
        script: Mutex<Vec<(&'static str, BackendError)>>,
        calls: Mutex<Vec<&'static str>>,
    }

    impl Scripted {
        fn new(script: Vec<(&'static str, BackendError)>) -> Arc<Self> {
            Arc::new(Scripted {
                script: Mutex::new(script),
                calls: Mutex::default(),
            })
        }
    }

    impl Backend for Scripted {
        fn write_records<'a>(
            &'a self,
            call: &'a WriteCall<'a>,
            _credentials: Option<&'a Credentials>,
        ) -> BoxFuture<'a, Result<(), BackendError>> {
            let table: &'static str = if call.destination.table == "a" {
                "a"
            } else {
                "b"
            };
            self.calls.lock().unwrap().push(table);
            let mut script = self.script.lock().unwrap();
            let result = match script.iter().position(|(t, _)| *t == table) {
                Some(i) => Err(script.remove(i).1),
                None => Ok(()),
            };
            Box::pin(std::future::ready(result))
        }
    }

    static DIMS: [Label<'static>; 1] = [Label {
        name: "job",
        value: "j",
    }];

    fn call(table: &'static str, records: usize) -> WriteCall<'static> {
        WriteCall {
            destination: Destination {
                database: "db",
                table,
            },
            common: Common::default(),
            records: (0..records)
                .map(|i| Record {
                    source: 0,
                    measure: "m",
                    dimensions: &DIMS,
                    sample: Sample {
                        value: i as f64,
                        timestamp_ms: i as i64,
                    },
                    histogram: None,
                    exemplar: None,
                    multi: None,
                })
                .collect(),
        }
    }

    fn writer(backend: Arc<Scripted>, max_attempts: u32) -> Writer {
        let retry = RetryPolicy {
            max_attempts,
            base_delay: Duration::ZERO,
            max_delay: Duration::ZERO,
        };
        Writer::new(backend, retry, 4)
    }

    fn throttled() -> BackendError {
        BackendError::Throttled("slow down".into())
    }

    #[tokio::test]
    async fn retries_only_what_is_worth_retrying() {
        let backend = Scripted::new(vec![
            ("a", throttled()),
            ("a", BackendError::Unavailable("500".into())),
        ]);
        let outcome = writer(backend.clone(), 3)
            .write(&[call("a", 10), call("b", 5)], None)
            .await;
        assert_eq!(outcome.written.samples, 15);
        assert!(outcome.failure.is_none() && outcome.rejected.is_empty());
        let calls = backend.calls.lock().unwrap();
        assert_eq!(calls.iter().filter(|t| **t == "a").count(), 3);
        assert_eq!(calls.iter().filter(|t| **t == "b").count(), 1);
    }

    #[tokio::test]
    async fn gives_up_after_max_attempts_with_a_retryable_failure() {
        let backend = Scripted::new(vec![
            ("a", throttled()),
            ("a", throttled()),
            ("a", throttled()),
        ]);
        let outcome = writer(backend.clone(), 2)
            .write(&[call("a", 10), call("b", 5)], None)
            .await;
        assert_eq!(
            outcome.written.samples, 5,
            "the other call is still written"
        );
        assert_eq!(outcome.failure, Some(throttled()));
        assert_eq!(
            backend
                .calls
                .lock()
                .unwrap()
                .iter()
                .filter(|t| **t == "a")
                .count(),
            2
        );
    }

    #[tokio::test]
    async fn permanent_failures_are_not_retried_and_retryable_ones_decide_the_answer() {
        let not_found = BackendError::NotFound("no table".into());
        let backend = Scripted::new(vec![("a", not_found.clone()), ("b", throttled())]);
        let outcome = writer(backend.clone(), 1)
            .write(&[call("a", 1), call("b", 1)], None)
            .await;
        assert_eq!(
            outcome.failure,
            Some(throttled()),
            "a 503 lets the sender retry everything"
        );
        let backend = Scripted::new(vec![("a", not_found.clone())]);
        let outcome = writer(backend.clone(), 5)
            .write(&[call("a", 1)], None)
            .await;
        assert_eq!(outcome.failure, Some(not_found));
        assert_eq!(backend.calls.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn rejections_name_the_series_and_count_the_rest_as_written() {
        let rejected = BackendError::Rejected(vec![RejectedRecord {
            index: 3,
            reason: "too old".into(),
            existing_version: None,
        }]);
        let backend = Scripted::new(vec![("a", rejected)]);
        let outcome = writer(backend, 3).write(&[call("a", 10)], None).await;
        assert_eq!(outcome.written.samples, 9);
        assert_eq!(
            outcome.rejected,
            [Rejection {
                series: "m{job=\"j\"}".into(),
                source: Some(0),
                reason: "too old".into()
            }]
        );
        assert!(outcome.failure.is_none());

        // Rejected exemplars are counted, and fail nothing.
        static EXEMPLAR: exemplars::Stored<'static> = exemplars::Stored {
            metric: "m",
            labels: String::new(),
            value: 1.0,
            timestamp_ms: 1,
        };
        let mut exemplar_call = call("a", 4);
        for record in &mut exemplar_call.records {
            record.measure = exemplars::MEASURE;
            record.exemplar = Some(&EXEMPLAR);
        }
        let rejected = BackendError::Rejected(vec![RejectedRecord {
            index: 1,
            reason: "too old".into(),
            existing_version: None,
        }]);
        let backend = Scripted::new(vec![("a", rejected)]);
        let outcome = writer(backend, 3).write(&[exemplar_call], None).await;
        assert_eq!(
            (outcome.written.exemplars, outcome.rejected_exemplars),
            (3, 1)
        );
        assert!(outcome.rejected.is_empty() && outcome.failure.is_none());
    }

    #[test]
    fn backoff_is_jittered_and_capped() {
        let policy = RetryPolicy {
            max_attempts: 10,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
        };
        for attempt in 1..40 {
            let ceiling = Duration::from_millis(100 * (1 << (attempt - 1).min(4)))
                .min(Duration::from_secs(1));
            assert!(policy.delay(attempt) <= ceiling, "attempt {attempt}");
        }
    }
}
