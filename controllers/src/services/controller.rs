//! The service registration controller's shell around the pure
//! [`services`](crate::services) core.
//!
//! Key: one allocation, `(namespace, alloc id)`. Watches allocations (spec,
//! binding, status: desired status, ports, client status, task states with
//! the container IP, check results), jobs (their services), nodes (address,
//! datacenter, name), node status and heartbeats (a node that goes down),
//! and the registrations themselves (so a registration changed or deleted
//! behind its back is repaired). Owns `services/<namespace>/<id>`: it
//! creates, updates and deletes them; nothing else writes there.
//!
//! Invariants: every write is fenced and guarded by the revision it read (or
//! by absence for a create); a pass writes nothing when the registrations
//! already match; an allocation that is gone, stopped, terminal, lost or on
//! a dead node has no registrations after its pass; registrations of
//! allocations that no longer exist are found through the registrations'
//! own index (resync covers both allocations and registrations), so a new
//! leader removes orphans a previous one left.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use chrono::Utc;
use drover_api_types::alloc::Allocation;
use drover_api_types::Job;
use drover_store::{Atomic, Guard};

use crate::cluster::triggers::on_object_in_view;
use crate::cluster::{Change, ClusterView, Hooks, ObjectKey};
use crate::context::Context;
use crate::error::ReconcileError;
use crate::manager::{standard, Descriptor};
use crate::runtime::{Action, Reconcile, WorkQueue};
use crate::services::{desired_registrations, plan, should_register, AllocInputs, Desired, Plan};

/// The controller's name (work queue, metrics, logs, `--disable-controller`).
pub const NAME: &str = "services";

/// How the manager runs the services controller. At a term's start every
/// allocation and every registration is queued once: a new leader
/// deregisters what changed, or was orphaned, while none led.
pub static DESCRIPTOR: Descriptor = Descriptor {
    name: NAME,
    wire: |wiring| {
        standard(
            wiring,
            NAME,
            register_hooks,
            resync_keys,
            2,
            ServiceController::new,
        )
    },
};

/// How long a pass waits for the view to catch up with its own writes.
const CATCH_UP: Duration = Duration::from_secs(2);

/// Queues the allocations each change concerns.
pub fn register_hooks(
    queue: &WorkQueue<ObjectKey>,
    view: Arc<OnceLock<ClusterView>>,
    hooks: &mut Hooks,
) {
    // Allocation spec, binding and status keys are all `<ns>/<alloc id>`.
    let by_alloc_key = |q: WorkQueue<ObjectKey>, v: Arc<OnceLock<ClusterView>>| {
        move |key: Option<&str>| {
            let Some(view) = v.get() else { return };
            match key {
                Some(key) => {
                    if let Some(k) = view.object_key_at(key) {
                        q.add(k);
                    }
                }
                None => resync_keys(view).into_iter().for_each(|k| q.add(k)),
            }
        }
    };
    let f = by_alloc_key(queue.clone(), view.clone());
    hooks.allocs.push(Arc::new(move |c| f(c.key())));
    let f = by_alloc_key(queue.clone(), view.clone());
    hooks.bindings.push(Arc::new(move |c| f(c.key())));
    let f = by_alloc_key(queue.clone(), view.clone());
    hooks.alloc_status.push(Arc::new(move |c| f(c.key())));

    hooks
        .jobs
        .push(on_object_in_view(queue, &view, |view, job: &Job| {
            view.job_alloc_keys(&ObjectKey::new(&job.metadata.namespace, &job.metadata.name))
        }));

    // Nodes, their status and heartbeats are all keyed `<node id>`.
    let by_node_key = |q: WorkQueue<ObjectKey>, v: Arc<OnceLock<ClusterView>>| {
        move |key: Option<&str>| {
            let Some(view) = v.get() else { return };
            let Some(key) = key else {
                resync_keys(view).into_iter().for_each(|k| q.add(k));
                return;
            };
            let node = view
                .keys
                .parse(key)
                .and_then(|p| p.segments.first().map(|s| s.to_string()));
            if let Some(node) = node {
                view.node_alloc_keys(&node)
                    .into_iter()
                    .for_each(|k| q.add(k));
            }
        }
    };
    let f = by_node_key(queue.clone(), view.clone());
    hooks.nodes.push(Arc::new(move |c| f(c.key())));
    let f = by_node_key(queue.clone(), view.clone());
    hooks.node_status.push(Arc::new(move |c| f(c.key())));
    let f = by_node_key(queue.clone(), view.clone());
    hooks.heartbeats.push(Arc::new(move |c| f(c.key())));

    let (q, v) = (queue.clone(), view);
    hooks.services.push(Arc::new(move |change| match change {
        Change::Applied { new: r, .. } | Change::Deleted { old: Some(r), .. } => {
            q.add(ObjectKey::new(&r.metadata.namespace, &r.spec.alloc_id));
        }
        Change::Listed => {
            if let Some(view) = v.get() {
                resync_keys(view).into_iter().for_each(|k| q.add(k));
            }
        }
        Change::Deleted { old: None, .. } => {}
    }));
}

/// The key of a change, `None` for a full re-list (everything may differ).
/// Every allocation, and every allocation id a registration names (an
/// orphan's allocation may be gone).
pub fn resync_keys(view: &ClusterView) -> Vec<ObjectKey> {
    let mut keys = std::collections::BTreeSet::new();
    view.allocs.for_each(|_, a| {
        keys.insert(ObjectKey::new(&a.metadata.namespace, &a.metadata.uid));
    });
    keys.extend(view.allocs_with_services());
    keys.into_iter().collect()
}

/// The service registration reconciler.
pub struct ServiceController {
    ctx: Context,
    versions: crate::versions::JobVersions,
}

impl ServiceController {
    pub fn new(ctx: Context) -> Self {
        ServiceController {
            ctx,
            versions: crate::versions::JobVersions::default(),
        }
    }

    /// The job version `alloc` runs: the current job when it is that
    /// version, else the stored version (an allocation an update has not
    /// replaced yet keeps its own services), else the current job.
    async fn job_of(&self, alloc: &Allocation) -> Result<Option<Job>, ReconcileError> {
        let key = ObjectKey::job_of(alloc);
        let version = alloc.spec.job_version;
        let found = self
            .versions
            .get(&self.ctx.store, &self.ctx.view, &key, version)
            .await?;
        Ok(found.or_else(|| self.ctx.view.job(&key)))
    }

    async fn desired(&self, alloc: &Allocation) -> Result<Desired, ReconcileError> {
        let view = &self.ctx.view;
        let node = alloc.binding.as_ref().and_then(|b| view.node(&b.node_id));
        let node_alive = node
            .as_ref()
            .is_some_and(|n| !n.status.state.is_gone() && view.heartbeat_alive(&n.metadata.uid));
        let mut inputs = AllocInputs {
            alloc,
            job: None,
            node: node.as_ref(),
            node_alive,
        };
        // Only a registrable allocation is worth a job lookup.
        if !should_register(&inputs) {
            return Ok(Desired::default());
        }
        let job = self.job_of(alloc).await?;
        inputs.job = job.as_ref();
        Ok(desired_registrations(&inputs))
    }

    /// Commits `plan` (each write fenced and revision-guarded) and waits
    /// for the view to hold the result.
    async fn commit(&self, plan: Plan) -> Result<(), ReconcileError> {
        let keys = &self.ctx.view.keys;
        let mut batch = self.ctx.store.batch();
        for reg in &plan.put {
            let key = keys.service(&reg.metadata.namespace, &reg.metadata.name);
            batch.push(self.ctx.fence.guard(Atomic::new().put_value(&key, reg)?)?);
        }
        for reg in &plan.delete {
            let key = keys.service(&reg.metadata.namespace, &reg.metadata.name);
            let unit = Atomic::new()
                .guard(&key, Guard::Revision(reg.metadata.resource_version))
                .delete(&key);
            batch.push(self.ctx.fence.guard(unit)?);
        }
        let outcome = batch.commit(&self.ctx.store).await?;
        let _ = tokio::time::timeout(
            CATCH_UP,
            self.ctx.view.services.wait_revision(outcome.revision),
        )
        .await;
        if !outcome.failed.is_empty() {
            return Err(ReconcileError::conflict(
                "services: registrations",
                outcome.failed.len(),
            ));
        }
        Ok(())
    }
}

impl Reconcile for ServiceController {
    type Key = ObjectKey;
    type Error = ReconcileError;

    async fn reconcile(&self, key: &ObjectKey) -> Result<Action, ReconcileError> {
        let view = &self.ctx.view;
        let existing = view.alloc_services(&key.namespace, &key.name);
        let desired = match view.alloc(&key.namespace, &key.name) {
            Some(alloc) => self.desired(&alloc).await?,
            None => Desired::default(),
        };
        for problem in &desired.problems {
            tracing::warn!(controller = NAME, alloc = %key, "{problem}");
        }
        let plan = plan(desired.registrations, &existing, Utc::now());
        if plan.is_empty() {
            return Ok(Action::AwaitChange);
        }
        let (put, delete) = (plan.put.len(), plan.delete.len());
        self.commit(plan).await?;
        tracing::info!(controller = NAME, alloc = %key, put, delete, "service registrations written");
        Ok(Action::AwaitChange)
    }
}
