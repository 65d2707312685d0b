//! The one ingest pipeline: every front-end (remote write, Pushgateway pushes, JSON
//! events, Lambda) hands it a decoded batch and maps what comes back to its own answer.
//!
//! plan (routing, quotas, ignored reasons) → calls (≤ 100 records, CommonAttributes) →
//! concurrent WriteRecords with retries → [`Written`] or an [`IngestError`]. Received
//! and ignored samples are counted here, labelled by [`Protocol`]; the writer counts
//! calls and records. Front-ends count only what is theirs: decode failures and
//! requests by status.

pub mod events;

use std::sync::Arc;

use metrics::counter;
use thiserror::Error;

use crate::series::SeriesBatch;
use crate::telemetry;
use crate::timestream::backend::{BackendError, Credentials};
use crate::timestream::batch;
use crate::timestream::multi;
use crate::timestream::quota::{ConvertError, IgnoreReason, Ignored};
use crate::timestream::records::{self, Routing, Strictness};
use crate::timestream::writer::{Rejection, Writer, WrittenRecords};

/// The time of receipt, in milliseconds since the epoch: what pushed samples and events
/// without a timestamp of their own are written at.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// How many rejected records an error message lists before it summarises.
const LISTED_REJECTIONS: usize = 5;

/// Where a batch came from: the `protocol` label of the ingest telemetry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    RemoteWrite,
    RemoteWrite2,
    Pushgateway,
    Events,
}

impl Protocol {
    pub const ALL: [Protocol; 4] = [
        Protocol::RemoteWrite,
        Protocol::RemoteWrite2,
        Protocol::Pushgateway,
        Protocol::Events,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::RemoteWrite => "remote_write",
            Protocol::RemoteWrite2 => "remote_write_2",
            Protocol::Pushgateway => "pushgateway",
            Protocol::Events => "events",
        }
    }
}

/// What a batch became, when everything writable was written.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Written {
    /// Float samples received, written or not.
    pub received: u64,
    /// Native histograms received, written or not.
    pub received_histograms: u64,
    /// Exemplars received, written or not.
    pub received_exemplars: u64,
    /// Records Timestream accepted, by kind.
    pub stored: WrittenRecords,
    /// Float samples not written, per reason.
    pub ignored: Ignored,
    /// Native histograms not written, per reason.
    pub ignored_histograms: Ignored,
    /// Exemplars not written, per reason.
    pub ignored_exemplars: Ignored,
}

/// Why a batch was not (wholly) written.
#[derive(Debug, Error)]
pub enum IngestError {
    /// Refused under a `--fail-on-*` flag before anything was written.
    #[error("{0}")]
    Refused(#[from] ConvertError),
    /// Timestream refused some records for good and wrote the others.
    #[error("Timestream rejected {} of {total} samples; the others were written: {}", .rejected.len(), list(.rejected))]
    Rejected {
        /// One a sample (float or histogram): a multi-measure record holds several.
        rejected: Vec<Rejection>,
        /// The samples the request was to write, in records of either form.
        total: usize,
        /// Records written, by kind.
        written: WrittenRecords,
    },
    /// A call failed: retryable (throttling, 5xx) or not (access, missing table). The
    /// other calls may have been written.
    #[error("{error}")]
    Failed {
        error: BackendError,
        written: WrittenRecords,
    },
}

impl IngestError {
    /// What was written before the request failed.
    pub fn written(&self) -> WrittenRecords {
        match self {
            IngestError::Refused(_) => WrittenRecords::default(),
            IngestError::Rejected { written, .. } | IngestError::Failed { written, .. } => *written,
        }
    }
}

fn list(rejected: &[Rejection]) -> String {
    let mut text: Vec<String> = rejected
        .iter()
        .take(LISTED_REJECTIONS)
        .map(|r| format!("{}: {}", r.series, r.reason))
        .collect();
    if rejected.len() > LISTED_REJECTIONS {
        text.push(format!("and {} more", rejected.len() - LISTED_REJECTIONS));
    }
    text.join("; ")
}

/// The pipeline's configuration and the writer it sends through.
pub struct Ingest {
    writer: Arc<Writer>,
    routing: Arc<Routing>,
    strictness: Strictness,
    /// `--record-mode=multi`: samples that share labels and time become multi-measure
    /// records ([`multi`]).
    multi_measure: bool,
}

impl Ingest {
    pub fn new(
        writer: Arc<Writer>,
        routing: Arc<Routing>,
        strictness: Strictness,
        multi_measure: bool,
    ) -> Self {
        counter!(telemetry::WRITTEN_RECORDS).absolute(0);
        counter!(telemetry::MULTI_MEASURE_CONFLICTS).absolute(0);
        // Zero counters exist from the start, so that rate() and alerts see them.
        for protocol in Protocol::ALL {
            let protocol = protocol.as_str();
            counter!(telemetry::RECEIVED_SAMPLES, "protocol" => protocol).absolute(0);
            counter!(telemetry::RECEIVED_HISTOGRAMS, "protocol" => protocol).absolute(0);
            counter!(telemetry::WRITTEN_HISTOGRAMS, "protocol" => protocol).absolute(0);
            counter!(telemetry::RECEIVED_EXEMPLARS, "protocol" => protocol).absolute(0);
            counter!(telemetry::WRITTEN_EXEMPLARS, "protocol" => protocol).absolute(0);
            for reason in IgnoreReason::ALL {
                counter!(telemetry::IGNORED_SAMPLES, "protocol" => protocol, "reason" => reason.as_str())
                    .absolute(0);
                counter!(telemetry::IGNORED_HISTOGRAMS, "protocol" => protocol, "reason" => reason.as_str())
                    .absolute(0);
                counter!(telemetry::IGNORED_EXEMPLARS, "protocol" => protocol, "reason" => reason.as_str())
                    .absolute(0);
            }
        }
        Ingest {
            writer,
            routing,
            strictness,
            multi_measure,
        }
    }

    /// The series of `batch` that would be skipped whole, with why, without writing or
    /// counting anything: for front-ends that refuse per item before writing.
    pub fn check(&self, batch: &SeriesBatch<'_>) -> Vec<(u32, IgnoreReason)> {
        // A lenient plan refuses nothing: every problem is in `skipped`.
        records::plan(batch, &self.routing, Strictness::default())
            .map(|plan| plan.skipped)
            .unwrap_or_default()
    }

    /// Writes `batch`: everything Timestream can store, or an error that says what the
    /// client should do. Nothing is acknowledged that was not written.
    pub async fn ingest(
        &self,
        batch: &SeriesBatch<'_>,
        protocol: Protocol,
        credentials: Option<&Credentials>,
    ) -> Result<Written, IngestError> {
        let protocol_label = protocol.as_str();
        let mut plan = records::plan(batch, &self.routing, self.strictness).inspect_err(|e| {
            counter!(telemetry::ERRORS, "stage" => "convert", "kind" => e.reason.as_str())
                .increment(1);
        })?;
        counter!(telemetry::RECEIVED_SAMPLES, "protocol" => protocol_label)
            .increment(plan.received);
        counter!(telemetry::RECEIVED_HISTOGRAMS, "protocol" => protocol_label)
            .increment(plan.received_histograms);
        counter!(telemetry::RECEIVED_EXEMPLARS, "protocol" => protocol_label)
            .increment(plan.received_exemplars);
        for (reason, samples) in plan.ignored.iter() {
            counter!(telemetry::IGNORED_SAMPLES, "protocol" => protocol_label, "reason" => reason.as_str())
                .increment(samples);
        }
        for (reason, histograms) in plan.ignored_histograms.iter() {
            counter!(telemetry::IGNORED_HISTOGRAMS, "protocol" => protocol_label, "reason" => reason.as_str())
                .increment(histograms);
        }
        for (reason, exemplars) in plan.ignored_exemplars.iter() {
            counter!(telemetry::IGNORED_EXEMPLARS, "protocol" => protocol_label, "reason" => reason.as_str())
                .increment(exemplars);
        }
        if self.multi_measure {
            multi::merge(&mut plan);
        }
        let calls = batch::calls(&plan);
        let outcome = self.writer.write(&calls, credentials).await;
        let mut ignored_exemplars = plan.ignored_exemplars.clone();
        ignored_exemplars.add(
            IgnoreReason::RejectedByTimestream,
            outcome.rejected_exemplars,
        );
        counter!(telemetry::IGNORED_EXEMPLARS, "protocol" => protocol_label, "reason" => IgnoreReason::RejectedByTimestream.as_str())
            .increment(outcome.rejected_exemplars);
        counter!(telemetry::WRITTEN_HISTOGRAMS, "protocol" => protocol_label)
            .increment(outcome.written.histograms);
        counter!(telemetry::WRITTEN_EXEMPLARS, "protocol" => protocol_label)
            .increment(outcome.written.exemplars);
        if let Some(error) = outcome.failure {
            return Err(IngestError::Failed {
                error,
                written: outcome.written,
            });
        }
        if !outcome.rejected.is_empty() {
            return Err(IngestError::Rejected {
                rejected: outcome.rejected,
                total: plan.sample_count(),
                written: outcome.written,
            });
        }
        Ok(Written {
            received: plan.received,
            received_histograms: plan.received_histograms,
            received_exemplars: plan.received_exemplars,
            stored: outcome.written,
            ignored: plan.ignored,
            ignored_histograms: plan.ignored_histograms,
            ignored_exemplars,
        })
    }
}
