//! A loopback TCP proxy that can cut its connections.
//!
//! Tests use it to put one client behind a "network partition" while others
//! keep talking to etcd directly: [`TcpProxy::cut`] closes every proxied
//! connection and refuses new ones, [`TcpProxy::restore`] accepts again.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::copy_bidirectional;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::etcd::FixtureError;

/// Forwards `127.0.0.1:<port>` to a target address. Stops on drop.
pub struct TcpProxy {
    addr: SocketAddr,
    open: Arc<watch::Sender<bool>>,
    task: JoinHandle<()>,
}

impl TcpProxy {
    /// Listens on a free loopback port and forwards to `target`.
    pub async fn start(target: SocketAddr) -> Result<Self, FixtureError> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| FixtureError::from_msg(format!("binding proxy: {e}")))?;
        let addr = listener
            .local_addr()
            .map_err(|e| FixtureError::from_msg(format!("proxy address: {e}")))?;
        let open = Arc::new(watch::channel(true).0);
        let task = tokio::spawn(accept_loop(listener, target, open.clone()));
        Ok(Self { addr, open, task })
    }

    /// The URL clients should use, e.g. `http://127.0.0.1:40123`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Closes every proxied connection and refuses new ones until restored.
    pub fn cut(&self) {
        self.open.send_replace(false);
    }

    /// Accepts and forwards connections again.
    pub fn restore(&self) {
        self.open.send_replace(true);
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.cut();
        self.task.abort();
    }
}

async fn accept_loop(listener: TcpListener, target: SocketAddr, open: Arc<watch::Sender<bool>>) {
    while let Ok((inbound, _)) = listener.accept().await {
        if !*open.borrow() {
            // Dropping the socket resets it: the client sees a refused/broken
            // connection, as with a partition that rejects quickly.
            drop(inbound);
            continue;
        }
        let mut open_rx = open.subscribe();
        tokio::spawn(async move {
            let Ok(outbound) = TcpStream::connect(target).await else {
                return;
            };
            let (mut a, mut b) = (inbound, outbound);
            tokio::select! {
                _ = copy_bidirectional(&mut a, &mut b) => {}
                _ = open_rx.wait_for(|open| !*open) => {}
            }
        });
    }
}
