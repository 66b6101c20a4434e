//! The node lifecycle controller's shell around
//! [`node_lifecycle::decide`](crate::node_lifecycle::decide).
//!
//! Watches nodes (`nodes/`), their status (`nodes-status/`) and heartbeat
//! keys (`nodes-heartbeat/`, each attached to its agent's lease). Owns
//! `nodes-status/` (state, description, last transition, events) and writes
//! `client_status: unknown` or `lost` into `allocations-status/` (CAS, or
//! create when the agent never reported) for the allocations of a node it
//! declared gone, as [`silent_allocs`] decides from each group's
//! `disconnect.lost_after`. A node some of whose allocations wait, unknown,
//! is `disconnected`; it turns `down` when the last of them runs out (or
//! `ready` when it heartbeats again, its agent then reporting them as they
//! are).
//!
//! Decisions are fleet-wide (rate limit, partition guard), so the queue has
//! one key, [`Fleet`]. [`HeartbeatTracker`] remembers, in memory, when each
//! node was last known alive: a heartbeat key that appears, or is present
//! at a pass, means "alive now"; a deleted one means the lease expired, so
//! the agent last renewed about one TTL earlier and may have been alive one
//! renewal interval after that ([`drover_store::lease::renew_interval`]):
//! the grace counts from there. Lease renewals make no watch events, so
//! nothing finer is observable. `leader_since` is when the
//! tracker was created (with the controller, when this server started
//! leading): every node gets a fresh grace after a leader change.
//!
//! Invariants: every write is fenced and guarded by the revision it read;
//! a node whose heartbeat key exists is never marked down; the allocations
//! of every node that is gone (and not alive again) are settled on each
//! pass until none is left, so a failed write is repaired by the next pass.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use drover_api_types::alloc::ClientStatus;
use drover_api_types::node::{NodeState, NodeStatus};
use drover_api_types::Node;
use drover_store::{Atomic, Keys, Versioned};

use crate::cluster::ObjectKey;
use crate::cluster::{Change, Hooks};
use crate::context::Context;
use crate::drain::controller::push_event;
use crate::error::ReconcileError;
use crate::manager::Descriptor;
use crate::node_lifecycle::{
    decide, silent_allocs, LifecycleConfig, NodeObservation, SilentAlloc, SilentPlan,
};
use crate::runtime::{Action, Controller, Reconcile, WorkQueue};

/// The controller's name (work queue, metrics, logs).
pub const NAME: &str = "node-lifecycle";

/// How the manager runs the node lifecycle controller: one key (the
/// fleet), one worker, and a heartbeat tracker made when the term starts,
/// so every node gets a fresh grace from a new leader.
pub static DESCRIPTOR: Descriptor = Descriptor {
    name: NAME,
    wire: |wiring| {
        let queue = wiring.queue::<Fleet>(NAME);
        let keys = wiring.store.keys().clone();
        let tracker = register_hooks(keys, &wiring.options.lifecycle, &queue, wiring.hooks);
        Box::new(move |ctx: Context, stop| {
            queue.add(Fleet);
            let resync = ctx.options.resync;
            let reconciler = Arc::new(LifecycleController::new(ctx, tracker));
            let controller =
                Controller::new(reconciler, queue, 1).with_resync(resync, Arc::new(resync_keys));
            Box::pin(controller.run(stop))
        })
    },
};

/// What a lost allocation's status says.
pub const LOST_DESCRIPTION: &str = crate::node_lifecycle::LOST_HEARTBEAT;

/// What an unknown allocation's status says.
pub const UNKNOWN_DESCRIPTION: &str =
    "node disconnected: heartbeat missed; waiting for it (disconnect.lost_after)";

/// How long a pass waits for the view to catch up with its own writes.
const CATCH_UP: Duration = Duration::from_secs(2);

/// A silent node: its allocations and what becomes of them.
struct Silent {
    node: String,
    allocs: Vec<drover_api_types::Allocation>,
    plan: SilentPlan,
}

/// The one work-queue key: the whole fleet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fleet;

#[derive(Debug, Clone, Copy)]
enum Seen {
    /// The heartbeat key was present at this time.
    Alive(DateTime<Utc>),
    /// The heartbeat key is gone; the agent was last alive about then.
    Gone(DateTime<Utc>),
}

/// When each node was last known alive, fed by heartbeat hooks and passes.
pub struct HeartbeatTracker {
    keys: Keys,
    ttl: Duration,
    since: DateTime<Utc>,
    seen: Mutex<HashMap<String, Seen>>,
}

fn sub(t: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(d)
        .ok()
        .and_then(|d| t.checked_sub_signed(d))
        .unwrap_or(t)
}

/// The latest its agent may have been alive, for a heartbeat lease of `ttl`
/// that expired at `expired`: its last renewal reached etcd one TTL before,
/// and the next one — due one renewal interval later — is the first that
/// failed. Measuring the grace from there, not from the last renewal, means
/// any cut shorter than ttl + grace leaves the node up, whenever in the
/// renewal cycle it began.
fn last_alive(expired: DateTime<Utc>, ttl: Duration) -> DateTime<Utc> {
    sub(
        expired,
        ttl.saturating_sub(drover_store::lease::renew_interval(ttl)),
    )
}

impl HeartbeatTracker {
    /// A tracker whose leadership starts now.
    pub fn new(keys: Keys, config: &LifecycleConfig) -> Arc<Self> {
        Self::with_since(keys, config, Utc::now())
    }

    /// A tracker whose leadership started at `since`.
    pub fn with_since(keys: Keys, config: &LifecycleConfig, since: DateTime<Utc>) -> Arc<Self> {
        Arc::new(HeartbeatTracker {
            keys,
            ttl: config.heartbeat_ttl,
            since,
            seen: Mutex::new(HashMap::new()),
        })
    }

    /// When this leader started: every node's grace starts no earlier.
    pub fn leader_since(&self) -> DateTime<Utc> {
        self.since
    }

    fn seen(&self) -> std::sync::MutexGuard<'_, HashMap<String, Seen>> {
        self.seen.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn node_id(&self, key: &str) -> Option<String> {
        Some(self.keys.parse(key)?.segments.first()?.to_string())
    }

    fn applied(&self, key: &str, now: DateTime<Utc>) {
        if let Some(id) = self.node_id(key) {
            self.seen().insert(id, Seen::Alive(now));
        }
    }

    fn deleted(&self, key: &str, ttl_seconds: Option<u64>, now: DateTime<Utc>) {
        if let Some(id) = self.node_id(key) {
            let ttl = ttl_seconds
                .filter(|s| *s > 0)
                .map_or(self.ttl, Duration::from_secs);
            self.seen().insert(id, Seen::Gone(last_alive(now, ttl)));
        }
    }

    /// Records what a pass observed and returns the node's `last_seen`. A
    /// node seen alive whose key vanished without a delete event (a re-list)
    /// is taken as gone since now − ttl, but not before it was seen.
    pub fn observe(&self, node_id: &str, alive: bool, now: DateTime<Utc>) -> DateTime<Utc> {
        let mut seen = self.seen();
        let entry = seen.get(node_id).copied();
        let last_seen = match (alive, entry) {
            (true, _) => {
                seen.insert(node_id.to_string(), Seen::Alive(now));
                now
            }
            (false, Some(Seen::Gone(t))) => t,
            (false, Some(Seen::Alive(t))) => {
                let gone = last_alive(now, self.ttl).max(t);
                seen.insert(node_id.to_string(), Seen::Gone(gone));
                gone
            }
            (false, None) => self.since,
        };
        last_seen.max(self.since)
    }
}

/// Registers the hooks that queue [`Fleet`] and feed the tracker (created
/// now: this is when the controller's leadership starts). Keep the returned
/// tracker for [`LifecycleController::new`].
pub fn register_hooks(
    keys: Keys,
    config: &LifecycleConfig,
    queue: &WorkQueue<Fleet>,
    hooks: &mut Hooks,
) -> Arc<HeartbeatTracker> {
    let tracker = HeartbeatTracker::new(keys, config);
    let (t, q) = (Arc::clone(&tracker), queue.clone());
    hooks.heartbeats.push(Arc::new(move |change| {
        let now = Utc::now();
        match change {
            Change::Applied { key, .. } => t.applied(key, now),
            Change::Deleted { key, old } => t.deleted(key, old.map(|h| h.value.ttl_seconds), now),
            Change::Listed => {}
        }
        q.add(Fleet);
    }));
    let q = queue.clone();
    hooks.nodes.push(Arc::new(move |_| q.add(Fleet)));
    let q = queue.clone();
    hooks.node_status.push(Arc::new(move |_| q.add(Fleet)));
    tracker
}

/// The keys of a resync: the fleet.
pub fn resync_keys() -> Vec<Fleet> {
    vec![Fleet]
}

/// The node lifecycle reconciler.
pub struct LifecycleController {
    ctx: Context,
    tracker: Arc<HeartbeatTracker>,
}

impl LifecycleController {
    pub fn new(ctx: Context, tracker: Arc<HeartbeatTracker>) -> Self {
        LifecycleController { ctx, tracker }
    }

    fn status_of(&self, id: &str) -> Versioned<NodeStatus> {
        let key = self.ctx.view.keys.node_status(id);
        self.ctx
            .view
            .node_status
            .get(&key)
            .unwrap_or_else(|| Versioned::new(NodeStatus::default()))
    }

    /// Commits fenced `units` (all under `cache`'s prefix) and waits for
    /// `cache` to hold the result.
    async fn commit_units<T>(
        &self,
        units: Vec<Atomic>,
        what: &'static str,
        cache: &drover_store::Cache<T>,
    ) -> Result<(), ReconcileError> {
        if units.is_empty() {
            return Ok(());
        }
        let mut batch = self.ctx.store.batch();
        for unit in units {
            batch.push(self.ctx.fence.guard(unit)?);
        }
        let outcome = batch.commit(&self.ctx.store).await?;
        let _ = tokio::time::timeout(CATCH_UP, cache.wait_revision(outcome.revision)).await;
        if !outcome.failed.is_empty() {
            return Err(ReconcileError::conflict(
                format!("node lifecycle: {what}"),
                outcome.failed.len(),
            ));
        }
        Ok(())
    }

    async fn set_states(
        &self,
        changes: &[(String, NodeState)],
        now: DateTime<Utc>,
    ) -> Result<(), ReconcileError> {
        let mut units = Vec::new();
        for (id, state) in changes {
            let mut status = self.status_of(id);
            let (description, message) = match (state, status.revision) {
                (NodeState::Down, _) => ("heartbeat missed", "Node heartbeat missed"),
                (NodeState::Disconnected, _) => (
                    "heartbeat missed; allocations wait for it (disconnect.lost_after)",
                    "Node heartbeat missed: disconnected",
                ),
                (_, 0) => ("", "Node registered"),
                _ => ("", "Node heartbeat received"),
            };
            status.value.state = *state;
            status.value.description = description.into();
            status.value.last_transition = Some(now);
            push_event(&mut status.value, "Cluster", message);
            let key = self.ctx.view.keys.node_status(id);
            units.push(Atomic::new().put_value(&key, &status)?);
            match state {
                NodeState::Down => {
                    tracing::info!(controller = NAME, node = %id, "node marked down: heartbeat missed")
                }
                NodeState::Disconnected => {
                    tracing::info!(controller = NAME, node = %id, "node marked disconnected: heartbeat missed; its allocations wait for it")
                }
                _ => tracing::info!(controller = NAME, node = %id, "node marked ready"),
            }
        }
        self.commit_units(units, "node status", &self.ctx.view.node_status)
            .await
    }

    /// The decision for the allocations of `node`, silent since `since`,
    /// with the allocations it was made from (to write it without reading
    /// them again).
    fn silent_plan(&self, node: &str, since: DateTime<Utc>, now: DateTime<Utc>) -> Silent {
        let view = &self.ctx.view;
        let allocs = view.node_allocs(node);
        let mut jobs: HashMap<ObjectKey, Option<drover_api_types::Job>> = HashMap::new();
        let input: Vec<SilentAlloc<'_>> = allocs
            .iter()
            .map(|alloc| {
                let job = jobs
                    .entry(ObjectKey::job_of(alloc))
                    .or_insert_with_key(|key| view.job(key));
                let lost_after = job.as_ref().and_then(|j| {
                    j.spec
                        .groups
                        .iter()
                        .find(|g| g.name == alloc.spec.task_group)
                        .and_then(|g| g.lost_after())
                });
                SilentAlloc { alloc, lost_after }
            })
            .collect();
        let plan = silent_allocs(node, since, &input, now);
        Silent {
            node: node.to_string(),
            allocs,
            plan,
        }
    }

    /// Writes what `plans` decided for the allocations of silent nodes.
    async fn settle_allocs(
        &self,
        silent: &[Silent],
        now: DateTime<Utc>,
    ) -> Result<(), ReconcileError> {
        let view = &self.ctx.view;
        let mut units = Vec::new();
        for Silent { node, allocs, plan } in silent {
            let by_id: HashMap<&str, &drover_api_types::Allocation> = allocs
                .iter()
                .map(|a| (a.metadata.uid.as_str(), a))
                .collect();
            let unknown = plan
                .unknown
                .iter()
                .map(|id| (id, ClientStatus::Unknown, UNKNOWN_DESCRIPTION));
            let lost = plan
                .lost
                .iter()
                .map(|(id, why)| (id, ClientStatus::Lost, why.as_str()));
            for (id, client_status, why) in unknown.chain(lost) {
                let Some(alloc) = by_id.get(id.as_str()) else {
                    continue;
                };
                let key = view.keys.alloc_status(
                    Some(node),
                    &alloc.metadata.namespace,
                    &alloc.metadata.uid,
                );
                let mut status = view
                    .alloc_status
                    .get(&key)
                    .unwrap_or_else(|| Versioned::new(Default::default()));
                status.value.client_status = client_status;
                status.value.client_description = why.into();
                status.value.updated_at = Some(now);
                units.push(Atomic::new().put_value(&key, &status)?);
            }
            if !plan.lost.is_empty() {
                tracing::info!(controller = NAME, node = %node, allocs = plan.lost.len(), "allocations of a gone node marked lost");
            }
            if !plan.unknown.is_empty() {
                tracing::info!(controller = NAME, node = %node, allocs = plan.unknown.len(), "allocations of a disconnected node marked unknown");
            }
        }
        self.commit_units(units, "allocation status", &view.alloc_status)
            .await
    }

    fn observe(&self, nodes: &[Node], now: DateTime<Utc>) -> Vec<NodeObservation> {
        nodes
            .iter()
            .map(|n| {
                let id = &n.metadata.uid;
                let alive = self.ctx.view.heartbeat_alive(id);
                NodeObservation {
                    node_id: id.clone(),
                    state: n.status.state,
                    last_transition: n.status.last_transition,
                    alive,
                    last_seen: self.tracker.observe(id, alive, now),
                }
            })
            .collect()
    }
}

impl Reconcile for LifecycleController {
    type Key = Fleet;
    type Error = ReconcileError;

    async fn reconcile(&self, _: &Fleet) -> Result<Action, ReconcileError> {
        let now = Utc::now();
        let nodes = self.ctx.view.all_nodes();
        let observed = self.observe(&nodes, now);
        let config = &self.ctx.options.lifecycle;
        let plan = decide(&observed, now, config, self.tracker.leader_since());
        if plan.suspected_partition {
            tracing::warn!(
                controller = NAME,
                silent = plan.deferred_down.len(),
                fleet = nodes.len(),
                "suspected partition: too many nodes silent at once; marking none down"
            );
        } else if !plan.deferred_down.is_empty() {
            tracing::info!(controller = NAME, deferred = ?plan.deferred_down, "mark-down rate limit reached; deferring");
        }
        let ready: Vec<(String, NodeState)> = plan
            .mark_ready
            .iter()
            .map(|id| (id.clone(), NodeState::Ready))
            .collect();
        self.set_states(&ready, now).await?;
        // A node just declared gone is disconnected while some allocation
        // waits for it, down otherwise; one already disconnected turns down
        // when the last of them runs out.
        let mut settle: Vec<Silent> = Vec::new();
        let mut transitions: Vec<(String, NodeState)> = Vec::new();
        for id in &plan.mark_down {
            let silent = self.silent_plan(id, now, now);
            let state = if silent.plan.waits() {
                NodeState::Disconnected
            } else {
                NodeState::Down
            };
            transitions.push((id.clone(), state));
            settle.push(silent);
        }
        for o in observed.iter().filter(|o| o.state.is_gone() && !o.alive) {
            let since = o.last_transition.unwrap_or(now);
            let silent = self.silent_plan(&o.node_id, since, now);
            if o.state == NodeState::Disconnected && !silent.plan.waits() {
                transitions.push((o.node_id.clone(), NodeState::Down));
            }
            settle.push(silent);
        }
        let next_check = settle
            .iter()
            .filter_map(|s| s.plan.next_check)
            .chain(plan.next_check)
            .min();
        self.set_states(&transitions, now).await?;
        self.settle_allocs(&settle, now).await?;
        Ok(match next_check {
            Some(t) => Action::RequeueAfter((t - Utc::now()).to_std().unwrap_or_default()),
            None => Action::AwaitChange,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(secs: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000 + secs, 0)
            .single()
            .unwrap_or_default()
    }

    /// A lease of 6 s renewed every 2 s expired at t = 100: it was last
    /// renewed at 94 and its agent may have lived until 96, when the next
    /// renewal failed; the node's grace starts there.
    #[test]
    fn an_expired_lease_was_alive_one_renewal_after_its_last_renewal() {
        let config = LifecycleConfig {
            heartbeat_ttl: Duration::from_secs(6),
            ..LifecycleConfig::default()
        };
        let tracker = HeartbeatTracker::with_since(Keys::new("/d"), &config, at(0));
        let key = Keys::new("/d").node_heartbeat("n1");
        tracker.deleted(&key, Some(6), at(100));
        assert_eq!(tracker.observe("n1", false, at(101)), at(96));
        // A key gone without a delete event (a re-list) is taken the same way.
        tracker.observe("n2", true, at(50));
        assert_eq!(tracker.observe("n2", false, at(100)), at(96));
        // Seen alive again: alive now.
        assert_eq!(tracker.observe("n1", true, at(102)), at(102));
    }
}
