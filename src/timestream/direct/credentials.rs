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

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use aws_credential_types::provider::future;

    use super::*;

    /// A provider that counts its loads and hands out credentials expiring `expires_in`
    /// from now (never, for `None`).
    #[derive(Debug)]
    struct Counting {
        loads: Arc<AtomicUsize>,
        expires_in: Option<Duration>,
    }

    impl ProvideCredentials for Counting {
        fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
        where
            Self: 'a,
        {
            let n = self.loads.fetch_add(1, Ordering::SeqCst);
            let expiry = self.expires_in.map(|d| SystemTime::now() + d);
            future::ProvideCredentials::ready(Ok(aws_credential_types::Credentials::new(
                format!("AKID{n}"),
                "secret",
                None,
                expiry,
                "counting",
            )))
        }
    }

    fn counted(expires_in: Option<Duration>) -> (CredentialCache, Arc<AtomicUsize>) {
        let loads = Arc::new(AtomicUsize::new(0));
        let provider = Counting {
            loads: loads.clone(),
            expires_in,
        };
        (
            CredentialCache::new(SharedCredentialsProvider::new(provider)),
            loads,
        )
    }

    #[tokio::test]
    async fn credentials_are_loaded_once_and_reused() {
        let (cache, loads) = counted(None);
        for _ in 0..5 {
            assert_eq!(cache.get().await.unwrap().access_key_id(), "AKID0");
        }
        let (cache_hour, loads_hour) = counted(Some(Duration::from_secs(3600)));
        for _ in 0..5 {
            cache_hour.get().await.unwrap();
        }
        assert_eq!(loads.load(Ordering::SeqCst), 1);
        assert_eq!(loads_hour.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn credentials_about_to_expire_are_loaded_again() {
        // Inside the five-minute margin: every use loads fresh ones.
        let (cache, loads) = counted(Some(Duration::from_secs(60)));
        let first = cache.get().await.unwrap();
        let second = cache.get().await.unwrap();
        assert_ne!(first.access_key_id(), second.access_key_id());
        assert_eq!(loads.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn no_credentials_is_access_denied_a_failed_provider_retryable() {
        let missing = credentials_error(CredentialsError::not_loaded("no chain had any"));
        assert!(matches!(missing, BackendError::AccessDenied(_)));
        let failed = credentials_error(CredentialsError::provider_error("IMDS timed out"));
        assert!(failed.is_retryable());
    }
}
