//! What the secrets test sends and how it searches: fault settings, encodings of the
//! secrets, request builders, and the client that keeps every answer.

use super::*;

/// Clears every fault (keeps what the proxy recorded).
pub(super) fn clear(f: &mut Faults) {
    f.throttle = 0;
    f.fail = 0;
    f.deny = 0;
    f.reject_value = None;
    f.query_throttle = 0;
    f.query_fail = 0;
    f.query_deny = 0;
    f.query_faults_after = 0;
}

impl Found {
    /// Fails listing every place a secret appears.
    pub(super) fn assert_no_secret(&self) {
        let needles = self.needles();
        let mut places: Vec<(String, &str)> = Vec::new();
        for (i, line) in self.log.iter().enumerate() {
            places.push((format!("log line {}", i + 1), line.as_str()));
        }
        for answer in &self.answers {
            places.push(("an answer".into(), answer.as_str()));
        }
        places.push(("/metrics".into(), self.metrics.as_str()));
        let mut leaks = Vec::new();
        for (place, text) in &places {
            for (name, needle) in &needles {
                if let Some(at) = text.find(needle.as_str()) {
                    leaks.push(format!(
                        "{name} ({needle:?}) in {place}: {}",
                        excerpt(text, at, needle.len())
                    ));
                }
            }
        }
        assert!(
            leaks.is_empty(),
            "{} secret(s) printed or answered (of {} log lines, {} answers):\n{}",
            leaks.len(),
            self.log.len(),
            self.answers.len(),
            leaks.join("\n")
        );
    }

    /// Every form a secret could take in text, named.
    pub(super) fn needles(&self) -> Vec<(String, String)> {
        let pair = format!("{KEY_ID}:{SECRET}");
        let mut needles: Vec<(String, String)> = Vec::new();
        let mut add = |name: String, text: String| {
            if !needles.iter().any(|(_, t)| *t == text) {
                needles.push((name, text));
            }
        };
        for (name, secret) in [
            ("the secret access key", SECRET),
            ("the keyid:secret pair", pair.as_str()),
            ("the default chain's secret access key", ENV_SECRET),
            ("the session token", SESSION_TOKEN),
            ("the Basic password", PASSWORD),
            ("the bearer token", BEARER),
        ] {
            add(name.into(), secret.into());
            // Escaped as JSON may escape it, or percent-encoded.
            add(format!("{name}, JSON-escaped"), secret.replace('/', "\\/"));
            for upper in [true, false] {
                add(format!("{name}, percent-encoded"), percent(secret, upper));
            }
            // A truncated secret is a leak too: two thirds of it, from either end.
            let cut = secret.len() * 2 / 3;
            add(
                format!("{name}, its first two thirds"),
                secret[..cut].into(),
            );
            add(
                format!("{name}, its last two thirds"),
                secret[secret.len() - cut..].into(),
            );
        }
        add(
            "the base64 of the keyid:secret pair".into(),
            b64(pair.as_bytes()),
        );
        for header in &self.authorizations {
            let Ok(header) = std::str::from_utf8(header) else {
                continue; // its secret parts are needles above
            };
            add("an Authorization header sent".into(), header.into());
            if let Some((_, credential)) = header.split_once(' ') {
                add(
                    "the credential of an Authorization header sent".into(),
                    credential.into(),
                );
            }
        }
        needles
    }
}

/// `text` around `len` bytes at `at`, on character boundaries.
pub(super) fn excerpt(text: &str, at: usize, len: usize) -> &str {
    let mut start = at.saturating_sub(120);
    while !text.is_char_boundary(start) {
        start -= 1;
    }
    let mut end = (at + len + 120).min(text.len());
    while !text.is_char_boundary(end) {
        end += 1;
    }
    &text[start..end]
}

pub(super) fn percent(text: &str, upper: bool) -> String {
    text.chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '-' | '_' | '.' | '~' => c.to_string(),
            c => {
                let mut bytes = [0; 4];
                c.encode_utf8(&mut bytes)
                    .bytes()
                    .map(|b| {
                        if upper {
                            format!("%{b:02X}")
                        } else {
                            format!("%{b:02x}")
                        }
                    })
                    .collect()
            }
        })
        .collect()
}

pub(super) fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// `Authorization: Basic base64(user:password)`.
pub(super) fn basic(user: &str, password: &str) -> HeaderValue {
    HeaderValue::from_str(&format!(
        "Basic {}",
        b64(format!("{user}:{password}").as_bytes())
    ))
    .unwrap()
}

/// One series, `leak_test_metric{job="leak_test"}`, one sample at [`T`].
pub(super) fn write_request(value: f64) -> proto::WriteRequest {
    proto::WriteRequest {
        timeseries: vec![series(
            &[("__name__", "leak_test_metric"), ("job", "leak_test")],
            &[(T, value)],
        )],
        ..Default::default()
    }
}

/// One JSON event at [`T`].
pub(super) fn event(value: f64) -> Value {
    json!({"dimensions": {"site": "leak_test"}, "timestamp": T, "metrics": {"leak_test_event": value}})
}

/// An answer of the connector, read to its end (or to where it was cut short).
pub(super) struct Answer {
    what: String,
    status: u16,
    content_type: String,
    body: Vec<u8>,
}

impl Answer {
    /// Checks the status and that the body says `says`.
    pub(super) fn expect(self, status: u16, says: &str) -> Answer {
        let text = self.text();
        assert_eq!(self.status, status, "{}: {text}", self.what);
        assert!(text.contains(says), "{}: {text}", self.what);
        self
    }

    pub(super) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// How many series a successful read answered.
    pub(super) fn series(&self, streamed: bool) -> usize {
        decode_read_answer(&self.content_type, &self.body, streamed, 1)[0].len()
    }
}

/// Sends requests to the connector and keeps everything it answered.
pub(super) struct Client {
    url: String,
    http: reqwest::Client,
    /// Every answer, as text: searched at the end.
    pub(super) answers: Vec<String>,
    /// Every Authorization value sent: searched for at the end.
    pub(super) authorizations: Vec<Vec<u8>>,
}

impl Client {
    pub(super) fn new(url: &str) -> Client {
        Client {
            url: url.to_string(),
            http: reqwest::Client::new(),
            answers: Vec::new(),
            authorizations: Vec::new(),
        }
    }

    /// Remote write, as Prometheus sends it.
    pub(super) async fn write(
        &mut self,
        what: &str,
        auth: Option<HeaderValue>,
        request: &proto::WriteRequest,
    ) -> Answer {
        let body = snappy::compress(&prost::Message::encode_to_vec(request));
        let request = self
            .http
            .post(format!("{}/write", self.url))
            .header("Content-Encoding", "snappy")
            .header("Content-Type", "application/x-protobuf")
            .header("X-Prometheus-Remote-Write-Version", "0.1.0")
            .body(body);
        self.send(what, request, auth).await
    }

    /// Remote read of `leak_test_metric` around [`T`]; `streamed` asks for
    /// STREAMED_XOR_CHUNKS first.
    pub(super) async fn read(
        &mut self,
        what: &str,
        auth: Option<HeaderValue>,
        streamed: bool,
    ) -> Answer {
        let query = read_query(
            T - 60_000,
            T + 60_000,
            &[(EQ, "__name__", "leak_test_metric")],
        );
        let request = self
            .http
            .post(format!("{}/read", self.url))
            .header("Content-Encoding", "snappy")
            .header("Content-Type", "application/x-protobuf")
            .header("X-Prometheus-Remote-Read-Version", "0.1.0")
            .body(read_request_body(vec![query], streamed));
        let what = format!("{what} ({})", if streamed { "streamed" } else { "SAMPLES" });
        self.send(&what, request, auth).await
    }

    /// A Pushgateway push of `text` to group `job="leak_test"`.
    pub(super) async fn push(
        &mut self,
        what: &str,
        auth: Option<HeaderValue>,
        text: &str,
    ) -> Answer {
        let request = self
            .http
            .post(format!("{}/metrics/job/leak_test", self.url))
            .header("Content-Type", "text/plain; version=0.0.4")
            .body(text.to_string());
        self.send(what, request, auth).await
    }

    /// `POST /events`.
    pub(super) async fn events(
        &mut self,
        what: &str,
        auth: Option<HeaderValue>,
        events: &Value,
    ) -> Answer {
        let request = self
            .http
            .post(format!("{}/events", self.url))
            .header("Content-Type", "application/json")
            .body(events.to_string());
        self.send(what, request, auth).await
    }

    pub(super) async fn get(&mut self, path: &str) -> Answer {
        let request = self.http.get(format!("{}{path}", self.url));
        self.send(path, request, None).await
    }

    /// Sends `request` (with `auth` as its Authorization header), reads the answer to its
    /// end and keeps its status, headers and body as text (a snappy body decoded too).
    pub(super) async fn send(
        &mut self,
        what: &str,
        mut request: reqwest::RequestBuilder,
        auth: Option<HeaderValue>,
    ) -> Answer {
        if let Some(auth) = auth {
            self.authorizations.push(auth.as_bytes().to_vec());
            request = request.header(AUTHORIZATION, auth);
        }
        let mut response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        let status = response.status().as_u16();
        let mut text = format!("{what}: HTTP {status}\n");
        for (name, value) in response.headers() {
            text.push_str(&format!(
                "{name}: {}\n",
                String::from_utf8_lossy(value.as_bytes())
            ));
        }
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                .unwrap_or_default()
        };
        let content_type = header("content-type");
        let snappy_encoded = header("content-encoding") == "snappy";
        // A streamed read that fails after its 200 ends in a broken body: what came
        // before is kept.
        let mut body = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => body.extend_from_slice(&chunk),
                Ok(None) => break,
                Err(e) => {
                    text.push_str(&format!("(answer cut short: {e})\n"));
                    break;
                }
            }
        }
        text.push_str(&String::from_utf8_lossy(&body));
        if snappy_encoded {
            if let Ok(decoded) = snappy::decompress(&body) {
                text.push('\n');
                text.push_str(&String::from_utf8_lossy(&decoded));
            }
        }
        self.answers.push(text);
        Answer {
            what: what.to_string(),
            status,
            content_type,
            body,
        }
    }
}
