//! The multi-measure form of float samples (`--record-mode=multi`).
//!
//! Series of one request that have the same dimensions and a sample at the same time
//! (a target's gauges without labels of their own, say) are written as one
//! multi-measure record instead of one record each:
//!
//! | column | holds |
//! |---|---|
//! | `measure_name` | `__metrics__` followed by the name of its first metric (in byte order) |
//! | the series' labels | as for single-measure records |
//! | one DOUBLE measure per metric, named after it | the sample's value |
//! | `time` | the samples' time |
//!
//! Prometheus sends one scrape's samples in several requests. Each request's record of
//! a target and time holds other metrics, so each has a measure name of its own: their
//! first metrics differ. An identical resend writes identical records (Timestream takes
//! it as done). Samples sent again in other company, after Prometheus restarts, may make
//! a record of the same target, time and first metric with other measures: Timestream
//! refuses it as conflicting with the stored one, and the writer then writes its
//! samples as single-measure records ([`super::writer`]). A sample stored twice so
//! reads back once, with the multi-measure record's value: the first one written. (A
//! value that changed is then acknowledged, where single mode answers 400, and not
//! read back.)
//!
//! Reads give these samples back as the series they came from, exactly as the
//! single-measure form ([`super::sql`] reads both forms of a table in one query), so a
//! table may hold both, and a series may move between them from one request to the next.
//!
//! What stays a single-measure record:
//! - a sample that shares its dimensions and time with no other metric;
//! - every sample of a series at a time it has more than once in the request: as
//!   single-measure records, Timestream keeps the first value and rejects another, as
//!   it does without this form;
//! - the stored form of non-finite values ([`super::nonfinite`]);
//! - a metric whose name could not be a column (`time`, `measure_value…`, `ts_…`, with
//!   a colon, or starting with `__`, which Prometheus keeps for itself).
//!
//! A record holds at most 2 KiB (and 256 measures, which 2 KiB reaches first); a larger
//! group is split.
//!
//! Limits of this form, which is why it is opt-in:
//! - Every metric name becomes a column of the table, which counts toward Timestream's
//!   limit on a table's measure names (8,192), and a dimension may not share a
//!   measure's name.
//! - A read scans the table twice, once for each form ([`super::sql`]), and names
//!   every metric it selects in its statement: all of the table's for a selector that
//!   names none (`{job="node"}`).
//! - A sample can be stored twice (above): its table holds more than its samples.
//!
//! Pure: a plan in, the same plan with groups moved to multi-measure records out.

use super::nonfinite;
use super::quota::{is_reserved_dimension, limits};
use super::records::{Plan, PlannedSeries};
use crate::series::{Label, Sample};

/// The start of the measure name of every multi-measure record of float samples.
pub const MEASURE: &str = "__metrics__";

/// Timestream's limit on measures in one multi-measure record.
pub const MAX_MEASURES: usize = 256;

/// One measure of a multi-measure record: a series' sample.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measure<'a> {
    /// The metric name.
    pub name: &'a str,
    pub value: f64,
    /// The series' index in the batch it came from.
    pub source: u32,
}

/// A multi-measure record: its measure name, its time, and a range of
/// [`Plan::measures`].
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    pub name: String,
    pub timestamp_ms: i64,
    pub measures: std::ops::Range<u32>,
}

/// Bytes Timestream meters for a record's measures: each name and 8 bytes of DOUBLE.
pub fn metered_bytes(measures: &[Measure<'_>]) -> usize {
    measures
        .iter()
        .map(|m| m.name.len() + limits::DOUBLE_BYTES)
        .sum()
}

/// Whether a metric can be a measure of a multi-measure record.
fn can_be_column(name: &str) -> bool {
    // Colons (recording rules' names) are kept out: Timestream refuses them in
    // dimension names, and a refused measure would take its record's others with it.
    !name.starts_with("__")
        && !name.contains(':')
        && !is_reserved_dimension(name)
        && MEASURE.len() + name.len() <= limits::MAX_MEASURE_NAME_BYTES
}

/// Moves the float samples of `plan` that share dimensions and time with another
/// metric into multi-measure records ([`Plan::multi_series`]).
pub fn merge<'a>(plan: &mut Plan<'a>) {
    // (destination, hash of dimensions, time, series, sample): sorted, a group's keys
    // are adjacent.
    let mut keys: Vec<(u32, u64, i64, u32, u32)> = Vec::with_capacity(plan.samples.len());
    for (i, series) in plan.series.iter().enumerate() {
        let dimensions = plan.dimensions_of(series);
        if !can_be_column(series.measure)
            || dimensions.iter().any(|d| d.name == nonfinite::DIMENSION)
        {
            continue;
        }
        let hash = hash(dimensions);
        for (k, sample) in plan.samples_of(series).iter().enumerate() {
            keys.push((
                series.destination,
                hash,
                sample.timestamp_ms,
                i as u32,
                series.samples.start + k as u32,
            ));
        }
    }
    let measure_of = |key: &(u32, u64, i64, u32, u32)| plan.series[key.3 as usize].measure;
    // Integers first: a sort by name is only needed within each (small) group.
    keys.sort_unstable();

    let mut merged = vec![false; plan.samples.len()];
    let same_group = |a: &(u32, u64, i64, u32, u32), b: &(u32, u64, i64, u32, u32)| {
        (a.0, a.1, a.2) == (b.0, b.1, b.2)
            && plan.dimensions_of(&plan.series[a.3 as usize])
                == plan.dimensions_of(&plan.series[b.3 as usize])
    };
    let mut pieces: Vec<(PlannedSeries<'a>, Stored)> = Vec::new();
    let mut measures: Vec<Measure<'a>> = Vec::new();
    // The keys, by index in their group, of the record being filled.
    let mut piece: Vec<usize> = Vec::new();
    for group in keys.chunk_by_mut(same_group) {
        if group.len() < 2 {
            continue;
        }
        // Metric names in byte order: a record is named after its first.
        group.sort_unstable_by(|a, b| measure_of(a).cmp(measure_of(b)).then(a.4.cmp(&b.4)));
        let group = &*group;
        let first = &plan.series[group[0].3 as usize];
        let dimensions = plan.dimensions_of(first);
        // Without the record's measure name, which depends on its first metric.
        let base = limits::TIME_BYTES
            + MEASURE.len()
            + dimensions
                .iter()
                .map(|d| d.name.len() + d.value.len())
                .sum::<usize>();
        let mut bytes = base;
        let mut close = |piece: &mut Vec<usize>, measures: &mut Vec<Measure<'a>>| {
            if piece.len() >= 2 {
                let start = measures.len() as u32;
                for &k in piece.iter() {
                    let (.., series, sample) = group[k];
                    merged[sample as usize] = true;
                    let series = &plan.series[series as usize];
                    measures.push(Measure {
                        name: series.measure,
                        value: plan.samples[sample as usize].value,
                        source: series.source,
                    });
                }
                pieces.push((
                    PlannedSeries {
                        measure: MEASURE,
                        samples: 0..0,
                        ..first.clone()
                    },
                    Stored {
                        name: format!("{MEASURE}{}", measures[start as usize].name),
                        timestamp_ms: group[0].2,
                        measures: start..measures.len() as u32,
                    },
                ));
            }
            piece.clear();
        };
        let mut k = 0;
        for run in group.chunk_by(|a, b| measure_of(a) == measure_of(b)) {
            let at = k;
            k += run.len();
            // A series with more than one sample at this time keeps them all as
            // single-measure records: a record cannot hold one measure twice, and
            // Timestream then judges them as it would without this form (the same
            // value again is harmless, another one is rejected).
            if run.len() > 1 {
                continue;
            }
            let name = measure_of(&run[0]);
            // The first metric's name is in the record's measure name too.
            let size = |piece: &Vec<usize>| {
                name.len() + limits::DOUBLE_BYTES + if piece.is_empty() { name.len() } else { 0 }
            };
            if piece.len() == MAX_MEASURES || bytes + size(&piece) > limits::MAX_RECORD_BYTES {
                close(&mut piece, &mut measures);
                bytes = base;
            }
            bytes += size(&piece);
            piece.push(at);
        }
        close(&mut piece, &mut measures);
    }
    let any = !pieces.is_empty();
    for (mut series, stored) in pieces {
        let at = plan.multi.len() as u32;
        series.samples = at..at + 1;
        plan.multi.push(stored);
        plan.multi_series.push(series);
    }
    plan.measures = measures;
    if any {
        keep_unmerged(plan, &merged);
    }
}

/// Drops the merged samples from the plan's single-measure series, and series left
/// without samples.
fn keep_unmerged(plan: &mut Plan<'_>, merged: &[bool]) {
    let mut samples: Vec<Sample> = Vec::with_capacity(plan.samples.len());
    let old = std::mem::take(&mut plan.samples);
    plan.series.retain_mut(|series| {
        let start = samples.len() as u32;
        for i in series.samples.clone() {
            if !merged[i as usize] {
                samples.push(old[i as usize]);
            }
        }
        series.samples = start..samples.len() as u32;
        !series.samples.is_empty()
    });
    plan.samples = samples;
}

fn hash(dimensions: &[Label<'_>]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = rustc_hash::FxHasher::default();
    dimensions.hash(&mut hasher);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::series::SeriesBatch;
    use crate::timestream::records::{plan, Routing, Strictness};

    fn routing() -> Routing {
        Routing {
            default_database: "db".into(),
            default_table: "tbl".into(),
            database_label: None,
            table_label: None,
        }
    }

    /// A series: its name, other labels and samples.
    type Written<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a [(i64, f64)]);
    /// A sample: its metric, time and value.
    type Content = (String, i64, f64);

    fn batch<'a>(series: &'a [Written<'a>]) -> SeriesBatch<'a> {
        let mut b = SeriesBatch::default();
        for (name, labels, samples) in series {
            let mut all = vec![Label {
                name: "__name__",
                value: name,
            }];
            all.extend(labels.iter().map(|&(name, value)| Label { name, value }));
            all.sort_by_key(|l| l.name);
            let samples: Vec<Sample> = samples
                .iter()
                .map(|&(timestamp_ms, value)| Sample {
                    value,
                    timestamp_ms,
                })
                .collect();
            b.push(&all, &samples);
        }
        b
    }

    /// (metric, time, value) of every single-measure sample, and of every measure.
    fn contents(p: &Plan<'_>) -> (Vec<Content>, Vec<Vec<Content>>) {
        let single = p
            .series
            .iter()
            .flat_map(|s| {
                p.samples_of(s)
                    .iter()
                    .map(|x| (s.measure.to_string(), x.timestamp_ms, x.value))
            })
            .collect();
        let multi = p
            .multi_series
            .iter()
            .flat_map(|s| p.multi_of(s))
            .map(|stored| {
                p.measures_of(stored)
                    .iter()
                    .map(|m| (m.name.to_string(), stored.timestamp_ms, m.value))
                    .collect()
            })
            .collect();
        (single, multi)
    }

    const TARGET: &[(&str, &str)] = &[("instance", "a:9100"), ("job", "node")];
    const CPU0: &[(&str, &str)] = &[("cpu", "0"), ("instance", "a:9100"), ("job", "node")];

    #[test]
    fn metrics_sharing_dimensions_and_time_become_one_record() {
        let b = batch(&[
            ("load5", TARGET, &[(10, 0.5)]),
            ("load1", TARGET, &[(10, 1.5), (20, 2.5)]),
            ("cpu_seconds", CPU0, &[(10, 7.0)]),
            ("up", TARGET, &[(10, 1.0)]),
        ]);
        let routing = routing();
        let mut p = plan(&b, &routing, Strictness::default()).unwrap();
        merge(&mut p);
        let (single, multi) = contents(&p);
        assert_eq!(
            single,
            [
                ("load1".to_string(), 20, 2.5),
                ("cpu_seconds".to_string(), 10, 7.0)
            ]
        );
        assert_eq!(
            multi,
            [vec![
                ("load1".to_string(), 10, 1.5),
                ("load5".to_string(), 10, 0.5),
                ("up".to_string(), 10, 1.0),
            ]]
        );
        let record = &p.multi_series[0];
        assert_eq!(record.measure, MEASURE);
        let dimensions: Vec<_> = p
            .dimensions_of(record)
            .iter()
            .map(|d| (d.name, d.value))
            .collect();
        assert_eq!(dimensions, TARGET);
        let sources: Vec<u32> = p.measures.iter().map(|m| m.source).collect();
        assert_eq!(sources, [1, 0, 3]);
        assert_eq!(p.record_count(), 3);
    }

    #[test]
    fn other_dimensions_other_times_and_repeats_stay_single() {
        let b = batch(&[
            ("a", TARGET, &[(10, 1.0)]),
            ("b", CPU0, &[(10, 2.0)]),
            ("c", TARGET, &[(11, 3.0)]),
            // The same series twice at one time: both single, as Timestream would
            // judge them without this form.
            ("d", TARGET, &[(20, 4.0)]),
            ("d", TARGET, &[(20, 5.0)]),
            ("e", TARGET, &[(20, 6.0)]),
            ("f", TARGET, &[(20, 6.5)]),
            // Names that cannot be columns.
            ("time", TARGET, &[(30, 7.0)]),
            ("ts_x", TARGET, &[(30, 8.0)]),
            ("job:up:sum", TARGET, &[(30, 9.0)]),
        ]);
        let routing = routing();
        let mut p = plan(&b, &routing, Strictness::default()).unwrap();
        merge(&mut p);
        let (mut single, multi) = contents(&p);
        single.sort_by(|a, b| a.partial_cmp(b).unwrap());
        let names: Vec<_> = single.iter().map(|s| s.0.as_str()).collect();
        assert_eq!(
            names,
            ["a", "b", "c", "d", "d", "job:up:sum", "time", "ts_x"]
        );
        assert_eq!(multi.len(), 1);
        let names: Vec<_> = multi[0].iter().map(|m| m.0.as_str()).collect();
        assert_eq!(names, ["e", "f"]);
    }

    #[test]
    fn non_finite_values_keep_their_stored_form() {
        let stale = [(10, f64::from_bits(crate::series::STALE_NAN_BITS))];
        let infinite = [(10, f64::INFINITY)];
        let series: [Written<'_>; 3] = [
            ("a", TARGET, &stale),
            ("b", TARGET, &infinite),
            ("c", TARGET, &[(10, 1.0)]),
        ];
        let b = batch(&series);
        let routing = routing();
        let strict = Strictness {
            store_non_finite: true,
            ..Strictness::default()
        };
        let mut p = plan(&b, &routing, strict).unwrap();
        let before = p.series.clone();
        merge(&mut p);
        assert_eq!(p.series, before);
        assert!(p.multi_series.is_empty());
    }

    #[test]
    fn a_record_holds_at_most_2_kib() {
        let names: Vec<String> = (0..300).map(|i| format!("m{i:03}")).collect();
        let series: Vec<Written<'_>> = names
            .iter()
            .map(|n| (n.as_str(), TARGET, &[(10, 1.0)][..]))
            .collect();
        let b = batch(&series);
        let routing = routing();
        let mut p = plan(&b, &routing, Strictness::default()).unwrap();
        merge(&mut p);
        let (single, multi) = contents(&p);
        // 12 bytes a measure: 2048 less the record's own 8 + 11 + 23 bytes holds 167.
        let sizes: Vec<usize> = multi.iter().map(Vec::len).collect();
        assert_eq!(sizes, [167, 133]);
        assert!(single.is_empty());
        for s in &p.multi_series {
            for stored in p.multi_of(s) {
                let bytes = limits::TIME_BYTES
                    + MEASURE.len()
                    + "instancea:9100jobnode".len()
                    + metered_bytes(p.measures_of(stored));
                assert!(bytes <= limits::MAX_RECORD_BYTES);
            }
        }

        assert!(sizes.iter().all(|&n| n <= MAX_MEASURES));
    }
}
