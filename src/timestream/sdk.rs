//! [`Backend`] over the official `aws-sdk-timestreamwrite` client.
//!
//! One client is built at start and shared by every request. With a configured endpoint
//! (PrivateLink, Timestream Local, a test server) the client talks to it directly;
//! without one it uses Timestream's endpoint discovery, which the service requires.
//! The SDK's own retries are off: [`super::writer`] retries, so that it can count them.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};
use aws_sdk_timestreamwrite::config::http::HttpResponse;
use aws_sdk_timestreamwrite::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_timestreamwrite::operation::write_records::WriteRecordsError;
use aws_sdk_timestreamwrite::types::{Dimension, MeasureValueType, Record, TimeUnit};
use aws_sdk_timestreamwrite::Client;
use futures::future::BoxFuture;

use super::backend::{Backend, BackendError, Credentials, Page, QueryBackend, RejectedRecord};
use super::batch::WriteCall;
use crate::series::Label;

/// How long one WriteRecords attempt may take before it counts as unavailable.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

pub struct SdkBackend {
    client: Client,
    rediscover: Option<Rediscover>,
}

/// Where the SDK clients send requests.
#[derive(Debug, Clone, Copy)]
pub enum Endpoint<'a> {
    /// Timestream's endpoint discovery (what the service requires of its clients).
    Discover,
    /// A configured endpoint: PrivateLink, a test server.
    Url(&'a str),
    /// The in-process Timestream Local: static credentials, as it checks none.
    Local(&'a str),
}

impl<'a> Endpoint<'a> {
    /// The in-process Timestream Local if there is one, else a configured endpoint, else
    /// discovery.
    pub fn choose(local: &'a Option<String>, configured: &'a Option<String>) -> Endpoint<'a> {
        match (local, configured) {
            (Some(local), _) => Endpoint::Local(local),
            (None, Some(url)) => Endpoint::Url(url),
            (None, None) => Endpoint::Discover,
        }
    }

    pub fn url(self) -> Option<&'a str> {
        match self {
            Endpoint::Discover => None,
            Endpoint::Url(url) | Endpoint::Local(url) => Some(url),
        }
    }
}

/// How a discovered endpoint is kept fresh (Timestream's DescribeEndpoints answers are
/// cached for a day, and the service moves clients with them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refresh {
    /// A background task reloads it: the daemon, whose tasks always run.
    Background,
    /// A call reloads it first when it is due: Lambda, where the process is frozen
    /// between invocations and a background task would silently stop.
    InCall,
}

/// How often [`Refresh::InCall`] reloads: well within the day endpoints are cached for.
const REDISCOVER_AFTER: Duration = Duration::from_secs(3600);

/// A discovered endpoint reloaded in the call path when due.
pub struct Rediscover {
    reload: Box<dyn Fn() -> BoxFuture<'static, ()> + Send + Sync>,
    /// When it was last loaded, in seconds since the epoch: wall-clock time, which goes
    /// on while a Lambda function is frozen.
    loaded_at: AtomicU64,
    reloading: tokio::sync::Mutex<()>,
}

impl Rediscover {
    fn new(reload: Box<dyn Fn() -> BoxFuture<'static, ()> + Send + Sync>) -> Self {
        Rediscover {
            reload,
            loaded_at: AtomicU64::new(epoch_seconds()),
            reloading: tokio::sync::Mutex::new(()),
        }
    }

    /// Reloads the endpoint if it is due; concurrent calls reload it once.
    async fn if_due(&self) {
        let due = || {
            epoch_seconds().saturating_sub(self.loaded_at.load(Ordering::Relaxed))
                >= REDISCOVER_AFTER.as_secs()
        };
        if !due() {
            return;
        }
        let _reloading = self.reloading.lock().await;
        if due() {
            (self.reload)().await;
            self.loaded_at.store(epoch_seconds(), Ordering::Relaxed);
        }
    }
}

fn epoch_seconds() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `client`, switched to endpoint discovery unless an endpoint is configured, and how
/// its discovered endpoint stays fresh: in the background, or (returned) in the calls.
/// A macro because the write and query clients have the same discovery methods but no
/// trait in common.
macro_rules! discovered {
    ($client:expr, $endpoint:expr, $region:expr, $api:literal, $refresh:expr) => {
        match $endpoint {
            Endpoint::Url(_) | Endpoint::Local(_) => ($client, None),
            Endpoint::Discover => {
                let (client, reload) =
                    $client
                        .with_endpoint_discovery_enabled()
                        .await
                        .map_err(|e| {
                            format!(
                                "Timestream {} endpoint discovery in {} failed: {e}",
                                $api, $region
                            )
                        })?;
                match $refresh {
                    Refresh::Background => {
                        tokio::spawn(reload.reload_task());
                        (client, None)
                    }
                    Refresh::InCall => {
                        let reload = std::sync::Arc::new(tokio::sync::Mutex::new(reload));
                        let rediscover = Rediscover::new(Box::new(move || {
                            let reload = reload.clone();
                            Box::pin(async move { reload.lock().await.reload_once().await })
                        }));
                        (client, Some(rediscover))
                    }
                }
            }
        }
    };
}

/// The SDK configuration both Timestream clients share.
pub async fn sdk_config(region: &str, endpoint: Endpoint<'_>) -> aws_config::SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(region.to_string()))
        .retry_config(RetryConfig::disabled())
        .timeout_config(
            TimeoutConfig::builder()
                .operation_attempt_timeout(ATTEMPT_TIMEOUT)
                .build(),
        );
    if let Some(url) = endpoint.url() {
        loader = loader.endpoint_url(url);
    }
    if let Endpoint::Local(_) = endpoint {
        loader = loader.credentials_provider(aws_credential_types::Credentials::new(
            "local",
            "local",
            None,
            None,
            "timestream-local",
        ));
    }
    loader.load().await
}

impl SdkBackend {
    /// Builds the shared client.
    pub async fn connect(
        region: &str,
        endpoint: Endpoint<'_>,
        refresh: Refresh,
    ) -> Result<Self, String> {
        let client = Client::new(&sdk_config(region, endpoint).await);
        let (client, rediscover) = discovered!(client, endpoint, region, "write", refresh);
        Ok(SdkBackend { client, rediscover })
    }
}

impl Backend for SdkBackend {
    fn write_records<'a>(
        &'a self,
        call: &'a WriteCall<'a>,
        credentials: Option<&'a Credentials>,
    ) -> BoxFuture<'a, Result<(), BackendError>> {
        Box::pin(async move {
            if let Some(rediscover) = &self.rediscover {
                rediscover.if_due().await;
            }
            let (common, records) =
                to_sdk(call).map_err(|e| BackendError::Invalid(e.to_string()))?;
            let request = self
                .client
                .write_records()
                .database_name(call.destination.database)
                .table_name(call.destination.table)
                .common_attributes(common)
                .set_records(Some(records));
            let result = match credentials {
                None => request.send().await,
                Some(c) => {
                    let config = aws_sdk_timestreamwrite::config::Builder::default()
                        .credentials_provider(c.provider());
                    request.customize().config_override(config).send().await
                }
            };
            result.map(drop).map_err(classify)
        })
    }
}

/// A call as the SDK's (CommonAttributes, Records). The SDK wants owned strings: this is
/// where the request's borrowed text is copied, once per field actually sent.
pub fn to_sdk(
    call: &WriteCall<'_>,
) -> Result<(Record, Vec<Record>), aws_sdk_timestreamwrite::error::BuildError> {
    let mut value_text = ryu::Buffer::new();
    let common = &call.common;
    let common_record = Record::builder()
        .measure_value_type(MeasureValueType::Double)
        .time_unit(TimeUnit::Milliseconds)
        .set_measure_name(common.measure.map(str::to_string))
        .set_time(common.time_ms.map(|t| t.to_string()))
        .set_dimensions(sdk_dimensions(&common.dimensions, common.dimensions.len())?);
    let mut records = Vec::with_capacity(call.records.len());
    for record in &call.records {
        records.push(
            Record::builder()
                .measure_value(value_text.format_finite(record.sample.value))
                .set_measure_name(common.measure.is_none().then(|| record.measure.to_string()))
                .set_time(
                    common
                        .time_ms
                        .is_none()
                        .then(|| record.sample.timestamp_ms.to_string()),
                )
                .set_dimensions(sdk_dimensions(
                    record.own_dimensions(common),
                    record.dimensions.len() - common.dimensions.len(),
                )?)
                .build(),
        );
    }

    Ok((common_record.build(), records))
}

/// `count` labels as SDK dimensions, `None` when there are none (no empty list on the
/// wire).
/// Collected and set once: adding them one builder call at a time moves the whole
/// (large) record builder each time, which showed in profiles as the top memmove.
/// `count` is exact: a filtered iterator cannot say its length, and growing the vector
/// instead measured slower in the bench.
#[inline]
fn sdk_dimensions<'l, 'a: 'l>(
    labels: impl IntoIterator<Item = &'l Label<'a>>,
    count: usize,
) -> Result<Option<Vec<Dimension>>, aws_sdk_timestreamwrite::error::BuildError> {
    if count == 0 {
        return Ok(None);
    }
    let mut dimensions = Vec::with_capacity(count);
    for d in labels {
        dimensions.push(Dimension::builder().name(d.name).value(d.value).build()?);
    }
    Ok(Some(dimensions))
}

fn classify(error: SdkError<WriteRecordsError, HttpResponse>) -> BackendError {
    classify_with(error, classify_write)
}

/// Transport failures the same way for both APIs; service errors by `service`.
fn classify_with<E: std::error::Error + Send + Sync + 'static>(
    error: SdkError<E, HttpResponse>,
    service: impl FnOnce(E, u16) -> BackendError,
) -> BackendError {
    let error = match error {
        SdkError::ServiceError(e) => {
            let status = e.raw().status().as_u16();
            return service(e.into_err(), status);
        }
        SdkError::TimeoutError(_) => return BackendError::Unavailable("attempt timed out".into()),
        other => other,
    };
    let text = aws_smithy_types::error::display::DisplayErrorContext(&error).to_string();
    match error {
        SdkError::ConstructionFailure(_) => BackendError::Invalid(text),
        SdkError::ResponseError(r)
            if r.raw().status().is_client_error() && r.raw().status().as_u16() != 429 =>
        {
            BackendError::Invalid(text)
        }
        _ => BackendError::Unavailable(text),
    }
}

fn classify_write(error: WriteRecordsError, status: u16) -> BackendError {
    let message = error.message().unwrap_or_default().to_string();
    match error {
        WriteRecordsError::RejectedRecordsException(e) => BackendError::Rejected(
            e.rejected_records()
                .iter()
                .map(|r| RejectedRecord {
                    index: r.record_index().max(0) as usize,
                    reason: r.reason().unwrap_or("no reason given").to_string(),
                    existing_version: r.existing_version(),
                })
                .collect(),
        ),
        other => classify_code(other.code().unwrap_or("unknown error"), message, status),
    }
}

/// A Timestream error by its code, which both APIs share.
fn classify_code(code: &str, message: String, status: u16) -> BackendError {
    match code {
        "ThrottlingException" => BackendError::Throttled(message),
        "InternalServerException" | "InvalidEndpointException" => {
            BackendError::Unavailable(message)
        }
        "ResourceNotFoundException" => BackendError::NotFound(message),
        "AccessDeniedException" => BackendError::AccessDenied(message),
        "ValidationException" | "QueryExecutionException" | "ConflictException" => {
            BackendError::Invalid(message)
        }
        _ => {
            let text = format!("{code}: {message}");
            match (status, code) {
                (429, _) => BackendError::Throttled(text),
                (500.., _) => BackendError::Unavailable(text),
                (
                    _,
                    "UnrecognizedClientException"
                    | "InvalidSignatureException"
                    | "ExpiredTokenException"
                    | "MissingAuthenticationToken"
                    | "IncompleteSignature",
                ) => BackendError::AccessDenied(text),
                _ => BackendError::Invalid(text),
            }
        }
    }
}

impl Credentials {
    /// The SDK's form of the client's credentials.
    fn provider(&self) -> aws_credential_types::Credentials {
        aws_credential_types::Credentials::new(
            &self.access_key_id,
            &self.secret_access_key,
            None,
            None,
            "basic-auth",
        )
    }
}

/// [`QueryBackend`] over the official `aws-sdk-timestreamquery` client.
pub struct SdkQueryBackend {
    client: aws_sdk_timestreamquery::Client,
    rediscover: Option<Rediscover>,
}

impl SdkQueryBackend {
    /// Builds the shared query client, as [`SdkBackend::connect`] builds the write one.
    pub async fn connect(
        region: &str,
        endpoint: Endpoint<'_>,
        refresh: Refresh,
    ) -> Result<Self, String> {
        let client = aws_sdk_timestreamquery::Client::new(&sdk_config(region, endpoint).await);
        let (client, rediscover) = discovered!(client, endpoint, region, "query", refresh);
        Ok(SdkQueryBackend { client, rediscover })
    }
}

impl QueryBackend for SdkQueryBackend {
    fn query<'a>(
        &'a self,
        sql: &'a str,
        next_token: Option<&'a str>,
        credentials: Option<&'a Credentials>,
    ) -> BoxFuture<'a, Result<Page, BackendError>> {
        Box::pin(async move {
            if let Some(rediscover) = &self.rediscover {
                rediscover.if_due().await;
            }
            let request = self
                .client
                .query()
                .query_string(sql)
                .set_next_token(next_token.map(str::to_string));
            let result = match credentials {
                None => request.send().await,
                Some(c) => {
                    let config = aws_sdk_timestreamquery::config::Builder::default()
                        .credentials_provider(c.provider());
                    request.customize().config_override(config).send().await
                }
            };
            let output = result.map_err(|e| {
                classify_with(e, |e, status| {
                    let message = e.message().unwrap_or_default().to_string();
                    classify_code(e.code().unwrap_or("unknown error"), message, status)
                })
            })?;
            Ok(Page {
                rows: output
                    .rows()
                    .iter()
                    .map(|row| {
                        row.data()
                            .iter()
                            .map(|d| d.scalar_value().map(str::to_string))
                            .collect()
                    })
                    .collect(),
                bytes_scanned: output
                    .query_status()
                    .map_or(0, |s| s.cumulative_bytes_scanned().max(0) as u64),
                next_token: output.next_token,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::series::{Label, Sample, SeriesBatch};
    use crate::timestream::batch::calls;
    use crate::timestream::records::{plan, Routing, Strictness};

    #[test]
    fn records_carry_their_own_dimensions_and_common_ones_go_once() {
        let mut b = SeriesBatch::default();
        let label = |name, value| Label { name, value };
        // Labels out of order in one series: the plan sorts them.
        b.push(
            &[
                label("job", "node"),
                label("__name__", "a"),
                label("instance", "h1"),
                label("zone", "eu"),
            ],
            &[Sample {
                value: 0.1,
                timestamp_ms: 5,
            }],
        );
        b.push(
            &[
                label("__name__", "b"),
                label("instance", "h1"),
                label("job", "node"),
                label("mode", "idle"),
            ],
            &[Sample {
                value: 1e-9,
                timestamp_ms: 6,
            }],
        );
        let routing = Routing {
            default_database: "db1".into(),
            default_table: "tbl".into(),
            database_label: None,
            table_label: None,
        };
        let p = plan(&b, &routing, Strictness::default()).unwrap();
        let calls = calls(&p);
        assert_eq!(calls.len(), 1);
        let (common, records) = to_sdk(&calls[0]).unwrap();
        let names = |dims: &[Dimension]| {
            dims.iter()
                .map(|d| format!("{}={}", d.name(), d.value()))
                .collect::<Vec<_>>()
        };
        assert_eq!(names(common.dimensions()), ["instance=h1", "job=node"]);
        assert_eq!(common.measure_name(), None, "two measures");
        assert_eq!(common.time(), None, "two times");
        let mut seen: Vec<_> = records
            .iter()
            .map(|r| {
                (
                    r.measure_name().unwrap(),
                    r.measure_value().unwrap(),
                    r.time().unwrap(),
                    names(r.dimensions()),
                )
            })
            .collect();
        seen.sort();
        assert_eq!(
            seen,
            [
                ("a", "0.1", "5", vec!["zone=eu".to_string()]),
                ("b", "1e-9", "6", vec!["mode=idle".to_string()]),
            ]
        );
    }
}
