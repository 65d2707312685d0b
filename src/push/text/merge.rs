//! Summaries and histograms in the text format. expfmt folds the lines of a summary or
//! histogram that have the same labels (`quantile` or `le` aside) into one metric:
//! quantiles or buckets in body order, the last `_sum`, the last `_count`, the last
//! timestamp. The Pushgateway exposes that metric, so it is what is returned: quantiles,
//! buckets (plus `+Inf` when missing), `_sum` and `_count`, all with its timestamp.

use std::borrow::Cow;
use std::ops::Range;

use super::{Family, Role};
use crate::push::family::{self, same_labels, BoundTexts, Kind, SampleNames, SeriesSet};
use crate::push::{Exposition, PushedLabel};

/// The summary and histogram metrics of a body.
pub(super) struct Metrics<'a> {
    metrics: Vec<Metric>,
    /// The metrics' labels, each metric a range.
    labels: Vec<PushedLabel<'a>>,
    /// Metrics by exact labels (expfmt's merge), and as series (the consistency check).
    index: SeriesSet,
    series: SeriesSet,
    last: Option<u32>,
    points: Vec<Point<'a>>,
    bounds: BoundTexts<'a>,
}

struct Metric {
    family: u32,
    labels: Range<usize>,
    sum: f64,
    count: u64,
    timestamp_ms: Option<i64>,
}

/// A quantile or bucket of a metric.
struct Point<'a> {
    metric: u32,
    bound: f64,
    text: Cow<'a, str>,
    value: f64,
}

/// One line of a summary or histogram family.
pub(super) struct Line<'a> {
    pub family: u32,
    pub kind: Kind,
    pub role: Role,
    /// The `quantile` or `le` value (NaN if none), and its text when it can be borrowed.
    pub bound: (f64, Option<&'a str>),
    pub value: f64,
    pub timestamp_ms: Option<i64>,
}

impl<'a> Metrics<'a> {
    pub fn new() -> Self {
        Metrics {
            metrics: Vec::new(),
            labels: Vec::new(),
            index: SeriesSet::new(false),
            series: SeriesSet::new(true),
            last: None,
            points: Vec::new(),
            bounds: BoundTexts::default(),
        }
    }

    /// Adds a line whose labels are `labels[start..]`, which it takes. A line that starts
    /// a metric with the labels of another, as the Pushgateway sees them, gives the
    /// message that refuses the body.
    pub fn add(
        &mut self,
        line: Line<'a>,
        families: &[Family<'a>],
        labels: &mut Vec<PushedLabel<'a>>,
        start: usize,
    ) -> Result<(), String> {
        let (id, duplicate) = self.metric(line.family, families, labels, start);
        let metric = &mut self.metrics[id as usize];
        match line.role {
            Role::Count => metric.count = go_uint64(line.value),
            Role::Sum => metric.sum = line.value,
            _ if line.bound.0.is_nan() => {}
            _ => self.points.push(Point {
                metric: id,
                bound: line.bound.0,
                text: self.bounds.text(line.bound.0, line.bound.1),
                value: match line.kind {
                    Kind::Histogram => go_uint64(line.value) as f64,
                    _ => line.value,
                },
            }),
        }
        if line.timestamp_ms.is_some() {
            metric.timestamp_ms = line.timestamp_ms;
        }
        duplicate.map_or(Ok(()), Err)
    }

    /// The metric of `family` with `labels[start..]`, created if need be, and whether a
    /// new one is a series seen before.
    fn metric(
        &mut self,
        family: u32,
        families: &[Family<'a>],
        labels: &mut Vec<PushedLabel<'a>>,
        start: usize,
    ) -> (u32, Option<String>) {
        let name = families[family as usize].name;
        let line = &labels[start..];
        let (metrics, known) = (&self.metrics, &self.labels);
        let same = |other: u32| {
            let metric = &metrics[other as usize];
            metric.family == family && same_labels(&known[metric.labels.clone()], line, false)
        };
        // A metric's lines mostly come together: its buckets, its sum, its count.
        let found = match self.last {
            Some(last) if same(last) => Err(last),
            _ => {
                let key = self.index.key(name, line);
                self.index.insert(key, metrics.len() as u32, same)
            }
        };
        if let Err(existing) = found {
            labels.truncate(start);
            self.last = Some(existing);
            return (existing, None);
        }
        let id = self.metrics.len() as u32;
        let from = self.labels.len();
        self.labels.extend(labels.drain(start..));
        self.metrics.push(Metric {
            family,
            labels: from..self.labels.len(),
            sum: 0.0,
            count: 0,
            timestamp_ms: None,
        });
        self.last = Some(id);
        let (metrics, known) = (&self.metrics, &self.labels);
        let mine = &known[from..];
        let same = |other: u32| {
            let metric = &metrics[other as usize];
            metric.family == family && same_labels(&known[metric.labels.clone()], mine, true)
        };
        let key = self.series.key(name, mine);
        let duplicate = self.series.insert(key, id, same).is_err();
        (id, duplicate.then(|| family::duplicate_message(name, mine)))
    }

    /// Appends the samples of every metric to `out`, metric after metric.
    pub fn expose(mut self, out: &mut Exposition<'a>, families: &[Family<'a>]) {
        self.points.sort_by_key(|p| p.metric); // stable: buckets stay in body order
        let mut points = self.points.into_iter().peekable();
        let mut names: Vec<Option<SampleNames<'a>>> = families.iter().map(|_| None).collect();
        for (id, metric) in self.metrics.iter().enumerate() {
            let family = &families[metric.family as usize];
            let names = names[metric.family as usize].get_or_insert_with(|| sample_names(family));
            let labels = &self.labels[metric.labels.clone()];
            let mine = std::iter::from_fn(|| points.next_if(|p| p.metric as usize == id));
            let totals = (metric.sum, metric.count);
            let timestamp_ms = metric.timestamp_ms;
            if family.kind == Some(Kind::Summary) {
                let quantiles = mine.map(|p| (p.text, p.value));
                family::push_summary(out, names, labels, quantiles, totals, timestamp_ms);
            } else {
                let buckets = mine.map(|p| (p.bound, p.text, p.value));
                family::push_histogram(out, names, labels, buckets, totals, timestamp_ms);
            }
        }
    }
}

/// A family's sample names, borrowed from the body where it wrote them.
fn sample_names<'a>(family: &Family<'a>) -> SampleNames<'a> {
    let name = |role: Role, suffix: &str| match family.suffixed[role as usize - 1] {
        Some(written) => Cow::Borrowed(written),
        None => Cow::Owned(format!("{}{suffix}", family.name)),
    };
    SampleNames {
        base: Cow::Borrowed(family.name),
        bucket: name(Role::Bucket, "_bucket"),
        sum: name(Role::Sum, "_sum"),
        count: name(Role::Count, "_count"),
    }
}

/// Go's `uint64(v)` as compiled for amd64, which is how the Pushgateway stores counts:
/// truncated toward zero; a value it cannot represent gives what `CVTTSD2SQ` gives
/// (`1 << 63` for NaN, infinities and most values out of range; `-1` is `u64::MAX`).
pub(super) fn go_uint64(value: f64) -> u64 {
    const CUTOFF: f64 = 9_223_372_036_854_775_808.0; // 2^63
    fn cvttsd2sq(value: f64) -> i64 {
        if (-CUTOFF..CUTOFF).contains(&value) {
            value as i64
        } else {
            i64::MIN // NaN included
        }
    }
    if value < CUTOFF {
        cvttsd2sq(value) as u64
    } else {
        (cvttsd2sq(value - CUTOFF) as u64) | (1 << 63)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_convert_as_go_converts_them_on_amd64() {
        for (value, expected) in [
            (0.0, 0),
            (3.99, 3),
            (-0.5, 0),
            (-1.0, u64::MAX),
            (1e19, 10_000_000_000_000_000_000),
            (f64::NAN, 1 << 63),
            (f64::INFINITY, 1 << 63),
            (f64::NEG_INFINITY, 1 << 63),
            (1e30, 1 << 63),
            (-1e30, 1 << 63),
        ] {
            assert_eq!(go_uint64(value), expected, "{value}");
        }
    }
}
