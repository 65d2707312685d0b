//! Sending a case, judging its answer, and proving the daemon still serves after it.

use super::*;

/// Writes what the read cases read: a plain series, and one whose label value makes
/// backtracking regex engines explode; and checks a read of the first.
pub(super) async fn setup(url: &str) {
    let victim = format!("{}!", "a".repeat(40));
    let request = proto::WriteRequest {
        timeseries: vec![
            series(
                &[("__name__", "hostile_target"), ("job", "hostile")],
                &[(T0, 1.0)],
            ),
            series(
                &[
                    ("__name__", "hostile_redos"),
                    ("job", "hostile"),
                    ("victim", &victim),
                ],
                &[(T0, 1.0)],
            ),
        ],
        metadata: vec![],
    };
    let (status, body) = remote_write(url, &request).await;
    assert_eq!(status, 204, "setup write: {body}");
    let query = selector(&[(EQ, "__name__", "hostile_target")]);
    let (status, text, results) = remote_read(url, vec![query], false).await;
    assert_eq!(
        (status, results.first().map(Vec::len)),
        (200, Some(1)),
        "setup read: {text}"
    );
}

/// What the connector answered.
pub(super) struct Answer {
    status: u16,
    content_type: String,
    body: Vec<u8>,
}

/// Sends one case, prints its line, and says what was not as expected.
pub(super) async fn run(
    client: &reqwest::Client,
    url: &str,
    timestream: &aws_sdk_timestreamquery::Client,
    case: Case,
) -> Result<(), String> {
    let Case {
        name,
        route,
        headers,
        body,
        expect,
        timeout,
        stores,
    } = case;
    let before = match &expect {
        Expect::Ignored { reason, .. } => match ignored_count(client, url, &route, reason).await {
            Ok(count) => count,
            Err(failure) => {
                eprintln!("hostile-input | {name} | --- | not sent | FAILED: {failure}");
                return Err(failure);
            }
        },
        _ => 0.0,
    };
    let body = body();
    let started = Instant::now();
    let sent = send(client, url, &route, &headers, body, timeout).await;
    let took = started.elapsed().as_secs_f64();
    let answer = match sent {
        Ok(answer) => answer,
        Err(failure) => {
            eprintln!("hostile-input | {name} | --- | {took:.1}s | FAILED: {failure}");
            return Err(failure);
        }
    };
    let status = answer.status;
    let mut verdict = judge(client, url, &route, &expect, &answer, before).await;
    if let (true, Some(measure)) = (verdict.is_ok(), stores) {
        if let Err(failure) = stored_measure(timestream, measure).await {
            verdict = Err(failure);
        }
    }
    match verdict {
        Ok(detail) => {
            eprintln!("hostile-input | {name} | {status} | {took:.1}s | {detail}");
            Ok(())
        }
        Err(failure) => {
            let message = snippet(&String::from_utf8_lossy(&answer.body));
            eprintln!(
                "hostile-input | {name} | {status} | {took:.1}s | {message} | FAILED: {failure}"
            );
            Err(failure)
        }
    }
}

/// Checks `answer` against `expect`: the summary for the case's line, or what is wrong.
pub(super) async fn judge(
    client: &reqwest::Client,
    url: &str,
    route: &str,
    expect: &Expect,
    answer: &Answer,
    before: f64,
) -> Result<String, String> {
    let status = answer.status;
    let message = String::from_utf8_lossy(&answer.body);
    let success = (200..300).contains(&status);
    let client_error = (400..500).contains(&status);
    if status >= 500 {
        return Err(format!(
            "answered {status}, a server error, to input that is the client's fault: {}",
            snippet(&message)
        ));
    }
    if client_error && message.trim().is_empty() {
        return Err(format!("answered {status} with no message"));
    }
    if client_error && message.len() > MAX_MESSAGE_BYTES {
        return Err(format!(
            "answered {status} with a message of {} bytes: it echoes the input rather than saying what is wrong",
            message.len()
        ));
    }
    match expect {
        Expect::Refused {
            status: wanted,
            words,
        } => {
            if !client_error || wanted.is_some_and(|wanted| wanted != status) {
                let wanted = wanted.map_or_else(|| "a 4xx".to_owned(), |w| w.to_string());
                return Err(format!("answered {status}, expected {wanted}"));
            }
            if !words.iter().any(|word| message.contains(word)) {
                return Err(format!("the message names none of {words:?}"));
            }
            Ok(snippet(&message))
        }
        Expect::Stored => {
            if !success {
                return Err(format!("answered {status}, expected a 2xx"));
            }
            Ok(snippet(&message))
        }
        Expect::Ignored { reason, samples } => {
            if !success {
                return Err(format!("answered {status}, expected a 2xx"));
            }
            let grew = (ignored_count(client, url, route, reason).await? - before).max(0.0) as u64;
            if grew != *samples {
                return Err(format!(
                    "ignored samples ({reason}) grew by {grew}, expected {samples}"
                ));
            }
            Ok(format!("ignored +{grew} ({reason})"))
        }
        Expect::Read { series } => {
            if status != 200 {
                return Err(format!("answered {status}, expected 200"));
            }
            let found = read_series(answer)?;
            if found != *series {
                return Err(format!(
                    "the answer holds {found} series, expected {series}"
                ));
            }
            Ok(format!("{found} series"))
        }
        Expect::NotServerError => {
            if success && route == "/read" {
                Ok(format!("{} series", read_series(answer)?))
            } else if success || client_error {
                Ok(snippet(&message))
            } else {
                Err(format!("answered {status}, expected a 2xx or a 4xx"))
            }
        }
    }
}

/// POSTs `body` to `route`; a timeout or any other failure to get a whole answer (a
/// connection reset, closed or refused) is the case's failure.
pub(super) async fn send(
    client: &reqwest::Client,
    url: &str,
    route: &str,
    headers: &[(&'static str, String)],
    body: Vec<u8>,
    timeout: Duration,
) -> Result<Answer, String> {
    let mut request = client
        .post(format!("{url}{route}"))
        .timeout(timeout)
        .body(body);
    for (name, value) in headers {
        request = request.header(*name, value.as_str());
    }
    let failed = |error: reqwest::Error| {
        if error.is_timeout() {
            format!(
                "no whole answer within {}s: the connector hangs on this input",
                timeout.as_secs()
            )
        } else {
            format!("the connection failed or was dropped: {}", describe(&error))
        }
    };
    let response = request.send().await.map_err(failed)?;
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = response.bytes().await.map_err(failed)?.to_vec();
    Ok(Answer {
        status,
        content_type,
        body,
    })
}

/// An error with its chain of causes (reqwest's own text says little).
pub(super) fn describe(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The series count of a SAMPLES answer.
pub(super) fn read_series(answer: &Answer) -> Result<usize, String> {
    if answer.content_type != "application/x-protobuf" {
        return Err(format!(
            "a read answered with content type {:?}",
            answer.content_type
        ));
    }
    let raw = snappy::decompress(&answer.body)
        .map_err(|e| format!("the read answer is not snappy: {e}"))?;
    let response = proto::ReadResponse::decode(raw.as_slice())
        .map_err(|e| format!("the read answer is not a ReadResponse: {e}"))?;
    Ok(response.results.iter().map(|r| r.timeseries.len()).sum())
}

/// Samples and histograms ignored for `reason`, of `route`'s protocol.
pub(super) async fn ignored_count(
    client: &reqwest::Client,
    url: &str,
    route: &str,
    reason: &str,
) -> Result<f64, String> {
    let protocol = if route == "/write" {
        "remote_write"
    } else if route == "/events" {
        "events"
    } else {
        "pushgateway"
    };
    let text = client
        .get(format!("{url}/metrics"))
        .timeout(TIMEOUT)
        .send()
        .await
        .map_err(|e| format!("scraping the connector's metrics failed: {}", describe(&e)))?
        .text()
        .await
        .map_err(|e| format!("scraping the connector's metrics failed: {}", describe(&e)))?;
    // Samples and native histograms alike.
    let ignored = |what: &str| {
        metric_value(
            &text,
            &format!(
                "timestream_connector_ignored_{what}_total{{protocol=\"{protocol}\",reason=\"{reason}\"}}"
            ),
        )
    };
    Ok(ignored("samples") + ignored("histograms"))
}

/// Checks that Timestream holds `measure`.
pub(super) async fn stored_measure(
    timestream: &aws_sdk_timestreamquery::Client,
    measure: &str,
) -> Result<(), String> {
    let sql =
        format!("SELECT measure_name FROM \"{DB}\".\"metrics\" WHERE measure_name = '{measure}'");
    if query_rows(timestream, &sql).await?.is_empty() {
        return Err(format!("answered 2xx, but Timestream holds no {measure}"));
    }
    Ok(())
}

/// Writes one small valid series named after the case's index and reads it back from
/// Timestream itself (not through the connector's read path).
pub(super) async fn probe(
    client: &reqwest::Client,
    url: &str,
    timestream: &aws_sdk_timestreamquery::Client,
    index: usize,
) -> Result<(), String> {
    let tag = format!("p{index:03}");
    let time = T0 + 10_000 + index as i64;
    let value = index as f64 + 0.25;
    let request = proto::WriteRequest {
        timeseries: vec![series(
            &[("__name__", PROBE), ("job", "hostile"), ("probe", &tag)],
            &[(time, value)],
        )],
        metadata: vec![],
    };
    let body = snappy::compress(&request.encode_to_vec());
    let answer = send(
        client,
        url,
        "/write",
        &remote_write_headers(),
        body,
        TIMEOUT,
    )
    .await
    .map_err(|e| format!("a valid remote write failed: {e}"))?;
    if answer.status != 204 {
        return Err(format!(
            "a valid remote write answered {}: {}",
            answer.status,
            snippet(&String::from_utf8_lossy(&answer.body))
        ));
    }
    let sql = format!(
        "SELECT to_milliseconds(time), measure_value::double FROM \"{DB}\".\"metrics\" \
         WHERE measure_name = '{PROBE}' AND probe = '{tag}'"
    );
    let rows = query_rows(timestream, &sql)
        .await
        .map_err(|e| format!("reading a valid write back failed: {e}"))?;
    let found: Vec<(Option<i64>, Option<u64>)> = rows
        .iter()
        .map(|row| {
            let cell = |i: usize| row.get(i).cloned().flatten();
            (
                cell(0).and_then(|t| t.parse().ok()),
                cell(1)
                    .and_then(|v| v.parse::<f64>().ok())
                    .map(f64::to_bits),
            )
        })
        .collect();
    if found != [(Some(time), Some(value.to_bits()))] {
        return Err(format!(
            "a valid remote write answered 204, but Timestream holds {rows:?} for it"
        ));
    }
    Ok(())
}

/// Every row of `sql`'s answer, its cells as text (`None` for NULL).
pub(super) async fn query_rows(
    timestream: &aws_sdk_timestreamquery::Client,
    sql: &str,
) -> Result<Vec<Vec<Option<String>>>, String> {
    let mut rows = Vec::new();
    let mut token = None;
    loop {
        let page = timestream
            .query()
            .query_string(sql)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| format!("{sql}: {:?}", e.into_service_error()))?;
        for row in page.rows() {
            rows.push(
                row.data()
                    .iter()
                    .map(|datum| datum.scalar_value().map(str::to_owned))
                    .collect(),
            );
        }
        token = page.next_token;
        if token.is_none() {
            return Ok(rows);
        }
    }
}

/// The first 100 characters of `text`, on one line.
pub(super) fn snippet(text: &str) -> String {
    text.chars()
        .take(100)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}
