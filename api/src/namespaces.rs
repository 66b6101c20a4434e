//! Namespaces as `/v1/namespaces` and `/v1/namespace/{name}` answer and
//! take them.

use drover_api_types::namespace::{Quota, QuotaUse};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NamespaceView {
    pub name: String,
    /// Jobs in it.
    pub jobs: usize,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// False for a namespace only jobs registered before namespaces were
    /// objects name: new jobs go there once `drover namespace apply`
    /// creates it.
    #[serde(default = "yes")]
    pub exists: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota: Option<Quota>,
    /// What the namespace's live allocations reserve (reading one
    /// namespace; not in lists).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub used: Option<QuotaUse>,
}

fn yes() -> bool {
    true
}

/// `POST /v1/namespace/{name}`: a field left out keeps its value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NamespaceRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The limits; an empty quota (`{}`) removes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota: Option<Quota>,
}
