//! `POST /v1/job/{name}/plan`: what registering a job would do.

use std::collections::BTreeMap;

use drover_api_types::diff::JobDiff;
use drover_api_types::job::PlacementFailure;
use drover_api_types::Job;
use serde::{Deserialize, Serialize};

/// `POST /v1/job/{name}/plan` body.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanRequest {
    pub job: Job,
}

/// `POST /v1/job/{name}/plan` answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PlanResponse {
    /// The stored job's index (0 when it is not registered): pass it as
    /// `check_index` to register exactly what was planned.
    pub job_modify_index: i64,
    /// The version registering would store (the current one if unchanged).
    pub version: u64,
    /// Whether registering would write anything.
    pub changed: bool,
    pub diff: JobDiff,
    /// Per group, what the scheduler would do (groups being removed too).
    pub groups: BTreeMap<String, GroupUpdates>,
    /// Per group in both versions, when the job changes: whether its
    /// allocations update in place or are replaced, and why.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub update_kinds: BTreeMap<String, GroupChange>,
    /// Per group, why some of its allocations would stay queued.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub failed_placements: BTreeMap<String, PlacementFailure>,
    /// Validation warnings, `path: message`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// Allocation counts for one group, as `nomad plan` annotates groups.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GroupUpdates {
    /// New allocations: fresh ones and replacements of failed, lost or
    /// completed ones.
    pub create: u64,
    /// Allocations stopped and not replaced.
    pub destroy: u64,
    /// Allocations of an older version that take the new one in place
    /// (the change is [`drover_api_types::update_kind`]'s in-place kind).
    pub in_place_update: u64,
    /// Allocations replaced by one of the new version.
    pub destructive_update: u64,
    /// Allocations moved off draining nodes.
    pub migrate: u64,
    /// Canaries of the new version the update's deployment would place
    /// (`update { canary = N }`), beside the old allocations.
    #[serde(default)]
    pub canary: u64,
    /// Allocations left as they are.
    pub ignore: u64,
}

/// How one group's allocations take the new version.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GroupChange {
    pub destructive: bool,
    /// The first field that forces a replacement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}
