//! The deployment's say in a service group's plan: how many destructive
//! updates may be in flight, which old allocations update in place, and
//! the canaries.

use std::collections::{BTreeMap, BTreeSet};

use drover_api_types::alloc::{Allocation, ClientStatus};
use drover_api_types::{Job, TaskGroup};

use super::{alloc_name, GroupPlan, Placement, REASON_CANARY_ENDED};

/// What the deployment of the job's current version allows one group.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rollout {
    pub deployment_id: String,
    /// Running or blocked: destructive updates and canaries may proceed.
    pub active: bool,
    /// Failed or cancelled: its unpromoted canaries are stopped.
    pub ended: bool,
    /// The group's canaries are promoted.
    pub promoted: bool,
    /// Canaries the group's `update.canary` asks for.
    pub canaries: usize,
    /// `update.max_parallel` (at least 1).
    pub max_parallel: usize,
    /// Old-version allocation ids whose update needs no new container.
    pub in_place: BTreeSet<String>,
    /// For `health_check = "manual"`: the operator's verdicts, by alloc id.
    pub manual_health: BTreeMap<String, bool>,
}

impl Rollout {
    /// Whether the deployment counts `a` healthy.
    pub fn healthy(&self, a: &Allocation) -> bool {
        a.status.health_for(&self.deployment_id).unwrap_or(false)
            || self.manual_health.get(&a.metadata.uid) == Some(&true)
    }

    fn placed_by_it(&self, a: &Allocation) -> bool {
        a.spec.deployment_id.as_deref() == Some(self.deployment_id.as_str())
    }

    /// Destructive updates allowed now: none while the deployment is not
    /// active or waits for promotion; else `max_parallel` less those it
    /// placed that are not healthy yet.
    pub fn destructive_budget(&self, job: &Job, kept: &[&Allocation]) -> usize {
        if !self.active || (self.canaries > 0 && !self.promoted) {
            return 0;
        }
        // A lost one (its node died) is replaced in this same pass, and its
        // replacement is in flight: counting neither let the next update
        // start while the previous old allocation was still stopping.
        let in_flight = kept
            .iter()
            .filter(|a| a.spec.job_version == job.metadata.version)
            .filter(|a| self.placed_by_it(a) && !self.healthy(a))
            .filter(|a| {
                !a.status.client_status.is_terminal()
                    || a.status.client_status == ClientStatus::Lost
            })
            .count();
        self.max_parallel.saturating_sub(in_flight)
    }
}

/// Sorts the group's canaries: the current deployment's stay (and, once
/// promoted, are turned into regular allocations); the others are stopped.
/// Returns the ones that stay canaries.
pub(super) fn sort_canaries<'a>(
    rollout: Option<&Rollout>,
    canaries: &[&'a Allocation],
    plan: &mut GroupPlan,
) -> Vec<&'a Allocation> {
    let mut staying = Vec::new();
    for a in canaries.iter().copied() {
        match rollout {
            Some(r) if r.placed_by_it(a) && !r.ended => {
                if r.promoted {
                    plan.promote.push(a.metadata.uid.clone());
                } else {
                    staying.push(a);
                }
            }
            // Without a deployment to answer to, a canary is left alone.
            None => staying.push(a),
            Some(_) => plan
                .stop
                .push((a.metadata.uid.clone(), REASON_CANARY_ENDED.to_string())),
        }
    }
    staying
}

/// Places the canaries still missing while the deployment waits for
/// promotion and some allocation needs a new container.
pub(super) fn place_canaries(
    job: &Job,
    group: &TaskGroup,
    r: &Rollout,
    kept: &[&Allocation],
    canaries: &[&Allocation],
    plan: &mut GroupPlan,
) {
    if !r.active || r.promoted || r.canaries == 0 {
        return;
    }
    let needs_replacing = kept.iter().any(|a| {
        a.spec.job_version < job.metadata.version && !r.in_place.contains(&a.metadata.uid)
    });
    if !needs_replacing && canaries.is_empty() {
        return;
    }
    let used: BTreeSet<u32> = canaries.iter().map(|a| a.spec.index).collect();
    let mut index = 0u32;
    while canaries.len() + plan.canary.len() < r.canaries {
        if !used.contains(&index) {
            plan.canary.push(Placement {
                name: alloc_name(job, group, index),
                index,
                previous_allocation: None,
                not_before: None,
                reschedule_events: Vec::new(),
                target_node: None,
                canary: true,
            });
        }
        index = index.saturating_add(1);
    }
}
