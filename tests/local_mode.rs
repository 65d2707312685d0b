//! `--local`: the connector with Timestream Local in-process, as the README runs it. No
//! AWS account, credentials or endpoint flags; data kept in `--data-dir` across restarts.

mod support;

use support::*;

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

async fn start(dir: &std::path::Path) -> (Connector, aws_sdk_timestreamquery::Client) {
    let data_dir = format!("--data-dir={}", dir.display());
    let connector = Connector::start(&["--local", &data_dir]).await;
    let endpoint = connector
        .logged("endpoint")
        .expect("the connector logs Timestream Local's endpoint");
    let query = query_client(&endpoint);
    (connector, query)
}

async fn values(query: &aws_sdk_timestreamquery::Client) -> Vec<String> {
    let page = query
        .query()
        .query_string(
            "SELECT measure_value::double FROM \"prometheus\".\"metrics\" \
             WHERE measure_name = 'up' AND job = 'local' ORDER BY time",
        )
        .send()
        .await
        .unwrap();
    page.rows()
        .iter()
        .map(|r| r.data()[0].scalar_value().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn local_mode_creates_its_table_stores_writes_and_keeps_them_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let (connector, query) = start(dir.path()).await;
    let t = now_ms() - 10_000;
    let request = timestream_prometheus_connector::remote::proto::WriteRequest {
        timeseries: vec![series(
            &[("__name__", "up"), ("job", "local")],
            &[(t, 1.0), (t + 1000, 0.5)],
        )],
        metadata: vec![],
    };
    let (status, body) = remote_write(&connector.url, &request).await;
    assert_eq!(status, 204, "{body}");
    assert_eq!(values(&query).await, ["1.0", "0.5"]);

    drop(connector); // SIGKILL
    let (_connector, query) = start(dir.path()).await;
    assert_eq!(values(&query).await, ["1.0", "0.5"], "kept in --data-dir");
}

/// The process metrics every Prometheus server exports are at the telemetry path, read
/// at each scrape: operators and the peer benchmark take CPU and memory from them.
#[tokio::test]
async fn the_telemetry_path_has_the_standard_process_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let (connector, _) = start(dir.path()).await;
    let rss = connector.metric("process_resident_memory_bytes").await;
    assert!(
        rss > 1e6,
        "a running process holds more than a megabyte: {rss}"
    );
    assert!(connector.metric("process_open_fds").await >= 3.0);
    let started = connector.metric("process_start_time_seconds").await;
    let now = now_ms() as f64 / 1000.0;
    assert!(
        (now - 3600.0..=now).contains(&started),
        "started within the hour: {started}"
    );
    let cpu = connector.metric("process_cpu_seconds_total").await;
    assert!(cpu > 0.0, "CPU time in fractions of a second: {cpu}");
}
