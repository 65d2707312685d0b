//! Deterministic, realistic remote write requests for tests and benchmarks, so that both
//! measure the same thing.

use crate::histogram::{Counts, Histogram, ResetHint, Span, CUSTOM_BUCKETS_SCHEMA};
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
                histograms: vec![],
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

/// Remote write requests as Prometheus sends a fleet of node_exporter targets: each
/// target has 120 series (CPU seconds by `cpu` and `mode`, disk and network counters by
/// `device`, filesystems by `device`, `fstype` and `mountpoint`, memory and load gauges,
/// the exporter's own process and Go metrics) with labels `instance`, `job` and `region`;
/// each scrape's samples share the target's scrape time; requests hold up to 2000
/// samples in scrape order (one remote write shard).
pub fn node_exporter(targets: usize, scrapes: usize) -> Vec<proto::WriteRequest> {
    let series = node_exporter_series();
    let mut requests = Vec::new();
    let mut current = Vec::new();
    for scrape in 0..scrapes {
        for target in 0..targets {
            // Targets are scraped at their own offsets within the 15 s interval.
            let time = 1_700_000_000_000 + scrape as i64 * 15_000 + (target as i64 * 137) % 15_000;
            for (i, (name, extra)) in series.iter().enumerate() {
                let mut labels = vec![
                    ("__name__".to_string(), name.clone()),
                    (
                        "instance".to_string(),
                        format!("node-{target}.example.internal:9100"),
                    ),
                    ("job".to_string(), "node".to_string()),
                    (
                        "region".to_string(),
                        ["us-east-1", "eu-west-1"][target % 2].to_string(),
                    ),
                ];
                labels.extend(extra.iter().cloned());
                labels.sort();
                current.push(proto::TimeSeries {
                    labels: labels
                        .into_iter()
                        .map(|(name, value)| proto::Label { name, value })
                        .collect(),
                    samples: vec![proto::Sample {
                        value: (scrape * 1000 + target * 7 + i) as f64 * 0.5,
                        timestamp: time,
                    }],
                    exemplars: vec![],
                    histograms: vec![],
                });
                if current.len() == 2000 {
                    requests.push(proto::WriteRequest {
                        timeseries: std::mem::take(&mut current),
                        metadata: vec![],
                    });
                }
            }
        }
    }
    if !current.is_empty() {
        requests.push(proto::WriteRequest {
            timeseries: current,
            metadata: vec![],
        });
    }
    requests
}

/// One node_exporter target's series: metric names and their own labels.
fn node_exporter_series() -> Vec<(String, Vec<(String, String)>)> {
    let pair = |n: &str, v: &str| (n.to_string(), v.to_string());
    let mut series = Vec::new();
    for cpu in 0..4 {
        for mode in [
            "idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user",
        ] {
            series.push((
                "node_cpu_seconds_total".to_string(),
                vec![pair("cpu", &cpu.to_string()), pair("mode", mode)],
            ));
        }
    }
    for name in [
        "node_disk_read_bytes_total",
        "node_disk_written_bytes_total",
        "node_disk_io_time_seconds_total",
        "node_disk_reads_completed_total",
    ] {
        for device in ["nvme0n1", "nvme1n1", "sda"] {
            series.push((name.to_string(), vec![pair("device", device)]));
        }
    }
    for name in [
        "node_network_receive_bytes_total",
        "node_network_transmit_bytes_total",
        "node_network_receive_packets_total",
        "node_network_transmit_packets_total",
        "node_network_receive_errs_total",
        "node_network_transmit_errs_total",
    ] {
        for device in ["eth0", "lo"] {
            series.push((name.to_string(), vec![pair("device", device)]));
        }
    }
    for name in [
        "node_filesystem_avail_bytes",
        "node_filesystem_size_bytes",
        "node_filesystem_files_free",
    ] {
        for (device, mountpoint) in [
            ("/dev/nvme0n1p1", "/"),
            ("/dev/nvme1n1", "/data"),
            ("tmpfs", "/run"),
        ] {
            let fstype = if device == "tmpfs" { "tmpfs" } else { "ext4" };
            series.push((
                name.to_string(),
                vec![
                    pair("device", device),
                    pair("fstype", fstype),
                    pair("mountpoint", mountpoint),
                ],
            ));
        }
    }
    let gauges = [
        "node_memory_MemTotal_bytes",
        "node_memory_MemFree_bytes",
        "node_memory_MemAvailable_bytes",
        "node_memory_Buffers_bytes",
        "node_memory_Cached_bytes",
        "node_memory_SwapTotal_bytes",
        "node_memory_SwapFree_bytes",
        "node_memory_Active_bytes",
        "node_memory_Inactive_bytes",
        "node_memory_Dirty_bytes",
        "node_memory_Writeback_bytes",
        "node_memory_Slab_bytes",
        "node_memory_SReclaimable_bytes",
        "node_memory_SUnreclaim_bytes",
        "node_memory_Shmem_bytes",
        "node_memory_Mapped_bytes",
        "node_memory_PageTables_bytes",
        "node_memory_KernelStack_bytes",
        "node_memory_Committed_AS_bytes",
        "node_memory_HugePages_Total",
        "node_load1",
        "node_load5",
        "node_load15",
        "node_boot_time_seconds",
        "node_time_seconds",
        "node_context_switches_total",
        "node_intr_total",
        "node_forks_total",
        "node_procs_running",
        "node_procs_blocked",
        "node_entropy_available_bits",
        "node_filefd_allocated",
        "node_filefd_maximum",
        "node_sockstat_sockets_used",
        "node_sockstat_TCP_inuse",
        "node_sockstat_TCP_tw",
        "node_netstat_Tcp_CurrEstab",
        "node_vmstat_pgfault",
        "node_vmstat_pgmajfault",
        "node_vmstat_pswpin",
        "node_vmstat_pswpout",
        "node_exporter_build_info",
        "node_scrape_collector_success",
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "process_virtual_memory_bytes",
        "process_open_fds",
        "process_max_fds",
        "process_start_time_seconds",
        "go_goroutines",
        "go_threads",
        "go_memstats_alloc_bytes",
        "go_memstats_heap_inuse_bytes",
        "go_gc_duration_seconds_sum",
        "go_gc_duration_seconds_count",
        "promhttp_metric_handler_requests_in_flight",
        "up",
        "scrape_duration_seconds",
        "scrape_samples_scraped",
        "scrape_samples_post_metric_relabeling",
        "scrape_series_added",
    ];
    for name in gauges.iter().take(120 - series.len()) {
        series.push((name.to_string(), Vec::new()));
    }
    debug_assert_eq!(series.len(), 120);
    series
}

/// `request` as remote write 2.0 sends it: one symbols table (starting with ""), each
/// series' labels as references into it, the same samples.
pub fn to_v2(request: &proto::WriteRequest) -> proto::v2::Request {
    let mut symbols = vec![String::new()];
    let mut index = std::collections::HashMap::from([(String::new(), 0)]);
    let mut reference = |text: &str| -> u32 {
        *index.entry(text.to_string()).or_insert_with(|| {
            symbols.push(text.to_string());
            (symbols.len() - 1) as u32
        })
    };
    let timeseries = request
        .timeseries
        .iter()
        .map(|ts| proto::v2::TimeSeries {
            labels_refs: ts
                .labels
                .iter()
                .flat_map(|l| [reference(&l.name), reference(&l.value)])
                .collect(),
            samples: ts
                .samples
                .iter()
                .map(|s| proto::v2::Sample {
                    value: s.value,
                    timestamp: s.timestamp,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        })
        .collect();
    proto::v2::Request {
        symbols,
        timeseries,
    }
}

/// Native histograms covering every field: integer and float, both span lists, a zero
/// bucket, custom bounds, every reset hint, a stale sum.
pub fn histograms() -> Vec<Histogram> {
    let spans = vec![
        Span {
            offset: -2,
            length: 2,
        },
        Span {
            offset: 3,
            length: 1,
        },
    ];
    vec![
        Histogram {
            timestamp_ms: 1_700_000_000_123,
            schema: 3,
            zero_threshold: 1e-128,
            sum: 18.4,
            counts: Counts::Integer {
                count: 12,
                zero_count: 2,
                positive_deltas: vec![1, 2, -1],
                negative_deltas: vec![3, -3, 1],
            },
            positive_spans: spans.clone(),
            negative_spans: spans.clone(),
            reset_hint: ResetHint::No,
            custom_values: vec![],
        },
        Histogram {
            timestamp_ms: -5,
            schema: -4,
            zero_threshold: 0.001,
            sum: -3.25,
            counts: Counts::Float {
                count: 7.5,
                zero_count: 0.5,
                positive_counts: vec![1.5, 2.0, 0.25],
                negative_counts: vec![],
            },
            positive_spans: spans,
            negative_spans: vec![],
            reset_hint: ResetHint::Gauge,
            custom_values: vec![],
        },
        Histogram {
            timestamp_ms: 10,
            schema: CUSTOM_BUCKETS_SCHEMA,
            sum: 100.0,
            counts: Counts::Integer {
                count: 6,
                zero_count: 0,
                positive_deltas: vec![1, 1, 1],
                negative_deltas: vec![],
            },
            positive_spans: vec![Span {
                offset: 0,
                length: 3,
            }],
            reset_hint: ResetHint::Yes,
            custom_values: vec![0.1, 1.0, 10.0],
            ..Histogram::default()
        },
        Histogram {
            timestamp_ms: 20,
            sum: f64::from_bits(crate::series::STALE_NAN_BITS),
            ..Histogram::default()
        },
    ]
}
