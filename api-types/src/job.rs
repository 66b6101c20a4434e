//! The Job kind and its job-level policies.
//!
//! Policy structs (restart, reschedule, update, migrate) keep their fields
//! optional so a group can override only what it names; [`crate::defaults`]
//! fills every field, so a canonical job has them all set.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::duration::Duration;
use crate::group::TaskGroup;
use crate::meta::ObjectMeta;

pub type Meta = BTreeMap<String, String>;

/// A job: what to run, where, and how many.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Job {
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    pub kind: String,
    pub metadata: ObjectMeta,
    pub spec: JobSpec,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<JobStatus>,
}
crate::impl_api_object!(Job, "Job", "jobs", namespaced = true);

impl Job {
    /// A job called `name` with every spec field at its default (no
    /// groups): the start of a job built in code rather than parsed.
    pub fn named(name: &str) -> Job {
        Job {
            api_version: crate::API_VERSION.into(),
            kind: "Job".into(),
            metadata: ObjectMeta {
                name: name.into(),
                ..Default::default()
            },
            spec: JobSpec::default(),
            status: None,
        }
    }
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum JobType {
    #[default]
    Service,
    Batch,
    System,
    Sysbatch,
}

impl JobType {
    pub const ALL: [&'static str; 4] = ["service", "batch", "system", "sysbatch"];

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "service" => Some(JobType::Service),
            "batch" => Some(JobType::Batch),
            "system" => Some(JobType::System),
            "sysbatch" => Some(JobType::Sysbatch),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            JobType::Service => "service",
            JobType::Batch => "batch",
            JobType::System => "system",
            JobType::Sysbatch => "sysbatch",
        }
    }

    /// Batch-like jobs run to completion rather than being kept running.
    pub fn runs_to_completion(self) -> bool {
        matches!(self, JobType::Batch | JobType::Sysbatch)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct JobSpec {
    #[serde(rename = "type")]
    pub job_type: JobType,
    /// Display name when it differs from the id (`metadata.name`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    pub region: String,
    pub datacenters: Vec<String>,
    pub node_pool: String,
    pub priority: i64,
    pub all_at_once: bool,
    #[serde(skip_serializing_if = "Meta::is_empty")]
    pub meta: Meta,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub constraints: Vec<Constraint>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub affinities: Vec<Affinity>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub spreads: Vec<Spread>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub update: Option<UpdateStrategy>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub periodic: Option<Periodic>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameterized: Option<Parameterized>,
    /// Job-level defaults that groups inherit unless they set their own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reschedule: Option<ReschedulePolicy>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub migrate: Option<MigrateStrategy>,
    /// For dispatched and periodic children: the parent job's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<String>,
    /// A dispatched child's payload, base64-encoded (it may be binary).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload: Option<String>,
    pub stop: bool,
    pub groups: Vec<TaskGroup>,
}

/// Restricts placement: `attribute operator value`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Constraint {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub attribute: String,
    /// One of [`ConstraintOperator::ALL`]; kept as text so validation can
    /// name an unknown one with a suggestion.
    pub operator: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub value: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConstraintOperator {
    Equal,
    NotEqual,
    Less,
    LessEqual,
    Greater,
    GreaterEqual,
    Regexp,
    Version,
    Semver,
    SetContains,
    SetContainsAll,
    SetContainsAny,
    IsSet,
    IsNotSet,
    DistinctHosts,
    DistinctProperty,
}

impl ConstraintOperator {
    /// Every spelling accepted, for "did you mean" suggestions.
    pub const ALL: [&'static str; 19] = [
        "=",
        "==",
        "is",
        "!=",
        "not",
        "<",
        "<=",
        ">",
        ">=",
        "regexp",
        "version",
        "semver",
        "set_contains",
        "set_contains_all",
        "set_contains_any",
        "is_set",
        "is_not_set",
        "distinct_hosts",
        "distinct_property",
    ];

    pub fn parse(s: &str) -> Option<Self> {
        use ConstraintOperator::*;
        Some(match s {
            "=" | "==" | "is" => Equal,
            "!=" | "not" => NotEqual,
            "<" => Less,
            "<=" => LessEqual,
            ">" => Greater,
            ">=" => GreaterEqual,
            "regexp" => Regexp,
            "version" => Version,
            "semver" => Semver,
            "set_contains" | "set_contains_all" => SetContainsAll,
            "set_contains_any" => SetContainsAny,
            "is_set" => IsSet,
            "is_not_set" => IsNotSet,
            "distinct_hosts" => DistinctHosts,
            "distinct_property" => DistinctProperty,
            _ => return None,
        })
    }
}

impl ConstraintOperator {
    /// Operators that only filter nodes (existence and distinctness checks)
    /// and so have no meaning in an affinity, which scores matches.
    pub fn only_filters(self) -> bool {
        use ConstraintOperator::*;
        matches!(self, IsSet | IsNotSet | DistinctHosts | DistinctProperty)
    }

    /// Every spelling an affinity accepts, in the order of [`Self::ALL`].
    pub fn affinity_spellings() -> Vec<&'static str> {
        Self::ALL
            .into_iter()
            .filter(|s| Self::parse(s).is_some_and(|op| !op.only_filters()))
            .collect()
    }
}

impl Constraint {
    pub fn operator(&self) -> Option<ConstraintOperator> {
        ConstraintOperator::parse(&self.operator)
    }
}

/// A soft preference: nodes matching score higher by `weight` (-100..=100).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Affinity {
    pub attribute: String,
    pub operator: String,
    pub value: String,
    pub weight: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Spread {
    pub attribute: String,
    pub weight: i64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<SpreadTarget>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct SpreadTarget {
    pub value: String,
    pub percent: i64,
}

/// How a changed job rolls out (the `update` block).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct UpdateStrategy {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_parallel: Option<i64>,
    /// `checks`, `task_states` or `manual`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health_check: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_healthy_time: Option<Duration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub healthy_deadline: Option<Duration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub progress_deadline: Option<Duration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_revert: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_promote: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub canary: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stagger: Option<Duration>,
}

/// How allocations leave a draining node (the `migrate` block).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct MigrateStrategy {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_parallel: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health_check: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_healthy_time: Option<Duration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub healthy_deadline: Option<Duration>,
}

/// Local restarts of a failed task before the allocation fails.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct RestartPolicy {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempts: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interval: Option<Duration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delay: Option<Duration>,
    /// `fail` or `delay`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub render_templates: Option<bool>,
}

/// Replacement of failed allocations on other nodes.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ReschedulePolicy {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempts: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interval: Option<Duration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delay: Option<Duration>,
    /// `constant`, `exponential` or `fibonacci`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delay_function: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_delay: Option<Duration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unlimited: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Periodic {
    /// Cron expressions; HCL's singular `cron` lands here too.
    pub crons: Vec<String>,
    pub prohibit_overlap: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub time_zone: String,
    pub enabled: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Parameterized {
    /// `optional`, `required` or `forbidden`.
    pub payload: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub meta_required: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub meta_optional: Vec<String>,
}

/// Observed state of a job, written by the job controller only.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct JobStatus {
    /// `pending`, `running` or `dead`.
    pub status: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub status_description: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub summary: BTreeMap<String, GroupSummary>,
    /// Why allocations are not placed, per group.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub placement_failures: BTreeMap<String, PlacementFailure>,
    /// The job version this status was computed for.
    pub observed_version: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct GroupSummary {
    pub queued: u64,
    pub starting: u64,
    pub running: u64,
    pub failed: u64,
    pub complete: u64,
    pub lost: u64,
    /// On a node that stopped heartbeating, not yet declared lost.
    pub unknown: u64,
    /// Of `running`: allocations of an older job version, still running
    /// while an update replaces them.
    pub outdated: u64,
}

/// The scheduler's explanation for allocations it could not place.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct PlacementFailure {
    pub queued: u64,
    pub nodes_evaluated: u64,
    /// Reason (e.g. `constraint ${attr.kernel.name} = windows`) → nodes.
    pub nodes_filtered: BTreeMap<String, u64>,
    /// Dimension (e.g. `memory`, `port 80`) → nodes exhausted on it.
    pub dimensions_exhausted: BTreeMap<String, u64>,
    /// The namespace quota that held allocations back before any node
    /// was tried (`quota web exhausted: memory 3968/4096 MB used, 256 MB
    /// asked`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quota_exhausted: Option<String>,
}
