//! Requests as Timestream's JSON protocol wants them, and their SigV4 signatures (the
//! AWS SDK's signer, service `timestream`).

use std::time::SystemTime;

use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use bytes::Bytes;
use http::{header, HeaderValue, Request, Uri};
use http_body_util::Full;

use crate::timestream::backend::BackendError;
use crate::timestream::wire;

/// The service name Timestream's requests are signed for.
const SIGNING_NAME: &str = "timestream";

/// A POST of `body` to `uri` as Timestream's JSON protocol wants it, unsigned.
pub fn request(uri: &Uri, target: &'static str, body: Bytes) -> Request<Full<Bytes>> {
    let mut request = Request::new(Full::new(body.clone()));
    *request.method_mut() = http::Method::POST;
    *request.uri_mut() = uri.clone();
    let headers = request.headers_mut();
    if let Some(authority) = uri.authority() {
        if let Ok(host) = HeaderValue::from_str(authority.as_str()) {
            headers.insert(header::HOST, host);
        }
    }
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(wire::CONTENT_TYPE),
    );
    headers.insert("x-amz-target", HeaderValue::from_static(target));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    request
}

/// Signs `request` (SigV4, service `timestream`, headers as they are) at `time`.
pub fn sign_request<B>(
    request: &mut Request<B>,
    body: &[u8],
    credentials: &aws_credential_types::Credentials,
    region: &str,
    time: SystemTime,
) -> Result<(), BackendError> {
    let invalid = |e: &dyn std::fmt::Display| BackendError::Invalid(format!("signing: {e}"));
    let identity = credentials.clone().into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(SIGNING_NAME)
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| invalid(&e))?
        .into();
    let uri = request.uri().to_string();
    let headers = request
        .headers()
        .iter()
        .filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?)));
    let signable = SignableRequest::new(
        request.method().as_str(),
        uri,
        headers,
        SignableBody::Bytes(body),
    )
    .map_err(|e| invalid(&e))?;
    let (instructions, _) = sign(signable, &params)
        .map_err(|e| invalid(&e))?
        .into_parts();
    instructions.apply_to_request_http1x(request);
    Ok(())
}
