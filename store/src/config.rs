//! How to reach etcd: [`StoreConfig`] and turning it into a client.
//!
//! Fields are plain (strings, paths, integers in milliseconds) so a binary can
//! flatten them into clap flags or read them from a config file with serde,
//! without this crate depending on clap.

use std::path::{Path, PathBuf};
use std::time::Duration;

use etcd_client::{Certificate, Client, ConnectOptions, Identity, TlsOptions};
use serde::{Deserialize, Serialize};

use crate::error::{Result, StoreError};

/// Default key prefix; everything drover writes lives under it.
pub const DEFAULT_PREFIX: &str = "/drover";
/// etcd's default `--max-txn-ops`.
pub const DEFAULT_MAX_TXN_OPS: usize = 128;
/// etcd's default `--max-request-bytes` (1.5 MiB).
pub const DEFAULT_MAX_REQUEST_BYTES: usize = 1536 * 1024;

/// Connection and sizing options for the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    /// Client URLs, e.g. `http://10.0.0.1:2379`; use `https://` with TLS.
    pub endpoints: Vec<String>,
    /// Key prefix, e.g. `/drover`.
    pub prefix: String,
    /// PEM CA bundle to verify the servers; enables TLS.
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate (needs `key_file`).
    pub cert_file: Option<PathBuf>,
    /// PEM client key (needs `cert_file`).
    pub key_file: Option<PathBuf>,
    /// etcd user (needs `password`).
    pub username: Option<String>,
    pub password: Option<String>,
    /// How long to wait for a TCP/TLS connection.
    pub connect_timeout_ms: u64,
    /// Deadline for one unary request (get, put, txn, lease grant).
    pub request_timeout_ms: u64,
    /// HTTP/2 keepalive ping interval, so a silently dead connection is
    /// noticed (and watches resumed elsewhere) within about twice this time.
    pub keepalive_interval_ms: u64,
    /// Ops per transaction; must not exceed the server's `--max-txn-ops`.
    pub max_txn_ops: usize,
    /// Bytes per request; must not exceed the server's `--max-request-bytes`.
    pub max_request_bytes: usize,
    /// Keys per page when listing, so big lists stay under gRPC limits.
    pub list_page_size: i64,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            endpoints: vec!["http://127.0.0.1:2379".to_string()],
            prefix: DEFAULT_PREFIX.to_string(),
            ca_file: None,
            cert_file: None,
            key_file: None,
            username: None,
            password: None,
            connect_timeout_ms: 5_000,
            request_timeout_ms: 10_000,
            keepalive_interval_ms: 10_000,
            max_txn_ops: DEFAULT_MAX_TXN_OPS,
            max_request_bytes: DEFAULT_MAX_REQUEST_BYTES,
            list_page_size: 500,
        }
    }
}

impl StoreConfig {
    /// A default config for the given endpoints and prefix.
    pub fn new(endpoints: Vec<String>, prefix: impl Into<String>) -> Self {
        Self {
            endpoints,
            prefix: prefix.into(),
            ..Self::default()
        }
    }

    /// The request timeout as a [`Duration`].
    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }

    /// Checks combinations that cannot work, before any connection attempt.
    pub fn validate(&self) -> Result<()> {
        let bad = |msg: &str| Err(StoreError::Config(msg.to_string()));
        if self.endpoints.is_empty() {
            return bad("at least one endpoint is required");
        }
        if !self.prefix.starts_with('/') || self.prefix.ends_with('/') {
            return bad("prefix must start with '/' and not end with it, e.g. /drover");
        }
        if self.cert_file.is_some() != self.key_file.is_some() {
            return bad("cert_file and key_file must be given together");
        }
        if self.username.is_some() != self.password.is_some() {
            return bad("username and password must be given together");
        }
        if self.max_txn_ops == 0 || self.max_request_bytes < 1024 || self.list_page_size < 1 {
            return bad("max_txn_ops, max_request_bytes and list_page_size must be positive");
        }
        Ok(())
    }

    /// One etcd client over all endpoints with these options (etcd-client's
    /// own balancing, no failover). [`Store::connect`](crate::Store::connect)
    /// does not use it: it keeps a client per endpoint and fails over.
    pub async fn connect(&self) -> Result<Client> {
        self.validate()?;
        let options = self.connect_options()?;
        Client::connect(&self.endpoints, Some(options))
            .await
            .map_err(|source| StoreError::Connect {
                endpoints: self.endpoints.join(","),
                source,
            })
    }

    pub(crate) fn connect_options(&self) -> Result<ConnectOptions> {
        let keepalive = Duration::from_millis(self.keepalive_interval_ms);
        let mut options = ConnectOptions::new()
            .with_connect_timeout(Duration::from_millis(self.connect_timeout_ms))
            .with_keep_alive(keepalive, keepalive)
            .with_keep_alive_while_idle(true);
        if let (Some(user), Some(password)) = (&self.username, &self.password) {
            options = options.with_user(user, password);
        }
        if self.ca_file.is_some() || self.cert_file.is_some() {
            let mut tls = TlsOptions::new();
            if let Some(ca) = &self.ca_file {
                tls = tls.ca_certificate(Certificate::from_pem(read_pem(ca)?));
            }
            if let (Some(cert), Some(key)) = (&self.cert_file, &self.key_file) {
                tls = tls.identity(Identity::from_pem(read_pem(cert)?, read_pem(key)?));
            }
            options = options.with_tls(tls);
        }
        Ok(options)
    }
}

fn read_pem(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| StoreError::TlsFile {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_valid_and_round_trips_through_serde() {
        let config = StoreConfig::default();
        assert!(config.validate().is_ok());
        let json = serde_json::to_string(&config).expect("serialise");
        let back: StoreConfig = serde_json::from_str(&json).expect("deserialise");
        assert_eq!(back, config);
        let partial: StoreConfig =
            serde_json::from_str(r#"{"prefix":"/x","max_txn_ops":64}"#).expect("partial");
        assert_eq!(partial.prefix, "/x");
        assert_eq!(partial.max_txn_ops, 64);
        assert_eq!(partial.max_request_bytes, DEFAULT_MAX_REQUEST_BYTES);
    }

    #[test]
    fn rejects_unworkable_combinations() {
        let c = StoreConfig {
            prefix: "/drover/".into(),
            ..StoreConfig::default()
        };
        assert!(matches!(c.validate(), Err(StoreError::Config(_))));
        let c = StoreConfig {
            cert_file: Some("/tmp/c.pem".into()),
            ..StoreConfig::default()
        };
        assert!(matches!(c.validate(), Err(StoreError::Config(_))));
        let mut c = StoreConfig::default();
        c.endpoints.clear();
        assert!(matches!(c.validate(), Err(StoreError::Config(_))));
    }

    #[test]
    fn missing_tls_file_names_the_path() {
        let c = StoreConfig {
            ca_file: Some("/nonexistent/ca.pem".into()),
            ..StoreConfig::default()
        };
        match c.connect_options() {
            Err(StoreError::TlsFile { path, .. }) => {
                assert_eq!(path, PathBuf::from("/nonexistent/ca.pem"))
            }
            other => panic!("expected TlsFile error, got {other:?}"),
        }
    }
}
