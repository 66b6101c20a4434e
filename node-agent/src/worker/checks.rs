//! The worker's side of service checks: which checks run (those of tasks
//! that are running, while the allocation should run), their results in
//! the allocation status, and `check_restart`.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::Utc;
use drover_api_types::alloc::{Allocation, DesiredStatus, TaskRunState};
use drover_api_types::{Job, Node, TaskGroup};
use tokio::sync::mpsc;

use super::{Shared, Worker};
use crate::checks::run::{CheckResult, CheckSet};
use crate::checks::{checks_for, CheckSpec, CheckState};
use crate::task_env::TaskContext;
use crate::task_state::{self as ts, events};

/// The running checks of one allocation and their states.
pub(super) struct Checks {
    set: Option<CheckSet>,
    states: BTreeMap<String, (CheckSpec, CheckState)>,
    tx: mpsc::UnboundedSender<CheckResult>,
    rx: mpsc::UnboundedReceiver<CheckResult>,
}

impl Checks {
    pub(super) fn new() -> Checks {
        let (tx, rx) = mpsc::unbounded_channel();
        Checks {
            set: None,
            states: BTreeMap::new(),
            tx,
            rx,
        }
    }

    /// The next result; pending forever while no check runs.
    pub(super) async fn next(&mut self) -> Option<CheckResult> {
        self.rx.recv().await
    }
}

impl Worker {
    /// Starts, changes or stops the allocation's checks to match what runs.
    pub(super) fn sync_checks(
        &mut self,
        alloc: &Allocation,
        job: &Job,
        group: &TaskGroup,
        node: &Node,
    ) {
        let mut wanted = Vec::new();
        if alloc.spec.desired_status == DesiredStatus::Run {
            for task in &group.tasks {
                let running = self
                    .status
                    .task_states
                    .get(&task.name)
                    .is_some_and(|s| s.state == TaskRunState::Running);
                if !running {
                    continue;
                }
                let ctx = TaskContext {
                    job,
                    group,
                    task,
                    alloc,
                    node,
                };
                match checks_for(&ctx) {
                    Ok(specs) => wanted.extend(specs),
                    Err(e) => {
                        tracing::warn!(alloc = %alloc.metadata.uid, task = %task.name, error = %e, "a service check cannot run");
                    }
                }
            }
        }
        let current: Vec<CheckSpec> = self
            .checks
            .set
            .as_ref()
            .map(|s| s.specs().to_vec())
            .unwrap_or_default();
        if current == wanted {
            return;
        }
        // Keep the state of checks that stay; new ones start at their
        // initial status.
        let mut states = std::mem::take(&mut self.checks.states);
        self.checks.states = wanted
            .iter()
            .map(|spec| {
                let state = match states.remove(&spec.id) {
                    Some((old, state)) if &old == spec => state,
                    _ => CheckState::new(spec),
                };
                (spec.id.clone(), (spec.clone(), state))
            })
            .collect();
        self.checks.set = (!wanted.is_empty()).then(|| {
            CheckSet::start(
                wanted,
                &alloc.metadata.uid,
                Arc::<Shared>::clone(&self.shared),
                self.checks.tx.clone(),
            )
        });
        self.publish_checks();
    }

    /// Folds in one result; restarts the task when `check_restart` says so.
    pub(super) async fn check_result(&mut self, alloc: &Allocation, result: CheckResult) {
        let now = Utc::now();
        let Some((spec, state)) = self.checks.states.get_mut(&result.id) else {
            return;
        };
        let spec = spec.clone();
        let started = self
            .status
            .task_states
            .get(&spec.task)
            .and_then(|t| t.started_at);
        let restart = state.observe(&spec, result.outcome, now, started);
        self.publish_checks();
        if restart {
            self.restart_for_check(alloc, &spec).await;
        }
        let group = self.job.as_ref().and_then(|j| {
            j.spec
                .groups
                .iter()
                .find(|g| g.name == alloc.spec.task_group)
                .cloned()
        });
        if let Some(group) = group {
            // A wake-up this asks for comes with the next pass at the latest
            // (checks run more often than a pass polls).
            let _ = self.judge_health(alloc, &group, now);
        }
        self.write_status(alloc).await;
    }

    fn publish_checks(&mut self) {
        self.status.checks = self
            .checks
            .states
            .values()
            .map(|(_, state)| state.status.clone())
            .collect();
    }

    /// A restarted task gets its grace again: its checks start over from
    /// their initial status.
    pub(super) fn reset_checks(&mut self, task: &str) {
        for (s, st) in self.checks.states.values_mut() {
            if s.task == task {
                *st = CheckState::new(s);
            }
        }
        self.publish_checks();
    }

    /// `check_restart`: restart the task in place, as a restart.
    async fn restart_for_check(&mut self, alloc: &Allocation, spec: &CheckSpec) {
        let now = Utc::now();
        let container = format!("{}-{}", spec.task, alloc.metadata.uid);
        let task = self
            .job
            .as_ref()
            .and_then(|j| {
                j.spec
                    .groups
                    .iter()
                    .find(|g| g.name == alloc.spec.task_group)
            })
            .and_then(|g| g.tasks.iter().find(|t| t.name == spec.task))
            .cloned();
        let (signal, timeout) = task
            .as_ref()
            .map(|t| {
                (
                    (!t.kill_signal.is_empty()).then(|| t.kill_signal.clone()),
                    t.kill_timeout.as_std(),
                )
            })
            .unwrap_or((None, std::time::Duration::from_secs(5)));
        let state = self.task_state(&spec.task);
        ts::record(
            state,
            events::RESTART_SIGNALED,
            format!("healthcheck: check {:?} unhealthy", spec.name),
            None,
            now,
        );
        let docker = &self.shared.docker;
        let restarted = match docker.stop(&container, signal.as_deref(), timeout).await {
            Ok(_) => docker.start(&container).await,
            Err(e) => Err(e),
        };
        let state = self.task_state(&spec.task);
        match restarted {
            Ok(()) => {
                let at = Utc::now();
                state.restarts += 1;
                state.started_at = Some(at);
                ts::record(state, events::STARTED, "Task restarted by client", None, at);
                self.reset_checks(&spec.task);
            }
            Err(e) => {
                tracing::warn!(container = %container, error = %e, "check_restart failed");
                ts::record(
                    state,
                    events::DRIVER_FAILURE,
                    e.to_string(),
                    None,
                    Utc::now(),
                );
            }
        }
    }
}
