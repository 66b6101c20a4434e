//! Stopping one allocation: `POST /v1/allocation/{id}/stop`.

use serde::{Deserialize, Serialize};

/// `POST /v1/allocation/{id}/stop` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StopResponse {
    pub id: String,
    pub namespace: String,
    /// The spec's revision after the call.
    pub index: i64,
    /// False when it was already marked.
    pub changed: bool,
}
