//! The CLI's side of the REST API: the flags that say where the server is
//! (`--addr`, `DROVER_ADDR`, default `http://127.0.0.1:4646`) and in which
//! namespace, turned into a [`drover_api::Client`] — the typed client every
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
}

impl ApiArgs {
    /// A client of the server these flags name.
    pub fn client(&self) -> anyhow::Result<Client> {
        Ok(Client::new(&self.addr, &self.namespace)?)
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
