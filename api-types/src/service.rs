//! Service registrations.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::job::Meta;
use crate::meta::ObjectMeta;

/// One instance of a service, registered for one running allocation.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceRegistration {
    /// `name` is the registration id: `_drover-<alloc-id>-<task|group>-<service>-<port>`.
    pub metadata: ObjectMeta,
    pub spec: ServiceRegistrationSpec,
}
crate::impl_api_object!(
    ServiceRegistration,
    "ServiceRegistration",
    "services",
    namespaced = true
);

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ServiceRegistrationSpec {
    pub service_name: String,
    pub tags: Vec<String>,
    #[serde(skip_serializing_if = "Meta::is_empty")]
    pub meta: Meta,
    pub address: String,
    pub port: u16,
    pub node_id: String,
    pub node_name: String,
    pub datacenter: String,
    pub job_id: String,
    pub alloc_id: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub task: String,
    pub checks: Vec<CheckStatus>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct CheckStatus {
    pub check_id: String,
    pub name: String,
    /// `passing`, `warning` or `critical`.
    pub status: String,
    pub output: String,
    pub updated_at: Option<DateTime<Utc>>,
}

/// The id of a service check within its allocation:
/// `<service name>/<check name>`, or `<service name>/<index>` for an unnamed
/// check (both names already interpolated). The agent reports check results
/// under it and the service registration controller matches them by it.
pub fn check_id(service_name: &str, check_name: &str, index: usize) -> String {
    if check_name.is_empty() {
        format!("{service_name}/{index}")
    } else {
        format!("{service_name}/{check_name}")
    }
}
