//! Deployment health: the agent's verdict on an allocation placed by a
//! deployment, as the group's `update` block defines it.
//!
//! Healthy once every main task (and sidecar) has been running — and, with
//! `health_check = "checks"`, every check passing — without a break for
//! `min_healthy_time`. Unhealthy when a task failed for good, or when
//! `healthy_deadline` passes first. `manual` leaves the verdict to the
//! operator (`drover deployment` sets it through the deployment). A verdict,
//! once given for a deployment, is final: the deployments controller acts
//! on it.

use std::time::Duration;

use chrono::{DateTime, Utc};
use drover_api_types::alloc::{Allocation, AllocationStatus, DeploymentHealth, TaskRunState};
use drover_api_types::TaskGroup;

use super::Worker;
use crate::lifecycle::Phase;

/// How the group judges health.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Checks,
    TaskStates,
    Manual,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub mode: Mode,
    pub min_healthy_time: Duration,
    pub healthy_deadline: Duration,
}

impl Policy {
    /// The group's policy; `None` for groups without an update block.
    pub fn of(group: &TaskGroup) -> Option<Policy> {
        let update = group.update.as_ref()?;
        let mode = match update.health_check.as_deref() {
            Some("manual") => Mode::Manual,
            Some("task_states") => Mode::TaskStates,
            _ => Mode::Checks,
        };
        Some(Policy {
            mode,
            min_healthy_time: update
                .min_healthy_time
                .map_or(Duration::ZERO, |d| d.as_std()),
            healthy_deadline: update
                .healthy_deadline
                .map_or(Duration::from_secs(300), |d| d.as_std()),
        })
    }
}

/// What the allocation looks like right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    /// Every main task and sidecar is running.
    pub tasks_up: bool,
    /// A task that failed and will not restart.
    pub failed_task: Option<String>,
    /// Every check the allocation runs is passing (true when it runs none).
    pub checks_passing: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Not yet; look again after this long (if anything is due).
    Undecided(Option<Duration>),
    Healthy,
    Unhealthy(String),
}

/// When this node received the allocation: its tasks' first `Received`
/// event, kept in the status across agent restarts (pure).
pub fn received_at(status: &AllocationStatus) -> Option<DateTime<Utc>> {
    status
        .task_states
        .values()
        .flat_map(|t| t.events.iter())
        .filter(|e| e.event_type == crate::task_state::events::RECEIVED)
        .filter_map(|e| e.time)
        .min()
}

/// Judges one allocation. `up_since` is the start of the current unbroken
/// healthy stretch; it is updated here. `placed_at` starts the deadline.
pub fn judge(
    policy: &Policy,
    observed: &Observed,
    up_since: &mut Option<DateTime<Utc>>,
    placed_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Verdict {
    if policy.mode == Mode::Manual {
        return Verdict::Undecided(None);
    }
    if let Some(task) = &observed.failed_task {
        return Verdict::Unhealthy(format!("task {task:?} failed"));
    }
    let up = observed.tasks_up && (policy.mode == Mode::TaskStates || observed.checks_passing);
    if up {
        let since = *up_since.get_or_insert(now);
        let stayed = (now - since).to_std().unwrap_or_default();
        if stayed >= policy.min_healthy_time {
            return Verdict::Healthy;
        }
    } else {
        *up_since = None;
    }
    let elapsed = (now - placed_at).to_std().unwrap_or_default();
    if elapsed >= policy.healthy_deadline {
        return Verdict::Unhealthy(format!(
            "not healthy within the healthy_deadline of {:?}",
            policy.healthy_deadline
        ));
    }
    let to_deadline = policy.healthy_deadline - elapsed;
    let to_healthy = up_since.map(|since| {
        let stayed = (now - since).to_std().unwrap_or_default();
        policy.min_healthy_time.saturating_sub(stayed)
    });
    Verdict::Undecided(Some(to_healthy.map_or(to_deadline, |t| t.min(to_deadline))))
}

impl Worker {
    /// Gives the verdict for the allocation's deployment when it is due;
    /// returns when to look again, if sooner than the next pass.
    pub(super) fn judge_health(
        &mut self,
        alloc: &Allocation,
        group: &TaskGroup,
        now: DateTime<Utc>,
    ) -> Option<Duration> {
        let Some(deployment_id) = alloc.spec.deployment_id.as_deref() else {
            // Seen outside any deployment: one it joins later is in place.
            self.deployment_joined
                .get_or_insert_with(|| (String::new(), now));
            return None;
        };
        if self.status.health_for(deployment_id).is_some() {
            return None;
        }
        let policy = Policy::of(group)?;
        let observed = self.observe_health(group);
        let placed_at = self.joined_deployment(alloc, deployment_id, now);
        let verdict = judge(
            &policy,
            &observed,
            &mut self.health_up_since,
            placed_at,
            now,
        );
        let (healthy, description) = match verdict {
            Verdict::Undecided(wait) => return wait,
            Verdict::Healthy => (true, String::new()),
            Verdict::Unhealthy(why) => (false, why),
        };
        tracing::info!(alloc = %alloc.metadata.uid, deployment = deployment_id, healthy, %description, "deployment health");
        self.status.deployment_health = Some(DeploymentHealth {
            deployment_id: deployment_id.to_string(),
            healthy,
            at: Some(now),
            description,
        });
        None
    }

    /// When the allocation joined `deployment_id`, which starts its
    /// `healthy_deadline`: when this node received it, for one placed by
    /// it (as in Nomad, time spent queued for a node does not count); when
    /// this worker saw it move to it, for one updated in place (a verdict
    /// for another deployment in its status says so after an agent
    /// restart).
    fn joined_deployment(
        &mut self,
        alloc: &Allocation,
        deployment_id: &str,
        now: DateTime<Utc>,
    ) -> DateTime<Utc> {
        let received = received_at(&self.status)
            .or(alloc.metadata.creation_timestamp)
            .unwrap_or(now);
        let joined = match &self.deployment_joined {
            Some((id, at)) if id == deployment_id => return *at,
            Some(_) => now,
            None if self
                .status
                .deployment_health
                .as_ref()
                .is_some_and(|h| h.deployment_id != deployment_id) =>
            {
                now
            }
            None => received,
        };
        self.deployment_joined = Some((deployment_id.to_string(), joined));
        joined
    }

    fn observe_health(&self, group: &TaskGroup) -> Observed {
        let mut tasks_up = true;
        let mut failed_task = None;
        for task in &group.tasks {
            let state = self.status.task_states.get(&task.name);
            if state.is_some_and(|s| s.failed) {
                failed_task.get_or_insert_with(|| task.name.clone());
            }
            let must_run = Phase::of(task) == Phase::Main
                || task.lifecycle.as_ref().is_some_and(|l| l.sidecar);
            if must_run && state.is_none_or(|s| s.state != TaskRunState::Running) {
                tasks_up = false;
            }
        }
        let checks_passing = self.status.checks.iter().all(|c| c.status == "passing");
        Observed {
            tasks_up,
            failed_task,
            checks_passing,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + secs, 0).unwrap_or_default()
    }

    fn policy(mode: Mode) -> Policy {
        Policy {
            mode,
            min_healthy_time: Duration::from_secs(10),
            healthy_deadline: Duration::from_secs(60),
        }
    }

    fn observed(tasks_up: bool, checks_passing: bool) -> Observed {
        Observed {
            tasks_up,
            failed_task: None,
            checks_passing,
        }
    }

    /// The deadline starts when the node received the allocation, not when
    /// it was created: one queued for capacity is not late on arrival.
    #[test]
    fn the_deadline_counts_from_the_first_received_event() {
        use drover_api_types::alloc::{TaskEvent, TaskState};
        let event = |kind: &str, secs: i64| TaskEvent {
            event_type: kind.into(),
            time: Some(at(secs)),
            message: String::new(),
            exit_code: None,
        };
        let mut status = AllocationStatus::default();
        assert_eq!(received_at(&status), None);
        let web = TaskState {
            events: vec![event("Received", 500), event("Started", 501)],
            ..TaskState::default()
        };
        let side = TaskState {
            events: vec![event("Received", 499)],
            ..TaskState::default()
        };
        status.task_states.insert("web".into(), web);
        status.task_states.insert("side".into(), side);
        assert_eq!(received_at(&status), Some(at(499)));
    }

    #[test]
    fn healthy_only_after_min_healthy_time_without_a_break() {
        let p = policy(Mode::Checks);
        let mut since = None;
        let up = observed(true, true);
        assert_eq!(
            judge(&p, &up, &mut since, at(0), at(1)),
            Verdict::Undecided(Some(Duration::from_secs(10)))
        );
        assert_eq!(
            judge(&p, &up, &mut since, at(0), at(6)),
            Verdict::Undecided(Some(Duration::from_secs(5)))
        );
        // A failing check breaks the stretch: it starts over.
        let down = observed(true, false);
        assert_eq!(
            judge(&p, &down, &mut since, at(0), at(8)),
            Verdict::Undecided(Some(Duration::from_secs(52)))
        );
        assert_eq!(since, None);
        assert!(matches!(
            judge(&p, &up, &mut since, at(0), at(9)),
            Verdict::Undecided(_)
        ));
        assert_eq!(judge(&p, &up, &mut since, at(0), at(19)), Verdict::Healthy);
    }

    #[test]
    fn task_states_ignores_checks_and_checks_mode_needs_them() {
        let mut since = Some(at(0));
        let tasks_only = observed(true, false);
        assert_eq!(
            judge(
                &policy(Mode::TaskStates),
                &tasks_only,
                &mut since,
                at(0),
                at(10)
            ),
            Verdict::Healthy
        );
        let mut since = Some(at(0));
        assert!(matches!(
            judge(
                &policy(Mode::Checks),
                &tasks_only,
                &mut since,
                at(0),
                at(10)
            ),
            Verdict::Undecided(_)
        ));
    }

    #[test]
    fn failed_task_or_deadline_is_unhealthy_and_manual_never_decides() {
        let mut since = None;
        let failed = Observed {
            failed_task: Some("web".into()),
            ..observed(true, true)
        };
        assert_eq!(
            judge(&policy(Mode::Checks), &failed, &mut since, at(0), at(1)),
            Verdict::Unhealthy("task \"web\" failed".into())
        );
        let never_up = observed(false, false);
        assert!(matches!(
            judge(&policy(Mode::Checks), &never_up, &mut since, at(0), at(60)),
            Verdict::Unhealthy(why) if why.contains("healthy_deadline")
        ));
        assert_eq!(
            judge(
                &policy(Mode::Manual),
                &observed(true, true),
                &mut since,
                at(0),
                at(100)
            ),
            Verdict::Undecided(None)
        );
    }
}
