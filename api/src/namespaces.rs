//! Namespaces as `/v1/namespaces` and `/v1/namespace/{name}` answer and
//! take them.

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
}

fn yes() -> bool {
    true
}

/// `POST /v1/namespace/{name}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NamespaceRequest {
    #[serde(default)]
    pub description: String,
}
