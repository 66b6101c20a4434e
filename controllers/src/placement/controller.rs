//! The placement controller: binds queued allocations to nodes.
//!
//! # Watches
//! - `allocations/`: an allocation that wants to run and is not bound
//!   queues its job; one whose desired status leaves `run` wakes the jobs
//!   with queued allocations (`distinct_hosts` and spreads count it no more).
//! - `jobs/`: a changed or deleted job is queued (new constraints; a
//!   deleted job's placement record is removed).
//! - Anything that can free or add capacity wakes every job that has
//!   queued allocations ([`QueuedJobs`]): a node registered or changed
//!   (`nodes/`), a node's state changing (`nodes-status/`), eligibility or
//!   drain changing (`nodes-admin/`), an allocation becoming terminal
//!   (`allocations-status/`), a binding deleted (`allocations-binding/`),
//!   a namespace changed (`namespaces/`: its quota raised).
//!
//! The work-queue key is the job. A reconcile reads the job, its
//! allocations, every node, the usage of every node and its namespace's
//! quota and usage from the [`ClusterView`], runs the pure pass
//! ([`plan_pass`]) and commits it.
//!
//! # Owns
//! - `allocations-binding/<ns>/<id>`: created once per allocation.
//! - `node-allocs/<node>/<ns>/<id>`: written when it binds (the whole
//!   allocation, binding set, status default); the job controller keeps it
//!   up to date afterwards.
//! - `jobs-placement/<ns>/<job>`: why allocations of the job are queued,
//!   per group; absent when none are.
//!
//! # Invariants
//! - **One worker** ([`WORKERS`], enforced by [`controller`]): capacity
//!   decisions are serial, and each pass waits until the bindings cache has
//!   its own writes, so the next pass never double-books a node.
//! - An allocation is bound at most once: the binding is created with a
//!   must-be-absent guard, together with its node index, in one atomic
//!   unit, and only if the allocation's spec is still at the revision the
//!   pass read.
//! - Every write carries the leader fence.
//! - A job is in [`QueuedJobs`] while a pass over it runs (so a capacity
//!   change during the pass wakes it again), and afterwards exactly when
//!   that pass left allocations queued — failed, and its `jobs-placement`
//!   record then says why, or waiting for the room of the allocation they
//!   replace (see [`crate::placement`]'s pass): that allocation becoming
//!   terminal wakes the job, and the next pass binds them there.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use chrono::Utc;
use drover_api_types::alloc::{Allocation, DesiredStatus};
use drover_api_types::namespace::QuotaUse;
use drover_store::keys::collections as c;
use drover_store::{Atomic, Guard, StoreError, Stored};

use crate::cluster::{Change, ClusterView, Hooks, ObjectKey, PlacementFailures};
use crate::context::Context;
use crate::context::COMMIT_IN_FLIGHT;
use crate::error::ReconcileError;
use crate::manager::Descriptor;
use crate::placement::metrics::PlacementMetrics;
use crate::placement::{
    add_binding, needs_placement, plan_pass, quota_share, NodeUsage, PassInput, PassPlan,
    QuotaBudget,
};
use crate::runtime::{Action, Controller, Reconcile, WorkQueue};

/// The controller's name (work queue, metrics, logs).
pub const NAME: &str = "placement";

/// How the manager runs placement: the jobs waiting for room
/// ([`QueuedJobs`]) are shared by its hooks and its reconciler.
pub static DESCRIPTOR: Descriptor = Descriptor {
    name: NAME,
    wire: |wiring| {
        let queue = wiring.queue::<ObjectKey>(NAME);
        let queued = QueuedJobs::default();
        register_hooks(&queue, wiring.view.clone(), wiring.hooks, &queued);
        let metrics = wiring.metrics.placement_stats.clone();
        Box::new(move |ctx: Context, stop| {
            for key in resync_keys(&ctx.view) {
                queue.add(key);
            }
            Box::pin(controller(ctx, queue, queued, metrics).run(stop))
        })
    },
};

/// Placement runs exactly one worker: see the module invariants.
pub const WORKERS: usize = 1;

/// How long a pass waits for the caches to show its own writes.
const CACHE_WAIT: Duration = Duration::from_secs(30);

/// The jobs whose last pass left allocations queued; shared between the
/// controller, which maintains it, and the hooks, which wake these jobs when
/// capacity may have appeared. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct QueuedJobs(Arc<Mutex<BTreeSet<ObjectKey>>>);

impl QueuedJobs {
    pub fn snapshot(&self) -> Vec<ObjectKey> {
        self.lock().iter().cloned().collect()
    }

    pub fn contains(&self, key: &ObjectKey) -> bool {
        self.lock().contains(key)
    }

    fn set(&self, key: &ObjectKey, queued: bool) {
        let mut set = self.lock();
        if queued {
            set.insert(key.clone());
        } else {
            set.remove(key);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeSet<ObjectKey>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Binds the queued allocations of one job per reconcile.
pub struct PlacementController {
    ctx: Context,
    queued: QueuedJobs,
    metrics: PlacementMetrics,
}

impl PlacementController {
    pub fn new(ctx: Context, queued: QueuedJobs, metrics: PlacementMetrics) -> Self {
        Self {
            ctx,
            queued,
            metrics,
        }
    }
}

/// The controller with its one worker and the context's resync period.
pub fn controller(
    ctx: Context,
    queue: WorkQueue<ObjectKey>,
    queued: QueuedJobs,
    metrics: PlacementMetrics,
) -> Controller<PlacementController> {
    let view = ctx.view.clone();
    let resync = ctx.options.resync;
    Controller::new(
        Arc::new(PlacementController::new(ctx, queued, metrics)),
        queue,
        WORKERS,
    )
    .with_resync(resync, Arc::new(move || resync_keys(&view)))
}

impl Reconcile for PlacementController {
    type Key = ObjectKey;
    type Error = ReconcileError;

    async fn reconcile(&self, key: &ObjectKey) -> Result<Action, ReconcileError> {
        let view = &self.ctx.view;
        let Some(job) = view.job(key) else {
            self.write_failures(key, &PlacementFailures::new()).await?;
            self.queued.set(key, false);
            return Ok(Action::AwaitChange);
        };
        // Counted as queued while the pass runs: a capacity change that
        // arrives after the pass read the view, but before it records what
        // is left, must still wake this job (else it waits for a resync).
        self.queued.set(key, true);
        let (pending, existing): (Vec<Allocation>, Vec<Allocation>) =
            view.job_allocs(key).into_iter().partition(needs_placement);
        let now = Utc::now();
        let plan = if pending.is_empty() {
            PassPlan::default()
        } else {
            let nodes = view.all_nodes();
            let base = base_usage(view, &key.namespace);
            let input = PassInput {
                job: &job,
                pending: &pending,
                existing: &existing,
                nodes: &nodes,
                options: self.ctx.options.placement,
                now,
                seed: rand::random(),
                quota: view.quota(&key.namespace).map(|limit| QuotaBudget {
                    namespace: &key.namespace,
                    limit,
                    used: base.namespace,
                }),
            };
            let started = tokio::time::Instant::now();
            let plan = plan_pass(&input, base.nodes);
            self.metrics
                .pass_duration
                .observe(started.elapsed().as_secs_f64());
            self.metrics.record_failures(&plan);
            plan
        };
        self.commit_bindings(key, &pending, &plan).await?;
        self.write_failures(key, &plan.failures).await?;
        // Replacements waiting for their predecessor's room are bound by
        // the pass its end triggers: keep the job among the queued ones.
        self.queued
            .set(key, !plan.failures.is_empty() || !plan.waiting.is_empty());
        let queued: u64 = plan.failures.values().map(|f| f.queued).sum();
        let waiting = plan.waiting.len();
        if !plan.bindings.is_empty() {
            tracing::info!(job = %key, bound = plan.bindings.len(), queued, waiting, "placement pass");
        } else if queued > 0 || waiting > 0 {
            tracing::debug!(job = %key, queued, waiting, "placement pass: nothing fits now");
        }
        Ok(match plan.deferred {
            Some(at) => Action::RequeueAfter((at - now).to_std().unwrap_or_default()),
            None => Action::AwaitChange,
        })
    }
}

impl PlacementController {
    /// One atomic unit per binding (binding created if absent, the node's
    /// index entry, the spec revision, the fence), all in one batch; then
    /// waits until the bindings cache shows them.
    async fn commit_bindings(
        &self,
        job: &ObjectKey,
        pending: &[Allocation],
        plan: &PassPlan,
    ) -> Result<(), ReconcileError> {
        if plan.bindings.is_empty() {
            return Ok(());
        }
        let keys = &self.ctx.view.keys;
        let by_id: HashMap<&str, &Allocation> = pending
            .iter()
            .map(|a| (a.metadata.uid.as_str(), a))
            .collect();
        let encode = |what: &str, result: serde_json::Result<Vec<u8>>| {
            result.map_err(|source| {
                ReconcileError::Encode {
                    what: what.to_string(),
                    source,
                }
                .during(format!("job {job}"))
            })
        };
        let mut batch = self.ctx.store.batch();
        for (id, binding) in &plan.bindings {
            let Some(alloc) = by_id.get(id.as_str()) else {
                continue;
            };
            let ns = &alloc.metadata.namespace;
            let binding_key = keys.alloc_binding(ns, id);
            let mut indexed = (*alloc).clone();
            indexed.binding = Some(binding.clone());
            indexed.status = Default::default();
            let unit = Atomic::new()
                .guard(
                    keys.alloc(ns, id),
                    Guard::Revision(alloc.metadata.resource_version),
                )
                .guard(&binding_key, Guard::Absent)
                .put(
                    &binding_key,
                    encode("binding", serde_json::to_vec(binding))?,
                )
                .put(
                    keys.node_alloc(&binding.node_id, ns, id),
                    encode("allocation", indexed.encode())?,
                );
            batch.push(self.ctx.fence.guard(unit)?);
        }
        let outcome = batch
            .commit_concurrent(&self.ctx.store, COMMIT_IN_FLIGHT)
            .await
            .map_err(|e| ReconcileError::from(e).during(format!("job {job}: writing placement")))?;
        if outcome.applied > 0 {
            self.metrics.placed.inc_by(outcome.applied as u64);
            let cache = &self.ctx.view.bindings;
            self.wait(
                job,
                "bindings",
                cache.wait_revision(outcome.revision),
                outcome.revision,
            )
            .await?;
        }
        conflicts(job, outcome.failed)
    }

    /// Writes the job's placement record when it changed; deletes it when
    /// nothing is queued.
    async fn write_failures(
        &self,
        job: &ObjectKey,
        failures: &PlacementFailures,
    ) -> Result<(), ReconcileError> {
        let view = &self.ctx.view;
        let key = view.keys.job_placement(&job.namespace, &job.name);
        let current = view.job_placement.get(&key);
        let unit = match current {
            None if failures.is_empty() => return Ok(()),
            Some(current) if current.value == *failures => return Ok(()),
            Some(current) if failures.is_empty() => Atomic::new()
                .guard(&key, Guard::Revision(current.revision))
                .delete(&key),
            current => {
                let guard = current.map_or(Guard::Absent, |c| Guard::Revision(c.revision));
                let bytes = serde_json::to_vec(failures).map_err(|source| {
                    ReconcileError::Encode {
                        what: "placement failures".into(),
                        source,
                    }
                    .during(format!("job {job}"))
                })?;
                Atomic::new().guard(&key, guard).put(&key, bytes)
            }
        };
        let mut batch = self.ctx.store.batch();
        batch.push(self.ctx.fence.guard(unit)?);
        let outcome = batch
            .commit(&self.ctx.store)
            .await
            .map_err(|e| ReconcileError::from(e).during(format!("job {job}: writing placement")))?;
        if outcome.applied > 0 {
            let cache = &view.job_placement;
            self.wait(
                job,
                "jobs-placement",
                cache.wait_revision(outcome.revision),
                outcome.revision,
            )
            .await?;
        }
        conflicts(job, outcome.failed)
    }

    async fn wait(
        &self,
        job: &ObjectKey,
        cache: &'static str,
        caught_up: impl std::future::Future<Output = ()>,
        revision: i64,
    ) -> Result<(), ReconcileError> {
        tokio::time::timeout(CACHE_WAIT, caught_up)
            .await
            .map_err(|_| ReconcileError::CatchUp { cache, revision }.during(format!("job {job}")))
    }
}

fn conflicts(job: &ObjectKey, failed: Vec<(usize, StoreError)>) -> Result<(), ReconcileError> {
    let count = failed.len();
    match failed.into_iter().next() {
        None => Ok(()),
        Some((_, first)) => Err(ReconcileError::conflict(
            format!("job {job} (first: {first})"),
            count,
        )),
    }
}

/// What the bindings that still reserve room
/// ([`crate::placement::holds_room`]) reserve: live (not terminal) ones,
/// and those of allocations told to stop whose replacement is not bound
/// yet (the room is held for it, so no other allocation takes it first).
pub struct BaseUsage {
    /// Per node id.
    pub nodes: HashMap<String, NodeUsage>,
    /// Against the quota of the namespace asked for.
    pub namespace: QuotaUse,
}

/// The [`BaseUsage`] of every node and of namespace `ns`: one scan of the
/// status and binding caches, without cloning, plus the specs that name a
/// previous allocation.
pub fn base_usage(view: &ClusterView, ns: &str) -> BaseUsage {
    let status_prefix = view.keys.collection(c::ALLOCATIONS_STATUS);
    let binding_prefix = view.keys.collection(c::ALLOCATIONS_BINDING);
    let mut terminal: HashSet<String> = HashSet::new();
    view.alloc_status.for_each(|key, status| {
        if status.value.client_status.is_terminal() {
            // `<node>/<ns>/<id>` → `<ns>/<id>`, as the binding keys read.
            let rest = key.strip_prefix(&status_prefix).unwrap_or(key);
            let ns_id = rest.split_once('/').map_or(rest, |(_node, ns_id)| ns_id);
            terminal.insert(ns_id.to_string());
        }
    });
    // `<ns>/<id>` of the allocations an unbound replacement names.
    let mut awaited: HashSet<String> = HashSet::new();
    view.allocs.for_each(|_, alloc| {
        if let Some(previous) = &alloc.spec.previous_allocation {
            if unplaced(view, alloc) {
                awaited.insert(format!("{}/{previous}", alloc.metadata.namespace));
            }
        }
    });
    let mut usage = BaseUsage {
        nodes: HashMap::new(),
        namespace: QuotaUse::default(),
    };
    view.bindings.for_each(|key, binding| {
        let id = key.strip_prefix(&binding_prefix).unwrap_or(key);
        if terminal.contains(id) && !(awaited.contains(id) && held_for_replacement(view, id)) {
            return;
        }
        if id.split_once('/').is_some_and(|(of, _)| of == ns) {
            usage.namespace.add(quota_share(&binding.value));
        }
        let node = &binding.value.node_id;
        match usage.nodes.get_mut(node) {
            Some(u) => add_binding(u, &binding.value),
            None => add_binding(usage.nodes.entry(node.clone()).or_default(), &binding.value),
        }
    });
    usage
}

/// Whether the terminal allocation `<ns>/<id>`, which an unbound
/// replacement names, holds its room for it ([`crate::placement::holds_room`]).
fn held_for_replacement(view: &ClusterView, ns_id: &str) -> bool {
    let Some((ns, id)) = ns_id.split_once('/') else {
        return false;
    };
    // The cache holds the spec alone; the status is terminal (checked).
    view.allocs
        .get(&view.keys.alloc(ns, id))
        .is_some_and(|spec| spec.spec.desired_status != DesiredStatus::Run)
}

/// Whether an allocation spec (as the allocs cache holds it) still needs
/// placing, looking up its binding and status.
fn unplaced(view: &ClusterView, alloc: &Allocation) -> bool {
    let (ns, id) = (&alloc.metadata.namespace, &alloc.metadata.uid);
    alloc.spec.desired_status == DesiredStatus::Run
        && view
            .bindings
            .get(&view.keys.alloc_binding(ns, id))
            .is_none()
        && !view
            .alloc_status
            .get(&view.keys.alloc_status(None, ns, id))
            .is_some_and(|s| s.value.client_status.is_terminal())
}

/// The jobs to reconcile on a resync: those with allocations needing
/// placement, and those with a placement record (cleared if stale).
pub fn resync_keys(view: &ClusterView) -> Vec<ObjectKey> {
    let mut keys = BTreeSet::new();
    view.allocs.for_each(|_, alloc| {
        if unplaced(view, alloc) {
            keys.insert(ObjectKey::job_of(alloc));
        }
    });
    keys.retain(|k| {
        view.jobs
            .get(&view.keys.job(&k.namespace, &k.name))
            .is_some()
    });
    let prefix = view.keys.collection(c::JOBS_PLACEMENT);
    view.job_placement.for_each(|key, _| {
        let rest = key.strip_prefix(&prefix).unwrap_or(key);
        if let Some((ns, name)) = rest.split_once('/') {
            keys.insert(ObjectKey::new(ns, name));
        }
    });
    keys.into_iter().collect()
}

/// Wakes every job with queued allocations.
#[derive(Clone)]
struct Waker {
    queue: WorkQueue<ObjectKey>,
    queued: QueuedJobs,
}

impl Waker {
    fn queued_jobs(&self) {
        for key in self.queued.snapshot() {
            self.queue.add(key);
        }
    }
}

/// Registers the hooks that feed `queue` (see the module docs). `view` is
/// filled once the view is started; before that, allocations are queued
/// without checking their binding.
pub fn register_hooks(
    queue: &WorkQueue<ObjectKey>,
    view: Arc<OnceLock<ClusterView>>,
    hooks: &mut Hooks,
    queued: &QueuedJobs,
) {
    let waker = Waker {
        queue: queue.clone(),
        queued: queued.clone(),
    };
    {
        let (waker, view) = (waker.clone(), view.clone());
        hooks.allocs.push(Arc::new(move |change| match change {
            Change::Applied { new, old, .. } => {
                let was_run = old.is_some_and(|o| o.spec.desired_status == DesiredStatus::Run);
                if new.spec.desired_status == DesiredStatus::Run {
                    if view.get().is_none_or(|v| unplaced(v, new)) {
                        waker.queue.add(ObjectKey::job_of(new));
                    }
                } else if was_run {
                    waker.queued_jobs();
                }
            }
            Change::Listed => {
                if let Some(v) = view.get() {
                    for key in resync_keys(v) {
                        waker.queue.add(key);
                    }
                }
                waker.queued_jobs();
            }
            Change::Deleted { .. } => {}
        }));
    }
    {
        let queue = queue.clone();
        hooks.jobs.push(Arc::new(move |change| match change {
            Change::Applied { new: job, .. } => {
                queue.add(ObjectKey::new(&job.metadata.namespace, &job.metadata.name))
            }
            Change::Deleted { old: Some(job), .. } => {
                queue.add(ObjectKey::new(&job.metadata.namespace, &job.metadata.name))
            }
            _ => {}
        }));
    }
    register_capacity_hooks(&waker, hooks);
}

/// Hooks for every change that can free or add capacity.
fn register_capacity_hooks(waker: &Waker, hooks: &mut Hooks) {
    let w = waker.clone();
    hooks.bindings.push(Arc::new(move |change| {
        if matches!(change, Change::Deleted { .. } | Change::Listed) {
            w.queued_jobs();
        }
    }));
    let w = waker.clone();
    hooks
        .alloc_status
        .push(Arc::new(move |change| match change {
            Change::Applied { new, old, .. } => {
                let now_terminal = new.value.client_status.is_terminal();
                let was_terminal = old.is_some_and(|o| o.value.client_status.is_terminal());
                if now_terminal && !was_terminal {
                    w.queued_jobs();
                }
            }
            Change::Listed => w.queued_jobs(),
            Change::Deleted { .. } => {}
        }));
    let w = waker.clone();
    hooks.nodes.push(Arc::new(move |change| {
        if matches!(change, Change::Applied { .. } | Change::Listed) {
            w.queued_jobs();
        }
    }));
    let w = waker.clone();
    hooks.node_status.push(Arc::new(move |change| match change {
        Change::Applied { new, old, .. } => {
            if old.is_none_or(|o| o.value.state != new.value.state) {
                w.queued_jobs();
            }
        }
        Change::Listed => w.queued_jobs(),
        Change::Deleted { .. } => {}
    }));
    let w = waker.clone();
    hooks.node_admin.push(Arc::new(move |_| w.queued_jobs()));
    let w = waker.clone();
    hooks.namespaces.push(Arc::new(move |_| w.queued_jobs()));
}
