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

/// `POST /v1/node/join-tokens` body: a token nodes trade for their own etcd
/// credentials.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JoinTokenRequest {
    /// Seconds the token is good for; default 3600, at most 7 days.
    #[serde(default)]
    pub ttl_seconds: Option<u64>,
    /// How many nodes may join with it; default 1, at most 10,000.
    #[serde(default)]
    pub uses: Option<u32>,
    #[serde(default)]
    pub description: String,
}

/// The new join token: the secret is shown once, only its hash is kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct JoinTokenResponse {
    pub secret: String,
    pub expires_at: chrono::DateTime<chrono::Utc>,
    pub uses: u32,
}

/// `POST /v1/node/join` body: an agent trading a join token.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JoinRequest {
    pub token: String,
    /// The joining node's id (the UUID in its data dir).
    pub node_id: String,
}

/// The node's own etcd credentials, given once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct JoinResponse {
    pub username: String,
    pub password: String,
}
