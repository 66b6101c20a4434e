//! Cluster gauges the leader computes from its [`ClusterView`]:
//! `drover_nodes{status}`, `drover_allocations{client_status}`,
//! `drover_jobs{status}`, `drover_deployments{state}`, and `drover_heartbeats_expired_total`.
//!
//! Counting walks the caches (memory only, no etcd), so it runs on a timer
//! ([`REFRESH`]) during a leadership term rather than per scrape. A
//! standby has no view: its gauges are emptied when a term ends, so only
//! the leader reports the cluster (sum over servers = the cluster).

use std::collections::BTreeMap;
use std::time::Duration;

use drover_api_types::alloc::ClientStatus;
use drover_api_types::deployment::DeploymentState;
use drover_api_types::node::NodeState;
use prometheus::{IntCounter, IntGaugeVec, Opts, Registry};
use tokio::sync::watch;

use super::{Change, ClusterView, Hooks};

/// How often the gauges are recomputed while leading.
pub const REFRESH: Duration = Duration::from_secs(5);

/// Every node state, so a state with no node reads 0 rather than vanish.
const NODE_STATES: [NodeState; 4] = [
    NodeState::Initializing,
    NodeState::Ready,
    NodeState::Down,
    NodeState::Disconnected,
];

const CLIENT_STATUSES: [ClientStatus; 6] = [
    ClientStatus::Pending,
    ClientStatus::Running,
    ClientStatus::Complete,
    ClientStatus::Failed,
    ClientStatus::Lost,
    ClientStatus::Unknown,
];

/// Every deployment state, so each series exists (at 0) from the start.
const DEPLOYMENT_STATES: [DeploymentState; 6] = [
    DeploymentState::Running,
    DeploymentState::Paused,
    DeploymentState::Blocked,
    DeploymentState::Successful,
    DeploymentState::Failed,
    DeploymentState::Cancelled,
];

/// The job statuses the job controller writes (see `job::reconcile::status`).
const JOB_STATUSES: [&str; 3] = ["pending", "running", "dead"];

/// The gauges and the expiry counter; cheap to clone.
#[derive(Clone, Debug)]
pub struct ClusterMetrics {
    pub nodes: IntGaugeVec,
    pub allocations: IntGaugeVec,
    pub jobs: IntGaugeVec,
    pub deployments: IntGaugeVec,
    pub heartbeats_expired: IntCounter,
}

impl ClusterMetrics {
    pub fn register(registry: &Registry) -> prometheus::Result<Self> {
        let metrics = Self {
            nodes: IntGaugeVec::new(
                Opts::new("drover_nodes", "Nodes by status (reported by the leader)."),
                &["status"],
            )?,
            allocations: IntGaugeVec::new(
                Opts::new(
                    "drover_allocations",
                    "Allocations by client status (reported by the leader).",
                ),
                &["client_status"],
            )?,
            jobs: IntGaugeVec::new(
                Opts::new("drover_jobs", "Jobs by status (reported by the leader)."),
                &["status"],
            )?,
            deployments: IntGaugeVec::new(
                Opts::new(
                    "drover_deployments",
                    "Deployments by state (reported by the leader).",
                ),
                &["state"],
            )?,
            heartbeats_expired: IntCounter::new(
                "drover_heartbeats_expired_total",
                "Node heartbeat keys that went away (their agent's lease expired or was revoked), seen by the leader.",
            )?,
        };
        registry.register(Box::new(metrics.nodes.clone()))?;
        registry.register(Box::new(metrics.allocations.clone()))?;
        registry.register(Box::new(metrics.jobs.clone()))?;
        registry.register(Box::new(metrics.deployments.clone()))?;
        registry.register(Box::new(metrics.heartbeats_expired.clone()))?;
        Ok(metrics)
    }

    /// Counts heartbeat keys that go away. Only deletions count: a term's
    /// first list is not an expiry.
    pub fn register_hooks(&self, hooks: &mut Hooks) {
        let expired = self.heartbeats_expired.clone();
        hooks.heartbeats.push(std::sync::Arc::new(move |change| {
            if let Change::Deleted { .. } = change {
                expired.inc();
            }
        }));
    }

    /// Recomputes the gauges from `view` every [`REFRESH`] until `stop`,
    /// then empties them (a standby reports nothing).
    pub async fn run(self, view: ClusterView, mut stop: watch::Receiver<bool>) {
        let mut tick = tokio::time::interval(REFRESH);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => self.refresh(&view),
                _ = stop.wait_for(|s| *s) => break,
            }
        }
        self.nodes.reset();
        self.allocations.reset();
        self.jobs.reset();
        self.deployments.reset();
    }

    /// Sets every gauge from the view's caches.
    pub fn refresh(&self, view: &ClusterView) {
        let keys = &view.keys;
        let mut nodes = Vec::new();
        view.nodes.for_each(|_, node| {
            let status = view.node_status.get(&keys.node_status(&node.metadata.uid));
            nodes.push(status.map(|s| s.value.state).unwrap_or_default());
        });
        let mut allocs = Vec::new();
        view.allocs.for_each(|_, alloc| {
            let key = view.alloc_status_key(&alloc.metadata.namespace, &alloc.metadata.uid);
            let status = view.alloc_status.get(&key);
            allocs.push(status.map(|s| s.value.client_status).unwrap_or_default());
        });
        let mut jobs = Vec::new();
        view.jobs.for_each(|_, job| {
            let key = keys.job_status(&job.metadata.namespace, &job.metadata.name);
            jobs.push(view.job_status.get(&key).map(|s| s.value.status));
        });
        set_all(&self.nodes, &node_counts(&nodes));
        set_all(&self.allocations, &alloc_counts(&allocs));
        set_all(&self.jobs, &job_counts(&jobs));
        let mut deployments: BTreeMap<String, i64> = DEPLOYMENT_STATES
            .iter()
            .map(|s| (s.as_str().to_string(), 0))
            .collect();
        view.deployments.for_each(|_, d| {
            *deployments
                .entry(d.status.state.as_str().to_string())
                .or_default() += 1;
        });
        set_all(&self.deployments, &deployments);
    }
}

fn set_all(gauge: &IntGaugeVec, counts: &BTreeMap<String, i64>) {
    for (label, count) in counts {
        gauge.with_label_values(&[label.as_str()]).set(*count);
    }
}

/// The `status` label of a node state (as the API spells it).
pub fn node_state_label(state: NodeState) -> &'static str {
    match state {
        NodeState::Initializing => "initializing",
        NodeState::Ready => "ready",
        NodeState::Down => "down",
        NodeState::Disconnected => "disconnected",
    }
}

/// Nodes per state, every state present.
pub fn node_counts(states: &[NodeState]) -> BTreeMap<String, i64> {
    let mut out: BTreeMap<String, i64> = NODE_STATES
        .iter()
        .map(|s| (node_state_label(*s).to_string(), 0))
        .collect();
    for state in states {
        *out.entry(node_state_label(*state).to_string()).or_default() += 1;
    }
    out
}

/// Allocations per client status, every status present.
pub fn alloc_counts(statuses: &[ClientStatus]) -> BTreeMap<String, i64> {
    let mut out: BTreeMap<String, i64> = CLIENT_STATUSES
        .iter()
        .map(|s| (s.as_str().to_string(), 0))
        .collect();
    for status in statuses {
        *out.entry(status.as_str().to_string()).or_default() += 1;
    }
    out
}

/// Jobs per status; a job the job controller has not judged yet (no
/// status, or an empty one) is `pending`.
pub fn job_counts(statuses: &[Option<String>]) -> BTreeMap<String, i64> {
    let mut out: BTreeMap<String, i64> = JOB_STATUSES.iter().map(|s| (s.to_string(), 0)).collect();
    for status in statuses {
        let label = match status.as_deref() {
            None | Some("") => "pending",
            Some(s) => s,
        };
        *out.entry(label.to_string()).or_default() += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_known_value_is_present() {
        let nodes = node_counts(&[NodeState::Ready, NodeState::Ready, NodeState::Down]);
        assert_eq!(nodes["ready"], 2);
        assert_eq!(nodes["down"], 1);
        assert_eq!(nodes["initializing"], 0);
        assert_eq!(nodes.len(), 4);
        let allocs = alloc_counts(&[ClientStatus::Running]);
        assert_eq!(allocs["running"], 1);
        assert_eq!(allocs["lost"], 0);
        assert_eq!(allocs.len(), 6);
    }

    #[test]
    fn jobs_without_a_status_are_pending() {
        let jobs = job_counts(&[None, Some(String::new()), Some("running".into())]);
        assert_eq!(jobs["pending"], 2);
        assert_eq!(jobs["running"], 1);
        assert_eq!(jobs["dead"], 0);
    }

    #[test]
    fn labels_match_the_api_spelling() {
        for state in NODE_STATES {
            let json = serde_json::to_value(state).expect("serialize");
            assert_eq!(json, node_state_label(state));
        }
        for status in CLIENT_STATUSES {
            let json = serde_json::to_value(status).expect("serialize");
            assert_eq!(json, status.as_str());
        }
    }
}
