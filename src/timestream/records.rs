//! From decoded series to Timestream records: routing, and every quota Timestream would
//! otherwise enforce by rejecting the write.
//!
//! One series becomes one single-measure DOUBLE record per sample: the metric name is
//! the measure name, every other non-empty label a dimension, the routing labels (if
//! configured) pick the database and table and are not written. Its native histograms
//! become multi-measure records of the same name and dimensions ([`histograms`]), its
//! exemplars records of their own ([`exemplars`]). A series or sample that
//! Timestream could not store is skipped and counted with its reason, or, under the
//! matching `--fail-on-*` flag, fails the whole request before anything is written.
//!
//! Pure: plain data in, plain data out. Label text stays borrowed from the request.

use std::ops::Range;

use super::exemplars;
use super::histograms::{self, Stored};
use super::multi;
use super::nonfinite;
use super::quota::{
    is_reserved_dimension, limits, valid_resource_name, ConvertError, IgnoreReason, Ignored,
};
use crate::series::{is_stale_marker, Label, Sample, Series, SeriesBatch, METRIC_NAME_LABEL};

/// Where series go: the defaults, or per series the values of the routing labels.
#[derive(Debug, Clone)]
pub struct Routing {
    pub default_database: String,
    pub default_table: String,
    pub database_label: Option<String>,
    pub table_label: Option<String>,
}

/// What to do with data Timestream cannot store: skip it (false) or refuse the request;
/// and whether non-finite values are stored in [`nonfinite`]'s form.
#[derive(Debug, Clone, Copy, Default)]
pub struct Strictness {
    pub fail_on_long_label: bool,
    pub fail_on_invalid_sample_value: bool,
    /// Store staleness markers, NaN and ±Inf (`--non-finite-values=store`) instead of
    /// skipping and counting them. `--fail-on-invalid-sample-value` still refuses them.
    pub store_non_finite: bool,
}

impl Strictness {
    /// Whether data skipped for `reason` refuses the whole request instead: sample
    /// values and invalid histograms fall under `--fail-on-invalid-sample-value`, every
    /// label or record limit under `--fail-on-long-label`.
    fn refuses(self, reason: IgnoreReason) -> bool {
        match reason {
            IgnoreReason::NonFiniteValue
            | IgnoreReason::StaleMarker
            | IgnoreReason::InvalidHistogram
            | IgnoreReason::MissingTimestamp => self.fail_on_invalid_sample_value,
            _ => self.fail_on_long_label,
        }
    }
}

/// A destination table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Destination<'a> {
    pub database: &'a str,
    pub table: &'a str,
}

/// A series that will be written.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedSeries<'a> {
    /// The series' index in the batch it was planned from.
    pub source: u32,
    pub measure: &'a str,
    /// Index into [`Plan::destinations`].
    pub destination: u32,
    /// Range of [`Plan::dimensions`]: the series' labels less name, routing labels and
    /// empty values, in the request's (sorted) order.
    pub dimensions: Range<u32>,
    /// Range of [`Plan::samples`] (of [`Plan::histograms`] for a series of
    /// [`Plan::histogram_series`]): the writable ones only.
    pub samples: Range<u32>,
}

/// Everything of a request that will be written, and what will not.
#[derive(Debug, Default)]
pub struct Plan<'a> {
    pub destinations: Vec<Destination<'a>>,
    pub series: Vec<PlannedSeries<'a>>,
    pub dimensions: Vec<Label<'a>>,
    pub samples: Vec<Sample>,
    /// Series with native histograms to write, and the histograms in stored form.
    pub histogram_series: Vec<PlannedSeries<'a>>,
    pub histograms: Vec<Stored>,
    /// Series with exemplars to write (measure name [`exemplars::MEASURE`]), and the
    /// exemplars in stored form.
    pub exemplar_series: Vec<PlannedSeries<'a>>,
    pub exemplars: Vec<exemplars::Stored<'a>>,
    /// Multi-measure records of float samples ([`multi`], `--record-mode=multi`): one
    /// series each (measure name [`multi::MEASURE`]), whose one sample is in
    /// [`Plan::multi`]; their measures are in [`Plan::measures`].
    pub multi_series: Vec<PlannedSeries<'a>>,
    pub multi: Vec<multi::Stored>,
    pub measures: Vec<multi::Measure<'a>>,
    /// Float samples not written, per reason.
    pub ignored: Ignored,
    /// Native histogram samples not written, per reason.
    pub ignored_histograms: Ignored,
    /// Exemplars not written, per reason.
    pub ignored_exemplars: Ignored,
    /// Series skipped whole, by batch index, with the reason: what a front-end that
    /// answers per item (an event, a queue message) reports back.
    pub skipped: Vec<(u32, IgnoreReason)>,
    /// Float samples received, written or not.
    pub received: u64,
    /// Native histogram samples received, written or not.
    pub received_histograms: u64,
    /// Exemplars received, written or not.
    pub received_exemplars: u64,
}

impl<'a> Plan<'a> {
    pub fn dimensions_of(&self, series: &PlannedSeries<'a>) -> &[Label<'a>] {
        &self.dimensions[series.dimensions.start as usize..series.dimensions.end as usize]
    }

    pub fn samples_of(&self, series: &PlannedSeries<'a>) -> &[Sample] {
        &self.samples[series.samples.start as usize..series.samples.end as usize]
    }

    /// The histograms of a series of [`Plan::histogram_series`].
    pub fn histograms_of(&self, series: &PlannedSeries<'a>) -> &[Stored] {
        &self.histograms[series.samples.start as usize..series.samples.end as usize]
    }

    /// The exemplars of a series of [`Plan::exemplar_series`].
    pub fn exemplars_of(&self, series: &PlannedSeries<'a>) -> &[exemplars::Stored<'a>] {
        &self.exemplars[series.samples.start as usize..series.samples.end as usize]
    }

    /// The multi-measure records of a series of [`Plan::multi_series`].
    pub fn multi_of(&self, series: &PlannedSeries<'a>) -> &[multi::Stored] {
        &self.multi[series.samples.start as usize..series.samples.end as usize]
    }

    /// The measures of a multi-measure record.
    pub fn measures_of(&self, stored: &multi::Stored) -> &[multi::Measure<'a>] {
        &self.measures[stored.measures.start as usize..stored.measures.end as usize]
    }

    /// Records that will be written.
    pub fn record_count(&self) -> usize {
        self.samples.len() + self.histograms.len() + self.exemplars.len() + self.multi.len()
    }

    /// The float samples and native histograms to write, whether in records of their
    /// own or as measures of multi-measure records (exemplars are not samples).
    pub fn sample_count(&self) -> usize {
        self.samples.len() + self.histograms.len() + self.measures.len()
    }
}

/// Plans the records for `batch`.
pub fn plan<'a>(
    batch: &SeriesBatch<'a>,
    routing: &'a Routing,
    strict: Strictness,
) -> Result<Plan<'a>, ConvertError> {
    let mut plan = Plan {
        dimensions: Vec::with_capacity(batch.labels.len()),
        samples: Vec::with_capacity(batch.samples.len()),
        series: Vec::with_capacity(batch.len()),
        ..Plan::default()
    };
    for (source, series) in batch.iter().enumerate() {
        plan.received += series.samples.len() as u64;
        plan.received_histograms += series.histograms.len() as u64;
        plan.received_exemplars += series.exemplars.len() as u64;
        if series.samples.is_empty() && series.histograms.is_empty() && series.exemplars.is_empty()
        {
            continue;
        }
        let dimension_start = plan.dimensions.len();
        let checked = check_series(&series, routing, &mut plan.dimensions);
        let (measure, destination, fixed_bytes) = match checked {
            Ok(ok) => ok,
            Err(reason) => {
                plan.dimensions.truncate(dimension_start);
                if strict.refuses(reason) {
                    return Err(ConvertError {
                        series: series.display(),
                        reason,
                    });
                }
                plan.ignored.add(reason, series.samples.len() as u64);
                plan.ignored_histograms
                    .add(reason, series.histograms.len() as u64);
                plan.ignored_exemplars
                    .add(reason, series.exemplars.len() as u64);
                plan.skipped.push((source as u32, reason));
                continue;
            }
        };
        let sample_start = plan.samples.len();
        let mut non_finite = 0;
        for sample in series.samples {
            match check_sample(sample.value, fixed_bytes) {
                None => plan.samples.push(*sample),
                Some(reason) if strict.refuses(reason) => {
                    return Err(ConvertError {
                        series: series.display(),
                        reason,
                    });
                }
                Some(IgnoreReason::NonFiniteValue | IgnoreReason::StaleMarker)
                    if strict.store_non_finite =>
                {
                    non_finite += 1;
                }
                Some(reason) => plan.ignored.add(reason, 1),
            }
        }
        let finite = plan.samples.len() > sample_start;
        let histogram_start = plan.histograms.len();
        for h in series.histograms {
            if h.invalid().is_some() {
                if strict.refuses(IgnoreReason::InvalidHistogram) {
                    return Err(ConvertError {
                        series: series.display(),
                        reason: IgnoreReason::InvalidHistogram,
                    });
                }
                plan.ignored_histograms
                    .add(IgnoreReason::InvalidHistogram, 1);
                continue;
            }
            let stored = histograms::encode(h);
            if fixed_bytes + stored.metered_bytes() <= limits::MAX_RECORD_BYTES {
                plan.histograms.push(stored);
            } else if strict.refuses(IgnoreReason::RecordTooLarge) {
                return Err(ConvertError {
                    series: series.display(),
                    reason: IgnoreReason::RecordTooLarge,
                });
            } else {
                plan.ignored_histograms.add(IgnoreReason::RecordTooLarge, 1);
            }
        }
        let has_histograms = plan.histograms.len() > histogram_start;
        let exemplar_start = plan.exemplars.len();
        if !series.exemplars.is_empty() {
            let dimensions = plan.dimensions.len() - dimension_start;
            plan_exemplars(&mut plan, &series, (measure, dimensions, fixed_bytes));
        }
        let has_exemplars = plan.exemplars.len() > exemplar_start;
        if !finite && non_finite == 0 && !has_histograms && !has_exemplars {
            plan.dimensions.truncate(dimension_start);
            continue;
        }
        let dimension_end = plan.dimensions.len();
        let destination = plan.destination_index(destination);
        // The series as each of its kinds of record is planned.
        let planned = |measure, samples: Range<usize>| PlannedSeries {
            source: source as u32,
            measure,
            destination,
            dimensions: dimension_start as u32..dimension_end as u32,
            samples: samples.start as u32..samples.end as u32,
        };
        if finite {
            plan.series
                .push(planned(measure, sample_start..plan.samples.len()));
        }
        if non_finite > 0 {
            plan_non_finite(
                &mut plan,
                planned(measure, 0..0),
                series.samples,
                fixed_bytes,
            );
        }
        if has_histograms {
            plan.histogram_series
                .push(planned(measure, histogram_start..plan.histograms.len()));
        }
        if has_exemplars {
            plan.exemplar_series.push(planned(
                exemplars::MEASURE,
                exemplar_start..plan.exemplars.len(),
            ));
        }
    }
    Ok(plan)
}

/// Plans the exemplars of `series` (named `metric`, with `dimensions` dimensions, its
/// record `fixed_bytes` without a value) in [`exemplars`]' form. Exemplars are
/// optional data: one that cannot be stored is counted, and never refuses a request.
fn plan_exemplars<'a>(
    plan: &mut Plan<'a>,
    series: &Series<'_, 'a>,
    (metric, dimensions, fixed_bytes): (&'a str, usize, usize),
) {
    // The two of the exemplar form come on top of the series' own.
    let dimensions = dimensions + 2;
    for exemplar in series.exemplars {
        let reason = if !exemplar.value.is_finite() {
            Some(IgnoreReason::NonFiniteValue)
        } else if exemplar.timestamp_ms == 0 {
            Some(IgnoreReason::MissingTimestamp)
        } else if dimensions > limits::MAX_DIMENSIONS {
            Some(IgnoreReason::TooManyLabels)
        } else {
            None
        };
        if let Some(reason) = reason {
            plan.ignored_exemplars.add(reason, 1);
            continue;
        }
        let stored = exemplars::Stored {
            metric,
            labels: exemplars::labels_text(series.exemplar_labels(exemplar)),
            value: exemplar.value,
            timestamp_ms: exemplar.timestamp_ms,
        };
        let bytes = fixed_bytes - metric.len()
            + exemplars::MEASURE.len()
            + stored.extra_bytes()
            + limits::MAX_VALUE_BYTES;
        if bytes > limits::MAX_RECORD_BYTES {
            plan.ignored_exemplars.add(IgnoreReason::RecordTooLarge, 1);
            continue;
        }
        plan.exemplars.push(stored);
    }
}

/// Plans a series' non-finite samples in [`nonfinite`]'s form: one more series per kind
/// of value, its dimensions those of `base` plus `__value__`, kept in name order.
fn plan_non_finite<'a>(
    plan: &mut Plan<'a>,
    base: PlannedSeries<'a>,
    samples: &[Sample],
    fixed_bytes: usize,
) {
    for kind in nonfinite::KINDS {
        let of_kind = || {
            samples
                .iter()
                .filter_map(|s| match nonfinite::encode(s.value) {
                    Some((k, stored)) if k == kind => Some(Sample {
                        value: stored,
                        timestamp_ms: s.timestamp_ms,
                    }),
                    _ => None,
                })
        };
        let count = of_kind().count() as u64;
        if count == 0 {
            continue;
        }
        let base_dimensions = base.dimensions.start as usize..base.dimensions.end as usize;
        let label = Label {
            name: nonfinite::DIMENSION,
            value: kind,
        };
        if base_dimensions.len() + 1 > limits::MAX_DIMENSIONS {
            plan.ignored.add(IgnoreReason::TooManyLabels, count);
            continue;
        }
        // The stored DOUBLE is at most a 52-bit integer: its text fits the value budget.
        let bytes = fixed_bytes + label.name.len() + label.value.len() + limits::MAX_VALUE_BYTES;
        if bytes > limits::MAX_RECORD_BYTES {
            plan.ignored.add(IgnoreReason::RecordTooLarge, count);
            continue;
        }
        let start = plan.dimensions.len();
        plan.dimensions.extend_from_within(base_dimensions);
        let at = plan.dimensions[start..].partition_point(|d| d.name < label.name);
        plan.dimensions.insert(start + at, label);
        let sample_start = plan.samples.len();
        plan.samples.extend(of_kind());
        plan.series.push(PlannedSeries {
            dimensions: start as u32..plan.dimensions.len() as u32,
            samples: sample_start as u32..plan.samples.len() as u32,
            ..base
        });
    }
}

impl<'a> Plan<'a> {
    fn destination_index(&mut self, destination: Destination<'a>) -> u32 {
        // Requests route to a handful of tables, so a scan beats hashing.
        match self.destinations.iter().position(|d| *d == destination) {
            Some(i) => i as u32,
            None => {
                self.destinations.push(destination);
                (self.destinations.len() - 1) as u32
            }
        }
    }
}

/// Checks a series' labels, appending its dimensions to `dimensions`. Returns the
/// measure name, the destination and the record size without the value.
fn check_series<'a>(
    series: &Series<'_, 'a>,
    routing: &'a Routing,
    dimensions: &mut Vec<Label<'a>>,
) -> Result<(&'a str, Destination<'a>, usize), IgnoreReason> {
    let start = dimensions.len();
    let database_label = routing.database_label.as_deref();
    let table_label = routing.table_label.as_deref();
    let mut measure = None;
    let mut database: &'a str = &routing.default_database;
    let mut table: &'a str = &routing.default_table;
    let mut routed = false;
    let mut bytes = limits::TIME_BYTES;
    let mut long_label = false;
    let mut reserved = false;
    for label in series.labels {
        if label.value.is_empty() {
            // Prometheus treats an empty label as an absent one.
            continue;
        }
        if label.name.is_empty() {
            return Err(IgnoreReason::EmptyLabelName);
        }
        if label.name == METRIC_NAME_LABEL {
            if measure.replace(label.value).is_some() {
                return Err(IgnoreReason::DuplicateLabelName);
            }
        } else if Some(label.name) == database_label {
            database = label.value;
            routed = true;
        } else if Some(label.name) == table_label {
            table = label.value;
            routed = true;
        } else {
            long_label |= label.name.len() > limits::MAX_DIMENSION_NAME_BYTES;
            reserved |= is_reserved_dimension(label.name);
            bytes += label.name.len() + label.value.len();
            dimensions.push(*label);
        }
    }
    let measure = measure.ok_or(IgnoreReason::MissingMetricName)?;
    let added = &mut dimensions[start..];
    // Batching relies on dimensions sorted by name (remote write sorts labels; other
    // sources may not), and a repeated name would be a duplicate dimension.
    if !added.is_sorted_by(|a, b| a.name < b.name) {
        added.sort_unstable_by(|a, b| a.name.cmp(b.name));
        if added.windows(2).any(|w| w[0].name == w[1].name) {
            return Err(IgnoreReason::DuplicateLabelName);
        }
    }
    let added = &*added;

    if measure.len() > limits::MAX_MEASURE_NAME_BYTES {
        return Err(IgnoreReason::LongMetricName);
    }
    if long_label {
        return Err(IgnoreReason::LongLabelName);
    }
    // The measure names of the connector's own records are not metrics: every name a
    // multi-measure record may have (reads tell the forms apart by that prefix).
    let own_measure = measure.starts_with("__")
        && (measure.starts_with(multi::MEASURE) || measure == exemplars::MEASURE);
    if reserved || own_measure || added.iter().any(|d| d.name == measure) {
        return Err(IgnoreReason::ReservedLabelName);
    }
    if added.len() > limits::MAX_DIMENSIONS {
        return Err(IgnoreReason::TooManyLabels);
    }
    // The defaults were checked at start; only names taken from labels need it here.
    if routed && (!valid_resource_name(database) || !valid_resource_name(table)) {
        return Err(IgnoreReason::InvalidDestination);
    }
    bytes += measure.len();
    if bytes + 1 > limits::MAX_RECORD_BYTES {
        return Err(IgnoreReason::RecordTooLarge);
    }
    Ok((measure, Destination { database, table }, bytes))
}

/// Returns why a sample of a series whose record is `fixed_bytes` without its value
/// cannot be written, if it cannot.
fn check_sample(value: f64, fixed_bytes: usize) -> Option<IgnoreReason> {
    if !value.is_finite() {
        return Some(if is_stale_marker(value) {
            IgnoreReason::StaleMarker
        } else {
            IgnoreReason::NonFiniteValue
        });
    }
    // Formatting is only needed for the rare series within 24 bytes of the limit.
    if fixed_bytes + limits::MAX_VALUE_BYTES > limits::MAX_RECORD_BYTES
        && fixed_bytes + ryu::Buffer::new().format_finite(value).len() > limits::MAX_RECORD_BYTES
    {
        return Some(IgnoreReason::RecordTooLarge);
    }
    None
}

#[cfg(test)]
mod tests;
