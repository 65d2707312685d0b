//! Remote read: the request, and the two response encodings.
//!
//! - SAMPLES: one snappy-compressed `ReadResponse` holding every series of every query.
//! - STREAMED_XOR_CHUNKS: a stream of frames, each one `ChunkedReadResponse` holding (a
//!   part of) one series as XOR chunks, and histogram chunks for native histograms; a
//!   series larger than a frame continues in the next, as Prometheus' own server splits
//!   them. Memory is bounded by the frame size.

use bytes::Bytes;
use prost::Message;

use super::chunks::{frame, XorChunk, SAMPLES_PER_CHUNK};
use super::histogram_chunks::HistogramChunk;
use super::{histogram, proto, snappy, DecodeError};
use crate::histogram::Histogram;
use crate::series::{MatchKind, Matcher, Selector, SeriesSink};

pub const SAMPLES_CONTENT_TYPE: &str = "application/x-protobuf";
pub const STREAMED_CONTENT_TYPE: &str =
    "application/x-streamed-protobuf; proto=prometheus.ChunkedReadResponse";
/// Prometheus' own server default (`--storage.remote.read-max-bytes-in-frame`).
pub const MAX_BYTES_IN_FRAME: usize = 1 << 20;

/// How the client wants the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseType {
    Samples,
    Streamed,
}

/// Decodes a snappy-compressed `ReadRequest`.
pub fn decode(body: &[u8]) -> Result<proto::ReadRequest, DecodeError> {
    let raw = snappy::decompress(body)?;
    proto::ReadRequest::decode(raw.as_slice()).map_err(|_| DecodeError::Truncated)
}

/// The first response type the client accepts, in its order of preference (none listed
/// means SAMPLES, as for clients older than streaming).
pub fn response_type(request: &proto::ReadRequest) -> ResponseType {
    request
        .accepted_response_types
        .iter()
        .find_map(|t| match proto::read_request::ResponseType::try_from(*t) {
            Ok(proto::read_request::ResponseType::Samples) => Some(ResponseType::Samples),
            Ok(proto::read_request::ResponseType::StreamedXorChunks) => {
                Some(ResponseType::Streamed)
            }
            Err(_) => None,
        })
        .unwrap_or(ResponseType::Samples)
}

/// What each query of `request` selects, in the plain terms the read pipeline takes. A
/// query without matchers selects nothing, as Prometheus answers it (rather than every
/// series of the table).
pub fn selectors(request: &proto::ReadRequest) -> Result<Vec<Selector>, DecodeError> {
    request
        .queries
        .iter()
        .map(|query| {
            let matchers = matchers(query)?;
            let range = if matchers.is_empty() {
                None
            } else {
                time_range(query)
            };
            Ok(Selector { matchers, range })
        })
        .collect()
}

/// The time range a query needs: its own, narrowed to its hints' range where the client
/// gave one (Prometheus' own storage reads only the hinted range too); `None` when the
/// two do not overlap.
fn time_range(query: &proto::Query) -> Option<(i64, i64)> {
    let (mut start, mut end) = (query.start_timestamp_ms, query.end_timestamp_ms);
    if let Some(hints) = &query.hints {
        // Zero means "not given" in proto3.
        if hints.start_ms != 0 {
            start = start.max(hints.start_ms);
        }
        if hints.end_ms != 0 {
            end = end.min(hints.end_ms);
        }
    }
    (start <= end || query.start_timestamp_ms > query.end_timestamp_ms).then_some((start, end))
}

/// A query's matchers in the translator's terms; a type Prometheus does not define is
/// refused, not read as another.
fn matchers(query: &proto::Query) -> Result<Vec<Matcher>, DecodeError> {
    use proto::label_matcher::Type;
    query
        .matchers
        .iter()
        .map(|m| {
            let kind = match Type::try_from(m.r#type) {
                Ok(Type::Eq) => MatchKind::Equal,
                Ok(Type::Neq) => MatchKind::NotEqual,
                Ok(Type::Re) => MatchKind::Regex,
                Ok(Type::Nre) => MatchKind::NotRegex,
                Err(_) => return Err(DecodeError::MatcherType(m.r#type)),
            };
            Ok(Matcher {
                kind,
                name: m.name.clone(),
                value: m.value.clone(),
            })
        })
        .collect()
}

fn labels(pairs: &[(&str, &str)]) -> Vec<proto::Label> {
    pairs
        .iter()
        .map(|(name, value)| proto::Label {
            name: name.to_string(),
            value: value.to_string(),
        })
        .collect()
}

/// Collects series for a SAMPLES response.
#[derive(Default)]
pub struct SamplesSink {
    pub series: Vec<proto::TimeSeries>,
}

impl SeriesSink for SamplesSink {
    fn start_series(&mut self, pairs: &[(&str, &str)]) {
        self.series.push(proto::TimeSeries {
            labels: labels(pairs),
            ..Default::default()
        });
    }

    fn sample(&mut self, timestamp: i64, value: f64) {
        if let Some(series) = self.series.last_mut() {
            series.samples.push(proto::Sample { value, timestamp });
        }
    }

    fn histogram(&mut self, h: &Histogram) {
        if let Some(series) = self.series.last_mut() {
            series.histograms.push(histogram::to_proto(h));
        }
    }

    fn end_series(&mut self) {}
}

/// The SAMPLES response body: one QueryResult per query, snappy-compressed.
pub fn samples_response(results: Vec<Vec<proto::TimeSeries>>) -> Vec<u8> {
    let response = proto::ReadResponse {
        results: results
            .into_iter()
            .map(|timeseries| proto::QueryResult { timeseries })
            .collect(),
    };
    snappy::compress(&response.encode_to_vec())
}

/// Turns series into frames of a STREAMED_XOR_CHUNKS response as samples arrive.
pub struct StreamSink {
    query_index: i64,
    max_frame_bytes: usize,
    labels: Vec<proto::Label>,
    labels_size: usize,
    chunk: XorChunk,
    histogram_chunk: Option<HistogramChunk>,
    chunks: Vec<proto::Chunk>,
    chunks_size: usize,
    /// Frames ready to send.
    pub frames: Vec<Bytes>,
    pub series: u64,
}

impl StreamSink {
    pub fn new(query_index: usize, max_frame_bytes: usize) -> StreamSink {
        StreamSink {
            query_index: query_index as i64,
            max_frame_bytes,
            labels: Vec::new(),
            labels_size: 0,
            chunk: XorChunk::new(),
            histogram_chunk: None,
            chunks: Vec::new(),
            chunks_size: 0,
            frames: Vec::new(),
            series: 0,
        }
    }

    fn cut_chunk(&mut self) {
        if self.chunk.is_empty() {
            return;
        }
        let (min_time_ms, max_time_ms) = (self.chunk.min_time, self.chunk.max_time);
        let data = self.chunk.take();
        self.push_chunk(proto::Chunk {
            min_time_ms,
            max_time_ms,
            r#type: proto::chunk::Encoding::Xor as i32,
            data,
        });
    }

    fn cut_histogram_chunk(&mut self, next: Option<HistogramChunk>) {
        let Some(done) = std::mem::replace(&mut self.histogram_chunk, next) else {
            return;
        };
        self.push_chunk(proto::Chunk {
            min_time_ms: done.min_time,
            max_time_ms: done.max_time,
            r#type: done.encoding(),
            data: done.into_bytes(),
        });
    }

    fn push_chunk(&mut self, chunk: proto::Chunk) {
        self.chunks_size += chunk.encoded_len();
        self.chunks.push(chunk);
        if self.labels_size + self.chunks_size >= self.max_frame_bytes {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if self.chunks.is_empty() {
            return;
        }
        let response = proto::ChunkedReadResponse {
            chunked_series: vec![proto::ChunkedSeries {
                labels: self.labels.clone(),
                chunks: std::mem::take(&mut self.chunks),
            }],
            query_index: self.query_index,
        };
        self.chunks_size = 0;
        self.frames.push(frame(&response.encode_to_vec()));
    }
}

impl SeriesSink for StreamSink {
    fn start_series(&mut self, pairs: &[(&str, &str)]) {
        self.labels = labels(pairs);
        self.labels_size = self.labels.iter().map(Message::encoded_len).sum();
        self.series += 1;
    }

    fn sample(&mut self, timestamp: i64, value: f64) {
        // Chunks go out in time order: a float sample ends a histogram chunk.
        self.cut_histogram_chunk(None);
        self.chunk.append(timestamp, value);
        if self.chunk.len() >= SAMPLES_PER_CHUNK {
            self.cut_chunk();
        }
    }

    fn histogram(&mut self, h: &Histogram) {
        self.cut_chunk();
        match &mut self.histogram_chunk {
            None => self.histogram_chunk = Some(HistogramChunk::new(h)),
            Some(chunk) => {
                if let Some(next) = chunk.append(h) {
                    self.cut_histogram_chunk(Some(next));
                }
            }
        }
    }

    fn end_series(&mut self) {
        self.cut_chunk();
        self.cut_histogram_chunk(None);
        self.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remote::chunks::{decode_xor, read_frame};

    fn frames_of(sink: &StreamSink) -> Vec<proto::ChunkedReadResponse> {
        sink.frames
            .iter()
            .map(|f| {
                let (data, rest) = read_frame(f).unwrap();
                assert!(rest.is_empty());
                proto::ChunkedReadResponse::decode(data).unwrap()
            })
            .collect()
    }

    #[test]
    fn a_series_larger_than_a_frame_continues_in_the_next_frames() {
        let mut sink = StreamSink::new(3, 2_000);
        sink.start_series(&[("__name__", "big"), ("job", "x")]);
        for i in 0..1_000 {
            sink.sample(i * 15_000, (i as f64).sqrt());
        }
        // Frames are cut as chunks fill, before the series ends: memory stays bounded.
        let before_end = sink.frames.len();
        assert!(
            before_end >= 2,
            "{before_end} frames before the series ended"
        );
        sink.end_series();
        sink.start_series(&[("__name__", "small")]);
        sink.sample(5, 1.0);
        sink.end_series();

        let frames = frames_of(&sink);
        let mut samples = Vec::new();
        for frame in &frames[..frames.len() - 1] {
            assert_eq!(frame.query_index, 3);
            assert_eq!(frame.chunked_series.len(), 1);
            let series = &frame.chunked_series[0];
            assert_eq!(series.labels[0].value, "big");
            assert!(
                frame.encoded_len() < 2_000 + 1_200,
                "bounded by the frame size plus a chunk"
            );
            for chunk in &series.chunks {
                assert!(chunk.data.len() > 2);
                samples.extend(decode_xor(&chunk.data).unwrap());
            }
        }
        assert_eq!(samples.len(), 1_000);
        assert!(samples
            .iter()
            .enumerate()
            .all(|(i, (t, v))| *t == i as i64 * 15_000 && *v == (i as f64).sqrt()));
        let last = &frames.last().unwrap().chunked_series[0];
        assert_eq!((last.labels.len(), last.chunks.len()), (1, 1));
    }

    #[test]
    fn hints_narrow_the_time_range() {
        let query = |start, end, hints: Option<(i64, i64)>| proto::Query {
            start_timestamp_ms: start,
            end_timestamp_ms: end,
            matchers: vec![],
            hints: hints.map(|(start_ms, end_ms)| proto::ReadHints {
                start_ms,
                end_ms,
                ..Default::default()
            }),
        };
        assert_eq!(time_range(&query(10, 100, None)), Some((10, 100)));
        assert_eq!(time_range(&query(10, 100, Some((40, 90)))), Some((40, 90)));
        assert_eq!(time_range(&query(10, 100, Some((0, 0)))), Some((10, 100)));
        assert_eq!(time_range(&query(10, 100, Some((5, 200)))), Some((10, 100)));
        assert_eq!(time_range(&query(10, 100, Some((150, 200)))), None);
        // A reversed range is the client's error, left for the translator to refuse.
        assert_eq!(time_range(&query(100, 10, None)), Some((100, 10)));
    }

    #[test]
    fn response_type_follows_the_clients_preference() {
        let request = |types: Vec<i32>| proto::ReadRequest {
            queries: vec![],
            accepted_response_types: types,
        };
        assert_eq!(response_type(&request(vec![])), ResponseType::Samples);
        assert_eq!(response_type(&request(vec![1, 0])), ResponseType::Streamed);
        assert_eq!(response_type(&request(vec![0, 1])), ResponseType::Samples);
        assert_eq!(response_type(&request(vec![7, 1])), ResponseType::Streamed);
    }
}
