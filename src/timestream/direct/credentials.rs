//! The default credential chain's credentials, cached.

use std::sync::RwLock;
use std::time::{Duration, SystemTime};

use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_smithy_types::error::display::DisplayErrorContext;

use crate::timestream::backend::BackendError;

/// Cached credentials without an expiry are reloaded this often (as the SDK does), and
/// expiring ones this long before they expire.
const CREDENTIALS_REFRESH: Duration = Duration::from_secs(15 * 60);
const CREDENTIALS_MARGIN: Duration = Duration::from_secs(5 * 60);

/// The default chain's credentials, loaded once and reused until shortly before they
/// expire; concurrent calls wait for one load.
pub(super) struct CredentialCache {
    provider: SharedCredentialsProvider,
    cached: RwLock<Option<(aws_credential_types::Credentials, SystemTime)>>,
    loading: tokio::sync::Mutex<()>,
}

impl CredentialCache {
    pub(super) fn new(provider: SharedCredentialsProvider) -> Self {
        CredentialCache {
            provider,
            cached: RwLock::new(None),
            loading: tokio::sync::Mutex::new(()),
        }
    }

    pub(super) async fn get(&self) -> Result<aws_credential_types::Credentials, BackendError> {
        let fresh = || {
            let cached = self.cached.read().unwrap_or_else(|e| e.into_inner());
            cached
                .as_ref()
                .filter(|(_, refresh_at)| SystemTime::now() < *refresh_at)
                .map(|(c, _)| c.clone())
        };
        if let Some(credentials) = fresh() {
            return Ok(credentials);
        }
        let _loading = self.loading.lock().await;
        if let Some(credentials) = fresh() {
            return Ok(credentials);
        }
        let credentials = self
            .provider
            .provide_credentials()
            .await
            .map_err(credentials_error)?;
        let now = SystemTime::now();
        let refresh_at = match credentials.expiry() {
            Some(expiry) => expiry
                .checked_sub(CREDENTIALS_MARGIN)
                .filter(|at| *at > now)
                .unwrap_or(now),
            None => now + CREDENTIALS_REFRESH,
        };
        *self.cached.write().unwrap_or_else(|e| e.into_inner()) =
            Some((credentials.clone(), refresh_at));
        Ok(credentials)
    }
}

/// No credentials anywhere in the chain is the operator's to fix; a provider that
/// failed or timed out may work on the next attempt.
fn credentials_error(error: CredentialsError) -> BackendError {
    let text = DisplayErrorContext(&error).to_string();
    match error {
        CredentialsError::CredentialsNotLoaded(_) | CredentialsError::InvalidConfiguration(_) => {
            BackendError::AccessDenied(format!("no usable AWS credentials: {text}"))
        }
        _ => BackendError::Unavailable(format!("loading AWS credentials: {text}")),
    }
}
