//! The connector's own WriteRecords requests against the official SDK's, on the wire: for
//! the same call, the same JSON body byte for byte, and the same SigV4 signature for the
//! same headers, credentials and time. Both clients send to a loopback server that
//! records what arrives. Also: endpoint discovery, error answers, session tokens.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

#[path = "support/sdk_records.rs"]
mod sdk_records;
use sdk_records::sdk_records;

use aws_credential_types::provider::SharedCredentialsProvider;
use axum::body::Bytes;
use axum::http::{HeaderMap, Request};
use timestream_prometheus_connector::fixtures;
use timestream_prometheus_connector::remote::{proto, write};
use timestream_prometheus_connector::timestream::backend::{Backend, BackendError, QueryBackend};
use timestream_prometheus_connector::timestream::batch::calls;
use timestream_prometheus_connector::timestream::direct::{sign_request, Api, DirectBackend};
use timestream_prometheus_connector::timestream::records::{plan, Routing, Strictness};

/// Our client of `api`, sending to `url` with the test's credentials.
async fn direct(api: Api, url: &str) -> DirectBackend {
    let provider = SharedCredentialsProvider::new(credentials());
    DirectBackend::with(api, "eu-west-1", Some(url), None, provider)
        .await
        .unwrap()
}

fn routing(database: &str) -> Routing {
    Routing {
        default_database: database.into(),
        default_table: "metrics".into(),
        database_label: None,
        table_label: None,
    }
}

/// A status, headers and body for a request with these headers.
type Answer = fn(&HeaderMap) -> (u16, Vec<(&'static str, String)>, String);

#[derive(Debug, Clone)]
struct Seen {
    headers: HeaderMap,
    path: String,
    body: Bytes,
}

/// A loopback server that keeps every request and answers each with `answer`.
struct Recorder {
    url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Recorder {
    async fn start(answer: Answer) -> Recorder {
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let kept = seen.clone();
        let app = axum::Router::new().fallback(move |request: Request<axum::body::Body>| {
            let kept = kept.clone();
            async move {
                let (parts, body) = request.into_parts();
                let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
                let (status, headers, text) = answer(&parts.headers);
                kept.lock().unwrap().push(Seen {
                    headers: parts.headers,
                    path: parts.uri.to_string(),
                    body,
                });
                let mut response = axum::response::Response::new(axum::body::Body::from(text));
                *response.status_mut() = axum::http::StatusCode::from_u16(status).unwrap();
                for (name, value) in headers {
                    response.headers_mut().insert(name, value.parse().unwrap());
                }
                response
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Recorder { url, seen }
    }

    fn take(&self) -> Vec<Seen> {
        std::mem::take(&mut *self.seen.lock().unwrap())
    }
}

fn accepted(headers: &HeaderMap) -> (u16, Vec<(&'static str, String)>, String) {
    let query = headers["x-amz-target"] == "Timestream_20181101.Query";
    let body = if query {
        r#"{"QueryId":"q","Rows":[{"Data":[{"ScalarValue":"up"},{"NullValue":true}]}],"ColumnInfo":[{"Name":"a","Type":{"ScalarType":"VARCHAR"}},{"Name":"b","Type":{"ScalarType":"VARCHAR"}}],"QueryStatus":{"ProgressPercentage":100.0,"CumulativeBytesScanned":10,"CumulativeBytesMetered":10000000}}"#
    } else {
        r#"{"RecordsIngested":{"Total":1,"MemoryStore":1,"MagneticStore":0}}"#
    };
    (
        200,
        vec![("content-type", "application/x-amz-json-1.0".into())],
        body.into(),
    )
}

/// Asserts our request carries the SDK's signature for the SDK's own request (its
/// signed headers, its time), and signs the headers the SDK signs, less its user agent.
fn assert_signed_alike(url: &str, theirs: &Seen, mine: &Seen) {
    let authorization = |h: &HeaderMap| h["authorization"].to_str().unwrap().to_string();
    let signed = |h: &HeaderMap| -> Vec<String> {
        let a = authorization(h);
        let list = a.split("SignedHeaders=").nth(1).unwrap();
        let list = list.split(',').next().unwrap();
        list.split(';').map(str::to_string).collect()
    };
    let mut again = axum::http::Request::builder()
        .method("POST")
        .uri(format!("{url}{}", theirs.path));
    for name in signed(&theirs.headers) {
        again = again.header(&name, &theirs.headers[name.as_str()]);
    }
    let mut again = again.body(()).unwrap();
    let signed_at = amz_date(theirs.headers["x-amz-date"].to_str().unwrap());
    sign_request(
        &mut again,
        &theirs.body,
        &credentials(),
        "eu-west-1",
        signed_at,
    )
    .unwrap();
    assert_eq!(
        authorization(again.headers()),
        authorization(&theirs.headers)
    );
    let expected: Vec<String> = signed(&theirs.headers)
        .into_iter()
        .filter(|h| h != "x-amz-user-agent")
        .collect();
    assert_eq!(signed(&mine.headers), expected);
    for header in [
        "content-type",
        "x-amz-target",
        "host",
        "x-amz-security-token",
    ] {
        assert_eq!(
            mine.headers.get(header),
            theirs.headers.get(header),
            "{header}"
        );
    }
    assert_eq!(mine.path, theirs.path);
}

fn credentials() -> aws_credential_types::Credentials {
    aws_credential_types::Credentials::new(
        "AKIDEXAMPLE",
        "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        Some("session/token+=".into()),
        None,
        "test",
    )
}

async fn sdk_client(url: &str) -> aws_sdk_timestreamwrite::Client {
    let config = aws_sdk_timestreamwrite::Config::builder()
        .behavior_version_latest()
        .region(aws_sdk_timestreamwrite::config::Region::new("eu-west-1"))
        .endpoint_url(url)
        .credentials_provider(credentials())
        .retry_config(aws_sdk_timestreamwrite::config::retry::RetryConfig::disabled())
        .build();
    aws_sdk_timestreamwrite::Client::from_conf(config)
}

/// Requests with what the wire must carry exactly: shared and own dimensions, one and
/// many measure names and times, values of every shape, text that JSON must escape.
fn requests() -> Vec<proto::WriteRequest> {
    let mut requests = fixtures::node_exporter(3, 2);
    requests.push(fixtures::write_request(250, 6, 2));
    let label = |name: &str, value: &str| proto::Label {
        name: name.into(),
        value: value.into(),
    };
    let odd = [
        "quote\"s",
        "back\\slash",
        "new\nline",
        "tab\t",
        "ctl\u{1}\u{1f}",
        "dél\u{7f}",
        "emoji 📈",
        "</script>",
    ];
    let timeseries = odd
        .iter()
        .enumerate()
        .map(|(i, value)| proto::TimeSeries {
            labels: vec![
                label("__name__", "odd_text"),
                label("instance", "i"),
                label("path", value),
            ],
            samples: vec![proto::Sample {
                value: [
                    1e-300,
                    -0.5,
                    123456789.125,
                    5e-324,
                    0.0,
                    1e21,
                    0.1 + 0.2,
                    f64::MAX,
                ][i],
                timestamp: 1_700_000_000_000 + i as i64,
            }],
            exemplars: vec![],
            histograms: vec![],
        })
        .collect();
    requests.push(proto::WriteRequest {
        timeseries,
        metadata: vec![],
    });
    // Native histograms: multi-measure records, in calls of their own.
    let mut with_histograms = requests[0].timeseries.clone();
    with_histograms[0].histograms = timestream_prometheus_connector::fixtures::histograms()
        .iter()
        .map(timestream_prometheus_connector::remote::histogram::to_proto)
        .collect();
    // And exemplars, with two dimensions more than their series.
    with_histograms[1].exemplars = vec![proto::Exemplar {
        labels: vec![label("trace_id", "a\"b")],
        value: 0.5,
        timestamp: 1_700_000_000_000,
    }];
    requests.push(proto::WriteRequest {
        timeseries: with_histograms,
        metadata: vec![],
    });
    requests
}

/// `X-Amz-Date`'s `YYYYMMDD'T'HHMMSS'Z'` as a time.
fn amz_date(text: &str) -> SystemTime {
    let number = |range: std::ops::Range<usize>| text[range].parse::<i64>().unwrap();
    let (year, month, day) = (number(0..4), number(4..6), number(6..8));
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let seconds = days * 86_400 + number(9..11) * 3600 + number(11..13) * 60 + number(13..15);
    SystemTime::UNIX_EPOCH + Duration::from_secs(seconds as u64)
}

#[tokio::test]
async fn bodies_and_signatures_equal_the_sdks() {
    let recorder = Recorder::start(accepted).await;
    let sdk = sdk_client(&recorder.url).await;
    let ours = direct(Api::Write, &recorder.url).await;
    let routing = routing("prometheus db");
    let mut compared = 0;
    let mut multi_measure = 0;
    // Each request in both record modes.
    for (request, multi) in requests()
        .into_iter()
        .flat_map(|r| [(r.clone(), false), (r, true)])
    {
        let body = prost::Message::encode_to_vec(&request);
        let batch = write::decode(&body).unwrap();
        let mut planned = plan(&batch, &routing, Strictness::default()).unwrap();
        if multi {
            timestream_prometheus_connector::timestream::multi::merge(&mut planned);
        }
        for call in calls(&planned) {
            multi_measure += usize::from(call.is_multi());
            let (common, records) = sdk_records(&call);
            sdk.write_records()
                .database_name(call.destination.database)
                .table_name(call.destination.table)
                .common_attributes(common)
                .set_records(Some(records))
                .send()
                .await
                .unwrap();
            ours.write_records(&call, None).await.unwrap();
            let [theirs, mine]: [Seen; 2] = recorder.take().try_into().unwrap();
            assert_eq!(
                String::from_utf8_lossy(&mine.body),
                String::from_utf8_lossy(&theirs.body),
                "the same JSON, byte for byte"
            );
            assert_signed_alike(&recorder.url, &theirs, &mine);
            compared += 1;
        }
    }
    assert!(compared >= 30, "{compared} calls compared");
    assert!(
        multi_measure >= 2,
        "{multi_measure} calls of multi-measure records"
    );
}

#[tokio::test]
async fn queries_are_the_sdks_and_their_answers_read_alike() {
    let recorder = Recorder::start(accepted).await;
    let config = aws_sdk_timestreamquery::Config::builder()
        .behavior_version_latest()
        .region(aws_sdk_timestreamquery::config::Region::new("eu-west-1"))
        .endpoint_url(&recorder.url)
        .credentials_provider(credentials())
        .retry_config(aws_sdk_timestreamquery::config::retry::RetryConfig::disabled())
        .build();
    let sdk = aws_sdk_timestreamquery::Client::from_conf(config);
    let ours = direct(Api::Query, &recorder.url).await;
    let sql = "SELECT \"job\", time FROM \"db\".\"t\" WHERE measure_name = 'up\n'";
    for token in [None, Some("AYAB+token/=")] {
        let answer = sdk
            .query()
            .query_string(sql)
            .set_next_token(token.map(str::to_string))
            .send()
            .await
            .unwrap();
        let page = ours.query(sql, token, None).await.unwrap();
        let rows: Vec<Vec<Option<&str>>> = page.rows().map(|r| r.cells().collect()).collect();
        let sdk_rows: Vec<Vec<Option<&str>>> = answer
            .rows()
            .iter()
            .map(|r| r.data().iter().map(|d| d.scalar_value()).collect())
            .collect();
        assert_eq!(rows, sdk_rows);
        assert_eq!(page.bytes_scanned, 10);
        let [theirs, mine]: [Seen; 2] = recorder.take().try_into().unwrap();
        // The SDK adds an idempotency token of its own making; the rest is the same.
        let mut sdk_body: serde_json::Value = serde_json::from_slice(&theirs.body).unwrap();
        sdk_body.as_object_mut().unwrap().remove("ClientToken");
        let mine_body: serde_json::Value = serde_json::from_slice(&mine.body).unwrap();
        assert_eq!(mine_body, sdk_body);
        assert_signed_alike(&recorder.url, &theirs, &mine);
    }
}

#[tokio::test]
async fn the_discovered_endpoint_receives_the_writes() {
    let writes = Recorder::start(accepted).await;
    let address = writes.url.trim_start_matches("http://").to_string();
    static ADDRESS: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    ADDRESS.set(address).unwrap();
    let discovery = Recorder::start(|_| {
        let body = format!(
            r#"{{"Endpoints":[{{"Address":"{}","CachePeriodInMinutes":1440}}]}}"#,
            ADDRESS.get().unwrap()
        );
        (200, vec![], body)
    })
    .await;
    let ours = DirectBackend::with(
        Api::Write,
        "eu-west-1",
        None,
        Some(&discovery.url),
        SharedCredentialsProvider::new(credentials()),
    )
    .await
    .unwrap();
    let asked = discovery.take();
    assert_eq!(asked.len(), 1);
    assert_eq!(
        asked[0].headers["x-amz-target"],
        "Timestream_20181101.DescribeEndpoints"
    );
    assert!(asked[0].headers["authorization"]
        .to_str()
        .unwrap()
        .starts_with("AWS4-HMAC-SHA256 "));

    let request = fixtures::write_request(10, 4, 1);
    let body = prost::Message::encode_to_vec(&request);
    let batch = write::decode(&body).unwrap();
    let routing = routing("db");
    let planned = plan(&batch, &routing, Strictness::default()).unwrap();
    for call in calls(&planned) {
        ours.write_records(&call, None).await.unwrap();
    }
    assert!(!writes.take().is_empty());
    assert!(discovery.take().is_empty(), "the endpoint is cached");
}

#[tokio::test]
async fn error_answers_keep_their_class() {
    fn throttled(_: &HeaderMap) -> (u16, Vec<(&'static str, String)>, String) {
        (
            400,
            vec![(
                "x-amzn-errortype",
                "ThrottlingException:http://internal.amazon.com/".into(),
            )],
            r#"{"message":"Rate exceeded"}"#.into(),
        )
    }
    fn rejected(_: &HeaderMap) -> (u16, Vec<(&'static str, String)>, String) {
        (
            419,
            vec![],
            r#"{"__type":"com.amazonaws.timestream.v20181101#RejectedRecordsException","message":"rejected","RejectedRecords":[{"RecordIndex":1,"Reason":"A record already exists with the same time, dimensions and measure name but a different value.","ExistingVersion":1}]}"#.into(),
        )
    }
    let request = fixtures::write_request(2, 4, 1);
    let body = prost::Message::encode_to_vec(&request);
    let batch = write::decode(&body).unwrap();
    let routing = routing("db");
    let planned = plan(&batch, &routing, Strictness::default()).unwrap();
    let call = &calls(&planned)[0];
    let server = Recorder::start(throttled).await;
    let ours = direct(Api::Write, &server.url).await;
    assert_eq!(
        ours.write_records(call, None).await,
        Err(BackendError::Throttled("Rate exceeded".into()))
    );
    let server = Recorder::start(rejected).await;
    let ours = direct(Api::Write, &server.url).await;
    match ours.write_records(call, None).await {
        Err(BackendError::Rejected(records)) => {
            assert_eq!(records.len(), 1);
            assert_eq!(records[0].index, 1);
            assert_eq!(records[0].existing_version, Some(1));
        }
        other => panic!("{other:?}"),
    }
    // Nothing listening: retryable.
    let closed = direct(Api::Write, "http://127.0.0.1:9").await;
    assert!(closed
        .write_records(call, None)
        .await
        .unwrap_err()
        .is_retryable());
}
