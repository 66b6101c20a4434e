//! `POST /v1/job/{name}/plan`: what registering a job would do, without
//! writing anything — the field-level diff from the stored job, what the
//! job controller would do to each group (with the same pure reconciler it
//! runs), why new allocations could not be placed right now (with the
//! placement controller's pure pass over a snapshot of the nodes), and the
//! index to pass as `check_index` so nothing changed in between.
//!
//! A replacement queued mid-rollout whose predecessor still holds its room
//! (a full cluster) is not a failed placement: the pass lends it that room,
//! as the placement controller does, so plan shows no failure for it.
//!
//! The placement pass runs with the default scheduler options (bin-pack,
//! no memory oversubscription): the apiserver does not know the
//! controllers' flags. It reads every node and every binding, so it only
//! runs when something would be placed.

mod read;
#[cfg(test)]
mod tests;

use drover_api_types::acl::Capability;
use std::collections::{BTreeMap, BTreeSet, HashSet};

use axum::extract::{Path, State};
use axum::Json;
use chrono::{DateTime, Utc};
use drover_api_types::alloc::{Allocation, DesiredStatus};
use drover_api_types::diagnostic::Severity;
use drover_api_types::diff::diff_jobs;
use drover_api_types::validate::{validate, JobLimits};
use drover_api_types::{job_update_kind, Job, JobType, Node, ObjectMeta};
use drover_controllers::job::reconcile::{
    reconcile_rollout, reconcile_system, system_eligible, GroupPlan, Placement, Rollout,
};
use drover_controllers::placement::{
    needs_placement, plan_pass, PassInput, PlacementOptions, QuotaBudget,
};

use super::acl::Caller;
use super::error::{ApiError, ApiResult};
use super::extract::{ApiJson, ApiQuery};
use super::openapi as schema;
use super::query::ReadOptions;
use super::register::{self, Registration};
use super::route::{Need, Route, Routes};
use super::ApiState;
pub use drover_api::plan::{GroupChange, GroupUpdates, PlanRequest, PlanResponse};

pub(crate) fn routes() -> Routes {
    Routes::new("jobs").add(
        Route::post("/v1/job/{name}/plan", "Dry-run a registration")
            .in_namespace()
            .body("{job}", schema::one::<PlanRequest>)
            .answers(schema::one::<PlanResponse>)
            .needs(Need::Namespace(Capability::SubmitJob)),
        plan,
    )
}

/// A group plan's counts, as `nomad plan` annotates groups.
pub fn group_updates(plan: &GroupPlan) -> GroupUpdates {
    let n = |len: usize| u64::try_from(len).unwrap_or(u64::MAX);
    GroupUpdates {
        create: n(plan.place.len() + plan.reschedule.len() + plan.lost.len()),
        destroy: n(plan.stop.len()),
        in_place_update: 0,
        destructive_update: n(plan.destructive_update.len()),
        migrate: n(plan.migrate.len()),
        canary: n(plan.canary.len()),
        ignore: n(plan.ignore.len()),
    }
}

/// Per group present in both `old` and `new`: the shared update rule.
pub fn update_kinds(old: &Job, new: &Job) -> BTreeMap<String, GroupChange> {
    new.spec
        .groups
        .iter()
        .filter(|g| old.spec.groups.iter().any(|o| o.name == g.name))
        .map(|g| {
            let kind = job_update_kind(old, new, &g.name);
            let change = GroupChange {
                destructive: kind.is_destructive(),
                field: kind.field().map(str::to_string),
            };
            (g.name.clone(), change)
        })
        .collect()
}

/// What the job controller would do, job-wide.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GroupsOutcome {
    pub updates: BTreeMap<String, GroupUpdates>,
    /// Allocations that would wait for placement: the planned ones, and
    /// those already queued that stay.
    pub pending: Vec<Allocation>,
    /// Allocation ids that would be stopped or replaced (their resources
    /// free up).
    pub freed: HashSet<String>,
}

/// Runs the job controller's pure reconciler over every group of `job`.
/// `nodes` is read for system and sysbatch jobs only. The groups in
/// `in_place` update their older allocations in place: those are counted
/// as in-place updates, and neither freed nor placed.
pub fn plan_groups(
    job: &Job,
    allocs: &[Allocation],
    nodes: &[Node],
    now: DateTime<Utc>,
    in_place: &BTreeSet<String>,
) -> GroupsOutcome {
    let system = matches!(job.spec.job_type, JobType::System | JobType::Sysbatch);
    let mut out = GroupsOutcome::default();
    for group in &job.spec.groups {
        let mut plan = if system {
            let eligible = system_eligible(nodes, job, group, &PlacementOptions::default());
            reconcile_system(job, group, &eligible, allocs, now)
        } else {
            let rollout = planned_rollout(job, group, allocs, in_place);
            reconcile_rollout(job, group, allocs, rollout.as_ref(), now)
        };
        let mut updates = group_updates(&plan);
        if in_place.contains(&group.name) {
            updates = in_place_counts(updates, &plan, job, allocs);
            plan.destructive_update.clear();
        }
        out.updates.insert(group.name.clone(), updates);
        out.freed.extend(plan.stop.iter().map(|(id, _)| id.clone()));
        let replacing = plan
            .lost
            .iter()
            .chain(&plan.destructive_update)
            .chain(&plan.migrate);
        out.freed
            .extend(replacing.filter_map(|p| p.previous_allocation.clone()));
        let placing = plan
            .place
            .iter()
            .chain(&plan.reschedule)
            .chain(&plan.lost)
            .chain(&plan.destructive_update)
            .chain(&plan.migrate);
        out.pending.extend(
            placing
                .chain(&plan.canary)
                .map(|p| planned_alloc(job, &group.name, p)),
        );
    }
    let groups: BTreeSet<&str> = job.spec.groups.iter().map(|g| g.name.as_str()).collect();
    for a in allocs {
        let live =
            a.spec.desired_status == DesiredStatus::Run && !a.status.client_status.is_terminal();
        if live && !groups.contains(a.spec.task_group.as_str()) {
            out.updates
                .entry(a.spec.task_group.clone())
                .or_default()
                .destroy += 1;
            out.freed.insert(a.metadata.uid.clone());
        }
    }
    let queued = allocs
        .iter()
        .filter(|a| needs_placement(a) && !out.freed.contains(&a.metadata.uid));
    out.pending.extend(queued.cloned());
    out
}

/// The deployment registering would start for `group`, when its update
/// places canaries: the new version replaces older allocations and the
/// group's `update` asks for `canary > 0`. Without it, the reconciler
/// would count a destructive update as if the canaries did not exist.
fn planned_rollout(
    job: &Job,
    group: &drover_api_types::TaskGroup,
    allocs: &[Allocation],
    in_place: &BTreeSet<String>,
) -> Option<Rollout> {
    let update = group.update.as_ref()?;
    let canaries = usize::try_from(update.canary.unwrap_or(0)).unwrap_or(0);
    let outdated = allocs.iter().any(|a| {
        a.spec.task_group == group.name
            && a.spec.job_version < job.metadata.version
            && a.spec.desired_status == DesiredStatus::Run
            && !a.status.client_status.is_terminal()
    });
    if canaries == 0 || !outdated || in_place.contains(&group.name) {
        return None;
    }
    Some(Rollout {
        deployment_id: "planned".into(),
        active: true,
        canaries,
        max_parallel: usize::try_from(update.max_parallel.unwrap_or(1))
            .unwrap_or(1)
            .max(1),
        ..Rollout::default()
    })
}

/// Allocations told to stop whose room is held for their replacement, not
/// bound yet (placement's `holds_room`: the pass lends it to that
/// replacement alone, so the usage it starts from must count it).
pub fn held_rooms(allocs: &[Allocation]) -> HashSet<String> {
    let awaited: HashSet<&str> = allocs
        .iter()
        .filter(|a| needs_placement(a))
        .filter_map(|a| a.spec.previous_allocation.as_deref())
        .collect();
    allocs
        .iter()
        .filter(|a| a.spec.desired_status != DesiredStatus::Run)
        .filter(|a| awaited.contains(a.metadata.uid.as_str()))
        .map(|a| a.metadata.uid.clone())
        .collect()
}

/// A group whose change is in place: every allocation of an older
/// version takes the new one where it runs — those the reconciler would
/// replace now and those it leaves for later batches (in-place updates
/// need no replacement, so `max_parallel` does not hold them back).
fn in_place_counts(
    mut updates: GroupUpdates,
    plan: &GroupPlan,
    job: &Job,
    allocs: &[Allocation],
) -> GroupUpdates {
    let older: u64 = plan
        .ignore
        .iter()
        .filter(|id| {
            allocs
                .iter()
                .any(|a| &a.metadata.uid == *id && a.spec.job_version != job.metadata.version)
        })
        .count() as u64;
    updates.in_place_update = updates.destructive_update + older;
    updates.ignore = updates.ignore.saturating_sub(older);
    updates.destructive_update = 0;
    updates
}

/// The allocation the job controller would create for `p` (its id is a
/// placeholder: nothing is written).
fn planned_alloc(job: &Job, group: &str, p: &Placement) -> Allocation {
    let mut a = Allocation {
        metadata: ObjectMeta {
            name: p.name.clone(),
            namespace: job.metadata.namespace.clone(),
            uid: format!("planned:{}", p.name),
            ..Default::default()
        },
        ..Default::default()
    };
    a.spec.job_id = job.metadata.name.clone();
    a.spec.job_version = job.metadata.version;
    a.spec.task_group = group.to_string();
    a.spec.index = p.index;
    a.spec.previous_allocation = p.previous_allocation.clone();
    a.spec.not_before = p.not_before;
    a.spec.target_node = p.target_node.clone();
    a
}

/// The job as registering it would store it, and whether that changes
/// anything; validation errors are the same 400 a registration answers.
fn candidate(
    existing: Option<&Job>,
    submitted: Job,
    ns: &str,
    now: DateTime<Utc>,
    limits: &JobLimits,
) -> ApiResult<(Job, bool)> {
    match register::decide_within(existing, submitted, ns, None, now, limits)? {
        Registration::Write(job) => Ok((*job, true)),
        Registration::Unchanged => existing
            .cloned()
            .map(|j| (j, false))
            .ok_or_else(|| ApiError::not_found("the job vanished")),
    }
}

/// The groups of `kinds` that update in place.
fn in_place_groups(kinds: &BTreeMap<String, GroupChange>) -> BTreeSet<String> {
    kinds
        .iter()
        .filter(|(_, c)| !c.destructive)
        .map(|(g, _)| g.clone())
        .collect()
}

/// The submitted job named as the path names it.
fn addressed(mut submitted: Job, name: &str) -> ApiResult<Job> {
    if submitted.metadata.name.is_empty() {
        submitted.metadata.name = name.to_string();
    } else if submitted.metadata.name != name {
        return Err(ApiError::bad_request(format!(
            "the job is named {:?} but the request addresses {name:?}",
            submitted.metadata.name
        ))
        .at("metadata.name"));
    }
    drover_store::keys::validate_segment(name)
        .map_err(|e| ApiError::bad_request(e.to_string()).at("metadata.name"))?;
    Ok(submitted)
}

async fn plan(
    State(state): State<ApiState>,
    caller: Caller,
    Path(name): Path<String>,
    ApiQuery(query): ApiQuery<std::collections::HashMap<String, String>>,
    ApiJson(request): ApiJson<PlanRequest>,
) -> ApiResult<Json<PlanResponse>> {
    let options = ReadOptions::parse(&query)?;
    let submitted = addressed(request.job, &name)?;
    let ns = match submitted.metadata.namespace.as_str() {
        "" => options.namespace_or_default().to_string(),
        ns => ns.to_string(),
    };
    caller.require(&ns, Capability::SubmitJob)?;
    let store = &state.store;
    let existing = store.get::<Job>(&ns, &name).await?;
    if existing.is_none() {
        // A job registration would refuse says so in the plan already.
        super::namespaces::new_job_guard(store, &ns).await?;
    }
    let mut submitted = submitted;
    if let Some(stored) = &existing {
        drover_api_types::redact::restore(&mut submitted, stored);
    }
    let now = Utc::now();
    let (job, changed) = candidate(existing.as_ref(), submitted, &ns, now, &state.limits)?;
    // A job stored before the limits were lowered plans nothing: its
    // allocations would be counted one by one.
    if let Some(problem) = state.limits.exceeded_by(&job) {
        return Err(ApiError::bad_request(problem).at("spec.groups"));
    }
    let warnings = validate(&job)
        .into_iter()
        .filter(|d| d.severity == Severity::Warning)
        .map(|d| format!("{}: {}", d.path, d.message))
        .collect();
    // The diff shows no registry credentials, old or new.
    let shown = |j: &Job| {
        let mut j = j.clone();
        drover_api_types::redact::job(&mut j);
        j
    };
    let diff = diff_jobs(existing.as_ref().map(shown).as_ref(), &shown(&job));
    let allocs = read::job_allocations(store, &ns, &name).await?;
    let system = matches!(job.spec.job_type, JobType::System | JobType::Sysbatch);
    let mut nodes = if system {
        Some(read::nodes(store).await?)
    } else {
        None
    };
    let update_kinds = match &existing {
        Some(old) if changed => update_kinds(old, &job),
        _ => BTreeMap::new(),
    };
    let in_place = in_place_groups(&update_kinds);
    let nodes_now = nodes.as_deref().unwrap_or_default();
    let outcome = plan_groups(&job, &allocs, nodes_now, now, &in_place);
    let mut failed_placements = BTreeMap::new();
    if !outcome.pending.is_empty() {
        let nodes = match nodes.take() {
            Some(nodes) => nodes,
            None => read::nodes(store).await?,
        };
        let (usage, used) =
            read::base_usage(store, &ns, &outcome.freed, &held_rooms(&allocs)).await?;
        let quota = read::quota(store, &ns).await?;
        let staying: Vec<Allocation> = allocs
            .into_iter()
            .filter(|a| !outcome.freed.contains(&a.metadata.uid))
            .collect();
        let input = PassInput {
            job: &job,
            pending: &outcome.pending,
            existing: &staying,
            nodes: &nodes,
            options: PlacementOptions::default(),
            now,
            seed: 0,
            quota: quota.map(|limit| QuotaBudget {
                namespace: &ns,
                limit,
                used,
            }),
        };
        failed_placements = plan_pass(&input, usage).failures;
    }
    Ok(Json(PlanResponse {
        job_modify_index: existing.map_or(0, |j| j.metadata.resource_version),
        version: job.metadata.version,
        changed,
        diff,
        groups: outcome.updates,
        update_kinds,
        failed_placements,
        warnings,
    }))
}
