//! Prometheus' remote storage protocol as a client speaks it: remote write and remote
//! read requests, and the answers decoded (streamed frames and XOR chunks included).

use prost::Message;
use timestream_prometheus_connector::remote::{proto, snappy};

/// Sends `request` as Prometheus would: snappy-compressed protobuf.
pub async fn remote_write(url: &str, request: &proto::WriteRequest) -> (u16, String) {
    remote_write_raw(url, snappy::compress(&request.encode_to_vec()), None).await
}

pub async fn remote_write_raw(
    url: &str,
    body: Vec<u8>,
    auth: Option<(&str, &str)>,
) -> (u16, String) {
    let mut request = reqwest::Client::new()
        .post(format!("{url}/write"))
        .header("Content-Encoding", "snappy")
        .header("Content-Type", "application/x-protobuf")
        .header("X-Prometheus-Remote-Write-Version", "0.1.0")
        .body(body);
    if let Some((user, password)) = auth {
        request = request.basic_auth(user, Some(password));
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

/// A series for a WriteRequest.
pub fn series(labels: &[(&str, &str)], samples: &[(i64, f64)]) -> proto::TimeSeries {
    proto::TimeSeries {
        labels: labels
            .iter()
            .map(|(n, v)| proto::Label {
                name: n.to_string(),
                value: v.to_string(),
            })
            .collect(),
        samples: samples
            .iter()
            .map(|&(timestamp, value)| proto::Sample { value, timestamp })
            .collect(),
        exemplars: vec![],
        histograms: vec![],
    }
}

/// A series as remote read returns it: labels, samples (value bits, for exactness).
pub type ReadSeries = (Vec<(String, String)>, Vec<(i64, u64)>);

/// A remote read request body as Prometheus sends it (snappy-compressed protobuf);
/// `streamed` asks for STREAMED_XOR_CHUNKS first.
pub fn read_request_body(queries: Vec<proto::Query>, streamed: bool) -> Vec<u8> {
    let request = proto::ReadRequest {
        queries,
        accepted_response_types: if streamed { vec![1, 0] } else { vec![] },
    };
    snappy::compress(&request.encode_to_vec())
}

/// Sends a remote read request; `streamed` asks for STREAMED_XOR_CHUNKS first. Returns
/// the status, the content type and, on success, each query's series (a streamed series
/// split over frames is joined again).
pub async fn remote_read(
    url: &str,
    queries: Vec<proto::Query>,
    streamed: bool,
) -> (u16, String, Vec<Vec<ReadSeries>>) {
    let count = queries.len();
    let response = reqwest::Client::new()
        .post(format!("{url}/read"))
        .header("Content-Encoding", "snappy")
        .header("Content-Type", "application/x-protobuf")
        .header("X-Prometheus-Remote-Read-Version", "0.1.0")
        .body(read_request_body(queries, streamed))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let body = response.bytes().await.unwrap();
    if status != 200 {
        return (status, String::from_utf8_lossy(&body).into_owned(), vec![]);
    }
    let results = decode_read_answer(&content_type, &body, streamed, count);
    (status, content_type, results)
}

/// Decodes a successful remote read answer (`body` with `content_type`) to a request of
/// `queries` queries: each query's series, a streamed series split over frames joined
/// again. Checks the answer type is the one asked for and every frame's CRC.
pub fn decode_read_answer(
    content_type: &str,
    body: &[u8],
    streamed: bool,
    queries: usize,
) -> Vec<Vec<ReadSeries>> {
    use timestream_prometheus_connector::remote::chunks;
    let mut results: Vec<Vec<ReadSeries>> = vec![vec![]; queries];
    let labels = |labels: &[proto::Label]| -> Vec<(String, String)> {
        labels
            .iter()
            .map(|l| (l.name.clone(), l.value.clone()))
            .collect()
    };
    if streamed {
        assert!(
            content_type.starts_with("application/x-streamed-protobuf"),
            "{content_type}"
        );
        let mut rest: &[u8] = body;
        while !rest.is_empty() {
            let (data, next) = chunks::read_frame(rest).expect("a whole frame with a good CRC");
            rest = next;
            let frame = proto::ChunkedReadResponse::decode(data).unwrap();
            assert_eq!(frame.chunked_series.len(), 1, "one series per frame");
            let query = &mut results[frame.query_index as usize];
            for series in frame.chunked_series {
                let series_labels = labels(&series.labels);
                let mut samples = Vec::new();
                // Float samples only: histogram chunks are read by `histogram_chunks`.
                for chunk in series.chunks.iter().filter(|c| c.r#type == 1) {
                    let decoded = chunks::decode_xor(&chunk.data).unwrap();
                    assert_eq!(decoded.first().unwrap().0, chunk.min_time_ms);
                    assert_eq!(decoded.last().unwrap().0, chunk.max_time_ms);
                    samples.extend(decoded.into_iter().map(|(t, v)| (t, v.to_bits())));
                }
                match query.last_mut() {
                    Some((last, s)) if *last == series_labels => s.extend(samples),
                    _ => query.push((series_labels, samples)),
                }
            }
        }
    } else {
        assert_eq!(content_type, "application/x-protobuf");
        let response =
            proto::ReadResponse::decode(snappy::decompress(body).unwrap().as_slice()).unwrap();
        for (i, result) in response.results.into_iter().enumerate() {
            results[i] = result
                .timeseries
                .iter()
                .map(|s| {
                    (
                        labels(&s.labels),
                        s.samples
                            .iter()
                            .map(|x| (x.timestamp, x.value.to_bits()))
                            .collect(),
                    )
                })
                .collect();
        }
    }
    results
}

/// A remote read query.
pub fn read_query(start: i64, end: i64, matchers: &[(i32, &str, &str)]) -> proto::Query {
    proto::Query {
        start_timestamp_ms: start,
        end_timestamp_ms: end,
        matchers: matchers
            .iter()
            .map(|(kind, name, value)| proto::LabelMatcher {
                r#type: *kind,
                name: name.to_string(),
                value: value.to_string(),
            })
            .collect(),
        hints: None,
    }
}

/// A series' native histograms as a read returned them.
pub type HistogramSeries = (
    Vec<(String, String)>,
    Vec<timestream_prometheus_connector::histogram::Histogram>,
);

/// Reads the native histograms of each series `query` selects: from SAMPLES answers'
/// `histograms`, or from streamed answers' histogram chunks, decoded by
/// [`super::histogram_chunks`].
pub async fn read_histograms(
    url: &str,
    query: proto::Query,
    streamed: bool,
) -> Vec<HistogramSeries> {
    use timestream_prometheus_connector::remote::{chunks, histogram};
    let response = reqwest::Client::new()
        .post(format!("{url}/read"))
        .header("Content-Encoding", "snappy")
        .header("Content-Type", "application/x-protobuf")
        .header("X-Prometheus-Remote-Read-Version", "0.1.0")
        .body(read_request_body(vec![query], streamed))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body = response.bytes().await.unwrap();
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let labels = |labels: &[proto::Label]| -> Vec<(String, String)> {
        labels
            .iter()
            .map(|l| (l.name.clone(), l.value.clone()))
            .collect()
    };
    let mut out: Vec<HistogramSeries> = Vec::new();
    if !streamed {
        let response =
            proto::ReadResponse::decode(snappy::decompress(&body).unwrap().as_slice()).unwrap();
        for series in &response.results[0].timeseries {
            let histograms = series
                .histograms
                .iter()
                .map(histogram::from_proto)
                .collect();
            out.push((labels(&series.labels), histograms));
        }
        return out;
    }
    let mut rest: &[u8] = &body;
    while !rest.is_empty() {
        let (data, next) = chunks::read_frame(rest).expect("a whole frame with a good CRC");
        rest = next;
        let frame = proto::ChunkedReadResponse::decode(data).unwrap();
        for series in frame.chunked_series {
            let mut histograms = Vec::new();
            for chunk in series.chunks.iter().filter(|c| c.r#type != 1) {
                let decoded = super::histogram_chunks::decode(chunk.r#type, &chunk.data);
                assert_eq!(decoded.first().unwrap().timestamp_ms, chunk.min_time_ms);
                assert_eq!(decoded.last().unwrap().timestamp_ms, chunk.max_time_ms);
                histograms.extend(decoded);
            }
            let series_labels = labels(&series.labels);
            match out.last_mut() {
                Some((last, h)) if *last == series_labels => h.extend(histograms),
                _ => out.push((series_labels, histograms)),
            }
        }
    }
    out
}
