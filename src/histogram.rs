//! Native histograms as plain data: what remote write decodes them into, what the
//! Timestream form is made from and read back into, and what remote read answers with.
//!
//! The fields are Prometheus' own (`prompb.Histogram`), kept as sent: integer
//! histograms keep their bucket deltas, float histograms their absolute bucket counts,
//! and nothing is normalised, so a histogram read back is the one written, bit for bit.

/// A run of consecutive buckets: `offset` buckets after the previous run (or from index
/// 0 for the first), `length` buckets long.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    pub offset: i32,
    pub length: u32,
}

/// What the sender knows about a counter reset at this histogram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ResetHint {
    #[default]
    Unknown,
    Yes,
    No,
    Gauge,
}

impl ResetHint {
    /// The value of `prompb.Histogram.ResetHint`; an unknown number reads as unknown.
    pub fn from_proto(value: i32) -> ResetHint {
        match value {
            1 => ResetHint::Yes,
            2 => ResetHint::No,
            3 => ResetHint::Gauge,
            _ => ResetHint::Unknown,
        }
    }

    pub fn to_proto(self) -> i32 {
        match self {
            ResetHint::Unknown => 0,
            ResetHint::Yes => 1,
            ResetHint::No => 2,
            ResetHint::Gauge => 3,
        }
    }
}

/// The counts of a histogram: integers with delta-encoded buckets (each bucket the
/// difference to the one before it, across spans), or floats with absolute buckets.
#[derive(Debug, Clone, PartialEq)]
pub enum Counts {
    Integer {
        count: u64,
        zero_count: u64,
        positive_deltas: Vec<i64>,
        negative_deltas: Vec<i64>,
    },
    Float {
        count: f64,
        zero_count: f64,
        positive_counts: Vec<f64>,
        negative_counts: Vec<f64>,
    },
}

/// One native histogram sample.
#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    pub timestamp_ms: i64,
    /// −4…8 for exponential buckets; −53 for custom bucket bounds.
    pub schema: i32,
    pub zero_threshold: f64,
    /// Its bits matter: a staleness marker is a histogram whose sum is the stale NaN.
    pub sum: f64,
    pub counts: Counts,
    pub positive_spans: Vec<Span>,
    pub negative_spans: Vec<Span>,
    pub reset_hint: ResetHint,
    /// The upper bounds of custom buckets (schema −53).
    pub custom_values: Vec<f64>,
}

/// The schema of histograms with custom bucket bounds.
pub const CUSTOM_BUCKETS_SCHEMA: i32 = -53;

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            timestamp_ms: 0,
            schema: 0,
            zero_threshold: 0.0,
            sum: 0.0,
            counts: Counts::Integer {
                count: 0,
                zero_count: 0,
                positive_deltas: Vec::new(),
                negative_deltas: Vec::new(),
            },
            positive_spans: Vec::new(),
            negative_spans: Vec::new(),
            reset_hint: ResetHint::Unknown,
            custom_values: Vec::new(),
        }
    }
}

impl Histogram {
    pub fn is_float(&self) -> bool {
        matches!(self.counts, Counts::Float { .. })
    }

    /// Why Prometheus would refuse this histogram (its own `Validate`, as far as a
    /// reader of it depends on it), if it would: a schema it does not know, buckets
    /// that are not as many as the spans say or are negative, spans that go backwards,
    /// custom bounds on an exponential histogram, or custom buckets that do not fit
    /// their bounds.
    pub fn invalid(&self) -> Option<&'static str> {
        let custom = self.schema == CUSTOM_BUCKETS_SCHEMA;
        if !custom && !(-4..=8).contains(&self.schema) {
            return Some("a schema other than -4 to 8 or -53");
        }
        if !self.buckets_match_spans() {
            return Some("buckets not as many as its spans say");
        }
        let forwards = |spans: &[Span]| spans.iter().skip(1).all(|s| s.offset >= 0);
        if !forwards(&self.positive_spans) || !forwards(&self.negative_spans) {
            return Some("a span with a negative offset after the first");
        }
        let negative = self.bucket_counts().iter().any(|c| *c < 0.0);
        if negative {
            return Some("a negative bucket count");
        }
        if !custom {
            return (!self.custom_values.is_empty())
                .then_some("custom bounds on exponential buckets");
        }
        let increasing = self.custom_values.windows(2).all(|w| w[0] < w[1]);
        let last_bucket = self.positive_spans.iter().fold(-1i64, |end, s| {
            end + i64::from(s.offset) + i64::from(s.length)
        });
        if !increasing
            || !self.negative_spans.is_empty()
            || self.zero_threshold != 0.0
            || self.positive_spans.first().is_some_and(|s| s.offset < 0)
            // One bucket per bound, and one more above the last (to +Inf).
            || last_bucket > self.custom_values.len() as i64
        {
            return Some("custom buckets that do not fit their bounds");
        }
        None
    }

    /// Every bucket's count, positive buckets then negative (an integer histogram's
    /// deltas summed up), as numbers: what resets and validity are judged by.
    pub fn bucket_counts(&self) -> Vec<f64> {
        match &self.counts {
            Counts::Integer {
                positive_deltas,
                negative_deltas,
                ..
            } => {
                let mut out = Vec::with_capacity(positive_deltas.len() + negative_deltas.len());
                for deltas in [positive_deltas, negative_deltas] {
                    let mut running = 0i64;
                    out.extend(deltas.iter().map(|d| {
                        running = running.wrapping_add(*d);
                        running as f64
                    }));
                }
                out
            }
            Counts::Float {
                positive_counts,
                negative_counts,
                ..
            } => positive_counts
                .iter()
                .chain(negative_counts)
                .copied()
                .collect(),
        }
    }

    /// Whether its buckets are as many as its spans say, on both sides: what a chunk
    /// (and Prometheus' own validation) needs.
    pub fn buckets_match_spans(&self) -> bool {
        let (positive, negative) = match &self.counts {
            Counts::Integer {
                positive_deltas,
                negative_deltas,
                ..
            } => (positive_deltas.len(), negative_deltas.len()),
            Counts::Float {
                positive_counts,
                negative_counts,
                ..
            } => (positive_counts.len(), negative_counts.len()),
        };
        let length = |spans: &[Span]| spans.iter().map(|s| u64::from(s.length)).sum::<u64>();
        length(&self.positive_spans) == positive as u64
            && length(&self.negative_spans) == negative as u64
    }

    /// Whether `other` is this histogram bit for bit (`==` says no for equal NaNs).
    pub fn same_bits(&self, other: &Histogram) -> bool {
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        let counts = match (&self.counts, &other.counts) {
            (Counts::Integer { .. }, Counts::Integer { .. }) => self.counts == other.counts,
            (
                Counts::Float {
                    count: a,
                    zero_count: b,
                    positive_counts: c,
                    negative_counts: d,
                },
                Counts::Float {
                    count: e,
                    zero_count: f,
                    positive_counts: g,
                    negative_counts: h,
                },
            ) => {
                a.to_bits() == e.to_bits()
                    && b.to_bits() == f.to_bits()
                    && bits(c) == bits(g)
                    && bits(d) == bits(h)
            }
            _ => false,
        };
        counts
            && self.timestamp_ms == other.timestamp_ms
            && self.schema == other.schema
            && self.zero_threshold.to_bits() == other.zero_threshold.to_bits()
            && self.sum.to_bits() == other.sum.to_bits()
            && self.positive_spans == other.positive_spans
            && self.negative_spans == other.negative_spans
            && self.reset_hint == other.reset_hint
            && bits(&self.custom_values) == bits(&other.custom_values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_prometheus_would_refuse_is_invalid() {
        for h in crate::fixtures::histograms() {
            assert_eq!(h.invalid(), None, "{h:?}");
        }
        let base = crate::fixtures::histograms()[0].clone();
        let custom = crate::fixtures::histograms()[2].clone();
        let cases: Vec<(&str, Histogram)> = vec![
            (
                "schema 9",
                Histogram {
                    schema: 9,
                    ..base.clone()
                },
            ),
            (
                "schema -5",
                Histogram {
                    schema: -5,
                    ..base.clone()
                },
            ),
            ("a missing bucket", {
                let mut h = base.clone();
                h.positive_spans[0].length += 1;
                h
            }),
            ("a backwards span", {
                let mut h = base.clone();
                h.positive_spans[1].offset = -1;
                h
            }),
            ("a negative bucket", {
                let mut h = base.clone();
                if let Counts::Integer {
                    positive_deltas, ..
                } = &mut h.counts
                {
                    positive_deltas[2] = -5;
                }
                h
            }),
            (
                "bounds on exponential buckets",
                Histogram {
                    custom_values: vec![1.0],
                    ..base.clone()
                },
            ),
            (
                "bounds not increasing",
                Histogram {
                    custom_values: vec![0.1, 0.1, 10.0],
                    ..custom.clone()
                },
            ),
            ("a bucket past the bounds", {
                let mut h = custom.clone();
                h.positive_spans[0].offset = 2;
                h
            }),
            (
                "negative custom buckets",
                Histogram {
                    negative_spans: vec![Span {
                        offset: 0,
                        length: 1,
                    }],
                    counts: Counts::Integer {
                        count: 6,
                        zero_count: 0,
                        positive_deltas: vec![1, 1, 1],
                        negative_deltas: vec![1],
                    },
                    ..custom.clone()
                },
            ),
        ];
        for (what, h) in cases {
            assert!(h.invalid().is_some(), "{what}");
        }
        // The +Inf bucket above the last bound is a bucket of its own.
        let mut plus_inf = custom;
        plus_inf.positive_spans[0].offset = 1;
        assert_eq!(plus_inf.invalid(), None);
    }
}
