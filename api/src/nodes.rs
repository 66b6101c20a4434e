//! Draining and eligibility: `POST /v1/node/{id}/drain` and `/eligibility`.

use drover_api_types::node::NodeScheduling;
use serde::{Deserialize, Serialize};

/// `POST /v1/node/{id}/drain` body.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DrainRequest {
    pub enable: bool,
    /// Go duration; default 1h; `"0"` means no deadline.
    #[serde(default)]
    pub deadline: Option<String>,
    #[serde(default)]
    pub ignore_system_jobs: bool,
    /// Mark everything at once (a deadline already passed).
    #[serde(default)]
    pub force: bool,
    /// On disable: leave the node ineligible (else it becomes eligible).
    #[serde(default)]
    pub keep_ineligible: bool,
}

/// `POST /v1/node/{id}/eligibility` body.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EligibilityRequest {
    pub eligible: bool,
}

/// Answer of both levers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SchedulingResponse {
    pub node_id: String,
    /// The revision of `nodes-admin/<id>` after the call.
    pub index: i64,
    pub changed: bool,
    pub scheduling: NodeScheduling,
}
