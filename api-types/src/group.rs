//! Task groups: the unit of placement, with their network, services and volumes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::duration::Duration;
use crate::job::{
    Affinity, Constraint, Meta, MigrateStrategy, ReschedulePolicy, RestartPolicy, Spread,
    UpdateStrategy,
};
use crate::task::Task;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
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

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
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
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
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

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
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

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct EphemeralDisk {
    /// MB.
    pub size: i64,
    pub sticky: bool,
    pub migrate: bool,
}

/// What happens when the node running an allocation stops heartbeating.
///
/// Without a block (or without `lost_after`) the allocation is `lost` once
/// its node is declared down, and replaced. With `lost_after` it is
/// `unknown` for that long instead: it may well still run behind a broken
/// network, so it keeps its place (and its catalog entries, marked
/// critical with their node) and comes back as it is when the node does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Disconnect {
    /// How long a disconnected allocation stays `unknown` before it is lost.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lost_after: Option<Duration>,
    /// Stop the allocation on the client after this long without contact.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_on_client_after: Option<Duration>,
    /// Start a replacement while the original is unknown (Nomad's default:
    /// true).
    pub replace: bool,
    /// `best_score`, `longest_running`, `keep_original` or `keep_replacement`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub reconcile: String,
}

impl Default for Disconnect {
    fn default() -> Self {
        Disconnect {
            lost_after: None,
            stop_on_client_after: None,
            replace: true,
            reconcile: String::new(),
        }
    }
}

impl TaskGroup {
    /// How long an allocation of this group stays `unknown` while its node
    /// is disconnected; `None`: it is lost as soon as the node is down.
    pub fn lost_after(&self) -> Option<std::time::Duration> {
        self.disconnect
            .as_ref()
            .and_then(|d| d.lost_after)
            .map(|d| d.as_std())
            .filter(|d| !d.is_zero())
    }

    /// After how long without contact with the servers the agent stops this
    /// group's allocations (`disconnect.stop_on_client_after`, or the older
    /// group-level `stop_after_client_disconnect`).
    pub fn stop_on_client_after(&self) -> Option<std::time::Duration> {
        self.disconnect
            .as_ref()
            .and_then(|d| d.stop_on_client_after)
            .or(self.stop_after_client_disconnect)
            .map(|d| d.as_std())
    }

    /// Whether an `unknown` allocation of this group is replaced at once.
    pub fn replaces_unknown(&self) -> bool {
        self.disconnect.as_ref().is_none_or(|d| d.replace)
    }

    /// Which allocation stays when a disconnected node comes back and both
    /// the original and its replacement run.
    pub fn reconnect_keeps(&self) -> ReconnectKeep {
        self.disconnect
            .as_ref()
            .map_or(ReconnectKeep::BestScore, |d| {
                ReconnectKeep::parse(&d.reconcile)
            })
    }
}

/// `disconnect.reconcile`: which of an original that reconnected and its
/// replacement keeps running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReconnectKeep {
    /// The one on the node that scored better when it was placed.
    BestScore,
    /// The one whose tasks have run the longest without a restart.
    LongestRunning,
    KeepOriginal,
    KeepReplacement,
}

impl ReconnectKeep {
    /// The names `disconnect.reconcile` takes, "" first (the default).
    pub const NAMES: [&'static str; 5] = [
        "",
        "best_score",
        "longest_running",
        "keep_original",
        "keep_replacement",
    ];

    /// Validation refuses other names; anything else reads as the default.
    pub fn parse(name: &str) -> Self {
        match name {
            "longest_running" => ReconnectKeep::LongestRunning,
            "keep_original" => ReconnectKeep::KeepOriginal,
            "keep_replacement" => ReconnectKeep::KeepReplacement,
            _ => ReconnectKeep::BestScore,
        }
    }
}

/// A service to register in the catalog, at group or task level.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
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

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
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
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct CheckRestart {
    pub limit: i64,
    pub grace: Duration,
    pub ignore_warnings: bool,
}
