//! What the API answers for allocations and nodes: the stored pieces
//! (spec, binding, status; registration, status, scheduling) joined into
//! one flat view each. Building a view is pure.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use drover_api_types::alloc::{
    AllocationStatus, AssignedPort, Binding, ClientStatus, DesiredStatus, TaskState,
};
use drover_api_types::node::{
    DrainStrategy, HostVolume, NodeEvent, NodeScheduling, NodeState, NodeStatus,
};
use drover_api_types::{Allocation, Node};
use serde::{Deserialize, Serialize};

/// One allocation as `GET /v1/allocations` and `/v1/allocation/{id}` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AllocationView {
    pub id: String,
    /// `<job>.<group>[<index>]`.
    pub name: String,
    pub namespace: String,
    pub job: String,
    pub group: String,
    pub job_version: u64,
    /// `None` until placed.
    pub node_id: Option<String>,
    pub node_name: Option<String>,
    #[serde(default)]
    pub ports: BTreeMap<String, AssignedPort>,
    /// What it holds on its node (its binding's CPU and memory; zero until
    /// placed).
    #[serde(default)]
    pub allocated: Usage,
    pub desired_status: DesiredStatus,
    #[serde(default)]
    pub desired_description: String,
    /// Marked to move (drain, or `POST /v1/allocation/{id}/stop`).
    #[serde(default)]
    pub migrate: bool,
    pub client_status: ClientStatus,
    #[serde(default)]
    pub client_description: String,
    #[serde(default)]
    pub task_states: BTreeMap<String, TaskState>,
    /// The agent's deployment-health verdict for the allocation's deployment.
    pub healthy: Option<bool>,
    #[serde(default)]
    pub deployment_id: Option<String>,
    #[serde(default)]
    pub canary: bool,
    pub previous_allocation: Option<String>,
    pub create_time: Option<DateTime<Utc>>,
    /// When placement bound it to its node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placed_at: Option<DateTime<Utc>>,
    /// When its status last changed (the agent's report, or the server's
    /// when it marked it lost).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_time: Option<DateTime<Utc>>,
    /// The latest of creation, binding and the agent's last report.
    pub modify_time: Option<DateTime<Utc>>,
    /// The spec's revision.
    pub index: i64,
}

impl AllocationView {
    pub fn build(
        alloc: &Allocation,
        binding: Option<&Binding>,
        status: Option<&AllocationStatus>,
    ) -> AllocationView {
        let default_status = AllocationStatus::default();
        let status = status.unwrap_or(&default_status);
        let created = alloc.metadata.creation_timestamp;
        let modify_time = [created, binding.and_then(|b| b.bound_at), status.updated_at]
            .into_iter()
            .flatten()
            .max();
        AllocationView {
            id: alloc.metadata.uid.clone(),
            name: alloc.metadata.name.clone(),
            namespace: alloc.metadata.namespace.clone(),
            job: alloc.spec.job_id.clone(),
            group: alloc.spec.task_group.clone(),
            job_version: alloc.spec.job_version,
            node_id: binding.map(|b| b.node_id.clone()),
            node_name: binding.map(|b| b.node_name.clone()),
            ports: binding.map(|b| b.ports.clone()).unwrap_or_default(),
            allocated: binding.map_or(Usage::default(), |b| Usage {
                cpu: b.cpu,
                memory: b.memory,
                memory_max: b.memory_max.max(b.memory),
            }),
            desired_status: alloc.spec.desired_status,
            desired_description: alloc.spec.desired_description.clone(),
            migrate: alloc.spec.migrate,
            client_status: status.client_status,
            client_description: status.client_description.clone(),
            task_states: status.task_states.clone(),
            healthy: alloc
                .spec
                .deployment_id
                .as_deref()
                .and_then(|d| status.health_for(d)),
            deployment_id: alloc.spec.deployment_id.clone(),
            canary: alloc.spec.canary,
            previous_allocation: alloc.spec.previous_allocation.clone(),
            create_time: created,
            placed_at: binding.and_then(|b| b.bound_at),
            status_time: status.updated_at,
            modify_time,
            index: alloc.metadata.resource_version,
        }
    }

    /// Still holds (or will hold) resources on its node.
    pub fn is_active(&self) -> bool {
        !self.client_status.is_terminal()
    }
}

/// MHz and MB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Usage {
    pub cpu: i64,
    pub memory: i64,
    pub memory_max: i64,
}

/// One node as `GET /v1/nodes` answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NodeView {
    pub id: String,
    pub name: String,
    pub datacenter: String,
    #[serde(default)]
    pub node_class: String,
    pub node_pool: String,
    pub address: String,
    pub http_addr: String,
    /// The agent's HTTP API serves TLS.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub http_tls: bool,
    pub status: NodeState,
    #[serde(default)]
    pub status_description: String,
    pub eligible: bool,
    /// Present while draining.
    pub drain: Option<DrainStrategy>,
    /// Driver name → healthy.
    pub drivers: BTreeMap<String, bool>,
    /// Schedulable: resources minus reserved.
    pub resources: Usage,
    /// Summed over the node's allocations that are not terminal.
    pub allocated: Usage,
    /// Non-terminal allocations bound to the node.
    pub allocations: usize,
    pub agent_version: String,
    /// Whether the agent's heartbeat key (on its lease) is present.
    pub heartbeat: bool,
    pub last_transition: Option<DateTime<Utc>>,
    pub create_time: Option<DateTime<Utc>>,
    /// The registration's revision.
    pub index: i64,
}

/// One node with everything `GET /v1/node/{id}` answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NodeDetail {
    #[serde(flatten)]
    pub node: NodeView,
    pub attributes: BTreeMap<String, String>,
    pub meta: BTreeMap<String, String>,
    pub host_volumes: BTreeMap<String, HostVolume>,
    pub events: Vec<NodeEvent>,
    /// Every allocation bound to it, terminal ones included.
    pub allocation_list: Vec<AllocationView>,
}

/// A node's registration joined with its status and scheduling.
pub struct NodeParts<'a> {
    pub node: &'a Node,
    pub status: Option<&'a NodeStatus>,
    pub scheduling: Option<&'a NodeScheduling>,
    pub heartbeat: bool,
}

impl NodeView {
    /// `allocs` are the allocations bound to this node.
    pub fn build(parts: &NodeParts<'_>, allocs: &[&AllocationView], binding_usage: Usage) -> Self {
        let node = parts.node;
        let spec = &node.spec;
        let default_status = NodeStatus::default();
        let status = parts.status.unwrap_or(&default_status);
        let scheduling = parts.scheduling.cloned().unwrap_or_default();
        NodeView {
            id: node.metadata.uid.clone(),
            name: node.metadata.name.clone(),
            datacenter: spec.datacenter.clone(),
            node_class: spec.node_class.clone(),
            node_pool: spec.node_pool.clone(),
            address: spec.address.clone(),
            http_addr: spec.http_addr.clone(),
            http_tls: spec.http_tls,
            status: status.state,
            status_description: status.description.clone(),
            eligible: !scheduling.ineligible,
            drain: scheduling.drain,
            drivers: spec
                .drivers
                .iter()
                .filter(|(_, d)| d.detected)
                .map(|(name, d)| (name.clone(), d.healthy))
                .collect(),
            resources: Usage {
                cpu: spec.resources.cpu - spec.reserved.cpu,
                memory: spec.resources.memory - spec.reserved.memory,
                memory_max: spec.resources.memory - spec.reserved.memory,
            },
            allocated: binding_usage,
            allocations: allocs.iter().filter(|a| a.is_active()).count(),
            agent_version: spec.agent_version.clone(),
            heartbeat: parts.heartbeat,
            last_transition: status.last_transition,
            create_time: node.metadata.creation_timestamp,
            index: node.metadata.resource_version,
        }
    }
}

/// What a node's active allocations reserve, from their bindings.
pub fn usage<'a>(bound: impl IntoIterator<Item = (&'a Binding, ClientStatus)>) -> Usage {
    bound
        .into_iter()
        .filter(|(_, s)| !s.is_terminal())
        .fold(Usage::default(), |acc, (b, _)| Usage {
            cpu: acc.cpu + b.cpu,
            memory: acc.memory + b.memory,
            memory_max: acc.memory_max + b.memory_max.max(b.memory),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use drover_api_types::node::{DriverInfo, NodeResources};
    use drover_api_types::ObjectMeta;

    fn alloc(id: &str) -> Allocation {
        let mut a = Allocation {
            metadata: ObjectMeta {
                name: "web.front[0]".into(),
                namespace: "default".into(),
                uid: id.into(),
                resource_version: 7,
                creation_timestamp: DateTime::from_timestamp(100, 0),
                ..Default::default()
            },
            ..Default::default()
        };
        a.spec.job_id = "web".into();
        a.spec.task_group = "front".into();
        a.spec.job_version = 3;
        a
    }

    fn binding(cpu: i64, memory: i64) -> Binding {
        Binding {
            node_id: "n1".into(),
            node_name: "node-one".into(),
            cpu,
            memory,
            bound_at: DateTime::from_timestamp(200, 0),
            ..Default::default()
        }
    }

    #[test]
    fn an_allocation_view_joins_spec_binding_and_status() {
        let status = AllocationStatus {
            client_status: ClientStatus::Running,
            updated_at: DateTime::from_timestamp(300, 0),
            ..Default::default()
        };
        let v = AllocationView::build(&alloc("a1"), Some(&binding(100, 64)), Some(&status));
        assert_eq!(
            (v.id.as_str(), v.job.as_str(), v.group.as_str()),
            ("a1", "web", "front")
        );
        assert_eq!(v.node_name.as_deref(), Some("node-one"));
        assert_eq!(v.client_status, ClientStatus::Running);
        assert_eq!(v.modify_time, DateTime::from_timestamp(300, 0));
        assert_eq!((v.job_version, v.index), (3, 7));
    }

    #[test]
    fn an_unplaced_allocation_has_no_node_and_is_pending() {
        let v = AllocationView::build(&alloc("a1"), None, None);
        assert_eq!(v.node_id, None);
        assert_eq!(v.client_status, ClientStatus::Pending);
        assert_eq!(v.modify_time, v.create_time);
        assert!(v.is_active());
    }

    #[test]
    fn usage_counts_only_active_allocations() {
        let (a, b, c) = (binding(100, 64), binding(250, 128), binding(1000, 1000));
        let u = usage([
            (&a, ClientStatus::Running),
            (&b, ClientStatus::Pending),
            (&c, ClientStatus::Complete),
        ]);
        assert_eq!((u.cpu, u.memory, u.memory_max), (350, 192, 192));
    }

    #[test]
    fn a_node_view_reads_scheduling_status_and_drivers() {
        let mut node = Node::default();
        node.metadata.uid = "n1".into();
        node.metadata.name = "node-one".into();
        node.spec.resources = NodeResources {
            cpu: 4000,
            memory: 8192,
            ..Default::default()
        };
        node.spec.reserved.cpu = 500;
        node.spec.drivers.insert(
            "docker".into(),
            DriverInfo {
                detected: true,
                healthy: true,
                ..Default::default()
            },
        );
        node.spec
            .drivers
            .insert("exec".into(), DriverInfo::default());
        let status = NodeStatus {
            state: NodeState::Ready,
            ..Default::default()
        };
        let scheduling = NodeScheduling {
            ineligible: true,
            drain: None,
        };
        let parts = NodeParts {
            node: &node,
            status: Some(&status),
            scheduling: Some(&scheduling),
            heartbeat: true,
        };
        let running = AllocationView {
            client_status: ClientStatus::Running,
            ..AllocationView::build(&alloc("a1"), None, None)
        };
        let done = AllocationView {
            client_status: ClientStatus::Complete,
            ..AllocationView::build(&alloc("a2"), None, None)
        };
        let v = NodeView::build(&parts, &[&running, &done], Usage::default());
        assert_eq!(v.status, NodeState::Ready);
        assert!(!v.eligible);
        assert_eq!(v.resources.cpu, 3500);
        assert_eq!(v.drivers, BTreeMap::from([("docker".to_string(), true)]));
        assert_eq!(v.allocations, 1);
    }
}
