//! The pure core of the job controller: for one task group, compare the
//! desired count with the observed allocations and decide what to do.
//!
//! Watches (through its shell) jobs and allocations; owns the allocations'
//! `spec` (desired status, index, version, previous allocation, reschedule
//! events, not-before). No I/O, no clock, no randomness: `now` is an argument.
//!
//! Invariants of [`reconcile_group`]:
//! - history — allocations with desired stop/evict that are terminal, and
//!   allocations already replaced (another allocation names them as
//!   `previous_allocation`) — is never counted nor touched, except an
//!   original replaced while `unknown` that comes back or is lost
//!   (`reconnect` stops it or gives its index back);
//! - after applying a plan (placements run, stops and replaced allocations
//!   go away) the group holds `count` allocations with distinct indexes,
//!   except while failed allocations have exhausted their reschedule attempts
//!   (they keep their index, unreplaced);
//! - an index is reused: new placements take the lowest free indexes, and a
//!   replacement (reschedule, lost, update) takes the index of the allocation
//!   it replaces;
//! - extras are stopped highest index first;
//! - destructive updates never exceed `update.max_parallel` in flight; with
//!   a [`Rollout`] (service jobs under a deployment) "in flight" means placed
//!   by the deployment and not yet healthy, no destructive update happens
//!   while the deployment is paused, failed or cancelled, and none before
//!   its canaries are promoted;
//! - canaries run beside the old version outside the count; a promoted
//!   canary becomes a regular allocation (its flag cleared), and the old
//!   allocation at its index is then stopped as a duplicate; canaries of a
//!   failed or superseded deployment are stopped.

mod policy;
mod reconnect;
mod rollout;
mod status;
mod system;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod rollout_tests;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use drover_api_types::alloc::{Allocation, ClientStatus, DesiredStatus, RescheduleEvent};
use drover_api_types::{Job, JobType, TaskGroup};

pub use policy::{DelayFunction, Policy};
pub use reconnect::{REASON_RECONNECTED, REASON_REPLACED_WHILE_DISCONNECTED};
pub use rollout::Rollout;
pub use status::{job_status, summary};
pub use system::{reconcile_system, system_eligible, SystemNodes};

/// A new allocation to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    /// `<job>.<group>[<index>]`.
    pub name: String,
    pub index: u32,
    /// The allocation this one replaces, if any.
    pub previous_allocation: Option<String>,
    /// Do not start before this time (reschedule delay).
    pub not_before: Option<DateTime<Utc>>,
    /// Reschedule history carried to the new allocation (empty for fresh ones).
    pub reschedule_events: Vec<RescheduleEvent>,
    /// System jobs: the node this allocation is for.
    pub target_node: Option<String>,
    /// A canary of the current deployment.
    pub canary: bool,
}

/// What to do for one group. Every bucket is sorted deterministically.
///
/// - `place`: fresh allocations (and replacements of completed service
///   allocations, linked by `previous_allocation`);
/// - `stop`: `(alloc id, reason)`, set desired status stop;
/// - `reschedule`: replacements of failed allocations, with `not_before`;
///   the failed allocation is left as it is (it becomes history once named);
/// - `lost`: immediate replacements of lost allocations; the shell also sets
///   the lost allocation's desired status to stop;
/// - `disconnected`: immediate replacements of `unknown` allocations (their
///   node is disconnected, `disconnect.replace` is on); the original is
///   left as it is, and settled (`reconnect`) if its node comes back;
/// - `destructive_update`: replacements of out-of-date allocations; the shell
///   stops the previous allocation and creates the new one at its index;
/// - `migrate`: replacements of allocations the drainer marked; the shell
///   stops the marked allocation and creates the new one at its index;
/// - `in_place_update`: out-of-date allocation ids whose update needs no new
///   container: the shell moves them to the job's version;
/// - `canary`: new canaries of the current deployment;
/// - `promote`: promoted canary ids whose canary flag the shell clears;
/// - `ignore`: allocation ids left as they are (up to date, or batch done);
/// - `failed`: failed allocation ids whose attempts are exhausted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupPlan {
    pub place: Vec<Placement>,
    pub stop: Vec<(String, String)>,
    pub reschedule: Vec<Placement>,
    pub lost: Vec<Placement>,
    pub disconnected: Vec<Placement>,
    pub destructive_update: Vec<Placement>,
    pub migrate: Vec<Placement>,
    pub in_place_update: Vec<String>,
    pub canary: Vec<Placement>,
    pub promote: Vec<String>,
    pub ignore: Vec<String>,
    pub failed: Vec<String>,
}

impl GroupPlan {
    /// True when the plan changes nothing.
    pub fn is_empty(&self) -> bool {
        self.place.is_empty()
            && self.stop.is_empty()
            && self.reschedule.is_empty()
            && self.lost.is_empty()
            && self.disconnected.is_empty()
            && self.destructive_update.is_empty()
            && self.migrate.is_empty()
            && self.in_place_update.is_empty()
            && self.canary.is_empty()
            && self.promote.is_empty()
    }
}

pub const REASON_JOB_STOPPED: &str = "job stopped";
pub const REASON_COUNT_REDUCED: &str = "alloc not needed due to job count";
pub const REASON_DUPLICATE_INDEX: &str = "alloc has a duplicate index";
pub const REASON_MIGRATING: &str = "alloc is being migrated";
pub const REASON_UPDATED: &str = "alloc is being updated due to job update";
pub const REASON_LOST: &str = "alloc was lost";
pub const REASON_GROUP_REMOVED: &str = "alloc not needed: task group removed from the job";
pub const REASON_NODE_INELIGIBLE: &str = "alloc not needed: node no longer eligible for the job";
pub const REASON_CANARY_ENDED: &str =
    "alloc not needed: canary of a deployment that failed or was superseded";

/// `<job>.<group>[<index>]`.
pub fn alloc_name(job: &Job, group: &TaskGroup, index: u32) -> String {
    format!("{}.{}[{}]", job.metadata.name, group.name, index)
}

fn is_batch(job: &Job) -> bool {
    matches!(job.spec.job_type, JobType::Batch | JobType::Sysbatch)
}

/// Allocations of `group` that still matter: desired run and not replaced
/// (canaries apart), plus the count of old-version allocations being
/// stopped (in flight). `settled` ([`reconnect::settle`]) are left out.
fn live_allocs<'a>(
    job: &Job,
    ours: &[&'a Allocation],
    settled: &BTreeSet<String>,
) -> (Vec<&'a Allocation>, Vec<&'a Allocation>, usize) {
    // A replacement being stopped because its original came back gives the
    // index back in this same pass.
    let replaced: BTreeSet<&str> = ours
        .iter()
        .filter(|a| reconnect::counts_as_replacement(a) && !settled.contains(&a.metadata.uid))
        .filter_map(|a| a.spec.previous_allocation.as_deref())
        .collect();
    let mut live = Vec::new();
    let mut canaries = Vec::new();
    let mut stopping_old = 0;
    for a in ours.iter().copied() {
        if a.spec.desired_status != DesiredStatus::Run {
            if !a.status.client_status.is_terminal() && a.spec.job_version < job.metadata.version {
                stopping_old += 1;
            }
        } else if settled.contains(&a.metadata.uid) {
            continue;
        } else if !replaced.contains(a.metadata.uid.as_str()) {
            if a.spec.canary {
                canaries.push(a);
            } else {
                live.push(a);
            }
        }
    }
    (live, canaries, stopping_old)
}

/// Originals replaced while unknown that are still told to run: a stopped
/// job stops them too, wherever their node is.
fn replaced_originals<'a>(ours: &[&'a Allocation]) -> Vec<&'a Allocation> {
    let replaced: BTreeSet<&str> = ours
        .iter()
        .filter(|a| reconnect::counts_as_replacement(a))
        .filter_map(|a| a.spec.previous_allocation.as_deref())
        .collect();
    ours.iter()
        .copied()
        .filter(|a| replaced.contains(a.metadata.uid.as_str()))
        .filter(|a| a.spec.desired_status == DesiredStatus::Run)
        .filter(|a| {
            matches!(
                a.status.client_status,
                ClientStatus::Unknown | ClientStatus::Running | ClientStatus::Pending
            )
        })
        .collect()
}

/// Rank for keeping one of several allocations sharing an index: lower is better.
fn keep_rank(a: &Allocation) -> (u8, std::cmp::Reverse<u64>, &str) {
    let status = match a.status.client_status {
        ClientStatus::Running => 0,
        ClientStatus::Pending => 1,
        ClientStatus::Complete => 2,
        ClientStatus::Unknown => 3,
        ClientStatus::Failed => 4,
        ClientStatus::Lost => 5,
    };
    (
        status,
        std::cmp::Reverse(a.spec.job_version),
        a.metadata.uid.as_str(),
    )
}

/// Decides the plan for one group without a deployment (batch jobs, and
/// service jobs when the deployments controller is off).
pub fn reconcile_group(
    job: &Job,
    group: &TaskGroup,
    allocs: &[Allocation],
    now: DateTime<Utc>,
) -> GroupPlan {
    reconcile_rollout(job, group, allocs, None, now)
}

/// Decides the plan for one group, under `rollout` when the job's current
/// version has a deployment. See the module doc for the invariants.
pub fn reconcile_rollout(
    job: &Job,
    group: &TaskGroup,
    allocs: &[Allocation],
    rollout: Option<&Rollout>,
    now: DateTime<Utc>,
) -> GroupPlan {
    let mut plan = GroupPlan::default();
    let ours: Vec<&Allocation> = allocs
        .iter()
        .filter(|a| a.spec.task_group == group.name)
        .collect();

    if job.spec.stop {
        let (live, canaries, _) = live_allocs(job, &ours, &BTreeSet::new());
        let mut all: Vec<&Allocation> = live;
        all.extend(canaries);
        all.extend(replaced_originals(&ours));
        all.sort_by(|a, b| {
            b.spec
                .index
                .cmp(&a.spec.index)
                .then(a.metadata.uid.cmp(&b.metadata.uid))
        });
        plan.stop = all
            .into_iter()
            .map(|a| (a.metadata.uid.clone(), REASON_JOB_STOPPED.to_string()))
            .collect();
        return plan;
    }

    let settled = reconnect::settle(group, &ours);
    let (live, canaries, stopping_old) = live_allocs(job, &ours, &reconnect::settled_ids(&settled));
    // One allocation per index; the others are duplicates.
    let mut by_index: BTreeMap<u32, Vec<&Allocation>> = BTreeMap::new();
    for a in live {
        by_index.entry(a.spec.index).or_default().push(a);
    }
    let mut stops: Vec<(u32, &Allocation, &str)> = Vec::new();
    let mut kept: Vec<&Allocation> = Vec::new();
    for (index, mut group_at) in by_index {
        group_at.sort_by(|a, b| keep_rank(a).cmp(&keep_rank(b)));
        let mut it = group_at.into_iter();
        if let Some(first) = it.next() {
            kept.push(first);
        }
        stops.extend(it.map(|a| (index, a, REASON_DUPLICATE_INDEX)));
    }

    // Keep the lowest `count` indexes; stop the rest.
    let count = usize::try_from(group.count).unwrap_or(0);
    if kept.len() > count {
        for a in kept.split_off(count) {
            stops.push((a.spec.index, a, REASON_COUNT_REDUCED));
        }
    }
    stops.sort_by(|x, y| y.0.cmp(&x.0).then(x.1.metadata.uid.cmp(&y.1.metadata.uid)));
    plan.stop = stops
        .into_iter()
        .map(|(_, a, why)| (a.metadata.uid.clone(), why.to_string()))
        .chain(settled.into_iter().map(|(id, why)| (id, why.to_string())))
        .collect();

    // Fill the lowest free indexes.
    let used: BTreeSet<u32> = kept.iter().map(|a| a.spec.index).collect();
    let missing = count - kept.len();
    let mut index = 0u32;
    while plan.place.len() < missing {
        if !used.contains(&index) {
            plan.place.push(fresh(job, group, index, None));
        }
        index = index.saturating_add(1);
    }

    let canaries = rollout::sort_canaries(rollout, &canaries, &mut plan);
    classify_kept(job, group, &kept, stopping_old, rollout, now, &mut plan);
    if let Some(r) = rollout {
        rollout::place_canaries(job, group, r, &kept, &canaries, &mut plan);
    }
    plan
}

fn fresh(job: &Job, group: &TaskGroup, index: u32, previous: Option<&Allocation>) -> Placement {
    Placement {
        name: alloc_name(job, group, index),
        index,
        previous_allocation: previous.map(|a| a.metadata.uid.clone()),
        not_before: None,
        reschedule_events: previous
            .map(|a| a.spec.reschedule_events.clone())
            .unwrap_or_default(),
        target_node: None,
        canary: false,
    }
}

/// Sorts the kept allocations (sorted by index) into the replacement buckets.
fn classify_kept(
    job: &Job,
    group: &TaskGroup,
    kept: &[&Allocation],
    stopping_old: usize,
    rollout: Option<&Rollout>,
    now: DateTime<Utc>,
    plan: &mut GroupPlan,
) {
    let policy = policy::resolve(job, group);
    let mut budget = match rollout {
        Some(r) => r.destructive_budget(job, kept),
        None => update_budget(group).saturating_sub(stopping_old),
    };
    for a in kept.iter().copied() {
        match a.status.client_status {
            // Its node is disconnected: nothing can be done to it there.
            ClientStatus::Unknown if group.replaces_unknown() => {
                plan.disconnected
                    .push(fresh(job, group, a.spec.index, Some(a)));
            }
            ClientStatus::Unknown => plan.ignore.push(a.metadata.uid.clone()),
            ClientStatus::Complete if is_batch(job) => plan.ignore.push(a.metadata.uid.clone()),
            ClientStatus::Complete => plan.place.push(fresh(job, group, a.spec.index, Some(a))),
            ClientStatus::Lost => plan.lost.push(fresh(job, group, a.spec.index, Some(a))),
            ClientStatus::Failed => match &policy {
                Some(p) if p.allows(&a.spec.reschedule_events, now) => {
                    plan.reschedule.push(rescheduled(job, group, a, p, now));
                }
                _ => plan.failed.push(a.metadata.uid.clone()),
            },
            ClientStatus::Pending | ClientStatus::Running if a.spec.migrate => {
                plan.migrate.push(fresh(job, group, a.spec.index, Some(a)));
            }
            ClientStatus::Pending | ClientStatus::Running
                if a.spec.job_version < job.metadata.version
                    && rollout.is_some_and(|r| r.in_place.contains(&a.metadata.uid)) =>
            {
                plan.in_place_update.push(a.metadata.uid.clone());
            }
            ClientStatus::Pending | ClientStatus::Running => {
                if a.spec.job_version < job.metadata.version && budget > 0 {
                    budget -= 1;
                    plan.destructive_update
                        .push(fresh(job, group, a.spec.index, Some(a)));
                } else {
                    plan.ignore.push(a.metadata.uid.clone());
                }
            }
        }
    }
}

/// How many destructive updates may be in flight: `update.max_parallel`;
/// without an update block, or with `max_parallel <= 0`, all at once.
fn update_budget(group: &TaskGroup) -> usize {
    group
        .update
        .as_ref()
        .and_then(|u| u.max_parallel)
        .filter(|&n| n > 0)
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(usize::MAX)
}

fn rescheduled(
    job: &Job,
    group: &TaskGroup,
    failed: &Allocation,
    p: &Policy,
    now: DateTime<Utc>,
) -> Placement {
    let delay = p.next_delay(&failed.spec.reschedule_events);
    let mut placement = fresh(job, group, failed.spec.index, Some(failed));
    placement
        .reschedule_events
        .push(policy::event_for(failed, now, delay));
    let chrono_delay = chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::MAX);
    placement.not_before = Some(now.checked_add_signed(chrono_delay).unwrap_or(now));
    placement
}
