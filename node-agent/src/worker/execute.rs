//! The worker's hands: carrying out one action of [`compute_actions`] on
//! Docker (start, pull, stop, adopt) and recording what follows a task's
//! exit (the restart policy's decision).
//!
//! [`compute_actions`]: crate::actions::compute_actions

use std::time::Duration;

use chrono::{DateTime, Utc};
use drover_api_types::alloc::Allocation;
use drover_api_types::{Job, Task};
use tokio::sync::watch;
use tokio::time::Instant;

use super::{Worker, POLL};
use crate::actions::Action;
use crate::driver::docker::Docker;
use crate::driver::{labels, ContainerSpec};
use crate::lifecycle::TaskView;
use crate::restart::{self, Decision, Exit};
use crate::task_state::{self as ts, events};

/// How often a pull's progress is written to the task's events.
const PULL_PROGRESS: Duration = Duration::from_secs(3);

impl Worker {
    /// Carries out one action; returns when to look again, if sooner.
    pub(super) async fn execute(
        &mut self,
        alloc: &Allocation,
        job: &Job,
        tasks: &[Task],
        action: Action,
    ) -> Option<Duration> {
        let now = Utc::now();
        let shared = self.shared.clone();
        let docker = &shared.docker;
        match action {
            Action::Keep {
                task,
                started_at,
                ip,
                ..
            } => {
                let state = self.task_state(&task);
                if state.state != ts::RUNNING {
                    // Adopted after an agent restart: running, not restarted.
                    state.state = ts::RUNNING.into();
                    state.started_at.get_or_insert(started_at.unwrap_or(now));
                }
                // Kept current on every pass: a container reconnected to
                // another network, or adopted, reports where it is now.
                state.driver_ip = ip.unwrap_or_default();
                None
            }
            Action::Create(spec) => {
                self.start_new(alloc, &spec, now).await;
                None
            }
            Action::Replace { old, spec } => {
                let _ = docker.stop(&old, None, Duration::from_secs(5)).await;
                let _ = docker.remove(&old).await;
                self.start_new(alloc, &spec, now).await;
                None
            }
            Action::Stop {
                id,
                signal,
                timeout,
            } => {
                let task = task_of(alloc, tasks, &id, docker).await;
                if let Some(task) = &task {
                    let state = self.task_state(task);
                    ts::record(state, events::KILLING, "Sent interrupt", None, now);
                }
                if let Err(e) = docker.stop(&id, signal.as_deref(), timeout).await {
                    tracing::warn!(container = %id, error = %e, "stop failed");
                    return Some(POLL);
                }
                if let Some(task) = task {
                    let state = self.task_state(&task);
                    ts::record(
                        state,
                        events::KILLED,
                        "Task successfully killed",
                        None,
                        Utc::now(),
                    );
                    state.state = ts::DEAD.into();
                    state.finished_at = Some(Utc::now());
                }
                None
            }
            Action::Remove { id, running } => {
                if running {
                    let _ = docker
                        .stop(&id, None, crate::actions::ORPHAN_STOP_TIMEOUT)
                        .await;
                }
                let _ = docker.remove(&id).await;
                None
            }
            Action::Exited {
                task,
                id,
                exit_code,
                oom_killed,
                finished_at,
                ..
            } => {
                self.exited(
                    job,
                    tasks,
                    &task,
                    &id,
                    Exit {
                        code: exit_code,
                        oom_killed,
                    },
                    finished_at,
                )
                .await
            }
        }
    }

    async fn start_new(&mut self, alloc: &Allocation, spec: &ContainerSpec, now: DateTime<Utc>) {
        let task = spec.labels.get(labels::TASK).cloned().unwrap_or_default();
        for mount in &spec.mounts {
            if mount
                .source
                .starts_with(&*self.shared.allocs_dir.to_string_lossy())
            {
                if let Err(e) = std::fs::create_dir_all(&mount.source) {
                    self.fail_task(
                        &task,
                        events::TASK_SETUP,
                        format!("creating {}: {e}", mount.source),
                        now,
                    );
                    return;
                }
            }
        }
        for file in &spec.files {
            if let Err(e) = file.write() {
                let message = format!("writing template {}: {e}", file.host_path);
                self.fail_task(&task, events::TASK_SETUP, message, now);
                return;
            }
        }
        let present = !spec.pull.force
            && matches!(
                self.shared.docker.image_present(&spec.image).await,
                Ok(true)
            );
        if !present {
            if let Err(e) = self.pull(alloc, &task, spec).await {
                self.fail_task(&task, events::DRIVER_FAILURE, e.to_string(), Utc::now());
                return;
            }
        }
        let docker = &self.shared.docker;
        let started = match docker.create(spec).await {
            Ok(id) => docker.start(&id).await.map(|()| id),
            Err(e) => Err(e),
        };
        match started {
            Ok(id) => {
                // Not `now`: a pull may have taken a while.
                let at = Utc::now();
                // The IP exists only once the container started; without it
                // a driver-addressed service waits for the next pass.
                let ip = match docker.inspect(&id).await {
                    Ok(o) => o.ip.unwrap_or_default(),
                    Err(e) => {
                        tracing::debug!(container = %id, error = %e, "inspect after start failed");
                        String::new()
                    }
                };
                self.shared.metrics.container_starts.inc();
                let state = self.task_state(&task);
                ts::record(state, events::STARTED, "Task started by client", None, at);
                state.state = ts::RUNNING.into();
                state.started_at = Some(at);
                state.driver_ip = ip;
            }
            Err(e) => self.fail_task(&task, events::DRIVER_FAILURE, e.to_string(), now),
        }
    }

    /// Pulls the task's image, showing its progress as the task's latest
    /// "Driver" event (updated in place every few seconds, so a long pull
    /// does not push the task's history out).
    async fn pull(
        &mut self,
        alloc: &Allocation,
        task: &str,
        spec: &ContainerSpec,
    ) -> Result<(), crate::driver::docker::DriverError> {
        let downloading = format!("Downloading image {}", spec.image);
        let state = self.task_state(task);
        ts::record(state, events::DRIVER, downloading.clone(), None, Utc::now());
        self.write_status(alloc).await;
        let shared = self.shared.clone();
        let (progress_tx, mut progress) = watch::channel(String::new());
        let pull = shared.docker.pull_with_auth(
            &spec.image,
            spec.pull.auth.as_ref(),
            spec.pull.auth_soft_fail,
            move |line| {
                progress_tx.send_replace(line);
            },
        );
        let mut pull = std::pin::pin!(pull);
        let mut tick = tokio::time::interval_at(Instant::now() + PULL_PROGRESS, PULL_PROGRESS);
        loop {
            tokio::select! {
                result = &mut pull => return result,
                _ = tick.tick() => {
                    if !progress.has_changed().unwrap_or(false) {
                        continue;
                    }
                    let line = progress.borrow_and_update().clone();
                    let state = self.task_state(task);
                    if let Some(event) = state.events.last_mut().filter(|e| e.event_type == events::DRIVER) {
                        event.message = format!("{downloading}: {line}");
                        event.time = Some(Utc::now());
                    }
                    self.write_status(alloc).await;
                }
            }
        }
    }

    async fn exited(
        &mut self,
        job: &Job,
        tasks: &[Task],
        task: &str,
        id: &str,
        exit: Exit,
        finished_at: Option<DateTime<Utc>>,
    ) -> Option<Duration> {
        let now = Utc::now();
        let exit_key = format!("{id}@{finished_at:?}");
        let memory = self.tasks.entry(task.to_string()).or_default();
        if let Some(at) = memory.restart_at {
            if Instant::now() < at {
                return Some(at - Instant::now());
            }
            memory.restart_at = None;
            memory.restarts.push(now);
            let restarts = memory.restarts.len() as u64;
            return match self.shared.docker.start(id).await {
                Ok(()) => {
                    self.shared.metrics.container_starts.inc();
                    self.shared.metrics.task_restarts.inc();
                    let state = self.task_state(task);
                    ts::record(
                        state,
                        events::STARTED,
                        "Task restarted by client",
                        None,
                        now,
                    );
                    state.state = ts::RUNNING.into();
                    state.restarts = restarts;
                    None
                }
                Err(e) => {
                    self.fail_task(task, events::DRIVER_FAILURE, e.to_string(), now);
                    None
                }
            };
        }
        if memory.handled_exit.as_deref() == Some(exit_key.as_str()) {
            return None;
        }
        memory.handled_exit = Some(exit_key);
        if exit.oom_killed {
            // Counted once per exit: `handled_exit` dedupes the passes.
            self.shared.metrics.oom_kills.inc();
        }
        let spec = tasks.iter().find(|t| t.name == task);
        let policy = spec.and_then(|t| t.restart.as_ref());
        let completes = spec.is_some_and(|t| TaskView::new(t, None).ephemeral());
        let decision = restart::decide(
            policy,
            job.spec.job_type,
            completes,
            exit,
            &memory.restarts,
            now,
        );
        let state = self.task_state(task);
        ts::record(
            state,
            events::TERMINATED,
            if exit.oom_killed {
                "OOM Killed"
            } else {
                "Exited"
            },
            exit.code,
            now,
        );
        match decision {
            Decision::Restart { after, reason } => {
                ts::record(state, events::RESTARTING, reason, None, now);
                if let Some(memory) = self.tasks.get_mut(task) {
                    memory.restart_at = Some(Instant::now() + after);
                }
                Some(after)
            }
            Decision::Dead { failed, reason } => {
                ts::record(state, events::NOT_RESTARTING, reason, None, now);
                state.state = ts::DEAD.into();
                state.failed = failed;
                state.finished_at = finished_at.or(Some(now));
                None
            }
        }
    }
}

/// The task a container belongs to, from its labels.
async fn task_of(
    _alloc: &Allocation,
    _tasks: &[Task],
    id: &str,
    docker: &Docker,
) -> Option<String> {
    docker
        .inspect(id)
        .await
        .ok()
        .and_then(|o| o.labels.get(labels::TASK).cloned())
}
