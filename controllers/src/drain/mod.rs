//! The drainer: moves allocations off a node an operator is draining.
//!
//! Watches (through its shell, [`controller`]) the node's scheduling
//! (`nodes-admin/`), the allocations bound to draining nodes and their
//! status. Writes `spec.migrate = true` on allocation specs (CAS on the
//! spec's revision; the job controller then places a replacement elsewhere
//! and stops the marked one) and, when the drain is done, CASes the node's
//! scheduling to `drain: None, ineligible: true` and adds a "drain complete"
//! node event. No I/O in [`plan_drain`]: `now` is an argument.
//!
//! Invariants of [`plan_drain`] (Nomad's drainer):
//! - per job task group, at most `migrate.max_parallel` (default 1)
//!   allocations of the node are migrating at a time; one counts as
//!   migrating from when it is marked until its client status is terminal;
//! - batch allocations are not migrated before the deadline: they are left
//!   to finish;
//! - system and sysbatch allocations are ignored when `ignore_system_jobs`,
//!   else marked (all at once) only when nothing else is left;
//! - deadline: `started_at + deadline`; once passed, everything remaining
//!   is marked at once. A zero deadline means no deadline. `DrainStrategy`
//!   cannot hold Nomad's negative "force" deadline: a tiny one (1ns) forces;
//!   a drain without `started_at` has no deadline until it is set;
//! - complete: no non-terminal, non-ignored allocation is left on the node;
//! - every list is sorted by allocation id.

pub mod controller;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use drover_api_types::alloc::{Allocation, DesiredStatus};
use drover_api_types::job::JobType;
use drover_api_types::{Job, Node};

pub use controller::{register_hooks, resync_keys, DrainController, DESCRIPTOR, NAME};

/// What to do for one draining node.
///
/// - `migrate`: allocation ids to mark `spec.migrate = true` now;
/// - `complete`: nothing non-terminal (and not ignored) is left: end the
///   drain;
/// - `next_check`: the deadline, when it is still ahead and something is
///   left; `None`: wait for a change.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DrainPlan {
    pub migrate: Vec<String>,
    pub complete: bool,
    pub next_check: Option<DateTime<Utc>>,
}

/// Jobs by `(namespace, name)`.
pub type Jobs = BTreeMap<(String, String), Job>;

/// The kind of an allocation, as far as draining goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Service,
    Batch,
    System,
}

fn kind_of(alloc: &Allocation, job: Option<&Job>) -> Kind {
    match job.map(|j| j.spec.job_type) {
        Some(JobType::System | JobType::Sysbatch) => Kind::System,
        Some(JobType::Batch) => Kind::Batch,
        Some(JobType::Service) => Kind::Service,
        // The job is gone: a target node means a system allocation.
        None if alloc.spec.target_node.is_some() => Kind::System,
        None => Kind::Service,
    }
}

/// `migrate.max_parallel` of the allocation's group (then job), at least 1.
fn max_parallel(alloc: &Allocation, job: Option<&Job>) -> usize {
    let Some(job) = job else { return 1 };
    let group = job
        .spec
        .groups
        .iter()
        .find(|g| g.name == alloc.spec.task_group);
    let value = group
        .and_then(|g| g.migrate.as_ref())
        .or(job.spec.migrate.as_ref())
        .and_then(|m| m.max_parallel)
        .unwrap_or(1);
    usize::try_from(value.max(1)).unwrap_or(1)
}

/// When the drain's deadline passes, if it has one.
pub fn drain_deadline(node: &Node) -> Option<DateTime<Utc>> {
    let drain = node.scheduling.drain.as_ref()?;
    if drain.deadline.is_zero() {
        return None;
    }
    let started = drain.started_at?;
    let d = chrono::Duration::from_std(drain.deadline.as_std()).ok()?;
    started.checked_add_signed(d)
}

/// Decides the next step of draining `node`. `allocs` are the allocations
/// bound to it (others are ignored); `jobs` their jobs.
pub fn plan_drain(
    node: &Node,
    allocs: &[Allocation],
    jobs: &Jobs,
    now: DateTime<Utc>,
) -> DrainPlan {
    let mut plan = DrainPlan::default();
    let Some(drain) = node.scheduling.drain.as_ref() else {
        return plan;
    };
    let node_id = &node.metadata.uid;
    let deadline = drain_deadline(node);
    let forced = deadline.is_some_and(|d| now >= d);

    let mut left: Vec<(&Allocation, Option<&Job>, Kind)> = allocs
        .iter()
        .filter(|a| a.binding.as_ref().is_some_and(|b| &b.node_id == node_id))
        .filter(|a| !a.status.client_status.is_terminal())
        .map(|a| {
            let job = jobs.get(&(a.metadata.namespace.clone(), a.spec.job_id.clone()));
            (a, job, kind_of(a, job))
        })
        .filter(|(_, _, kind)| !(drain.ignore_system_jobs && *kind == Kind::System))
        .collect();
    left.sort_by(|a, b| a.0.metadata.uid.cmp(&b.0.metadata.uid));
    if left.is_empty() {
        plan.complete = true;
        return plan;
    }
    // Not yet marked, still meant to run: what could be marked.
    let markable = |a: &Allocation| !a.spec.migrate && a.spec.desired_status == DesiredStatus::Run;

    if forced {
        plan.migrate = left
            .iter()
            .filter(|(a, _, _)| markable(a))
            .map(|(a, _, _)| a.metadata.uid.clone())
            .collect();
        return plan;
    }
    plan.next_check = deadline;

    let others_left = left.iter().any(|(_, _, kind)| *kind != Kind::System);
    if !others_left {
        plan.migrate = left
            .iter()
            .filter(|(a, _, _)| markable(a))
            .map(|(a, _, _)| a.metadata.uid.clone())
            .collect();
        return plan;
    }

    // Per (namespace, job, group): in flight and candidates.
    type Group<'a> = (usize, usize, Vec<&'a Allocation>);
    let mut groups: BTreeMap<(&str, &str, &str), Group<'_>> = BTreeMap::new();
    for (alloc, job, kind) in &left {
        if *kind != Kind::Service {
            continue;
        }
        let key = (
            alloc.metadata.namespace.as_str(),
            alloc.spec.job_id.as_str(),
            alloc.spec.task_group.as_str(),
        );
        let entry = groups
            .entry(key)
            .or_insert_with(|| (max_parallel(alloc, *job), 0, Vec::new()));
        if alloc.spec.migrate {
            entry.1 += 1;
        } else if markable(alloc) {
            entry.2.push(alloc);
        }
    }
    for (limit, in_flight, candidates) in groups.into_values() {
        let budget = limit.saturating_sub(in_flight);
        plan.migrate.extend(
            candidates
                .into_iter()
                .take(budget)
                .map(|a| a.metadata.uid.clone()),
        );
    }
    plan.migrate.sort();
    plan
}
