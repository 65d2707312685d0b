//! Debian's Pushgateway (`prometheus-pushgateway`, 1.5.1): the reference the connector's
//! Pushgateway API is compared with. Also what a pushing client needs: a plain HTTP push
//! and a parser for the text exposition the Pushgateway serves back.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::eventually;

/// Debian's Pushgateway on a loopback port, in memory (no persistence file).
pub struct Pushgateway {
    child: Child,
    pub url: String,
}

impl Pushgateway {
    pub async fn start() -> Pushgateway {
        // The Pushgateway logs the address it was given, not the port it got, so it cannot
        // take port 0: pick a free port and hand it over, as for Prometheus.
        let address = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let child = Command::new("prometheus-pushgateway")
            .arg(format!("--web.listen-address={address}"))
            .arg("--log.level=warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the Pushgateway (Debian package `prometheus-pushgateway`)");
        let pushgateway = Pushgateway {
            child,
            url: format!("http://{address}"),
        };
        let ready = format!("{}/-/ready", pushgateway.url);
        eventually(
            "the Pushgateway to be ready",
            Duration::from_secs(60),
            || async { matches!(reqwest::get(&ready).await, Ok(r) if r.status() == 200) },
        )
        .await;
        pushgateway
    }

    /// Every sample the Pushgateway exposes on `/metrics` now. A push it answered is
    /// already applied: it answers only once its store took (or refused) the push.
    pub async fn exposition(&self) -> Vec<Exposed> {
        let text = reqwest::get(format!("{}/metrics", self.url))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        parse_exposition(&text)
    }
}

impl Drop for Pushgateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends `body` to `{base}{path}` with `method` and `headers`, as a pushing client does;
/// the status and the answer's text. `path` is sent as given (already percent-encoded).
pub async fn push(
    base: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> (u16, String) {
    let mut request = reqwest::Client::new()
        .request(
            reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
            format!("{base}{path}"),
        )
        .body(body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

/// The content type of the delimited protobuf exposition format.
pub const PROTOBUF_CONTENT_TYPE: &str =
    "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited";

/// One sample line of a text exposition: metric name, labels (sorted, unescaped, empty
/// values kept) and value.
#[derive(Debug, Clone, PartialEq)]
pub struct Exposed {
    pub name: String,
    pub labels: Vec<(String, String)>,
    pub value: f64,
}

impl Exposed {
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Parses the text exposition format 0.0.4 as the Pushgateway writes it: comment lines
/// skipped, label values unescaped exactly (`\\`, `\"`, `\n`), values as Go formats
/// them (`+Inf`, `-Inf`, `NaN`, shortest round-trip decimals). Panics on anything else:
/// a line it cannot read would make a comparison meaningless.
pub fn parse_exposition(text: &str) -> Vec<Exposed> {
    text.lines()
        .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
        .map(parse_line)
        .collect()
}

fn parse_line(line: &str) -> Exposed {
    let name_end = line
        .find(['{', ' '])
        .unwrap_or_else(|| panic!("no value in exposition line {line:?}"));
    let name = line[..name_end].to_string();
    let mut rest = &line[name_end..];
    let mut labels = Vec::new();
    if let Some(mut s) = rest.strip_prefix('{') {
        loop {
            if let Some(after) = s.strip_prefix('}') {
                rest = after;
                break;
            }
            // A label name cannot hold `=` or `"`, so the first `="` ends it.
            let (label, after) = s
                .split_once("=\"")
                .unwrap_or_else(|| panic!("bad label in exposition line {line:?}"));
            let mut value = String::new();
            let mut chars = after.char_indices();
            let end = loop {
                match chars.next() {
                    Some((i, '"')) => break i + 1,
                    Some((_, '\\')) => match chars.next() {
                        Some((_, 'n')) => value.push('\n'),
                        Some((_, '\\')) => value.push('\\'),
                        Some((_, '"')) => value.push('"'),
                        other => panic!("bad escape {other:?} in exposition line {line:?}"),
                    },
                    Some((_, c)) => value.push(c),
                    None => panic!("unterminated label value in exposition line {line:?}"),
                }
            };
            labels.push((label.to_string(), value));
            s = &after[end..];
            s = s.strip_prefix(',').unwrap_or(s);
        }
    }
    let mut fields = rest.split_whitespace();
    // Rust's parser takes Go's `+Inf`, `-Inf` and `NaN` too (case-insensitively).
    let value: f64 = fields
        .next()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("bad value in exposition line {line:?}"));
    // The Pushgateway exposes no timestamps; anything after the value is one.
    assert!(
        fields.next().is_none(),
        "a timestamp in the Pushgateway's exposition line {line:?}"
    );
    labels.sort();
    Exposed {
        name,
        labels,
        value,
    }
}
