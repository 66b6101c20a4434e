//! Promoting, pausing, failing a deployment; marking allocation health.

use drover_api_types::deployment::DeploymentAdmin;
use serde::{Deserialize, Serialize};

/// `POST /v1/deployment/{id}/promote` body; empty `groups` promotes all.
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct PromoteRequest {
    pub groups: Vec<String>,
}

/// `POST /v1/deployment/{id}/pause` body: `false` resumes.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PauseRequest {
    pub pause: bool,
}

/// `POST /v1/deployment/{id}/allocation-health` body (full ids or unique
/// prefixes of the deployment's allocations).
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct AllocHealthRequest {
    pub healthy: Vec<String>,
    pub unhealthy: Vec<String>,
}

/// What every lever answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DeploymentUpdateResponse {
    pub id: String,
    pub namespace: String,
    /// The revision of `deployments-admin/<ns>/<id>` after the call.
    pub index: i64,
    /// The intent as written, for the controller to act on.
    pub admin: DeploymentAdmin,
}
