//! Children of periodic and parameterized jobs: forcing a launch, dispatching, listing.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use drover_api_types::children::PeriodicLaunch;
use serde::{Deserialize, Serialize};

/// `POST /v1/job/{name}/dispatch` body.
#[derive(Debug, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct DispatchRequest {
    /// Base64 of the payload.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub meta: BTreeMap<String, String>,
    /// Dispatching again with the same token returns the same child.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idempotency_token: Option<String>,
}

/// What force and dispatch answer.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct ChildResponse {
    /// The child job's id.
    pub job_id: String,
    /// Its index (0 when an idempotent dispatch returned an existing one).
    pub index: i64,
}

/// One child in `GET /v1/job/{name}/children`.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct ChildSummary {
    pub job_id: String,
    /// The job status (`pending`, `running`, `dead`; empty before the job
    /// controller has looked at it).
    pub status: String,
    pub launched: Option<DateTime<Utc>>,
    /// Of a dead child: `complete` or `failed` per its allocations' summary.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub result: String,
}

/// `GET /v1/job/{name}/children`.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct ChildrenResponse {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub periodic: Option<PeriodicLaunch>,
    /// Newest first.
    pub children: Vec<ChildSummary>,
}
