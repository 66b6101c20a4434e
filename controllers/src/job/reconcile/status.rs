//! Group summary and job status, derived from allocations only.
//!
//! The summary counts every allocation of the group by client status (a
//! pending allocation is `queued` until it is bound to a node, `starting`
//! after). The job status is `running` while any allocation is non-terminal,
//! `dead` once a stopped job, or a batch job whose work is done, has only
//! terminal allocations, and `pending` otherwise. A periodic or
//! parameterized parent (which has no allocations) is `running` until
//! stopped, then `dead`, as in Nomad.

use std::collections::BTreeSet;

use drover_api_types::alloc::{Allocation, ClientStatus, DesiredStatus};
use drover_api_types::job::GroupSummary;
use drover_api_types::{Job, JobType};

use super::policy;

/// Counts the given allocations (pass one group's) by client status;
/// running ones of a version older than `version` are also `outdated`.
pub fn summary(allocs: &[Allocation], version: u64) -> GroupSummary {
    let mut s = GroupSummary::default();
    for a in allocs {
        if a.status.client_status == ClientStatus::Running && a.spec.job_version < version {
            s.outdated += 1;
        }
        match a.status.client_status {
            ClientStatus::Pending if a.binding.is_none() => s.queued += 1,
            ClientStatus::Pending => s.starting += 1,
            ClientStatus::Running => s.running += 1,
            ClientStatus::Failed => s.failed += 1,
            ClientStatus::Complete => s.complete += 1,
            ClientStatus::Lost => s.lost += 1,
            ClientStatus::Unknown => s.unknown += 1,
        }
    }
    s
}

/// `"pending"`, `"running"` or `"dead"`.
pub fn job_status(job: &Job, allocs: &[Allocation]) -> &'static str {
    // A parent runs only as its children: it is running until stopped.
    if job.spec.is_parent() && allocs.is_empty() {
        return if job.spec.stop { "dead" } else { "running" };
    }
    if allocs.iter().any(|a| !a.status.client_status.is_terminal()) {
        return "running";
    }
    if job.spec.stop || (is_batch(job) && !allocs.is_empty() && batch_done(job, allocs)) {
        return "dead";
    }
    "pending"
}

fn is_batch(job: &Job) -> bool {
    matches!(job.spec.job_type, JobType::Batch | JobType::Sysbatch)
}

/// Every index of every group is complete, or failed beyond its attempts
/// (judged on the total attempts recorded, since no clock is given).
fn batch_done(job: &Job, allocs: &[Allocation]) -> bool {
    job.spec.groups.iter().all(|group| {
        let attempts = policy::resolve(job, group);
        let replaced: BTreeSet<&str> = allocs
            .iter()
            .filter_map(|a| a.spec.previous_allocation.as_deref())
            .collect();
        let settled: BTreeSet<u32> = allocs
            .iter()
            .filter(|a| a.spec.task_group == group.name)
            .filter(|a| a.spec.desired_status == DesiredStatus::Run)
            .filter(|a| !replaced.contains(a.metadata.uid.as_str()))
            .filter(|a| match a.status.client_status {
                ClientStatus::Complete => true,
                ClientStatus::Failed => match &attempts {
                    None => true,
                    Some(p) => !p.unlimited && a.spec.reschedule_events.len() as u64 >= p.attempts,
                },
                _ => false,
            })
            .map(|a| a.spec.index)
            .collect();
        settled.len() as i64 >= group.count
    })
}
