//! Durability: every record acknowledged before a kill -9 is there after a restart.

mod support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use support::{now_ms, record, Server};

/// The process, killed (SIGKILL) when dropped, so that a failing test leaves none behind.
struct Process(Child);

impl Process {
    fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The `timestream-local` binary on a loopback port, keeping data in `dir`.
fn spawn(dir: &Path) -> (Process, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_timestream-local"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--create",
            "conformance.tbl",
            "--data-dir",
        ])
        .arg(dir)
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut tx = Some(tx);
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            eprintln!("timestream-local| {line}");
            if let Some(address) = line
                .split_whitespace()
                .find_map(|w| w.strip_prefix("address="))
            {
                if let Some(tx) = tx.take() {
                    let _ = tx.send(address.to_string());
                }
            }
        }
    });
    let address = rx
        .recv_timeout(std::time::Duration::from_secs(60))
        .expect("timestream-local logs its address once listening");
    (Process(child), format!("http://{address}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_records_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, endpoint) = spawn(dir.path());
    let (tx, _rx) = tokio::sync::oneshot::channel();
    let server = Arc::new(Server::connect(endpoint, tx));
    let acknowledged = Arc::new(Mutex::new(Vec::<i64>::new()));
    let base = now_ms() - 60_000;

    // Writers keep writing; the process is killed while calls are in flight.
    let mut writers = Vec::new();
    for w in 0..4i64 {
        let server = server.clone();
        let acknowledged = acknowledged.clone();
        writers.push(tokio::spawn(async move {
            for call in 0..1000i64 {
                let times: Vec<i64> = (0..100)
                    .map(|i| base + (w * 1000 + call) * 100 + i)
                    .collect();
                let records = times.iter().map(|t| record("m", &[], "1", *t)).collect();
                match server.write_records("tbl", None, records).await {
                    Ok(_) => acknowledged.lock().unwrap().extend(times),
                    Err(_) => return,
                }
            }
        }));
    }
    support::eventually("some calls to be acknowledged", || {
        acknowledged.lock().unwrap().len() >= 2000
    })
    .await;
    child.kill(); // SIGKILL
    for w in writers {
        w.await.unwrap();
    }
    let acknowledged: std::collections::BTreeSet<i64> =
        acknowledged.lock().unwrap().iter().copied().collect();

    let (_child, endpoint) = spawn(dir.path());
    let (tx, _rx) = tokio::sync::oneshot::channel();
    let server = Server::connect(endpoint, tx);
    let (_, rows) = server
        .query_all("SELECT to_milliseconds(time) FROM \"conformance\".\"tbl\"")
        .await;
    let stored: std::collections::BTreeSet<i64> = rows
        .iter()
        .map(|r| r[0].as_ref().unwrap().parse().unwrap())
        .collect();
    let lost: Vec<_> = acknowledged.difference(&stored).take(5).collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged records lost, e.g. {lost:?}",
        acknowledged.difference(&stored).count()
    );
}

#[tokio::test]
async fn a_torn_final_line_is_dropped_and_the_rest_replays() {
    let dir = tempfile::tempdir().unwrap();
    let options = timestream_local::Options {
        data_dir: Some(dir.path().to_path_buf()),
        ..Default::default()
    };
    {
        let server = Server::start_with(options.clone()).await;
        server.create("conformance", "tbl").await;
        server
            .write_records("tbl", None, vec![record("m", &[], "1", now_ms())])
            .await
            .unwrap();
    }
    let log = dir.path().join("timestream-local.log");
    let mut bytes = std::fs::read(&log).unwrap();
    bytes.extend_from_slice(b"{\"op\":\"write\",\"database\":\"conf");
    std::fs::write(&log, bytes).unwrap();

    let server = Server::start_with(options.clone()).await;
    assert_eq!(server.count("tbl").await, 1);
    server
        .write_records("tbl", None, vec![record("m", &[], "2", now_ms() - 5)])
        .await
        .unwrap();
    drop(server);
    let server = Server::start_with(options).await;
    assert_eq!(
        server.count("tbl").await,
        2,
        "appends after the torn line replay too"
    );
}
