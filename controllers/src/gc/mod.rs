//! The pure core of garbage collection: from one snapshot of the cluster,
//! which terminal allocations, finished jobs, finished deployments and old
//! job versions may be deleted now. No I/O, no clock: `now` is an argument.
//!
//! What is never collected (the table and property tests hold these):
//! - an allocation that is not terminal;
//! - a terminal allocation of a live job (present, not stopped, not
//!   collected in this pass) that is still meant to run (desired `run`) and
//!   that no other allocation replaces: it holds its group index, so
//!   deleting it would make the job controller place its index again (a
//!   failed allocation awaiting its reschedule, a completed batch
//!   allocation whose work is done);
//! - a job with a non-terminal allocation, or a live service job;
//! - a job's current version, its newest stable version (the auto-revert
//!   target), a version a non-terminal allocation runs (the agent loads its
//!   allocation's snapshot) or a non-terminal deployment rolls out;
//! - the newest deployment of a live job, a deployment that is not
//!   terminal (unless its job is gone), or one a running allocation names.
//!
//! Every deletion the shell derives from the plan is guarded: allocations
//! by their spec's revision and by their job as read (absent, or at the
//! revision read) when the job's state is why they go; versions and jobs by
//! the job's revision, so a registration in between wins.

pub mod compaction;
pub mod controller;
pub mod metrics;
pub use controller::{GcController, DESCRIPTOR, NAME};

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use drover_api_types::alloc::{Allocation, DesiredStatus};
use drover_api_types::deployment::Deployment;
use drover_api_types::Job;

use crate::cluster::ObjectKey;
use crate::job::reconcile::job_status;

/// When things become collectable (server flags).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thresholds {
    /// How long a collectable allocation stays after it became terminal.
    pub alloc: Duration,
    /// How long a stopped or dead job stays after it finished.
    pub job: Duration,
    /// How long a terminal deployment stays after its last update.
    pub deployment: Duration,
    /// Job versions kept per job (more are kept when in use).
    pub versions_kept: usize,
    /// Deletion units (one allocation, one version, one job…) per pass.
    pub max_per_pass: usize,
}

impl Default for Thresholds {
    /// Nomad's defaults.
    fn default() -> Self {
        Thresholds {
            alloc: Duration::from_secs(3600),
            job: Duration::from_secs(4 * 3600),
            deployment: Duration::from_secs(3600),
            versions_kept: 6,
            max_per_pass: 2_000,
        }
    }
}

/// What one pass looks at.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Current jobs, with their `resource_version`.
    pub jobs: Vec<Job>,
    /// Every allocation, whole (spec, binding, status).
    pub allocs: Vec<Allocation>,
    /// Allocation ids that have a binding or status key, with the node of
    /// the binding: parts whose spec is gone are collected.
    pub alloc_parts: BTreeMap<ObjectKey, Option<String>>,
    /// Stored version snapshots per job (`jobs-versions/`).
    pub versions: BTreeMap<ObjectKey, BTreeSet<u64>>,
    /// Versions marked stable per job (`jobs-stable/`).
    pub stable: BTreeMap<ObjectKey, BTreeSet<u64>>,
    /// Jobs with a status, placement or launch record (`jobs-status/`,
    /// `jobs-placement/`, `jobs-periodic/`): left over once the job is gone.
    pub job_records: BTreeSet<ObjectKey>,
    pub deployments: Vec<Deployment>,
    /// When this server first saw each job finished (from earlier passes'
    /// [`GcPlan::finished`]); a job first seen now counts from `now`.
    pub finished_since: BTreeMap<ObjectKey, DateTime<Utc>>,
}

/// What a deletion requires of the job an allocation or deployment
/// belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobGuard {
    /// Nothing: the allocation itself says it is done (stopped, replaced).
    None,
    /// The job must still be absent.
    Absent,
    /// The job must still be at this revision (stopped or dead as read).
    Revision(i64),
}

/// One allocation to delete, with all its keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllocGc {
    pub key: ObjectKey,
    pub job: ObjectKey,
    /// The node of its binding (for its `node-allocs/` entry).
    pub node: Option<String>,
    /// The spec's revision as read.
    pub revision: i64,
    pub job_guard: JobGuard,
}

/// A finished job to delete with its records, versions and stability
/// marks. Its allocations and deployments are in their own buckets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobGc {
    pub key: ObjectKey,
    pub revision: i64,
    pub versions: Vec<u64>,
    pub stable: Vec<u64>,
}

/// A deployment to delete with its operators' key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeploymentGc {
    pub key: ObjectKey,
    pub job: ObjectKey,
    pub revision: i64,
    /// A job read as gone must still be absent: the snapshot's jobs come
    /// from the view and the deployments from a later listing, so a job
    /// registered a moment ago can have a deployment the view's jobs do
    /// not show yet.
    pub job_guard: JobGuard,
}

/// Old versions of a live job, guarded by the job's revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionsGc {
    pub job: ObjectKey,
    pub job_revision: i64,
    pub versions: Vec<u64>,
    /// Of those, the ones with a stability mark to delete too.
    pub stable: Vec<u64>,
}

/// What is left of a job that is gone (purged, or collected in a pass
/// whose later units failed): guarded by the job's absence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeftoverGc {
    pub job: ObjectKey,
    pub versions: Vec<u64>,
    pub stable: Vec<u64>,
}

/// A pass's decisions, by bucket.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GcPlan {
    pub allocs: Vec<AllocGc>,
    pub jobs: Vec<JobGc>,
    pub deployments: Vec<DeploymentGc>,
    pub versions: Vec<VersionsGc>,
    pub leftovers: Vec<LeftoverGc>,
    /// Bindings and statuses whose allocation spec is gone: `(key, node)`.
    pub orphan_parts: Vec<(ObjectKey, Option<String>)>,
    /// Jobs seen finished now (stopped or dead, every allocation
    /// terminal): the shell remembers since when.
    pub finished: Vec<ObjectKey>,
    /// More was collectable than `max_per_pass` allowed.
    pub truncated: bool,
}

impl GcPlan {
    pub fn is_empty(&self) -> bool {
        self.allocs.is_empty()
            && self.jobs.is_empty()
            && self.deployments.is_empty()
            && self.versions.is_empty()
            && self.leftovers.is_empty()
            && self.orphan_parts.is_empty()
    }
}

/// The plan for one pass over `snap`.
pub fn collect(snap: &Snapshot, now: DateTime<Utc>, t: &Thresholds) -> GcPlan {
    let idx = Index::of(snap);
    let mut plan = GcPlan::default();
    let mut budget = Budget(t.max_per_pass);
    let mut collected_jobs: BTreeMap<ObjectKey, i64> = BTreeMap::new();
    for job in &snap.jobs {
        let key = job_key(job);
        let allocs = idx.allocs_of(&key);
        if !is_finished(job, &allocs) {
            continue;
        }
        plan.finished.push(key.clone());
        let since = snap.finished_since.get(&key).copied().unwrap_or(now);
        let since = allocs
            .iter()
            .filter_map(terminal_since)
            .fold(since, DateTime::max);
        if !elapsed(since, now, t.job) {
            continue;
        }
        let deployments = idx.deployments_of(&key);
        if !budget.take(allocs.len() + deployments.len() + 1) {
            plan.truncated = true;
            continue;
        }
        let rev = job.metadata.resource_version;
        collected_jobs.insert(key.clone(), rev);
        plan.allocs
            .extend(allocs.iter().map(|a| alloc_gc(a, JobGuard::Revision(rev))));
        plan.deployments.extend(
            deployments
                .iter()
                .map(|d| deployment_gc(d, JobGuard::Revision(rev))),
        );
        plan.jobs.push(JobGc {
            revision: rev,
            versions: set_of(&snap.versions, &key).into_iter().collect(),
            stable: set_of(&snap.stable, &key).into_iter().collect(),
            key,
        });
    }
    collect_allocs(snap, &idx, &collected_jobs, now, t, &mut budget, &mut plan);
    collect_deployments(&idx, &collected_jobs, now, t, &mut budget, &mut plan);
    collect_versions(snap, &idx, &collected_jobs, t, &mut budget, &mut plan);
    collect_leftovers(snap, &idx, &mut budget, &mut plan);
    plan
}

/// Lookups over a snapshot.
struct Index<'a> {
    jobs: BTreeMap<ObjectKey, &'a Job>,
    allocs: BTreeMap<ObjectKey, Vec<&'a Allocation>>,
    /// Ids that another allocation names as `previous_allocation`.
    replaced: BTreeSet<(String, String)>,
    deployments: BTreeMap<ObjectKey, Vec<&'a Deployment>>,
    /// Deployment ids a non-terminal allocation names.
    deployments_in_use: BTreeSet<(String, String)>,
    alloc_ids: BTreeSet<ObjectKey>,
}

impl<'a> Index<'a> {
    fn of(snap: &'a Snapshot) -> Self {
        let mut idx = Index {
            jobs: snap.jobs.iter().map(|j| (job_key(j), j)).collect(),
            allocs: BTreeMap::new(),
            replaced: BTreeSet::new(),
            deployments: BTreeMap::new(),
            deployments_in_use: BTreeSet::new(),
            alloc_ids: BTreeSet::new(),
        };
        for a in &snap.allocs {
            let ns = a.metadata.namespace.clone();
            idx.allocs.entry(ObjectKey::job_of(a)).or_default().push(a);
            idx.alloc_ids.insert(ObjectKey::new(&ns, &a.metadata.uid));
            if let Some(prev) = &a.spec.previous_allocation {
                idx.replaced.insert((ns.clone(), prev.clone()));
            }
            if let Some(d) = a.spec.deployment_id.as_ref() {
                if !a.status.client_status.is_terminal() {
                    idx.deployments_in_use.insert((ns, d.clone()));
                }
            }
        }
        for d in &snap.deployments {
            let job = ObjectKey::new(&d.metadata.namespace, &d.spec.job_id);
            idx.deployments.entry(job).or_default().push(d);
        }
        idx
    }

    fn allocs_of(&self, job: &ObjectKey) -> Vec<Allocation> {
        self.allocs
            .get(job)
            .map(|v| v.iter().map(|a| (*a).clone()).collect())
            .unwrap_or_default()
    }

    fn deployments_of(&self, job: &ObjectKey) -> Vec<&'a Deployment> {
        self.deployments.get(job).cloned().unwrap_or_default()
    }

    fn is_replaced(&self, a: &Allocation) -> bool {
        self.replaced
            .contains(&(a.metadata.namespace.clone(), a.metadata.uid.clone()))
    }
}

/// Counts deletion units against the per-pass bound.
struct Budget(usize);

impl Budget {
    fn take(&mut self, n: usize) -> bool {
        if n > self.0 {
            self.0 = 0;
            return false;
        }
        self.0 -= n;
        true
    }
}

/// Stopped, or a batch job whose work is done, with nothing running.
fn is_finished(job: &Job, allocs: &[Allocation]) -> bool {
    job_status(job, allocs) == "dead"
}

/// Terminal allocations whose own state, or whose job's, lets them go.
fn collect_allocs(
    snap: &Snapshot,
    idx: &Index<'_>,
    collected: &BTreeMap<ObjectKey, i64>,
    now: DateTime<Utc>,
    t: &Thresholds,
    budget: &mut Budget,
    plan: &mut GcPlan,
) {
    for a in &snap.allocs {
        let job = ObjectKey::job_of(a);
        if collected.contains_key(&job) || !a.status.client_status.is_terminal() {
            continue;
        }
        if terminal_since(a).is_some_and(|since| !elapsed(since, now, t.alloc)) {
            continue;
        }
        let guard = match idx.jobs.get(&job) {
            None => JobGuard::Absent,
            Some(j) if j.spec.stop => JobGuard::Revision(j.metadata.resource_version),
            Some(_) if a.spec.desired_status != DesiredStatus::Run || idx.is_replaced(a) => {
                JobGuard::None
            }
            Some(_) => continue,
        };
        if !budget.take(1) {
            plan.truncated = true;
            return;
        }
        plan.allocs.push(alloc_gc(a, guard));
    }
    for (key, node) in &snap.alloc_parts {
        if idx.alloc_ids.contains(key) {
            continue;
        }
        if !budget.take(1) {
            plan.truncated = true;
            return;
        }
        plan.orphan_parts.push((key.clone(), node.clone()));
    }
}

/// Terminal deployments past the threshold, except each live job's newest;
/// every deployment of a job that is gone.
fn collect_deployments(
    idx: &Index<'_>,
    collected: &BTreeMap<ObjectKey, i64>,
    now: DateTime<Utc>,
    t: &Thresholds,
    budget: &mut Budget,
    plan: &mut GcPlan,
) {
    for (job, deployments) in &idx.deployments {
        if collected.contains_key(job) {
            continue;
        }
        let gone = !idx.jobs.contains_key(job);
        let newest = deployments.iter().max_by_key(|d| deployment_order(d));
        for d in deployments {
            let in_use = idx
                .deployments_in_use
                .contains(&(d.metadata.namespace.clone(), d.metadata.uid.clone()));
            let collectable = gone
                || (d.status.state.is_terminal()
                    && !in_use
                    && newest.is_some_and(|n| !std::ptr::eq(*n, *d))
                    && deployment_since(d).is_none_or(|s| elapsed(s, now, t.deployment)));
            if !collectable {
                continue;
            }
            if !budget.take(1) {
                plan.truncated = true;
                return;
            }
            let job_guard = if gone {
                JobGuard::Absent
            } else {
                JobGuard::None
            };
            plan.deployments.push(deployment_gc(d, job_guard));
        }
    }
}

/// Versions of live jobs beyond the newest `versions_kept`, except those
/// still needed.
fn collect_versions(
    snap: &Snapshot,
    idx: &Index<'_>,
    collected: &BTreeMap<ObjectKey, i64>,
    t: &Thresholds,
    budget: &mut Budget,
    plan: &mut GcPlan,
) {
    for (key, job) in &idx.jobs {
        if collected.contains_key(key) {
            continue;
        }
        let stored = set_of(&snap.versions, key);
        let stable = set_of(&snap.stable, key);
        let mut keep: BTreeSet<u64> = stored.iter().rev().take(t.versions_kept).copied().collect();
        keep.insert(job.metadata.version);
        keep.extend(stable.iter().next_back());
        for a in idx.allocs.get(key).into_iter().flatten() {
            if !a.status.client_status.is_terminal() {
                keep.insert(a.spec.job_version);
            }
        }
        for d in idx.deployments.get(key).into_iter().flatten() {
            if !d.status.state.is_terminal() {
                keep.insert(d.spec.job_version);
            }
        }
        let versions: Vec<u64> = stored
            .union(&stable)
            .filter(|v| !keep.contains(v))
            .copied()
            .collect();
        if versions.is_empty() {
            continue;
        }
        if !budget.take(1) {
            plan.truncated = true;
            return;
        }
        plan.versions.push(VersionsGc {
            job: key.clone(),
            job_revision: job.metadata.resource_version,
            stable: versions
                .iter()
                .filter(|v| stable.contains(v))
                .copied()
                .collect(),
            versions: versions
                .into_iter()
                .filter(|v| stored.contains(v))
                .collect(),
        });
    }
}

/// Versions, marks and records of jobs that are gone.
fn collect_leftovers(snap: &Snapshot, idx: &Index<'_>, budget: &mut Budget, plan: &mut GcPlan) {
    let named: BTreeSet<&ObjectKey> = snap
        .versions
        .keys()
        .chain(snap.stable.keys())
        .chain(&snap.job_records)
        .collect();
    for job in named {
        if idx.jobs.contains_key(job) {
            continue;
        }
        if !budget.take(1) {
            plan.truncated = true;
            return;
        }
        plan.leftovers.push(LeftoverGc {
            job: job.clone(),
            versions: set_of(&snap.versions, job).into_iter().collect(),
            stable: set_of(&snap.stable, job).into_iter().collect(),
        });
    }
}

fn alloc_gc(a: &Allocation, job_guard: JobGuard) -> AllocGc {
    AllocGc {
        key: ObjectKey::new(&a.metadata.namespace, &a.metadata.uid),
        job: ObjectKey::job_of(a),
        node: a.binding.as_ref().map(|b| b.node_id.clone()),
        revision: a.metadata.resource_version,
        job_guard,
    }
}

fn deployment_gc(d: &Deployment, job_guard: JobGuard) -> DeploymentGc {
    DeploymentGc {
        key: ObjectKey::new(&d.metadata.namespace, &d.metadata.name),
        job: ObjectKey::new(&d.metadata.namespace, &d.spec.job_id),
        revision: d.metadata.resource_version,
        job_guard,
    }
}

/// Newest last: by job version, then creation.
fn deployment_order(d: &Deployment) -> (u64, Option<DateTime<Utc>>, &str) {
    (
        d.spec.job_version,
        d.spec.created_at,
        d.metadata.name.as_str(),
    )
}

fn deployment_since(d: &Deployment) -> Option<DateTime<Utc>> {
    d.status.updated_at.or(d.spec.created_at)
}

/// When an allocation became terminal, as best known: its status's last
/// update or its tasks' last finish. `None` when nothing says (it then
/// counts as long ago: a status without times predates them).
pub fn terminal_since(a: &Allocation) -> Option<DateTime<Utc>> {
    let finished = a.status.task_states.values().filter_map(|s| s.finished_at);
    a.status.updated_at.into_iter().chain(finished).max()
}

fn elapsed(since: DateTime<Utc>, now: DateTime<Utc>, threshold: Duration) -> bool {
    match chrono::Duration::from_std(threshold) {
        Ok(threshold) => now.signed_duration_since(since) >= threshold,
        Err(_) => false,
    }
}

fn set_of(map: &BTreeMap<ObjectKey, BTreeSet<u64>>, key: &ObjectKey) -> BTreeSet<u64> {
    map.get(key).cloned().unwrap_or_default()
}

fn job_key(job: &Job) -> ObjectKey {
    ObjectKey::new(&job.metadata.namespace, &job.metadata.name)
}
