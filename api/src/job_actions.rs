//! Stopping and scaling a job.

use serde::{Deserialize, Serialize};

/// `POST /v1/job/{name}/stop` body; the body may be left out.
#[derive(Debug, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct StopRequest {
    pub check_index: Option<i64>,
    /// Also delete the job once its allocations are terminal.
    pub purge: bool,
}

/// `POST /v1/job/{name}/scale` body.
#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScaleRequest {
    pub group: String,
    pub count: i64,
    /// Why (Nomad's scaling message); logged with the change.
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub check_index: Option<i64>,
}
