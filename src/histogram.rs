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
