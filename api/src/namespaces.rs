//! Namespaces as `GET /v1/namespaces` answers them.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NamespaceView {
    pub name: String,
    pub jobs: usize,
}
