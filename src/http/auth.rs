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
    let Some((user, password)) = basic(headers).map_err(AppError::Authorization)? else {
        return Ok(None);
    };
    if user.is_empty() || password.is_empty() {
        return Err(AppError::Authorization(
            "Basic credentials need an access key id and a secret key",
        ));
    }
    Ok(Some(Credentials {
        access_key_id: user,
        secret_access_key: password,
    }))
}

/// The user and password of a well-formed `Authorization: Basic` header, if there is one.
pub fn basic_pair(headers: &HeaderMap) -> Option<(String, String)> {
    basic(headers).ok().flatten()
}

/// The user and password of an `Authorization: Basic` header; `None` without one (or
/// with another scheme), and what is wrong with a malformed one.
fn basic(headers: &HeaderMap) -> Result<Option<(String, String)>, &'static str> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().map_err(|_| "not ASCII")?;
    let Some(encoded) = value.strip_prefix("Basic ") else {
        return Ok(None);
    };
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| "Basic credentials are not base64")?;
    let decoded = String::from_utf8(decoded).map_err(|_| "Basic credentials are not UTF-8")?;
    let (user, password) = decoded
        .split_once(':')
        .ok_or("Basic credentials have no ':'")?;
    Ok(Some((user.to_owned(), password.to_owned())))
}
