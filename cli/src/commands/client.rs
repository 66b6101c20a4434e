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
}

impl ApiArgs {
    /// A client of the server these flags name, with their token.
    pub fn client(&self) -> anyhow::Result<Client> {
        let token = self
            .token
            .clone()
            .or_else(|| std::env::var("NOMAD_TOKEN").ok());
        Ok(Client::new(&self.addr, &self.namespace)?.with_token(token.as_deref()))
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
