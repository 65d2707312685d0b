//! Debian's Prometheus, as the remote write sender and remote read client of the
//! end-to-end tests.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use super::{eventually, scrape, write_file, Key};

/// A configuration of Prometheus scraping itself, the connector and `targets` (job,
/// address) every second (`scrape` false: nothing), remote-writing to the connector with
/// `queue` (queue_config's settings, in order).
pub fn remote_write_config(
    connector: &str,
    targets: &[(&str, &str)],
    scrape: bool,
    queue: &[(&str, &str)],
) -> String {
    let connector_address = connector.trim_start_matches("http://");
    let mut config = String::from("global:\n  scrape_interval: 1s\n");
    if scrape {
        config.push_str("scrape_configs:\n");
        let own = [("prometheus", "{self}"), ("connector", connector_address)];
        for (job, address) in own.iter().chain(targets) {
            config.push_str(&format!(
                "  - job_name: {job}\n    static_configs: [{{targets: ['{address}']}}]\n"
            ));
        }
    } else {
        config.push_str("scrape_configs: []\n");
    }
    config.push_str(&format!(
        "remote_write:\n  - url: {connector}/write\n    queue_config:\n"
    ));
    for (setting, value) in queue {
        config.push_str(&format!("      {setting}: {value}\n"));
    }
    config
}

/// Debian's Prometheus on a loopback port, with its own data directory.
pub struct Prometheus {
    child: Child,
    pub url: String,
    dir: tempfile::TempDir,
}

impl Prometheus {
    /// Starts Prometheus with `config`, in which `{self}` stands for its own address.
    pub async fn start(config: &str) -> Prometheus {
        Prometheus::start_with(config, &[]).await
    }

    /// Starts Prometheus with `config` and more command-line `flags`.
    pub async fn start_with(config: &str, flags: &[&str]) -> Prometheus {
        let dir = tempfile::tempdir().unwrap();
        // Prometheus must know its own address to scrape itself, so it cannot take port 0.
        let address = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let config_path = write_file(
            dir.path(),
            "prometheus.yml",
            &config.replace("{self}", &address.to_string()),
        );
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address={address}"))
            .arg("--web.enable-lifecycle")
            .arg("--log.level=warn")
            .args(flags)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start prometheus (Debian package `prometheus`)");
        let prometheus = Prometheus {
            child,
            url: format!("http://{address}"),
            dir,
        };
        let ready = format!("{}/-/ready", prometheus.url);
        eventually(
            "Prometheus to be ready",
            Duration::from_secs(60),
            || async { matches!(reqwest::get(&ready).await, Ok(r) if r.status() == 200) },
        )
        .await;
        prometheus
    }

    /// Replaces the configuration and waits for Prometheus to apply it.
    pub async fn reload(&self, config: &str) {
        let address = self.url.trim_start_matches("http://");
        write_file(
            self.dir.path(),
            "prometheus.yml",
            &config.replace("{self}", address),
        );
        let response = reqwest::Client::new()
            .post(format!("{}/-/reload", self.url))
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            200,
            "reload: {}",
            response.text().await.unwrap()
        );
    }

    /// The value of one of Prometheus' own metrics, summed over matching series.
    pub async fn metric(&self, name_and_labels: &str) -> f64 {
        scrape(&self.url, name_and_labels).await
    }

    /// Waits until everything Prometheus appended has been sent by remote write, and
    /// checks that nothing failed.
    pub async fn drained(&self) {
        eventually(
            "Prometheus' remote write queue to drain",
            Duration::from_secs(120),
            || async {
                let pending = self
                    .metric("prometheus_remote_storage_samples_pending")
                    .await;
                let appended = self
                    .metric("prometheus_remote_storage_highest_timestamp_in_seconds")
                    .await;
                let sent = self
                    .metric("prometheus_remote_storage_queue_highest_sent_timestamp_seconds")
                    .await;
                pending == 0.0 && sent >= appended
            },
        )
        .await;
        assert_eq!(
            self.metric("prometheus_remote_storage_samples_failed_total")
                .await,
            0.0
        );
    }

    /// GET `/api/v1/{path}` with `params`; the response, checked to be a success.
    pub async fn api(&self, path: &str, params: &[(&str, &str)]) -> Value {
        let response: Value = reqwest::Client::new()
            .get(format!("{}/api/v1/{path}", self.url))
            .query(params)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            response["status"], "success",
            "{path} {params:?}: {response}"
        );
        response
    }

    /// Every finite sample in Prometheus' own storage from the last `range`.
    pub async fn all_samples(&self, range: &str) -> std::collections::BTreeMap<Key, u64> {
        self.all_samples_at(range, None).await
    }

    /// Every finite sample in Prometheus' own storage in the `range` before `time`
    /// (seconds since the epoch, as Prometheus' API takes it; now if `None`).
    pub async fn all_samples_at(
        &self,
        range: &str,
        time: Option<&str>,
    ) -> std::collections::BTreeMap<Key, u64> {
        let query = format!("{{__name__=~\".+\"}}[{range}]");
        let mut params = vec![("query", query.as_str())];
        params.extend(time.map(|time| ("time", time)));
        let response = self.api("query", &params).await;
        let mut samples = std::collections::BTreeMap::new();
        for series in response["data"]["result"].as_array().unwrap() {
            let metric = series["metric"].as_object().unwrap();
            let name = metric["__name__"].as_str().unwrap().to_string();
            let mut dims: Vec<(String, String)> = metric
                .iter()
                .filter(|(k, _)| *k != "__name__")
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
                .collect();
            dims.sort();
            for pair in series["values"].as_array().unwrap() {
                // [seconds as a float with millisecond precision, value as text]
                let millis = (pair[0].as_f64().unwrap() * 1000.0).round() as i64;
                let value: f64 = pair[1].as_str().unwrap().parse().unwrap();
                if value.is_finite() {
                    samples.insert((name.clone(), dims.clone(), millis), value.to_bits());
                }
            }
        }
        samples
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
