//! A decoder of Prometheus' HISTOGRAM and FLOAT_HISTOGRAM chunks, written for the tests
//! from the format (prometheus/prometheus `tsdb/docs/format/chunks.md` and
//! `tsdb/chunkenc`), apart from the connector's encoder, so that a mistake in one is not
//! repeated in the other.

use timestream_prometheus_connector::histogram::{Counts, Histogram, ResetHint, Span};

struct Bits<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Bits<'_> {
    fn bit(&mut self) -> bool {
        let byte = self.bytes[self.at / 8];
        let bit = byte >> (7 - self.at % 8) & 1 == 1;
        self.at += 1;
        bit
    }

    fn read(&mut self, n: u32) -> u64 {
        (0..n).fold(0, |v, _| v << 1 | u64::from(self.bit()))
    }

    /// The width a varbit prefix announces: ones until a zero, at most eight.
    fn width(&mut self) -> u32 {
        let mut ones = 0;
        while ones < 8 && self.bit() {
            ones += 1;
        }
        [0, 3, 6, 9, 12, 18, 25, 56, 64][ones]
    }

    fn varbit_int(&mut self) -> i64 {
        let width = self.width();
        if width == 0 {
            return 0;
        }
        let raw = self.read(width);
        if width == 64 {
            return raw as i64;
        }
        if raw > 1 << (width - 1) {
            raw as i64 - (1i64 << width)
        } else {
            raw as i64
        }
    }

    fn varbit_uint(&mut self) -> u64 {
        let width = self.width();
        if width == 0 {
            0
        } else {
            self.read(width)
        }
    }

    fn float(&mut self) -> f64 {
        f64::from_bits(self.read(64))
    }
}

/// The XOR state of one float field.
#[derive(Default)]
struct Xor {
    bits: u64,
    leading: u32,
    trailing: u32,
}

impl Xor {
    fn read(&mut self, bits: &mut Bits<'_>) -> f64 {
        if bits.bit() {
            if bits.bit() {
                self.leading = bits.read(5) as u32;
                let mut significant = bits.read(6) as u32;
                if significant == 0 {
                    significant = 64;
                }
                self.trailing = 64 - self.leading - significant;
            }
            let significant = 64 - self.leading - self.trailing;
            self.bits ^= bits.read(significant) << self.trailing;
        }
        f64::from_bits(self.bits)
    }
}

fn spans(bits: &mut Bits<'_>) -> Vec<Span> {
    let n = bits.varbit_uint();
    (0..n)
        .map(|_| {
            let length = bits.varbit_uint() as u32;
            let offset = bits.varbit_int() as i32;
            Span { offset, length }
        })
        .collect()
}

/// Decodes a chunk of `encoding` 2 (integer) or 3 (float). Reset hints are what a
/// reader gets: a gauge chunk's samples are gauges; otherwise the header's
/// CounterReset (YES) or NotCounterReset (NO) on the first sample, NO after it.
pub fn decode(encoding: i32, data: &[u8]) -> Vec<Histogram> {
    assert!(encoding == 2 || encoding == 3, "encoding {encoding}");
    let float = encoding == 3;
    let samples = u16::from_be_bytes([data[0], data[1]]) as usize;
    let header = data[2] & 0xc0;
    let mut bits = Bits {
        bytes: data,
        at: 24,
    };
    let zero_threshold = match bits.read(8) {
        0 => 0.0,
        255 => bits.float(),
        b => 0.5 * 2f64.powi(b as i32 - 243),
    };
    let schema = bits.varbit_int() as i32;
    let positive_spans = spans(&mut bits);
    let negative_spans = spans(&mut bits);
    let mut custom_values = Vec::new();
    if schema == -53 {
        for _ in 0..bits.varbit_uint() {
            let v = bits.varbit_uint();
            custom_values.push(if v == 0 {
                bits.float()
            } else {
                (v - 1) as f64 / 1000.0
            });
        }
    }
    let buckets = |spans: &[Span]| spans.iter().map(|s| s.length as usize).sum::<usize>();
    let (positive, negative) = (buckets(&positive_spans), buckets(&negative_spans));
    let hint = |i: usize| match (header, i) {
        (0xc0, _) => ResetHint::Gauge,
        (0x80, 0) => ResetHint::Yes,
        (0x00, 0) => ResetHint::Unknown,
        _ => ResetHint::No,
    };

    let mut out = Vec::with_capacity(samples);
    let (mut t, mut t_delta) = (0i64, 0i64);
    // Integer state: counts, their deltas, in-histogram bucket deltas and their changes.
    let (mut count, mut zero, mut count_delta, mut zero_delta) = (0i64, 0i64, 0i64, 0i64);
    let mut deltas = vec![0i64; positive + negative];
    let mut delta_changes = vec![0i64; positive + negative];
    // Float state.
    let (mut count_x, mut zero_x, mut sum_x) = (Xor::default(), Xor::default(), Xor::default());
    let mut bucket_x: Vec<Xor> = (0..positive + negative).map(|_| Xor::default()).collect();
    let stale = |sum: f64| sum.to_bits() == 0x7ff0_0000_0000_0002;
    for i in 0..samples {
        let (counts, sum);
        if i == 0 {
            t = bits.varbit_int();
            if float {
                count_x.bits = bits.read(64);
                zero_x.bits = bits.read(64);
                sum_x.bits = bits.read(64);
                sum = f64::from_bits(sum_x.bits);
                if !stale(sum) {
                    for x in &mut bucket_x {
                        x.bits = bits.read(64);
                    }
                }
            } else {
                count = bits.varbit_uint() as i64;
                zero = bits.varbit_uint() as i64;
                sum_x.bits = bits.read(64);
                sum = f64::from_bits(sum_x.bits);
                if !stale(sum) {
                    for d in &mut deltas {
                        *d = bits.varbit_int();
                    }
                }
            }
        } else {
            t_delta += bits.varbit_int();
            t += t_delta;
            if float {
                count_x.read(&mut bits);
                zero_x.read(&mut bits);
                sum = sum_x.read(&mut bits);
                if !stale(sum) {
                    for x in &mut bucket_x {
                        x.read(&mut bits);
                    }
                }
            } else {
                count_delta += bits.varbit_int();
                count += count_delta;
                zero_delta += bits.varbit_int();
                zero += zero_delta;
                sum = sum_x.read(&mut bits);
                if !stale(sum) {
                    for (d, change) in deltas.iter_mut().zip(&mut delta_changes) {
                        *change += bits.varbit_int();
                        *d += *change;
                    }
                }
            }
        }
        if float {
            let values: Vec<f64> = bucket_x.iter().map(|x| f64::from_bits(x.bits)).collect();
            counts = Counts::Float {
                count: f64::from_bits(count_x.bits),
                zero_count: f64::from_bits(zero_x.bits),
                positive_counts: values[..positive].to_vec(),
                negative_counts: values[positive..].to_vec(),
            };
        } else {
            counts = Counts::Integer {
                count: count as u64,
                zero_count: zero as u64,
                positive_deltas: deltas[..positive].to_vec(),
                negative_deltas: deltas[positive..].to_vec(),
            };
        }
        out.push(Histogram {
            timestamp_ms: t,
            schema,
            zero_threshold,
            sum,
            counts,
            positive_spans: positive_spans.clone(),
            negative_spans: negative_spans.clone(),
            reset_hint: hint(i),
            custom_values: custom_values.clone(),
        });
    }
    out
}
