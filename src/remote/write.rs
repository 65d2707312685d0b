//! A borrowing decoder for `prometheus.WriteRequest` (remote write 1.0).
//!
//! Label names and values are `&str` slices of the decompressed body: a request costs
//! three vector allocations, whatever its number of labels. `tests` at the bottom checks
//! it against prost's decoding of the same bytes, which is the reference.
//!
//! Read: timeseries (labels, samples, native histograms, exemplars). Skipped: metadata,
//! and any field a newer Prometheus may add.

use super::wire::{expect, Reader, FIXED64, LEN, VARINT};
use super::DecodeError;
use crate::series::{Exemplar, Label, Sample, SeriesBatch, SeriesRange};

// Field numbers of prometheus.WriteRequest, TimeSeries, Label and Sample.
const WRITE_REQUEST_TIMESERIES: u32 = 1;
const SERIES_LABELS: u32 = 1;
const SERIES_SAMPLES: u32 = 2;
const SERIES_EXEMPLARS: u32 = 3;
const SERIES_HISTOGRAMS: u32 = 4;
const EXEMPLAR_LABELS: u32 = 1;
const EXEMPLAR_VALUE: u32 = 2;
const EXEMPLAR_TIMESTAMP: u32 = 3;
const LABEL_NAME: u32 = 1;
const LABEL_VALUE: u32 = 2;
const SAMPLE_VALUE: u32 = 1;
const SAMPLE_TIMESTAMP: u32 = 2;

/// Decodes an uncompressed WriteRequest.
///
/// Indices are `u32`: the body is at most [`super::snappy::MAX_DECODED_BYTES`] and every
/// label or sample takes at least two bytes, so no count comes near `u32::MAX`.
pub fn decode(buf: &[u8]) -> Result<SeriesBatch<'_>, DecodeError> {
    // Sized from typical Prometheus requests (25 to 30 bytes a label, 150 a series) so
    // that most never regrow their arrays: a regrowth copies megabytes for large ones.

    let mut batch = SeriesBatch::with_capacity(buf.len() / 128, buf.len() / 24, buf.len() / 96);

    let mut reader = Reader::new(buf);
    while !reader.is_empty() {
        let (field, wire_type) = reader.key()?;
        if field == WRITE_REQUEST_TIMESERIES {
            expect(field, wire_type, LEN)?;
            decode_series(reader.bytes()?, &mut batch)?;
        } else {
            reader.skip(wire_type)?;
        }
    }
    Ok(batch)
}

fn decode_series<'a>(buf: &'a [u8], batch: &mut SeriesBatch<'a>) -> Result<(), DecodeError> {
    let label_start = batch.labels.len() as u32;
    let sample_start = batch.samples.len() as u32;
    let histogram_start = batch.histograms.len() as u32;
    let exemplar_start = batch.exemplars.len() as u32;
    let mut reader = Reader::new(buf);
    while !reader.is_empty() {
        let (field, wire_type) = reader.key()?;
        match field {
            SERIES_LABELS => {
                expect(field, wire_type, LEN)?;
                batch.labels.push(decode_label(reader.bytes()?)?);
            }
            SERIES_SAMPLES => {
                expect(field, wire_type, LEN)?;
                batch.samples.push(decode_sample(reader.bytes()?)?);
            }
            _ => rare_field(field, wire_type, &mut reader, batch)?,
        }
    }
    batch.series.push(SeriesRange {
        labels: label_start..batch.labels.len() as u32,
        samples: sample_start..batch.samples.len() as u32,
        histograms: histogram_start..batch.histograms.len() as u32,
        exemplars: exemplar_start..batch.exemplars.len() as u32,
    });
    Ok(())
}

/// A series field other than labels and samples: native histograms, exemplars, and
/// fields this decoder skips. Kept out of the series loop, which is hot.
#[cold]
#[inline(never)]
fn rare_field<'a>(
    field: u32,
    wire_type: u8,
    reader: &mut Reader<'a>,
    batch: &mut SeriesBatch<'a>,
) -> Result<(), DecodeError> {
    match field {
        SERIES_HISTOGRAMS => {
            expect(field, wire_type, LEN)?;
            batch
                .histograms
                .push(super::histogram::decode(reader.bytes()?)?);
        }
        SERIES_EXEMPLARS => {
            expect(field, wire_type, LEN)?;
            decode_exemplar(reader.bytes()?, batch)?;
        }
        _ => reader.skip(wire_type)?,
    }
    Ok(())
}

fn decode_exemplar<'a>(buf: &'a [u8], batch: &mut SeriesBatch<'a>) -> Result<(), DecodeError> {
    let label_start = batch.exemplar_labels.len() as u32;
    let mut exemplar = Exemplar {
        labels: 0..0,
        value: 0.0,
        timestamp_ms: 0,
    };
    let mut reader = Reader::new(buf);
    while !reader.is_empty() {
        let (field, wire_type) = reader.key()?;
        match field {
            EXEMPLAR_LABELS => {
                expect(field, wire_type, LEN)?;
                batch.exemplar_labels.push(decode_label(reader.bytes()?)?);
            }
            EXEMPLAR_VALUE => {
                expect(field, wire_type, FIXED64)?;
                exemplar.value = f64::from_bits(reader.fixed64()?);
            }
            EXEMPLAR_TIMESTAMP => {
                expect(field, wire_type, VARINT)?;
                exemplar.timestamp_ms = reader.varint()? as i64;
            }
            _ => reader.skip(wire_type)?,
        }
    }
    exemplar.labels = label_start..batch.exemplar_labels.len() as u32;
    batch.exemplars.push(exemplar);
    Ok(())
}

// Always inlined: it is the hot path of decoding, and a second caller (exemplars) made
// the compiler keep it out of line (write_path/decode 11% slower).
#[inline(always)]
fn decode_label(buf: &[u8]) -> Result<Label<'_>, DecodeError> {
    // Every encoder in practice writes name (tag 0x0a) then value (tag 0x12), each
    // shorter than 128 bytes: [0x0a, n, name…, 0x12, m, value…]. Read that shape
    // directly; anything else goes through the general loop below.
    if let [0x0a, n, rest @ ..] = buf {
        let n = usize::from(*n);
        if n < 0x80 && rest.len() > n + 1 && rest[n] == 0x12 {
            let m = usize::from(rest[n + 1]);
            if m < 0x80 && rest.len() == n + 2 + m {
                let (name, value) = (&rest[..n], &rest[n + 2..]);
                if rest.is_ascii() {
                    // Validating each string costs more than the rest of decoding
                    // together (docs/performance.md); one ASCII scan over the whole
                    // label proves both valid.
                    // SAFETY: `name` and `value` are sub-slices of `rest`, which is
                    // all ASCII, and ASCII is valid UTF-8.
                    let (name, value) = unsafe {
                        (
                            std::str::from_utf8_unchecked(name),
                            std::str::from_utf8_unchecked(value),
                        )
                    };
                    return Ok(Label { name, value });
                }
                return Ok(Label {
                    name: utf8(name)?,
                    value: utf8(value)?,
                });
            }
        }
    }
    let mut label = Label {
        name: "",
        value: "",
    };
    let mut reader = Reader::new(buf);
    while !reader.is_empty() {
        let (field, wire_type) = reader.key()?;
        match field {
            LABEL_NAME => {
                expect(field, wire_type, LEN)?;
                label.name = utf8(reader.bytes()?)?;
            }
            LABEL_VALUE => {
                expect(field, wire_type, LEN)?;
                label.value = utf8(reader.bytes()?)?;
            }
            _ => reader.skip(wire_type)?,
        }
    }
    Ok(label)
}

/// A Sample: 1.0's, and 2.0's, whose extra start timestamp is skipped.
#[inline]
pub(super) fn decode_sample(buf: &[u8]) -> Result<Sample, DecodeError> {
    let mut sample = Sample {
        value: 0.0,
        timestamp_ms: 0,
    };
    let mut reader = Reader::new(buf);
    while !reader.is_empty() {
        let (field, wire_type) = reader.key()?;
        match field {
            SAMPLE_VALUE => {
                expect(field, wire_type, FIXED64)?;
                sample.value = f64::from_bits(reader.fixed64()?);
            }
            SAMPLE_TIMESTAMP => {
                expect(field, wire_type, VARINT)?;
                // int64 on the wire is two's complement in a varint.
                sample.timestamp_ms = reader.varint()? as i64;
            }
            _ => reader.skip(wire_type)?,
        }
    }
    Ok(sample)
}

#[inline]
fn utf8(bytes: &[u8]) -> Result<&str, DecodeError> {
    std::str::from_utf8(bytes).map_err(|_| DecodeError::Utf8)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remote::proto;
    use prost::Message;

    fn label(name: &str, value: &str) -> proto::Label {
        proto::Label {
            name: name.into(),
            value: value.into(),
        }
    }

    fn fixture() -> proto::WriteRequest {
        proto::WriteRequest {
            timeseries: vec![
                proto::TimeSeries {
                    labels: vec![
                        label("__name__", "up"),
                        label("job", "näive ✓"),
                        label("empty", ""),
                    ],
                    samples: vec![
                        proto::Sample {
                            value: 1.0,
                            timestamp: 1_700_000_000_000,
                        },
                        proto::Sample {
                            value: f64::from_bits(crate::series::STALE_NAN_BITS),
                            timestamp: -5,
                        },
                    ],
                    exemplars: vec![proto::Exemplar {
                        labels: vec![label("trace_id", "abc")],
                        value: 2.0,
                        timestamp: 3,
                    }],
                    histograms: crate::fixtures::histograms()
                        .iter()
                        .map(crate::remote::histogram::to_proto)
                        .collect(),
                },
                proto::TimeSeries::default(),
                proto::TimeSeries {
                    labels: vec![label("__name__", "x")],
                    samples: vec![proto::Sample {
                        value: 1e-300,
                        timestamp: 0,
                    }],
                    exemplars: vec![],
                    histograms: vec![],
                },
            ],
            metadata: vec![proto::MetricMetadata {
                r#type: 1,
                metric_family_name: "up".into(),
                help: "h".into(),
                unit: "".into(),
            }],
        }
    }

    /// The decoder must give exactly what prost gives for the same bytes.
    fn assert_same_as_prost(bytes: &[u8]) {
        let reference = proto::WriteRequest::decode(bytes).expect("prost decodes the fixture");
        let batch = decode(bytes).expect("fast decoder decodes the fixture");
        assert_eq!(batch.len(), reference.timeseries.len());
        for (ours, theirs) in batch.iter().zip(&reference.timeseries) {
            let labels: Vec<_> = ours.labels.iter().map(|l| (l.name, l.value)).collect();
            let expected: Vec<_> = theirs
                .labels
                .iter()
                .map(|l| (&*l.name, &*l.value))
                .collect();
            assert_eq!(labels, expected);
            let samples: Vec<_> = ours
                .samples
                .iter()
                .map(|s| (s.value.to_bits(), s.timestamp_ms))
                .collect();
            let expected: Vec<_> = theirs
                .samples
                .iter()
                .map(|s| (s.value.to_bits(), s.timestamp))
                .collect();
            assert_eq!(samples, expected);
            let exemplars: Vec<_> = ours
                .exemplars
                .iter()
                .map(|e| {
                    let labels: Vec<_> = ours
                        .exemplar_labels(e)
                        .iter()
                        .map(|l| (l.name.to_string(), l.value.to_string()))
                        .collect();
                    (labels, e.value.to_bits(), e.timestamp_ms)
                })
                .collect();
            let expected: Vec<_> = theirs
                .exemplars
                .iter()
                .map(|e| {
                    let labels: Vec<_> = e
                        .labels
                        .iter()
                        .map(|l| (l.name.clone(), l.value.clone()))
                        .collect();
                    (labels, e.value.to_bits(), e.timestamp)
                })
                .collect();
            assert_eq!(exemplars, expected);
            assert_eq!(ours.histograms.len(), theirs.histograms.len());
            for (ours, theirs) in ours.histograms.iter().zip(&theirs.histograms) {
                let theirs = crate::remote::histogram::from_proto(theirs);
                assert!(ours.same_bits(&theirs), "{ours:?} {theirs:?}");
            }
        }
    }

    #[test]
    fn matches_prost_on_fixture() {
        assert_same_as_prost(&fixture().encode_to_vec());
    }

    #[test]
    fn matches_prost_on_generated_requests() {
        let bytes = crate::fixtures::write_request(500, 6, 3).encode_to_vec();
        assert_same_as_prost(&bytes);
    }

    #[test]
    fn empty_and_metadata_only_requests_have_no_series() {
        assert!(decode(&[]).unwrap().is_empty());
        let metadata_only = proto::WriteRequest {
            timeseries: vec![],
            metadata: fixture().metadata,
        };
        assert!(decode(&metadata_only.encode_to_vec()).unwrap().is_empty());
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        let bytes = fixture().encode_to_vec();
        for cut in 0..bytes.len() {
            // A cut may land on a field boundary and still be a valid (shorter) message;
            // what matters is that no prefix panics and that prost agrees on validity.
            let ours = decode(&bytes[..cut]).is_ok();
            let theirs = proto::WriteRequest::decode(&bytes[..cut]).is_ok();
            assert_eq!(ours, theirs, "disagreement on a {cut}-byte prefix");
        }
    }

    #[test]
    fn refuses_invalid_utf8_in_labels() {
        let mut bytes = proto::WriteRequest {
            timeseries: vec![proto::TimeSeries {
                labels: vec![label("__name__", "abc")],
                ..Default::default()
            }],
            metadata: vec![],
        }
        .encode_to_vec();
        let at = bytes.len() - 1;
        bytes[at] = 0xff;
        assert_eq!(decode(&bytes).unwrap_err(), DecodeError::Utf8);
    }

    #[test]
    fn refuses_wrong_wire_types() {
        // Field 1 (timeseries) sent as a varint.
        assert!(matches!(
            decode(&[0x08, 0x01]),
            Err(DecodeError::UnexpectedWireType { field: 1, .. })
        ));
        assert_eq!(
            decode(&[0x2b]).unwrap_err(),
            DecodeError::WireType(3),
            "unknown field 5 with wire type 3"
        );
    }

    #[test]
    fn labels_in_any_field_order_or_with_long_text_decode_alike() {
        // Value before name, a repeated name (the last wins, as in prost), a 200-byte
        // value (two-byte length): none takes the fast path.
        let long = "v".repeat(200);
        let mut label = vec![0x12, 0x01, b'x', 0x0a, 0x01, b'a', 0x0a, 0x01, b'b'];
        let mut long_label = vec![0x0a, 0x01, b'n', 0x12, 0xc8, 0x01];
        long_label.extend_from_slice(long.as_bytes());
        let mut series = vec![0x0a, label.len() as u8];
        series.append(&mut label);
        series.extend_from_slice(&[0x0a, long_label.len() as u8, 0x01]);
        series.append(&mut long_label);
        let mut bytes = vec![0x0a, 0xff, 0x01];
        bytes[1] = 0x80 | (series.len() as u8 & 0x7f);
        bytes[2] = (series.len() >> 7) as u8;
        bytes.extend_from_slice(&series);
        assert_same_as_prost(&bytes);
        let batch = decode(&bytes).unwrap();
        assert_eq!(
            batch.labels[0],
            Label {
                name: "b",
                value: "x"
            }
        );
        assert_eq!(batch.labels[1].value, long);
    }

    #[test]
    fn negative_zero_survives() {
        // prost omits a proto3 double equal to 0.0, -0.0 included, but Go's encoder (and so
        // Prometheus) sends it: field 1 (fixed64) with -0.0's bits, field 2 (varint) = 1.
        let mut sample = vec![0x09];
        sample.extend_from_slice(&(-0.0f64).to_bits().to_le_bytes());
        sample.extend_from_slice(&[0x10, 0x01]);
        let mut series = vec![0x12, sample.len() as u8];
        series.extend_from_slice(&sample);
        let mut bytes = vec![0x0a, series.len() as u8];
        bytes.extend_from_slice(&series);
        let batch = decode(&bytes).unwrap();
        assert_eq!(batch.samples[0].value.to_bits(), (-0.0f64).to_bits());
        assert_eq!(batch.samples[0].timestamp_ms, 1);
    }

    #[test]
    fn reads_native_histograms() {
        // TimeSeries with one label and two histograms (field 4): an empty one, and one
        // with count_int (1) = 5.
        let series = [
            0x0a, 0x05, 0x0a, 0x01, b'a', 0x12, 0x00, 0x22, 0x00, 0x22, 0x02, 0x08, 0x05,
        ];
        let mut bytes = vec![0x0a, series.len() as u8];
        bytes.extend_from_slice(&series);
        let batch = decode(&bytes).unwrap();
        let histograms = batch.get(0).histograms;
        assert_eq!(histograms.len(), 2);
        assert_eq!(histograms[0], crate::histogram::Histogram::default());
        assert!(matches!(
            histograms[1].counts,
            crate::histogram::Counts::Integer { count: 5, .. }
        ));
        assert_eq!(batch.histogram_count(), 2);
        // A histogram cut short is a bad request, as a cut sample is.
        // (A histogram whose count_int has no value.)
        assert_eq!(
            decode(&[0x0a, 0x03, 0x22, 0x01, 0x08]).unwrap_err(),
            DecodeError::Truncated
        );
    }
}
