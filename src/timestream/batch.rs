//! Groups a [`Plan`]'s records into WriteRecords calls, and estimates what they bill.
//!
//! A call holds at most 100 records of one table. Series are ordered by target (their
//! `instance` and `job` labels) and then by measure name, so that records sharing
//! dimensions and names are adjacent; [`super::packing`] cuts that order into the calls
//! Timestream bills least for; whatever every record of a call has in common
//! (dimensions, measure name, time) goes once into CommonAttributes. Timestream bills
//! writes by the kilobyte of each request and counts common attributes once, so this
//! cuts the bill without changing what is stored.
//!
//! Native histograms, exemplars and multi-measure records of float samples go in calls
//! of their own (cut at 100 records per destination, in target order): they are rare
//! beside single float samples, or large, and keep the cut above simple.
//!
//! Pure: borrows the plan, allocates per call, not per record or label.

use std::hash::{Hash, Hasher};

use super::exemplars;
use super::histograms::Stored;
use super::multi;
use super::packing;
use super::quota::limits;
use super::records::{Destination, Plan, PlannedSeries};
use crate::series::{Label, Sample};

/// Timestream's limit on records per WriteRecords call.
pub const MAX_RECORDS_PER_CALL: usize = 100;

/// Timestream's billing unit for writes.
pub const BILLED_WRITE_UNIT_BYTES: usize = 1024;

/// One record: a sample of a series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Record<'p> {
    /// The index of the record's series in the batch it came from.
    pub source: u32,
    pub measure: &'p str,
    /// All of the series' dimensions, the common ones included.
    pub dimensions: &'p [Label<'p>],
    /// The time, and a float sample's value.
    pub sample: Sample,
    /// A native histogram's measures: then the record is multi-measure.
    pub histogram: Option<&'p Stored>,
    /// An exemplar: then the record has its two more dimensions, and `sample` is its.
    pub exemplar: Option<&'p exemplars::Stored<'p>>,
    /// Float samples of several metrics ([`multi`]): then the record is multi-measure,
    /// and `sample` holds only its time.
    pub multi: Option<&'p [multi::Measure<'p>]>,
}

/// Attributes shared by every record of a call, sent once.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Common<'p> {
    pub dimensions: Vec<Label<'p>>,
    pub measure: Option<&'p str>,
    pub time_ms: Option<i64>,
}

/// One WriteRecords call.
#[derive(Debug, Clone, PartialEq)]
pub struct WriteCall<'p> {
    pub destination: Destination<'p>,
    pub common: Common<'p>,
    pub records: Vec<Record<'p>>,
}

impl<'p> Record<'p> {
    /// The record's dimensions that are not in `common`.
    ///
    /// Common dimensions are in every record of the call, and every record's dimensions
    /// are sorted by name (the plan guarantees it), so one forward walk skips them.
    pub fn own_dimensions<'c>(
        &'c self,
        common: &'c Common<'p>,
    ) -> impl Iterator<Item = &'c Label<'p>> + 'c {
        let mut next_common = common.dimensions.iter().peekable();
        self.dimensions.iter().filter(move |d| {
            let is_common = next_common.peek() == Some(d);
            if is_common {
                next_common.next();
            }
            !is_common
        })
    }
}

impl WriteCall<'_> {
    /// Bytes Timestream bills for this call, by its metering rule: per record 8 bytes
    /// of time, the dimension names and values, the measure name and 8 bytes for a
    /// DOUBLE value (its size, not the length of its text), with common attributes
    /// counted once.
    pub fn billed_bytes(&self) -> usize {
        let label_bytes = |l: &Label<'_>| l.name.len() + l.value.len();
        let common = &self.common;
        let common_bytes: usize = common.dimensions.iter().map(label_bytes).sum();
        let mut bytes = common_bytes;
        bytes += common.measure.map_or(0, str::len);
        bytes += common.time_ms.map_or(0, |_| limits::TIME_BYTES);
        for record in &self.records {
            // Every record holds the common dimensions: subtracting them is exact.
            bytes += record.dimensions.iter().map(label_bytes).sum::<usize>() - common_bytes;

            bytes += common.measure.map_or(record.measure.len(), |_| 0);
            bytes += common.time_ms.map_or(limits::TIME_BYTES, |_| 0);
            bytes += match (record.histogram, record.multi) {
                (Some(histogram), _) => histogram.metered_bytes(),
                (None, Some(measures)) => multi::metered_bytes(measures),
                (None, None) => limits::DOUBLE_BYTES,
            };
            bytes += record.exemplar.map_or(0, exemplars::Stored::extra_bytes);
        }
        bytes
    }

    /// Whether the call's records are native histograms (all or none are).
    pub fn is_histograms(&self) -> bool {
        self.records.first().is_some_and(|r| r.histogram.is_some())
    }

    /// Whether the call's records are multi-measure records of float samples (all or
    /// none are).
    pub fn is_multi(&self) -> bool {
        self.records.first().is_some_and(|r| r.multi.is_some())
    }

    /// Whether the call's records are multi-measure (histograms or [`multi`] records).
    pub fn is_multi_measure(&self) -> bool {
        self.is_histograms() || self.is_multi()
    }

    /// Whether the call's records are exemplars (all or none are).
    pub fn is_exemplars(&self) -> bool {
        self.records.first().is_some_and(|r| r.exemplar.is_some())
    }

    /// Billed write units (1 KiB each, rounded up per request).
    pub fn billed_units(&self) -> usize {
        self.billed_bytes().div_ceil(BILLED_WRITE_UNIT_BYTES)
    }
}

/// Splits `plan` into calls: series ordered by destination, target and measure name,
/// then cut where Timestream bills least ([`super::packing`]).
pub fn calls<'p>(plan: &'p Plan<'_>) -> Vec<WriteCall<'p>> {
    // Integers, not label lists, are compared while sorting: the keys are computed once
    // per series. The sort is stable, so a series' samples stay in order.
    let mut order: Vec<(u32, u64, u64, &PlannedSeries<'_>)> = plan
        .series
        .iter()
        .map(|s| {
            let dimensions = plan.dimensions_of(s);
            (s.destination, target_key(dimensions), fx(s.measure), s)
        })
        .collect();
    order.sort_by_key(|&(destination, target, measure, _)| (destination, target, measure));

    let costed = costed(plan, &order);
    let ends = packing::cut(&costed);
    let mut calls = Vec::with_capacity(ends.len());
    let mut records = order.iter().flat_map(|&(_, _, _, series)| {
        let dimensions = plan.dimensions_of(series);
        plan.samples_of(series).iter().map(move |sample| Record {
            source: series.source,
            measure: series.measure,
            dimensions,
            sample: *sample,
            histogram: None,
            exemplar: None,
            multi: None,
        })
    });
    let mut start = 0;
    for end in ends {
        let mut call = WriteCall {
            // A call is one segment, and a segment is one destination.
            destination: plan.destinations[costed[start].segment as usize],
            common: Common::default(),
            // Sized: a flattened iterator cannot say its length, and growing costs
            // several allocations per call.
            records: Vec::with_capacity(end - start),
        };
        call.records.extend(records.by_ref().take(end - start));
        calls.push(with_common(call));
        start = end;
    }
    side_calls(
        plan,
        &plan.histogram_series,
        &mut calls,
        |series, dimensions| {
            plan.histograms_of(series).iter().map(move |stored| Record {
                source: series.source,
                measure: series.measure,
                dimensions,
                sample: Sample {
                    value: 0.0,
                    timestamp_ms: stored.timestamp_ms,
                },
                histogram: Some(stored),
                exemplar: None,
                multi: None,
            })
        },
    );
    side_calls(
        plan,
        &plan.exemplar_series,
        &mut calls,
        |series, dimensions| {
            plan.exemplars_of(series).iter().map(move |stored| Record {
                source: series.source,
                measure: series.measure,
                dimensions,
                sample: Sample {
                    value: stored.value,
                    timestamp_ms: stored.timestamp_ms,
                },
                histogram: None,
                exemplar: Some(stored),
                multi: None,
            })
        },
    );
    side_calls(
        plan,
        &plan.multi_series,
        &mut calls,
        |series, dimensions| {
            plan.multi_of(series).iter().map(move |stored| Record {
                source: series.source,
                measure: &stored.name,
                dimensions,
                sample: Sample {
                    value: 0.0,
                    timestamp_ms: stored.timestamp_ms,
                },
                histogram: None,
                exemplar: None,
                multi: Some(plan.measures_of(stored)),
            })
        },
    );
    calls
}

/// Appends the calls of records of `series` (native histograms, exemplars,
/// multi-measure records), which `records` makes: by destination and target, 100
/// records a call. These records are few (or, multi-measure, large) beside single
/// float samples: the rounding of each call to whole KiB matters little to them.
fn side_calls<'p, I>(
    plan: &'p Plan<'_>,
    series: &'p [PlannedSeries<'_>],
    calls: &mut Vec<WriteCall<'p>>,
    records: impl Fn(&'p PlannedSeries<'_>, &'p [Label<'p>]) -> I,
) where
    I: Iterator<Item = Record<'p>>,
{
    let mut order: Vec<&PlannedSeries<'_>> = series.iter().collect();
    order.sort_by_key(|s| (s.destination, target_key(plan.dimensions_of(s))));
    for segment in order.chunk_by(|a, b| a.destination == b.destination) {
        let destination = plan.destinations[segment[0].destination as usize];
        let all: Vec<Record<'p>> = segment
            .iter()
            .flat_map(|series| records(series, plan.dimensions_of(series)))
            .collect();
        push_chunked(destination, &all, calls);
    }
}

/// Appends calls of `records`, all to `destination`: 100 records a call, with what they
/// share in CommonAttributes.
fn push_chunked<'p>(
    destination: Destination<'p>,
    records: &[Record<'p>],
    calls: &mut Vec<WriteCall<'p>>,
) {
    for chunk in records.chunks(MAX_RECORDS_PER_CALL) {
        calls.push(with_common(WriteCall {
            destination,
            common: Common::default(),
            records: chunk.to_vec(),
        }));
    }
}

/// Calls of single-measure `records`, each with its destination: by destination, 100
/// records a call, with what they share in CommonAttributes.
pub fn single_calls<'p>(records: &[(Destination<'p>, Record<'p>)]) -> Vec<WriteCall<'p>> {
    let mut order: Vec<&(Destination<'p>, Record<'p>)> = records.iter().collect();
    order.sort_by_key(|(destination, _)| *destination);
    let mut calls = Vec::new();
    for segment in order.chunk_by(|a, b| a.0 == b.0) {
        let records: Vec<Record<'p>> = segment.iter().map(|(_, record)| *record).collect();
        push_chunked(segment[0].0, &records, &mut calls);
    }
    calls
}

/// What the cut needs of each record, in `order`.
fn costed<'a>(
    plan: &Plan<'a>,
    order: &[(u32, u64, u64, &PlannedSeries<'a>)],
) -> Vec<packing::Costed> {
    let label_bytes = |labels: &[Label<'_>]| -> u32 {
        labels
            .iter()
            .map(|l| (l.name.len() + l.value.len()) as u32)
            .sum()
    };
    let mut costed = Vec::with_capacity(plan.record_count());
    // Runs of one destination (a segment), and within them of one target: the bytes of
    // the dimensions all their series share, counted once a run.
    let mut target_id = 0;
    for segment in order.chunk_by(|a, b| a.0 == b.0) {
        let segment_base = shared_bytes(plan, segment);
        for group in segment.chunk_by(|a, b| a.1 == b.1) {
            let target_base = shared_bytes(plan, group);
            target_id += 1;
            for &(destination, _, measure, series) in group {
                let own = label_bytes(plan.dimensions_of(series));
                for sample in plan.samples_of(series) {
                    costed.push(packing::Costed {
                        segment: destination,
                        target: target_id,
                        own_in_target: own - target_base,
                        own_in_segment: own - segment_base,
                        target_base,
                        segment_base,
                        measure: measure as u32,
                        measure_len: series.measure.len() as u32,
                        time_ms: sample.timestamp_ms,
                    });
                }
            }
        }
    }
    costed
}

/// Bytes of the dimensions every series of `group` has (counted, not collected: a
/// request may have hundreds of targets).
fn shared_bytes<'a>(plan: &Plan<'a>, group: &[(u32, u64, u64, &PlannedSeries<'a>)]) -> u32 {
    let Some((.., first)) = group.first() else {
        return 0;
    };
    plan.dimensions_of(first)
        .iter()
        .filter(|d| {
            group[1..]
                .iter()
                .all(|(.., series)| plan.dimensions_of(series).contains(d))
        })
        .map(|l| (l.name.len() + l.value.len()) as u32)
        .sum()
}

fn fx(text: &str) -> u64 {
    let mut hasher = rustc_hash::FxHasher::default();
    text.hash(&mut hasher);
    hasher.finish()
}

/// Labels that name the target a series was scraped from: every series of a target
/// has them, so grouping by them puts series with shared dimensions in one call.
const TARGET_LABELS: [&str; 2] = ["instance", "job"];

/// A hash of the series' target labels. FxHash: not DoS-resistant, which does not
/// matter for an ordering, and it hashes a word at a time.
fn target_key(dimensions: &[Label<'_>]) -> u64 {
    let mut hasher = rustc_hash::FxHasher::default();
    for label in dimensions
        .iter()
        .filter(|l| TARGET_LABELS.contains(&l.name))
    {
        label.hash(&mut hasher);
    }
    hasher.finish()
}

/// Finds what all records of `call` share.
fn with_common(mut call: WriteCall<'_>) -> WriteCall<'_> {
    let first = call.records[0];
    let mut common = Common {
        dimensions: first.dimensions.to_vec(),
        measure: Some(first.measure),
        time_ms: Some(first.sample.timestamp_ms),
    };
    let mut previous = first.dimensions;
    for record in &call.records[1..] {
        // Records of one series are adjacent and share a slice: intersect once a series.
        if !std::ptr::eq(record.dimensions, previous) {
            common.dimensions.retain(|d| record.dimensions.contains(d));
            previous = record.dimensions;
        }
        if common.measure != Some(record.measure) {
            common.measure = None;
        }
        if common.time_ms != Some(record.sample.timestamp_ms) {
            common.time_ms = None;
        }
    }
    call.common = common;
    call
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod billing;
