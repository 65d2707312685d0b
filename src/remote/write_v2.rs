//! A borrowing decoder for `io.prometheus.write.v2.Request` (remote write 2.0).
//!
//! Label names and values are `&str` slices of the request's symbols table, which are
//! slices of the decompressed body: as for 1.0, no allocation per label. The symbols
//! table may come before or after the series that refer to it (protobuf fields arrive
//! in any order), so it is read first, in a pass over the top-level fields only.
//! `tests` checks the decoder against prost's decoding of the same bytes.
//!
//! Read: symbols; each series' label references, samples, native histograms and
//! exemplars. Accepted and not kept: metadata (type, help, unit), created and start
//! timestamps, and fields a newer sender may add.

use super::wire::{expect, Reader, FIXED64, LEN, VARINT};
use super::write::decode_sample;
use super::DecodeError;
use crate::series::{Exemplar, Label, SeriesBatch, SeriesRange};

// Field numbers of io.prometheus.write.v2.Request and TimeSeries. A 2.0 Sample has 1.0's
// value and timestamp fields (and a start timestamp, skipped): 1.0's decoder reads it.
const REQUEST_SYMBOLS: u32 = 4;
const REQUEST_TIMESERIES: u32 = 5;
const SERIES_LABELS_REFS: u32 = 1;
const SERIES_SAMPLES: u32 = 2;
const SERIES_HISTOGRAMS: u32 = 3;
const SERIES_EXEMPLARS: u32 = 4;

/// A decoded 2.0 request.
#[derive(Debug, Default)]
pub struct Request<'a> {
    pub batch: SeriesBatch<'a>,
}

/// Why a 2.0 request's references do not hold together.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SymbolsError {
    #[error("remote write 2.0: the symbols table must start with the empty string")]
    FirstNotEmpty,
    #[error("remote write 2.0: series {series} has an odd number of label references")]
    OddLabelRefs { series: usize },
    #[error("remote write 2.0: series {series} refers to symbol {reference}, but the table has {symbols}")]
    OutOfRange {
        series: usize,
        reference: u64,
        symbols: usize,
    },
}

/// Decodes an uncompressed 2.0 Request.
pub fn decode(buf: &[u8]) -> Result<Request<'_>, DecodeError> {
    let mut symbols: Vec<&str> = Vec::new();
    let mut reader = Reader::new(buf);
    while !reader.is_empty() {
        let (field, wire_type) = reader.key()?;
        if field == REQUEST_SYMBOLS {
            expect(field, wire_type, LEN)?;
            let bytes = reader.bytes()?;
            symbols.push(std::str::from_utf8(bytes).map_err(|_| DecodeError::Utf8)?);
        } else {
            reader.skip(wire_type)?;
        }
    }
    if symbols.first().is_some_and(|s| !s.is_empty()) {
        return Err(SymbolsError::FirstNotEmpty.into());
    }

    let mut request = Request {
        batch: SeriesBatch::with_capacity(buf.len() / 64, buf.len() / 16, buf.len() / 64),
    };
    let mut reader = Reader::new(buf);
    while !reader.is_empty() {
        let (field, wire_type) = reader.key()?;
        if field == REQUEST_TIMESERIES {
            expect(field, wire_type, LEN)?;
            decode_series(reader.bytes()?, &symbols, &mut request)?;
        } else {
            reader.skip(wire_type)?;
        }
    }
    Ok(request)
}

fn decode_series<'a>(
    buf: &[u8],
    symbols: &[&'a str],
    request: &mut Request<'a>,
) -> Result<(), DecodeError> {
    let series_index = request.batch.series.len();
    let batch = &mut request.batch;
    let label_start = batch.labels.len() as u32;
    let sample_start = batch.samples.len() as u32;
    let histogram_start = batch.histograms.len() as u32;
    let exemplar_start = batch.exemplars.len() as u32;
    let mut refs = LabelRefs::new(symbols, series_index);
    let mut reader = Reader::new(buf);
    while !reader.is_empty() {
        let (field, wire_type) = reader.key()?;
        match (field, wire_type) {
            (SERIES_LABELS_REFS, _) => {
                refs.read(&mut reader, field, wire_type, &mut batch.labels)?
            }
            (SERIES_SAMPLES, _) => {
                expect(field, wire_type, LEN)?;
                batch.samples.push(decode_sample(reader.bytes()?)?);
            }
            (SERIES_HISTOGRAMS, _) => {
                expect(field, wire_type, LEN)?;
                batch
                    .histograms
                    .push(super::histogram::decode(reader.bytes()?)?);
            }
            (SERIES_EXEMPLARS, _) => {
                expect(field, wire_type, LEN)?;
                decode_exemplar(reader.bytes()?, series_index, symbols, batch)?;
            }
            _ => reader.skip(wire_type)?,
        }
    }
    refs.finish()?;
    // Senders should sort labels by name; the plan relies on it, so make sure.
    let labels = &mut batch.labels[label_start as usize..];
    if !labels.is_sorted_by(|a, b| a.name <= b.name) {
        labels.sort_by(|a, b| a.name.cmp(b.name));
    }
    batch.series.push(SeriesRange {
        labels: label_start..batch.labels.len() as u32,
        samples: sample_start..batch.samples.len() as u32,
        histograms: histogram_start..batch.histograms.len() as u32,
        exemplars: exemplar_start..batch.exemplars.len() as u32,
    });
    Ok(())
}

// Field numbers of io.prometheus.write.v2.Exemplar.
const EXEMPLAR_LABELS_REFS: u32 = 1;
const EXEMPLAR_VALUE: u32 = 2;
const EXEMPLAR_TIMESTAMP: u32 = 3;

fn decode_exemplar<'a>(
    buf: &[u8],
    series_index: usize,
    symbols: &[&'a str],
    batch: &mut SeriesBatch<'a>,
) -> Result<(), DecodeError> {
    let label_start = batch.exemplar_labels.len() as u32;
    let mut exemplar = Exemplar {
        labels: 0..0,
        value: 0.0,
        timestamp_ms: 0,
    };
    let mut refs = LabelRefs::new(symbols, series_index);
    let mut reader = Reader::new(buf);
    while !reader.is_empty() {
        let (field, wire_type) = reader.key()?;
        match (field, wire_type) {
            (EXEMPLAR_LABELS_REFS, _) => {
                refs.read(&mut reader, field, wire_type, &mut batch.exemplar_labels)?
            }
            (EXEMPLAR_VALUE, _) => {
                expect(field, wire_type, FIXED64)?;
                exemplar.value = f64::from_bits(reader.fixed64()?);
            }
            (EXEMPLAR_TIMESTAMP, _) => {
                expect(field, wire_type, VARINT)?;
                exemplar.timestamp_ms = reader.varint()? as i64;
            }
            _ => reader.skip(wire_type)?,
        }
    }
    refs.finish()?;
    exemplar.labels = label_start..batch.exemplar_labels.len() as u32;
    batch.exemplars.push(exemplar);
    Ok(())
}

/// Label references (of a series, or of an exemplar of series `series`) turned into
/// labels: each pair of references is a name and a value in the symbols table.
struct LabelRefs<'s, 'a> {
    symbols: &'s [&'a str],
    series: usize,
    /// A name waiting for its value.
    name: Option<&'a str>,
}

impl<'s, 'a> LabelRefs<'s, 'a> {
    fn new(symbols: &'s [&'a str], series: usize) -> Self {
        LabelRefs {
            symbols,
            series,
            name: None,
        }
    }

    /// Reads a `labels_refs` field: packed (the proto3 default), or one reference per
    /// field as protobuf also allows for a repeated scalar.
    fn read(
        &mut self,
        reader: &mut Reader<'_>,
        field: u32,
        wire_type: u8,
        labels: &mut Vec<Label<'a>>,
    ) -> Result<(), DecodeError> {
        if wire_type == LEN {
            let mut refs = Reader::new(reader.bytes()?);
            while !refs.is_empty() {
                self.pair_up(refs.varint()?, labels)?;
            }
            return Ok(());
        }
        expect(field, wire_type, VARINT)?;
        self.pair_up(reader.varint()?, labels)
    }

    /// A reference's text: a name to hold, or the value that completes the held name.
    fn pair_up(&mut self, reference: u64, labels: &mut Vec<Label<'a>>) -> Result<(), DecodeError> {
        let text =
            self.symbols
                .get(reference as usize)
                .copied()
                .ok_or(SymbolsError::OutOfRange {
                    series: self.series,
                    reference,
                    symbols: self.symbols.len(),
                })?;
        match self.name.take() {
            None => self.name = Some(text),
            Some(name) => labels.push(Label { name, value: text }),
        }
        Ok(())
    }

    /// Refuses a name left without its value.
    fn finish(self) -> Result<(), DecodeError> {
        match self.name {
            Some(_) => Err(SymbolsError::OddLabelRefs {
                series: self.series,
            }
            .into()),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remote::proto::v2;
    use prost::Message;

    fn fixture() -> v2::Request {
        let symbols: Vec<String> = [
            "",
            "__name__",
            "up",
            "job",
            "a.b c\nd",
            "instance",
            "h:1",
            "ms",
            "help text",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        v2::Request {
            symbols,
            timeseries: vec![
                v2::TimeSeries {
                    labels_refs: vec![1, 2, 5, 6, 3, 4],
                    samples: vec![
                        v2::Sample {
                            value: 1.5,
                            timestamp: 1_700_000_000_000,
                            ..Default::default()
                        },
                        v2::Sample {
                            value: f64::from_bits(crate::series::STALE_NAN_BITS),
                            timestamp: -3,
                            ..Default::default()
                        },
                    ],
                    exemplars: vec![v2::Exemplar {
                        labels_refs: vec![3, 4],
                        value: 2.0,
                        timestamp: 5,
                    }],
                    metadata: Some(v2::Metadata {
                        r#type: 2,
                        help_ref: 8,
                        unit_ref: 7,
                    }),
                    created_timestamp: 1_600_000_000_000,
                    ..Default::default()
                },
                v2::TimeSeries {
                    labels_refs: vec![1, 2],
                    histograms: vec![
                        v2::Histogram::default(),
                        v2::Histogram {
                            count: Some(v2::histogram::Count::CountFloat(2.5)),
                            sum: -1.0,
                            schema: -53,
                            positive_spans: vec![v2::BucketSpan {
                                offset: 1,
                                length: 2,
                            }],
                            positive_counts: vec![1.0, 1.5],
                            custom_values: vec![0.5, 1.0, 2.0],
                            reset_hint: 3,
                            timestamp: 42,
                            ..Default::default()
                        },
                    ],
                    ..Default::default()
                },
            ],
        }
    }

    /// A series as both decoders are compared: labels, samples (value bits, time),
    /// histograms (re-encoded, as bytes compare NaNs bit for bit).
    type Shape = (Vec<(String, String)>, Vec<(u64, i64)>, Vec<Vec<u8>>);

    /// What prost makes of the same bytes, as the decoder's own shape.
    fn reference(body: &[u8]) -> Vec<Shape> {
        let request = v2::Request::decode(body).unwrap();
        request
            .timeseries
            .iter()
            .map(|ts| {
                let mut labels: Vec<(String, String)> = ts
                    .labels_refs
                    .chunks(2)
                    .map(|p| {
                        (
                            request.symbols[p[0] as usize].clone(),
                            request.symbols[p[1] as usize].clone(),
                        )
                    })
                    .collect();
                labels.sort();
                let samples = ts
                    .samples
                    .iter()
                    .map(|s| (s.value.to_bits(), s.timestamp))
                    .collect();
                // 2.0's message has 1.0's fields and numbers: the reference reads it
                // as 1.0's.
                let histograms = ts
                    .histograms
                    .iter()
                    .map(|h| {
                        let h =
                            crate::remote::proto::Histogram::decode(h.encode_to_vec().as_slice())
                                .unwrap();
                        crate::remote::histogram::to_proto(&crate::remote::histogram::from_proto(
                            &h,
                        ))
                        .encode_to_vec()
                    })
                    .collect();
                (labels, samples, histograms)
            })
            .collect()
    }

    fn decoded(body: &[u8]) -> Result<Vec<Shape>, DecodeError> {
        let request = decode(body)?;
        Ok(request
            .batch
            .iter()
            .map(|s| {
                (
                    s.labels
                        .iter()
                        .map(|l| (l.name.to_string(), l.value.to_string()))
                        .collect(),
                    s.samples
                        .iter()
                        .map(|s| (s.value.to_bits(), s.timestamp_ms))
                        .collect(),
                    s.histograms
                        .iter()
                        .map(|h| crate::remote::histogram::to_proto(h).encode_to_vec())
                        .collect(),
                )
            })
            .collect())
    }

    #[test]
    fn decodes_what_prost_decodes() {
        let body = fixture().encode_to_vec();
        assert_eq!(decoded(&body).unwrap(), reference(&body));
        let request = decode(&body).unwrap();
        assert_eq!(request.batch.exemplar_count(), 1);
        let series = request.batch.get(0);
        let exemplar = &series.exemplars[0];
        assert_eq!((exemplar.value, exemplar.timestamp_ms), (2.0, 5));
        let labels: Vec<_> = series
            .exemplar_labels(exemplar)
            .iter()
            .map(|l| (l.name, l.value))
            .collect();
        let prost = fixture();
        let refs = &prost.timeseries[0].exemplars[0].labels_refs;
        let symbols = &prost.symbols;
        assert_eq!(
            labels,
            [(
                symbols[refs[0] as usize].as_str(),
                symbols[refs[1] as usize].as_str()
            )]
        );
        assert_eq!(request.batch.histogram_count(), 2);
    }

    #[test]
    fn every_truncation_is_an_error_or_what_prost_reads() {
        let body = fixture().encode_to_vec();
        for end in 0..body.len() {
            let cut = &body[..end];
            match (decoded(cut), v2::Request::decode(cut)) {
                (Ok(ours), Ok(_)) => assert_eq!(ours, reference(cut), "cut at {end}"),
                (Err(_), _) => {}
                (Ok(_), Err(e)) => panic!("cut at {end}: prost refuses ({e}) what we read"),
            }
        }
    }

    #[test]
    fn a_converted_fixture_decodes_to_what_version_1_decodes() {
        let v1 = crate::fixtures::write_request(300, 6, 2);
        let v2_body = crate::fixtures::to_v2(&v1).encode_to_vec();
        let v1_body = v1.encode_to_vec();
        let ours = decode(&v2_body).unwrap();
        let theirs = crate::remote::write::decode(&v1_body).unwrap();
        assert_eq!(ours.batch.labels, theirs.labels);
        assert_eq!(ours.batch.samples, theirs.samples);
        assert_eq!(ours.batch.len(), theirs.len());
    }

    #[test]
    fn symbols_after_series_are_found() {
        let mut body = Vec::new();
        let request = fixture();
        for ts in &request.timeseries {
            prost::encoding::message::encode(5, ts, &mut body);
        }
        for s in &request.symbols {
            prost::encoding::string::encode(4, s, &mut body);
        }
        assert_eq!(decoded(&body).unwrap(), reference(&body));
    }

    #[test]
    fn broken_references_are_refused() {
        let mut odd = fixture();
        odd.timeseries[0].labels_refs.pop();
        assert_eq!(
            decode(&odd.encode_to_vec()).unwrap_err(),
            SymbolsError::OddLabelRefs { series: 0 }.into()
        );
        let mut far = fixture();
        far.timeseries[1].labels_refs = vec![1, 99];
        assert_eq!(
            decode(&far.encode_to_vec()).unwrap_err(),
            SymbolsError::OutOfRange {
                series: 1,
                reference: 99,
                symbols: 9
            }
            .into()
        );
        let mut first = fixture();
        first.symbols[0] = "x".into();
        assert_eq!(
            decode(&first.encode_to_vec()).unwrap_err(),
            SymbolsError::FirstNotEmpty.into()
        );
    }
}
