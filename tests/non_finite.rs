//! Staleness markers, NaN and ±Inf through the connector into Timestream Local and back
//! through `/read`, bit for bit and in their series' time order, in both answer types;
//! in the documented form (`__value__`) in the table; and skipped and counted with
//! `--non-finite-values=ignore`.

mod support;

use support::*;
use timestream_prometheus_connector::remote::proto;
use timestream_prometheus_connector::series::STALE_NAN_BITS;

const T0: i64 = 1_676_398_017_000;

fn request() -> proto::WriteRequest {
    let stale = f64::from_bits(STALE_NAN_BITS);
    proto::WriteRequest {
        timeseries: vec![
            series(
                &[("__name__", "goes_stale"), ("instance", "a"), ("job", "j")],
                &[(T0, 1.0), (T0 + 15_000, 2.0), (T0 + 30_000, stale)],
            ),
            series(
                &[("__name__", "goes_stale"), ("instance", "b"), ("job", "j")],
                &[(T0, stale), (T0 + 15_000, 3.0)],
            ),
            series(
                &[("__name__", "odd_values"), ("quantile", "0.99")],
                &[
                    (T0, f64::NAN),
                    (T0 + 1, f64::from_bits(0x7ff8_0000_0000_0001)),
                    (T0 + 2, f64::INFINITY),
                    (T0 + 3, f64::NEG_INFINITY),
                    (T0 + 4, -f64::NAN),
                    (T0 + 5, 0.5),
                ],
            ),
        ],
        metadata: vec![],
    }
}

/// The request's series as remote read must return them.
fn expected() -> Vec<(String, Vec<ReadSeries>)> {
    let request = request();
    let mut by_metric: Vec<(String, Vec<ReadSeries>)> = Vec::new();
    for ts in request.timeseries {
        let metric = ts.labels[0].value.clone();
        let mut labels: Vec<(String, String)> = ts
            .labels
            .iter()
            .map(|l| (l.name.clone(), l.value.clone()))
            .collect();
        labels.sort();
        let samples = ts
            .samples
            .iter()
            .map(|s| (s.timestamp, s.value.to_bits()))
            .collect();
        match by_metric.iter_mut().find(|(m, _)| *m == metric) {
            Some((_, series)) => series.push((labels, samples)),
            None => by_metric.push((metric, vec![(labels, samples)])),
        }
    }
    by_metric
}

async fn read(url: &str, metric: &str, streamed: bool) -> Vec<ReadSeries> {
    let query = read_query(T0 - 60_000, T0 + 60_000, &[(0, "__name__", metric)]);
    let (status, body, mut results) = remote_read(url, vec![query], streamed).await;
    assert_eq!(status, 200, "{body}");
    results.remove(0)
}

#[tokio::test]
async fn non_finite_values_are_stored_and_read_back_bit_for_bit() {
    let stack = Stack::start(Backend::Local, Via::Direct, &["metrics"], &[]).await;
    let url = &stack.connector.url;
    let (status, body) = remote_write(url, &request()).await;
    assert_eq!(status, 204, "{body}");
    let ignored = "timestream_connector_ignored_samples_total{protocol=\"remote_write\",reason=\"stale_marker\"}";
    assert_eq!(stack.connector.metric(ignored).await, 0.0);

    for streamed in [false, true] {
        for (metric, series) in expected() {
            assert_eq!(
                read(url, &metric, streamed).await,
                series,
                "{metric}, streamed: {streamed}"
            );
        }
    }

    // In the table: the documented form, which a query can leave out.
    let rows = stack.timestream.records(DB, "metrics").await;
    let marked: Vec<String> = rows
        .iter()
        .filter_map(|r| {
            r["Dimensions"]
                .as_array()
                .unwrap()
                .iter()
                .find(|d| d["Name"] == "__value__")
                .map(|d| d["Value"].as_str().unwrap().to_string())
        })
        .collect();
    let count = |kind: &str| marked.iter().filter(|k| *k == kind).count();
    assert_eq!(
        (count("stale"), count("NaN"), count("+Inf"), count("-Inf")),
        (2, 3, 1, 1)
    );
    assert_eq!(
        rows.len() - marked.len(),
        4,
        "finite samples stored plainly"
    );
}

#[tokio::test]
async fn with_ignore_they_are_skipped_and_counted() {
    let stack = Stack::start(
        Backend::Local,
        Via::Direct,
        &["metrics"],
        &["--non-finite-values=ignore"],
    )
    .await;
    let url = &stack.connector.url;
    let (status, body) = remote_write(url, &request()).await;
    assert_eq!(status, 204, "{body}");
    let ignored = |reason: &str| {
        format!("timestream_connector_ignored_samples_total{{protocol=\"remote_write\",reason=\"{reason}\"}}")
    };
    assert_eq!(stack.connector.metric(&ignored("stale_marker")).await, 2.0);
    assert_eq!(
        stack.connector.metric(&ignored("non_finite_value")).await,
        5.0
    );
    let a = read(url, "goes_stale", false).await;
    assert_eq!(a.len(), 2);
    assert_eq!(
        a[0].1,
        [(T0, 1f64.to_bits()), (T0 + 15_000, 2f64.to_bits())]
    );
}
