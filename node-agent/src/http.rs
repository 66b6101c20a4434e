//! The agent's own HTTP API: task logs. (Being written.)

use std::sync::Arc;

use tokio::sync::watch;

use crate::worker::Shared;

/// Serves the agent's HTTP API until `shutdown`.
pub async fn serve(
    _listener: tokio::net::TcpListener,
    _shared: Arc<Shared>,
    _shutdown: watch::Receiver<bool>,
) {
}
