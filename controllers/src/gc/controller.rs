//! The garbage collector's shell around the pure [`gc`](crate::gc) core.
//!
//! Key: one, [`Pass`]; it runs every `--gc-interval` (sooner when a pass
//! hit its bound). Reads the view (jobs, allocations, bindings, statuses,
//! job status and placement records) and, each pass, lists what the view
//! does not hold: the keys of `jobs-versions/`, `jobs-stable/` and
//! `jobs-periodic/`, and `deployments/`. A version's `jobs-sources/` key
//! is deleted with the version. Owns no field: it only deletes, and only
//! what the core decided.
//!
//! Invariants: every unit is fenced and guarded (an allocation by its
//! spec's revision and, when its job's state is the reason, by the job as
//! read; versions and jobs by the job's revision; leftovers of a gone job
//! by its absence; orphan binding and status keys by their spec's
//! absence), so a registration, an update or a placement that lands
//! between the snapshot and the commit wins and the unit is dropped; a
//! job's own key is deleted only after its allocations, deployments and
//! versions, in a later transaction, so a crash leaves leftovers a later
//! pass finds rather than allocations without their job's guard.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use drover_api_types::deployment::Deployment;
use drover_store::keys::collections as c;
use drover_store::{Atomic, Batch, Guard, Keys};

use crate::cluster::ObjectKey;
use crate::context::{Context, COMMIT_IN_FLIGHT};
use crate::error::ReconcileError;
use crate::gc::metrics::GcMetrics;
use crate::gc::{
    collect, AllocGc, DeploymentGc, GcPlan, JobGc, JobGuard, LeftoverGc, Snapshot, VersionsGc,
};
use crate::manager::Descriptor;
use crate::runtime::{Action, Controller, Reconcile};

/// The controller's name (work queue, metrics, logs, `--disable-controller`).
pub const NAME: &str = "gc";

/// How the manager runs the garbage collector: one key (a pass), one
/// worker; it requeues itself, so it needs no hooks and no resync.
pub static DESCRIPTOR: Descriptor = Descriptor {
    name: NAME,
    wire: |wiring| {
        let queue = wiring.queue::<Pass>(NAME);
        let metrics = wiring.metrics.gc_stats.clone();
        Box::new(move |ctx: Context, stop| {
            queue.add(Pass);
            let controller = Controller::new(Arc::new(GcController::new(ctx, metrics)), queue, 1);
            Box::pin(controller.run(stop))
        })
    },
};

/// Version keys deleted per transaction unit (etcd's `--max-txn-ops`
/// defaults to 128).
const KEYS_PER_UNIT: usize = 64;

/// The next pass after one that hit `max_per_pass`.
const CONTINUE_AFTER: Duration = Duration::from_secs(1);

/// The garbage collector's only key: one pass over everything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Pass;

pub fn resync_keys() -> Vec<Pass> {
    vec![Pass]
}

pub struct GcController {
    ctx: Context,
    metrics: GcMetrics,
    /// When each finished job was first seen finished, by this leader.
    finished_since: Mutex<BTreeMap<ObjectKey, DateTime<Utc>>>,
}

impl GcController {
    pub fn new(ctx: Context, metrics: GcMetrics) -> Self {
        GcController {
            ctx,
            metrics,
            finished_since: Mutex::new(BTreeMap::new()),
        }
    }

    /// The view's collections plus the listings it lacks.
    async fn snapshot(&self) -> Result<Snapshot, ReconcileError> {
        let view = &self.ctx.view;
        let store = &self.ctx.store;
        let mut snap = Snapshot {
            jobs: view.jobs.list(),
            allocs: view
                .allocs
                .list()
                .into_iter()
                .map(|a| view.complete_alloc(a))
                .collect(),
            ..Default::default()
        };
        view.bindings.for_each(|key, b| {
            if let Some(k) = view.object_key_at(key) {
                snap.alloc_parts.insert(k, Some(b.value.node_id.clone()));
            }
        });
        for key in view.alloc_status.keys() {
            if let Some(k) = view.object_key_at(&key) {
                let node = view.status_node_at(&key);
                snap.alloc_parts.entry(k).or_insert(node);
            }
        }
        snap.versions = versioned_keys(store, &view.keys, c::JOBS_VERSIONS).await?;
        snap.stable = versioned_keys(store, &view.keys, c::JOBS_STABLE).await?;
        let periodic = store
            .list_keys(&view.keys.collection(c::JOBS_PERIODIC))
            .await?;
        let records = view
            .job_status
            .keys()
            .into_iter()
            .chain(view.job_placement.keys())
            .chain(periodic.items.into_iter().map(|kv| kv.key));
        snap.job_records = records.filter_map(|k| job_of_key(&view.keys, &k)).collect();
        snap.deployments = self.deployments().await?;
        snap.finished_since = self.finished().clone();
        Ok(snap)
    }

    /// Every deployment; one that does not decode is skipped, not fatal.
    async fn deployments(&self) -> Result<Vec<Deployment>, ReconcileError> {
        let list = self
            .ctx
            .store
            .list_raw(&self.ctx.view.keys.collection(c::DEPLOYMENTS))
            .await?;
        let mut out = Vec::new();
        for kv in list.items {
            match kv.decode::<Deployment>() {
                Ok(d) => out.push(d),
                Err(e) => tracing::warn!(controller = NAME, error = %e, "skipping a deployment"),
            }
        }
        Ok(out)
    }

    fn finished(&self) -> std::sync::MutexGuard<'_, BTreeMap<ObjectKey, DateTime<Utc>>> {
        self.finished_since
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Keeps the first sighting of each job still finished; forgets the rest.
    fn remember(&self, finished: &[ObjectKey], now: DateTime<Utc>) {
        let mut map = self.finished();
        let now_finished: BTreeSet<&ObjectKey> = finished.iter().collect();
        map.retain(|k, _| now_finished.contains(k));
        for k in finished {
            map.entry(k.clone()).or_insert(now);
        }
    }
}

impl Reconcile for GcController {
    type Key = Pass;
    type Error = ReconcileError;

    async fn reconcile(&self, _: &Pass) -> Result<Action, ReconcileError> {
        let timer = self.metrics.pass_duration.start_timer();
        let snap = self.snapshot().await?;
        let now = Utc::now();
        let options = self.ctx.options.gc;
        let plan = collect(&snap, now, &options.thresholds);
        self.remember(&plan.finished, now);
        let truncated = plan.truncated;
        if !plan.is_empty() {
            let units = Units::of(&self.ctx, &plan)?;
            let (collected, conflicts) = units.commit(&self.ctx).await?;
            for (kind, n) in &collected {
                self.metrics.collected.with_label_values(&[kind]).inc_by(*n);
            }
            tracing::info!(
                controller = NAME,
                ?collected,
                conflicts,
                truncated,
                "garbage collected"
            );
        }
        timer.observe_duration();
        Ok(Action::RequeueAfter(if truncated {
            CONTINUE_AFTER
        } else {
            options.interval
        }))
    }
}

/// The plan as fenced units: `first` in any order, then `last` (the jobs'
/// own keys), each labelled with what it collects.
struct Units {
    first: Vec<(&'static str, u64, Atomic)>,
    last: Vec<(&'static str, u64, Atomic)>,
}

impl Units {
    fn of(ctx: &Context, plan: &GcPlan) -> Result<Self, ReconcileError> {
        let keys = &ctx.view.keys;
        let mut u = Units {
            first: Vec::new(),
            last: Vec::new(),
        };
        let fence = |unit: Atomic| ctx.fence.guard(unit);
        for a in &plan.allocs {
            u.first.push(("allocation", 1, fence(alloc_unit(keys, a))?));
        }
        for (k, node) in &plan.orphan_parts {
            let mut unit = Atomic::new()
                .guard(keys.alloc(&k.namespace, &k.name), Guard::Absent)
                .delete(keys.alloc_binding(&k.namespace, &k.name));
            for status in keys.alloc_status_keys(node.as_deref(), &k.namespace, &k.name) {
                unit = unit.delete(status);
            }
            if let Some(node) = node {
                unit = unit.delete(keys.node_alloc(node, &k.namespace, &k.name));
            }
            u.first.push(("orphan_part", 1, fence(unit)?));
        }
        for d in &plan.deployments {
            u.first
                .push(("deployment", 1, fence(deployment_unit(keys, d))?));
        }
        for v in &plan.versions {
            for (n, unit) in version_units(keys, v) {
                u.first.push(("job_version", n, fence(unit)?));
            }
        }
        for l in &plan.leftovers {
            for (n, unit) in leftover_units(keys, l) {
                u.first.push(("leftover", n, fence(unit)?));
            }
        }
        for j in &plan.jobs {
            let (chunks, last) = job_units(keys, j);
            for unit in chunks {
                u.first.push(("job_version", 0, fence(unit)?));
            }
            u.last.push(("job", 1, fence(last)?));
        }
        Ok(u)
    }

    /// Commits both phases; returns what was collected by kind and how many
    /// units lost to a concurrent change (the next pass re-reads).
    async fn commit(
        self,
        ctx: &Context,
    ) -> Result<(BTreeMap<&'static str, u64>, usize), ReconcileError> {
        let mut collected = BTreeMap::new();
        let mut conflicts = 0;
        for phase in [self.first, self.last] {
            if phase.is_empty() {
                continue;
            }
            let mut batch: Batch = ctx.store.batch();
            for (_, _, unit) in &phase {
                batch.push(unit.clone());
            }
            let outcome = batch
                .commit_concurrent(&ctx.store, COMMIT_IN_FLIGHT)
                .await?;
            let failed: BTreeSet<usize> = outcome.failed.iter().map(|(i, _)| *i).collect();
            conflicts += failed.len();
            for (i, (kind, n, _)) in phase.iter().enumerate() {
                if !failed.contains(&i) && *n > 0 {
                    *collected.entry(*kind).or_insert(0) += n;
                }
            }
        }
        Ok((collected, conflicts))
    }
}

fn deployment_unit(keys: &Keys, d: &DeploymentGc) -> Atomic {
    let key = keys.deployment(&d.key.namespace, &d.key.name);
    let unit = Atomic::new()
        .guard(&key, Guard::Revision(d.revision))
        .delete(&key)
        .delete(keys.deployment_admin(&d.key.namespace, &d.key.name));
    with_job_guard(unit, keys.job(&d.job.namespace, &d.job.name), d.job_guard)
}

fn alloc_unit(keys: &Keys, a: &AllocGc) -> Atomic {
    let (ns, id) = (&a.key.namespace, &a.key.name);
    let mut unit = Atomic::new()
        .guard(keys.alloc(ns, id), Guard::Revision(a.revision))
        .delete(keys.alloc(ns, id))
        .delete(keys.alloc_binding(ns, id));
    for status in keys.alloc_status_keys(a.node.as_deref(), ns, id) {
        unit = unit.delete(status);
    }
    if let Some(node) = &a.node {
        unit = unit.delete(keys.node_alloc(node, ns, id));
    }
    with_job_guard(unit, keys.job(&a.job.namespace, &a.job.name), a.job_guard)
}

fn with_job_guard(unit: Atomic, job: String, guard: JobGuard) -> Atomic {
    match guard {
        JobGuard::None => unit,
        JobGuard::Absent => unit.guard(job, Guard::Absent),
        JobGuard::Revision(rev) => unit.guard(job, Guard::Revision(rev)),
    }
}

/// The version, source and stability keys of `versions`/`stable`, in units of at
/// most [`KEYS_PER_UNIT`], each guarded by `guard` on the job.
fn history_units(
    keys: &Keys,
    job: &ObjectKey,
    versions: &[u64],
    stable: &[u64],
    guard: Guard,
) -> Vec<(u64, Atomic)> {
    let (ns, name) = (&job.namespace, &job.name);
    // A version's source goes with it, in the same unit: versions come
    // first, two keys each, and a unit holds an even number of keys.
    const _: () = assert!(KEYS_PER_UNIT.is_multiple_of(2));
    let mut all: Vec<(bool, String)> = versions
        .iter()
        .flat_map(|v| {
            [
                (true, keys.job_version(ns, name, *v)),
                (false, keys.job_source(ns, name, *v)),
            ]
        })
        .collect();
    all.extend(
        stable
            .iter()
            .map(|v| (false, keys.job_stable(ns, name, *v))),
    );
    all.chunks(KEYS_PER_UNIT)
        .map(|chunk| {
            let snapshots = chunk.iter().filter(|(snapshot, _)| *snapshot).count() as u64;
            let unit = chunk.iter().fold(
                Atomic::new().guard(keys.job(ns, name), guard),
                |u, (_, k)| u.delete(k),
            );
            (snapshots, unit)
        })
        .collect()
}

fn version_units(keys: &Keys, v: &VersionsGc) -> Vec<(u64, Atomic)> {
    history_units(
        keys,
        &v.job,
        &v.versions,
        &v.stable,
        Guard::Revision(v.job_revision),
    )
}

/// A gone job's history, then its records (the unit that counts), each
/// guarded by its absence.
fn leftover_units(keys: &Keys, l: &LeftoverGc) -> Vec<(u64, Atomic)> {
    let (ns, name) = (&l.job.namespace, &l.job.name);
    let mut units: Vec<(u64, Atomic)> =
        history_units(keys, &l.job, &l.versions, &l.stable, Guard::Absent)
            .into_iter()
            .map(|(_, u)| (0, u))
            .collect();
    units.push((
        1,
        records(keys, ns, name).guard(keys.job(ns, name), Guard::Absent),
    ));
    units
}

/// A finished job's history in chunks, and the last unit: the job itself
/// with its records.
fn job_units(keys: &Keys, j: &JobGc) -> (Vec<Atomic>, Atomic) {
    let (ns, name) = (&j.key.namespace, &j.key.name);
    let guard = Guard::Revision(j.revision);
    let chunks = history_units(keys, &j.key, &j.versions, &j.stable, guard)
        .into_iter()
        .map(|(_, u)| u)
        .collect();
    let last = records(keys, ns, name)
        .guard(keys.job(ns, name), guard)
        .delete(keys.job(ns, name));
    (chunks, last)
}

/// Deletes a job's status, placement and launch records.
fn records(keys: &Keys, ns: &str, name: &str) -> Atomic {
    Atomic::new()
        .delete(keys.job_status(ns, name))
        .delete(keys.job_placement(ns, name))
        .delete(keys.job_periodic(ns, name))
}

/// The job a `<collection>/<ns>/<job>[/...]` key belongs to.
fn job_of_key(keys: &Keys, key: &str) -> Option<ObjectKey> {
    let parsed = keys.parse(key)?;
    match parsed.segments.as_slice() {
        [ns, name, ..] => Some(ObjectKey::new(ns.as_ref(), name.as_ref())),
        _ => None,
    }
}

/// `<collection>/<ns>/<job>/<version>` keys, as version sets per job.
async fn versioned_keys(
    store: &drover_store::Store,
    keys: &Keys,
    collection: &str,
) -> Result<BTreeMap<ObjectKey, BTreeSet<u64>>, ReconcileError> {
    let list = store.list_keys(&keys.collection(collection)).await?;
    let mut out: BTreeMap<ObjectKey, BTreeSet<u64>> = BTreeMap::new();
    for kv in list.items {
        let Some(parsed) = keys.parse(&kv.key) else {
            continue;
        };
        if let [ns, name, version] = parsed.segments.as_slice() {
            if let Ok(v) = version.parse::<u64>() {
                out.entry(ObjectKey::new(ns.as_ref(), name.as_ref()))
                    .or_default()
                    .insert(v);
            }
        }
    }
    Ok(out)
}
