//! The node-jobs shell: one work-queue key per node id.
//!
//! [`register_hooks`] queues a node when one of its bindings comes or goes,
//! when a bound allocation's spec changes (an in-place update names a new
//! job version), and when one of its copies changes. A reconcile reads what
//! the node's allocations name and what it holds from the view, calls
//! [`plan`](super::plan), writes the missing copies (each job version from
//! [`JobVersions`]) and deletes the stale ones, every write fenced.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use drover_store::{Atomic, Guard, StoreError, Stored};

use super::{plan, JobRef};
use crate::cluster::{Change, ClusterView, Hooks, ObjectKey};
use crate::context::Context;
use crate::error::ReconcileError;
use crate::manager::{standard, Descriptor};
use crate::runtime::{Action, Reconcile, WorkQueue};
use crate::versions::JobVersions;

/// The controller's name (work queue, metrics, logs, `--disable-controller`).
pub const NAME: &str = "node-jobs";

/// How the manager runs it.
pub static DESCRIPTOR: Descriptor = Descriptor {
    name: NAME,
    wire: |wiring| {
        standard(
            wiring,
            NAME,
            register_hooks,
            resync_keys,
            2,
            NodeJobsController::new,
        )
    },
};

/// How long a copy no allocation names is kept.
const GRACE: Duration = Duration::from_secs(30);

/// How long a reconcile waits for the view to catch up with its own write.
const CATCH_UP: Duration = Duration::from_secs(2);

/// The node a copy key is under.
fn node_of_copy(view: &ClusterView, key: &str) -> Option<String> {
    view.keys.parse_node_job(key).map(|k| k.node.into_owned())
}

/// The job version and group a copy key names.
fn ref_of_copy(view: &ClusterView, key: &str) -> Option<JobRef> {
    let parsed = view.keys.parse_node_job(key)?;
    Some(JobRef {
        namespace: parsed.namespace.into_owned(),
        job: parsed.job.into_owned(),
        version: parsed.version,
        group: parsed.group.map(|g| g.into_owned()),
    })
}

/// The key of `r` on `node`.
fn copy_key(view: &ClusterView, node: &str, r: &JobRef) -> String {
    view.keys
        .node_job(node, &r.namespace, &r.job, r.version, r.group.as_deref())
}

pub fn register_hooks(
    queue: &WorkQueue<String>,
    view: Arc<OnceLock<ClusterView>>,
    hooks: &mut Hooks,
) {
    let q = queue.clone();
    hooks.bindings.push(Arc::new(move |change| {
        let node = match change {
            Change::Applied { new, .. } => &new.value.node_id,
            Change::Deleted { old: Some(old), .. } => &old.value.node_id,
            _ => return,
        };
        q.add(node.clone());
    }));
    let (q, v) = (queue.clone(), view.clone());
    hooks.allocs.push(Arc::new(move |change| {
        let (Some(view), Some(key)) = (v.get(), change.key()) else {
            return;
        };
        let Some(alloc) = view.object_key_at(key) else {
            return;
        };
        let binding = view
            .bindings
            .get(&view.keys.alloc_binding(&alloc.namespace, &alloc.name));
        if let Some(binding) = binding {
            q.add(binding.value.node_id);
        }
    }));
    let (q, v) = (queue.clone(), view);
    hooks.node_jobs.push(Arc::new(move |change| {
        if let (Some(view), Some(key)) = (v.get(), change.key()) {
            if let Some(node) = node_of_copy(view, key) {
                q.add(node);
            }
        }
    }));
}

/// Every node with a binding or a copy.
pub fn resync_keys(view: &ClusterView) -> Vec<String> {
    let mut nodes: BTreeSet<String> = view.bindings.index_values().into_iter().collect();
    for key in view.node_jobs.keys() {
        nodes.extend(node_of_copy(view, &key));
    }
    nodes.into_iter().collect()
}

pub struct NodeJobsController {
    ctx: Context,
    versions: JobVersions,
    /// Per node, since when each of its unnamed copies has been unnamed.
    unnamed: Mutex<HashMap<String, BTreeMap<JobRef, Instant>>>,
}

impl NodeJobsController {
    pub fn new(ctx: Context) -> Self {
        NodeJobsController {
            ctx,
            versions: JobVersions::default(),
            unnamed: Mutex::new(HashMap::new()),
        }
    }

    fn unnamed(&self) -> std::sync::MutexGuard<'_, HashMap<String, BTreeMap<JobRef, Instant>>> {
        self.unnamed.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Reconcile for NodeJobsController {
    type Key = String;
    type Error = ReconcileError;

    async fn reconcile(&self, node: &String) -> Result<Action, ReconcileError> {
        let view = &self.ctx.view;
        let keys = &view.keys;
        let wanted: BTreeSet<JobRef> = view
            .node_allocs(node)
            .iter()
            .map(|a| JobRef {
                namespace: a.metadata.namespace.clone(),
                job: a.spec.job_id.clone(),
                version: a.spec.job_version,
                group: Some(a.spec.task_group.clone()),
            })
            .collect();
        let held: BTreeSet<JobRef> = view
            .node_jobs
            .list_prefix(&keys.node_jobs_prefix(node))
            .iter()
            .filter_map(|(key, _)| ref_of_copy(view, key))
            .collect();
        let memory = self.unnamed().remove(node).unwrap_or_default();
        let copies = plan(&wanted, &held, &memory, Instant::now(), GRACE);
        if !copies.unnamed_since.is_empty() {
            self.unnamed()
                .insert(node.clone(), copies.unnamed_since.clone());
        }
        let mut batch = self.ctx.store.batch();
        for r in &copies.put {
            let of = ObjectKey::new(&r.namespace, &r.job);
            let Some(mut job) = self
                .versions
                .get(&self.ctx.store, view, &of, r.version)
                .await?
            else {
                tracing::warn!(controller = NAME, node, job = %of, version = r.version, "no such job version to copy to the node");
                continue;
            };
            // The group the node runs, nothing of the others.
            job.spec
                .groups
                .retain(|g| Some(&g.name) == r.group.as_ref());
            let key = copy_key(view, node, r);
            let bytes = job.encode().map_err(|source| {
                ReconcileError::Store(StoreError::Encode {
                    key: key.clone(),
                    source,
                })
            })?;
            let unit = Atomic::new().guard(&key, Guard::Absent).put(&key, bytes);
            batch.push(self.ctx.fence.guard(unit)?);
        }
        for r in &copies.delete {
            let key = copy_key(view, node, r);
            batch.push(self.ctx.fence.guard(Atomic::new().delete(key))?);
        }
        if !batch.is_empty() {
            let outcome = batch.commit(&self.ctx.store).await?;
            tracing::debug!(
                controller = NAME,
                node,
                put = copies.put.len(),
                deleted = copies.delete.len(),
                "node job copies written"
            );
            let _ = tokio::time::timeout(CATCH_UP, view.node_jobs.wait_revision(outcome.revision))
                .await;
            if !outcome.failed.is_empty() {
                return Err(ReconcileError::conflict(
                    format!("job copies of node {node}"),
                    outcome.failed.len(),
                ));
            }
        }
        Ok(match copies.recheck_in {
            Some(after) => Action::RequeueAfter(after),
            None => Action::AwaitChange,
        })
    }
}
