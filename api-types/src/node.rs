//! Nodes: machines running a drover agent.
//!
//! The agent writes `spec` (what it found by fingerprinting); the node
//! lifecycle controller writes `status`; users change `scheduling` (drain and
//! eligibility) through the API. The store keeps the three under split keys.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::duration::Duration;
use crate::job::Meta;
use crate::meta::ObjectMeta;

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Node {
    pub metadata: ObjectMeta,
    pub spec: NodeSpec,
    #[serde(default)]
    pub scheduling: NodeScheduling,
    #[serde(default)]
    pub status: NodeStatus,
}
crate::impl_api_object!(Node, "Node", "nodes", namespaced = false);

/// What the agent registers. `metadata.uid` is the node id, kept in the
/// agent's data dir so a restarted agent is the same node.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct NodeSpec {
    pub datacenter: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub node_class: String,
    pub node_pool: String,
    /// Address allocations' ports are published on.
    pub address: String,
    /// Fingerprinted attributes, named as Nomad names them (`kernel.name`, …).
    pub attributes: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Meta::is_empty")]
    pub meta: Meta,
    pub resources: NodeResources,
    /// Held back for the OS and agent; not schedulable.
    pub reserved: NodeResources,
    pub drivers: BTreeMap<String, DriverInfo>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub host_volumes: BTreeMap<String, HostVolume>,
    /// Inclusive range dynamic ports are assigned from.
    pub min_dynamic_port: u16,
    pub max_dynamic_port: u16,
    pub http_addr: String,
    /// The agent's HTTP API serves TLS (`https://http_addr`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub http_tls: bool,
    pub agent_version: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct NodeResources {
    /// MHz.
    pub cpu: i64,
    pub cores: i64,
    /// MB.
    pub memory: i64,
    /// MB.
    pub disk: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct DriverInfo {
    pub detected: bool,
    pub healthy: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub health_description: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub update_time: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct HostVolume {
    pub path: String,
    pub read_only: bool,
}

/// Operator intent: eligibility and drain.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct NodeScheduling {
    pub ineligible: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drain: Option<DrainStrategy>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct DrainStrategy {
    /// After this, remaining allocations are stopped regardless of migrate.
    pub deadline: Duration,
    pub ignore_system_jobs: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum NodeState {
    #[default]
    Initializing,
    Ready,
    Down,
    /// Stopped heartbeating while some of its allocations wait for it
    /// (`disconnect.lost_after`); `down` once none is left waiting.
    Disconnected,
}

impl NodeState {
    /// Declared gone by the servers: down, or disconnected.
    pub fn is_gone(self) -> bool {
        matches!(self, NodeState::Down | NodeState::Disconnected)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct NodeStatus {
    pub state: NodeState,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_transition: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<NodeEvent>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct NodeEvent {
    pub time: Option<DateTime<Utc>>,
    pub subsystem: String,
    pub message: String,
}

/// The value a node's agent keeps under `nodes-heartbeat/<id>`, attached to
/// its lease: the key's presence is the heartbeat.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct Heartbeat {
    /// The lease TTL the agent asked for, in seconds.
    pub ttl_seconds: u64,
}
