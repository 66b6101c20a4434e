//! System and sysbatch jobs: one allocation of each group per eligible node.
//!
//! A node is *placeable* when a new allocation may go there (ready, eligible,
//! not draining, and the job's datacenter, pool, constraint and driver checks
//! pass; missing capacity does not count against it: the allocation is
//! created and waits in placement, with the reason in the job status). It is
//! *keepable* when an allocation already there may stay: the node exists, is
//! not down, and the job's checks still pass — marking a node ineligible
//! stops new placements but never running system allocations; draining
//! stops them through the drainer.
//!
//! Invariants of [`reconcile_system`]: at most one live allocation per node
//! and group; every placeable node without one gets a placement targeted at
//! it (index 0, as Nomad names system allocations); allocations on nodes no
//! longer keepable are stopped and never replaced elsewhere.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use drover_api_types::alloc::{Allocation, ClientStatus};
use drover_api_types::node::{NodeScheduling, NodeState};
use drover_api_types::{Job, JobType, Node, TaskGroup};

use super::{
    fresh, keep_rank, live_allocs, update_budget, GroupPlan, Placement, REASON_DUPLICATE_INDEX,
    REASON_JOB_STOPPED, REASON_LOST, REASON_MIGRATING, REASON_NODE_INELIGIBLE,
};
use crate::placement::{feasible, NodeUsage, PlacementOptions, Reason};

/// Node ids a system job's group may be placed on, and may stay on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SystemNodes {
    pub placeable: BTreeSet<String>,
    pub keepable: BTreeSet<String>,
}

/// Sorts `nodes` into placeable and keepable for `group` of `job`.
pub fn system_eligible(
    nodes: &[Node],
    job: &Job,
    group: &TaskGroup,
    options: &PlacementOptions,
) -> SystemNodes {
    let usage = NodeUsage::default();
    let passes = |node: &Node| {
        !matches!(
            feasible(node, job, group, &usage, options),
            Err(Reason::Filtered(_))
        )
    };
    let mut out = SystemNodes::default();
    for node in nodes {
        let id = node.metadata.uid.clone();
        if passes(node) {
            out.placeable.insert(id.clone());
        }
        if node.status.state == NodeState::Down {
            continue;
        }
        // Whether the job still fits the node, setting aside what only
        // blocks new work (readiness, eligibility, drain).
        let mut as_if_open = node.clone();
        as_if_open.status.state = NodeState::Ready;
        as_if_open.scheduling = NodeScheduling::default();
        if passes(&as_if_open) {
            out.keepable.insert(id);
        }
    }
    out
}

/// The node an allocation is on, or is meant for.
fn node_of(a: &Allocation) -> Option<&str> {
    a.binding
        .as_ref()
        .map(|b| b.node_id.as_str())
        .or(a.spec.target_node.as_deref())
}

fn targeted(mut p: Placement, node: &str) -> Placement {
    p.target_node = Some(node.to_string());
    p
}

/// Decides the plan of one group of a system or sysbatch job.
pub fn reconcile_system(
    job: &Job,
    group: &TaskGroup,
    nodes: &SystemNodes,
    allocs: &[Allocation],
    _now: DateTime<Utc>,
) -> GroupPlan {
    let mut plan = GroupPlan::default();
    // System jobs have no canaries: a canary flag means nothing here.
    let ours: Vec<&Allocation> = allocs
        .iter()
        .filter(|a| a.spec.task_group == group.name)
        .collect();
    let (mut live, canaries, stopping_old) =
        live_allocs(job, &ours, &std::collections::BTreeSet::new());
    live.extend(canaries);
    if job.spec.stop {
        plan.stop = live
            .iter()
            .map(|a| (a.metadata.uid.clone(), REASON_JOB_STOPPED.to_string()))
            .collect();
        plan.stop.sort();
        return plan;
    }
    let mut by_node: BTreeMap<&str, Vec<&Allocation>> = BTreeMap::new();
    for a in live {
        match node_of(a) {
            Some(node) => by_node.entry(node).or_default().push(a),
            None => plan
                .stop
                .push((a.metadata.uid.clone(), REASON_NODE_INELIGIBLE.to_string())),
        }
    }
    let sysbatch = job.spec.job_type == JobType::Sysbatch;
    let mut budget = update_budget(group).saturating_sub(stopping_old);
    for (node, mut here) in by_node.iter().map(|(n, v)| (*n, v.clone())) {
        here.sort_by(|a, b| keep_rank(a).cmp(&keep_rank(b)));
        for extra in here.iter().skip(1) {
            plan.stop.push((
                extra.metadata.uid.clone(),
                REASON_DUPLICATE_INDEX.to_string(),
            ));
        }
        let Some(a) = here.first().copied() else {
            continue;
        };
        let id = a.metadata.uid.clone();
        let status = a.status.client_status;
        if !nodes.keepable.contains(node) {
            match status {
                ClientStatus::Lost => plan.stop.push((id, REASON_LOST.to_string())),
                s if s.is_terminal() => plan.ignore.push(id),
                _ => plan.stop.push((id, REASON_NODE_INELIGIBLE.to_string())),
            }
            continue;
        }
        let replacement = || targeted(fresh(job, group, 0, Some(a)), node);
        match status {
            // The node came back: run the group there again.
            ClientStatus::Lost => plan.lost.push(replacement()),
            ClientStatus::Complete if sysbatch => plan.ignore.push(id),
            ClientStatus::Complete => plan.place.push(replacement()),
            ClientStatus::Failed => plan.failed.push(id),
            _ if a.spec.migrate => plan.stop.push((id, REASON_MIGRATING.to_string())),
            _ if a.spec.job_version < job.metadata.version && budget > 0 => {
                budget -= 1;
                plan.destructive_update.push(replacement());
            }
            _ => plan.ignore.push(id),
        }
    }
    for node in &nodes.placeable {
        if !by_node.contains_key(node.as_str()) {
            plan.place.push(targeted(fresh(job, group, 0, None), node));
        }
    }
    plan.stop.sort();
    plan.ignore.sort();
    plan.failed.sort();
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::reconcile::tests::{alloc, job, t0};
    use drover_api_types::alloc::{Binding, DesiredStatus};

    fn on(mut a: Allocation, node: &str) -> Allocation {
        a.binding = Some(Binding {
            node_id: node.into(),
            ..Default::default()
        });
        a
    }

    fn nodes(placeable: &[&str], keepable: &[&str]) -> SystemNodes {
        SystemNodes {
            placeable: placeable.iter().map(|s| s.to_string()).collect(),
            keepable: keepable.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn targets(p: &[Placement]) -> Vec<&str> {
        p.iter().filter_map(|p| p.target_node.as_deref()).collect()
    }

    #[test]
    fn one_allocation_per_placeable_node() {
        let job = job(JobType::System, 1, 0);
        let g = &job.spec.groups[0];
        let have = [on(alloc("a", 0, 0, ClientStatus::Running), "n1")];
        let plan = reconcile_system(
            &job,
            g,
            &nodes(&["n1", "n2", "n3"], &["n1", "n2", "n3"]),
            &have,
            t0(),
        );
        assert_eq!(targets(&plan.place), vec!["n2", "n3"]);
        assert_eq!(plan.ignore, vec!["a"]);
        assert!(plan.stop.is_empty());
    }

    #[test]
    fn ineligible_keeps_running_but_gone_or_unmatched_stops() {
        let job = job(JobType::System, 1, 0);
        let g = &job.spec.groups[0];
        let have = [
            on(alloc("a", 0, 0, ClientStatus::Running), "n1"),
            on(alloc("b", 0, 0, ClientStatus::Running), "n2"),
        ];
        // n1 is ineligible (keepable, not placeable); n2 left the cluster.
        let plan = reconcile_system(&job, g, &nodes(&[], &["n1"]), &have, t0());
        assert!(plan.place.is_empty());
        assert_eq!(plan.ignore, vec!["a"]);
        assert_eq!(
            plan.stop,
            vec![("b".to_string(), REASON_NODE_INELIGIBLE.to_string())]
        );
    }

    #[test]
    fn lost_on_a_down_node_is_stopped_and_replaced_when_it_returns() {
        let job = job(JobType::System, 1, 0);
        let g = &job.spec.groups[0];
        let have = [on(alloc("a", 0, 0, ClientStatus::Lost), "n1")];
        let down = reconcile_system(&job, g, &nodes(&[], &[]), &have, t0());
        assert_eq!(down.stop, vec![("a".to_string(), REASON_LOST.to_string())]);
        assert!(down.lost.is_empty() && down.place.is_empty());

        let back = reconcile_system(&job, g, &nodes(&["n1"], &["n1"]), &have, t0());
        assert_eq!(targets(&back.lost), vec!["n1"]);
        assert_eq!(back.lost[0].previous_allocation.as_deref(), Some("a"));
        assert!(back.place.is_empty());
    }

    #[test]
    fn duplicates_on_a_node_are_stopped_and_sysbatch_completes_once() {
        let job = job(JobType::Sysbatch, 1, 0);
        let g = &job.spec.groups[0];
        let have = [
            on(alloc("a", 0, 0, ClientStatus::Complete), "n1"),
            on(alloc("b", 0, 0, ClientStatus::Pending), "n1"),
        ];
        let plan = reconcile_system(&job, g, &nodes(&["n1"], &["n1"]), &have, t0());
        assert_eq!(
            plan.stop,
            vec![("a".to_string(), REASON_DUPLICATE_INDEX.to_string())]
        );
        assert_eq!(plan.ignore, vec!["b"]);

        let done = [on(alloc("a", 0, 0, ClientStatus::Complete), "n1")];
        let plan = reconcile_system(&job, g, &nodes(&["n1"], &["n1"]), &done, t0());
        assert!(plan.is_empty(), "{plan:?}");
    }

    #[test]
    fn stopping_the_job_stops_every_live_allocation() {
        let mut job = job(JobType::System, 1, 0);
        job.spec.stop = true;
        let g = job.spec.groups[0].clone();
        let mut stopped = on(alloc("c", 0, 0, ClientStatus::Running), "n3");
        stopped.spec.desired_status = DesiredStatus::Stop;
        let have = [
            on(alloc("a", 0, 0, ClientStatus::Running), "n1"),
            on(alloc("b", 0, 0, ClientStatus::Pending), "n2"),
            stopped,
        ];
        let plan = reconcile_system(&job, &g, &nodes(&["n1", "n2"], &["n1", "n2"]), &have, t0());
        let ids: Vec<&str> = plan.stop.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(ids, vec!["a", "b"]);
        assert!(plan.place.is_empty());
    }

    #[test]
    fn a_new_version_updates_within_max_parallel() {
        let mut job = job(JobType::System, 1, 2);
        job.spec.groups[0].update = Some(drover_api_types::job::UpdateStrategy {
            max_parallel: Some(1),
            ..Default::default()
        });
        let g = job.spec.groups[0].clone();
        let have = [
            on(alloc("a", 0, 1, ClientStatus::Running), "n1"),
            on(alloc("b", 0, 1, ClientStatus::Running), "n2"),
        ];
        let plan = reconcile_system(&job, &g, &nodes(&["n1", "n2"], &["n1", "n2"]), &have, t0());
        assert_eq!(targets(&plan.destructive_update), vec!["n1"]);
        assert_eq!(plan.ignore, vec!["b"]);
    }
}
