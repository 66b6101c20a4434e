//! Flags shared by the long-running commands: how to reach etcd, how to
//! serve HTTP over TLS, logging, and shutting down on a signal.

use std::time::Duration;

use drover_store::StoreConfig;
use tokio::sync::watch;

/// How the server's API and the agent's HTTP API serve TLS: the same
/// flags on both.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct TlsArgs {
    /// Serve over TLS with this certificate (PEM; with --tls-key).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<std::path::PathBuf>,
    /// The certificate's private key (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<std::path::PathBuf>,
    /// Require client certificates signed by this CA (mutual TLS). The
    /// server also verifies agents that serve TLS against it.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_client_ca: Option<std::path::PathBuf>,
}

impl TlsArgs {
    /// The listener's TLS configuration; `None` without `--tls-cert`.
    pub fn server_config(&self) -> anyhow::Result<Option<drover_serve::tls::ServerTls>> {
        use anyhow::Context as _;
        let (Some(cert), Some(key)) = (&self.tls_cert, &self.tls_key) else {
            return Ok(None);
        };
        drover_serve::tls::server_config(cert, key, self.tls_client_ca.as_deref())
            .map(Some)
            .context("--tls-cert/--tls-key/--tls-client-ca")
    }

    /// How the server dials agents that serve TLS: trusting the cluster's
    /// CA (`--tls-client-ca`) and presenting its own certificate.
    pub fn agent_client_files(&self) -> drover_api::client::TlsFiles {
        drover_api::client::TlsFiles {
            ca_cert: self.tls_client_ca.clone(),
            client_cert: self.tls_cert.clone(),
            client_key: self.tls_key.clone(),
        }
    }
}

/// How to reach etcd.
#[derive(Debug, Clone, clap::Args)]
pub struct EtcdArgs {
    /// etcd client URLs (repeat, or separate with commas).
    #[arg(
        long = "etcd",
        env = "DROVER_ETCD",
        value_delimiter = ',',
        default_value = "http://127.0.0.1:2379",
        value_name = "URL"
    )]
    pub endpoints: Vec<String>,
    /// Key prefix everything lives under.
    #[arg(long = "etcd-prefix", default_value = drover_store::config::DEFAULT_PREFIX)]
    pub prefix: String,
    /// PEM CA bundle to verify etcd (enables TLS).
    #[arg(long = "etcd-ca")]
    pub ca_file: Option<std::path::PathBuf>,
    /// PEM client certificate for etcd.
    #[arg(long = "etcd-cert", requires = "key_file")]
    pub cert_file: Option<std::path::PathBuf>,
    /// PEM client key for etcd.
    #[arg(long = "etcd-key", requires = "cert_file")]
    pub key_file: Option<std::path::PathBuf>,
    /// etcd user name.
    #[arg(long = "etcd-user", env = "DROVER_ETCD_USER", requires = "password")]
    pub username: Option<String>,
    /// etcd password.
    #[arg(
        long = "etcd-password",
        env = "DROVER_ETCD_PASSWORD",
        requires = "username"
    )]
    pub password: Option<String>,
}

impl EtcdArgs {
    pub fn config(&self) -> StoreConfig {
        StoreConfig {
            endpoints: self.endpoints.clone(),
            prefix: self.prefix.clone(),
            ca_file: self.ca_file.clone(),
            cert_file: self.cert_file.clone(),
            key_file: self.key_file.clone(),
            username: self.username.clone(),
            password: self.password.clone(),
            ..StoreConfig::default()
        }
    }
}

/// Log output.
#[derive(Debug, Clone, clap::Args)]
pub struct LogArgs {
    /// `text` for people, `json` for machines.
    #[arg(long, default_value = "text", value_parser = ["text", "json"])]
    pub log_format: String,
    /// A tracing filter, e.g. `info` or `drover_controllers=debug`.
    #[arg(long, env = "DROVER_LOG", default_value = "info")]
    pub log_level: String,
}

impl LogArgs {
    pub fn init(&self) -> anyhow::Result<()> {
        let filter = tracing_subscriber::EnvFilter::try_new(&self.log_level)
            .map_err(|e| anyhow::anyhow!("--log-level {:?}: {e}", self.log_level))?;
        // Logs go to stderr, so stdout stays for output a script may read.
        // Colour only for a person at a terminal, not in files or pipes.
        let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr())
            && std::env::var_os("NO_COLOR").is_none();
        let builder = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_ansi(ansi)
            .with_writer(std::io::stderr);
        let result = if self.log_format == "json" {
            builder.json().try_init()
        } else {
            builder.try_init()
        };
        result.map_err(|e| anyhow::anyhow!("cannot set up logging: {e}"))
    }
}

/// Parses a Go-style duration flag (`10s`, `1m30s`).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    drover_api_types::Duration::parse(s)
        .map(|d| d.as_std())
        .map_err(|e| e.to_string())
}

/// A flag that turns true on Ctrl-C or SIGTERM.
pub fn shutdown_on_signal() -> watch::Receiver<bool> {
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("signal received: shutting down");
        let _ = tx.send(true);
    });
    rx
}

#[cfg(unix)]
async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let term = signal(SignalKind::terminate());
    match term {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(not(unix))]
async fn wait_for_signal() {
    let _ = tokio::signal::ctrl_c().await;
}
