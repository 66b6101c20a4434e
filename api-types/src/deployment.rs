//! Deployments: the rollout of one job version, per its groups' `update`
//! blocks.
//!
//! The deployments controller creates a deployment when a service job gets
//! a version that has none, and is the only writer of `deployments/`
//! (spec and status). Operators' intent — promote, pause, resume, fail,
//! and allocation health for `health_check = "manual"` — is written by the
//! apiserver under `deployments-admin/`, read by the controller, so the two
//! writers never overwrite each other.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::duration::Duration;
use crate::group::TaskGroup;
use crate::job::{Job, JobType, UpdateStrategy};
use crate::meta::ObjectMeta;

/// A rollout of one job version.
/// Whether a job version rolls out under a deployment: a service job,
/// running, not a periodic or parameterized parent (those never run
/// themselves), with a group that has an update block. The job controller
/// decides by it, and `drover apply` waits for a deployment only then.
pub fn deploys(job: &Job) -> bool {
    job.spec.job_type == JobType::Service
        && !job.spec.stop
        && job.spec.periodic.is_none()
        && job.spec.parameterized.is_none()
        && job.spec.groups.iter().any(|g| rolling_update(g).is_some())
}

/// A group's update block, when it rolls out under a deployment
/// (`max_parallel` above 0).
pub fn rolling_update(group: &TaskGroup) -> Option<&UpdateStrategy> {
    group
        .update
        .as_ref()
        .filter(|u| u.max_parallel.is_some_and(|n| n > 0))
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Deployment {
    /// `uid` is the deployment id; `name` the same.
    pub metadata: ObjectMeta,
    pub spec: DeploymentSpec,
    #[serde(default)]
    pub status: DeploymentStatus,
}
crate::impl_api_object!(Deployment, "Deployment", "deployments", namespaced = true);

/// What the deployment rolls out, fixed at creation from the job version.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct DeploymentSpec {
    pub job_id: String,
    /// The job's `metadata.uid`: a job purged and registered again under
    /// the same name is a new job, whose versions start again at 0 and
    /// must not be mistaken for the old job's (empty: written before the
    /// uid was recorded; matches any job of the name).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub job_uid: String,
    pub job_version: u64,
    pub created_at: Option<DateTime<Utc>>,
    pub groups: BTreeMap<String, DeploymentGroupSpec>,
}

impl DeploymentSpec {
    /// Whether this deployment rolls out `job`'s current version (same
    /// job, not one purged before it, and same version).
    pub fn rolls_out(&self, job: &crate::Job) -> bool {
        self.job_id == job.metadata.name
            && self.job_version == job.metadata.version
            && self.of_same_job(job)
    }

    /// Whether `job` is the job this deployment was made for, not a new
    /// one registered under its name after a purge.
    pub fn of_same_job(&self, job: &crate::Job) -> bool {
        self.job_uid.is_empty() || self.job_uid == job.metadata.uid
    }
}

/// One group's `update` block, resolved, plus its desired count.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct DeploymentGroupSpec {
    pub desired_total: u64,
    pub desired_canaries: u64,
    pub max_parallel: u64,
    /// `checks`, `task_states` or `manual`.
    pub health_check: String,
    pub min_healthy_time: Duration,
    pub healthy_deadline: Duration,
    pub progress_deadline: Duration,
    pub auto_revert: bool,
    pub auto_promote: bool,
}

/// Where a deployment is.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum DeploymentState {
    #[default]
    Running,
    Paused,
    /// Canaries are healthy and wait for `drover deployment promote`.
    Blocked,
    Successful,
    Failed,
    /// A newer job version (or a stop) superseded it.
    Cancelled,
}

impl DeploymentState {
    /// Successful, failed and cancelled deployments never change again.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            DeploymentState::Successful | DeploymentState::Failed | DeploymentState::Cancelled
        )
    }

    /// Whether the job controller may place and replace for it.
    pub fn is_active(self) -> bool {
        matches!(self, DeploymentState::Running | DeploymentState::Blocked)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            DeploymentState::Running => "running",
            DeploymentState::Paused => "paused",
            DeploymentState::Blocked => "blocked",
            DeploymentState::Successful => "successful",
            DeploymentState::Failed => "failed",
            DeploymentState::Cancelled => "cancelled",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct DeploymentStatus {
    pub state: DeploymentState,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    pub groups: BTreeMap<String, DeploymentGroupStatus>,
    /// For an auto-revert: the version the job was rolled back to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reverted_to: Option<u64>,
    pub updated_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct DeploymentGroupStatus {
    /// Canary allocation ids placed for this deployment.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub placed_canaries: Vec<String>,
    pub promoted: bool,
    /// Allocations of this deployment's version placed by it.
    pub placed: u64,
    pub healthy: u64,
    pub unhealthy: u64,
    /// The deployment fails if no allocation becomes healthy before this.
    pub require_progress_by: Option<DateTime<Utc>>,
}

/// Operators' intent for one deployment (`deployments-admin/<ns>/<id>`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct DeploymentAdmin {
    /// Groups whose canaries are promoted; `*` promotes every group.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub promote: Vec<String>,
    pub paused: bool,
    /// `drover deployment fail`: fail now (and auto-revert if configured).
    pub fail: bool,
    /// For `health_check = "manual"`: allocation id → healthy.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub alloc_health: BTreeMap<String, bool>,
    pub updated_at: Option<DateTime<Utc>>,
}

impl DeploymentAdmin {
    pub fn promotes(&self, group: &str) -> bool {
        self.promote.iter().any(|g| g == "*" || g == group)
    }
}

/// A job version marked stable: its deployment succeeded
/// (`jobs-stable/<ns>/<job>/<version>`, written by the deployments
/// controller). Auto-revert rolls back to the newest stable version.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct VersionStability {
    pub version: u64,
    pub deployment_id: String,
    pub at: Option<DateTime<Utc>>,
}
