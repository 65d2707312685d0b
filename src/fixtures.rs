//! Deterministic, realistic remote write requests for tests and benchmarks, so that both
//! measure the same thing.

use crate::remote::proto;

/// A request shaped like Prometheus' own: `series` series from a handful of targets,
/// each with `labels` labels (`__name__`, `instance`, `job` and made-up others, sorted
/// by name) and `samples` samples a second apart.
pub fn write_request(series: usize, labels: usize, samples: usize) -> proto::WriteRequest {
    const METRICS: [&str; 5] = [
        "http_requests_total",
        "process_cpu_seconds_total",
        "go_goroutines",
        "node_network_receive_bytes_total",
        "http_request_duration_seconds_bucket",
    ];
    const EXTRA: [&str; 6] = ["code", "handler", "le", "method", "quantile", "zone"];
    let timeseries = (0..series)
        .map(|i| {
            let mut pairs = vec![
                (
                    "__name__".to_string(),
                    METRICS[i % METRICS.len()].to_string(),
                ),
                (
                    "instance".to_string(),
                    format!("10.0.{}.{}:9100", i % 7, i % 13),
                ),
                ("job".to_string(), format!("job-{}", i % 4)),
            ];
            for extra in EXTRA.iter().take(labels.saturating_sub(3)) {
                pairs.push((extra.to_string(), format!("{extra}-{}", i % 97)));
            }
            pairs.sort();
            proto::TimeSeries {
                labels: pairs
                    .into_iter()
                    .map(|(name, value)| proto::Label { name, value })
                    .collect(),
                samples: (0..samples)
                    .map(|s| proto::Sample {
                        value: (i * 31 + s) as f64 * 0.25,
                        timestamp: 1_700_000_000_000 + (s as i64) * 1000,
                    })
                    .collect(),
                exemplars: vec![],
            }
        })
        .collect();
    proto::WriteRequest {
        timeseries,
        metadata: vec![],
    }
}
