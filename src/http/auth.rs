//! Credentials a client passes with its request, as the Go connector accepts them: Basic
//! auth whose user is an AWS access key id and whose password is the secret key. They are
//! used for that request's Timestream calls only.
//!
//! Other schemes are not credentials for Timestream and are left alone: behind API
//! Gateway with IAM authorization, every request carries its SigV4 `Authorization`
//! header into the function, and the function writes with its own role.

use axum::http::{header, HeaderMap};
use base64::Engine;

use super::error::AppError;
use crate::timestream::backend::Credentials;

/// Basic auth carries AWS credentials: user = access key id, password = secret key.
pub fn basic_auth(headers: &HeaderMap) -> Result<Option<Credentials>, AppError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value
        .to_str()
        .map_err(|_| AppError::Authorization("not ASCII"))?;
    let Some(encoded) = value.strip_prefix("Basic ") else {
        return Ok(None);
    };
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| AppError::Authorization("Basic credentials are not base64"))?;
    let decoded = String::from_utf8(decoded)
        .map_err(|_| AppError::Authorization("Basic credentials are not UTF-8"))?;
    let (user, password) = decoded
        .split_once(':')
        .ok_or(AppError::Authorization("Basic credentials have no ':'"))?;
    if user.is_empty() || password.is_empty() {
        return Err(AppError::Authorization(
            "Basic credentials need an access key id and a secret key",
        ));
    }
    Ok(Some(Credentials {
        access_key_id: user.to_string(),
        secret_access_key: password.to_string(),
    }))
}

/// The user and password of a well-formed `Authorization: Basic` header, if there is one.
pub fn basic_pair(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}
