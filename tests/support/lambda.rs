//! AWS Lambda, as far as a function sees it: a fake Runtime API ([`RuntimeApi`]) that
//! hands out queued events and collects the answers, the connector binary started as a
//! function against it ([`LambdaFunction`]), and builders for the events Lambda
//! delivers (API Gateway HTTP and REST APIs, ALB, SQS) in the shapes AWS documents.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot, watch};

use super::aws_env;

/// How long an invocation, or the function's start, may take before the test fails.
/// Generous: a debug build on a busy 2-core machine is slow, and nothing here sleeps.
pub const TIMEOUT: Duration = Duration::from_secs(60);

pub const FUNCTION_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:connector";

/// What the function answered to one invocation.
#[derive(Debug, Clone, PartialEq)]
pub enum Invocation {
    /// POSTed to `/runtime/invocation/<id>/response`.
    Response(Value),
    /// POSTed to `/runtime/invocation/<id>/error` (`errorType`, `errorMessage`).
    Error(Value),
}

impl Invocation {
    /// The response; fails the test on a function error.
    pub fn response(self) -> Value {
        match self {
            Invocation::Response(value) => value,
            Invocation::Error(error) => panic!("the function answered an error: {error}"),
        }
    }
}

/// What the Runtime API has seen of the function.
#[derive(Debug, Default, Clone)]
pub struct Seen {
    /// `GET …/invocation/next` calls: one per invocation, plus the one waiting.
    pub next_calls: u32,
    /// The body of a `POST …/init/error`.
    pub init_error: Option<Value>,
    /// The function's stderr was closed: it exited.
    pub exited: bool,
}

struct Shared {
    queue: mpsc::UnboundedSender<(String, Value)>,
    /// Taken by the `next` call being served; a second concurrent `next` waits its turn.
    events: tokio::sync::Mutex<mpsc::UnboundedReceiver<(String, Value)>>,
    pending: Mutex<HashMap<String, oneshot::Sender<Invocation>>>,
    seen: watch::Sender<Seen>,
    /// The function's stderr, line by line.
    log: Mutex<Vec<String>>,
}

/// A fake Lambda Runtime API on a loopback port, for one function process.
pub struct RuntimeApi {
    /// `host:port`, the value of `AWS_LAMBDA_RUNTIME_API`.
    pub address: String,
    shared: Arc<Shared>,
    ids: AtomicU64,
}

impl RuntimeApi {
    pub async fn start() -> RuntimeApi {
        let (queue, events) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            queue,
            events: tokio::sync::Mutex::new(events),
            pending: Mutex::default(),
            seen: watch::Sender::new(Seen::default()),
            log: Mutex::default(),
        });
        // axum (hyper) keeps connections alive and serves several requests on each, as
        // the runtime client expects, and a long-polled `next` is just a slow handler.
        let app = axum::Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(invocation_response),
            )
            .route(
                "/2018-06-01/runtime/invocation/{id}/error",
                post(invocation_error),
            )
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        RuntimeApi {
            address,
            shared,
            ids: AtomicU64::new(0),
        }
    }

    /// Queues `event` with a fresh request id and waits for the function's answer.
    pub async fn invoke(&self, event: Value) -> Invocation {
        let n = self.ids.fetch_add(1, Ordering::Relaxed);
        let id = format!("c6af9ac6-7b61-11e6-9a41-{n:012x}");
        let (tx, rx) = oneshot::channel();
        self.shared.pending.lock().unwrap().insert(id.clone(), tx);
        self.shared.queue.send((id.clone(), event)).unwrap();
        let mut seen = self.shared.seen.subscribe();
        let answer = tokio::time::timeout(TIMEOUT, async {
            tokio::select! {
                answer = rx => Some(answer.expect("the runtime API keeps the invocation")),
                _ = seen.wait_for(|s| s.exited) => None,
            }
        })
        .await;
        match answer {
            Ok(Some(answer)) => answer,
            Ok(None) => panic!(
                "the function exited during invocation {id}; its last log lines:\n{}",
                self.log_tail()
            ),
            Err(_) => panic!(
                "no answer to invocation {id} in {TIMEOUT:?} ({:?}); the function's last log lines:\n{}",
                self.seen(),
                self.log_tail()
            ),
        }
    }

    pub fn seen(&self) -> Seen {
        self.shared.seen.borrow().clone()
    }

    /// Waits until the function has called `next` `calls` times (it calls it again
    /// right after answering, so this follows an invocation's answer closely).
    pub async fn wait_next_calls(&self, calls: u32) -> Seen {
        let mut seen = self.shared.seen.subscribe();
        // Owned at once: a watch reference held on would block the stderr thread.
        let result = tokio::time::timeout(
            TIMEOUT,
            seen.wait_for(|s| s.next_calls >= calls || s.exited),
        )
        .await
        .map(|seen| seen.map(|seen| seen.clone()));
        match result {
            Ok(Ok(seen)) if !seen.exited => seen,
            _ => panic!(
                "the function did not call next {calls} times ({:?}); its last log lines:\n{}",
                self.seen(),
                self.log_tail()
            ),
        }
    }

    /// The function's stderr so far.
    pub fn log(&self) -> Vec<String> {
        self.shared.log.lock().unwrap().clone()
    }

    fn log_tail(&self) -> String {
        let log = self.shared.log.lock().unwrap();
        log[log.len().saturating_sub(30)..].join("\n")
    }
}

async fn next(State(shared): State<Arc<Shared>>) -> Response {
    shared.seen.send_modify(|s| s.next_calls += 1);
    // Long poll: the call is held until a test queues an event.
    let (id, event) = {
        let mut events = shared.events.lock().await;
        match events.recv().await {
            Some(queued) => queued,
            None => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        }
    };
    let deadline = SystemTime::now().duration_since(UNIX_EPOCH).unwrap() + TIMEOUT;
    (
        StatusCode::OK,
        [
            ("content-type", "application/json".to_string()),
            ("lambda-runtime-aws-request-id", id),
            (
                "lambda-runtime-deadline-ms",
                deadline.as_millis().to_string(),
            ),
            (
                "lambda-runtime-invoked-function-arn",
                FUNCTION_ARN.to_string(),
            ),
            (
                "lambda-runtime-trace-id",
                "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1"
                    .to_string(),
            ),
        ],
        event.to_string(),
    )
        .into_response()
}

async fn invocation_response(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    body: Bytes,
) -> StatusCode {
    complete(&shared, &id, Invocation::Response(parse(&body)))
}

async fn invocation_error(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    body: Bytes,
) -> StatusCode {
    complete(&shared, &id, Invocation::Error(parse(&body)))
}

async fn init_error(State(shared): State<Arc<Shared>>, body: Bytes) -> StatusCode {
    let error = parse(&body);
    eprintln!("runtime api| init error: {error}");
    shared.seen.send_modify(|s| s.init_error = Some(error));
    StatusCode::ACCEPTED
}

/// Hands an answer to the invocation waiting for it; an unknown or already answered id
/// is a 400, as Lambda answers it, and the waiting test then times out naming the id.
fn complete(shared: &Shared, id: &str, answer: Invocation) -> StatusCode {
    match shared.pending.lock().unwrap().remove(id) {
        Some(waiting) => {
            let _ = waiting.send(answer);
            StatusCode::ACCEPTED
        }
        None => {
            eprintln!("runtime api| an answer for unknown or answered invocation {id}: {answer:?}");
            StatusCode::BAD_REQUEST
        }
    }
}

/// The body as JSON, or as a JSON string if it is not JSON (so a test sees it either way).
fn parse(body: &[u8]) -> Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
}

/// The connector binary, started as Lambda starts a custom runtime's `bootstrap`: no
/// arguments, its settings in the environment (the Go connector's Lambda names).
pub struct LambdaFunction {
    child: Child,
    pid: u32,
}

impl LambdaFunction {
    /// Starts the function with `settings` (e.g. `("default_database", "db")`) and
    /// waits until it asks for its first event, i.e. until its cold start is done.
    pub async fn start(runtime: &RuntimeApi, settings: &[(&str, &str)]) -> LambdaFunction {
        let task_root = std::path::Path::new(env!("CARGO_BIN_EXE_timestream-prometheus-connector"))
            .parent()
            .unwrap()
            .to_path_buf();
        let mut command = Command::new(env!("CARGO_BIN_EXE_timestream-prometheus-connector"));
        aws_env(&mut command)
            .env("AWS_LAMBDA_RUNTIME_API", &runtime.address)
            .env("AWS_LAMBDA_FUNCTION_NAME", "connector")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/connector")
            .env(
                "AWS_LAMBDA_LOG_STREAM_NAME",
                "2024/01/01/[$LATEST]0123456789abcdef0123456789abcdef",
            )
            .env("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")
            .env("AWS_EXECUTION_ENV", "AWS_Lambda_provided.al2023")
            .env("AWS_DEFAULT_REGION", super::REGION)
            .env("LAMBDA_TASK_ROOT", &task_root)
            .env("_HANDLER", "bootstrap")
            .envs(settings.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("start the function");
        let pid = child.id();
        let stderr = child.stderr.take().unwrap();
        let shared = runtime.shared.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("function| {line}");
                shared.log.lock().unwrap().push(line);
            }
            shared.seen.send_modify(|s| s.exited = true);
        });
        let function = LambdaFunction { child, pid };
        let mut seen = runtime.shared.seen.subscribe();
        let ready = tokio::time::timeout(
            TIMEOUT,
            seen.wait_for(|s| s.next_calls > 0 || s.init_error.is_some() || s.exited),
        )
        .await
        .map(|seen| seen.map(|seen| seen.clone()));
        match ready {
            Ok(Ok(seen)) if seen.next_calls > 0 && seen.init_error.is_none() => {}
            _ => panic!(
                "the function did not ask for an event ({:?}); its last log lines:\n{}",
                runtime.seen(),
                runtime.log_tail()
            ),
        }
        function
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Whether the process is still alive (Lambda would cold-start a new one if not).
    pub fn running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }
}

impl Drop for LambdaFunction {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// Events, in the shapes AWS documents and delivers.

/// The headers Prometheus sends with a remote write.
pub const REMOTE_WRITE_HEADERS: [(&str, &str); 4] = [
    ("Content-Type", "application/x-protobuf"),
    ("Content-Encoding", "snappy"),
    ("X-Prometheus-Remote-Write-Version", "0.1.0"),
    ("User-Agent", "Prometheus/2.53.0"),
];

/// The headers Prometheus sends with a remote read.
pub const REMOTE_READ_HEADERS: [(&str, &str); 4] = [
    ("Content-Type", "application/x-protobuf"),
    ("Content-Encoding", "snappy"),
    ("X-Prometheus-Remote-Read-Version", "0.1.0"),
    ("User-Agent", "Prometheus/2.53.0"),
];

fn encode64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Headers as a JSON object; HTTP APIs and ALBs deliver names in lower case, REST APIs
/// as the client sent them.
fn header_map(
    headers: &[(&str, &str)],
    lower: bool,
    body: &[u8],
) -> serde_json::Map<String, Value> {
    let mut map = serde_json::Map::new();
    for (name, value) in headers {
        let name = if lower {
            name.to_ascii_lowercase()
        } else {
            name.to_string()
        };
        map.insert(name, json!(value));
    }
    let name = |n: &str| {
        if lower {
            n.to_ascii_lowercase()
        } else {
            n.to_string()
        }
    };
    map.insert(
        name("Host"),
        json!("abcdef1234.execute-api.us-east-1.amazonaws.com"),
    );
    map.insert(name("X-Forwarded-For"), json!("203.0.113.7"));
    map.insert(name("X-Forwarded-Port"), json!("443"));
    map.insert(name("X-Forwarded-Proto"), json!("https"));
    map.insert(
        name("X-Amzn-Trace-Id"),
        json!("Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700"),
    );
    if !body.is_empty() {
        map.insert(name("Content-Length"), json!(body.len().to_string()));
    }
    map
}

/// Sets `body` (base64, as API Gateway sends binary media) unless there is none.
fn with_body(mut event: Value, body: &[u8]) -> Value {
    if body.is_empty() {
        event["isBase64Encoded"] = json!(false);
    } else {
        event["body"] = json!(encode64(body));
        event["isBase64Encoded"] = json!(true);
    }
    event
}

/// An API Gateway HTTP API event (payload format 2.0), as the Go connector's SAM
/// template delivers them (stage `$default`).
pub fn http_api_event(method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Value {
    let user_agent = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("user-agent"))
        .map_or("curl/8.5.0", |(_, v)| *v);
    let route_key = format!("{method} {path}");
    with_body(
        json!({
            "version": "2.0",
            "routeKey": route_key,
            "rawPath": path,
            "rawQueryString": "",
            "headers": header_map(headers, true, body),
            "requestContext": {
                "accountId": "123456789012",
                "apiId": "abcdef1234",
                "domainName": "abcdef1234.execute-api.us-east-1.amazonaws.com",
                "domainPrefix": "abcdef1234",
                "http": {
                    "method": method,
                    "path": path,
                    "protocol": "HTTP/1.1",
                    "sourceIp": "203.0.113.7",
                    "userAgent": user_agent
                },
                "requestId": "JKJaXmPLvHcESHA=",
                "routeKey": route_key,
                "stage": "$default",
                "time": "12/Mar/2024:19:03:58 +0000",
                "timeEpoch": 1_710_270_238_390_i64
            }
        }),
        body,
    )
}

/// An API Gateway REST API proxy event (payload format 1.0) on stage `prod`: `path` is
/// the resource path, `requestContext.path` has the stage in front, as API Gateway
/// sends them.
pub fn rest_api_event(method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Value {
    let single = header_map(headers, false, body);
    let multi: serde_json::Map<String, Value> = single
        .iter()
        .map(|(n, v)| (n.clone(), json!([v])))
        .collect();
    with_body(
        json!({
            "resource": path,
            "path": path,
            "httpMethod": method,
            "headers": single,
            "multiValueHeaders": multi,
            "queryStringParameters": null,
            "multiValueQueryStringParameters": null,
            "pathParameters": null,
            "stageVariables": null,
            "requestContext": {
                "accountId": "123456789012",
                "apiId": "abcdef1234",
                "domainName": "abcdef1234.execute-api.us-east-1.amazonaws.com",
                "httpMethod": method,
                "identity": {"sourceIp": "203.0.113.7", "userAgent": "Prometheus/2.53.0"},
                "path": format!("/prod{path}"),
                "protocol": "HTTP/1.1",
                "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
                "requestTime": "12/Mar/2024:19:03:58 +0000",
                "requestTimeEpoch": 1_710_270_238_390_i64,
                "resourceId": "2gxmpl",
                "resourcePath": path,
                "stage": "prod"
            }
        }),
        body,
    )
}

/// An Application Load Balancer event (multi-value headers off).
pub fn alb_event(method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Value {
    with_body(
        json!({
            "requestContext": {"elb": {"targetGroupArn":
                "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/connector/49e9d65c45c6791a"}},
            "httpMethod": method,
            "path": path,
            "queryStringParameters": {},
            "headers": header_map(headers, true, body),
        }),
        body,
    )
}

/// An SQS batch of `(messageId, body)` messages.
pub fn sqs_event(messages: &[(&str, &str)]) -> Value {
    let records: Vec<Value> = messages
        .iter()
        .enumerate()
        .map(|(i, (id, body))| {
            json!({
                "messageId": id,
                "receiptHandle": format!("AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a{i}Fp8Gtf2wEu6Cqw=="),
                "body": body,
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": "1710270238390",
                    "SenderId": "AIDAIENQZJOLO23YVJ4VO",
                    "ApproximateFirstReceiveTimestamp": "1710270238395"
                },
                "messageAttributes": {},
                // Lambda does not check it, and neither should the function.
                "md5OfBody": "e4e68fb7bd0e697a0ae8f1bb342846b3",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:queue",
                "awsRegion": "us-east-1"
            })
        })
        .collect();
    json!({ "Records": records })
}

/// An HTTP event's answer: status, headers (names in lower case, from `headers` and
/// `multiValueHeaders`), body (base64-decoded when so marked).
#[derive(Debug)]
pub struct HttpAnswer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpAnswer {
    /// Reads the answer to an HTTP event; fails the test on a function error or on an
    /// answer that is not an HTTP response.
    pub fn of(invocation: Invocation) -> HttpAnswer {
        let answer = invocation.response();
        let status = answer["statusCode"]
            .as_u64()
            .unwrap_or_else(|| panic!("an HTTP answer with a statusCode: {answer}"))
            as u16;
        let mut headers = Vec::new();
        if let Some(map) = answer["headers"].as_object() {
            for (name, value) in map {
                headers.push((
                    name.to_ascii_lowercase(),
                    value.as_str().unwrap().to_string(),
                ));
            }
        }
        if let Some(map) = answer["multiValueHeaders"].as_object() {
            for (name, values) in map {
                for value in values.as_array().unwrap() {
                    let header = (
                        name.to_ascii_lowercase(),
                        value.as_str().unwrap().to_string(),
                    );
                    if !headers.contains(&header) {
                        headers.push(header);
                    }
                }
            }
        }
        let text = answer["body"].as_str().unwrap_or_default();
        let body = if answer["isBase64Encoded"].as_bool().unwrap_or(false) {
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .unwrap_or_else(|e| panic!("a base64 body: {e}: {answer}"))
        } else {
            text.as_bytes().to_vec()
        };
        HttpAnswer {
            status,
            headers,
            body,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}
