//! The server's own record, `servers/<name>`: its HTTP address and
//! version, on a lease this process keeps alive, so the record goes within
//! a TTL of the process going (at once on a clean stop: the lease is
//! revoked). The catalog lists these records as the `drover` service, which
//! is how Prometheus finds the servers.
//!
//! Nothing depends on the record for correctness: a failed registration is
//! logged and retried with backoff, never fatal.

use std::time::Duration;

use drover_api_types::server::{Server, ServerSpec};
use drover_api_types::ObjectMeta;
use drover_store::{Guard, Lease, Store, Stored};
use tokio::sync::watch;

/// Keeps `servers/<name>` registered until `shutdown` turns true.
pub async fn keep_registered(
    store: Store,
    name: String,
    http_addr: String,
    ttl: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let record = Server {
        metadata: ObjectMeta {
            name: name.clone(),
            ..Default::default()
        },
        spec: ServerSpec {
            http_addr,
            version: env!("CARGO_PKG_VERSION").to_string(),
        },
    };
    let first_pause = Duration::from_millis(200);
    let max_pause = (ttl / 2).max(Duration::from_secs(1));
    let mut pause = first_pause;
    loop {
        match register(&store, &record, ttl).await {
            Ok(lease) => {
                pause = first_pause;
                tokio::select! {
                    _ = lease.lost() => {
                        tracing::warn!(%name, "the server record's lease was lost; registering again");
                    }
                    _ = stopping(&mut shutdown) => {
                        // Revoking deletes the record now rather than a TTL later.
                        if let Err(e) = lease.revoke().await {
                            tracing::debug!(error = %e, "revoking the server record's lease");
                        }
                        return;
                    }
                }
            }
            Err(e) => {
                tracing::warn!(%name, error = %e, retry_in = ?pause, "cannot register the server record");
                tokio::select! {
                    _ = tokio::time::sleep(pause) => {}
                    _ = stopping(&mut shutdown) => return,
                }
                pause = (pause * 2).min(max_pause);
            }
        }
    }
}

/// Grants a lease, keeps it alive and puts the record on it.
async fn register(store: &Store, record: &Server, ttl: Duration) -> anyhow::Result<Lease> {
    let lease = store.lease(ttl).await?;
    let bytes = record.encode()?;
    let key = store.keys().server(&record.metadata.name);
    // On failure the lease is dropped: it stops renewing and expires.
    store
        .put_raw(&key, bytes, Guard::None, Some(lease.id()))
        .await?;
    Ok(lease)
}

/// Completes when `shutdown` turns true (or its sender is gone).
async fn stopping(shutdown: &mut watch::Receiver<bool>) {
    // The borrow `wait_for` returns is not Send: drop it here.
    let _ = shutdown.wait_for(|s| *s).await;
}
