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
