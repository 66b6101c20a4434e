//! The CLI's side of the REST API: the flags that say where the server is
//! (`--addr`, `DROVER_ADDR`, default `http://127.0.0.1:4646`), in which
//! namespace and with which ACL token (`--token`, `DROVER_TOKEN`), turned into a [`drover_api::Client`] — the typed client every
//! user command talks through — and the runtime its calls run on.

use anyhow::Context as _;

pub use drover_api::client::{segment, Indexed};
pub use drover_api::error::api_error_message;
pub use drover_api::Client;

/// The flags every API command takes.
#[derive(Debug, Clone, clap::Args)]
pub struct ApiArgs {
    /// The drover server's HTTP address.
    #[arg(
        long = "addr",
        env = "DROVER_ADDR",
        default_value = drover_api::client::DEFAULT_ADDR,
        global = true
    )]
    pub addr: String,
    /// The namespace.
    #[arg(
        short = 'n',
        long = "namespace",
        env = "DROVER_NAMESPACE",
        default_value = "default",
        global = true
    )]
    pub namespace: String,
    /// The ACL token's secret (also read from NOMAD_TOKEN).
    #[arg(
        long = "token",
        env = "DROVER_TOKEN",
        global = true,
        hide_env_values = true
    )]
    pub token: Option<String>,
    /// The CA that signed the server's certificate, for an https address
    /// (also NOMAD_CACERT).
    #[arg(
        long = "ca-cert",
        env = "DROVER_CACERT",
        global = true,
        value_name = "FILE"
    )]
    pub ca_cert: Option<std::path::PathBuf>,
    /// A client certificate, for servers that require one (mutual TLS;
    /// also NOMAD_CLIENT_CERT).
    #[arg(
        long = "client-cert",
        env = "DROVER_CLIENT_CERT",
        global = true,
        value_name = "FILE"
    )]
    pub client_cert: Option<std::path::PathBuf>,
    /// Its private key (also NOMAD_CLIENT_KEY).
    #[arg(
        long = "client-key",
        env = "DROVER_CLIENT_KEY",
        global = true,
        value_name = "FILE"
    )]
    pub client_key: Option<std::path::PathBuf>,
}

/// A flag's value, else the `NOMAD_*` variable's.
fn or_nomad(flag: &Option<std::path::PathBuf>, var: &str) -> Option<std::path::PathBuf> {
    flag.clone()
        .or_else(|| std::env::var_os(var).map(std::path::PathBuf::from))
}

impl ApiArgs {
    /// A client of the server these flags name, with their token.
    pub fn client(&self) -> anyhow::Result<Client> {
        let token = self
            .token
            .clone()
            .or_else(|| std::env::var("NOMAD_TOKEN").ok());
        if let Some(token) = &token {
            // A secret pasted with a stray newline would otherwise read as
            // an unreachable server.
            anyhow::ensure!(
                reqwest::header::HeaderValue::from_str(token).is_ok(),
                "--token/DROVER_TOKEN is not a token: it holds characters a request header cannot carry (a newline?)"
            );
        }
        Ok(
            Client::with_tls(&self.addr, &self.namespace, &self.tls_files())?
                .with_token(token.as_deref()),
        )
    }

    /// The CA and client certificate these flags (or `NOMAD_*`) name.
    pub fn tls_files(&self) -> drover_api::client::TlsFiles {
        drover_api::client::TlsFiles {
            ca_cert: or_nomad(&self.ca_cert, "NOMAD_CACERT"),
            client_cert: or_nomad(&self.client_cert, "NOMAD_CLIENT_CERT"),
            client_key: or_nomad(&self.client_key, "NOMAD_CLIENT_KEY"),
        }
    }
}

/// The runtime the user commands run their requests on: one thread is
/// plenty for a handful of requests.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}
