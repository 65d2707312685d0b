//! A fault-injecting proxy in front of moto: the connector's real SDK client talks to it
//! as to Timestream, and it answers WriteRecords and Query calls with throttling, 500s,
//! AccessDenied or (WriteRecords only) RejectedRecords as a test scripts, forwarding
//! everything else (and what it does not refuse) to moto, so that what is finally stored
//! can be checked.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use tokio::sync::{Notify, Semaphore};

const ERROR_PREFIX: &str = "com.amazonaws.timestream.v20181101#";

/// What the next WriteRecords calls meet. Counters count down as calls arrive.
#[derive(Default)]
pub struct Faults {
    /// The next N calls are throttled (ThrottlingException).
    pub throttle: u32,
    /// The next N calls fail with a 500 (InternalServerException).
    pub fail: u32,
    /// Records whose MeasureValue is this text are rejected (RejectedRecordsException);
    /// the call's other records are stored, as Timestream does.
    pub reject_value: Option<String>,
    /// WriteRecords calls that arrived, faulted, held or not.
    pub calls: u32,
    /// The access key id each WriteRecords call was signed with.
    pub access_keys: Vec<String>,
    /// The access key id each Query call was signed with.
    pub query_access_keys: Vec<String>,
    /// The next N Query calls are throttled.
    pub query_throttle: u32,
    /// The next N Query calls fail with a 500.
    pub query_fail: u32,
    /// The next N WriteRecords calls are refused with AccessDeniedException.
    pub deny: u32,
    /// The next N Query calls are refused with AccessDeniedException.
    pub query_deny: u32,
    /// Query calls forwarded untouched before the query faults above apply: 1 lets a
    /// remote read's DESCRIBE through and faults its SELECT.
    pub query_faults_after: u32,
}

#[derive(Clone)]
struct Shared {
    faults: Arc<Mutex<Faults>>,
    upstream: String,
    client: reqwest::Client,
    /// When set, WriteRecords calls wait for a permit before going on.
    gate: Option<Arc<Semaphore>>,
    arrived: Arc<Notify>,
}

pub struct FaultProxy {
    pub endpoint: String,
    pub faults: Arc<Mutex<Faults>>,
    gate: Option<Arc<Semaphore>>,
    arrived: Arc<Notify>,
}

impl FaultProxy {
    pub async fn start(upstream: &str) -> FaultProxy {
        Self::start_with(upstream, None).await
    }

    /// A proxy that holds every WriteRecords call until [`FaultProxy::release`].
    pub async fn start_gated(upstream: &str) -> FaultProxy {
        Self::start_with(upstream, Some(Arc::new(Semaphore::new(0)))).await
    }

    async fn start_with(upstream: &str, gate: Option<Arc<Semaphore>>) -> FaultProxy {
        let shared = Shared {
            faults: Arc::default(),
            upstream: upstream.to_string(),
            client: reqwest::Client::new(),
            gate: gate.clone(),
            arrived: Arc::new(Notify::new()),
        };
        let proxy = FaultProxy {
            endpoint: String::new(),
            faults: shared.faults.clone(),
            gate,
            arrived: shared.arrived.clone(),
        };
        let app = axum::Router::new().fallback(handle).with_state(shared);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        FaultProxy { endpoint, ..proxy }
    }

    pub fn set(&self, change: impl FnOnce(&mut Faults)) {
        change(&mut self.faults.lock().unwrap());
    }

    pub fn calls(&self) -> u32 {
        self.faults.lock().unwrap().calls
    }

    /// Waits until a WriteRecords call is being held.
    pub async fn held(&self) {
        self.arrived.notified().await;
    }

    pub fn release(&self) {
        if let Some(gate) = &self.gate {
            gate.add_permits(Semaphore::MAX_PERMITS / 2);
        }
    }
}

async fn handle(State(shared): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    if target.ends_with(".Query") {
        let mut faults = shared.faults.lock().unwrap();
        faults.query_access_keys.push(signing_key(&headers));
        if faults.query_faults_after > 0 {
            faults.query_faults_after -= 1;
        } else if faults.query_throttle > 0 {
            faults.query_throttle -= 1;
            return error(
                StatusCode::BAD_REQUEST,
                "ThrottlingException",
                json!({ "message": "Rate exceeded" }),
            );
        } else if faults.query_fail > 0 {
            faults.query_fail -= 1;
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalServerException",
                json!({ "message": "Internal failure" }),
            );
        } else if faults.query_deny > 0 {
            faults.query_deny -= 1;
            return error(
                StatusCode::BAD_REQUEST,
                "AccessDeniedException",
                json!({ "message": ACCESS_DENIED_QUERY }),
            );
        }
    }
    if !target.ends_with(".WriteRecords") {
        return forward(&shared, &headers, body).await;
    }
    {
        let mut faults = shared.faults.lock().unwrap();
        faults.calls += 1;
        faults.access_keys.push(signing_key(&headers));
    }
    if let Some(gate) = &shared.gate {
        shared.arrived.notify_one();
        gate.acquire().await.unwrap().forget();
    }
    let (fault, reject_value) = {
        let mut faults = shared.faults.lock().unwrap();
        let fault = if faults.throttle > 0 {
            faults.throttle -= 1;
            Some((
                StatusCode::BAD_REQUEST,
                "ThrottlingException",
                "Rate exceeded",
            ))
        } else if faults.fail > 0 {
            faults.fail -= 1;
            Some((
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalServerException",
                "Internal failure",
            ))
        } else if faults.deny > 0 {
            faults.deny -= 1;
            Some((
                StatusCode::BAD_REQUEST,
                "AccessDeniedException",
                ACCESS_DENIED_WRITE,
            ))
        } else {
            None
        };
        (fault, faults.reject_value.clone())
    };
    if let Some((status, kind, message)) = fault {
        return error(status, kind, json!({ "message": message }));
    }
    let Some(reject_value) = reject_value else {
        return forward(&shared, &headers, body).await;
    };
    let mut request: Value = serde_json::from_slice(&body).unwrap();
    let records = request["Records"].as_array().cloned().unwrap_or_default();
    let (rejected, kept): (Vec<_>, Vec<_>) = records
        .into_iter()
        .enumerate()
        .partition(|(_, r)| r["MeasureValue"].as_str() == Some(reject_value.as_str()));
    if rejected.is_empty() {
        return forward(&shared, &headers, body).await;
    }
    if !kept.is_empty() {
        request["Records"] = Value::Array(kept.into_iter().map(|(_, r)| r).collect());
        let response = forward(&shared, &headers, Bytes::from(request.to_string())).await;
        assert_eq!(
            response.status(),
            200,
            "moto stores the records not rejected"
        );
    }
    let rejected: Vec<Value> = rejected
        .iter()
        .map(|(index, _)| json!({ "RecordIndex": index, "Reason": "The record timestamp is outside the time range of the data ingestion window." }))
        .collect();
    error(
        StatusCode::from_u16(419).unwrap(),
        "RejectedRecordsException",
        json!({ "message": "One or more records have been rejected. See RejectedRecords for details.", "RejectedRecords": rejected }),
    )
}

/// Timestream's refusals of a principal without the permission, as IAM words them.
const ACCESS_DENIED_WRITE: &str = "User: arn:aws:iam::123456789012:user/prometheus is not authorized to perform: timestream:WriteRecords because no identity-based policy allows the timestream:WriteRecords action";
const ACCESS_DENIED_QUERY: &str = "User: arn:aws:iam::123456789012:user/prometheus is not authorized to perform: timestream:Select because no identity-based policy allows the timestream:Select action";

/// The access key id of a SigV4 `Authorization` header (`… Credential=KEY/date/…`).
fn signing_key(headers: &HeaderMap) -> String {
    let authorization = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    authorization
        .split("Credential=")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_default()
        .to_string()
}

fn error(status: StatusCode, kind: &str, mut body: Value) -> Response {
    body["__type"] = json!(format!("{ERROR_PREFIX}{kind}"));
    (
        status,
        [("content-type", "application/x-amz-json-1.0")],
        body.to_string(),
    )
        .into_response()
}

async fn forward(shared: &Shared, headers: &HeaderMap, body: Bytes) -> Response {
    let mut request = shared.client.post(&shared.upstream).body(body);
    for (name, value) in headers {
        if name != "host" && name != "content-length" {
            request = request.header(name.as_str(), value.as_bytes());
        }
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let body = response.bytes().await.unwrap();
    (
        StatusCode::from_u16(status).unwrap(),
        [("content-type", content_type)],
        body,
    )
        .into_response()
}
