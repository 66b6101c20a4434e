//! etcd compaction on the leader: every interval, compact etcd's history to
//! the revision observed one interval earlier (kube-apiserver's approach).
//! A watcher therefore always has at least one interval of history to
//! resume from; one that falls further behind gets "compacted" and
//! re-lists (see `drover_store::watch`). Not physical: etcd frees the space
//! in the background, and a defragmentation returns it to the filesystem.
//!
//! Owns nothing in the keyspace. Invariant: the revision compacted to was
//! current at least one interval ago, and only ever grows.

use std::time::Duration;

use drover_store::{Store, StoreError};
use tokio::sync::watch;

use super::metrics::GcMetrics;

/// Compacts every `interval` until `stop`; a zero interval disables it.
pub async fn run(
    store: Store,
    interval: Duration,
    metrics: GcMetrics,
    mut stop: watch::Receiver<bool>,
) {
    if interval.is_zero() {
        return;
    }
    let mut previous = observe(&store).await;
    loop {
        tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            _ = tokio::time::sleep(interval) => {}
        }
        if let Some(revision) = previous {
            compact(&store, revision, &metrics).await;
        }
        previous = observe(&store).await.or(previous);
    }
}

async fn observe(store: &Store) -> Option<i64> {
    match store.current_revision().await {
        Ok(revision) => Some(revision),
        Err(e) => {
            tracing::warn!(error = %e, "compaction: reading etcd's revision failed");
            None
        }
    }
}

async fn compact(store: &Store, revision: i64, metrics: &GcMetrics) {
    if revision <= metrics.compacted_revision.get() {
        return;
    }
    match store.compact(revision).await {
        Ok(()) => {
            metrics.compacted_revision.set(revision);
            tracing::info!(revision, "etcd history compacted");
        }
        Err(e) if already_compacted(&e) => {
            // Another server or etcd's own auto-compaction went further.
            tracing::debug!(revision, error = %e, "etcd already compacted past this revision");
        }
        Err(e) => tracing::warn!(revision, error = %e, "etcd compaction failed"),
    }
}

fn already_compacted(e: &StoreError) -> bool {
    e.to_string().contains("compacted")
}
