//! The deployments controller: moves each deployment along, marks the
//! version stable when it succeeds, and rolls a failed one back.
//!
//! Watches deployments, operators' intent (`deployments-admin/`), jobs and
//! allocations (spec and status). Keyed by deployment. Owns deployment
//! status (`deployments/`, after the job controller created it) and version
//! stability (`jobs-stable/`); an auto-revert writes a new job version.
//!
//! Invariants:
//! - the decision comes from the pure [`assess`]; this shell reads the
//!   view, writes, and on auto-revert finds the newest stable version;
//! - a status write is guarded by the deployment's revision and by its
//!   job as read (its revision, or its absence); the stability
//!   mark lands in the same transaction as the `successful` status, and a
//!   revert's new job version in the same transaction as the `failed`
//!   status, guarded by the job's revision — so a revert happens once, and
//!   never over a version someone registered meanwhile;
//! - every write carries the leader fence.

use std::sync::{Arc, OnceLock};

use chrono::{DateTime, Utc};
use drover_api_types::deployment::VersionStability;
use drover_api_types::{Deployment, Job};
use drover_store::{Atomic, Guard, StoreError};

use crate::cluster::triggers::{on_key, on_object, on_object_in_view};
use crate::cluster::{ClusterView, Hooks, ObjectKey};
use crate::context::Context;
use crate::deployments::{assess, Assessment};
use crate::error::ReconcileError;
use crate::manager::{standard, Descriptor};
use crate::runtime::{Action, Reconcile, WorkQueue};

pub const NAME: &str = "deployments";

/// How the manager runs the deployments controller.
pub static DESCRIPTOR: Descriptor = Descriptor {
    name: NAME,
    wire: |wiring| {
        standard(
            wiring,
            NAME,
            register_hooks,
            resync_keys,
            2,
            DeploymentController::new,
        )
    },
};

type Result<T> = std::result::Result<T, ReconcileError>;

pub struct DeploymentController {
    ctx: Context,
}

impl DeploymentController {
    pub fn new(ctx: Context) -> Self {
        Self { ctx }
    }
}

impl Reconcile for DeploymentController {
    type Key = ObjectKey;
    type Error = ReconcileError;

    async fn reconcile(&self, key: &ObjectKey) -> Result<Action> {
        let view = &self.ctx.view;
        let at = view.keys.deployment(&key.namespace, &key.name);
        let Some(d) = view.deployments.get(&at) else {
            return Ok(Action::AwaitChange);
        };
        let job_key = ObjectKey::new(&key.namespace, &d.spec.job_id);
        let job = view.job(&job_key);
        let admin = view.deployment_admin_of(&d);
        let allocs = view.job_allocs(&job_key);
        let now = Utc::now();
        let assessment = assess(&d, job.as_ref(), &admin, &allocs, now);
        if assessment.status != d.status {
            self.write(&d, job.as_ref(), &assessment, now).await?;
        }
        Ok(match assessment.recheck_at {
            Some(at) => Action::RequeueAfter(
                (at - now)
                    .to_std()
                    .unwrap_or_default()
                    .max(std::time::Duration::from_millis(100)),
            ),
            None => Action::AwaitChange,
        })
    }
}

impl DeploymentController {
    async fn write(
        &self,
        d: &Deployment,
        job: Option<&Job>,
        assessment: &Assessment,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let keys = &self.ctx.view.keys;
        let ns = &d.metadata.namespace;
        let mut next = d.clone();
        next.status = assessment.status.clone();
        let at = keys.deployment(ns, &d.metadata.name);
        let mut unit = Atomic::new();
        if assessment.stable {
            let mark = VersionStability {
                version: d.spec.job_version,
                deployment_id: d.metadata.name.clone(),
                at: Some(now),
            };
            let bytes = serde_json::to_vec(&mark).map_err(|source| StoreError::Encode {
                key: d.spec.job_id.clone(),
                source,
            })?;
            unit = unit.put(
                keys.job_stable(ns, &d.spec.job_id, d.spec.job_version),
                bytes,
            );
        }
        if assessment.revert {
            let (revert, description) = self.revert_unit(d, job).await?;
            next.status.description = format!("{} - {description}", next.status.description);
            if let Some((version, revert)) = revert {
                next.status.reverted_to = Some(version);
                unit = unit.merge(revert);
            }
        }
        // Guarded by the revision the deployment was read at (put_value
        // guards on the object's resource_version), and by the job as read:
        // caches list at different revisions when a leader starts, so a job
        // registered a moment ago may be missing while its deployment is
        // not — cancelling that deployment must fail, not stick.
        let job_key = keys.job(ns, &d.spec.job_id);
        unit = match job {
            Some(j) => unit.guard(job_key, Guard::Revision(j.metadata.resource_version)),
            None => unit.guard(job_key, Guard::Absent),
        };
        unit = unit.put_value(&at, &next)?;
        let mut batch = self.ctx.store.batch();
        batch.push(self.ctx.fence.guard(unit)?);
        let outcome = batch.commit(&self.ctx.store).await?;
        if !outcome.failed.is_empty() {
            return Err(ReconcileError::conflict(
                format!("deployment {} or its job", d.metadata.name),
                1,
            ));
        }
        tracing::info!(
            deployment = %d.metadata.name,
            job = %d.spec.job_id,
            version = d.spec.job_version,
            state = next.status.state.as_str(),
            description = %next.status.description,
            "deployment"
        );
        Ok(())
    }

    /// The job version an auto-revert registers (the newest stable version
    /// before the failed one, as a new version), and how to say it.
    async fn revert_unit(
        &self,
        d: &Deployment,
        job: Option<&Job>,
    ) -> Result<(Option<(u64, Atomic)>, String)> {
        let Some(job) = job.filter(|j| j.metadata.version == d.spec.job_version) else {
            return Ok((None, "the job changed since; not rolling back".into()));
        };
        let keys = &self.ctx.view.keys;
        let ns = &d.metadata.namespace;
        let stable = self
            .ctx
            .store
            .list_raw(&keys.job_stable_prefix(ns, &d.spec.job_id))
            .await?;
        let newest_stable = stable
            .items
            .iter()
            .filter_map(|kv| kv.key.rsplit('/').next()?.parse::<u64>().ok())
            .filter(|v| *v < d.spec.job_version)
            .max();
        let Some(version) = newest_stable else {
            return Ok((None, "no stable job version to auto revert to".into()));
        };
        let snapshot = keys.job_version(ns, &d.spec.job_id, version);
        let Some(mut reverted) = self.ctx.store.get_at::<Job>(&snapshot).await? else {
            return Ok((
                None,
                format!("job version {version} is gone; not rolling back"),
            ));
        };
        reverted.metadata.version = job.metadata.version + 1;
        reverted.status = None;
        let mut snapshot = reverted.clone();
        // The job is guarded by the revision it was read at; the new
        // version's snapshot must not exist yet.
        reverted.metadata.resource_version = job.metadata.resource_version;
        snapshot.metadata.resource_version = 0;
        let job_key = keys.job(ns, &d.spec.job_id);
        let unit = Atomic::new().put_value(&job_key, &reverted)?.put_value(
            &keys.job_version(ns, &d.spec.job_id, reverted.metadata.version),
            &snapshot,
        )?;
        Ok((
            Some((version, unit)),
            format!("rolling back to job version {version}"),
        ))
    }
}

/// Wires the controller's triggers into the view's hooks.
pub fn register_hooks(
    queue: &WorkQueue<ObjectKey>,
    view: Arc<OnceLock<ClusterView>>,
    hooks: &mut Hooks,
) {
    hooks
        .deployments
        .push(on_object(queue, |d: &Deployment| Some(deployment_key(d))));
    hooks
        .deployment_admin
        .push(on_key(queue, &view, |view, key| view.object_key_at(key)));
    hooks.allocs.push(on_object_in_view(
        queue,
        &view,
        |view, a: &drover_api_types::Allocation| live_deployments(view, &ObjectKey::job_of(a)),
    ));
    hooks.alloc_status.push(on_key(queue, &view, |view, key| {
        view.alloc_at(key)
            .map(|a| live_deployments(view, &ObjectKey::job_of(&a)))
            .unwrap_or_default()
    }));
    hooks
        .jobs
        .push(on_object_in_view(queue, &view, |view, job: &Job| {
            live_deployments(
                view,
                &ObjectKey::new(&job.metadata.namespace, &job.metadata.name),
            )
        }));
}

/// A job's deployments that can still change.
fn live_deployments(view: &ClusterView, job: &ObjectKey) -> Vec<ObjectKey> {
    view.job_deployments(job)
        .iter()
        .filter(|d| !d.status.state.is_terminal())
        .map(deployment_key)
        .collect()
}

fn deployment_key(d: &Deployment) -> ObjectKey {
    ObjectKey::new(&d.metadata.namespace, &d.metadata.name)
}

/// Every deployment that can still change: the resync set.
pub fn resync_keys(view: &ClusterView) -> Vec<ObjectKey> {
    let mut keys = Vec::new();
    view.deployments.for_each(|_, d| {
        if !d.status.state.is_terminal() {
            keys.push(deployment_key(d));
        }
    });
    keys
}
