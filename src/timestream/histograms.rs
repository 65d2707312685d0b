//! The documented form of native histograms in Timestream.
//!
//! A histogram sample is one multi-measure record of its series: the metric name is the
//! measure name, the labels are the dimensions, as for float samples, and the fields
//! are measures:
//!
//! | measure | type | holds |
//! |---|---|---|
//! | `__schema` | BIGINT | the schema: −4…8, or −53 for custom bounds; never NULL in a histogram row |
//! | `__sum` | DOUBLE | the sum |
//! | `__count`, `__zero_count` | BIGINT | integer histograms' counts (unsigned 64-bit, read as signed) |
//! | `__count_float`, `__zero_count_float` | DOUBLE | float histograms' counts |
//! | `__zero_threshold` | DOUBLE | the zero bucket's width; absent when 0 |
//! | `__positive_spans`, `__negative_spans` | VARCHAR | `offset:length` runs, comma-separated; absent when none |
//! | `__positive_deltas`, `__negative_deltas` | VARCHAR | integer histograms' buckets, each the difference to the one before (Prometheus' own encoding), comma-separated |
//! | `__positive_counts`, `__negative_counts` | VARCHAR | float histograms' bucket counts, comma-separated |
//! | `__custom_values` | VARCHAR | custom bucket bounds (schema −53), comma-separated |
//! | `__reset_hint` | VARCHAR | `yes`, `no` or `gauge`; absent when unknown |
//!
//! A DOUBLE that is NaN or ±Inf (a staleness marker is a histogram whose sum is the
//! stale NaN) goes in `<measure>_bits` as a BIGINT holding its IEEE 754 bits instead.
//! Numbers in lists are written in their shortest text that reads back to the same
//! value, a NaN or ±Inf as `0x` and the 16 hex digits of its bits. So every field
//! comes back exactly, and a table query tells histogram rows by
//! `"__schema" IS NOT NULL`. Measure names start with `__`, which Prometheus keeps
//! for itself in label names; a series with a label of one of these names is skipped
//! as reserved, so they cannot meet a dimension.
//!
//! A histogram whose record would be over Timestream's 2 KiB is not written, and is
//! counted as too large (a few hundred buckets of float counts).
//!
//! Pure: histograms in, measures out, and back.

use std::fmt::Write as _;

use thiserror::Error;

use crate::histogram::{Counts, Histogram, ResetHint, Span};

/// The measure that every histogram record has, and no float sample's record.
pub const SCHEMA: &str = "__schema";
const SUM: &str = "__sum";
const COUNT: &str = "__count";
const ZERO_COUNT: &str = "__zero_count";
const COUNT_FLOAT: &str = "__count_float";
const ZERO_COUNT_FLOAT: &str = "__zero_count_float";
const ZERO_THRESHOLD: &str = "__zero_threshold";
const POSITIVE_SPANS: &str = "__positive_spans";
const NEGATIVE_SPANS: &str = "__negative_spans";
const POSITIVE_DELTAS: &str = "__positive_deltas";
const NEGATIVE_DELTAS: &str = "__negative_deltas";
const POSITIVE_COUNTS: &str = "__positive_counts";
const NEGATIVE_COUNTS: &str = "__negative_counts";
const CUSTOM_VALUES: &str = "__custom_values";
const RESET_HINT: &str = "__reset_hint";
const SUM_BITS: &str = "__sum_bits";
const COUNT_FLOAT_BITS: &str = "__count_float_bits";
const ZERO_COUNT_FLOAT_BITS: &str = "__zero_count_float_bits";
const ZERO_THRESHOLD_BITS: &str = "__zero_threshold_bits";

/// Every measure of the form, in the order a read selects them.
pub const MEASURES: [&str; 19] = [
    SCHEMA,
    SUM,
    COUNT,
    ZERO_COUNT,
    COUNT_FLOAT,
    ZERO_COUNT_FLOAT,
    ZERO_THRESHOLD,
    POSITIVE_SPANS,
    NEGATIVE_SPANS,
    POSITIVE_DELTAS,
    NEGATIVE_DELTAS,
    POSITIVE_COUNTS,
    NEGATIVE_COUNTS,
    CUSTOM_VALUES,
    RESET_HINT,
    SUM_BITS,
    COUNT_FLOAT_BITS,
    ZERO_COUNT_FLOAT_BITS,
    ZERO_THRESHOLD_BITS,
];

/// A measure's Timestream type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MeasureType {
    Double,
    Bigint,
    Varchar,
}

impl MeasureType {
    pub fn as_str(self) -> &'static str {
        match self {
            MeasureType::Double => "DOUBLE",
            MeasureType::Bigint => "BIGINT",
            MeasureType::Varchar => "VARCHAR",
        }
    }

    /// Bytes Timestream meters for a value of this type whose text is `text`.
    pub fn metered_bytes(self, text: &str) -> usize {
        match self {
            MeasureType::Double | MeasureType::Bigint => 8,
            MeasureType::Varchar => text.len(),
        }
    }
}

/// One measure of a stored histogram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Measure {
    pub name: &'static str,
    pub kind: MeasureType,
    pub value: String,
}

/// A histogram in its stored form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub timestamp_ms: i64,
    pub measures: Vec<Measure>,
}

impl Stored {
    /// Bytes Timestream meters for the measures: each one's name and value.
    pub fn metered_bytes(&self) -> usize {
        self.measures
            .iter()
            .map(|m| m.name.len() + m.kind.metered_bytes(&m.value))
            .sum()
    }
}

/// `h` as measures.
pub fn encode(h: &Histogram) -> Stored {
    let mut measures = Vec::with_capacity(8);
    measures.push(bigint(SCHEMA, i64::from(h.schema)));
    measures.push(double(SUM, SUM_BITS, h.sum));
    if h.zero_threshold.to_bits() != 0 {
        measures.push(double(
            ZERO_THRESHOLD,
            ZERO_THRESHOLD_BITS,
            h.zero_threshold,
        ));
    }
    let (positive, negative) = match &h.counts {
        Counts::Integer {
            count,
            zero_count,
            positive_deltas,
            negative_deltas,
        } => {
            measures.push(bigint(COUNT, *count as i64));
            if *zero_count != 0 {
                measures.push(bigint(ZERO_COUNT, *zero_count as i64));
            }
            let deltas = |d: &[i64]| list(d, |out, d| write!(out, "{d}"));
            (
                (POSITIVE_DELTAS, deltas(positive_deltas)),
                (NEGATIVE_DELTAS, deltas(negative_deltas)),
            )
        }
        Counts::Float {
            count,
            zero_count,
            positive_counts,
            negative_counts,
        } => {
            measures.push(double(COUNT_FLOAT, COUNT_FLOAT_BITS, *count));
            if zero_count.to_bits() != 0 {
                measures.push(double(ZERO_COUNT_FLOAT, ZERO_COUNT_FLOAT_BITS, *zero_count));
            }
            (
                (POSITIVE_COUNTS, list(positive_counts, float_text)),
                (NEGATIVE_COUNTS, list(negative_counts, float_text)),
            )
        }
    };
    let spans = |spans: &[Span]| list(spans, |out, s| write!(out, "{}:{}", s.offset, s.length));
    for (name, text) in [
        (POSITIVE_SPANS, spans(&h.positive_spans)),
        (NEGATIVE_SPANS, spans(&h.negative_spans)),
        positive,
        negative,
        (CUSTOM_VALUES, list(&h.custom_values, float_text)),
    ] {
        if !text.is_empty() {
            measures.push(varchar(name, text));
        }
    }
    let hint = match h.reset_hint {
        ResetHint::Unknown => None,
        ResetHint::Yes => Some("yes"),
        ResetHint::No => Some("no"),
        ResetHint::Gauge => Some("gauge"),
    };
    if let Some(hint) = hint {
        measures.push(varchar(RESET_HINT, hint.to_string()));
    }
    Stored {
        timestamp_ms: h.timestamp_ms,
        measures,
    }
}

/// A DOUBLE measure, or its bits under `bits_name` when Timestream cannot store it.
fn double(name: &'static str, bits_name: &'static str, value: f64) -> Measure {
    if value.is_finite() {
        Measure {
            name,
            kind: MeasureType::Double,
            value: ryu::Buffer::new().format_finite(value).to_string(),
        }
    } else {
        bigint(bits_name, value.to_bits() as i64)
    }
}

fn bigint(name: &'static str, value: i64) -> Measure {
    Measure {
        name,
        kind: MeasureType::Bigint,
        value: value.to_string(),
    }
}

fn varchar(name: &'static str, value: String) -> Measure {
    Measure {
        name,
        kind: MeasureType::Varchar,
        value,
    }
}

fn list<T>(items: &[T], mut write: impl FnMut(&mut String, &T) -> std::fmt::Result) -> String {
    let mut out = String::new();
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write(&mut out, item).expect("writing to a String cannot fail");
    }
    out
}

/// The shortest text that reads back as `value`; a NaN or ±Inf as `0x` and its 16 hex
/// digits of bits, which keeps a NaN's payload.
fn float_text(out: &mut String, value: &f64) -> std::fmt::Result {
    if value.is_finite() {
        out.push_str(ryu::Buffer::new().format_finite(*value));
        Ok(())
    } else {
        write!(out, "0x{:016x}", value.to_bits())
    }
}

/// A number of a list, as [`float_text`] writes it.
fn parse_float(text: &str) -> Option<f64> {
    match text.strip_prefix("0x") {
        Some(bits) if bits.len() == 16 => u64::from_str_radix(bits, 16).ok().map(f64::from_bits),
        Some(_) => None,
        None => text.parse().ok(),
    }
}

#[derive(Debug, Error, PartialEq, Eq)]
#[error("histogram measure {measure} holds {value:?}, which is not in the documented form")]
pub struct DecodeError {
    pub measure: &'static str,
    pub value: String,
}

/// The histogram at `timestamp_ms` whose measures [`MEASURES`] are `cells`, in that
/// order (NULL as `None`); `None` when `__schema` is NULL, a row that is not a
/// histogram.
pub fn decode(
    timestamp_ms: i64,
    cells: &[Option<&str>; MEASURES.len()],
) -> Result<Option<Histogram>, DecodeError> {
    let cell = |name: &'static str| {
        let i = MEASURES.iter().position(|m| *m == name).expect("a measure");
        cells[i].map(|value| (name, value))
    };
    let Some(schema) = cell(SCHEMA) else {
        return Ok(None);
    };
    let bad = |(measure, value): (&'static str, &str)| DecodeError {
        measure,
        value: value.to_string(),
    };
    let number = |c: (&'static str, &str)| c.1.parse::<f64>().map_err(|_| bad(c));
    let integer = |c: (&'static str, &str)| c.1.parse::<i64>().map_err(|_| bad(c));
    // A DOUBLE, or its bits in the other measure; absent is `default`.
    let double = |name, bits_name, default: f64| match (cell(name), cell(bits_name)) {
        (Some(c), _) => number(c),
        (None, Some(c)) => Ok(f64::from_bits(integer(c)? as u64)),
        (None, None) => Ok(default),
    };
    let floats = |name| read_list(cell(name), parse_float);
    let span = |i: &str| {
        let (offset, length) = i.split_once(':')?;
        Some(Span {
            offset: offset.parse().ok()?,
            length: length.parse().ok()?,
        })
    };
    let counts = match cell(COUNT) {
        Some(count) => {
            let deltas = |name| read_list(cell(name), |i| i.parse::<i64>().ok());
            Counts::Integer {
                count: integer(count)? as u64,
                zero_count: cell(ZERO_COUNT).map_or(Ok(0), integer)? as u64,
                positive_deltas: deltas(POSITIVE_DELTAS)?,
                negative_deltas: deltas(NEGATIVE_DELTAS)?,
            }
        }
        None => Counts::Float {
            count: double(COUNT_FLOAT, COUNT_FLOAT_BITS, 0.0)?,
            zero_count: double(ZERO_COUNT_FLOAT, ZERO_COUNT_FLOAT_BITS, 0.0)?,
            positive_counts: floats(POSITIVE_COUNTS)?,
            negative_counts: floats(NEGATIVE_COUNTS)?,
        },
    };
    let reset_hint = match cell(RESET_HINT) {
        None => ResetHint::Unknown,
        Some((_, "yes")) => ResetHint::Yes,
        Some((_, "no")) => ResetHint::No,
        Some((_, "gauge")) => ResetHint::Gauge,
        Some(c) => return Err(bad(c)),
    };
    Ok(Some(Histogram {
        timestamp_ms,
        schema: i32::try_from(integer(schema)?).map_err(|_| bad(schema))?,
        zero_threshold: double(ZERO_THRESHOLD, ZERO_THRESHOLD_BITS, 0.0)?,
        sum: double(SUM, SUM_BITS, 0.0)?,
        counts,
        positive_spans: read_list(cell(POSITIVE_SPANS), span)?,
        negative_spans: read_list(cell(NEGATIVE_SPANS), span)?,
        reset_hint,
        custom_values: floats(CUSTOM_VALUES)?,
    }))
}

/// The items of a list measure (`measure`, its text), each read by `parse`; none when
/// the measure is absent.
fn read_list<T>(
    cell: Option<(&'static str, &str)>,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<Vec<T>, DecodeError> {
    let Some((measure, text)) = cell else {
        return Ok(Vec::new());
    };
    text.split(',')
        .map(|item| {
            parse(item).ok_or_else(|| DecodeError {
                measure,
                value: text.to_string(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The measures of `stored` as the cells a read selects.
    fn cells(stored: &Stored) -> [Option<&str>; MEASURES.len()] {
        let mut cells = [None; MEASURES.len()];
        for m in &stored.measures {
            let i = MEASURES.iter().position(|n| *n == m.name).unwrap();
            assert!(cells[i].is_none(), "{} twice", m.name);
            cells[i] = Some(m.value.as_str());
        }
        cells
    }

    fn examples() -> Vec<Histogram> {
        let mut examples = crate::fixtures::histograms();
        examples.push(Histogram {
            sum: f64::NAN,
            zero_threshold: -0.0,
            counts: Counts::Float {
                count: f64::INFINITY,
                zero_count: f64::from_bits(0xfff0_0000_0000_0007),
                positive_counts: vec![1e-300, 5e300, 0.1 + 0.2, f64::MIN_POSITIVE],
                negative_counts: vec![-0.0, f64::from_bits(0x7ff8_0000_0000_0042), f64::INFINITY],
            },
            ..Histogram::default()
        });
        examples.push(Histogram {
            counts: Counts::Integer {
                count: u64::MAX,
                zero_count: 1 << 63,
                positive_deltas: vec![i64::MIN, i64::MAX],
                negative_deltas: vec![],
            },
            negative_spans: vec![Span {
                offset: i32::MIN,
                length: u32::MAX,
            }],
            schema: 8,
            ..Histogram::default()
        });
        examples
    }

    #[test]
    fn every_field_comes_back_bit_for_bit() {
        for h in examples() {
            let stored = encode(&h);
            let back = decode(h.timestamp_ms, &cells(&stored)).unwrap().unwrap();
            assert!(back.same_bits(&h), "{h:?}\n{stored:?}\n{back:?}");
        }
    }

    #[test]
    fn the_form_is_the_documented_one() {
        let h = &crate::fixtures::histograms()[0];
        let stored = encode(h);
        let text: Vec<(&str, &str, &str)> = stored
            .measures
            .iter()
            .map(|m| (m.name, m.kind.as_str(), m.value.as_str()))
            .collect();
        assert_eq!(
            text,
            [
                ("__schema", "BIGINT", "3"),
                ("__sum", "DOUBLE", "18.4"),
                ("__zero_threshold", "DOUBLE", "1e-128"),
                ("__count", "BIGINT", "12"),
                ("__zero_count", "BIGINT", "2"),
                ("__positive_spans", "VARCHAR", "-2:2,3:1"),
                ("__negative_spans", "VARCHAR", "-2:2,3:1"),
                ("__positive_deltas", "VARCHAR", "1,2,-1"),
                ("__negative_deltas", "VARCHAR", "3,-3,1"),
                ("__reset_hint", "VARCHAR", "no"),
            ]
        );
        // Names and values: 8+1 + 5+8 + 16+8 + 7+8 + 12+8 + 16+8 + 16+8 + 17+6 + 17+6 + 12+2.
        assert_eq!(stored.metered_bytes(), 196);
        let stale = encode(&crate::fixtures::histograms()[3]);
        assert_eq!(stale.measures[1].name, "__sum_bits");
        assert_eq!(
            stale.measures[1].value,
            (crate::series::STALE_NAN_BITS as i64).to_string()
        );
    }

    #[test]
    fn rows_that_are_not_histograms_or_not_ours_say_so() {
        assert_eq!(decode(0, &[None; MEASURES.len()]), Ok(None));
        let mut cells = [None; MEASURES.len()];
        cells[0] = Some("0");
        cells[2] = Some("3");
        cells[9] = Some("1,x");
        assert_eq!(
            decode(0, &cells).unwrap_err(),
            DecodeError {
                measure: POSITIVE_DELTAS,
                value: "1,x".into()
            }
        );
        cells[9] = None;
        cells[14] = Some("maybe");
        assert!(decode(0, &cells).is_err());
    }
}
