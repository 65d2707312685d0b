//! What the Pushgateway keeps of a pushed body, shared by [`super::text`] and
//! [`super::protobuf`]: metric types, the consistency checks it runs on every push
//! (client_golang 1.14's `Gatherers.Gather`, called from the Pushgateway's
//! `checkWriteRequest`), and how it re-exposes summaries and histograms as samples
//! (prometheus/common 0.37's `MetricFamilyToText`).
//!
//! Not done here: the checks that involve other pushes or the Pushgateway's own metrics
//! (help strings and types across groups, collisions with `go_*` or `pushgateway_*`).

use std::borrow::Cow;
use std::collections::hash_map::{Entry, HashMap, RandomState};
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};
use std::ops::Range;

use super::{go_float, Exposition, PushedLabel, PushedSample};
use crate::series::shown;

/// A metric family's type (`io.prometheus.client.MetricType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Counter,
    Gauge,
    Summary,
    Untyped,
    Histogram,
    /// Known to the text parser and the protobuf model, but not to the text writer of
    /// the Pushgateway 1.5.1: it accepts such a push, then fails every scrape. Refused.
    GaugeHistogram,
}

impl Kind {
    pub(super) fn name(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Summary => "summary",
            Kind::Untyped => "untyped",
            Kind::Histogram => "histogram",
            Kind::GaugeHistogram => "gauge_histogram",
        }
    }
}

/// Why a gauge histogram is refused (see [`Kind::GaugeHistogram`]).
pub(super) fn gauge_histogram_refused(family: &str) -> String {
    format!("metric family {family:?} is a gauge_histogram, which the Pushgateway cannot expose")
}

/// Whether client_golang's consistency check accepts a label name: a valid name not
/// starting with `__` (expfmt itself only refuses `__name__`).
pub(super) fn consistent_label_name(name: &str) -> bool {
    super::valid_label_name(name) && !name.starts_with("__")
}

pub(super) fn reserved_label_message(family: &str, label: &str) -> String {
    format!("metric {family:?} has a label with an invalid name: {label:?} (names starting with \"__\" are reserved)")
}

/// The name a summary or histogram `family` must not share with another family that has
/// samples (client_golang's `checkSuffixCollisions`, symmetric as seen from the summary
/// or histogram): `_count` and `_sum`, and `_bucket` for a histogram.
pub(super) fn colliding_names(family: &str, kind: Kind) -> impl Iterator<Item = String> + '_ {
    let suffixes: &[&str] = match kind {
        Kind::Summary => &["_count", "_sum"],
        Kind::Histogram => &["_count", "_sum", "_bucket"],
        _ => &[],
    };
    suffixes
        .iter()
        .map(move |suffix| format!("{family}{suffix}"))
}

pub(super) fn collision_message(family: &str, kind: Kind, other: &str) -> String {
    format!(
        "{} {family:?} collides with metric {other:?}, a name its own samples take",
        kind.name()
    )
}

/// `name{a="x",b="y"}`, for messages.
pub(super) fn describe(name: &str, labels: &[PushedLabel<'_>]) -> String {
    let labels: Vec<String> = labels
        .iter()
        .map(|l| format!("{}={:?}", shown(&l.name), shown(&l.value)))
        .collect();
    format!("{}{{{}}}", shown(name), labels.join(","))
}

pub(super) fn duplicate_message(name: &str, labels: &[PushedLabel<'_>]) -> String {
    format!(
        "{} is the same series as an earlier sample",
        describe(name, labels)
    )
}

/// The series of a body seen so far, to refuse the same one twice. A series is its family
/// and its set of labels (`checkMetricConsistency` hashes the family name and the sorted
/// labels); with `instance_rule`, a missing `instance` equals `instance=""`, because the
/// Pushgateway's `sanitizeLabels` gives every metric without one an empty one before the
/// check. Other empty labels stay distinct from missing ones, as in the Pushgateway.
///
/// Keys are sums of keyed SipHashes of (name, value), so label order does not matter and
/// a body cannot be built to collide; a hit is confirmed by comparing the labels.
pub(super) struct SeriesSet {
    keys: RandomState,
    seen: HashMap<u64, u32, BuildHasherDefault<PassThrough>>,
    instance_rule: bool,
}

impl SeriesSet {
    pub(super) fn new(instance_rule: bool) -> Self {
        SeriesSet {
            keys: RandomState::new(),
            seen: HashMap::default(),
            instance_rule,
        }
    }

    pub(super) fn clear(&mut self) {
        self.seen.clear();
    }

    /// The key of `family` with `labels` (names unique).
    pub(super) fn key(&self, family: &str, labels: &[PushedLabel<'_>]) -> u64 {
        let mut hasher = self.keys.build_hasher();
        hasher.write(family.as_bytes());
        hasher.write_u8(0xfe);
        let mut key = hasher.finish();
        for label in labels.iter().filter(|l| !ignored(l, self.instance_rule)) {
            let mut hasher = self.keys.build_hasher();
            hasher.write(label.name.as_bytes());
            hasher.write_u8(0xff); // never in UTF-8: name and value cannot run together
            hasher.write(label.value.as_bytes());
            key = key.wrapping_add(hasher.finish());
        }
        key
    }

    /// Records series `id` under `key`, or returns the id of the series recorded before
    /// for which `same` is true.
    pub(super) fn insert(
        &mut self,
        mut key: u64,
        id: u32,
        same: impl Fn(u32) -> bool,
    ) -> Result<(), u32> {
        loop {
            match self.seen.entry(key) {
                Entry::Vacant(slot) => {
                    slot.insert(id);
                    return Ok(());
                }
                Entry::Occupied(slot) if same(*slot.get()) => return Err(*slot.get()),
                // Another series with the same key: probe the next one.
                Entry::Occupied(_) => key = key.wrapping_add(0x9e37_79b9_7f4a_7c15),
            }
        }
    }
}

/// Whether two label sets (names unique in each) are the labels of the same series; see
/// [`SeriesSet`] for `instance_rule`.
pub(super) fn same_labels(
    a: &[PushedLabel<'_>],
    b: &[PushedLabel<'_>],
    instance_rule: bool,
) -> bool {
    if a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y) {
        return true;
    }
    let kept =
        |labels: &[PushedLabel<'_>]| labels.iter().filter(|l| !ignored(l, instance_rule)).count();
    kept(a) == kept(b)
        && a.iter()
            .filter(|l| !ignored(l, instance_rule))
            .all(|x| b.iter().any(|y| x.name == y.name && x.value == y.value))
}

fn ignored(label: &PushedLabel<'_>, instance_rule: bool) -> bool {
    instance_rule && label.value.is_empty() && label.name == "instance"
}

/// A hasher for keys that are hashes already.
#[derive(Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }
}

/// The text of `le` and `quantile` values, formatted once per distinct bound and borrowed
/// from the body when the body already wrote it as Go does.
#[derive(Default)]
pub(super) struct BoundTexts<'a> {
    texts: HashMap<u64, Cow<'a, str>>,
}

impl<'a> BoundTexts<'a> {
    pub(super) fn text(&mut self, bound: f64, written: Option<&'a str>) -> Cow<'a, str> {
        self.texts
            .entry(bound.to_bits())
            .or_insert_with(|| {
                let text = go_float(bound);
                match written {
                    Some(written) if written == text => Cow::Borrowed(written),
                    _ => Cow::Owned(text),
                }
            })
            .clone()
    }
}

/// The names of a summary's or histogram's samples.
pub(super) struct SampleNames<'a> {
    pub base: Cow<'a, str>,
    pub bucket: Cow<'a, str>,
    pub sum: Cow<'a, str>,
    pub count: Cow<'a, str>,
}

/// Appends one sample with `labels` and then `extra`; returns its label range.
pub(super) fn push_sample<'a>(
    out: &mut Exposition<'a>,
    name: Cow<'a, str>,
    labels: &[PushedLabel<'a>],
    extra: Option<PushedLabel<'a>>,
    value: f64,
    timestamp_ms: Option<i64>,
) -> Range<u32> {
    let start = out.labels.len() as u32;
    out.labels.extend_from_slice(labels);
    out.labels.extend(extra);
    let range = start..out.labels.len() as u32;
    out.samples.push(PushedSample {
        name,
        labels: range.clone(),
        value,
        timestamp_ms,
    });
    range
}

fn bound_label<'a>(name: &'static str, text: Cow<'a, str>) -> Option<PushedLabel<'a>> {
    Some(PushedLabel {
        name: Cow::Borrowed(name),
        value: text,
    })
}

/// A summary as the Pushgateway exposes it: one sample per quantile (in the order
/// given), then `_sum` and `_count` (0 when the push gave none). Returns the label
/// range of `_sum`, which is the metric's own labels.
pub(super) fn push_summary<'a>(
    out: &mut Exposition<'a>,
    names: &SampleNames<'a>,
    labels: &[PushedLabel<'a>],
    quantiles: impl IntoIterator<Item = (Cow<'a, str>, f64)>,
    (sum, count): (f64, u64),
    timestamp_ms: Option<i64>,
) -> Range<u32> {
    for (quantile, value) in quantiles {
        let extra = bound_label("quantile", quantile);
        push_sample(out, names.base.clone(), labels, extra, value, timestamp_ms);
    }
    push_sum_and_count(out, names, labels, (sum, count), timestamp_ms)
}

/// The `_sum` and `_count` samples that close a summary or a histogram; the range of
/// the labels they were given.
fn push_sum_and_count<'a>(
    out: &mut Exposition<'a>,
    names: &SampleNames<'a>,
    labels: &[PushedLabel<'a>],
    (sum, count): (f64, u64),
    timestamp_ms: Option<i64>,
) -> Range<u32> {
    let own = push_sample(out, names.sum.clone(), labels, None, sum, timestamp_ms);
    push_sample(
        out,
        names.count.clone(),
        labels,
        None,
        count as f64,
        timestamp_ms,
    );
    own
}

/// A histogram as the Pushgateway exposes it: its `_bucket` samples in the order given,
/// plus `le="+Inf"` with the sample count when no bucket had that bound, then `_sum`
/// and `_count`. Buckets are (bound, its text, cumulative count as the value exposed).
pub(super) fn push_histogram<'a>(
    out: &mut Exposition<'a>,
    names: &SampleNames<'a>,
    labels: &[PushedLabel<'a>],
    buckets: impl IntoIterator<Item = (f64, Cow<'a, str>, f64)>,
    (sum, count): (f64, u64),
    timestamp_ms: Option<i64>,
) -> Range<u32> {
    let mut infinite = false;
    for (bound, text, cumulative) in buckets {
        infinite |= bound == f64::INFINITY;
        let extra = bound_label("le", text);
        push_sample(
            out,
            names.bucket.clone(),
            labels,
            extra,
            cumulative,
            timestamp_ms,
        );
    }
    if !infinite {
        let extra = bound_label("le", Cow::Borrowed("+Inf"));
        push_sample(
            out,
            names.bucket.clone(),
            labels,
            extra,
            count as f64,
            timestamp_ms,
        );
    }
    push_sum_and_count(out, names, labels, (sum, count), timestamp_ms)
}
