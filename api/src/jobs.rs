//! Registering a job: `POST /v1/jobs`.

use drover_api_types::Job;
use serde::{Deserialize, Serialize};

/// `POST /v1/jobs` body.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    pub job: Job,
    /// 0: the job must not exist; N: it must still be at index N.
    #[serde(default)]
    pub check_index: Option<i64>,
}

/// `POST /v1/jobs` answer.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct RegisterResponse {
    /// The job's index after the call (pass it as `check_index`).
    pub index: i64,
    pub version: u64,
    /// Whether anything was written.
    pub changed: bool,
}
