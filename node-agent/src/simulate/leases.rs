//! Heartbeat leases of the simulated nodes.
//!
//! etcd's `LeaseKeepAlive` is a bidirectional stream that could carry
//! renewals for many lease ids, but etcd-client binds each stream to one id
//! (its `LeaseKeeper` sends only that id, and the raw gRPC client is not
//! exposed). So each node keeps one stream open (all multiplexed on the
//! store's one HTTP/2 connection), but no task of its own: every TTL/3 one
//! task runs a round that renews every live node's lease on its stream, at
//! most `keepalive_concurrency` at a time (opening a stream renews too;
//! a stream that fails is dropped and reopened next round). A lease found
//! expired (the process stalled past the TTL, etcd was unreachable) is
//! granted again and the heartbeat key put on it, as a real agent would
//! re-register.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use drover_api_types::node::Heartbeat;
use drover_store::{Atomic, Store, Stored, Versioned};
use etcd_client::{LeaseKeepAliveStream, LeaseKeeper};
use futures::{stream, StreamExt};
use tokio::sync::watch;
use tokio::time::Instant;

use super::{lock, Shared, SimulateError, SimulatorConfig};

/// Grants a lease and puts `nodes-heartbeat/<id>` on it.
pub(super) async fn register_heartbeat(
    store: &Store,
    config: &SimulatorConfig,
    node_id: &str,
) -> Result<i64, SimulateError> {
    let lease = store.grant_lease(config.heartbeat_ttl).await?;
    let value = Versioned::new(Heartbeat {
        ttl_seconds: config.heartbeat_ttl.as_secs().max(1),
    });
    let bytes = value.encode().map_err(|source| SimulateError::Encode {
        what: format!("heartbeat of {node_id}"),
        source,
    })?;
    let mut batch = store.batch();
    batch.push(Atomic::new().put_with_lease(store.keys().node_heartbeat(node_id), bytes, lease));
    batch.commit(store).await?;
    Ok(lease)
}

/// Registers the heartbeat of every node, `keepalive_concurrency` at once.
pub(super) async fn grant_all(
    store: &Store,
    config: &SimulatorConfig,
    ids: &[String],
) -> Result<Vec<(String, i64)>, SimulateError> {
    let results: Vec<Result<(String, i64), SimulateError>> = stream::iter(ids.iter().cloned())
        .map(|id| async move {
            let lease = register_heartbeat(store, config, &id).await?;
            Ok((id, lease))
        })
        .buffer_unordered(config.keepalive_concurrency.max(1))
        .collect()
        .await;
    results.into_iter().collect()
}

/// The outcome of one renewal.
enum Renewed {
    Alive,
    Expired,
}

/// An open keepalive stream of one lease.
type Keeper = (LeaseKeeper, LeaseKeepAliveStream);

/// A renewal's node, lease, stream to keep and outcome.
type Renewal = (String, i64, Option<Keeper>, Result<Renewed, String>);

/// Renews `lease` on its open stream, or opens one (which renews it).
/// Returns the stream to keep, if it is still usable.
async fn renew(
    store: &Store,
    lease: i64,
    keeper: Option<Keeper>,
    timeout: Duration,
) -> (Option<Keeper>, Result<Renewed, String>) {
    let attempt = async {
        let Some(mut k) = keeper else {
            let mut client = store.client().lease_client();
            return match client.keep_alive(lease).await {
                Ok(k) => (Some(k), Ok(Renewed::Alive)),
                Err(e) if e.to_string().contains("lease not found") => (None, Ok(Renewed::Expired)),
                Err(e) => (None, Err(e.to_string())),
            };
        };
        if let Err(e) = k.0.keep_alive().await {
            return (None, Err(e.to_string()));
        }
        match k.1.message().await {
            Ok(Some(resp)) if resp.ttl() > 0 => (Some(k), Ok(Renewed::Alive)),
            Ok(Some(_)) => (None, Ok(Renewed::Expired)),
            Ok(None) => (None, Err("keepalive stream closed".into())),
            Err(e) => (None, Err(e.to_string())),
        }
    };
    tokio::time::timeout(timeout, attempt)
        .await
        .unwrap_or_else(|_| (None, Err("keepalive timed out".into())))
}

/// Renews every live node's lease each TTL/3 until shutdown; the first
/// round starts at once (registering thousands of nodes takes a while).
pub(super) async fn keepalive_loop(shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let interval = (shared.config.heartbeat_ttl / 3).max(Duration::from_millis(100));
    let mut next = Instant::now();
    let mut keepers: HashMap<String, (i64, Keeper)> = HashMap::new();
    loop {
        tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            _ = tokio::time::sleep_until(next) => {}
        }
        let started = Instant::now();
        next = started + interval;
        round(&shared, &mut keepers, interval).await;
        let took = started.elapsed();
        let mut stats = shared.stats();
        stats.keepalive_rounds += 1;
        stats.last_round = took;
        stats.max_round = stats.max_round.max(took);
        if took > interval {
            tracing::warn!(
                ?took,
                ?interval,
                "simulator: a keepalive round took longer than its interval"
            );
        }
    }
}

/// Renews every live lease once. A renewal later than `interval` is of no
/// use (the next round is due), and the whole round stops after one TTL
/// (past that the leases are gone anyway): with etcd unreachable, rounds
/// stay short and resume promptly once it is back.
async fn round(
    shared: &Arc<Shared>,
    keepers: &mut HashMap<String, (i64, Keeper)>,
    interval: Duration,
) {
    let targets: Vec<(String, i64)> = lock(&shared.nodes)
        .iter()
        .filter(|(_, n)| !n.killed)
        .map(|(id, n)| (id.clone(), n.lease))
        .collect();
    // Streams of killed nodes or of replaced leases are closed here.
    let mut open = std::mem::take(keepers);
    let work: Vec<(String, i64, Option<Keeper>)> = targets
        .into_iter()
        .map(|(id, lease)| {
            let keeper = open
                .remove(&id)
                .filter(|(l, _)| *l == lease)
                .map(|(_, k)| k);
            (id, lease, keeper)
        })
        .collect();
    drop(open);
    let store = &shared.store;
    let timeout = interval.min(store.config().request_timeout());
    let results: Vec<Renewal> = stream::iter(work)
        .map(|(id, lease, keeper)| async move {
            let (keeper, r) = renew(store, lease, keeper, timeout).await;
            (id, lease, keeper, r)
        })
        .buffer_unordered(shared.config.keepalive_concurrency.max(1))
        .take_until(tokio::time::sleep(shared.config.heartbeat_ttl))
        .collect()
        .await;
    let (mut renewed, mut failures) = (0u64, 0u64);
    let mut expired = Vec::new();
    for (id, lease, keeper, result) in results {
        if let Some(k) = keeper {
            keepers.insert(id.clone(), (lease, k));
        }
        match result {
            Ok(Renewed::Alive) => renewed += 1,
            Ok(Renewed::Expired) => expired.push((id, lease)),
            Err(e) => {
                failures += 1;
                tracing::debug!(node = %id, error = %e, "simulator: renewal failed");
            }
        }
    }
    {
        let mut stats = shared.stats();
        stats.renewals += renewed;
        stats.renew_failures += failures;
    }
    for (id, lease) in expired {
        regrant(shared, &id, lease).await;
    }
}

/// A live node's lease expired: register again, unless it was killed or
/// revived (on another lease) meanwhile.
async fn regrant(shared: &Arc<Shared>, id: &str, old: i64) {
    let current = shared.node(id);
    if current.is_none_or(|n| n.killed || n.lease != old) {
        return;
    }
    match register_heartbeat(&shared.store, &shared.config, id).await {
        Ok(lease) => {
            if let Some(n) = lock(&shared.nodes).get_mut(id) {
                if n.lease == old && !n.killed {
                    n.lease = lease;
                }
            }
            shared.stats().leases_regranted += 1;
            tracing::warn!(node = %id, "simulator: lease had expired; registered again");
        }
        Err(e) => tracing::warn!(node = %id, error = %e, "simulator: cannot register again"),
    }
}
