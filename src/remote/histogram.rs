//! Native histograms on the wire: `Histogram` messages of remote write 1.0 and 2.0
//! (the two protocols give the message the same fields and numbers) decoded into
//! [`crate::histogram::Histogram`], and histograms to and from prost's messages, which
//! SAMPLES answers carry.
//!
//! The decoder is hand-written over [`super::wire`] so that both write decoders share it;
//! `tests` checks it against prost's decoding of the same bytes.

use super::wire::{expect, Reader, FIXED64, LEN, VARINT};
use super::{proto, DecodeError};
use crate::histogram::{Counts, Histogram, ResetHint, Span};

const COUNT_INT: u32 = 1;
const COUNT_FLOAT: u32 = 2;
const SUM: u32 = 3;
const SCHEMA: u32 = 4;
const ZERO_THRESHOLD: u32 = 5;
const ZERO_COUNT_INT: u32 = 6;
const ZERO_COUNT_FLOAT: u32 = 7;
const NEGATIVE_SPANS: u32 = 8;
const NEGATIVE_DELTAS: u32 = 9;
const NEGATIVE_COUNTS: u32 = 10;
const POSITIVE_SPANS: u32 = 11;
const POSITIVE_DELTAS: u32 = 12;
const POSITIVE_COUNTS: u32 = 13;
const RESET_HINT: u32 = 14;
const TIMESTAMP: u32 = 15;
const CUSTOM_VALUES: u32 = 16;
const SPAN_OFFSET: u32 = 1;
const SPAN_LENGTH: u32 = 2;

/// Either member of a oneof, the last one on the wire winning (protobuf's rule).
#[derive(Clone, Copy)]
enum Number {
    Integer(u64),
    Float(f64),
}

/// Decodes one `Histogram` message. Not inlined: the write decoders' series loops are
/// hot, and histograms are rare beside samples.
///
/// Whether it is a float histogram follows its count, as in Prometheus: `count_float`
/// makes a float histogram (with `positive_counts`), anything else an integer one (with
/// `positive_deltas`); the other kind's buckets are ignored, as Prometheus ignores them.
#[inline(never)]
pub fn decode(buf: &[u8]) -> Result<Histogram, DecodeError> {
    let mut h = Histogram::default();
    let mut count = Number::Integer(0);
    let mut zero_count = Number::Integer(0);
    let (mut positive_deltas, mut negative_deltas) = (Vec::new(), Vec::new());
    let (mut positive_counts, mut negative_counts) = (Vec::new(), Vec::new());
    let mut reader = Reader::new(buf);
    while !reader.is_empty() {
        let (field, wire_type) = reader.key()?;
        match field {
            COUNT_INT => {
                expect(field, wire_type, VARINT)?;
                count = Number::Integer(reader.varint()?);
            }
            COUNT_FLOAT => {
                expect(field, wire_type, FIXED64)?;
                count = Number::Float(f64::from_bits(reader.fixed64()?));
            }
            SUM => {
                expect(field, wire_type, FIXED64)?;
                h.sum = f64::from_bits(reader.fixed64()?);
            }
            SCHEMA => {
                expect(field, wire_type, VARINT)?;
                h.schema = zigzag32(reader.varint()?);
            }
            ZERO_THRESHOLD => {
                expect(field, wire_type, FIXED64)?;
                h.zero_threshold = f64::from_bits(reader.fixed64()?);
            }
            ZERO_COUNT_INT => {
                expect(field, wire_type, VARINT)?;
                zero_count = Number::Integer(reader.varint()?);
            }
            ZERO_COUNT_FLOAT => {
                expect(field, wire_type, FIXED64)?;
                zero_count = Number::Float(f64::from_bits(reader.fixed64()?));
            }
            NEGATIVE_SPANS => {
                expect(field, wire_type, LEN)?;
                h.negative_spans.push(span(reader.bytes()?)?);
            }
            POSITIVE_SPANS => {
                expect(field, wire_type, LEN)?;
                h.positive_spans.push(span(reader.bytes()?)?);
            }
            NEGATIVE_DELTAS => sint64s(&mut reader, field, wire_type, &mut negative_deltas)?,
            POSITIVE_DELTAS => sint64s(&mut reader, field, wire_type, &mut positive_deltas)?,
            NEGATIVE_COUNTS => doubles(&mut reader, field, wire_type, &mut negative_counts)?,
            POSITIVE_COUNTS => doubles(&mut reader, field, wire_type, &mut positive_counts)?,
            CUSTOM_VALUES => doubles(&mut reader, field, wire_type, &mut h.custom_values)?,
            RESET_HINT => {
                expect(field, wire_type, VARINT)?;
                h.reset_hint = ResetHint::from_proto(reader.varint()? as i32);
            }
            TIMESTAMP => {
                expect(field, wire_type, VARINT)?;
                h.timestamp_ms = reader.varint()? as i64;
            }
            _ => reader.skip(wire_type)?,
        }
    }
    let as_float = |n: Number| match n {
        Number::Integer(i) => i as f64,
        Number::Float(f) => f,
    };
    let as_integer = |n: Number| match n {
        Number::Integer(i) => i,
        // What Go's proto getter answers for the other member of a oneof.
        Number::Float(_) => 0,
    };
    h.counts = match count {
        Number::Float(count) => Counts::Float {
            count,
            zero_count: as_float(zero_count),
            positive_counts,
            negative_counts,
        },
        Number::Integer(count) => Counts::Integer {
            count,
            zero_count: as_integer(zero_count),
            positive_deltas,
            negative_deltas,
        },
    };
    Ok(h)
}

fn zigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// A sint32: as prost reads one, from the varint's low 32 bits.
fn zigzag32(v: u64) -> i32 {
    let v = v as u32;
    ((v >> 1) as i32) ^ -((v & 1) as i32)
}

fn span(buf: &[u8]) -> Result<Span, DecodeError> {
    let mut span = Span::default();
    let mut reader = Reader::new(buf);
    while !reader.is_empty() {
        let (field, wire_type) = reader.key()?;
        match field {
            SPAN_OFFSET => {
                expect(field, wire_type, VARINT)?;
                span.offset = zigzag32(reader.varint()?);
            }
            SPAN_LENGTH => {
                expect(field, wire_type, VARINT)?;
                span.length = reader.varint()? as u32;
            }
            _ => reader.skip(wire_type)?,
        }
    }
    Ok(span)
}

/// A repeated sint64, packed (proto3's default) or one per field.
fn sint64s(
    reader: &mut Reader<'_>,
    field: u32,
    wire_type: u8,
    out: &mut Vec<i64>,
) -> Result<(), DecodeError> {
    if wire_type == LEN {
        let mut packed = Reader::new(reader.bytes()?);
        while !packed.is_empty() {
            out.push(zigzag(packed.varint()?));
        }
        return Ok(());
    }
    expect(field, wire_type, VARINT)?;
    out.push(zigzag(reader.varint()?));
    Ok(())
}

/// A repeated double, packed or one per field.
fn doubles(
    reader: &mut Reader<'_>,
    field: u32,
    wire_type: u8,
    out: &mut Vec<f64>,
) -> Result<(), DecodeError> {
    if wire_type == LEN {
        let mut packed = Reader::new(reader.bytes()?);
        while !packed.is_empty() {
            out.push(f64::from_bits(packed.fixed64()?));
        }
        return Ok(());
    }
    expect(field, wire_type, FIXED64)?;
    out.push(f64::from_bits(reader.fixed64()?));
    Ok(())
}

/// `h` as the prost message of remote read's SAMPLES answers.
pub fn to_proto(h: &Histogram) -> proto::Histogram {
    use proto::histogram::{Count, ZeroCount};
    let spans = |spans: &[Span]| {
        spans
            .iter()
            .map(|s| proto::BucketSpan {
                offset: s.offset,
                length: s.length,
            })
            .collect()
    };
    let mut m = proto::Histogram {
        sum: h.sum,
        schema: h.schema,
        zero_threshold: h.zero_threshold,
        negative_spans: spans(&h.negative_spans),
        positive_spans: spans(&h.positive_spans),
        reset_hint: h.reset_hint.to_proto(),
        timestamp: h.timestamp_ms,
        custom_values: h.custom_values.clone(),
        ..Default::default()
    };
    match &h.counts {
        Counts::Integer {
            count,
            zero_count,
            positive_deltas,
            negative_deltas,
        } => {
            m.count = Some(Count::CountInt(*count));
            m.zero_count = Some(ZeroCount::ZeroCountInt(*zero_count));
            m.positive_deltas = positive_deltas.clone();
            m.negative_deltas = negative_deltas.clone();
        }
        Counts::Float {
            count,
            zero_count,
            positive_counts,
            negative_counts,
        } => {
            m.count = Some(Count::CountFloat(*count));
            m.zero_count = Some(ZeroCount::ZeroCountFloat(*zero_count));
            m.positive_counts = positive_counts.clone();
            m.negative_counts = negative_counts.clone();
        }
    }
    m
}

/// prost's message as a histogram, as Prometheus reads it: for clients of the read
/// answers, and the reference the hand-written decoder is held to.
pub fn from_proto(m: &proto::Histogram) -> Histogram {
    use proto::histogram::{Count, ZeroCount};
    let spans = |spans: &[proto::BucketSpan]| {
        spans
            .iter()
            .map(|s| Span {
                offset: s.offset,
                length: s.length,
            })
            .collect()
    };
    let counts = match m.count {
        Some(Count::CountFloat(count)) => Counts::Float {
            count,
            zero_count: match m.zero_count {
                Some(ZeroCount::ZeroCountFloat(z)) => z,
                Some(ZeroCount::ZeroCountInt(z)) => z as f64,
                None => 0.0,
            },
            positive_counts: m.positive_counts.clone(),
            negative_counts: m.negative_counts.clone(),
        },
        Some(Count::CountInt(_)) | None => Counts::Integer {
            count: match m.count {
                Some(Count::CountInt(c)) => c,
                _ => 0,
            },
            zero_count: match m.zero_count {
                Some(ZeroCount::ZeroCountInt(z)) => z,
                _ => 0,
            },
            positive_deltas: m.positive_deltas.clone(),
            negative_deltas: m.negative_deltas.clone(),
        },
    };
    Histogram {
        timestamp_ms: m.timestamp,
        schema: m.schema,
        zero_threshold: m.zero_threshold,
        sum: m.sum,
        counts,
        positive_spans: spans(&m.positive_spans),
        negative_spans: spans(&m.negative_spans),
        reset_hint: ResetHint::from_proto(m.reset_hint),
        custom_values: m.custom_values.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    fn samples() -> Vec<Histogram> {
        crate::fixtures::histograms()
    }

    #[test]
    fn decodes_what_prost_encodes_bit_for_bit() {
        for h in samples() {
            let bytes = to_proto(&h).encode_to_vec();
            let back = decode(&bytes).unwrap();
            assert!(back.same_bits(&h), "{h:?} came back as {back:?}");
            let prost = proto::Histogram::decode(bytes.as_slice()).unwrap();
            assert!(from_proto(&prost).same_bits(&h));
        }
    }

    #[test]
    fn unpacked_repeated_fields_and_defaults_read_as_prost_reads_them() {
        // positive_deltas (12) as two unpacked sint64s 1 and -1, custom_values (16) as
        // one unpacked double, and nothing else: an integer histogram with zero counts.
        let mut bytes = vec![0x60, 2, 0x60, 1];
        bytes.extend([0x81, 0x01]);
        bytes.extend(2.5f64.to_le_bytes());
        let ours = decode(&bytes).unwrap();
        let prost = proto::Histogram::decode(bytes.as_slice()).unwrap();
        assert!(ours.same_bits(&from_proto(&prost)));
        assert_eq!(
            ours.counts,
            Counts::Integer {
                count: 0,
                zero_count: 0,
                positive_deltas: vec![1, -1],
                negative_deltas: vec![]
            }
        );
        assert_eq!(ours.custom_values, [2.5]);
    }

    #[test]
    fn every_truncation_is_an_error_or_what_prost_reads() {
        for h in samples() {
            let bytes = to_proto(&h).encode_to_vec();
            for end in 0..bytes.len() {
                let cut = &bytes[..end];
                match (decode(cut), proto::Histogram::decode(cut)) {
                    (Ok(ours), Ok(prost)) => {
                        assert!(ours.same_bits(&from_proto(&prost)), "cut at {end}")
                    }
                    (Err(_), Err(_)) => {}
                    (ours, prost) => panic!("cut at {end}: ours {ours:?}, prost {prost:?}"),
                }
            }
        }
    }
}
