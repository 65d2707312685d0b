//! `--web.config.file`: who may call the connector, and over what, in the web
//! configuration format of Prometheus' own servers (prometheus/exporter-toolkit):
//!
//! ```yaml
//! tls_server_config:
//!   cert_file: server.crt
//!   key_file: server.key
//!   client_auth_type: RequireAndVerifyClientCert   # or NoClientCert, VerifyClientCertIfGiven
//!   client_ca_file: clients.crt
//!   min_version: TLS12                             # TLS12 or TLS13 (rustls speaks no older)
//! basic_auth_users:
//!   prometheus: $2y$10$...                         # bcrypt hashes, as `htpasswd -nBC 10` makes
//! ```
//!
//! The file (and the files it names) is watched and re-read when it changes: users and
//! certificates change without a restart; a file that no longer reads keeps the last
//! good configuration and says why in the log. Switching TLS on or off takes a restart.
//!
//! Not done: `RequestClientCert` and `RequireAnyClientCert` (client certificates taken
//! but not verified), cipher suites and curve preferences, `http_server_config`: they
//! are refused at start rather than silently ignored.

use std::collections::{BTreeMap, HashSet};
use std::hash::{BuildHasher, RandomState};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde::Deserialize;
use thiserror::Error;

/// How often the files are checked for changes.
const WATCH_EVERY: Duration = Duration::from_secs(2);

/// The most verified credentials remembered (a bcrypt check costs tens of milliseconds,
/// and Prometheus sends the same credentials with every request).
const MAX_REMEMBERED: usize = 1024;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebConfig {
    #[serde(default)]
    pub tls_server_config: Option<TlsServerConfig>,
    #[serde(default)]
    pub basic_auth_users: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsServerConfig {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    #[serde(default)]
    pub client_auth_type: ClientAuth,
    #[serde(default)]
    pub client_ca_file: Option<PathBuf>,
    #[serde(default)]
    pub min_version: Option<TlsVersion>,
    #[serde(default)]
    pub max_version: Option<TlsVersion>,
}

/// Whether and how client certificates are checked (exporter-toolkit's names).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub enum ClientAuth {
    #[default]
    NoClientCert,
    RequestClientCert,
    RequireAnyClientCert,
    VerifyClientCertIfGiven,
    RequireAndVerifyClientCert,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
pub enum TlsVersion {
    TLS10,
    TLS11,
    TLS12,
    TLS13,
}

#[derive(Debug, Error)]
pub enum WebConfigError {
    #[error("{}: {error}", .path.display())]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{}: {error}", .path.display())]
    Parse {
        path: PathBuf,
        error: serde_yaml_ng::Error,
    },
    #[error("{0}")]
    Invalid(String),
}

impl WebConfig {
    /// Reads and checks `path`: every hash a bcrypt hash, every TLS file readable and
    /// usable.
    pub fn load(path: &Path) -> Result<WebConfig, WebConfigError> {
        let text = read(path)?;
        let config: WebConfig =
            serde_yaml_ng::from_slice(&text).map_err(|error| WebConfigError::Parse {
                path: path.to_owned(),
                error,
            })?;
        for (user, hash) in &config.basic_auth_users {
            hash.parse::<bcrypt::HashParts>().map_err(|e| {
                WebConfigError::Invalid(format!(
                    "basic_auth_users: the hash of {user:?} is not a bcrypt hash: {e}"
                ))
            })?;
        }
        // Relative file names are relative to the configuration file, as in Prometheus.
        let base = path.parent().unwrap_or(Path::new("."));
        let mut config = config;
        if let Some(tls) = &mut config.tls_server_config {
            for file in [Some(&mut tls.cert_file), Some(&mut tls.key_file)]
                .into_iter()
                .chain([tls.client_ca_file.as_mut()])
                .flatten()
            {
                *file = base.join(&*file);
            }
            tls.server_config()?;
        }
        Ok(config)
    }

    /// The files whose changes call for a reload.
    fn files(&self) -> Vec<PathBuf> {
        self.tls_server_config
            .iter()
            .flat_map(|tls| {
                [
                    Some(&tls.cert_file),
                    Some(&tls.key_file),
                    tls.client_ca_file.as_ref(),
                ]
            })
            .flatten()
            .cloned()
            .collect()
    }
}

impl TlsServerConfig {
    /// The rustls configuration these settings describe.
    pub fn server_config(&self) -> Result<Arc<rustls::ServerConfig>, WebConfigError> {
        let invalid = |what: String| WebConfigError::Invalid(format!("tls_server_config: {what}"));
        let certificates = CertificateDer::pem_slice_iter(&read(&self.cert_file)?)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| invalid(format!("cert_file: {e}")))?;
        let key = PrivateKeyDer::from_pem_slice(&read(&self.key_file)?)
            .map_err(|e| invalid(format!("key_file: {e}")))?;
        let versions: Vec<&'static rustls::SupportedProtocolVersion> = [
            (TlsVersion::TLS12, &rustls::version::TLS12),
            (TlsVersion::TLS13, &rustls::version::TLS13),
        ]
        .into_iter()
        .filter(|(version, _)| {
            self.min_version.is_none_or(|min| *version >= min)
                && self.max_version.is_none_or(|max| *version <= max)
        })
        .map(|(_, version)| version)
        .collect();
        if versions.is_empty() {
            return Err(invalid(
                "min_version and max_version leave no version this server speaks (TLS12, TLS13)"
                    .into(),
            ));
        }
        let builder = rustls::ServerConfig::builder_with_protocol_versions(&versions);
        let builder = match self.client_auth_type {
            ClientAuth::NoClientCert => builder.with_no_client_auth(),
            ClientAuth::VerifyClientCertIfGiven | ClientAuth::RequireAndVerifyClientCert => {
                let Some(ca) = &self.client_ca_file else {
                    return Err(invalid(format!(
                        "client_auth_type {:?} needs client_ca_file",
                        self.client_auth_type
                    )));
                };
                let mut roots = rustls::RootCertStore::empty();
                for certificate in CertificateDer::pem_slice_iter(&read(ca)?) {
                    let certificate =
                        certificate.map_err(|e| invalid(format!("client_ca_file: {e}")))?;
                    roots
                        .add(certificate)
                        .map_err(|e| invalid(format!("client_ca_file: {e}")))?;
                }
                let verifier = rustls::server::WebPkiClientVerifier::builder(Arc::new(roots));
                let verifier = if self.client_auth_type == ClientAuth::VerifyClientCertIfGiven {
                    verifier.allow_unauthenticated()
                } else {
                    verifier
                };
                builder.with_client_cert_verifier(
                    verifier
                        .build()
                        .map_err(|e| invalid(format!("client_ca_file: {e}")))?,
                )
            }
            other => {
                return Err(invalid(format!(
                    "client_auth_type {other:?} is not supported: client certificates are \
                     verified (VerifyClientCertIfGiven, RequireAndVerifyClientCert) or not \
                     asked for (NoClientCert)"
                )))
            }
        };
        let mut config = builder
            .with_single_cert(certificates, key)
            .map_err(|e| invalid(format!("cert_file and key_file: {e}")))?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

fn read(path: &Path) -> Result<Vec<u8>, WebConfigError> {
    std::fs::read(path).map_err(|error| WebConfigError::Read {
        path: path.to_owned(),
        error,
    })
}

/// Basic auth users, as the file currently names them.
pub struct Users {
    hashes: BTreeMap<String, String>,
    /// Keyed digests of credentials already verified: a bcrypt check takes tens of
    /// milliseconds by design, and a sender repeats the same credentials on every
    /// request. Only successes are kept; the key is random per process.
    verified: Mutex<HashSet<u64>>,
    keys: RandomState,
}

impl Users {
    fn new(hashes: BTreeMap<String, String>) -> Users {
        Users {
            hashes,
            verified: Mutex::default(),
            keys: RandomState::new(),
        }
    }

    /// Whether `password` is `user`'s.
    pub async fn check(self: &Arc<Self>, user: &str, password: &str) -> bool {
        let Some(hash) = self.hashes.get(user).cloned() else {
            return false;
        };
        let digest = self.keys.hash_one((user, password));
        if self
            .verified
            .lock()
            .expect("not poisoned")
            .contains(&digest)
        {
            return true;
        }
        // bcrypt is slow on purpose: off the async workers.
        let password = password.to_owned();
        let valid = tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash))
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or(false);
        if valid {
            let mut verified = self.verified.lock().expect("not poisoned");
            if verified.len() >= MAX_REMEMBERED {
                verified.clear();
            }
            verified.insert(digest);
        }
        valid
    }
}

/// What the HTTP layer checks on every request: the users, if any are configured.
#[derive(Default)]
pub struct Inbound {
    users: RwLock<Option<Arc<Users>>>,
}

impl Inbound {
    /// No inbound authentication.
    pub fn open() -> Arc<Inbound> {
        Arc::default()
    }

    /// The users now, or `None` when requests need no credentials.
    pub fn users(&self) -> Option<Arc<Users>> {
        self.users.read().expect("not poisoned").clone()
    }

    fn set(&self, config: &WebConfig) {
        let users = (!config.basic_auth_users.is_empty())
            .then(|| Arc::new(Users::new(config.basic_auth_users.clone())));
        *self.users.write().expect("not poisoned") = users;
    }
}

/// The web configuration in force, and how to keep it current.
pub struct Served {
    pub inbound: Arc<Inbound>,
    /// The TLS configuration to serve with, when the file has one.
    pub tls: Option<axum_server::tls_rustls::RustlsConfig>,
    path: PathBuf,
    files: Vec<PathBuf>,
}

impl Served {
    /// Loads `path` for serving.
    pub fn load(path: &Path) -> Result<Served, WebConfigError> {
        let config = WebConfig::load(path)?;
        let inbound = Inbound::open();
        inbound.set(&config);
        let tls = config
            .tls_server_config
            .as_ref()
            .map(TlsServerConfig::server_config)
            .transpose()?
            .map(axum_server::tls_rustls::RustlsConfig::from_config);
        Ok(Served {
            inbound,
            tls,
            files: config.files(),
            path: path.to_owned(),
        })
    }

    /// Re-reads the configuration whenever the file, or a file it names, changes;
    /// runs until the process ends.
    pub async fn watch(self) {
        let mut files = self.files.clone();
        let mut seen = fingerprint(&self.path, &files);
        loop {
            tokio::time::sleep(WATCH_EVERY).await;
            let now = fingerprint(&self.path, &files);
            if now == seen {
                continue;
            }
            seen = now;
            match WebConfig::load(&self.path) {
                Ok(config) => {
                    self.inbound.set(&config);
                    match (&self.tls, &config.tls_server_config) {
                        (Some(served), Some(tls)) => match tls.server_config() {
                            Ok(server) => served.reload_from_config(server),
                            Err(error) => tracing::error!(%error, "web config: TLS kept as it was"),
                        },
                        (None, None) => {}
                        _ => tracing::error!(
                            "web config: switching TLS on or off takes a restart; kept as it was"
                        ),
                    }
                    files = config.files();
                    tracing::info!(path = %self.path.display(), "web config reloaded");
                }
                Err(error) => {
                    tracing::error!(%error, "web config: the file does not load; the last good one stays in force")
                }
            }
        }
    }
}

/// What changes when a file changes: its modification time and length.
fn fingerprint(path: &Path, files: &[PathBuf]) -> Vec<Option<(SystemTime, u64)>> {
    std::iter::once(path)
        .chain(files.iter().map(PathBuf::as_path))
        .map(|file| {
            let metadata = std::fs::metadata(file).ok()?;
            Some((metadata.modified().ok()?, metadata.len()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<WebConfig, WebConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("web.yml");
        std::fs::write(&path, text).unwrap();
        WebConfig::load(&path)
    }

    #[test]
    fn users_with_bcrypt_hashes_load_and_anything_else_is_refused() {
        let hash = bcrypt::hash("secret", 4).unwrap();
        let config = load(&format!("basic_auth_users:\n  prometheus: {hash}\n")).unwrap();
        assert_eq!(config.basic_auth_users["prometheus"], hash);
        let error = load("basic_auth_users:\n  prometheus: plain\n").unwrap_err();
        assert!(error.to_string().contains("bcrypt"), "{error}");
        let error = load("http_server_config:\n  http2: false\n").unwrap_err();
        assert!(error.to_string().contains("http_server_config"), "{error}");
    }

    #[test]
    fn tls_files_that_do_not_exist_are_named() {
        let error =
            load("tls_server_config:\n  cert_file: nope.crt\n  key_file: nope.key\n").unwrap_err();
        assert!(error.to_string().contains("nope.crt"), "{error}");
    }

    #[tokio::test]
    async fn a_password_is_checked_against_its_users_hash_and_remembered() {
        let users = Arc::new(Users::new(BTreeMap::from([(
            "prometheus".to_owned(),
            bcrypt::hash("secret", 4).unwrap(),
        )])));
        assert!(users.check("prometheus", "secret").await);
        assert!(users.check("prometheus", "secret").await, "from the cache");
        assert!(!users.check("prometheus", "Secret").await);
        assert!(!users.check("someone", "secret").await);
        assert_eq!(users.verified.lock().unwrap().len(), 1);
    }
}
