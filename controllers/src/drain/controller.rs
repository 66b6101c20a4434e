//! The drainer's shell: one work-queue key per node id.
//!
//! [`register_hooks`] queues a node when a drain is set on it, and when an
//! allocation bound to a draining node changes (spec, binding, status).
//! A reconcile reads the node and its allocations from the view, calls
//! [`plan_drain`](super::plan_drain) and commits: `spec.migrate = true` on
//! each chosen allocation (CAS on the spec's revision), and on completion
//! the node's scheduling (`drain: None, ineligible: true`, CAS) together
//! with a "drain complete" node event, in one fenced unit.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use chrono::Utc;
use drover_api_types::node::{NodeEvent, NodeStatus};
use drover_store::{Atomic, Versioned};

use super::{plan_drain, Jobs};
use crate::cluster::{Change, ClusterView, Hooks, ObjectKey};
use crate::context::Context;
use crate::error::ReconcileError;
use crate::manager::{standard, Descriptor};
use crate::runtime::{Action, Reconcile, WorkQueue};

/// The controller's name (work queue, metrics, logs).
pub const NAME: &str = "drain";

/// How the manager runs the drainer.
pub static DESCRIPTOR: Descriptor = Descriptor {
    name: NAME,
    wire: |wiring| {
        standard(
            wiring,
            NAME,
            register_hooks,
            resync_keys,
            2,
            DrainController::new,
        )
    },
};

/// How long a reconcile waits for the view to catch up with its own write.
const CATCH_UP: Duration = Duration::from_secs(2);

/// Node events kept in a node's status.
const MAX_NODE_EVENTS: usize = 10;

/// Whether `node` is draining, as the view has it.
fn is_draining(view: &ClusterView, node: &str) -> bool {
    view.node_admin
        .get(&view.keys.node_admin(node))
        .is_some_and(|a| a.value.drain.is_some())
}

/// The node an allocation key (of any allocation collection) is bound to.
fn bound_node(view: &ClusterView, key: &str) -> Option<String> {
    let alloc = view.object_key_at(key)?;
    view.bindings
        .get(&view.keys.alloc_binding(&alloc.namespace, &alloc.name))
        .map(|b| b.value.node_id)
}

/// Registers the drainer's hooks: a drain set on a node queues it; a change
/// to an allocation (spec, binding, status) queues its node when that node
/// is draining. The hooks read the view through `view` (set once the view
/// is built; nothing is queued before), so they keep no state of their own
/// that a re-list could leave stale.
pub fn register_hooks(
    queue: &WorkQueue<String>,
    view: Arc<OnceLock<ClusterView>>,
    hooks: &mut Hooks,
) {
    let q = queue.clone();
    hooks.node_admin.push(Arc::new(move |change| {
        if let Change::Applied { key, new, .. } = change {
            if new.value.drain.is_some() {
                if let Some(id) = key.rsplit('/').next() {
                    q.add(id.to_string());
                }
            }
        }
    }));
    let (q, v) = (queue.clone(), view.clone());
    hooks.bindings.push(Arc::new(move |change| {
        let Some(view) = v.get() else { return };
        let node = match change {
            Change::Applied { new, .. } => &new.value.node_id,
            Change::Deleted { old: Some(old), .. } => &old.value.node_id,
            _ => return,
        };
        if is_draining(view, node) {
            q.add(node.clone());
        }
    }));
    let (q, v) = (queue.clone(), view.clone());
    hooks.allocs.push(Arc::new(move |change| {
        if let Some(node) = draining_node_of(v.get(), &change) {
            q.add(node);
        }
    }));
    let (q, v) = (queue.clone(), view);
    hooks.alloc_status.push(Arc::new(move |change| {
        if let Some(node) = draining_node_of(v.get(), &change) {
            q.add(node);
        }
    }));
}

fn draining_node_of<T>(view: Option<&ClusterView>, change: &Change<'_, T>) -> Option<String> {
    let view = view?;
    bound_node(view, change.key()?).filter(|node| is_draining(view, node))
}

/// Node ids with a drain set: the keys of a resync (and of a term's start).
pub fn resync_keys(view: &ClusterView) -> Vec<String> {
    let mut out = Vec::new();
    view.node_admin.for_each(|key, admin| {
        if admin.value.drain.is_some() {
            if let Some(p) = view.keys.parse(key) {
                out.extend(p.segments.first().map(|s| s.to_string()));
            }
        }
    });
    out
}

/// The drainer's reconciler.
pub struct DrainController {
    ctx: Context,
}

impl DrainController {
    pub fn new(ctx: Context) -> Self {
        DrainController { ctx }
    }

    /// Marks `ids` (allocations of `node`) for migration.
    async fn mark(
        &self,
        node: &str,
        ns_of: &HashMap<String, String>,
        ids: &[String],
    ) -> Result<(), ReconcileError> {
        let view = &self.ctx.view;
        let mut batch = self.ctx.store.batch();
        for id in ids {
            let Some(ns) = ns_of.get(id) else { continue };
            let key = view.keys.alloc(ns, id);
            let Some(mut spec) = view.allocs.get(&key) else {
                continue;
            };
            spec.spec.migrate = true;
            batch.push(
                self.ctx
                    .fence
                    .guard(Atomic::new().put_value(&key, &spec)?)?,
            );
        }
        let outcome = batch.commit(&self.ctx.store).await?;
        tracing::info!(controller = NAME, node, allocs = ?ids, "drain: marked allocations for migration");
        let _ = tokio::time::timeout(CATCH_UP, view.allocs.wait_revision(outcome.revision)).await;
        if !outcome.failed.is_empty() {
            return Err(ReconcileError::conflict(
                format!("drain of node {node}"),
                outcome.failed.len(),
            ));
        }
        Ok(())
    }

    /// Ends the drain: the node stays ineligible, with a node event.
    async fn complete(&self, node: &str) -> Result<(), ReconcileError> {
        let view = &self.ctx.view;
        let admin_key = view.keys.node_admin(node);
        let Some(mut admin) = view.node_admin.get(&admin_key) else {
            return Ok(());
        };
        admin.value.drain = None;
        admin.value.ineligible = true;
        let status_key = view.keys.node_status(node);
        let mut status = view
            .node_status
            .get(&status_key)
            .unwrap_or_else(|| Versioned::new(NodeStatus::default()));
        push_event(&mut status.value, "Drain", "drain complete");
        let unit = Atomic::new()
            .put_value(&admin_key, &admin)?
            .put_value(&status_key, &status)?;
        let mut batch = self.ctx.store.batch();
        batch.push(self.ctx.fence.guard(unit)?);
        let outcome = batch.commit(&self.ctx.store).await?;
        if !outcome.failed.is_empty() {
            return Err(ReconcileError::conflict(
                format!("drain of node {node}"),
                outcome.failed.len(),
            ));
        }
        tracing::info!(
            controller = NAME,
            node,
            "drain complete; node left ineligible"
        );
        let _ =
            tokio::time::timeout(CATCH_UP, view.node_admin.wait_revision(outcome.revision)).await;
        Ok(())
    }
}

/// Appends a node event, keeping the last [`MAX_NODE_EVENTS`].
pub(crate) fn push_event(status: &mut NodeStatus, subsystem: &str, message: &str) {
    status.events.push(NodeEvent {
        time: Some(Utc::now()),
        subsystem: subsystem.into(),
        message: message.into(),
    });
    let extra = status.events.len().saturating_sub(MAX_NODE_EVENTS);
    status.events.drain(..extra);
}

impl Reconcile for DrainController {
    type Key = String;
    type Error = ReconcileError;

    async fn reconcile(&self, node_id: &String) -> Result<Action, ReconcileError> {
        let view = &self.ctx.view;
        let Some(node) = view.node(node_id) else {
            return Ok(Action::AwaitChange);
        };
        if node.scheduling.drain.is_none() {
            return Ok(Action::AwaitChange);
        }
        let allocs = view.node_allocs(node_id);
        let mut jobs = Jobs::new();
        let mut ns_of = HashMap::new();
        for a in &allocs {
            ns_of.insert(a.metadata.uid.clone(), a.metadata.namespace.clone());
            let key = ObjectKey::job_of(a);
            if let Some(job) = view.job(&key) {
                jobs.insert((key.namespace, key.name), job);
            }
        }
        let now = Utc::now();
        let plan = plan_drain(&node, &allocs, &jobs, now);
        if !plan.migrate.is_empty() {
            self.mark(node_id, &ns_of, &plan.migrate).await?;
        }
        if plan.complete {
            self.complete(node_id).await?;
            return Ok(Action::AwaitChange);
        }
        Ok(match plan.next_check {
            Some(t) => Action::RequeueAfter((t - now).to_std().unwrap_or_default()),
            None => Action::AwaitChange,
        })
    }
}
