//! The job controller's side of deployments.
//!
//! A service job version whose groups have an `update` block rolls out
//! under a deployment. The job controller creates it — once per version,
//! in its own fenced transaction guarded by the key's absence, before the
//! version's first placements, so every allocation the version places
//! carries the deployment's id — and from then on only reads it: the
//! deployments controller owns its status. [`rollouts`] turns the
//! deployment into what the pure core needs per group ([`Rollout`]).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use drover_api_types::alloc::Allocation;
use drover_api_types::deployment::{
    rolling_update, DeploymentGroupSpec, DeploymentGroupStatus, DeploymentSpec, DeploymentState,
    DeploymentStatus,
};
use drover_api_types::update::update_kind;
use drover_api_types::{Deployment, Job, ObjectMeta, TaskGroup};
use drover_store::Atomic;

use crate::cluster::ObjectKey;
use crate::context::Context;
use crate::error::ReconcileError;
use crate::job::reconcile::Rollout;
use crate::versions::JobVersions;

pub use drover_api_types::deployment::deploys;

/// Per group, the old-version allocations that update in place, and
/// whether any needs replacing (only then does a group place canaries).
#[derive(Debug, Default)]
pub struct Outdated {
    pub in_place: BTreeMap<String, BTreeSet<String>>,
    pub replacing: BTreeSet<String>,
}

/// The deployment a new version starts with (pure). Groups with nothing to
/// replace want no canaries: there is no old version to compare with.
pub fn new_deployment(job: &Job, id: &str, outdated: &Outdated, now: DateTime<Utc>) -> Deployment {
    let mut spec = DeploymentSpec {
        job_id: job.metadata.name.clone(),
        job_uid: job.metadata.uid.clone(),
        job_version: job.metadata.version,
        created_at: Some(now),
        groups: BTreeMap::new(),
    };
    let mut status = DeploymentStatus {
        state: DeploymentState::Running,
        description: "Deployment is running".into(),
        updated_at: Some(now),
        ..Default::default()
    };
    for group in &job.spec.groups {
        let Some(u) = rolling_update(group) else {
            continue;
        };
        let progress = u.progress_deadline.map(|d| d.as_std()).unwrap_or_default();
        let group_spec = DeploymentGroupSpec {
            desired_total: u64::try_from(group.count).unwrap_or(0),
            desired_canaries: if outdated.replacing.contains(&group.name) {
                u.canary.and_then(|c| u64::try_from(c).ok()).unwrap_or(0)
            } else {
                0
            },
            max_parallel: u
                .max_parallel
                .and_then(|n| u64::try_from(n).ok())
                .unwrap_or(1),
            health_check: u.health_check.clone().unwrap_or_else(|| "checks".into()),
            min_healthy_time: u.min_healthy_time.unwrap_or_default(),
            healthy_deadline: u.healthy_deadline.unwrap_or_default(),
            progress_deadline: u.progress_deadline.unwrap_or_default(),
            auto_revert: u.auto_revert.unwrap_or(false),
            auto_promote: u.auto_promote.unwrap_or(false),
        };
        let deadline = (!progress.is_zero())
            .then(|| chrono::Duration::from_std(progress).ok())
            .flatten()
            .and_then(|d| now.checked_add_signed(d));
        status.groups.insert(
            group.name.clone(),
            DeploymentGroupStatus {
                require_progress_by: deadline,
                ..Default::default()
            },
        );
        spec.groups.insert(group.name.clone(), group_spec);
    }
    Deployment {
        metadata: ObjectMeta {
            name: id.to_string(),
            namespace: job.metadata.namespace.clone(),
            uid: id.to_string(),
            creation_timestamp: Some(now),
            ..Default::default()
        },
        spec,
        status,
    }
}

/// The deployment of `job`'s current version, created when it has none
/// yet; `None` when the version does not deploy.
pub async fn current_deployment(
    ctx: &Context,
    key: &ObjectKey,
    job: &Job,
    outdated: &Outdated,
    now: DateTime<Utc>,
) -> Result<Option<Deployment>, ReconcileError> {
    if !ctx.options.deployments || !deploys(job) {
        return Ok(None);
    }
    if let Some(d) = ctx.view.deployment_of(key, job) {
        return Ok(Some(d));
    }
    let id = uuid::Uuid::new_v4().to_string();
    let deployment = new_deployment(job, &id, outdated, now);
    let at = ctx.view.keys.deployment(&key.namespace, &id);
    // Guarded by the key's absence (the new object has no revision).
    let unit = Atomic::new().put_value(&at, &deployment)?;
    let mut batch = ctx.store.batch();
    batch.push(ctx.fence.guard(unit)?);
    let revision = batch.commit_atomic(&ctx.store).await?;
    tokio::time::timeout(
        std::time::Duration::from_secs(30),
        ctx.view.deployments.wait_revision(revision),
    )
    .await
    .map_err(|_| ReconcileError::CatchUp {
        cache: "deployments",
        revision,
    })?;
    tracing::info!(job = %key, version = job.metadata.version, deployment = %id, "deployment created");
    Ok(ctx.view.deployment_of(key, job))
}

/// Sorts the job's old-version allocations: which update in place, and
/// which groups have some to replace.
pub async fn outdated(
    ctx: &Context,
    versions: &JobVersions,
    key: &ObjectKey,
    job: &Job,
    allocs: &[Allocation],
) -> Result<Outdated, ReconcileError> {
    let mut out = Outdated::default();
    for group in &job.spec.groups {
        let mut in_place = BTreeSet::new();
        for a in allocs.iter().filter(|a| is_outdated(a, job, group)) {
            let old = versions
                .get(&ctx.store, &ctx.view, key, a.spec.job_version)
                .await?;
            let old_group = old
                .as_ref()
                .and_then(|j| j.spec.groups.iter().find(|g| g.name == group.name));
            // A version whose snapshot is gone cannot be compared: replace.
            if old_group.is_some_and(|g| !update_kind(g, group).is_destructive()) {
                in_place.insert(a.metadata.uid.clone());
            } else {
                out.replacing.insert(group.name.clone());
            }
        }
        out.in_place.insert(group.name.clone(), in_place);
    }
    Ok(out)
}

/// What `deployment` allows each of its groups.
pub fn rollouts(
    ctx: &Context,
    job: &Job,
    deployment: &Deployment,
    outdated: &Outdated,
) -> BTreeMap<String, Rollout> {
    let admin = ctx.view.deployment_admin_of(deployment);
    let state = deployment.status.state;
    let mut out = BTreeMap::new();
    for group in &job.spec.groups {
        let Some(spec) = deployment.spec.groups.get(&group.name) else {
            continue;
        };
        let status = deployment.status.groups.get(&group.name);
        let rollout = Rollout {
            deployment_id: deployment.metadata.name.clone(),
            active: state.is_active(),
            ended: matches!(state, DeploymentState::Failed | DeploymentState::Cancelled),
            promoted: spec.desired_canaries == 0 || status.is_some_and(|s| s.promoted),
            canaries: usize::try_from(spec.desired_canaries).unwrap_or(0),
            max_parallel: usize::try_from(spec.max_parallel).unwrap_or(1).max(1),
            in_place: outdated
                .in_place
                .get(&group.name)
                .cloned()
                .unwrap_or_default(),
            manual_health: admin.alloc_health.clone(),
        };
        out.insert(group.name.clone(), rollout);
    }
    out
}

/// A live allocation of `group` at an older version of `job`. Canaries are
/// not: they are promoted or stopped, never updated.
fn is_outdated(a: &Allocation, job: &Job, group: &TaskGroup) -> bool {
    a.spec.task_group == group.name
        && !a.spec.canary
        && a.spec.job_version < job.metadata.version
        && !a.status.client_status.is_terminal()
        && a.spec.desired_status == drover_api_types::alloc::DesiredStatus::Run
}

#[cfg(test)]
mod tests {
    use super::*;
    use drover_api_types::job::UpdateStrategy;
    use drover_api_types::JobType;

    fn service(max_parallel: i64) -> Job {
        let mut job = Job::named("web");
        job.spec.job_type = JobType::Service;
        job.spec.groups = vec![TaskGroup {
            name: "front".into(),
            update: Some(UpdateStrategy {
                max_parallel: Some(max_parallel),
                ..Default::default()
            }),
            ..Default::default()
        }];
        job
    }

    #[test]
    fn only_running_service_jobs_with_a_rolling_group_deploy() {
        assert!(deploys(&service(1)));
        // max_parallel = 0 switches rolling updates off (as in Nomad).
        assert!(!deploys(&service(0)));
        let mut batch = service(1);
        batch.spec.job_type = JobType::Batch;
        assert!(!deploys(&batch));
        let mut stopped = service(1);
        stopped.spec.stop = true;
        assert!(!deploys(&stopped));
        let mut parent = service(1);
        parent.spec.parameterized = Some(Default::default());
        assert!(!deploys(&parent));
    }
}
