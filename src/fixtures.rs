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

/// A Pushgateway push body in the text format with `series` series, shaped like a batch
/// job's registry: counters and gauges with a few labels, one in ten label values with an
/// escape, histograms' buckets, HELP and TYPE lines per family.
pub fn push_text(series: usize) -> String {
    use std::fmt::Write;
    let mut body = String::with_capacity(series * 80);
    let families = series.div_ceil(100);
    let mut written = 0;
    for family in 0..families {
        let kind = ["counter", "gauge", "histogram"][family % 3];
        let name = format!("batch_job_{kind}_{family}");
        let _ = writeln!(body, "# HELP {name} What family {family} counts.");
        let _ = writeln!(body, "# TYPE {name} {kind}");
        for i in 0..100.min(series - written) {
            let path = if i % 10 == 0 {
                format!("/data/\\\"{i}\\\"")
            } else {
                format!("/data/{i}")
            };
            let labels = format!("path=\"{path}\",stage=\"s{}\"", i % 7);
            let value = (family * 100 + i) as f64 * 0.5;
            if kind == "histogram" {
                let le = ["0.1", "1", "+Inf"][i % 3];
                let _ = writeln!(body, "{name}_bucket{{{labels},le=\"{le}\"}} {value}");
            } else {
                let _ = writeln!(body, "{name}{{{labels}}} {value}");
            }
            written += 1;
        }
    }
    body
}

/// A JSON array of `events` events of the serverless push gateway's shape, each with two
/// dimensions and three metrics, values as strings and as numbers.
pub fn events_json(events: usize) -> String {
    let items: Vec<String> = (0..events)
        .map(|i| {
            format!(
                r#"{{"dimensions":{{"customerId":"customer{}","site":"site-{}"}},"timestamp":{},"metrics":{{"temperature":"{}.5","ph":{},"pressure":"1.013e5"}}}}"#,
                i % 50,
                i % 7,
                1_700_000_000_000i64 + i as i64,
                i % 40,
                6.5 + (i % 10) as f64 / 10.0
            )
        })
        .collect();
    format!("[{}]", items.join(","))
}
