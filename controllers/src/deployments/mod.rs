//! The pure core of the deployments controller: from one deployment, its
//! job, the operators' intent and the job's allocations, the deployment's
//! next status.
//!
//! Owns the deployment's status (and a version's stability mark, decided
//! here, written by the shell). No I/O, no clock: `now` is an argument.
//!
//! Invariants of [`assess`]:
//! - a terminal deployment (successful, failed, cancelled) never changes;
//! - a deployment whose job is gone, stopped or at a newer version is
//!   cancelled;
//! - any allocation it placed that the agent (or, for `manual`, the
//!   operator) judged unhealthy fails it, as does a group that made no
//!   progress before its `progress_deadline`, or `drover deployment fail`;
//! - canaries are promoted only once every canary of the group is healthy,
//!   by `auto_promote` or the operator; until then a deployment with healthy
//!   canaries waiting is `blocked`;
//! - successful only when every group runs `desired_total` allocations of
//!   the deployment's version, none of an older one, and every allocation
//!   it placed is healthy.

pub mod controller;

pub use controller::{DeploymentController, DESCRIPTOR, NAME};

#[cfg(test)]
mod tests;

use chrono::{DateTime, Utc};
use drover_api_types::alloc::{Allocation, ClientStatus, DesiredStatus};
use drover_api_types::deployment::{
    DeploymentAdmin, DeploymentGroupSpec, DeploymentGroupStatus, DeploymentState, DeploymentStatus,
};
use drover_api_types::{Deployment, Job};

pub const DESC_RUNNING: &str = "Deployment is running";
pub const DESC_BLOCKED: &str = "Deployment is running but requires manual promotion";
pub const DESC_PAUSED: &str = "Deployment is paused";
pub const DESC_SUCCESSFUL: &str = "Deployment completed successfully";
pub const DESC_UNHEALTHY: &str = "Failed due to unhealthy allocations";
pub const DESC_PROGRESS: &str = "Failed due to progress deadline";
pub const DESC_FAILED_BY_USER: &str = "Deployment marked as failed";
pub const DESC_NEWER: &str = "Cancelled due to newer version of job";
pub const DESC_STOPPED: &str = "Cancelled because job is stopped";
pub const DESC_PURGED: &str = "Cancelled because job was purged";

/// What the deployment's shell does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assessment {
    /// The status to store (equal to the old one when nothing changed).
    pub status: DeploymentStatus,
    /// Failed, and a group asks for `auto_revert`.
    pub revert: bool,
    /// Successful: mark the job version stable.
    pub stable: bool,
    /// When to look again even if nothing changes (a progress deadline).
    pub recheck_at: Option<DateTime<Utc>>,
}

/// Decides the deployment's next status. See the module doc.
pub fn assess(
    d: &Deployment,
    job: Option<&Job>,
    admin: &DeploymentAdmin,
    allocs: &[Allocation],
    now: DateTime<Utc>,
) -> Assessment {
    let mut status = d.status.clone();
    let unchanged = Assessment {
        status: status.clone(),
        revert: false,
        stable: false,
        recheck_at: None,
    };
    if status.state.is_terminal() {
        return unchanged;
    }
    let end = |state, description: &str, mut status: DeploymentStatus| Assessment {
        revert: state == DeploymentState::Failed && d.spec.groups.values().any(|g| g.auto_revert),
        status: {
            status.state = state;
            status.description = description.to_string();
            status.updated_at = Some(now);
            status
        },
        stable: state == DeploymentState::Successful,
        recheck_at: None,
    };
    match job {
        None => return end(DeploymentState::Cancelled, DESC_STOPPED, status),
        Some(j) if j.spec.stop => return end(DeploymentState::Cancelled, DESC_STOPPED, status),
        Some(j) if !d.spec.of_same_job(j) => {
            return end(DeploymentState::Cancelled, DESC_PURGED, status)
        }
        Some(j) if j.metadata.version > d.spec.job_version => {
            return end(DeploymentState::Cancelled, DESC_NEWER, status)
        }
        Some(_) => {}
    }
    let mut all_done = true;
    let mut blocked = false;
    let mut progress_missed = false;
    let mut unhealthy = false;
    for (name, spec) in &d.spec.groups {
        let previous = status.groups.get(name).cloned().unwrap_or_default();
        let group = tally(d, name, spec, &previous, admin, allocs, now);
        unhealthy |= group.status.unhealthy > 0;
        blocked |= group.waits_for_promotion;
        all_done &= group.done;
        if !group.done && group.status.require_progress_by.is_some_and(|by| now >= by) {
            progress_missed = true;
        }
        status.groups.insert(name.clone(), group.status);
    }
    if admin.fail {
        return end(DeploymentState::Failed, DESC_FAILED_BY_USER, status);
    }
    if unhealthy {
        return end(DeploymentState::Failed, DESC_UNHEALTHY, status);
    }
    if progress_missed {
        return end(DeploymentState::Failed, DESC_PROGRESS, status);
    }
    if all_done {
        return end(DeploymentState::Successful, DESC_SUCCESSFUL, status);
    }
    let (state, description) = if admin.paused {
        (DeploymentState::Paused, DESC_PAUSED)
    } else if blocked {
        (DeploymentState::Blocked, DESC_BLOCKED)
    } else {
        (DeploymentState::Running, DESC_RUNNING)
    };
    status.state = state;
    status.description = description.to_string();
    let recheck_at = status
        .groups
        .values()
        .filter_map(|g| g.require_progress_by)
        .min();
    if status.groups != d.status.groups
        || status.state != d.status.state
        || status.description != d.status.description
    {
        status.updated_at = Some(now);
    }
    Assessment {
        status,
        revert: false,
        stable: false,
        recheck_at,
    }
}

/// One group's counts and where it stands.
struct GroupTally {
    status: DeploymentGroupStatus,
    /// Every canary is healthy and the group waits for `promote`.
    waits_for_promotion: bool,
    done: bool,
}

fn tally(
    d: &Deployment,
    group: &str,
    spec: &DeploymentGroupSpec,
    previous: &DeploymentGroupStatus,
    admin: &DeploymentAdmin,
    allocs: &[Allocation],
    now: DateTime<Utc>,
) -> GroupTally {
    let id = d.metadata.name.as_str();
    let ours: Vec<&Allocation> = allocs
        .iter()
        .filter(|a| a.spec.task_group == group)
        .collect();
    let health = |a: &Allocation| {
        a.status
            .health_for(id)
            .or_else(|| admin.alloc_health.get(&a.metadata.uid).copied())
    };
    let placed: Vec<&Allocation> = ours
        .iter()
        .copied()
        .filter(|a| a.spec.deployment_id.as_deref() == Some(id))
        .collect();
    let mut status = previous.clone();
    for a in placed.iter().filter(|a| a.spec.canary) {
        if !status.placed_canaries.contains(&a.metadata.uid) {
            status.placed_canaries.push(a.metadata.uid.clone());
        }
    }
    status.placed = placed.len() as u64;
    let healthy = placed.iter().filter(|a| health(a) == Some(true)).count() as u64;
    if healthy > previous.healthy {
        status.require_progress_by = deadline_from(now, spec);
    }
    status.healthy = healthy;
    status.unhealthy = placed.iter().filter(|a| health(a) == Some(false)).count() as u64;

    let live = |a: &&Allocation| {
        a.spec.desired_status == DesiredStatus::Run && !a.status.client_status.is_terminal()
    };
    let live_canaries: Vec<&Allocation> = placed
        .iter()
        .copied()
        .filter(|a| a.spec.canary)
        .filter(live)
        .collect();
    let canaries_healthy = spec.desired_canaries > 0
        && live_canaries.len() as u64 >= spec.desired_canaries
        && live_canaries.iter().all(|a| health(a) == Some(true));
    if !status.promoted && canaries_healthy && (spec.auto_promote || admin.promotes(group)) {
        status.promoted = true;
    }
    let waits_for_promotion = canaries_healthy && !status.promoted;

    // Running, not merely placed: allocations of the version that another
    // deployment placed (or that moved in place) carry no health verdict
    // for this one, so only their state says they are there.
    let current: Vec<&Allocation> = ours
        .iter()
        .copied()
        .filter(live)
        .filter(|a| a.status.client_status == ClientStatus::Running)
        .filter(|a| !a.spec.canary && a.spec.job_version == d.spec.job_version)
        .collect();
    let old_left = ours
        .iter()
        .copied()
        .filter(live)
        .any(|a| a.spec.job_version < d.spec.job_version);
    let placed_healthy = placed
        .iter()
        .copied()
        .filter(live)
        .all(|a| health(a) == Some(true));
    let done = (spec.desired_canaries == 0 || status.promoted)
        && current.len() as u64 == spec.desired_total
        && !old_left
        && live_canaries.is_empty()
        && placed_healthy;
    GroupTally {
        status,
        waits_for_promotion,
        done,
    }
}

fn deadline_from(now: DateTime<Utc>, spec: &DeploymentGroupSpec) -> Option<DateTime<Utc>> {
    let progress = spec.progress_deadline.as_std();
    if progress.is_zero() {
        return None;
    }
    chrono::Duration::from_std(progress)
        .ok()
        .and_then(|d| now.checked_add_signed(d))
}
