//! Whether an applied job got where it was asked to go, judged from its
//! status alone (pure): the controllers' summary per group and their
//! placement failures.
//!
//! The summary counts every allocation the job still has, old versions'
//! included, so failures and completions are counted from a `baseline` (the
//! status before this apply changed the job) while running, starting and
//! queued are taken as they are.

use drover_api_types::job::{GroupSummary, JobStatus, PlacementFailure};
use drover_api_types::{Job, JobType, TaskGroup};

/// Where a job stands, one line per group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    pub done: bool,
    /// Why waiting longer will not help.
    pub failed: Option<String>,
    pub lines: Vec<String>,
}

/// Judges `status` against `job` (the version just applied).
pub fn evaluate(job: &Job, status: Option<&JobStatus>, baseline: Option<&JobStatus>) -> Progress {
    let fresh = status.filter(|s| s.observed_version >= job.metadata.version);
    let Some(status) = fresh else {
        return Progress {
            done: false,
            failed: None,
            lines: job
                .spec
                .groups
                .iter()
                .map(|g| format!("{}: waiting for the scheduler", g.name))
                .collect(),
        };
    };
    let mut done = true;
    let mut failures = Vec::new();
    let mut lines = Vec::new();
    for group in &job.spec.groups {
        let now = status.summary.get(&group.name).cloned().unwrap_or_default();
        let before = baseline
            .and_then(|b| b.summary.get(&group.name))
            .cloned()
            .unwrap_or_default();
        let s = since(&now, &before);
        let judged = judge(job, group, &s);
        lines.push(line(job, group, &s));
        done &= judged.done;
        if let Some(reason) = judged.failed {
            failures.push(format!("{}: {reason}", group.name));
        }
        let unplaced = status
            .placement_failures
            .get(&group.name)
            .filter(|f| f.queued > 0 && !job.spec.stop);
        if let Some(failure) = unplaced {
            failures.push(format!("{}: {}", group.name, placement_reason(failure)));
        }
    }
    if job.spec.job_type.runs_to_completion() && status.status == "dead" && !done {
        failures.push("the job is dead before its work completed".to_string());
    }
    let failed = (!failures.is_empty()).then(|| failures.join("\n"));
    Progress {
        done: done && failed.is_none(),
        failed,
        lines,
    }
}

struct Judged {
    done: bool,
    failed: Option<String>,
}

/// Cumulative counts (failed, complete, lost) since `before`; the others now.
fn since(now: &GroupSummary, before: &GroupSummary) -> GroupSummary {
    GroupSummary {
        failed: now.failed.saturating_sub(before.failed),
        complete: now.complete.saturating_sub(before.complete),
        lost: now.lost.saturating_sub(before.lost),
        ..now.clone()
    }
}

fn judge(job: &Job, group: &TaskGroup, s: &GroupSummary) -> Judged {
    let count = u64::try_from(group.count).unwrap_or(0);
    let settled = s.queued == 0 && s.starting == 0;
    if job.spec.stop {
        return Judged {
            done: settled && s.running == 0 && s.unknown == 0,
            failed: None,
        };
    }
    // An update is done when the new version runs and the old one is gone.
    let settled = settled && s.outdated == 0;
    let done = match job.spec.job_type {
        JobType::Service => settled && s.running == count,
        JobType::System => settled && s.running > 0,
        JobType::Batch => s.complete >= count,
        JobType::Sysbatch => settled && s.running == 0 && s.complete > 0,
    };
    Judged {
        done,
        failed: (!done && attempts_exhausted(job, group, s)).then(|| {
            format!(
                "{} allocations failed, more than rescheduling ({}) will replace",
                s.failed,
                reschedule_text(job, group)
            )
        }),
    }
}

/// Each index may fail once plus once per rescheduling attempt; more
/// failures than that across the group means at least one index has used
/// them all up (the interval is ignored: within one apply it rarely ends).
fn attempts_exhausted(job: &Job, group: &TaskGroup, s: &GroupSummary) -> bool {
    if s.failed == 0 {
        return false;
    }
    let Some((attempts, unlimited)) = reschedule(job, group) else {
        return true;
    };
    if unlimited {
        return false;
    }
    let count = u64::try_from(group.count).unwrap_or(0).max(1);
    s.failed > count.saturating_mul(attempts)
}

/// (attempts, unlimited), the group's policy over the job's; `None`: no
/// rescheduling at all.
fn reschedule(job: &Job, group: &TaskGroup) -> Option<(u64, bool)> {
    let policy = group.reschedule.as_ref().or(job.spec.reschedule.as_ref())?;
    let unlimited = policy.unlimited.unwrap_or(false);
    let attempts = u64::try_from(policy.attempts.unwrap_or(0)).unwrap_or(0);
    (unlimited || attempts > 0).then_some((attempts, unlimited))
}

fn reschedule_text(job: &Job, group: &TaskGroup) -> String {
    match reschedule(job, group) {
        None => "none".to_string(),
        Some((n, _)) => format!("{n} attempts per allocation"),
    }
}

/// `front: 2/3 running, 1 starting, 0 failed` (batch: complete).
pub fn line(job: &Job, group: &TaskGroup, s: &GroupSummary) -> String {
    let mut text = format!("{}: ", group.name);
    if job.spec.stop {
        text.push_str(&format!("stopping, {} running", s.running));
    } else {
        text.push_str(&match job.spec.job_type {
            JobType::Service => format!(
                "{}/{} running",
                s.running.saturating_sub(s.outdated),
                group.count
            ),
            JobType::Batch => format!(
                "{}/{} complete, {} running",
                s.complete, group.count, s.running
            ),
            JobType::System => format!("{} running", s.running),
            JobType::Sysbatch => format!("{} complete, {} running", s.complete, s.running),
        });
    }
    text.push_str(&format!(", {} starting, {} failed", s.starting, s.failed));
    for (n, what) in [
        (s.outdated, "of the old version still running"),
        (s.queued, "queued"),
        (s.lost, "lost"),
        (s.unknown, "unknown"),
    ] {
        if n > 0 {
            text.push_str(&format!(", {n} {what}"));
        }
    }
    text
}

/// `2 allocations not placed (3 nodes evaluated): constraint … filtered 3
/// nodes; memory exhausted on 1 node`, or `1 allocation not placed: quota
/// web exhausted: …` when the quota held it back before any node.
pub fn placement_reason(f: &PlacementFailure) -> String {
    let mut reasons: Vec<String> = f
        .nodes_filtered
        .iter()
        .map(|(why, n)| format!("{why} filtered {}", nodes(*n)))
        .collect();
    reasons.extend(
        f.dimensions_exhausted
            .iter()
            .map(|(dim, n)| format!("{dim} exhausted on {}", nodes(*n))),
    );
    if let Some(quota) = &f.quota_exhausted {
        if f.nodes_evaluated == 0 {
            return format!("{} not placed: {quota}", plural(f.queued, "allocation"));
        }
        reasons.push(quota.clone());
    } else if f.nodes_evaluated == 0 {
        reasons.push("no node is ready".to_string());
    }
    format!(
        "{} not placed ({} evaluated): {}",
        plural(f.queued, "allocation"),
        nodes(f.nodes_evaluated),
        reasons.join("; ")
    )
}

fn nodes(n: u64) -> String {
    plural(n, "node")
}

fn plural(n: u64, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

#[cfg(test)]
#[path = "progress_tests.rs"]
mod tests;
