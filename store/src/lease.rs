//! Leases and keepalive.
//!
//! [`Lease`] owns a background task that renews the lease every third of its
//! TTL, reconnecting as needed. It declares the lease *lost* when etcd says
//! so (TTL 0) or when no renewal succeeded before the local deadline — the
//! deadline is measured from when each renewal was *sent*, so the holder gives
//! up no later than etcd expires it. Whoever relies on the lease (an elected
//! leader, an agent heartbeat) watches [`Lease::state`]. Dropping a `Lease`
//! stops renewing; the lease then expires after its TTL. [`Lease::revoke`]
//! ends it at once.

use std::time::Duration;

use etcd_client::{LeaseKeepAliveStream, LeaseKeeper, LeaseTimeToLiveOptions};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::endpoints::Retry;
use crate::error::{Result, StoreError};
use crate::store::Store;

/// Whether a lease is still held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseState {
    Alive,
    /// Expired, revoked, or not renewed in time. Final.
    Lost,
}

/// A lease kept alive in the background until dropped or revoked.
pub struct Lease {
    id: i64,
    ttl: Duration,
    state: watch::Receiver<LeaseState>,
    task: JoinHandle<()>,
    store: Store,
}

impl Lease {
    pub fn id(&self) -> i64 {
        self.id
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    pub fn is_alive(&self) -> bool {
        *self.state.borrow() == LeaseState::Alive
    }

    /// A receiver that changes to [`LeaseState::Lost`] once, if ever.
    pub fn state(&self) -> watch::Receiver<LeaseState> {
        self.state.clone()
    }

    /// Completes when the lease is lost.
    pub async fn lost(&self) {
        let mut rx = self.state.clone();
        // If the task is gone the sender is dropped: treat as lost.
        let _ = rx.wait_for(|s| *s == LeaseState::Lost).await;
    }

    /// Stops renewing and revokes the lease: keys attached to it are deleted
    /// now rather than after the TTL.
    pub async fn revoke(self) -> Result<()> {
        self.task.abort();
        self.store.revoke_lease(self.id).await
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Store {
    /// Grants a lease of `ttl` (whole seconds, at least 1) and keeps it alive.
    pub async fn lease(&self, ttl: Duration) -> Result<Lease> {
        let id = self.grant_lease(ttl).await?;
        Ok(self.keep_alive(id, ttl))
    }

    /// Grants a lease without keeping it alive; returns its id.
    pub async fn grant_lease(&self, ttl: Duration) -> Result<i64> {
        let secs = ttl_secs(ttl);
        let resp = self
            .request(
                "lease grant",
                &format!("ttl={secs}s"),
                Retry::IfNotSent,
                |client| async move { client.lease_client().grant(secs, None).await },
            )
            .await?;
        Ok(resp.id())
    }

    /// Keeps an existing lease alive in the background.
    pub fn keep_alive(&self, id: i64, ttl: Duration) -> Lease {
        let (tx, rx) = watch::channel(LeaseState::Alive);
        let task = tokio::spawn(keep_alive_loop(self.clone(), id, ttl, tx));
        Lease {
            id,
            ttl,
            state: rx,
            task,
            store: self.clone(),
        }
    }

    /// Revokes a lease; revoking an unknown (expired) lease is not an error,
    /// so a revoke may be sent again to another endpoint.
    pub async fn revoke_lease(&self, id: i64) -> Result<()> {
        match self
            .request(
                "lease revoke",
                &format!("{id:x}"),
                Retry::Idempotent,
                |client| async move { client.lease_client().revoke(id).await },
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(StoreError::Etcd { source, .. }) if is_lease_not_found(&source) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Remaining TTL of a lease, `None` if it has expired or was revoked.
    pub async fn lease_time_to_live(&self, id: i64) -> Result<Option<Duration>> {
        let resp = self
            .request(
                "lease ttl",
                &format!("{id:x}"),
                Retry::Idempotent,
                |client| async move {
                    let opts = LeaseTimeToLiveOptions::new();
                    client.lease_client().time_to_live(id, Some(opts)).await
                },
            )
            .await?;
        Ok(u64::try_from(resp.ttl()).ok().map(Duration::from_secs))
    }
}

fn ttl_secs(ttl: Duration) -> i64 {
    i64::try_from(ttl.as_secs().max(1)).unwrap_or(i64::MAX)
}

fn is_lease_not_found(e: &etcd_client::Error) -> bool {
    e.to_string().contains("requested lease not found")
}

/// How often a lease of `ttl` is renewed. The node lifecycle controller
/// counts on it: a lease that expired was last renewed one TTL earlier, and
/// its holder may have been alive for up to one interval after that (the
/// next renewal is what failed), so a node's grace starts no earlier.
pub fn renew_interval(ttl: Duration) -> Duration {
    (ttl / 3).max(Duration::from_millis(100))
}

/// Renews until lost; sets `state` to `Lost` exactly once and returns.
async fn keep_alive_loop(store: Store, id: i64, ttl: Duration, state: watch::Sender<LeaseState>) {
    let interval = renew_interval(ttl);
    // Granted just before this task started: the first deadline is the TTL.
    let mut deadline = Instant::now() + ttl;
    loop {
        // After a failure this is another endpoint if the one used could
        // not be reached: the failure was reported.
        // Opening a stream on an unreachable endpoint can outlast the
        // lease; the lease is lost at its deadline all the same, not when
        // the attempt gives up (the agent's stop_on_client_after and
        // re-registration count from then).
        let Ok(opened) = tokio::time::timeout_at(deadline, open(&store, id)).await else {
            break;
        };
        match opened {
            Ok((endpoint, mut keeper, mut stream)) => {
                match renew_until_error(&mut keeper, &mut stream, interval, &mut deadline).await {
                    Renewal::Expired => break,
                    Renewal::Broken(reason, error) => {
                        match error {
                            Some(e) => store.report(endpoint, &e),
                            None => store.report_unreachable(endpoint),
                        }
                        tracing::warn!(lease = %format!("{id:x}"), %reason, "keepalive stream broke");
                    }
                }
            }
            Err(e) => {
                tracing::warn!(lease = %format!("{id:x}"), error = %e, "keepalive: cannot open stream")
            }
        }
        if Instant::now() >= deadline {
            break;
        }
        let pause = Duration::from_millis(200).min(deadline - Instant::now());
        tokio::time::sleep(pause).await;
        if Instant::now() >= deadline {
            break;
        }
    }
    tracing::info!(lease = %format!("{id:x}"), "lease lost");
    state.send_replace(LeaseState::Lost);
}

/// Opens a keepalive stream on the first endpoint that connects; returns
/// the endpoint's index with it.
async fn open(store: &Store, id: i64) -> Result<(usize, LeaseKeeper, LeaseKeepAliveStream)> {
    let label = format!("{id:x}");
    let (endpoint, client) = store.stream_client("lease keepalive", &label).await?;
    let mut client = client.lease_client();
    match store
        .timed("lease keepalive", &label, client.keep_alive(id))
        .await
    {
        Ok((keeper, stream)) => Ok((endpoint, keeper, stream)),
        Err(e) => {
            store.report_error(endpoint, &e);
            Err(e)
        }
    }
}

enum Renewal {
    Expired,
    /// Why, and the etcd error if there was one (none: no answer in time).
    Broken(String, Option<etcd_client::Error>),
}

async fn renew_until_error(
    keeper: &mut LeaseKeeper,
    stream: &mut LeaseKeepAliveStream,
    interval: Duration,
    deadline: &mut Instant,
) -> Renewal {
    loop {
        let sent_at = Instant::now();
        if let Err(e) = keeper.keep_alive().await {
            return Renewal::Broken(e.to_string(), Some(e));
        }
        let wait_until = (*deadline).min(sent_at + interval.max(Duration::from_millis(500)));
        match tokio::time::timeout_at(wait_until, stream.message()).await {
            Ok(Ok(Some(resp))) if resp.ttl() <= 0 => return Renewal::Expired,
            Ok(Ok(Some(resp))) => {
                let granted = Duration::from_secs(u64::try_from(resp.ttl()).unwrap_or(0));
                *deadline = sent_at + granted;
            }
            Ok(Ok(None)) => return Renewal::Broken("stream closed".into(), None),
            Ok(Err(e)) => return Renewal::Broken(e.to_string(), Some(e)),
            Err(_) if Instant::now() >= *deadline => return Renewal::Expired,
            Err(_) => return Renewal::Broken("no keepalive response".into(), None),
        }
        tokio::time::sleep_until(sent_at + interval).await;
        if Instant::now() >= *deadline {
            return Renewal::Expired;
        }
    }
}
