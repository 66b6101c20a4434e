//! The job controller: keeps each job's allocations in line with its groups.
//!
//! Watches jobs, allocations (spec, binding, status), the placement
//! controller's explanations, and — for system jobs — nodes. Keyed by job.
//! Owns allocation specs (`allocations/`), the desired status copied into the
//! node index (`node-allocs/`), and job status (`jobs-status/`).
//!
//! Invariants:
//! - the plan comes from the pure cores ([`reconcile_group`](super::reconcile::reconcile_group),
//!   [`reconcile_system`]); this shell only reads the view and writes;
//! - a replacement and the stop of what it replaces land in one atomic unit,
//!   so a crash between them cannot leave both running or neither;
//! - a stop is guarded by the allocation's spec revision *and* by its
//!   binding as read (present at that revision, or absent), so the copy the
//!   agent watches can never keep an old desired status: if placement bound
//!   the allocation meanwhile, the unit fails and the next pass sees the
//!   binding;
//! - after a commit the reconcile waits until the allocation cache has its
//!   own writes, so the next pass of the same job never recomputes from a
//!   state that predates them (no duplicate placements);
//! - every write carries the leader fence;
//! - an allocation stopped while unbound is `complete` in the same unit
//!   (guarded by the binding's absence): nobody else would ever end it, and
//!   a pending allocation nobody will run keeps a job "running" and a purge
//!   waiting forever. Ones left pending by older versions are ended by the
//!   next pass of their job.
//!
//! A job whose key is gone, or a stopped job annotated
//! [`PURGE_ANNOTATION`], has its allocations stopped and, once they are all
//! terminal, its allocations, status and (for purge) the job itself deleted.
//! For a job read as gone, every one of those writes is guarded by the
//! job's absence: a new leader's caches list at different revisions, and a
//! job registered a moment ago may be missing while its allocations show.

use std::collections::BTreeSet;
use std::sync::{Arc, OnceLock};

use chrono::{DateTime, Utc};
use drover_api_types::alloc::{Allocation, AllocationStatus, ClientStatus, DesiredStatus};
use drover_api_types::job::JobStatus;
use drover_api_types::{Job, JobType, ObjectMeta, TaskGroup};
use drover_store::{Atomic, Guard, StoreError, Stored, Versioned};

use super::rollout;
use crate::cluster::triggers::{on_key, on_object};
use crate::cluster::{ClusterView, Hooks, ObjectKey};
use crate::context::{Context, COMMIT_IN_FLIGHT};
use crate::error::ReconcileError;
use crate::job::reconcile::{
    job_status, reconcile_rollout, reconcile_system, summary, system_eligible, GroupPlan,
    Placement, Rollout, REASON_GROUP_REMOVED, REASON_JOB_STOPPED, REASON_LOST, REASON_MIGRATING,
    REASON_UPDATED,
};
use crate::manager::{standard, Descriptor};
use crate::runtime::{Action, Reconcile, WorkQueue};
use crate::versions::JobVersions;

pub const NAME: &str = "job";

/// How the manager runs the job controller.
pub static DESCRIPTOR: Descriptor = Descriptor {
    name: NAME,
    wire: |wiring| {
        let workers = wiring.options.job_workers;
        standard(
            wiring,
            NAME,
            register_hooks,
            resync_keys,
            workers,
            JobController::new,
        )
    },
};

/// Set (to any value) on a stopped job to have it deleted once its
/// allocations are terminal.
pub const PURGE_ANNOTATION: &str = "drover.io/purge";

/// What ends an allocation stopped before placement bound it: no agent will
/// ever report on it, so the stop itself makes it terminal.
pub const UNPLACED_STOP_DESCRIPTION: &str = "stopped before it was placed";

/// Why a periodic or parameterized parent's own allocations are stopped.
const REASON_PARENT_JOB: &str =
    "alloc not needed: a periodic or parameterized job runs only as its children";

/// How long a reconcile waits for the cache to show its own writes. Going on
/// without them could place the same allocations twice, so a timeout is an
/// error (retried with backoff), never a shrug.
const CATCH_UP: std::time::Duration = std::time::Duration::from_secs(30);

async fn catch_up<T: Clone>(
    cache: &drover_store::Cache<T>,
    name: &'static str,
    revision: i64,
) -> Result<()> {
    tokio::time::timeout(CATCH_UP, cache.wait_revision(revision))
        .await
        .map_err(|_| ReconcileError::CatchUp {
            cache: name,
            revision,
        })
}

type Result<T> = std::result::Result<T, ReconcileError>;

pub struct JobController {
    ctx: Context,
    versions: JobVersions,
}

impl JobController {
    pub fn new(ctx: Context) -> Self {
        Self {
            ctx,
            versions: JobVersions::default(),
        }
    }

    /// What the current version's deployment allows each group (empty when
    /// the version does not deploy).
    async fn rollouts(
        &self,
        key: &ObjectKey,
        job: &Job,
        allocs: &[Allocation],
        now: DateTime<Utc>,
    ) -> Result<Rollouts> {
        if !self.ctx.options.deployments || !rollout::deploys(job) {
            return Ok(Rollouts::default());
        }
        let outdated = rollout::outdated(&self.ctx, &self.versions, key, job, allocs).await?;
        let Some(d) = rollout::current_deployment(&self.ctx, key, job, &outdated, now).await?
        else {
            return Ok(Rollouts::default());
        };
        let groups = rollout::rollouts(&self.ctx, job, &d, &outdated);
        Ok(Rollouts { groups })
    }
}

/// Per group, what the deployment allows.
#[derive(Default)]
struct Rollouts {
    groups: std::collections::BTreeMap<String, Rollout>,
}

impl Reconcile for JobController {
    type Key = ObjectKey;
    type Error = ReconcileError;

    async fn reconcile(&self, key: &ObjectKey) -> Result<Action> {
        let view = &self.ctx.view;
        let now = Utc::now();
        let allocs = view.job_allocs(key);
        let job = view.job(key);
        if let Some(job) = &job {
            if let Some(problem) = self.ctx.options.limits.exceeded_by(job) {
                // Planning it would hold every allocation in memory: refuse
                // it here, whatever wrote it, and say why in its status.
                tracing::warn!(job = %key, %problem, "job over the server's limits; not planned");
                self.write_status(key, job, &allocs, problem).await?;
                return Ok(Action::AwaitChange);
            }
        }
        let mut writes = Writes::new(&self.ctx);
        writes.end_unplaced_stops(&allocs, now)?;
        match &job {
            Some(job) => {
                let rollouts = self.rollouts(key, job, &allocs, now).await?;
                plan_job(view, job, &allocs, &rollouts, now, &self.ctx, &mut writes)?
            }
            None => stop_all_of_gone_job(key, &allocs, &mut writes)?,
        }
        let wrote = writes.commit(&self.ctx).await?;
        let allocs = if wrote { view.job_allocs(key) } else { allocs };
        match &job {
            Some(job) => {
                self.write_status(key, job, &allocs, String::new()).await?;
                if job.spec.stop && job.metadata.annotations.contains_key(PURGE_ANNOTATION) {
                    self.collect(key, &allocs, true).await?;
                }
            }
            None => self.collect(key, &allocs, false).await?,
        }
        Ok(Action::AwaitChange)
    }
}

/// Adds the plan of every group (and stops for removed groups) to `writes`.
fn plan_job(
    view: &ClusterView,
    job: &Job,
    allocs: &[Allocation],
    rollouts: &Rollouts,
    now: DateTime<Utc>,
    ctx: &Context,
    writes: &mut Writes,
) -> Result<()> {
    // A periodic or parameterized parent only launches children (Nomad).
    if job.spec.is_parent() {
        return stop_all(allocs, REASON_PARENT_JOB, writes);
    }
    let system = matches!(job.spec.job_type, JobType::System | JobType::Sysbatch);
    let nodes = if system { view.all_nodes() } else { Vec::new() };
    for group in &job.spec.groups {
        let plan = if system {
            let eligible = system_eligible(&nodes, job, group, &ctx.options.placement);
            reconcile_system(job, group, &eligible, allocs, now)
        } else {
            reconcile_rollout(job, group, allocs, rollouts.groups.get(&group.name), now)
        };
        let deployment = rollouts
            .groups
            .get(&group.name)
            .map(|r| r.deployment_id.as_str());
        writes.add_plan(job, group, &plan, allocs, deployment, now)?;
    }
    let groups: BTreeSet<&str> = job.spec.groups.iter().map(|g| g.name.as_str()).collect();
    let removed: Vec<Allocation> = allocs
        .iter()
        .filter(|a| !groups.contains(a.spec.task_group.as_str()))
        .cloned()
        .collect();
    stop_all(&removed, REASON_GROUP_REMOVED, writes)
}

/// Stops every allocation still meant to run.
/// Stops the allocations of a job the view does not hold, each stop
/// guarded by the job's absence: caches list at different revisions when
/// a leader starts, so the allocations of a job registered a moment ago
/// can show before the job does — those stops must fail, not land.
fn stop_all_of_gone_job(key: &ObjectKey, allocs: &[Allocation], writes: &mut Writes) -> Result<()> {
    let job_key = writes.view.keys.job(&key.namespace, &key.name);
    for a in still_running(allocs) {
        let unit = writes
            .stop(a, REASON_JOB_STOPPED)?
            .guard(job_key.clone(), Guard::Absent);
        writes.push(unit)?;
    }
    Ok(())
}

fn stop_all(allocs: &[Allocation], reason: &str, writes: &mut Writes) -> Result<()> {
    for a in still_running(allocs) {
        writes.push(writes.stop(a, reason)?)?;
    }
    Ok(())
}

/// The allocations meant to run that have not ended: the ones a stop
/// changes.
fn still_running(allocs: &[Allocation]) -> impl Iterator<Item = &Allocation> {
    allocs.iter().filter(|a| {
        a.spec.desired_status == DesiredStatus::Run && !a.status.client_status.is_terminal()
    })
}

impl JobController {
    async fn write_status(
        &self,
        key: &ObjectKey,
        job: &Job,
        allocs: &[Allocation],
        description: String,
    ) -> Result<()> {
        let view = &self.ctx.view;
        let status_key = view.keys.job_status(&key.namespace, &key.name);
        let placement = view
            .job_placement
            .get(&view.keys.job_placement(&key.namespace, &key.name))
            .map(|p| p.value)
            .unwrap_or_default();
        let status = JobStatus {
            status: job_status(job, allocs).to_string(),
            status_description: description,
            summary: job
                .spec
                .groups
                .iter()
                .map(|g| {
                    let of_group: Vec<Allocation> = allocs
                        .iter()
                        .filter(|a| a.spec.task_group == g.name)
                        .cloned()
                        .collect();
                    (g.name.clone(), summary(&of_group, job.metadata.version))
                })
                .collect(),
            placement_failures: placement,
            observed_version: job.metadata.version,
        };
        let current = view.job_status.get(&status_key);
        if current.as_ref().map(|c| &c.value) == Some(&status) {
            return Ok(());
        }
        let stored = Versioned {
            value: status,
            revision: current.map_or(0, |c| c.revision),
        };
        let unit = self
            .ctx
            .fence
            .guard(Atomic::new().put_value(&status_key, &stored)?)?;
        let mut batch = self.ctx.store.batch();
        batch.push(unit);
        let outcome = batch.commit(&self.ctx.store).await?;
        if !outcome.failed.is_empty() {
            return Err(ReconcileError::conflict(
                "the job's writes",
                outcome.failed.len(),
            ));
        }
        catch_up(&view.job_status, "job status", outcome.revision).await?;
        Ok(())
    }

    /// Deletes a finished job's allocations (and, for purge, the job) once
    /// every allocation is terminal.
    async fn collect(&self, key: &ObjectKey, allocs: &[Allocation], purge: bool) -> Result<()> {
        if allocs.iter().any(|a| !a.status.client_status.is_terminal()) {
            return Ok(());
        }
        let view = &self.ctx.view;
        let keys = &view.keys;
        let mut batch = self.ctx.store.batch();
        for a in allocs {
            let (ns, id) = (&a.metadata.namespace, &a.metadata.uid);
            let mut unit = Atomic::new()
                .guard(
                    keys.alloc(ns, id),
                    Guard::Revision(a.metadata.resource_version),
                )
                .delete(keys.alloc(ns, id))
                .delete(keys.alloc_binding(ns, id));
            let node = a.binding.as_ref().map(|b| b.node_id.as_str());
            for status in keys.alloc_status_keys(node, ns, id) {
                unit = unit.delete(status);
            }
            if let Some(node) = node {
                unit = unit.delete(keys.node_alloc(node, ns, id));
            }
            if !purge {
                // The job was read as gone: it must still be (see
                // `stop_all_of_gone_job`).
                unit = unit.guard(keys.job(&key.namespace, &key.name), Guard::Absent);
            }
            batch.push(self.ctx.fence.guard(unit)?);
        }
        if purge {
            let job = Atomic::new()
                .delete(keys.job(&key.namespace, &key.name))
                .delete(keys.job_status(&key.namespace, &key.name))
                .delete(keys.job_placement(&key.namespace, &key.name));
            batch.push(self.ctx.fence.guard(job)?);
        } else if view
            .job_status
            .get(&keys.job_status(&key.namespace, &key.name))
            .is_some()
        {
            let status = Atomic::new()
                .guard(keys.job(&key.namespace, &key.name), Guard::Absent)
                .delete(keys.job_status(&key.namespace, &key.name));
            batch.push(self.ctx.fence.guard(status)?);
        }
        if batch.is_empty() {
            return Ok(());
        }
        let outcome = batch.commit(&self.ctx.store).await?;
        if !outcome.failed.is_empty() {
            return Err(ReconcileError::conflict(
                "the job's writes",
                outcome.failed.len(),
            ));
        }
        tracing::info!(job = %key, allocations = allocs.len(), purge, "job collected");
        Ok(())
    }
}

/// The units of one reconcile, fenced, committed together.
struct Writes {
    view: ClusterView,
    units: Vec<Atomic>,
    fence: crate::context::Fence,
}

impl Writes {
    fn new(ctx: &Context) -> Self {
        Self {
            view: ctx.view.clone(),
            units: Vec::new(),
            fence: ctx.fence.clone(),
        }
    }

    fn push(&mut self, unit: Atomic) -> Result<()> {
        self.units.push(self.fence.guard(unit)?);
        Ok(())
    }

    fn add_plan(
        &mut self,
        job: &Job,
        group: &TaskGroup,
        plan: &GroupPlan,
        allocs: &[Allocation],
        deployment: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        if plan.is_empty() {
            return Ok(());
        }
        let new = NewAlloc {
            job,
            group,
            deployment,
            now,
        };
        let by_id = |id: &str| allocs.iter().find(|a| a.metadata.uid == id);
        for (id, reason) in &plan.stop {
            if let Some(a) = by_id(id) {
                let unit = self.stop(a, reason)?;
                self.push(unit)?;
            }
        }
        for p in plan
            .place
            .iter()
            .chain(&plan.reschedule)
            .chain(&plan.canary)
            // The unknown original stays as it is: its node may come back.
            .chain(&plan.disconnected)
        {
            let unit = self.create(&new, p)?;
            self.push(unit)?;
        }
        for id in &plan.in_place_update {
            if let Some(a) = by_id(id) {
                let version = job.metadata.version;
                // It joins the version's deployment, as in Nomad: its agent
                // judges it healthy for that deployment too, so the
                // rollout counts (and waits for) every allocation of it.
                let unit = self.rewrite(a, |spec| {
                    spec.spec.job_version = version;
                    if let Some(d) = deployment {
                        spec.spec.deployment_id = Some(d.to_string());
                    }
                })?;
                self.push(unit)?;
            }
        }
        for id in &plan.promote {
            if let Some(a) = by_id(id) {
                let unit = self.rewrite(a, |spec| spec.spec.canary = false)?;
                self.push(unit)?;
            }
        }
        let replacing = [
            (&plan.lost, REASON_LOST),
            (&plan.destructive_update, REASON_UPDATED),
            (&plan.migrate, REASON_MIGRATING),
        ];
        for (bucket, reason) in replacing {
            for p in bucket {
                let old = p.previous_allocation.as_deref().and_then(by_id);
                let mut unit = self.create(&new, p)?;
                if let Some(old) = old.filter(|a| a.spec.desired_status == DesiredStatus::Run) {
                    unit = unit.merge(self.stop(old, reason)?);
                }
                self.push(unit)?;
            }
        }
        Ok(())
    }

    fn create(&self, new: &NewAlloc, p: &Placement) -> Result<Atomic> {
        let alloc = new_alloc(new, p);
        let key = self
            .view
            .keys
            .alloc(&alloc.metadata.namespace, &alloc.metadata.uid);
        Ok(Atomic::new().put_value(&key, &alloc)?)
    }

    /// Sets desired status stop on the spec and on the node's copy, guarded
    /// by the spec's revision and the binding as read; an unbound
    /// allocation ends in the same unit.
    fn stop(&self, a: &Allocation, reason: &str) -> Result<Atomic> {
        let unit = self.rewrite(a, |spec| {
            spec.spec.desired_status = DesiredStatus::Stop;
            spec.spec.desired_description = reason.to_string();
        })?;
        match self.unplaced_end(a, Utc::now())? {
            Some(end) => Ok(unit.put_value(&end.0, &end.1)?),
            None => Ok(unit),
        }
    }

    /// The terminal status of `a` when it is unbound and not yet terminal
    /// (its key and value, guarded by the status as read).
    fn unplaced_end(
        &self,
        a: &Allocation,
        now: DateTime<Utc>,
    ) -> Result<Option<(String, Versioned<AllocationStatus>)>> {
        let keys = &self.view.keys;
        let (ns, id) = (&a.metadata.namespace, &a.metadata.uid);
        if a.status.client_status.is_terminal()
            || self
                .view
                .bindings
                .get(&keys.alloc_binding(ns, id))
                .is_some()
        {
            return Ok(None);
        }
        let key = keys.alloc_status(None, ns, id);
        let revision = self.view.alloc_status.get(&key).map_or(0, |s| s.revision);
        let status = AllocationStatus {
            client_status: ClientStatus::Complete,
            client_description: UNPLACED_STOP_DESCRIPTION.into(),
            updated_at: Some(now),
            ..Default::default()
        };
        Ok(Some((
            key,
            Versioned {
                value: status,
                revision,
            },
        )))
    }

    /// Ends the allocations already stopped while unbound (by an older
    /// drover, or a stop whose unit lost a race with nothing else to
    /// change), each guarded by its spec and the binding's absence.
    fn end_unplaced_stops(&mut self, allocs: &[Allocation], now: DateTime<Utc>) -> Result<()> {
        for a in allocs
            .iter()
            .filter(|a| a.spec.desired_status != DesiredStatus::Run)
        {
            let Some((key, status)) = self.unplaced_end(a, now)? else {
                continue;
            };
            let keys = &self.view.keys;
            let (ns, id) = (&a.metadata.namespace, &a.metadata.uid);
            let unit = Atomic::new()
                .guard(
                    keys.alloc(ns, id),
                    Guard::Revision(a.metadata.resource_version),
                )
                .guard(keys.alloc_binding(ns, id), Guard::Absent)
                .put_value(&key, &status)?;
            self.push(unit)?;
        }
        Ok(())
    }

    /// Changes the spec and the node's copy alike, guarded by the spec's
    /// revision and the binding as read.
    fn rewrite(&self, a: &Allocation, change: impl FnOnce(&mut Allocation)) -> Result<Atomic> {
        let keys = &self.view.keys;
        let (ns, id) = (&a.metadata.namespace, &a.metadata.uid);
        let mut spec = a.clone();
        spec.binding = None;
        spec.status = AllocationStatus::default();
        change(&mut spec);
        let mut unit = Atomic::new().put_value(&keys.alloc(ns, id), &spec)?;
        let binding_key = keys.alloc_binding(ns, id);
        match self.view.bindings.get(&binding_key) {
            Some(binding) => {
                let mut on_node = spec.clone();
                on_node.binding = Some(binding.value.clone());
                on_node.metadata.resource_version = 0;
                unit = unit
                    .guard(binding_key, Guard::Revision(binding.revision))
                    .put(
                        keys.node_alloc(&binding.value.node_id, ns, id),
                        encode(&on_node)?,
                    );
            }
            None => unit = unit.guard(binding_key, Guard::Absent),
        }
        Ok(unit)
    }
}

fn encode<V: Stored>(value: &V) -> Result<Vec<u8>> {
    value.encode().map_err(|source| {
        ReconcileError::Store(StoreError::Encode {
            key: String::new(),
            source,
        })
    })
}

/// What a new allocation is made from.
struct NewAlloc<'a> {
    job: &'a Job,
    group: &'a TaskGroup,
    /// The deployment placing it, if any.
    deployment: Option<&'a str>,
    now: DateTime<Utc>,
}

/// A new allocation for placement `p`.
fn new_alloc(new: &NewAlloc, p: &Placement) -> Allocation {
    let NewAlloc {
        job,
        group,
        deployment,
        now,
    } = *new;
    let mut a = Allocation {
        metadata: ObjectMeta {
            name: p.name.clone(),
            namespace: job.metadata.namespace.clone(),
            uid: uuid::Uuid::new_v4().to_string(),
            creation_timestamp: Some(now),
            ..Default::default()
        },
        ..Default::default()
    };
    let spec = &mut a.spec;
    spec.job_id = job.metadata.name.clone();
    spec.job_version = job.metadata.version;
    spec.task_group = group.name.clone();
    spec.index = p.index;
    spec.previous_allocation = p.previous_allocation.clone();
    spec.reschedule_events = p.reschedule_events.clone();
    spec.not_before = p.not_before;
    spec.target_node = p.target_node.clone();
    spec.canary = p.canary;
    spec.deployment_id = deployment.map(str::to_string);
    a
}

impl Writes {
    /// Commits every unit; a failed guard means the view was stale.
    async fn commit(self, ctx: &Context) -> Result<bool> {
        if self.units.is_empty() {
            return Ok(false);
        }
        let mut batch = ctx.store.batch();
        for unit in self.units {
            batch.push(unit);
        }
        let outcome = batch
            .commit_concurrent(&ctx.store, COMMIT_IN_FLIGHT)
            .await?;
        if outcome.revision > 0 {
            catch_up(&ctx.view.allocs, "allocation", outcome.revision).await?;
        }
        if !outcome.failed.is_empty() {
            return Err(ReconcileError::conflict(
                "the job's writes",
                outcome.failed.len(),
            ));
        }
        Ok(true)
    }
}

/// Wires the job controller's triggers into the view's hooks.
pub fn register_hooks(
    queue: &WorkQueue<ObjectKey>,
    view: Arc<OnceLock<ClusterView>>,
    hooks: &mut Hooks,
) {
    hooks
        .jobs
        .push(on_object(queue, |job: &Job| Some(job_key(job))));
    hooks.allocs.push(on_object(queue, |a: &Allocation| {
        Some(ObjectKey::job_of(a))
    }));
    let job_of_alloc_at =
        |view: &ClusterView, key: &str| view.alloc_at(key).map(|a| ObjectKey::job_of(&a));
    hooks
        .alloc_status
        .push(on_key(queue, &view, job_of_alloc_at));
    hooks.bindings.push(on_key(queue, &view, job_of_alloc_at));
    hooks
        .job_placement
        .push(on_key(queue, &view, |view, key| view.object_key_at(key)));
    // A deployment's state (paused, promoted, failed) and the operators'
    // intent change what its job may do.
    hooks
        .deployments
        .push(on_object(queue, |d: &drover_api_types::Deployment| {
            Some(ObjectKey::new(&d.metadata.namespace, &d.spec.job_id))
        }));
    hooks
        .deployment_admin
        .push(on_key(queue, &view, |view, key| {
            let k = view.object_key_at(key)?;
            let d = view
                .deployments
                .get(&view.keys.deployment(&k.namespace, &k.name))?;
            Some(ObjectKey::new(k.namespace, d.spec.job_id))
        }));
    // System jobs follow the nodes.
    let system_jobs = {
        let q = queue.clone();
        move || {
            if let Some(view) = view.get() {
                view.jobs.for_each(|_, job| {
                    if matches!(job.spec.job_type, JobType::System | JobType::Sysbatch) {
                        q.add(job_key(job));
                    }
                });
            }
        }
    };
    let s = Arc::new(system_jobs);
    let f = s.clone();
    hooks.nodes.push(Arc::new(move |_| f()));
    let f = s.clone();
    hooks.node_status.push(Arc::new(move |_| f()));
    hooks.node_admin.push(Arc::new(move |_| s()));
}

fn job_key(job: &Job) -> ObjectKey {
    ObjectKey::new(&job.metadata.namespace, &job.metadata.name)
}

/// Every job and every job that still has allocations: the resync set.
pub fn resync_keys(view: &ClusterView) -> Vec<ObjectKey> {
    let mut keys: BTreeSet<ObjectKey> = view.job_keys().into_iter().collect();
    keys.extend(view.jobs_with_allocs());
    keys.into_iter().collect()
}
