//! Leader election with a lease and a create-if-absent transaction.
//!
//! Each candidate holds a [`Lease`] and tries to create `leaders/<name>`
//! attached to it. Whoever creates it leads until the key goes away: its
//! lease expires (the leader died or was cut off), it is revoked
//! ([`Election::resign`] or drop), or someone deletes it. The others watch the
//! key and try again as soon as it is deleted, so a handover takes one watch
//! round trip after a resign and at most the TTL after a crash.
//!
//! Safety rests on the lease: a leader stops believing it leads when its own
//! lease is lost by its local deadline, which is never later than etcd's
//! expiry, so two candidates never both see `true` (clock rates permitting).
//! This uses plain KV so it works with any etcd auth setup; etcd's v3election
//! service would do the same with one more moving part.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use etcd_client::{Compare, CompareOp, PutOptions, Txn, TxnOp, WatchOptions};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use crate::error::Result;
use crate::lease::Lease;
use crate::store::{first_get_kv, Guard, Store};

const RETRY: Duration = Duration::from_millis(500);

/// A running candidacy. Drop (or [`resign`](Self::resign)) to step down.
pub struct Election {
    key: String,
    leader: watch::Receiver<bool>,
    resign: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
    lease_id: Arc<AtomicI64>,
    fence: Arc<AtomicI64>,
    store: Store,
}

impl Election {
    /// While leading, a guard that holds only as long as this candidate still
    /// owns the election key: the key's `mod_revision` from when it was
    /// taken. Add it to every write a leader makes, so a deposed leader's
    /// late transaction fails instead of racing its successor.
    pub fn fence(&self) -> Option<(String, Guard)> {
        if !self.is_leader() {
            return None;
        }
        match self.fence.load(Ordering::SeqCst) {
            0 => None,
            rev => Some((self.key.clone(), Guard::Revision(rev))),
        }
    }

    /// Whether this candidate leads right now.
    pub fn is_leader(&self) -> bool {
        *self.leader.borrow()
    }

    /// A receiver of the "am I leader" flag.
    pub fn subscribe(&self) -> watch::Receiver<bool> {
        self.leader.clone()
    }

    /// The election key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Steps down (if leading) and stops campaigning; the lease is revoked so
    /// another candidate can take over at once.
    pub async fn resign(mut self) -> Result<()> {
        if let Some(tx) = self.resign.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            // The task revokes its lease on the way out.
            let _ = task.await;
        }
        Ok(())
    }
}

impl Drop for Election {
    fn drop(&mut self) {
        let Some(task) = self.task.take() else { return };
        task.abort();
        let id = self.lease_id.load(Ordering::SeqCst);
        // Best effort: revoking hands over now instead of after the TTL.
        if id != 0 {
            if let Ok(handle) = tokio::runtime::Handle::try_current() {
                let store = self.store.clone();
                handle.spawn(async move { store.revoke_lease(id).await });
            }
        }
    }
}

impl Store {
    /// Starts campaigning for `leaders/<name>` as `candidate` (stored as the
    /// key's value, e.g. a hostname) with a lease of `ttl`.
    pub fn campaign(&self, name: &str, candidate: impl Into<String>, ttl: Duration) -> Election {
        let key = self.keys().leader(name);
        let (tx, rx) = watch::channel(false);
        let (resign_tx, resign_rx) = oneshot::channel();
        let lease_id = Arc::new(AtomicI64::new(0));
        let fence = Arc::new(AtomicI64::new(0));
        let candidacy = Candidacy {
            store: self.clone(),
            key: key.clone(),
            candidate: candidate.into(),
            ttl,
            leader: tx,
            lease_id: lease_id.clone(),
            fence: fence.clone(),
        };
        let task = tokio::spawn(candidacy.run(resign_rx));
        Election {
            key,
            leader: rx,
            resign: Some(resign_tx),
            task: Some(task),
            lease_id,
            fence,
            store: self.clone(),
        }
    }

    /// The current leader's candidate string, if any.
    pub async fn leader(&self, name: &str) -> Result<Option<String>> {
        let kv = self.get_raw(&self.keys().leader(name)).await?;
        Ok(kv.map(|kv| String::from_utf8_lossy(&kv.value).into_owned()))
    }
}

struct Candidacy {
    store: Store,
    key: String,
    candidate: String,
    ttl: Duration,
    leader: watch::Sender<bool>,
    lease_id: Arc<AtomicI64>,
    fence: Arc<AtomicI64>,
}

impl Candidacy {
    async fn run(self, mut resign: oneshot::Receiver<()>) {
        loop {
            let lease = match self.store.lease(self.ttl).await {
                Ok(lease) => lease,
                Err(e) => {
                    tracing::warn!(key = %self.key, error = %e, "election: cannot grant lease");
                    tokio::select! {
                        _ = tokio::time::sleep(RETRY) => continue,
                        _ = &mut resign => return,
                    }
                }
            };
            self.lease_id.store(lease.id(), Ordering::SeqCst);
            tokio::select! {
                _ = self.hold_or_wait(&lease) => {
                    // Only returns once the lease is lost: start over.
                    self.fence.store(0, Ordering::SeqCst);
                    self.leader.send_replace(false);
                }
                _ = &mut resign => {
                    self.fence.store(0, Ordering::SeqCst);
                    self.leader.send_replace(false);
                    if let Err(e) = lease.revoke().await {
                        tracing::warn!(key = %self.key, error = %e, "election: revoke on resign failed");
                    }
                    return;
                }
            }
        }
    }

    /// Leads or waits to lead for as long as `lease` lives.
    async fn hold_or_wait(&self, lease: &Lease) {
        loop {
            tokio::select! {
                _ = lease.lost() => return,
                _ = self.attempt(lease.id()) => {}
            }
        }
    }

    /// One round: try to take the key, then wait until it changes.
    async fn attempt(&self, lease_id: i64) {
        let txn = Txn::new()
            .when([Compare::create_revision(
                self.key.as_str(),
                CompareOp::Equal,
                0,
            )])
            .and_then([TxnOp::put(
                self.key.as_str(),
                self.candidate.as_str(),
                Some(PutOptions::new().with_lease(lease_id)),
            )])
            .or_else([TxnOp::get(self.key.as_str(), None)]);
        let resp = match self.store.txn(&self.key, txn).await {
            Ok(resp) => resp,
            Err(e) => {
                tracing::warn!(key = %self.key, error = %e, "election: txn failed");
                tokio::time::sleep(RETRY).await;
                return;
            }
        };
        let header_rev = resp.header().map_or(0, |h| h.revision());
        let holder = if resp.succeeded() {
            Some((lease_id, header_rev))
        } else {
            first_get_kv(&resp)
                .ok()
                .flatten()
                .map(|kv| (kv.lease, kv.mod_revision))
        };
        let leading = holder.is_some_and(|(lease, _)| lease == lease_id);
        let fence = holder.filter(|_| leading).map_or(0, |(_, rev)| rev);
        self.fence.store(fence, Ordering::SeqCst);
        self.leader
            .send_if_modified(|l| std::mem::replace(l, leading) != leading);
        if let Err(e) = self.wait_for_change(header_rev + 1).await {
            tracing::warn!(key = %self.key, error = %e, "election: watch failed");
            tokio::time::sleep(RETRY).await;
        }
    }

    /// Returns once the key is written or deleted at or after `from`.
    async fn wait_for_change(&self, from: i64) -> Result<()> {
        let (endpoint, client) = self.store.stream_client("watch", &self.key).await?;
        let mut client = client.watch_client();
        let opts = WatchOptions::new().with_start_revision(from);
        let watch = client.watch(self.key.as_str(), Some(opts));
        let mut stream = match self.store.timed("watch", &self.key, watch).await {
            Ok(stream) => stream,
            Err(e) => {
                self.store.report_error(endpoint, &e);
                return Err(e);
            }
        };
        loop {
            match stream.message().await {
                // A cancel (e.g. compaction) also means "look again".
                Ok(Some(resp)) if resp.canceled() || !resp.events().is_empty() => return Ok(()),
                Ok(Some(_)) => continue,
                Ok(None) => return Ok(()),
                Err(e) => {
                    // The next round watches elsewhere if this endpoint is gone.
                    self.store.report(endpoint, &e);
                    return Err(crate::error::StoreError::etcd("watch", &self.key, e));
                }
            }
        }
    }
}
