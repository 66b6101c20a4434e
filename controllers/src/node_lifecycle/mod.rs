//! The pure core of the node lifecycle controller: from each node's
//! heartbeat lease, decide which nodes become ready and which are marked
//! down (or disconnected), and what becomes of a silent node's allocations
//! ([`silent_allocs`]: `unknown` within their group's
//! `disconnect.lost_after`, `lost` otherwise).
//!
//! Watches (through its shell) nodes and their heartbeat lease keys; owns
//! `Node.status` (state, description, last transition). No I/O, no clock:
//! `now` and `leader_since` are arguments.
//!
//! Invariants of [`decide`]:
//! - a node whose lease exists is never marked down; if it is not `ready`
//!   it is listed in `mark_ready`;
//! - a node whose lease is gone is marked down only when
//!   `now >= last_seen + ttl + grace` **and**
//!   `now >= leader_since + ttl + grace`: after a leader change every node
//!   gets a fresh grace, so a new leader never condemns nodes it has not
//!   watched for long enough ("never restart what is running by accident");
//! - rate limit: at most `max_down_per_interval` nodes are marked down in
//!   any sliding window of `down_interval`. Nodes already `down` (or
//!   `disconnected`: "down" below covers both) whose
//!   `last_transition` falls inside the window spend the budget, so the
//!   limit holds across passes without state in the core. Candidates beyond
//!   the budget go to `deferred_down`; the oldest `last_seen` is marked first;
//! - full disruption: if the silent nodes (lease gone, not yet down; due or
//!   still within their grace) are more than `partition_fraction`
//!   of the nodes not already down (and that fleet has at least
//!   `partition_min_fleet` nodes), the cause is far more likely the control
//!   plane (a partition between the leader and the agents, an etcd hiccup)
//!   than that many machines dying at once. Like Kubernetes' node lifecycle
//!   controller in full-disruption mode, nothing is marked down:
//!   `suspected_partition` is set and every candidate is in `deferred_down`;
//! - every bucket is sorted deterministically.

pub mod controller;

pub use controller::{LifecycleController, DESCRIPTOR, NAME};

#[cfg(test)]
mod tests;

use std::time::Duration;

use chrono::{DateTime, Utc};
use drover_api_types::alloc::{Allocation, ClientStatus, DesiredStatus};
use drover_api_types::node::NodeState;

/// What the shell observed of one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeObservation {
    /// The node id (`metadata.uid`).
    pub node_id: String,
    /// `status.state` as stored.
    pub state: NodeState,
    /// `status.last_transition` as stored; used by the rate limit.
    pub last_transition: Option<DateTime<Utc>>,
    /// The heartbeat lease key exists.
    pub alive: bool,
    /// When this leader last saw the lease present or refreshed. A node never
    /// seen alive by this leader has `last_seen = leader_since`.
    pub last_seen: DateTime<Utc>,
}

/// Tuning of the lifecycle controller.
#[derive(Debug, Clone, PartialEq)]
pub struct LifecycleConfig {
    /// Lease TTL the agents heartbeat against.
    pub heartbeat_ttl: Duration,
    /// Extra wait after the TTL before a node is marked down.
    pub heartbeat_grace: Duration,
    /// At most this many nodes marked down per `down_interval` (0 acts as 1).
    pub max_down_per_interval: usize,
    /// The sliding window of the rate limit.
    pub down_interval: Duration,
    /// More than this fraction of the not-down fleet going down at once is a
    /// suspected partition.
    pub partition_fraction: f64,
    /// The partition check applies only to fleets at least this large.
    pub partition_min_fleet: usize,
}

impl Default for LifecycleConfig {
    fn default() -> Self {
        LifecycleConfig {
            heartbeat_ttl: Duration::from_secs(10),
            heartbeat_grace: Duration::from_secs(10),
            max_down_per_interval: 10,
            down_interval: Duration::from_secs(60),
            partition_fraction: 0.5,
            partition_min_fleet: 10,
        }
    }
}

/// What to do with the nodes.
///
/// - `mark_ready`: node ids whose lease exists and whose state is not ready;
/// - `mark_down`: node ids that stopped heartbeating, to set `down` — or
///   `disconnected` while some of their allocations wait for them, unknown
///   (the shell decides that and their allocations with [`silent_allocs`]);
/// - `deferred_down`: node ids past their deadline but held back by the rate
///   limit or by a suspected partition, oldest `last_seen` first;
/// - `suspected_partition`: too many nodes at once, none marked down;
/// - `next_check`: the earliest time a decision could change without a watch
///   event (a deadline, or the rate-limit window freeing budget); the shell
///   requeues after it. `None`: wait for a watch event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LifecyclePlan {
    pub mark_ready: Vec<String>,
    pub mark_down: Vec<String>,
    pub deferred_down: Vec<String>,
    pub suspected_partition: bool,
    pub next_check: Option<DateTime<Utc>>,
}

fn add(t: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    let d = chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX);
    t.checked_add_signed(d).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

fn sub(t: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    let d = chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX);
    t.checked_sub_signed(d).unwrap_or(DateTime::<Utc>::MIN_UTC)
}

fn earliest(a: Option<DateTime<Utc>>, b: DateTime<Utc>) -> Option<DateTime<Utc>> {
    Some(a.map_or(b, |a| a.min(b)))
}

/// Decide the lifecycle of every node. See the module header for the rules.
pub fn decide(
    nodes: &[NodeObservation],
    now: DateTime<Utc>,
    config: &LifecycleConfig,
    leader_since: DateTime<Utc>,
) -> LifecyclePlan {
    let mut plan = LifecyclePlan::default();
    let wait = config.heartbeat_ttl.saturating_add(config.heartbeat_grace);
    let leader_deadline = add(leader_since, wait);
    let mut candidates: Vec<&NodeObservation> = Vec::new();

    for node in nodes {
        if node.alive {
            if node.state != NodeState::Ready {
                plan.mark_ready.push(node.node_id.clone());
            }
            continue;
        }
        if node.state.is_gone() {
            continue;
        }
        let deadline = add(node.last_seen, wait).max(leader_deadline);
        if now >= deadline {
            candidates.push(node);
        } else {
            plan.next_check = earliest(plan.next_check, deadline);
        }
    }
    plan.mark_ready.sort();
    candidates.sort_by(|a, b| (a.last_seen, &a.node_id).cmp(&(b.last_seen, &b.node_id)));
    if candidates.is_empty() {
        return plan;
    }

    let fleet = nodes.iter().filter(|n| !n.state.is_gone()).count();
    // Every silent node counts, due or not: leases expire up to ttl/3 apart,
    // so a fleet-wide outage makes the first nodes due before the rest.
    let silent = nodes
        .iter()
        .filter(|n| !n.alive && !n.state.is_gone())
        .count();
    if fleet >= config.partition_min_fleet
        && silent as f64 > config.partition_fraction * fleet as f64
    {
        plan.suspected_partition = true;
        plan.deferred_down = candidates.iter().map(|n| n.node_id.clone()).collect();
        plan.next_check = earliest(plan.next_check, add(now, config.heartbeat_ttl));
        return plan;
    }

    let window_start = sub(now, config.down_interval);
    let recent: Vec<DateTime<Utc>> = nodes
        .iter()
        .filter(|n| n.state.is_gone())
        .filter_map(|n| n.last_transition)
        .filter(|t| *t > window_start && *t <= now)
        .collect();
    let limit = config.max_down_per_interval.max(1);
    let budget = limit.saturating_sub(recent.len());
    for (i, node) in candidates.iter().enumerate() {
        if i < budget {
            plan.mark_down.push(node.node_id.clone());
        } else {
            plan.deferred_down.push(node.node_id.clone());
        }
    }
    if !plan.deferred_down.is_empty() {
        // Budget frees when the oldest down-marking in the window leaves it;
        // with no recorded ones, the marks of this pass will free it.
        let frees = recent
            .iter()
            .min()
            .map_or(add(now, config.down_interval), |t| {
                add(*t, config.down_interval)
            });
        plan.next_check = earliest(plan.next_check, frees);
    }
    plan.mark_down.sort();
    plan
}

/// One allocation bound to a silent node, with its group's
/// `disconnect.lost_after` (`None`: lost as soon as the node is).
#[derive(Debug, Clone, Copy)]
pub struct SilentAlloc<'a> {
    pub alloc: &'a Allocation,
    pub lost_after: Option<Duration>,
}

/// What becomes of the allocations of a node that stopped heartbeating.
///
/// - `unknown`: allocation ids to mark `unknown` (not yet so): desired to
///   run, their group has `lost_after`, and it has not run out since the
///   node was disconnected;
/// - `lost`: `(allocation id, why)` to mark `lost`;
/// - `next_check`: when the first allocation still unknown runs out of its
///   `lost_after`; `None` when none is left, so the node is `down` rather
///   than `disconnected`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SilentPlan {
    pub unknown: Vec<String>,
    pub lost: Vec<(String, String)>,
    pub next_check: Option<DateTime<Utc>>,
}

impl SilentPlan {
    /// Some allocation waits, unknown, for its node: the node is
    /// `disconnected`.
    pub fn waits(&self) -> bool {
        self.next_check.is_some()
    }
}

/// The description of an allocation lost with its node.
pub const LOST_HEARTBEAT: &str = "node down: heartbeat missed";

/// Decides the allocations of `node_id`, silent since `since` (when it was
/// declared disconnected or down). Only allocations bound there and not
/// terminal are touched; one being stopped or evicted is lost at once (its
/// agent will never report it terminal while cut off, and it is not
/// wanted anyway). Every bucket is sorted by allocation id.
pub fn silent_allocs(
    node_id: &str,
    since: DateTime<Utc>,
    allocs: &[SilentAlloc<'_>],
    now: DateTime<Utc>,
) -> SilentPlan {
    let mut plan = SilentPlan::default();
    let mut ours: Vec<&SilentAlloc<'_>> = allocs
        .iter()
        .filter(|s| {
            s.alloc
                .binding
                .as_ref()
                .is_some_and(|b| b.node_id == node_id)
        })
        .filter(|s| !s.alloc.status.client_status.is_terminal())
        .collect();
    ours.sort_by(|a, b| a.alloc.metadata.uid.cmp(&b.alloc.metadata.uid));
    for s in ours {
        let id = s.alloc.metadata.uid.clone();
        let wanted = s.alloc.spec.desired_status == DesiredStatus::Run;
        match s.lost_after.filter(|_| wanted) {
            Some(wait) => {
                let deadline = add(since, wait);
                if now < deadline {
                    if s.alloc.status.client_status != ClientStatus::Unknown {
                        plan.unknown.push(id);
                    }
                    plan.next_check = earliest(plan.next_check, deadline);
                } else {
                    let why = format!(
                        "node disconnected longer than lost_after ({})",
                        drover_api_types::duration::Duration::from(wait)
                    );
                    plan.lost.push((id, why));
                }
            }
            None => plan.lost.push((id, LOST_HEARTBEAT.to_string())),
        }
    }
    plan
}
