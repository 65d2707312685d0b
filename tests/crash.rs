//! Nothing acknowledged is lost when the daemon is killed: a real Prometheus (Debian's
//! 2.42) scrapes itself and the connector every second and remote-writes to the
//! connector on `--local`; the connector is killed with SIGKILL while Prometheus is
//! sending, twice, and restarted each time on the same address and `--data-dir`. Once
//! Prometheus has resent and drained, every sample it holds for the window is read back
//! through the connector's `/read`, exactly (labels, millisecond timestamps, value bits),
//! and nothing else is.
//!
//! Why this proves that nothing acknowledged is lost:
//! - Timestream Local appends every write to its log before it acknowledges it (the
//!   kernel has the bytes, so a killed process loses none of them; a line cut short by
//!   the kill was never acknowledged and is dropped on replay), and a restart replays the
//!   log.
//! - The connector answers 204 only after Timestream acknowledged every record of the
//!   request; a request cut short by the kill gets no answer at all.
//! - Prometheus keeps every sample in its WAL and retries a batch until it is answered
//!   with a success (a refused or reset connection is a recoverable error), so whatever
//!   the dead connector did not acknowledge is sent again to the next one.
//! - A batch that was partly stored before the kill is resent whole: the same value at the
//!   same time for the same series is idempotent in Timestream (stored once, no
//!   rejection), which the exact comparison below also checks (no sample read twice).
//!
//! So after the kills and the resends, the store must hold exactly what Prometheus holds:
//! a sample missing from `/read` would be one that was acknowledged and then lost (or
//! never acknowledged, which `drained` rules out), a sample twice would be a resend stored
//! as a second record.
//!
//! Everything waits on conditions (metrics of both processes, Prometheus' own queries),
//! never on sleeps; nothing asserts how long anything took.

mod support;

use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::time::Duration;

use support::*;

/// Remote read's regex matcher type.
const RE: i32 = 2;

const TIMEOUT: Duration = Duration::from_secs(60);

/// Samples Prometheus had to send again after a failed attempt (2.42 counts a batch here
/// each time it retries it after a recoverable error: connection refused or reset, 5xx).
const RETRIED: &str = "prometheus_remote_storage_samples_retried_total";

/// The highest timestamp (in whole seconds) of a batch the remote end acknowledged.
const HIGHEST_SENT: &str = "prometheus_remote_storage_queue_highest_sent_timestamp_seconds";

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// A loopback address nothing listens on now: the connector keeps it across restarts,
/// because Prometheus' configuration names it.
fn free_address() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().to_string()
}

/// Prometheus scraping itself and the connector every second (`scrape` false: nothing),
/// remote-writing to the connector in small batches with fast retries.
fn config(connector: &str, scrape: bool) -> String {
    let queue = [
        ("max_samples_per_send", "100"),
        ("batch_send_deadline", "1s"),
        ("min_backoff", "100ms"),
        ("max_backoff", "1s"),
    ];
    remote_write_config(connector, &[], scrape, &queue)
}

async fn start_connector(address: &str, data_dir: &Path) -> Connector {
    let data_dir = format!("--data-dir={}", data_dir.display());
    Connector::start_at(address, &["--local", &data_dir]).await
}

/// Waits until this connector process has received samples from Prometheus and
/// acknowledged at least one write (its counters start at zero with each process).
async fn receives(connector: &Connector) {
    eventually(
        "the connector to receive and acknowledge Prometheus' samples",
        TIMEOUT,
        || async {
            connector
                .metric("timestream_connector_received_samples_total{protocol=\"remote_write\"}")
                .await
                > 0.0
                && connector
                    .metric("timestream_connector_write_requests_total{code=\"204\"}")
                    .await
                    > 0.0
        },
    )
    .await;
}

/// Whether Prometheus has recorded a failed scrape of the connector (`up` 0) taken at
/// or after `since` (ms): a range selector returns the samples with their own times.
async fn scrape_failed_since(prometheus: &Prometheus, since: i64) -> bool {
    let response = prometheus
        .api("query", &[("query", "up{job=\"connector\"}[1m]")])
        .await;
    response["data"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|series| series["values"].as_array().unwrap())
        .any(|pair| {
            let millis = (pair[0].as_f64().unwrap() * 1000.0).round() as i64;
            millis >= since && pair[1] == "0"
        })
}

/// Kills the connector with SIGKILL while Prometheus is sending to it, and waits until
/// Prometheus has noticed: it retried a batch the dead connector did not acknowledge,
/// and a scrape of the connector failed (an `up` of 0, a sample appended while nothing
/// could receive it, which therefore reaches the store only by a later send).
async fn kill_while_sending(mut connector: Connector, prometheus: &Prometheus) {
    let retried = prometheus.metric(RETRIED).await;
    signal(connector.pid(), "KILL");
    let status = connector.wait();
    assert_eq!(status.signal(), Some(9), "killed by SIGKILL: {status:?}");
    let killed = now_ms();
    drop(connector);
    eventually(
        "Prometheus to retry a batch the killed connector did not acknowledge",
        TIMEOUT,
        || async { prometheus.metric(RETRIED).await > retried },
    )
    .await;
    eventually(
        "Prometheus to fail a scrape of the killed connector",
        TIMEOUT,
        || async { scrape_failed_since(prometheus, killed).await },
    )
    .await;
}

/// Every sample Prometheus holds in its own storage with a time in `[start, end]`.
///
/// Non-finite values (NaN, ±Inf, staleness markers, which Prometheus writes for every
/// series of a failed scrape) are left out: the connector does not store them today (it
/// counts them in `timestream_connector_ignored_samples_total`), since Timestream has no
/// place for them. Storing staleness markers is a separate issue (remote write 2.0 /
/// staleness support).
async fn held(prometheus: &Prometheus, start: i64, end: i64) -> BTreeMap<Key, u64> {
    // A range selector a second wider on each side, at a time after `end`; the window
    // itself is cut here, so that the edges' inclusiveness does not matter.
    let range = format!("{}ms", end - start + 2000);
    let time = end + 1000;
    let time = format!("{}.{:03}", time / 1000, time % 1000);
    let mut samples = prometheus.all_samples_at(&range, Some(&time)).await;
    samples.retain(|(_, _, millis), _| (start..=end).contains(millis));
    samples
}

/// What the connector serves through `/read` for every series over `[start, end]`, in
/// the answer type asked for; panics on a sample served twice.
async fn served(connector: &Connector, start: i64, end: i64, streamed: bool) -> BTreeMap<Key, u64> {
    let query = read_query(start, end, &[(RE, "__name__", ".+")]);
    let (status, detail, mut results) = remote_read(&connector.url, vec![query], streamed).await;
    assert_eq!(status, 200, "remote read: {detail}");
    let mut samples = BTreeMap::new();
    let mut twice = Vec::new();
    for (labels, points) in results.remove(0) {
        let name = labels
            .iter()
            .find(|(n, _)| n == "__name__")
            .map(|(_, v)| v.clone())
            .expect("a series with a name");
        let mut dims: Vec<(String, String)> = labels
            .into_iter()
            .filter(|(n, _)| n != "__name__")
            .collect();
        dims.sort();
        for (time, bits) in points {
            // Prometheus' query API, the other side, leaves staleness markers out
            // (tests/non_finite.rs and tests/e2e_prometheus.rs check them).
            if !(start..=end).contains(&time) || !f64::from_bits(bits).is_finite() {
                continue;
            }
            let key = (name.clone(), dims.clone(), time);
            if samples.insert(key.clone(), bits).is_some() {
                twice.push(key);
            }
        }
    }
    assert!(
        twice.is_empty(),
        "{} samples served twice (streamed: {streamed}), e.g. {:?}",
        twice.len(),
        &twice[..twice.len().min(10)]
    );
    samples
}

#[tokio::test]
async fn nothing_acknowledged_is_lost_when_the_daemon_is_killed_mid_write() {
    let start = now_ms();
    let dir = tempfile::tempdir().unwrap();
    let address = free_address();
    let url = format!("http://{address}");

    let connector = start_connector(&address, dir.path()).await;
    assert_eq!(connector.url, url);
    let prometheus = Prometheus::start(&config(&url, true)).await;
    receives(&connector).await;

    // First crash, in the middle of Prometheus' steady sending.
    kill_while_sending(connector, &prometheus).await;
    let connector = start_connector(&address, dir.path()).await;
    // Second crash, while Prometheus is resending its backlog to the new process.
    receives(&connector).await;
    kill_while_sending(connector, &prometheus).await;
    let connector = start_connector(&address, dir.path()).await;
    receives(&connector).await;

    // The window ends after the last restart. Prometheus must then have had a sample
    // taken more than 2 s later acknowledged (by this third process): every sample of the
    // window was appended to its WAL before that one (a scrape times out after 1 s), and
    // its queue reads the WAL in order, so every sample of the window has been queued,
    // and `drained` (nothing pending) below means each was sent and acknowledged. (What
    // `drained` checks only to the second, the last samples before the scrapes stop, is
    // outside the window.)
    let end = now_ms();
    eventually(
        "Prometheus to have a sample from after the window acknowledged",
        TIMEOUT,
        || async { prometheus.metric(HIGHEST_SENT).await * 1000.0 > (end + 2000) as f64 },
    )
    .await;

    // Stop scraping, so that the queue can drain to the last sample appended (with a
    // scrape every second and a 1 s batch deadline it is never empty otherwise); then
    // everything Prometheus holds has been acknowledged, nothing failed for good.
    prometheus.reload(&config(&url, false)).await;
    prometheus.drained().await;
    assert_eq!(
        prometheus
            .metric("prometheus_remote_storage_samples_dropped_total")
            .await,
        0.0
    );

    let expected = held(&prometheus, start, end).await;
    for job in ["prometheus", "connector"] {
        assert!(
            expected
                .keys()
                .any(|(_, dims, _)| dims.iter().any(|(n, v)| n == "job" && v == job)),
            "Prometheus holds samples of job {job}"
        );
    }
    // One failed scrape per crash at least: samples appended while no connector ran.
    let down = expected
        .iter()
        .filter(|((name, dims, _), bits)| {
            name == "up"
                && dims.iter().any(|(n, v)| n == "job" && v == "connector")
                && f64::from_bits(**bits) == 0.0
        })
        .count();
    assert!(
        down >= 2,
        "Prometheus recorded the connector down {down} times"
    );

    for streamed in [true, false] {
        let actual = served(&connector, start, end, streamed).await;
        assert_same_records(&actual, &expected);
    }
}
