//! The delimited protobuf push format (`application/vnd.google.protobuf;
//! proto=io.prometheus.client.MetricFamily; encoding=delimited`): `MetricFamily`
//! messages, each after its length as a varint, read as the Pushgateway 1.5.1 reads them
//! (`pbutil.ReadDelimited`, then the checks of its `checkWriteRequest`, see
//! `push::family`) and turned into the samples its text exposition shows
//! (prometheus/common 0.37's `MetricFamilyToText`):
//! - counter, gauge, untyped: one sample with the value (0 if unset);
//! - summary: a sample per quantile, with `quantile` written as Go writes floats, then
//!   `_sum` and `_count`;
//! - histogram: a `_bucket` sample per bucket, as given (cumulative), with `le` written
//!   as Go writes floats, a `le="+Inf"` bucket valued as the sample count when none had
//!   that bound, then `_sum` and `_count`;
//! - the metric's `timestamp_ms`, if set, on each of its samples.
//!
//! Refused as by the Pushgateway: a length prefix longer than 5 bytes, a message that
//! does not decode, a metric without the value of its family's type (an unset or unknown
//! type is a counter), an invalid label name or one starting with `__`, the same label
//! twice, a `quantile` label on a summary, the same series twice (a missing `instance`
//! equals `instance=""`), a summary or histogram beside a family named like one of its
//! samples (families without metrics count here).
//!
//! # Departures from the Pushgateway
//! - Timestamps are accepted (it refuses them).
//! - A body that ends inside a length prefix or a message is refused; the Pushgateway
//!   takes the end of the body inside a prefix, or right after one, for a clean end.
//! - The same family name twice is refused; the Pushgateway keeps the last silently.
//! - Invalid metric names are refused; the Pushgateway does not check them.
//! - A `le` label on a histogram is refused; the Pushgateway would expose two `le`.
//! - `gauge_histogram` families with metrics are refused; the Pushgateway stores them and
//!   then fails every scrape.
//! - Names and label values must be UTF-8 (prost checks); the Pushgateway refuses
//!   invalid label values too, but not invalid help text, which is read as bytes here.
//! - A body may expand to [`MAX_LABELS`] labels at most: a histogram's labels are
//!   repeated on each of its buckets, so a small body could otherwise take gigabytes.

use std::borrow::Cow;
use std::collections::HashMap;
use std::ops::Range;

use prost::Message;

use self::client_model::{Metric, MetricFamily, MetricType};
use super::family::{self, same_labels, BoundTexts, Kind, SampleNames, SeriesSet};
use super::{
    valid_metric_name, Exposition, PushError, PushedLabel, PushedSample, MAX_DECODED_BYTES,
};

/// prost types for `proto/metrics.proto` (package `io.prometheus.client`).
pub mod client_model {
    include!(concat!(env!("OUT_DIR"), "/io.prometheus.client.rs"));
}

/// The most labels a body's samples may have in all: as many as the largest text body
/// could hold (each label takes at least 4 bytes there: `a=""`).
pub const MAX_LABELS: usize = MAX_DECODED_BYTES / 4;

/// The longest length prefix: `pbutil.ReadDelimited` reads a varint32.
const MAX_PREFIX_BYTES: usize = 5;

/// Parses a delimited protobuf push body.
pub fn parse(body: &[u8]) -> Result<Exposition<'static>, PushError> {
    let families = decode(body)?;
    check_families(&families)?;
    let mut out = Exposition::default();
    let mut series = SeriesSet::new(true);
    let mut bounds = BoundTexts::default();
    for family in families {
        convert(family, &mut out, &mut series, &mut bounds)?;
    }
    Ok(out)
}

fn decode(body: &[u8]) -> Result<Vec<MetricFamily>, PushError> {
    let mut families = Vec::new();
    let mut rest = body;
    while !rest.is_empty() {
        let number = families.len() + 1;
        let (length, prefix) =
            length_prefix(rest).map_err(|m| error(format!("message {number}: {m}")))?;
        rest = &rest[prefix..];
        if length > rest.len() as u64 {
            return Err(error(format!(
                "message {number} is truncated: {length} bytes announced, {} left",
                rest.len()
            )));
        }
        let (message, after) = rest.split_at(length as usize);
        let family =
            MetricFamily::decode(message).map_err(|e| error(format!("message {number}: {e}")))?;
        families.push(family);
        rest = after;
    }
    Ok(families)
}

/// A message's length and the bytes its prefix takes.
fn length_prefix(bytes: &[u8]) -> Result<(u64, usize), &'static str> {
    let mut length = 0u64;
    for (i, &byte) in bytes.iter().take(MAX_PREFIX_BYTES).enumerate() {
        length |= u64::from(byte & 0x7f) << (7 * i);
        if byte < 0x80 {
            return Ok((length, i + 1));
        }
    }
    Err(if bytes.len() < MAX_PREFIX_BYTES {
        "the body ends inside the length prefix"
    } else {
        "invalid varint32 length prefix"
    })
}

/// The checks on whole families: names, and collisions between them.
fn check_families(families: &[MetricFamily]) -> Result<(), PushError> {
    let mut kinds: HashMap<&str, Kind> = HashMap::with_capacity(families.len());
    for family in families {
        let name = family.name();
        let has_metrics = !family.metric.is_empty();
        if name.is_empty() && !has_metrics {
            continue; // an empty message: nothing to expose, nothing to collide with
        }
        if has_metrics && !valid_metric_name(name) {
            return Err(error(format!("invalid metric name {name:?}")));
        }
        let kind = kind_of(family);
        if has_metrics && kind == Kind::GaugeHistogram {
            return Err(error(family::gauge_histogram_refused(name)));
        }
        if kinds.insert(name, kind).is_some() {
            return Err(error(format!(
                "metric family {name:?} is pushed twice (the Pushgateway would keep the last only)"
            )));
        }
    }
    for family in families {
        let (name, kind) = (family.name(), kind_of(family));
        if let Some(other) =
            family::colliding_names(name, kind).find(|n| kinds.contains_key(n.as_str()))
        {
            return Err(error(family::collision_message(name, kind, &other)));
        }
    }
    Ok(())
}

/// A family's type; an unset or unknown one reads as a counter, as in Go's proto2 code.
fn kind_of(family: &MetricFamily) -> Kind {
    match family.r#type() {
        MetricType::Counter => Kind::Counter,
        MetricType::Gauge => Kind::Gauge,
        MetricType::Summary => Kind::Summary,
        MetricType::Untyped => Kind::Untyped,
        MetricType::Histogram => Kind::Histogram,
        MetricType::GaugeHistogram => Kind::GaugeHistogram,
    }
}

/// Appends the samples of one family, checking each of its metrics.
fn convert(
    family: MetricFamily,
    out: &mut Exposition<'static>,
    series: &mut SeriesSet,
    bounds: &mut BoundTexts<'static>,
) -> Result<(), PushError> {
    let kind = kind_of(&family);
    let name = family.name.unwrap_or_default();
    let names = SampleNames {
        bucket: Cow::Owned(format!("{name}_bucket")),
        sum: Cow::Owned(format!("{name}_sum")),
        count: Cow::Owned(format!("{name}_count")),
        base: Cow::Owned(name),
    };
    let name: &str = &names.base;
    series.clear();
    // Each metric's own labels in `out`: those of its only sample, or of its `_sum`.
    let mut own: Vec<Range<u32>> = Vec::with_capacity(family.metric.len());
    let mut labels: Vec<PushedLabel<'static>> = Vec::new();
    for (number, mut metric) in (1..).zip(family.metric) {
        let has_value = match kind {
            Kind::Counter => metric.counter.is_some(),
            Kind::Gauge => metric.gauge.is_some(),
            Kind::Summary => metric.summary.is_some(),
            Kind::Untyped => metric.untyped.is_some(),
            Kind::Histogram => metric.histogram.is_some(),
            Kind::GaugeHistogram => false, // refused before
        };
        if !has_value {
            let kind = kind.name();
            return Err(error(format!(
                "metric {number} of {name:?} has no {kind} value, but its family is a {kind}"
            )));
        }
        labels.clear();
        for pair in std::mem::take(&mut metric.label) {
            let label = pair.name.unwrap_or_default();
            check_label(name, kind, &metric, &label, &labels)?;
            labels.push(PushedLabel {
                name: Cow::Owned(label),
                value: Cow::Owned(pair.value.unwrap_or_default()),
            });
        }
        let samples = match (&metric.summary, &metric.histogram) {
            (Some(summary), _) if kind == Kind::Summary => summary.quantile.len() + 2,
            (_, Some(histogram)) if kind == Kind::Histogram => histogram.bucket.len() + 3,
            _ => 1,
        };
        if out.labels.len() + (labels.len() + 1) * samples > MAX_LABELS {
            return Err(error(format!(
                "the body expands to more than {MAX_LABELS} labels (at metric {number} of {name:?})"
            )));
        }
        let key = series.key(name, &labels);
        let same = |other: u32| {
            let range = &own[other as usize];
            same_labels(
                &out.labels[range.start as usize..range.end as usize],
                &labels,
                true,
            )
        };
        if series.insert(key, own.len() as u32, same).is_err() {
            return Err(error(family::duplicate_message(name, &labels)));
        }
        own.push(push_metric(out, kind, &names, &mut labels, metric, bounds));
    }
    Ok(())
}

/// The Pushgateway's consistency check of one label name of a metric of `family`.
fn check_label(
    family: &str,
    kind: Kind,
    metric: &Metric,
    label: &str,
    earlier: &[PushedLabel<'_>],
) -> Result<(), PushError> {
    if !family::consistent_label_name(label) {
        return Err(error(if super::valid_label_name(label) {
            family::reserved_label_message(family, label)
        } else {
            format!("metric {family:?} has a label with an invalid name: {label:?}")
        }));
    }
    if earlier.iter().any(|l| l.name == label) {
        let message = format!("metric {family:?} has two or more labels named {label:?}");
        return Err(error(message));
    }
    // client_golang refuses `quantile` beside a summary value whatever the family's type;
    // `le` on a histogram is refused here only (see the module's departures).
    let explicit = match label {
        "quantile" if metric.summary.is_some() => "summary",
        "le" if kind == Kind::Histogram => "histogram",
        _ => return Ok(()),
    };
    Err(error(format!(
        "metric {family:?} has a {explicit} with an explicit {label:?} label"
    )))
}

/// Appends the samples of one metric (`labels` are its labels, taken); returns its own
/// labels' range.
fn push_metric(
    out: &mut Exposition<'static>,
    kind: Kind,
    names: &SampleNames<'static>,
    labels: &mut Vec<PushedLabel<'static>>,
    metric: Metric,
    bounds: &mut BoundTexts<'static>,
) -> Range<u32> {
    let timestamp_ms = metric.timestamp_ms;
    let value = match kind {
        Kind::Summary => {
            let summary = metric.summary.unwrap_or_default();
            let quantiles = summary
                .quantile
                .iter()
                .map(|q| (bounds.text(q.quantile(), None), q.value()));
            let totals = (summary.sample_sum(), summary.sample_count());
            return family::push_summary(out, names, labels, quantiles, totals, timestamp_ms);
        }
        Kind::Histogram => {
            let histogram = metric.histogram.unwrap_or_default();
            let buckets = histogram.bucket.iter().map(|b| {
                let bound = b.upper_bound();
                (bound, bounds.text(bound, None), b.cumulative_count() as f64)
            });
            let totals = (histogram.sample_sum(), histogram.sample_count());
            return family::push_histogram(out, names, labels, buckets, totals, timestamp_ms);
        }
        Kind::Counter => metric.counter.map(|c| c.value()),
        Kind::Gauge => metric.gauge.map(|g| g.value()),
        Kind::Untyped | Kind::GaugeHistogram => metric.untyped.map(|u| u.value()),
    };
    // A single sample takes the labels rather than copying them.
    let start = out.labels.len() as u32;
    out.labels.append(labels);
    let range = start..out.labels.len() as u32;
    out.samples.push(PushedSample {
        name: names.base.clone(),
        labels: range.clone(),
        value: value.unwrap_or(0.0),
        timestamp_ms,
    });
    range
}

fn error(message: String) -> PushError {
    PushError::Protobuf(message)
}

#[cfg(test)]
mod tests;
