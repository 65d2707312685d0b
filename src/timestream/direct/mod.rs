//! [`Backend`] and [`QueryBackend`] that send Timestream's requests themselves: bodies
//! written and answers read by [`super::wire`], signed with `aws-sigv4` using the SDK's
//! credential providers, over a pooled keep-alive HTTP client.
//!
//! Why not the SDK's clients: they want owned request objects (a `String` per dimension
//! per record) and hand back a `String` per result cell; building, serializing and
//! parsing those were most of the daemon's CPU time per sample, written or read. What
//! goes on the wire is the same: the same JSON, the same SigV4 signature
//! (`tests/wire_compat.rs` checks both against the SDK's).
//!
//! Endpoint discovery as the service requires it: DescribeEndpoints at start, the
//! answer cached for its CachePeriodInMinutes and reloaded by the first call after
//! that (so it also works on Lambda, whose process is frozen between invocations); a
//! failed reload keeps the old endpoint. Credentials come from the SDK's default chain
//! (environment, profile, SSO, web identity, ECS, IMDS), cached until shortly before
//! they expire, or from the client's Basic auth.

mod credentials;
mod signing;

use std::sync::RwLock;
use std::time::{Duration, Instant, SystemTime};

use aws_credential_types::provider::SharedCredentialsProvider;
use aws_smithy_types::error::display::DisplayErrorContext;
use bytes::Bytes;
use futures::future::BoxFuture;
use http::Uri;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use self::credentials::CredentialCache;
pub use self::signing::{request, sign_request};
use super::backend::{Backend, BackendError, Credentials, Page, QueryBackend};
use super::batch::WriteCall;
use super::sdk::{sdk_config, Endpoint};
use super::wire;

/// How long one attempt may take before it counts as unavailable.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

type HttpClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// Timestream's two APIs, each with endpoints of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    Write,
    Query,
}

impl Api {
    /// Where DescribeEndpoints for this API is asked.
    fn discovery(self, region: &str) -> String {
        match self {
            Api::Write => format!("https://ingest.timestream.{region}.amazonaws.com"),
            Api::Query => format!("https://query.timestream.{region}.amazonaws.com"),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Api::Write => "write",
            Api::Query => "query",
        }
    }
}

/// A client of one API: the write one is a [`Backend`], the query one a
/// [`QueryBackend`].
pub struct DirectBackend {
    http: HttpClient,
    region: String,
    route: Route,
    credentials: CredentialCache,
}

/// Where WriteRecords goes.
enum Route {
    Fixed(Uri),
    Discovered(Discovery),
}

struct Discovery {
    /// Where DescribeEndpoints goes.
    base: Uri,
    current: RwLock<(Uri, Instant)>,
    reloading: tokio::sync::Mutex<()>,
}

impl DirectBackend {
    /// The client of `api` at `endpoint`, with the SDK's default credential chain
    /// (static credentials for Timestream Local). Discovers the endpoint first when it
    /// must.
    pub async fn connect(api: Api, region: &str, endpoint: Endpoint<'_>) -> Result<Self, String> {
        let config = sdk_config(region, endpoint).await;
        let provider = config
            .credentials_provider()
            .ok_or_else(|| "no AWS credentials provider".to_string())?;
        let discovery = match endpoint {
            Endpoint::Discover => Some(api.discovery(region)),
            Endpoint::Url(_) | Endpoint::Local(_) => None,
        };
        Self::with(api, region, endpoint.url(), discovery.as_deref(), provider).await
    }

    /// The client of `api` sending to `url`, or to what DescribeEndpoints at `discover`
    /// answers; public for tests that point discovery at a local server.
    pub async fn with(
        api: Api,
        region: &str,
        url: Option<&str>,
        discover: Option<&str>,
        provider: SharedCredentialsProvider,
    ) -> Result<Self, String> {
        let tls = hyper_rustls::HttpsConnectorBuilder::new();
        let tls = match tls.with_native_roots() {
            Ok(tls) => tls,
            // Without the system's certificates (a bare container) HTTPS cannot be
            // verified; plain HTTP (Timestream Local, a test server) still works, and an
            // HTTPS call fails with the certificate error rather than the whole start.
            Err(error) => {
                tracing::warn!(%error, "no system root certificates: HTTPS to Timestream will fail");
                let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
                let config = rustls::ClientConfig::builder_with_provider(provider)
                    .with_safe_default_protocol_versions()
                    .map_err(|e| format!("TLS: {e}"))?
                    .with_root_certificates(rustls::RootCertStore::empty())
                    .with_no_client_auth();
                hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(config)
            }
        };
        let connector = tls.https_or_http().enable_http1().build();
        let http = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        let parse = |url: &str| {
            url.parse::<Uri>()
                .map_err(|e| format!("bad Timestream endpoint {url:?}: {e}"))
        };
        let mut backend = DirectBackend {
            http,
            region: region.to_string(),
            route: Route::Fixed(Uri::from_static("http://unused")),
            credentials: CredentialCache::new(provider),
        };
        backend.route = match (url, discover) {
            (Some(url), _) => Route::Fixed(parse(url)?),
            (None, Some(base)) => {
                let base = parse(base)?;
                let (uri, expires) = backend.describe_endpoints(&base).await.map_err(|e| {
                    let api = api.name();
                    format!("Timestream {api} endpoint discovery in {region} failed: {e}")
                })?;
                Route::Discovered(Discovery {
                    base,
                    current: RwLock::new((uri, expires)),
                    reloading: tokio::sync::Mutex::new(()),
                })
            }
            (None, None) => return Err("no Timestream endpoint and no discovery".into()),
        };
        Ok(backend)
    }

    /// The credentials to sign with: the request's own (Basic auth), else the default
    /// chain's.
    async fn signing_with(
        &self,
        request: Option<&Credentials>,
    ) -> Result<aws_credential_types::Credentials, BackendError> {
        match request {
            Some(c) => Ok(c.aws()),
            None => self.credentials.get().await,
        }
    }

    /// Where requests go now, reloading a discovered endpoint that expired.
    async fn endpoint(&self) -> Uri {
        let discovery = match &self.route {
            Route::Fixed(uri) => return uri.clone(),
            Route::Discovered(discovery) => discovery,
        };
        let current = || {
            discovery
                .current
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .clone()
        };
        let (uri, expires) = current();
        if Instant::now() < expires {
            return uri;
        }
        let _reloading = discovery.reloading.lock().await;
        let (uri, expires) = current();
        if Instant::now() < expires {
            return uri; // another call reloaded it
        }
        match self.describe_endpoints(&discovery.base).await {
            Ok(fresh) => {
                *discovery.current.write().unwrap_or_else(|e| e.into_inner()) = fresh.clone();
                fresh.0
            }
            Err(error) => {
                // The old endpoint usually still works: keep it, try again in a minute.
                tracing::warn!(%error, "Timestream endpoint discovery failed; keeping the last endpoint");
                let retry = Instant::now() + Duration::from_secs(60);
                *discovery.current.write().unwrap_or_else(|e| e.into_inner()) =
                    (uri.clone(), retry);
                uri
            }
        }
    }

    async fn describe_endpoints(&self, base: &Uri) -> Result<(Uri, Instant), BackendError> {
        let credentials = self.credentials.get().await?;
        let body = self
            .post(
                base,
                wire::DESCRIBE_ENDPOINTS_TARGET,
                Bytes::from_static(b"{}"),
                &credentials,
            )
            .await?;
        let answer: wire::Endpoints = serde_json::from_slice(&body)
            .map_err(|e| BackendError::Invalid(format!("DescribeEndpoints answer: {e}")))?;
        let endpoint = answer
            .endpoints
            .first()
            .ok_or_else(|| BackendError::Invalid("DescribeEndpoints answered none".into()))?;
        // The discovered address is a host name; it is reached as the discovery was.
        let scheme = base.scheme_str().unwrap_or("https");
        let uri = format!("{scheme}://{}/", endpoint.address)
            .parse::<Uri>()
            .map_err(|e| BackendError::Invalid(format!("discovered endpoint: {e}")))?;
        let minutes = endpoint.cache_period_in_minutes.clamp(1, 24 * 60) as u64;
        Ok((uri, Instant::now() + Duration::from_secs(minutes * 60)))
    }

    /// One signed POST of `body` to `uri`; the answer's body when it is a success.
    async fn post(
        &self,
        uri: &Uri,
        target: &'static str,
        body: Bytes,
        credentials: &aws_credential_types::Credentials,
    ) -> Result<Bytes, BackendError> {
        let mut request = request(uri, target, body.clone());
        sign_request(
            &mut request,
            &body,
            credentials,
            &self.region,
            SystemTime::now(),
        )?;
        let exchange = async {
            let response = self
                .http
                .request(request)
                .await
                .map_err(|e| BackendError::Unavailable(DisplayErrorContext(&e).to_string()))?;
            let (parts, body) = response.into_parts();
            let body = body
                .collect()
                .await
                .map_err(|e| BackendError::Unavailable(e.to_string()))?
                .to_bytes();
            Ok::<_, BackendError>((parts, body))
        };
        let (parts, body) = tokio::time::timeout(ATTEMPT_TIMEOUT, exchange)
            .await
            .map_err(|_| BackendError::Unavailable("attempt timed out".into()))??;
        if parts.status.is_success() {
            return Ok(body);
        }
        let error_type = parts
            .headers
            .get("x-amzn-errortype")
            .and_then(|v| v.to_str().ok());
        Err(wire::error(parts.status.as_u16(), error_type, &body))
    }
}

impl QueryBackend for DirectBackend {
    fn query<'a>(
        &'a self,
        sql: &'a str,
        next_token: Option<&'a str>,
        credentials: Option<&'a Credentials>,
    ) -> BoxFuture<'a, Result<Page, BackendError>> {
        Box::pin(async move {
            let credentials = self.signing_with(credentials).await?;
            let mut body = Vec::with_capacity(sql.len() + 64);
            wire::query(sql, next_token, &mut body);
            let uri = self.endpoint().await;
            let answer = self
                .post(&uri, wire::QUERY_TARGET, Bytes::from(body), &credentials)
                .await?;
            wire::query_page(&answer)
                .map_err(|e| BackendError::Invalid(format!("Query answer: {e}")))
        })
    }
}

impl Backend for DirectBackend {
    fn write_records<'a>(
        &'a self,
        call: &'a WriteCall<'a>,
        credentials: Option<&'a Credentials>,
    ) -> BoxFuture<'a, Result<(), BackendError>> {
        Box::pin(async move {
            let credentials = self.signing_with(credentials).await?;
            let mut body = Vec::new();
            wire::write_records(call, &mut body);
            let uri = self.endpoint().await;
            self.post(
                &uri,
                wire::WRITE_RECORDS_TARGET,
                Bytes::from(body),
                &credentials,
            )
            .await
            .map(drop)
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use super::*;

    /// A DescribeEndpoints server: answers with its own address, or a 500 once `fail`
    /// is set; counts the questions.
    async fn discovery(asked: Arc<AtomicUsize>, fail: Arc<AtomicUsize>) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let answer =
            format!(r#"{{"Endpoints":[{{"Address":"{address}","CachePeriodInMinutes":1440}}]}}"#);
        let app = axum::Router::new().fallback(move || {
            let (asked, fail, answer) = (asked.clone(), fail.clone(), answer.clone());
            async move {
                asked.fetch_add(1, Ordering::SeqCst);
                if fail.load(Ordering::SeqCst) > 0 {
                    (axum::http::StatusCode::INTERNAL_SERVER_ERROR, String::new())
                } else {
                    (axum::http::StatusCode::OK, answer)
                }
            }
        });
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        format!("http://{address}")
    }

    #[tokio::test]
    async fn a_discovered_endpoint_is_reloaded_when_it_expires_and_kept_when_that_fails() {
        let (asked, fail) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let base = discovery(asked.clone(), fail.clone()).await;
        let credentials = aws_credential_types::Credentials::new("a", "b", None, None, "t");
        let backend = DirectBackend::with(
            Api::Write,
            "eu-west-1",
            None,
            Some(&base),
            SharedCredentialsProvider::new(credentials),
        )
        .await
        .unwrap();
        let expected: Uri = format!("{base}/").parse().unwrap();
        assert_eq!(backend.endpoint().await, expected);
        assert_eq!(asked.load(Ordering::SeqCst), 1, "cached for its period");

        let Route::Discovered(discovery) = &backend.route else {
            panic!("discovered");
        };
        let expire = || {
            discovery.current.write().unwrap().1 = Instant::now() - Duration::from_secs(1);
        };
        expire();
        assert_eq!(backend.endpoint().await, expected);
        assert_eq!(asked.load(Ordering::SeqCst), 2, "reloaded once expired");

        fail.store(1, Ordering::SeqCst);
        expire();
        assert_eq!(
            backend.endpoint().await,
            expected,
            "the old endpoint is kept"
        );
        assert_eq!(asked.load(Ordering::SeqCst), 3);
        assert_eq!(backend.endpoint().await, expected);
        assert_eq!(
            asked.load(Ordering::SeqCst),
            3,
            "and tried again later, not at once"
        );
    }
}
