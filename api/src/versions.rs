//! A job's versions (`GET /v1/job/{name}/versions`) and reverting to one.

use drover_api_types::diff::JobDiff;
use drover_api_types::Job;
use serde::{Deserialize, Serialize};

/// `GET /v1/job/{name}/versions` answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct JobVersions {
    /// Newest first.
    pub versions: Vec<JobVersion>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct JobVersion {
    pub version: u64,
    /// Its deployment succeeded (auto-revert goes back to such a version).
    #[serde(default)]
    pub stable: bool,
    pub job: Job,
    /// From the previous version (with `?diffs=true`; absent for the first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diff: Option<JobDiff>,
}

/// `POST /v1/job/{name}/revert` body.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevertRequest {
    /// The version whose spec to register again.
    pub job_version: u64,
    /// Refuse unless the job is still at this version.
    #[serde(default)]
    pub enforce_prior_version: Option<u64>,
    /// Refuse unless the job is still at this index, as for a registration.
    #[serde(default)]
    pub check_index: Option<i64>,
}
