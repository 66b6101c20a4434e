//! Cluster-wide operator settings.

use serde::{Deserialize, Serialize};

/// `GET /v1/operator/scrape-token` (and `/rotate`): the token Prometheus
/// presents to the agents' `/metrics`, as `Authorization: Bearer <token>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ScrapeTokenResponse {
    pub token: String,
}
