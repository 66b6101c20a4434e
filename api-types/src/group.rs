//! Task groups: the unit of placement, with their network, services and volumes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::duration::Duration;
use crate::job::{
    Affinity, Constraint, Meta, MigrateStrategy, ReschedulePolicy, RestartPolicy, Spread,
    UpdateStrategy,
};
use crate::task::Task;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TaskGroup {
    pub name: String,
    pub count: i64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub constraints: Vec<Constraint>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub affinities: Vec<Affinity>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub spreads: Vec<Spread>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network: Option<Network>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<Service>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub volumes: BTreeMap<String, VolumeRequest>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restart: Option<RestartPolicy>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reschedule: Option<ReschedulePolicy>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub migrate: Option<MigrateStrategy>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub update: Option<UpdateStrategy>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ephemeral_disk: Option<EphemeralDisk>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disconnect: Option<Disconnect>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shutdown_delay: Option<Duration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_after_client_disconnect: Option<Duration>,
    #[serde(skip_serializing_if = "Meta::is_empty")]
    pub meta: Meta,
    pub tasks: Vec<Task>,
}

/// The group's network: mode and the ports it asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Network {
    /// `host` (default), `bridge`, `none`, or `cni/<name>`.
    pub mode: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<Port>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// Legacy bandwidth ask; accepted, not enforced.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mbits: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dns: Option<DnsConfig>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DnsConfig {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub servers: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub searches: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
}

/// A port the group needs. Without `static_port` it is dynamic: the scheduler
/// picks a free host port at placement.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Port {
    pub label: String,
    #[serde(rename = "static", skip_serializing_if = "Option::is_none")]
    pub static_port: Option<i64>,
    /// Container-side port; `None` means the same as the host port.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<i64>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub host_network: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VolumeRequest {
    /// `host` or `csi`.
    #[serde(rename = "type")]
    pub volume_type: String,
    pub source: String,
    pub read_only: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub access_mode: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub attachment_mode: String,
    pub per_alloc: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EphemeralDisk {
    /// MB.
    pub size: i64,
    pub sticky: bool,
    pub migrate: bool,
}

/// What happens when the node running an allocation stops heartbeating.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Disconnect {
    /// How long a disconnected allocation stays `unknown` before it is lost.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lost_after: Option<Duration>,
    /// Stop the allocation on the client after this long without contact.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_on_client_after: Option<Duration>,
    /// Start a replacement while the original is unknown.
    pub replace: bool,
    /// `best_score`, `longest_running`, `keep_original` or `keep_replacement`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub reconcile: String,
}

/// A service to register in the catalog, at group or task level.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Service {
    pub name: String,
    /// A port label of the group network, or a literal port number.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub port: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub canary_tags: Vec<String>,
    #[serde(skip_serializing_if = "Meta::is_empty")]
    pub meta: Meta,
    #[serde(skip_serializing_if = "Meta::is_empty")]
    pub canary_meta: Meta,
    /// `auto`, `host`, `driver` or `alloc`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub address_mode: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub address: String,
    /// `consul` or `nomad`: both register in drover's own catalog.
    pub provider: String,
    /// For a group service: the task whose health it follows.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub task: String,
    pub enable_tag_override: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub on_update: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<Check>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Check {
    pub name: String,
    /// `http`, `tcp`, `script` or `grpc`.
    #[serde(rename = "type")]
    pub check_type: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub path: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub method: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub header: BTreeMap<String, Vec<String>>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub body: String,
    /// `http` or `https`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub protocol: String,
    /// Port label (or number) when it differs from the service's.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub port: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub address_mode: String,
    pub interval: Duration,
    pub timeout: Duration,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub command: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    /// For a script check in a group service: the task to exec in.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub task: String,
    /// `passing`, `warning` or `critical`; empty means critical until run.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub initial_status: String,
    pub tls_skip_verify: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check_restart: Option<CheckRestart>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub success_before_passing: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failures_before_critical: Option<i64>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub on_update: String,
}

/// Restart the task after `limit` consecutive failed checks, once `grace` has
/// passed since it started.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CheckRestart {
    pub limit: i64,
    pub grace: Duration,
    pub ignore_warnings: bool,
}
