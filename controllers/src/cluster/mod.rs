//! The controllers' in-memory view of the cluster: one informer per etcd
//! collection, and the joins that put split keys back together.
//!
//! Objects are stored split by writer (see `drover_store::keys`): an
//! allocation is its spec (`allocations/`, job controller), its binding
//! (`allocations-binding/`, placement) and its status (`allocations-status/`,
//! the agent or the node lifecycle controller); a node is its registration
//! (`nodes/`, the agent), status (`nodes-status/`, lifecycle) and scheduling
//! (`nodes-admin/`, operators). [`ClusterView`] reads them back as whole
//! [`Allocation`]s and [`Node`]s.
//!
//! A view is built when a server becomes leader and dropped when it stops
//! leading: its first lists are then linearizable reads made after the
//! election, so a new leader never acts on state older than its predecessor's
//! last write.

pub mod informer;
pub mod metrics;
pub mod triggers;

use std::collections::BTreeMap;
use std::sync::Arc;

use drover_api_types::alloc::{Allocation, AllocationStatus, Binding};
use drover_api_types::deployment::DeploymentAdmin;
use drover_api_types::job::{JobStatus, PlacementFailure};
use drover_api_types::namespace::{Namespace, Quota};
use drover_api_types::node::{Heartbeat, NodeScheduling, NodeStatus};
use drover_api_types::{Deployment, Job, Node, ServiceRegistration};
use drover_store::keys::collections as c;
use drover_store::{Cache, IndexFn, KeyOnly, Keys, Store, Versioned, Writer};
use tokio::task::JoinHandle;

pub use informer::{Change, Hook};

/// A namespaced object's identity, e.g. a job: the work-queue key of the job
/// and placement controllers.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectKey {
    pub namespace: String,
    pub name: String,
}

impl ObjectKey {
    pub fn new(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            namespace: namespace.into(),
            name: name.into(),
        }
    }

    /// The job an allocation belongs to.
    pub fn job_of(alloc: &Allocation) -> Self {
        Self::new(&alloc.metadata.namespace, &alloc.spec.job_id)
    }

    /// The key as the allocation index holds it.
    fn index_value(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

impl std::fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// Why a job's allocations are not placed, per group: what the placement
/// controller stores under `jobs-placement/`.
pub type PlacementFailures = BTreeMap<String, PlacementFailure>;

/// Hooks per collection, called after the cache applies each change.
#[derive(Default)]
pub struct Hooks {
    pub jobs: Vec<Hook<Job>>,
    pub job_placement: Vec<Hook<Versioned<PlacementFailures>>>,
    pub allocs: Vec<Hook<Allocation>>,
    pub bindings: Vec<Hook<Versioned<Binding>>>,
    pub alloc_status: Vec<Hook<Versioned<AllocationStatus>>>,
    pub nodes: Vec<Hook<Node>>,
    pub node_status: Vec<Hook<Versioned<NodeStatus>>>,
    pub node_admin: Vec<Hook<Versioned<NodeScheduling>>>,
    pub heartbeats: Vec<Hook<Versioned<Heartbeat>>>,
    pub services: Vec<Hook<ServiceRegistration>>,
    pub deployments: Vec<Hook<Deployment>>,
    pub deployment_admin: Vec<Hook<Versioned<DeploymentAdmin>>>,
    pub namespaces: Vec<Hook<Versioned<Namespace>>>,
    pub node_jobs: Vec<Hook<KeyOnly>>,
}

/// Caches of every collection the controllers read. Cheap to clone; the
/// informers stop when the last [`ViewHandle`] is dropped.
#[derive(Clone)]
pub struct ClusterView {
    pub keys: Keys,
    pub jobs: Cache<Job>,
    pub job_status: Cache<Versioned<JobStatus>>,
    pub job_placement: Cache<Versioned<PlacementFailures>>,
    /// Indexed by `<namespace>/<job>`.
    pub allocs: Cache<Allocation>,
    /// Indexed by node id.
    pub bindings: Cache<Versioned<Binding>>,
    pub alloc_status: Cache<Versioned<AllocationStatus>>,
    pub nodes: Cache<Node>,
    pub node_status: Cache<Versioned<NodeStatus>>,
    pub node_admin: Cache<Versioned<NodeScheduling>>,
    pub heartbeats: Cache<Versioned<Heartbeat>>,
    /// Service registrations, indexed by `<namespace>/<alloc id>`.
    pub services: Cache<ServiceRegistration>,
    /// Deployments, indexed by `<namespace>/<job>`.
    pub deployments: Cache<Deployment>,
    pub deployment_admin: Cache<Versioned<DeploymentAdmin>>,
    /// Namespace objects: placement reads their quotas.
    pub namespaces: Cache<Versioned<Namespace>>,
    /// Which job copies each node holds (`node-jobs/`), keys only.
    pub node_jobs: Cache<KeyOnly>,
}

/// Owns the informer tasks of a [`ClusterView`]; dropping it stops them.
pub struct ViewHandle {
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for ViewHandle {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl ClusterView {
    /// Starts one informer per collection. Wait for [`ClusterView::ready`]
    /// before trusting the caches.
    pub fn start(store: &Store, hooks: Hooks) -> (Self, ViewHandle) {
        let keys = store.keys().clone();
        let mut tasks = Vec::new();
        let prefix = |collection: &str| keys.collection(collection);

        let by_job: IndexFn<Allocation> = Arc::new(|a| Some(ObjectKey::job_of(a).index_value()));
        let by_node: IndexFn<Versioned<Binding>> = Arc::new(|b| Some(b.value.node_id.clone()));
        let by_alloc: IndexFn<ServiceRegistration> = Arc::new(|r| {
            Some(ObjectKey::new(&r.metadata.namespace, &r.spec.alloc_id).index_value())
        });

        let (jobs, t) = informer::spawn(store, prefix(c::JOBS), Writer::new(), hooks.jobs);
        tasks.push(t);
        let (job_status, t) =
            informer::spawn(store, prefix(c::JOBS_STATUS), Writer::new(), Vec::new());
        tasks.push(t);
        let (job_placement, t) = informer::spawn(
            store,
            prefix(c::JOBS_PLACEMENT),
            Writer::new(),
            hooks.job_placement,
        );
        tasks.push(t);
        let (allocs, t) = informer::spawn(
            store,
            prefix(c::ALLOCATIONS),
            Writer::with_index(by_job),
            hooks.allocs,
        );
        tasks.push(t);
        let (bindings, t) = informer::spawn(
            store,
            prefix(c::ALLOCATIONS_BINDING),
            Writer::with_index(by_node),
            hooks.bindings,
        );
        tasks.push(t);
        let (alloc_status, t) = informer::spawn(
            store,
            prefix(c::ALLOCATIONS_STATUS),
            Writer::new(),
            hooks.alloc_status,
        );
        tasks.push(t);
        let (nodes, t) = informer::spawn(store, prefix(c::NODES), Writer::new(), hooks.nodes);
        tasks.push(t);
        let (node_status, t) = informer::spawn(
            store,
            prefix(c::NODES_STATUS),
            Writer::new(),
            hooks.node_status,
        );
        tasks.push(t);
        let (node_admin, t) = informer::spawn(
            store,
            prefix(c::NODES_ADMIN),
            Writer::new(),
            hooks.node_admin,
        );
        tasks.push(t);
        let (heartbeats, t) = informer::spawn(
            store,
            prefix(c::NODES_HEARTBEAT),
            Writer::new(),
            hooks.heartbeats,
        );
        tasks.push(t);
        let (services, t) = informer::spawn(
            store,
            prefix(c::SERVICES),
            Writer::with_index(by_alloc),
            hooks.services,
        );
        tasks.push(t);
        let by_deployed_job: IndexFn<Deployment> =
            Arc::new(|d| Some(ObjectKey::new(&d.metadata.namespace, &d.spec.job_id).index_value()));
        let (deployments, t) = informer::spawn(
            store,
            prefix(c::DEPLOYMENTS),
            Writer::with_index(by_deployed_job),
            hooks.deployments,
        );
        tasks.push(t);
        let (deployment_admin, t) = informer::spawn(
            store,
            prefix(c::DEPLOYMENTS_ADMIN),
            Writer::new(),
            hooks.deployment_admin,
        );
        tasks.push(t);
        let (namespaces, t) = informer::spawn(
            store,
            prefix(c::NAMESPACES),
            Writer::new(),
            hooks.namespaces,
        );
        tasks.push(t);
        let (node_jobs, t) =
            informer::spawn(store, prefix(c::NODE_JOBS), Writer::new(), hooks.node_jobs);
        tasks.push(t);
        let view = ClusterView {
            keys: keys.clone(),
            jobs,
            job_status,
            job_placement,
            allocs,
            bindings,
            alloc_status,
            nodes,
            node_status,
            node_admin,
            heartbeats,
            services,
            deployments,
            deployment_admin,
            namespaces,
            node_jobs,
        };
        (view, ViewHandle { tasks })
    }

    /// Completes once every cache has its first full list.
    pub async fn ready(&self) {
        self.jobs.wait_ready().await;
        self.job_status.wait_ready().await;
        self.job_placement.wait_ready().await;
        self.allocs.wait_ready().await;
        self.bindings.wait_ready().await;
        self.alloc_status.wait_ready().await;
        self.nodes.wait_ready().await;
        self.node_status.wait_ready().await;
        self.node_admin.wait_ready().await;
        self.heartbeats.wait_ready().await;
        self.services.wait_ready().await;
        self.deployments.wait_ready().await;
        self.deployment_admin.wait_ready().await;
        self.namespaces.wait_ready().await;
        self.node_jobs.wait_ready().await;
    }

    /// The quota of namespace `ns`, when it has one.
    pub fn quota(&self, ns: &str) -> Option<Quota> {
        self.namespaces
            .get(&self.keys.namespace(ns))
            .and_then(|n| n.value.quota)
            .filter(|q| !q.is_empty())
    }

    /// A job's deployments, in key order.
    pub fn job_deployments(&self, key: &ObjectKey) -> Vec<Deployment> {
        self.deployments.by_index(&key.index_value())
    }

    /// The deployment of one version of a job, if it has one.
    /// The deployment of `job`'s current version, if it has one yet.
    pub fn deployment_of(&self, key: &ObjectKey, job: &Job) -> Option<Deployment> {
        self.job_deployments(key)
            .into_iter()
            .find(|d| d.spec.rolls_out(job))
    }

    /// Operators' intent for a deployment (default: none).
    pub fn deployment_admin_of(&self, d: &Deployment) -> DeploymentAdmin {
        self.deployment_admin
            .get(
                &self
                    .keys
                    .deployment_admin(&d.metadata.namespace, &d.metadata.name),
            )
            .map(|v| v.value)
            .unwrap_or_default()
    }

    pub fn job(&self, key: &ObjectKey) -> Option<Job> {
        self.jobs.get(&self.keys.job(&key.namespace, &key.name))
    }

    /// Every job key, in key order.
    pub fn job_keys(&self) -> Vec<ObjectKey> {
        let mut out = Vec::new();
        self.jobs.for_each(|_, job| {
            out.push(ObjectKey::new(&job.metadata.namespace, &job.metadata.name))
        });
        out
    }

    /// A job's allocations, whole (spec, binding, status), in key order.
    pub fn job_allocs(&self, key: &ObjectKey) -> Vec<Allocation> {
        self.allocs
            .by_index(&key.index_value())
            .into_iter()
            .map(|a| self.complete_alloc(a))
            .collect()
    }

    /// Keys of every job that has allocations (even if the job is gone).
    pub fn jobs_with_allocs(&self) -> Vec<ObjectKey> {
        self.allocs
            .index_values()
            .into_iter()
            .filter_map(|v| v.split_once('/').map(|(ns, name)| ObjectKey::new(ns, name)))
            .collect()
    }

    /// `(namespace, alloc id)` of a job's allocations, without joining them.
    pub fn job_alloc_keys(&self, key: &ObjectKey) -> Vec<ObjectKey> {
        self.allocs
            .keys_by_index(&key.index_value())
            .iter()
            .filter_map(|k| self.object_key_at(k))
            .collect()
    }

    /// `(namespace, alloc id)` of the allocations bound to a node.
    pub fn node_alloc_keys(&self, node_id: &str) -> Vec<ObjectKey> {
        self.bindings
            .keys_by_index(node_id)
            .iter()
            .filter_map(|k| self.object_key_at(k))
            .collect()
    }

    /// Fills an allocation's binding and status from their own keys.
    pub fn complete_alloc(&self, mut alloc: Allocation) -> Allocation {
        let ns = &alloc.metadata.namespace;
        let id = &alloc.metadata.uid;
        alloc.binding = self
            .bindings
            .get(&self.keys.alloc_binding(ns, id))
            .map(|b| b.value);
        let node = alloc.binding.as_ref().map(|b| b.node_id.as_str());
        if let Some(status) = self.alloc_status.get(&self.keys.alloc_status(node, ns, id)) {
            alloc.status = status.value;
        }
        alloc
    }

    /// Where an allocation's status lives: under its node once bound.
    pub fn alloc_status_key(&self, ns: &str, id: &str) -> String {
        let binding = self.bindings.get(&self.keys.alloc_binding(ns, id));
        let node = binding.as_ref().map(|b| b.value.node_id.as_str());
        self.keys.alloc_status(node, ns, id)
    }

    /// One allocation by namespace and id, whole.
    pub fn alloc(&self, namespace: &str, id: &str) -> Option<Allocation> {
        self.allocs
            .get(&self.keys.alloc(namespace, id))
            .map(|a| self.complete_alloc(a))
    }

    /// The allocations bound to a node, whole.
    pub fn node_allocs(&self, node_id: &str) -> Vec<Allocation> {
        self.bindings
            .keys_by_index(node_id)
            .iter()
            .filter_map(|key| self.alloc_for_binding_key(key))
            .collect()
    }

    fn alloc_for_binding_key(&self, key: &str) -> Option<Allocation> {
        let parsed = self.keys.parse(key)?;
        let [ns, id] = parsed.segments.as_slice() else {
            return None;
        };
        self.alloc(ns, id)
    }

    /// A node, whole (registration, status, scheduling).
    pub fn node(&self, id: &str) -> Option<Node> {
        self.nodes
            .get(&self.keys.node(id))
            .map(|n| self.complete_node(n))
    }

    /// Every node, whole, in key order.
    pub fn all_nodes(&self) -> Vec<Node> {
        self.nodes
            .list()
            .into_iter()
            .map(|n| self.complete_node(n))
            .collect()
    }

    fn complete_node(&self, mut node: Node) -> Node {
        let id = node.metadata.uid.clone();
        if let Some(status) = self.node_status.get(&self.keys.node_status(&id)) {
            node.status = status.value;
        }
        if let Some(admin) = self.node_admin.get(&self.keys.node_admin(&id)) {
            node.scheduling = admin.value;
        }
        node
    }

    /// The service registrations of one allocation (by its id, which is
    /// all an orphan's registration still names).
    pub fn alloc_services(&self, namespace: &str, alloc_id: &str) -> Vec<ServiceRegistration> {
        self.services
            .by_index(&ObjectKey::new(namespace, alloc_id).index_value())
    }

    /// `(namespace, alloc id)` of every allocation that has registrations.
    pub fn allocs_with_services(&self) -> Vec<ObjectKey> {
        self.services
            .index_values()
            .into_iter()
            .filter_map(|v| v.split_once('/').map(|(ns, id)| ObjectKey::new(ns, id)))
            .collect()
    }

    /// Whether a node's heartbeat key is present.
    pub fn heartbeat_alive(&self, node_id: &str) -> bool {
        self.heartbeats
            .get(&self.keys.node_heartbeat(node_id))
            .is_some()
    }
}
