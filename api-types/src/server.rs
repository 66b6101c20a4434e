//! Servers: each `drover server` records itself under `servers/<name>` on
//! a lease it keeps alive, so the key exists exactly while the process
//! does. The catalog lists them as the `drover` service (what Prometheus
//! discovers the servers by); nothing else depends on it.

use serde::{Deserialize, Serialize};

use crate::meta::ObjectMeta;

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Server {
    /// `name` is the server's `--name` (its name in the leader election).
    pub metadata: ObjectMeta,
    pub spec: ServerSpec,
}
crate::impl_api_object!(Server, "Server", "servers", namespaced = false);

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSpec {
    /// `host:port` clients reach the HTTP API (and `/metrics`) at.
    pub http_addr: String,
    /// drover's version.
    pub version: String,
}
