//! The periodic controller's shell: one work-queue key per parent job.
//!
//! [`register_hooks`] queues a parent when it changes, and when one of its
//! children (by `parent_id`) or a child's allocation changes. A reconcile
//! reads the parent and its children from the view and the launch record
//! from etcd, calls [`plan_children`] and [`plan_launch`], commits, and
//! asks to run again at the next launch.
//!
//! Writes: children are created with
//! [`commit_job_version`](drover_store::jobs::commit_job_version) guarded by
//! their absence (the name carries the launch time, so a retry or a
//! concurrent leader cannot launch twice) after checking the leader fence;
//! stops (a new child version), deletions and the record carry the fence.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use drover_api_types::alloc::{Allocation, ClientStatus, DesiredStatus};
use drover_api_types::children::{
    child_launch_time, child_of, periodic_child_name, PeriodicLaunch,
};
use drover_api_types::Job;
use drover_store::{Atomic, Guard, StoreError, Versioned};

use super::metrics::{PeriodicMetrics, SKIP_OVERLAP};
use super::{plan_children, plan_launch, Child, ChildState, Outcome};
use crate::cluster::triggers::{on_key, on_object, on_object_in_view};
use crate::cluster::{ClusterView, Hooks, ObjectKey};
use crate::context::Context;
use crate::error::ReconcileError;
use crate::job::reconcile::job_status;
use crate::manager::{standard, Descriptor};
use crate::runtime::{Action, Reconcile, WorkQueue};

/// The controller's name (work queue, metrics, logs, `--disable-controller`).
pub const NAME: &str = "periodic";

/// How the manager runs the periodic controller.
pub static DESCRIPTOR: Descriptor = Descriptor {
    name: NAME,
    wire: |wiring| {
        let metrics = wiring.metrics.periodic_stats.clone();
        let kept = wiring.options.periodic_children_kept;
        standard(wiring, NAME, register_hooks, resync_keys, 2, move |ctx| {
            PeriodicController::new(ctx, metrics, kept)
        })
    },
};

/// Longest wait between two looks at a parent (a safety net; watches and
/// the next launch time wake it sooner).
const MAX_WAIT: Duration = Duration::from_secs(3600);

/// Woken this much after a launch time, so the time is surely past.
const AFTER_LAUNCH: Duration = Duration::from_millis(20);

type Result<T> = std::result::Result<T, ReconcileError>;

pub struct PeriodicController {
    ctx: Context,
    metrics: PeriodicMetrics,
    /// Finished children kept per parent.
    kept: usize,
}

impl PeriodicController {
    pub fn new(ctx: Context, metrics: PeriodicMetrics, kept: usize) -> Self {
        Self { ctx, metrics, kept }
    }
}

impl Reconcile for PeriodicController {
    type Key = ObjectKey;
    type Error = ReconcileError;

    async fn reconcile(&self, key: &ObjectKey) -> Result<Action> {
        let now = Utc::now();
        let parent = self.ctx.view.job(key);
        let children = children_of(&self.ctx.view, key);
        let kept = if parent.is_some() { self.kept } else { 0 };
        let stopped = parent.as_ref().is_none_or(|p| p.spec.stop);
        let plan = plan_children(&children, kept, stopped);
        self.stop_children(key, &plan.stop).await?;
        self.delete_children(key, &plan.delete).await?;
        match parent.filter(|p| p.spec.is_parent() && p.spec.periodic.is_some()) {
            Some(parent) => self.schedule(key, &parent, &children, now).await,
            None => {
                self.drop_record(key).await?;
                self.metrics.forget(&key.namespace, &key.name);
                Ok(Action::AwaitChange)
            }
        }
    }
}

impl PeriodicController {
    /// Launches what is due, records it, and waits for the next launch.
    async fn schedule(
        &self,
        key: &ObjectKey,
        parent: &Job,
        children: &[Child],
        now: DateTime<Utc>,
    ) -> Result<Action> {
        let store = &self.ctx.store;
        let record_key = store.keys().job_periodic(&key.namespace, &key.name);
        let stored: Versioned<PeriodicLaunch> =
            store.get_at(&record_key).await?.unwrap_or(Versioned {
                value: PeriodicLaunch::default(),
                revision: 0,
            });
        let plan = plan_launch(parent, &stored.value, children, now);
        if let Some(due) = plan.launch {
            self.launch(parent, due, now).await?;
            self.metrics.launched(&key.namespace, &key.name);
        }
        if let Some(due) = plan.skipped {
            tracing::info!(job = %key, %due, "periodic launch skipped: a child is still running (prohibit_overlap)");
            self.metrics
                .skipped(&key.namespace, &key.name, SKIP_OVERLAP);
        }
        if plan.record != stored.value || stored.revision == 0 {
            let value = Versioned {
                value: plan.record.clone(),
                revision: stored.revision,
            };
            let unit = Atomic::new().put_value(&record_key, &value)?;
            self.commit(key, vec![unit]).await?;
        }
        self.metrics
            .observe(&key.namespace, &key.name, &plan.record);
        let wait = plan
            .record
            .next_launch
            .and_then(|next| (next - now).to_std().ok())
            .map_or(MAX_WAIT, |d| (d + AFTER_LAUNCH).min(MAX_WAIT));
        Ok(Action::RequeueAfter(wait))
    }

    /// Creates the child of the launch at `due`; one that exists already
    /// (a retry, or another leader's) counts as launched.
    async fn launch(&self, parent: &Job, due: DateTime<Utc>, now: DateTime<Utc>) -> Result<()> {
        // The child write cannot carry the fence; fail early when deposed.
        self.ctx.fence.guard(Atomic::new())?;
        let name = periodic_child_name(&parent.metadata.name, due);
        let child = child_of(parent, name, now, uuid::Uuid::new_v4().to_string());
        match drover_store::jobs::commit_job_version(&self.ctx.store, &child, Vec::new()).await {
            Ok(_) => {
                tracing::info!(job = %child.metadata.name, %due, "periodic child launched");
                Ok(())
            }
            Err(StoreError::AlreadyExists { .. } | StoreError::Conflict { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Sets `stop` on each named child (a new version of it).
    async fn stop_children(&self, key: &ObjectKey, names: &[String]) -> Result<()> {
        for name in names {
            let Some(child) = self.ctx.view.job(&ObjectKey::new(&key.namespace, name)) else {
                continue;
            };
            self.ctx.fence.guard(Atomic::new())?;
            let mut stopped = child.clone();
            stopped.spec.stop = true;
            stopped.metadata.version += 1;
            stopped.status = None;
            match drover_store::jobs::commit_job_version(&self.ctx.store, &stopped, Vec::new())
                .await
            {
                Ok(_) => {
                    tracing::info!(job = %name, parent = %key, "child stopped with its parent")
                }
                Err(StoreError::Conflict { .. }) => {
                    return Err(ReconcileError::conflict(format!("periodic job {key}"), 1))
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Deletes each named (dead) child: job, status, placement notes and
    /// version snapshots, guarded by the job's revision. The job controller
    /// then deletes its allocations, as for any deleted job.
    async fn delete_children(&self, key: &ObjectKey, names: &[String]) -> Result<()> {
        let keys = &self.ctx.view.keys;
        let ns = &key.namespace;
        let mut units = Vec::new();
        for name in names {
            let Some(child) = self.ctx.view.job(&ObjectKey::new(ns, name)) else {
                continue;
            };
            let mut unit = Atomic::new()
                .guard(
                    keys.job(ns, name),
                    Guard::Revision(child.metadata.resource_version),
                )
                .delete(keys.job(ns, name))
                .delete(keys.job_status(ns, name))
                .delete(keys.job_placement(ns, name));
            for version in 0..=child.metadata.version {
                unit = unit.delete(keys.job_version(ns, name, version));
            }
            units.push(unit);
        }
        if units.is_empty() {
            return Ok(());
        }
        let deleted = units.len();
        self.commit(key, units).await?;
        tracing::info!(parent = %key, deleted, "finished children collected");
        Ok(())
    }

    async fn drop_record(&self, key: &ObjectKey) -> Result<()> {
        let store = &self.ctx.store;
        let record_key = store.keys().job_periodic(&key.namespace, &key.name);
        let stored: Option<Versioned<PeriodicLaunch>> = store.get_at(&record_key).await?;
        if let Some(stored) = stored {
            let unit = Atomic::new()
                .guard(record_key.clone(), Guard::Revision(stored.revision))
                .delete(record_key);
            self.commit(key, vec![unit]).await?;
        }
        Ok(())
    }

    async fn commit(&self, key: &ObjectKey, units: Vec<Atomic>) -> Result<()> {
        let mut batch = self.ctx.store.batch();
        for unit in units {
            batch.push(self.ctx.fence.guard(unit)?);
        }
        let outcome = batch.commit(&self.ctx.store).await?;
        if !outcome.failed.is_empty() {
            return Err(ReconcileError::conflict(
                format!("periodic job {key}"),
                outcome.failed.len(),
            ));
        }
        Ok(())
    }
}

/// The children of `parent`, with their state from their allocations.
pub fn children_of(view: &ClusterView, parent: &ObjectKey) -> Vec<Child> {
    let mut jobs = Vec::new();
    view.jobs.for_each(|_, job| {
        if job.metadata.namespace == parent.namespace
            && job.spec.parent_id.as_deref() == Some(parent.name.as_str())
        {
            jobs.push(job.clone());
        }
    });
    jobs.into_iter()
        .map(|job| {
            let allocs =
                view.job_allocs(&ObjectKey::new(&job.metadata.namespace, &job.metadata.name));
            Child {
                launched: child_launch_time(&job.metadata.name)
                    .or(job.metadata.creation_timestamp)
                    .unwrap_or_default(),
                state: child_state(&job, &allocs),
                stopping: job.spec.stop,
                name: job.metadata.name,
            }
        })
        .collect()
}

/// A child's state as the job controller would report it.
fn child_state(job: &Job, allocs: &[Allocation]) -> ChildState {
    match job_status(job, allocs) {
        "running" => ChildState::Running,
        "dead" => {
            let replaced: Vec<&str> = allocs
                .iter()
                .filter_map(|a| a.spec.previous_allocation.as_deref())
                .collect();
            let latest: Vec<&Allocation> = allocs
                .iter()
                .filter(|a| a.spec.desired_status == DesiredStatus::Run)
                .filter(|a| !replaced.contains(&a.metadata.uid.as_str()))
                .collect();
            let outcome = if latest
                .iter()
                .any(|a| a.status.client_status == ClientStatus::Failed)
            {
                Outcome::Failed
            } else if !latest.is_empty()
                && latest
                    .iter()
                    .all(|a| a.status.client_status == ClientStatus::Complete)
            {
                Outcome::Complete
            } else {
                Outcome::Stopped
            };
            ChildState::Dead(outcome)
        }
        _ => ChildState::Pending,
    }
}

/// Wires the controller's triggers into the view's hooks.
pub fn register_hooks(
    queue: &WorkQueue<ObjectKey>,
    view: Arc<OnceLock<ClusterView>>,
    hooks: &mut Hooks,
) {
    hooks.jobs.push(on_object(queue, parent_key));
    hooks
        .allocs
        .push(on_object_in_view(queue, &view, parent_of_alloc));
    hooks.alloc_status.push(on_key(queue, &view, |view, key| {
        view.alloc_at(key).and_then(|a| parent_of_alloc(view, &a))
    }));
}

/// The parent a job is (itself) or belongs to.
fn parent_key(job: &Job) -> Option<ObjectKey> {
    let ns = &job.metadata.namespace;
    match &job.spec.parent_id {
        Some(parent) => Some(ObjectKey::new(ns, parent)),
        None if job.spec.is_parent() => Some(ObjectKey::new(ns, &job.metadata.name)),
        None => None,
    }
}

fn parent_of_alloc(view: &ClusterView, alloc: &Allocation) -> Option<ObjectKey> {
    let job = view.job(&ObjectKey::job_of(alloc))?;
    let parent = job.spec.parent_id?;
    Some(ObjectKey::new(&alloc.metadata.namespace, parent))
}

/// Every parent, and every parent that still has children: the resync set.
pub fn resync_keys(view: &ClusterView) -> Vec<ObjectKey> {
    let mut keys = std::collections::BTreeSet::new();
    view.jobs.for_each(|_, job| {
        if let Some(key) = parent_key(job) {
            keys.insert(key);
        }
    });
    keys.into_iter().collect()
}
