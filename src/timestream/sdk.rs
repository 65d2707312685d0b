//! What the connector takes from the AWS SDK: its configuration (the region, the default
//! credential chain) and where requests go. The requests themselves are the connector's
//! own ([`super::direct`]).

use aws_config::{BehaviorVersion, Region};

use super::backend::Credentials;

/// Where Timestream's requests go.
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

/// The SDK configuration the Timestream clients share: the region, and the credential
/// provider (the default chain; static ones for Timestream Local).
pub async fn sdk_config(region: &str, endpoint: Endpoint<'_>) -> aws_config::SdkConfig {
    let mut loader =
        aws_config::defaults(BehaviorVersion::latest()).region(Region::new(region.to_string()));
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

impl Credentials {
    /// The SDK's form of the client's credentials.
    pub(super) fn aws(&self) -> aws_credential_types::Credentials {
        aws_credential_types::Credentials::new(
            &self.access_key_id,
            &self.secret_access_key,
            None,
            None,
            "basic-auth",
        )
    }
}
