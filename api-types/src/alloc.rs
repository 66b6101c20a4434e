//! Allocations: one placement of one task group of one job version.
//!
//! The job controller writes `spec`; the placement controller writes
//! `binding`; the agent on the bound node writes `status`. The store keeps
//! them under split keys so no writer overwrites another.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::meta::ObjectMeta;

/// The most lines a logs request may ask the tail of (`?tail=`), at the
/// server and at the agent: a window is read through whole.
pub const MAX_LOG_TAIL: u64 = 100_000;

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Allocation {
    /// `name` is `<job>.<group>[<index>]`; `uid` is the allocation id.
    pub metadata: ObjectMeta,
    pub spec: AllocationSpec,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binding: Option<Binding>,
    #[serde(default)]
    pub status: AllocationStatus,
}
crate::impl_api_object!(Allocation, "Allocation", "allocations", namespaced = true);

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum DesiredStatus {
    #[default]
    Run,
    Stop,
    Evict,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct AllocationSpec {
    pub job_id: String,
    pub job_version: u64,
    pub task_group: String,
    pub index: u32,
    pub desired_status: DesiredStatus,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub desired_description: String,
    /// The allocation this one replaces (reschedule, update or migration).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_allocation: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deployment_id: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reschedule_events: Vec<RescheduleEvent>,
    /// Do not start before this time (reschedule delay).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_before: Option<DateTime<Utc>>,
    /// For system and sysbatch jobs: the one node this allocation is for.
    /// Placement considers no other.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_node: Option<String>,
    /// Set by the drainer: move this allocation off its draining node. The
    /// job controller places a replacement elsewhere and stops this one.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub migrate: bool,
    /// A canary of its deployment: runs beside the old version until the
    /// deployment is promoted, outside the group's count.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub canary: bool,
    /// The latest user request to restart the allocation's tasks in place
    /// (`drover alloc restart`, Nomad's `alloc restart`), written by the
    /// API. Not a change of what runs: the job controller and the
    /// scheduler never look at it; the agent restarts what it names once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restart: Option<RestartRequest>,
}

/// A user's request to restart running tasks where they are: no new
/// allocation, no reschedule, not counted by the restart policy.
///
/// Declarative, so it survives agent restarts and network blips: each
/// request raises `generation`; the agent labels every container it
/// creates with the generation it has seen, and restarts a running
/// container only while its label is older than a request naming its
/// task. A request is carried out once, whatever restarts meanwhile. The
/// latest request wins: one made before the agent saw the previous one
/// replaces it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct RestartRequest {
    /// 1 for the first request, one more for each after it.
    pub generation: u64,
    /// The one task to restart; empty: every running task.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub task: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requested_at: Option<DateTime<Utc>>,
}

impl RestartRequest {
    /// Whether the request restarts `task`.
    pub fn names(&self, task: &str) -> bool {
        self.task.is_empty() || self.task == task
    }

    /// The next request after `previous` (pure).
    pub fn next(
        previous: Option<&RestartRequest>,
        task: Option<&str>,
        now: DateTime<Utc>,
    ) -> RestartRequest {
        RestartRequest {
            generation: previous.map_or(0, |p| p.generation).saturating_add(1),
            task: task.unwrap_or_default().to_string(),
            requested_at: Some(now),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct RescheduleEvent {
    pub time: Option<DateTime<Utc>>,
    pub prev_alloc_id: String,
    pub prev_node_id: String,
    pub delay_seconds: u64,
}

/// Where an allocation runs and what it reserved there.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Binding {
    pub node_id: String,
    pub node_name: String,
    /// Port label → assigned host port, static and dynamic alike.
    pub ports: BTreeMap<String, AssignedPort>,
    /// MHz and MB reserved on the node, summed over tasks.
    pub cpu: i64,
    pub memory: i64,
    pub memory_max: i64,
    /// Task → the node's core ids reserved for it (`resources.cores`),
    /// the container's cpuset.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub cores: BTreeMap<String, Vec<u32>>,
    pub bound_at: Option<DateTime<Utc>>,
    /// The node's placement score for this allocation when it was bound
    /// (higher is better); `disconnect.reconcile = "best_score"` compares it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct AssignedPort {
    pub host_ip: String,
    pub value: u16,
    /// Container side; 0 means the same as `value`.
    pub to: u16,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum ClientStatus {
    #[default]
    Pending,
    Running,
    Complete,
    Failed,
    Lost,
    Unknown,
}

impl ClientStatus {
    /// As the API spells it (and metrics label it).
    pub fn as_str(self) -> &'static str {
        match self {
            ClientStatus::Pending => "pending",
            ClientStatus::Running => "running",
            ClientStatus::Complete => "complete",
            ClientStatus::Failed => "failed",
            ClientStatus::Lost => "lost",
            ClientStatus::Unknown => "unknown",
        }
    }

    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            ClientStatus::Complete | ClientStatus::Failed | ClientStatus::Lost
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct AllocationStatus {
    pub client_status: ClientStatus,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub client_description: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub task_states: BTreeMap<String, TaskState>,
    /// Deployment health, once the agent has judged it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deployment_health: Option<DeploymentHealth>,
    /// The latest result of each service check the agent runs, by check
    /// id (`<service>/<check>`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<crate::service::CheckStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<DateTime<Utc>>,
}

/// The agent's verdict on an allocation for one deployment: healthy once
/// its tasks (and, with `health_check = "checks"`, its checks) stayed up for
/// `min_healthy_time`; unhealthy when a task failed or `healthy_deadline`
/// passed first.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct DeploymentHealth {
    pub deployment_id: String,
    pub healthy: bool,
    pub at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
}

impl AllocationStatus {
    /// The verdict for `deployment_id`, if the agent gave one.
    pub fn health_for(&self, deployment_id: &str) -> Option<bool> {
        self.deployment_health
            .as_ref()
            .filter(|h| h.deployment_id == deployment_id)
            .map(|h| h.healthy)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct TaskState {
    pub state: TaskRunState,
    pub failed: bool,
    pub restarts: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<TaskEvent>,
    /// The container's own IP on its Docker network, as the agent last saw
    /// it (empty when unknown or with no network of its own): what a
    /// service with `address_mode = "driver"` registers.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub driver_ip: String,
}

/// Where a task is in its life, as Nomad names it on the wire.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum TaskRunState {
    /// Not started yet, or waiting to be restarted. `""` is what a task
    /// state written before this was an enum held before its first event.
    #[default]
    #[serde(alias = "")]
    Pending,
    Running,
    /// Exited for good (`failed` says how); it will not run again.
    Dead,
}

impl TaskRunState {
    pub fn as_str(self) -> &'static str {
        match self {
            TaskRunState::Pending => "pending",
            TaskRunState::Running => "running",
            TaskRunState::Dead => "dead",
        }
    }
}

impl std::fmt::Display for TaskRunState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct TaskEvent {
    /// `Received`, `Task Setup`, `Driver`, `Started`, `Terminated`,
    /// `Restarting`, `Not Restarting`, `Killing`, `Killed`, …
    #[serde(rename = "type")]
    pub event_type: String,
    pub time: Option<DateTime<Utc>>,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restart_requests_count_up_and_name_one_task_or_all() {
        let now = Utc::now();
        let first = RestartRequest::next(None, None, now);
        assert_eq!(first.generation, 1);
        assert!(first.names("web") && first.names("sidecar"));
        let second = RestartRequest::next(Some(&first), Some("web"), now);
        assert_eq!(second.generation, 2);
        assert!(second.names("web"));
        assert!(!second.names("sidecar"));
        let last = RestartRequest {
            generation: u64::MAX,
            ..Default::default()
        };
        assert_eq!(
            RestartRequest::next(Some(&last), None, now).generation,
            u64::MAX
        );
    }

    #[test]
    fn a_spec_without_a_restart_reads_and_writes_as_before() {
        let spec: AllocationSpec =
            serde_json::from_str(r#"{"job_id":"web","job_version":1}"#).expect("old spec");
        assert_eq!(spec.restart, None);
        let written = serde_json::to_string(&spec).expect("json");
        assert!(!written.contains("restart"), "{written}");
        let mut restarted = spec;
        restarted.restart = Some(RestartRequest {
            generation: 3,
            task: "web".into(),
            requested_at: None,
        });
        let back: AllocationSpec =
            serde_json::from_str(&serde_json::to_string(&restarted).expect("json"))
                .expect("round trip");
        assert_eq!(back, restarted);
    }
}
