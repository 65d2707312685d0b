//! Prometheus' chunk encodings for native histograms (HISTOGRAM and FLOAT_HISTOGRAM,
//! `tsdb/chunkenc/histogram.go` and `float_histogram.go`), for streamed remote read
//! answers.
//!
//! A chunk is two bytes of sample count, a byte whose top two bits say what is known of
//! a counter reset at its start (or that it holds a gauge), then a bit stream: the
//! layout every histogram of the chunk shares (zero threshold, schema, spans, custom
//! bounds), and the samples. Times are delta-of-delta varbit integers. In an integer
//! chunk counts and buckets are too (buckets as Prometheus' in-histogram deltas), and
//! the sum is XOR'd with the one before; in a float chunk every number is XOR'd with the
//! same field of the sample before.
//!
//! This encoder cuts a new chunk wherever the layout changes, at a counter reset (the
//! sender's hint, or a count or bucket that went down), between gauge and counter
//! histograms, around staleness markers, and at 120 samples. Readers then never meet a
//! chunk that needs re-encoding, and a histogram comes back with its own spans.
//!
//! Written by hand, as the XOR chunks are: no maintained crate encodes these.

use super::chunks::{BitWriter, XorValue, SAMPLES_PER_CHUNK};
use crate::histogram::{Counts, Histogram, ResetHint, Span, CUSTOM_BUCKETS_SCHEMA};
use crate::series::is_stale_marker;

/// The chunk header's top two bits.
const UNKNOWN_RESET: u8 = 0x00;
const COUNTER_RESET: u8 = 0x80;
const NOT_COUNTER_RESET: u8 = 0x40;
const GAUGE: u8 = 0xc0;

/// What every histogram of a chunk shares.
#[derive(Debug, Clone, PartialEq)]
struct Layout {
    schema: i32,
    zero_threshold: u64,
    positive_spans: Vec<Span>,
    negative_spans: Vec<Span>,
    custom_values: Vec<u64>,
}

impl Layout {
    fn of(h: &Histogram) -> Layout {
        Layout {
            schema: h.schema,
            zero_threshold: h.zero_threshold.to_bits(),
            positive_spans: h.positive_spans.clone(),
            negative_spans: h.negative_spans.clone(),
            custom_values: h.custom_values.iter().map(|v| v.to_bits()).collect(),
        }
    }

    /// What a staleness marker is written with: nothing.
    fn empty() -> Layout {
        Layout {
            schema: 0,
            zero_threshold: 0,
            positive_spans: Vec::new(),
            negative_spans: Vec::new(),
            custom_values: Vec::new(),
        }
    }

    fn write(&self, stream: &mut BitWriter) {
        let threshold = f64::from_bits(self.zero_threshold);
        match threshold_byte(threshold) {
            Some(byte) => stream.bits(u64::from(byte), 8),
            None => {
                stream.bits(0xff, 8);
                stream.bits(self.zero_threshold, 64);
            }
        }
        varbit_int(stream, i64::from(self.schema));
        for spans in [&self.positive_spans, &self.negative_spans] {
            varbit_uint(stream, spans.len() as u64);
            for span in spans {
                varbit_uint(stream, u64::from(span.length));
                varbit_int(stream, i64::from(span.offset));
            }
        }
        if self.schema == CUSTOM_BUCKETS_SCHEMA {
            varbit_uint(stream, self.custom_values.len() as u64);
            for &bits in &self.custom_values {
                custom_bound(stream, f64::from_bits(bits));
            }
        }
    }
}

/// The one-byte form of a zero threshold: 0 for 0, `k + 244` for 2^k with k in
/// −243…10; `None` for any other value (then 0xff and its 64 bits are written).
fn threshold_byte(threshold: f64) -> Option<u8> {
    if threshold.to_bits() == 0 {
        return Some(0);
    }
    let bits = threshold.to_bits();
    let is_power_of_two = threshold > 0.0 && bits & ((1 << 52) - 1) == 0 && bits >> 52 != 0;
    if !is_power_of_two {
        return None;
    }
    let k = (bits >> 52) as i64 - 1023;
    (-243..=10).contains(&k).then(|| (k + 244) as u8)
}

/// A custom bucket bound: `round(bound × 1000) + 1` as a varbit uint when that gives the
/// bound back exactly and is small enough, else a 0 bit and its 64 bits.
fn custom_bound(stream: &mut BitWriter, bound: f64) {
    let thousandths = bound * 1000.0;
    let exact = (0.0..=33_554_430.0).contains(&thousandths)
        && ((bound * 1000.0).round() as u64) as f64 / 1000.0 == bound;
    if exact {
        varbit_uint(stream, (bound * 1000.0).round() as u64 + 1);
    } else {
        stream.bit(false);
        stream.bits(bound.to_bits(), 64);
    }
}

/// The varbit integer bucket widths: a value in `-(2^(n-1) - 1) ..= 2^(n-1)` takes the
/// prefix of the first width `n` it fits, then its `n` low bits.
const INT_WIDTHS: [(u64, u8, u8); 7] = [
    (0b10, 2, 3),
    (0b110, 3, 6),
    (0b1110, 4, 9),
    (0b11110, 5, 12),
    (0b111110, 6, 18),
    (0b1111110, 7, 25),
    (0b11111110, 8, 56),
];

fn varbit_int(stream: &mut BitWriter, value: i64) {
    if value == 0 {
        stream.bit(false);
        return;
    }
    for (prefix, prefix_bits, width) in INT_WIDTHS {
        let half = 1i64 << (width - 1);
        if -(half - 1) <= value && value <= half {
            stream.bits(prefix, prefix_bits);
            stream.bits(value as u64 & ((1 << width) - 1), width);
            return;
        }
    }
    stream.bits(0xff, 8);
    stream.bits(value as u64, 64);
}

fn varbit_uint(stream: &mut BitWriter, value: u64) {
    if value == 0 {
        stream.bit(false);
        return;
    }
    for (prefix, prefix_bits, width) in INT_WIDTHS {
        if value < 1 << width {
            stream.bits(prefix, prefix_bits);
            stream.bits(value, width);
            return;
        }
    }
    stream.bits(0xff, 8);
    stream.bits(value, 64);
}

/// The state an integer chunk keeps between samples.
#[derive(Default)]
struct IntegerState {
    count: u64,
    zero_count: u64,
    count_delta: i64,
    zero_count_delta: i64,
    /// Each bucket's in-histogram delta, positive buckets then negative.
    deltas: Vec<i64>,
    /// Each bucket's change of delta since the sample before.
    delta_deltas: Vec<i64>,
}

/// The state a float chunk keeps between samples.
#[derive(Default)]
struct FloatState {
    count: XorValue,
    zero_count: XorValue,
    buckets: Vec<XorValue>,
}

/// One histogram chunk being appended to.
pub struct HistogramChunk {
    stream: BitWriter,
    count: u16,
    float: bool,
    gauge: bool,
    layout: Layout,
    /// Whether the chunk holds a staleness marker (then nothing follows it).
    stale: bool,
    t: i64,
    t_delta: i64,
    sum: XorValue,
    integer: IntegerState,
    floats: FloatState,
    /// The last sample's absolute counts (count, zero count, buckets), to tell resets.
    absolute: Vec<f64>,
    pub min_time: i64,
    pub max_time: i64,
}

impl HistogramChunk {
    /// A chunk that starts with `first`.
    pub fn new(first: &Histogram) -> HistogramChunk {
        HistogramChunk::starting(first, header(first.reset_hint))
    }

    fn starting(first: &Histogram, header: u8) -> HistogramChunk {
        let stale = is_stale_marker(first.sum);
        let layout = if stale {
            Layout::empty()
        } else {
            Layout::of(first)
        };
        let mut chunk = HistogramChunk {
            stream: BitWriter {
                bytes: vec![0, 0, header],
                free: 0,
            },
            count: 0,
            float: first.is_float(),
            gauge: first.reset_hint == ResetHint::Gauge,
            layout,
            stale,
            t: first.timestamp_ms,
            t_delta: 0,
            sum: XorValue::default(),
            integer: IntegerState::default(),
            floats: FloatState::default(),
            absolute: Vec::new(),
            min_time: first.timestamp_ms,
            max_time: first.timestamp_ms,
        };
        chunk.layout.write(&mut chunk.stream);
        chunk.first(first);
        chunk
    }

    /// `HISTOGRAM` (2) or `FLOAT_HISTOGRAM` (3), as `prompb.Chunk.Encoding` numbers them.
    pub fn encoding(&self) -> i32 {
        if self.float {
            3
        } else {
            2
        }
    }

    pub fn len(&self) -> usize {
        self.count as usize
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Appends `h` if it belongs in this chunk; otherwise returns the chunk it starts.
    pub fn append(&mut self, h: &Histogram) -> Option<HistogramChunk> {
        match self.cut_before(h) {
            Some(header) => Some(HistogramChunk::starting(h, header)),
            None => {
                self.next(h);
                None
            }
        }
    }

    /// The chunk's bytes.
    pub fn into_bytes(self) -> Vec<u8> {
        self.stream.bytes
    }

    /// `None` if `h` can follow in this chunk, else the header of the chunk it starts.
    fn cut_before(&self, h: &Histogram) -> Option<u8> {
        let start = header(h.reset_hint);
        let gauge = h.reset_hint == ResetHint::Gauge;
        if self.count as usize >= SAMPLES_PER_CHUNK
            || self.stale
            || is_stale_marker(h.sum)
            || h.is_float() != self.float
            || gauge != self.gauge
            || Layout::of(h) != self.layout
        {
            return Some(start);
        }
        if gauge {
            return None;
        }
        if h.reset_hint == ResetHint::Yes {
            return Some(COUNTER_RESET);
        }
        // A count that went down is a reset, whatever the hint: a reader trusts that
        // the samples after a chunk's first are not resets.
        let went_down = absolute(h)
            .iter()
            .zip(&self.absolute)
            .any(|(now, before)| now < before);
        went_down.then_some(COUNTER_RESET)
    }

    fn first(&mut self, h: &Histogram) {
        varbit_int(&mut self.stream, h.timestamp_ms);
        self.sum.bits = h.sum.to_bits();
        match &h.counts {
            Counts::Integer {
                count, zero_count, ..
            } => {
                let (count, zero_count) = if self.stale {
                    (0, 0)
                } else {
                    (*count, *zero_count)
                };
                varbit_uint(&mut self.stream, count);
                varbit_uint(&mut self.stream, zero_count);
                self.stream.bits(h.sum.to_bits(), 64);
                self.integer.count = count;
                self.integer.zero_count = zero_count;
                if !self.stale {
                    self.integer.deltas = integer_buckets(h);
                    for &d in &self.integer.deltas {
                        varbit_int(&mut self.stream, d);
                    }
                    self.integer.delta_deltas = vec![0; self.integer.deltas.len()];
                }
            }
            Counts::Float {
                count, zero_count, ..
            } => {
                let (count, zero_count) = if self.stale {
                    (0.0, 0.0)
                } else {
                    (*count, *zero_count)
                };
                for (state, value) in [
                    (&mut self.floats.count, count),
                    (&mut self.floats.zero_count, zero_count),
                ] {
                    self.stream.bits(value.to_bits(), 64);
                    state.bits = value.to_bits();
                }
                self.stream.bits(h.sum.to_bits(), 64);
                if !self.stale {
                    for bucket in h.bucket_counts() {
                        self.stream.bits(bucket.to_bits(), 64);
                        let mut state = XorValue::default();
                        state.bits = bucket.to_bits();
                        self.floats.buckets.push(state);
                    }
                }
            }
        }
        self.absolute = absolute(h);
        self.count = 1;
        self.stream.bytes[..2].copy_from_slice(&self.count.to_be_bytes());
    }

    fn next(&mut self, h: &Histogram) {
        let t_delta = h.timestamp_ms.wrapping_sub(self.t);
        varbit_int(&mut self.stream, t_delta.wrapping_sub(self.t_delta));
        self.t_delta = t_delta;
        self.t = h.timestamp_ms;
        match &h.counts {
            Counts::Integer {
                count, zero_count, ..
            } => {
                let state = &mut self.integer;
                let count_delta = (*count as i64).wrapping_sub(state.count as i64);
                let zero_count_delta = (*zero_count as i64).wrapping_sub(state.zero_count as i64);
                varbit_int(
                    &mut self.stream,
                    count_delta.wrapping_sub(state.count_delta),
                );
                varbit_int(
                    &mut self.stream,
                    zero_count_delta.wrapping_sub(state.zero_count_delta),
                );
                (state.count, state.zero_count) = (*count, *zero_count);
                (state.count_delta, state.zero_count_delta) = (count_delta, zero_count_delta);
                self.sum.write(&mut self.stream, h.sum.to_bits());
                let deltas = integer_buckets(h);
                for (i, d) in deltas.iter().enumerate() {
                    let change = d.wrapping_sub(state.deltas[i]);
                    varbit_int(&mut self.stream, change.wrapping_sub(state.delta_deltas[i]));
                    state.delta_deltas[i] = change;
                }
                state.deltas = deltas;
            }
            Counts::Float {
                count, zero_count, ..
            } => {
                self.floats.count.write(&mut self.stream, count.to_bits());
                self.floats
                    .zero_count
                    .write(&mut self.stream, zero_count.to_bits());
                self.sum.write(&mut self.stream, h.sum.to_bits());
                for (state, bucket) in self.floats.buckets.iter_mut().zip(h.bucket_counts()) {
                    state.write(&mut self.stream, bucket.to_bits());
                }
            }
        }
        self.absolute = absolute(h);
        self.max_time = h.timestamp_ms;
        self.count += 1;
        self.stream.bytes[..2].copy_from_slice(&self.count.to_be_bytes());
    }
}

/// The header of a chunk that starts with a histogram of hint `hint`.
fn header(hint: ResetHint) -> u8 {
    match hint {
        ResetHint::Unknown => UNKNOWN_RESET,
        ResetHint::Yes => COUNTER_RESET,
        ResetHint::No => NOT_COUNTER_RESET,
        ResetHint::Gauge => GAUGE,
    }
}

/// An integer histogram's bucket deltas, positive then negative.
fn integer_buckets(h: &Histogram) -> Vec<i64> {
    match &h.counts {
        Counts::Integer {
            positive_deltas,
            negative_deltas,
            ..
        } => positive_deltas
            .iter()
            .chain(negative_deltas)
            .copied()
            .collect(),
        Counts::Float { .. } => Vec::new(),
    }
}

/// Count, zero count and every bucket's count, as numbers that a reset makes smaller.
fn absolute(h: &Histogram) -> Vec<f64> {
    let (count, zero_count) = match &h.counts {
        Counts::Integer {
            count, zero_count, ..
        } => (*count as f64, *zero_count as f64),
        Counts::Float {
            count, zero_count, ..
        } => (*count, *zero_count),
    };
    let mut out = vec![count, zero_count];
    out.extend(h.bucket_counts());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_bytes_for_a_two_sample_integer_chunk() {
        // Worked out by hand from Prometheus' format description: schema 0, the default
        // zero threshold 2^-128 (one byte, 0x74), one span of two buckets.
        let h = |t, count, sum, deltas: Vec<i64>| Histogram {
            timestamp_ms: t,
            schema: 0,
            zero_threshold: 2f64.powi(-128),
            sum,
            counts: Counts::Integer {
                count,
                zero_count: 1,
                positive_deltas: deltas,
                negative_deltas: vec![],
            },
            positive_spans: vec![Span {
                offset: 0,
                length: 2,
            }],
            ..Histogram::default()
        };
        let mut chunk = HistogramChunk::new(&h(1000, 4, 10.0, vec![2, -1]));
        assert!(chunk.append(&h(2000, 6, 12.5, vec![3, -1])).is_none());
        assert_eq!(chunk.encoding(), 2);
        assert_eq!(
            chunk.into_bytes(),
            [
                0x00, 0x02, 0x00, 0x74, 0x46, 0x47, 0x8f, 0xa2, 0x91, 0x40, 0x24, 0x00, 0x00, 0x00,
                0x00, 0x00, 0x00, 0x95, 0xfc, 0x7d, 0x12, 0x6c, 0x13, 0x62
            ]
        );
    }

    #[test]
    fn thresholds_take_one_byte_when_they_are_powers_of_two_in_range() {
        assert_eq!(threshold_byte(0.0), Some(0));
        assert_eq!(threshold_byte(2f64.powi(-128)), Some(0x74));
        assert_eq!(threshold_byte(2f64.powi(-243)), Some(1));
        assert_eq!(threshold_byte(1024.0), Some(254));
        assert_eq!(threshold_byte(2048.0), None);
        assert_eq!(threshold_byte(2f64.powi(-244)), None);
        assert_eq!(threshold_byte(0.001), None);
        assert_eq!(threshold_byte(-0.5), None);
        assert_eq!(threshold_byte(-0.0), None);
    }

    #[test]
    fn chunks_are_cut_where_readers_need_them() {
        let base = crate::fixtures::histograms()[0].clone();
        let later = |t, f: &dyn Fn(&mut Histogram)| {
            let mut h = base.clone();
            h.timestamp_ms = t;
            h.reset_hint = ResetHint::Unknown;
            f(&mut h);
            h
        };
        let mut chunk = HistogramChunk::new(&base);
        assert_eq!(chunk.stream.bytes[2], NOT_COUNTER_RESET);
        let same = later(base.timestamp_ms + 1, &|_| {});
        assert!(chunk.append(&same).is_none());
        // A count that went down: a reset, though the sender did not say so.
        let fewer = later(base.timestamp_ms + 2, &|h| {
            if let Counts::Integer { count, .. } = &mut h.counts {
                *count -= 1;
            }
        });
        let next = chunk.append(&fewer).expect("a reset cuts");
        assert_eq!(next.stream.bytes[2], COUNTER_RESET);
        // A bucket that went down (the first delta is the first bucket's count).
        let bucket_down = later(base.timestamp_ms + 2, &|h| {
            if let Counts::Integer {
                positive_deltas, ..
            } = &mut h.counts
            {
                positive_deltas[0] -= 1;
                positive_deltas[1] += 1;
            }
        });
        assert!(chunk.append(&bucket_down).is_some());
        let other_spans = later(base.timestamp_ms + 2, &|h| h.positive_spans[0].offset = 0);
        assert_eq!(
            chunk.append(&other_spans).map(|c| c.stream.bytes[2]),
            Some(UNKNOWN_RESET)
        );
        let stale = later(base.timestamp_ms + 2, &|h| {
            h.sum = f64::from_bits(crate::series::STALE_NAN_BITS)
        });
        let mut stale_chunk = chunk.append(&stale).expect("a marker cuts");
        assert_eq!(stale_chunk.layout, Layout::empty());
        assert!(
            stale_chunk.append(&same).is_some(),
            "nothing follows a marker"
        );
        let gauge = later(base.timestamp_ms + 2, &|h| h.reset_hint = ResetHint::Gauge);
        assert_eq!(chunk.append(&gauge).map(|c| c.stream.bytes[2]), Some(GAUGE));
        for i in 2..SAMPLES_PER_CHUNK as i64 {
            assert!(chunk
                .append(&later(base.timestamp_ms + i, &|_| {}))
                .is_none());
        }
        assert_eq!(chunk.len(), SAMPLES_PER_CHUNK);
        assert!(chunk
            .append(&later(base.timestamp_ms + 500, &|_| {}))
            .is_some());
    }
}
