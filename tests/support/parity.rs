//! Holding the connector against the Pushgateway: what each serves for a job, compared
//! series by series; and the push clients the tests drive (prometheus_client, curl).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;

use super::pushgateway::{Exposed, Pushgateway};
use super::*;

pub const EQ: i32 = 0;

/// A series as both sides name it: metric name, and labels sorted, without `__name__`
/// and without empty values (an empty label is no label in Prometheus).
pub type SeriesKey = (String, Vec<(String, String)>);

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

pub async fn start() -> (Stack, Pushgateway) {
    let stack = Stack::start(Backend::Local, Via::Direct, &["metrics"], &[]).await;
    (stack, Pushgateway::start().await)
}

/// What the Pushgateway exposes for `job`: its series with label `job="<job>"`, without
/// `push_failure_time_seconds` (a Pushgateway bookkeeping metric the connector has no
/// use for) and without empty labels (it shows `instance=""` on every group without one).
pub fn pushgateway_group(exposed: &[Exposed], job: &str) -> BTreeMap<SeriesKey, f64> {
    exposed
        .iter()
        .filter(|e| e.label("job") == Some(job) && e.name != "push_failure_time_seconds")
        .map(|e| {
            let labels: Vec<(String, String)> = e
                .labels
                .iter()
                .filter(|(_, v)| !v.is_empty())
                .cloned()
                .collect();
            ((e.name.clone(), labels), e.value)
        })
        .collect()
}

/// What the connector serves back through remote read for matcher `job="<job>"` over
/// [start, end]: each series with its samples (time, value bits), oldest first.
pub async fn connector_group(
    url: &str,
    job: &str,
    start: i64,
    end: i64,
) -> BTreeMap<SeriesKey, Vec<(i64, u64)>> {
    let (status, body, results) =
        remote_read(url, vec![read_query(start, end, &[(EQ, "job", job)])], true).await;
    assert_eq!(status, 200, "remote read of job {job:?}: {body}");
    let mut group = BTreeMap::new();
    for (labels, samples) in results.into_iter().next().unwrap() {
        assert!(
            labels.windows(2).all(|w| w[0].0 < w[1].0),
            "labels come sorted, each once: {labels:?}"
        );
        let name = labels
            .iter()
            .find(|(n, _)| n == "__name__")
            .unwrap_or_else(|| panic!("a series without __name__: {labels:?}"))
            .1
            .clone();
        let labels: Vec<(String, String)> = labels
            .into_iter()
            .filter(|(n, _)| n != "__name__")
            .collect();
        assert!(
            labels.iter().all(|(_, v)| !v.is_empty()),
            "no empty label is stored: {labels:?}"
        );
        assert!(group.insert((name, labels), samples).is_none());
    }
    group
}

/// Asserts the connector holds what the Pushgateway exposes for `job`, pushed within
/// [start, end]: the same series, and as the latest sample of each the Pushgateway's
/// value bit for bit (the connector keeps every push; the Pushgateway shows the last).
/// `push_time_seconds` is compared by presence, and its value checked to be a receipt
/// time in seconds. NaN and ±Inf are stored in the connector's documented form: a NaN
/// must read back as a NaN (the Pushgateway's text does not say which one), ±Inf as
/// itself.
pub fn assert_same_as_pushgateway(
    job: &str,
    pushgateway: &BTreeMap<SeriesKey, f64>,
    connector: &BTreeMap<SeriesKey, Vec<(i64, u64)>>,
    (start, end): (i64, i64),
) {
    let mut problems = Vec::new();
    for (key, &value) in pushgateway {
        let latest = connector.get(key).and_then(|s| s.last());
        match latest {
            None => problems.push(format!("missing {key:?} = {value}")),
            Some(&(_, bits)) if value.is_nan() => {
                if !f64::from_bits(bits).is_nan() {
                    problems.push(format!(
                        "{key:?}: connector {}, Pushgateway NaN",
                        f64::from_bits(bits)
                    ));
                }
            }
            Some(&(_, bits)) if key.0 == "push_time_seconds" => {
                let seconds = f64::from_bits(bits);
                if !(start as f64 / 1000.0..=end as f64 / 1000.0).contains(&seconds) {
                    problems.push(format!(
                        "{key:?} = {seconds}: not a receipt time in [{start}, {end}] ms"
                    ));
                }
            }
            Some(&(_, bits)) if bits != value.to_bits() => problems.push(format!(
                "{key:?}: connector {:?}, Pushgateway {value:?}",
                f64::from_bits(bits)
            )),
            Some(_) => {}
        }
    }
    for (key, samples) in connector {
        if !pushgateway.contains_key(key) {
            problems.push(format!("unexpected {key:?}: {samples:?}"));
        }
    }
    assert!(
        problems.is_empty(),
        "job {job:?}: the connector differs from the Pushgateway:\n{}",
        problems.join("\n")
    );
}

/// Reads both sides for `jobs` and compares them; each job must show at least
/// `at_least` series at the Pushgateway, so that an empty comparison cannot pass.
pub async fn assert_parity(
    stack: &Stack,
    pushgateway: &Pushgateway,
    jobs: &[(&str, usize)],
    window: (i64, i64),
) {
    let exposed = pushgateway.exposition().await;
    for &(job, at_least) in jobs {
        let expected = pushgateway_group(&exposed, job);
        assert!(
            expected.len() >= at_least,
            "the Pushgateway shows {} series for job {job:?}, expected at least {at_least}: {expected:?}",
            expected.len()
        );
        let stored = connector_group(&stack.connector.url, job, window.0, window.1).await;
        assert_same_as_pushgateway(job, &expected, &stored, window);
    }
}

/// Runs tests/support/push_clients.py (prometheus_client) for `phase`: what it sent,
/// as (method, target, url, status, answer).
pub fn python_clients(phase: &str, pushgateway: &str, connector: &str) -> Vec<Value> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/push_clients.py");
    let output = Command::new(python())
        .arg(script)
        .args([phase, pushgateway, connector])
        .output()
        .expect("run push_clients.py");
    assert!(
        output.status.success(),
        "push_clients.py {phase}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice::<Value>(&output.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

/// `curl -X <method> --data-binary @<file> <url>` as a user pushes by hand: the status
/// and the answer. (curl sends `application/x-www-form-urlencoded`, which the
/// Pushgateway reads as text like any type that is not protobuf.)
pub fn curl(method: &str, url: &str, file: &Path) -> (u16, String) {
    let output = Command::new("curl")
        .args(["-sS", "-g", "-X", method, "--data-binary"])
        .arg(format!("@{}", file.display()))
        .args(["-w", "\n%{http_code}", url])
        .output()
        .expect("run curl");
    assert!(
        output.status.success(),
        "curl: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).unwrap();
    let (answer, code) = text.rsplit_once('\n').unwrap();
    (code.parse().unwrap(), answer.to_string())
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}
