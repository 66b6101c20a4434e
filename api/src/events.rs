//! The event stream, `GET /v1/event/stream`: one [`Event`] per line
//! (newline-delimited JSON).

use serde::{Deserialize, Serialize};

/// One change to a stored object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Event {
    /// `Job`, `Allocation`, `Node`, `Deployment` or `Service`.
    pub topic: String,
    /// `upsert` or `delete`.
    #[serde(rename = "type")]
    pub event_type: String,
    /// The object's name or id.
    pub key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Which part of the object changed (`allocations-status`, …).
    pub collection: String,
    pub revision: i64,
    /// The stored JSON; null for a delete.
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
}
