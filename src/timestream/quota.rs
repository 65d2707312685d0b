//! Timestream's quotas and naming rules, and the reasons a sample is not written.
//!
//! From Timestream's developer guide ("Quotas", "Naming constraints"). Checked before
//! sending, so that a series Timestream would refuse is skipped and counted with its
//! reason instead of failing a whole WriteRecords call.

use thiserror::Error;

/// Timestream quotas, from its developer guide ("Quotas" and "Naming constraints").
pub mod limits {
    pub const MAX_DIMENSION_NAME_BYTES: usize = 60;
    pub const MAX_MEASURE_NAME_BYTES: usize = 256;
    pub const MAX_DIMENSIONS: usize = 128;
    pub const MAX_RECORD_BYTES: usize = 2048;
    /// A record's time is billed and counted as 8 bytes.
    pub const TIME_BYTES: usize = 8;
    /// A DOUBLE value is billed as 8 bytes, whatever the length of its text.
    pub const DOUBLE_BYTES: usize = 8;
    /// Longest text `ryu` writes for an f64 (e.g. `-2.2250738585072014e-308`).
    pub const MAX_VALUE_BYTES: usize = 24;
    pub const MIN_RESOURCE_NAME: usize = 3;
    pub const MAX_RESOURCE_NAME: usize = 256;
}

/// Why a sample was not written. `as_str` is the `reason` label of
/// `timestream_connector_ignored_samples_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IgnoreReason {
    MissingMetricName,
    LongMetricName,
    LongLabelName,
    ReservedLabelName,
    TooManyLabels,
    DuplicateLabelName,
    EmptyLabelName,
    RecordTooLarge,
    InvalidDestination,
    NonFiniteValue,
    StaleMarker,
    InvalidHistogram,
    MissingTimestamp,
    RejectedByTimestream,
}

impl IgnoreReason {
    pub const ALL: [IgnoreReason; 14] = [
        IgnoreReason::MissingMetricName,
        IgnoreReason::LongMetricName,
        IgnoreReason::LongLabelName,
        IgnoreReason::ReservedLabelName,
        IgnoreReason::TooManyLabels,
        IgnoreReason::DuplicateLabelName,
        IgnoreReason::EmptyLabelName,
        IgnoreReason::RecordTooLarge,
        IgnoreReason::InvalidDestination,
        IgnoreReason::NonFiniteValue,
        IgnoreReason::StaleMarker,
        IgnoreReason::InvalidHistogram,
        IgnoreReason::MissingTimestamp,
        IgnoreReason::RejectedByTimestream,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            IgnoreReason::MissingMetricName => "missing_metric_name",
            IgnoreReason::LongMetricName => "long_metric_name",
            IgnoreReason::LongLabelName => "long_label_name",
            IgnoreReason::ReservedLabelName => "reserved_label_name",
            IgnoreReason::TooManyLabels => "too_many_labels",
            IgnoreReason::DuplicateLabelName => "duplicate_label_name",
            IgnoreReason::EmptyLabelName => "empty_label_name",
            IgnoreReason::RecordTooLarge => "record_too_large",
            IgnoreReason::InvalidDestination => "invalid_destination",
            IgnoreReason::NonFiniteValue => "non_finite_value",
            IgnoreReason::StaleMarker => "stale_marker",
            IgnoreReason::InvalidHistogram => "invalid_histogram",
            IgnoreReason::MissingTimestamp => "missing_timestamp",
            IgnoreReason::RejectedByTimestream => "rejected",
        }
    }

    /// Why, as the end of a sentence that names the series.
    pub fn describe(self) -> &'static str {
        match self {
            IgnoreReason::MissingMetricName => "has no __name__ label",
            IgnoreReason::LongMetricName => "has a metric name longer than Timestream's 256-byte measure name limit",
            IgnoreReason::LongLabelName => "has a label name longer than Timestream's 60-byte dimension name limit",
            IgnoreReason::ReservedLabelName => "has a label name Timestream or the connector's stored forms reserve (time, measure_name, measure_value*, ts_*, __value__, __metric__, __labels__, the histogram measures such as __sum, or the metric's own name)",
            IgnoreReason::TooManyLabels => "has more labels than Timestream's 128 dimensions",
            IgnoreReason::DuplicateLabelName => "has the same label name twice",
            IgnoreReason::EmptyLabelName => "has a label with an empty name",

            IgnoreReason::RecordTooLarge => "makes a record larger than Timestream's 2 KiB limit",
            IgnoreReason::InvalidDestination => "routes to a database or table name Timestream does not allow ([a-zA-Z0-9_.-], 3 to 256 bytes)",
            IgnoreReason::NonFiniteValue => "has a NaN or infinite value, which Timestream cannot store",
            IgnoreReason::StaleMarker => "has a staleness marker (NaN), which Timestream cannot store",
            IgnoreReason::InvalidHistogram => "has a native histogram Prometheus would refuse (an unknown schema, buckets that do not match their spans or are negative, custom bounds that do not fit)",
            IgnoreReason::MissingTimestamp => "has an exemplar without a timestamp",
            IgnoreReason::RejectedByTimestream => "has an exemplar Timestream rejected",
        }
    }
}

/// Samples skipped, per reason.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ignored([u64; IgnoreReason::ALL.len()]);

impl Ignored {
    pub fn add(&mut self, reason: IgnoreReason, samples: u64) {
        self.0[reason as usize] += samples;
    }

    pub fn get(&self, reason: IgnoreReason) -> u64 {
        self.0[reason as usize]
    }

    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }

    /// Reasons with a non-zero count.
    pub fn iter(&self) -> impl Iterator<Item = (IgnoreReason, u64)> + '_ {
        IgnoreReason::ALL
            .into_iter()
            .map(|r| (r, self.get(r)))
            .filter(|(_, n)| *n > 0)
    }
}

/// A request refused under a `--fail-on-*` flag. The message names the series.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("series {series} {}", reason.describe())]
pub struct ConvertError {
    pub series: String,
    pub reason: IgnoreReason,
}

/// Dimension names Timestream reserves for its own columns, and the names of the
/// connector's stored forms (`__value__`, the histogram measures, the exemplar
/// dimensions), which a label must not take: Prometheus keeps `__` names for itself,
/// but other senders may not.
pub fn is_reserved_dimension(name: &str) -> bool {
    // Every reserved name starts with 't', 'm' or '_'; most label names are out at once.
    match name.as_bytes().first() {
        Some(b't' | b'm') => {
            matches!(name, "time" | "measure_name" | "ts_non_existent_col")
                || name.starts_with("measure_value")
                || name.starts_with("ts_")
        }
        Some(b'_') => {
            matches!(
                name,
                super::nonfinite::DIMENSION
                    | super::exemplars::METRIC
                    | super::exemplars::LABELS
                    | super::sql::METRIC_COLUMN
                    | super::sql::FORM_COLUMN
            ) || super::histograms::MEASURES.contains(&name)
        }
        _ => false,
    }
}

/// Timestream's rule for database and table names.
pub fn valid_resource_name(name: &str) -> bool {
    (limits::MIN_RESOURCE_NAME..=limits::MAX_RESOURCE_NAME).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_names() {
        assert!(valid_resource_name("abc") && valid_resource_name("my-db_1.v2"));
        assert!(
            !valid_resource_name("ab")
                && !valid_resource_name("a b c")
                && !valid_resource_name(&"a".repeat(257))
        );
    }
    #[test]
    fn reserved_dimension_names() {
        for name in [
            "time",
            "measure_name",
            "measure_value",
            "measure_value::double",
            "ts_x",
            "ts_non_existent_col",
        ] {
            assert!(is_reserved_dimension(name), "{name}");
        }
        for name in ["timestamp", "measure", "job", "t", "m", "Time"] {
            assert!(!is_reserved_dimension(name), "{name}");
        }
    }
}
