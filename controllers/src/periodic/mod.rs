//! The periodic controller: launches the children of periodic jobs on
//! schedule and keeps every parent's finished children in check.
//!
//! Watches (through its shell, [`controller`]) jobs — parents, and children
//! by their `parent_id` — and the children's allocations (spec and status).
//! Keyed by parent job. Owns the launch record (`jobs-periodic/<ns>/<name>`),
//! creates child jobs (`<parent>/periodic-<unix>`), sets `stop` on the
//! children of a stopped or deleted parent, and deletes the oldest finished
//! children (job, status, versions; the job controller then collects their
//! allocations, as for any deleted job). No I/O in [`plan_launch`] or
//! [`plan_children`]: `now` is an argument.
//!
//! Invariants:
//! - a launch is named by its scheduled time and created only if absent,
//!   so a retry, a second leader or a forced launch never doubles one;
//! - launch times in `(evaluated, now]` owe one launch, the latest: missed
//!   ones are not backfilled (Nomad); a record without `evaluated` (first
//!   sight, disabled, stopped) starts from now;
//! - with `prohibit_overlap`, nothing is launched while a child is not dead
//!   (the skip is counted);
//! - a child that is not dead is never deleted; of the dead ones, the
//!   newest `kept` stay (none once the parent is gone).

pub mod controller;
pub mod metrics;
pub mod schedule;
#[cfg(test)]
mod tests;

use chrono::{DateTime, Utc};
use drover_api_types::children::PeriodicLaunch;
use drover_api_types::Job;

pub use controller::{register_hooks, resync_keys, PeriodicController, DESCRIPTOR, NAME};
pub use schedule::Schedule;

/// How a dead child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Complete,
    Failed,
    /// Stopped before it completed.
    Stopped,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Complete => "complete",
            Outcome::Failed => "failed",
            Outcome::Stopped => "stopped",
        }
    }
}

/// Where a child is, as its allocations tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChildState {
    /// Not placed yet, or failed and waiting to be rescheduled.
    Pending,
    Running,
    Dead(Outcome),
}

/// One child of a parent, as the shell observed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Child {
    pub name: String,
    pub launched: DateTime<Utc>,
    pub state: ChildState,
    /// Its spec says stop already.
    pub stopping: bool,
}

impl Child {
    fn dead(&self) -> bool {
        matches!(self.state, ChildState::Dead(_))
    }
}

/// What to do for one periodic parent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaunchPlan {
    /// Launch the child of this scheduled time.
    pub launch: Option<DateTime<Utc>>,
    /// A launch was due but skipped (overlap).
    pub skipped: Option<DateTime<Utc>>,
    /// The record to store.
    pub record: PeriodicLaunch,
}

/// Decides the launch of a parent job at `now` from its stored `record`
/// and its `children`. A parent without a (valid) periodic block, disabled
/// or stopped launches nothing and forgets where it was.
pub fn plan_launch(
    parent: &Job,
    record: &PeriodicLaunch,
    children: &[Child],
    now: DateTime<Utc>,
) -> LaunchPlan {
    let mut next = observed(record, children);
    let mut plan = LaunchPlan {
        launch: None,
        skipped: None,
        record: next.clone(),
    };
    let schedule = parent
        .spec
        .periodic
        .as_ref()
        .filter(|p| p.enabled && !parent.spec.stop)
        .map(|p| (p, Schedule::parse(p)));
    let Some((periodic, Ok(schedule))) = schedule else {
        next.evaluated = None;
        next.next_launch = None;
        plan.record = next;
        return plan;
    };
    if let Some(from) = record.evaluated {
        if let Some(due) = schedule.latest_in(from, now) {
            let busy = children.iter().any(|c| !c.dead());
            if periodic.prohibit_overlap && busy {
                next.skipped += 1;
                next.last_skipped = Some(due);
                plan.skipped = Some(due);
            } else {
                plan.launch = Some(due);
                if next.last_launch.is_none_or(|l| l < due) {
                    next.last_launch = Some(due);
                    next.last_child =
                        drover_api_types::children::periodic_child_name(&parent.metadata.name, due);
                }
            }
            next.evaluated = Some(now);
        }
    } else {
        next.evaluated = Some(now);
    }
    next.next_launch = schedule.next_after(now);
    plan.record = next;
    plan
}

/// The record's facts brought up to date with the children: the latest
/// launch (forced ones included), the latest finished child's result, the
/// latest success.
fn observed(record: &PeriodicLaunch, children: &[Child]) -> PeriodicLaunch {
    let mut next = record.clone();
    if let Some(latest) = children.iter().max_by_key(|c| (c.launched, &c.name)) {
        if next.last_launch.is_none_or(|l| l <= latest.launched) {
            next.last_launch = Some(latest.launched);
            next.last_child = latest.name.clone();
        }
    }
    let finished = children
        .iter()
        .filter_map(|c| match c.state {
            ChildState::Dead(o) => Some((c.launched, &c.name, o)),
            _ => None,
        })
        .max_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
    if let Some((_, _, outcome)) = finished {
        next.last_result = outcome.as_str().to_string();
    }
    let success = children
        .iter()
        .filter(|c| c.state == ChildState::Dead(Outcome::Complete))
        .map(|c| c.launched)
        .max();
    if let Some(success) = success {
        if next.last_success.is_none_or(|s| s < success) {
            next.last_success = Some(success);
        }
    }
    next
}

/// What to do with a parent's children.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChildrenPlan {
    /// Children to stop (the parent is stopped or gone).
    pub stop: Vec<String>,
    /// Dead children to delete, oldest first.
    pub delete: Vec<String>,
}

/// Keeps the newest `kept` dead children and deletes the other dead ones;
/// stops every live child when `parent_stopped`. Children that are not dead
/// are never deleted.
pub fn plan_children(children: &[Child], kept: usize, parent_stopped: bool) -> ChildrenPlan {
    let mut dead: Vec<&Child> = children.iter().filter(|c| c.dead()).collect();
    dead.sort_by(|a, b| (b.launched, &b.name).cmp(&(a.launched, &a.name)));
    let mut delete: Vec<String> = dead.iter().skip(kept).map(|c| c.name.clone()).collect();
    delete.reverse();
    let stop = if parent_stopped {
        let mut live: Vec<String> = children
            .iter()
            .filter(|c| !c.dead() && !c.stopping)
            .map(|c| c.name.clone())
            .collect();
        live.sort();
        live
    } else {
        Vec::new()
    };
    ChildrenPlan { stop, delete }
}
