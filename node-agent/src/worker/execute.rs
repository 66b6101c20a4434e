//! The worker's hands: carrying out one action of [`compute_actions`] on
//! Docker (start, pull, stop, adopt, a user's restart) and recording what
//! follows a task's exit (the restart policy's decision).
//!
//! [`compute_actions`]: crate::actions::compute_actions

use std::time::Duration;

use chrono::{DateTime, Utc};
use drover_api_types::alloc::{Allocation, TaskRunState};
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
use crate::user_restart;

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
                if user_restart::in_progress(state) {
                    // A user's restart whose new container started before
                    // the agent could say so (it restarted meanwhile).
                    let at = started_at.unwrap_or(now);
                    ts::record(state, events::STARTED, user_restart::RESTARTED, None, at);
                    state.started_at = Some(at);
                }
                if state.state != TaskRunState::Running {
                    // Adopted after an agent restart: running, not restarted.
                    state.state = TaskRunState::Running;
                    state.started_at.get_or_insert(started_at.unwrap_or(now));
                }
                // Kept current on every pass: a container reconnected to
                // another network, or adopted, reports where it is now.
                state.driver_ip = ip.unwrap_or_default();
                None
            }
            Action::Create(spec) => {
                let task = spec.labels.get(labels::TASK).cloned().unwrap_or_default();
                match self.create_due(job, tasks, &task, now) {
                    CreateDue::Now(how) => self.start_new(alloc, job, tasks, &spec, now, how).await,
                    CreateDue::After(wait) => Some(wait),
                    CreateDue::Never => None,
                }
            }
            Action::Replace { old, spec } => {
                let _ = docker.stop(&old, None, Duration::from_secs(5)).await;
                let _ = docker.remove(&old).await;
                self.start_new(alloc, job, tasks, &spec, now, Start::Fresh)
                    .await
            }
            Action::Restart { old, spec } => {
                self.restart_for_user(alloc, job, tasks, &old, &spec).await
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
                    state.state = TaskRunState::Dead;
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
                restart_due,
                ..
            } if restart_due && user_restart::in_progress(self.task_state(&task)) => {
                // The user's restart stopped it and the agent went away
                // before the new container: finish the restart. The next
                // pass creates the new one (`create_due`: still this restart).
                if let Err(e) = docker.remove(&id).await {
                    tracing::warn!(container = %id, error = %e, "removing the container of a restart failed");
                    return Some(POLL);
                }
                tracing::info!(alloc = %alloc.metadata.uid, task, "finishing a restart a user asked for");
                Some(super::NEXT_PHASE)
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

    /// Whether a missing container may be created now. A restart pending
    /// after an exit waits for its delay; a task that ran and whose
    /// container vanished (`docker rm -f` from outside) has exited, and
    /// the restart policy decides when (or whether) it runs again.
    fn create_due(
        &mut self,
        job: &Job,
        tasks: &[Task],
        task: &str,
        now: DateTime<Utc>,
    ) -> CreateDue {
        if user_restart::in_progress(self.task_state(task)) {
            // A user's restart removed the old container; this is its new one.
            return CreateDue::Now(Start::UserRestart);
        }
        let memory = self.tasks.entry(task.to_string()).or_default();
        if let Some(at) = memory.restart_at {
            let left = at.saturating_duration_since(Instant::now());
            if !left.is_zero() {
                return CreateDue::After(left);
            }
            // Cleared by `start_new` once Docker took the create (or
            // refused it for good): a create that waits for Docker to
            // finish removing the old container is still this restart.
            return CreateDue::Now(Start::PolicyRestart);
        }
        let state = self.task_state(task);
        if state.state != TaskRunState::Running {
            return CreateDue::Now(Start::Fresh);
        }
        ts::record(
            state,
            events::TERMINATED,
            "Container removed outside drover",
            None,
            now,
        );
        match self.apply_policy(
            job,
            tasks,
            task,
            Exit {
                code: None,
                oom_killed: false,
            },
            now,
        ) {
            Some(wait) => CreateDue::After(wait),
            None => CreateDue::Never,
        }
    }

    /// `spec` with every mount source a container could swap for a link
    /// replaced by the agent's pinned bind mount of it
    /// ([`crate::pinned_mounts`]); the error is the task event's message.
    fn pin_mounts(
        &self,
        alloc_root: &std::path::Path,
        task: &str,
        spec: &ContainerSpec,
    ) -> Result<ContainerSpec, String> {
        let mut pinned = spec.clone();
        for (index, mount) in pinned.mounts.iter_mut().enumerate() {
            let source = std::path::Path::new(&mount.source);
            if !crate::pinned_mounts::needs_pinning(alloc_root, source) {
                continue;
            }
            let at =
                crate::pinned_mounts::pin(&self.shared.allocs_dir, alloc_root, task, index, source)
                    .map_err(|e| format!("mount source {}: {e}", mount.source))?;
            mount.source = at.to_string_lossy().into_owned();
        }
        Ok(pinned)
    }

    /// After an exit or a failed start: the restart policy's decision,
    /// recorded. Returns the delay when the task restarts.
    fn apply_policy(
        &mut self,
        job: &Job,
        tasks: &[Task],
        task: &str,
        exit: Exit,
        now: DateTime<Utc>,
    ) -> Option<Duration> {
        let memory = self.tasks.entry(task.to_string()).or_default();
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
        match decision {
            Decision::Restart { after, reason } => {
                memory.restart_at = Some(Instant::now() + after);
                let state = self.task_state(task);
                ts::record(state, events::RESTARTING, reason, None, now);
                Some(after)
            }
            Decision::Dead { failed, reason } => {
                let state = self.task_state(task);
                ts::record(state, events::NOT_RESTARTING, reason, None, now);
                state.state = TaskRunState::Dead;
                state.failed = failed;
                state.finished_at = Some(now);
                None
            }
        }
    }

    /// A create or start failed: Docker still removing the old container
    /// is waited out; anything else counts against the restart policy
    /// rather than failing the allocation at once.
    fn start_failed(
        &mut self,
        job: &Job,
        tasks: &[Task],
        task: &str,
        error: &crate::driver::docker::DriverError,
        now: DateTime<Utc>,
    ) -> Option<Duration> {
        if error.is_removal_in_progress() {
            tracing::info!(task, error = %error, "the old container is still being removed; creating again shortly");
            return Some(REMOVAL_RETRY);
        }
        let state = self.task_state(task);
        ts::record(state, events::DRIVER_FAILURE, error.to_string(), None, now);
        self.apply_policy(
            job,
            tasks,
            task,
            Exit {
                code: None,
                oom_killed: false,
            },
            now,
        )
    }

    async fn start_new(
        &mut self,
        alloc: &Allocation,
        job: &Job,
        tasks: &[Task],
        spec: &ContainerSpec,
        now: DateTime<Utc>,
        how: Start,
    ) -> Option<Duration> {
        let restart = how == Start::PolicyRestart;
        let task = spec.labels.get(labels::TASK).cloned().unwrap_or_default();
        // Files first: a rendered template (or payload) that `volumes` then
        // mounts as a file must exist as a file before the mount sources
        // are made, or it would be created as a directory.
        let alloc_root = self.shared.allocs_dir.join(&alloc.metadata.uid);
        if let Err(e) =
            crate::secrets_tmpfs::ensure(&self.shared.allocs_dir, &alloc_root.join(&task))
        {
            let message = format!("making secrets/ a tmpfs: {e}");
            self.fail_task(&task, events::TASK_SETUP, message, now);
            return None;
        }
        for file in &spec.files {
            if let Err(e) = file.write(&alloc_root) {
                let message = format!("writing template {}: {e}", file.host_path);
                self.fail_task(&task, events::TASK_SETUP, message, now);
                return None;
            }
        }
        let allocs_dir = self.shared.allocs_dir.to_string_lossy().into_owned();
        for dir in crate::container_spec::mount_dirs(spec, &allocs_dir) {
            let created =
                crate::confined::create_dirs(&self.shared.allocs_dir, std::path::Path::new(&dir));
            if let Err(e) = created {
                self.fail_task(
                    &task,
                    events::TASK_SETUP,
                    format!("creating {dir}: {e}"),
                    now,
                );
                return None;
            }
        }
        let pinned = match self.pin_mounts(&alloc_root, &task, spec) {
            Ok(pinned) => pinned,
            Err(message) => {
                self.fail_task(&task, events::TASK_SETUP, message, now);
                return None;
            }
        };
        let spec = &pinned;
        let present = !spec.pull.force
            && matches!(
                self.shared.docker.image_present(&spec.image).await,
                Ok(true)
            );
        if !present {
            if let Err(e) = self.pull(alloc, &task, spec).await {
                self.fail_task(&task, events::DRIVER_FAILURE, e.to_string(), Utc::now());
                return None;
            }
        }
        let docker = &self.shared.docker;
        let started = match docker.create(spec).await {
            Ok(id) => docker.start(&id).await.map(|()| id),
            Err(e) => Err(e),
        };
        let waits_for_removal = matches!(&started, Err(e) if e.is_removal_in_progress());
        if restart && !waits_for_removal {
            let memory = self.tasks.entry(task.clone()).or_default();
            memory.restart_at = None;
            memory.restarts.push(now);
        }
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
                let restarts = self.tasks.get(&task).map_or(0, |m| m.restarts.len() as u64);
                let state = self.task_state(&task);
                match how {
                    Start::PolicyRestart => {
                        ts::record(state, events::STARTED, "Task restarted by client", None, at);
                        state.restarts = restarts;
                    }
                    // The policy's count stays as it was: the user's
                    // restart is no failure.
                    Start::UserRestart => {
                        ts::record(state, events::STARTED, user_restart::RESTARTED, None, at)
                    }
                    Start::Fresh => {
                        ts::record(state, events::STARTED, "Task started by client", None, at)
                    }
                }
                state.state = TaskRunState::Running;
                state.started_at = Some(at);
                state.driver_ip = ip;
                if restart {
                    self.shared.metrics.task_restarts.inc();
                }
                None
            }
            Err(e) => self.start_failed(job, tasks, &task, &e, now),
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

    /// A user's restart of a running task: the "Restart Signaled" event
    /// written first (so an agent that dies midway finishes the restart
    /// rather than count an exit), the container stopped with the task's
    /// kill signal and timeout and removed, and the same spec created
    /// again, carrying the request's generation. The task stays running
    /// throughout; a stop that fails is tried again at the next pass.
    async fn restart_for_user(
        &mut self,
        alloc: &Allocation,
        job: &Job,
        tasks: &[Task],
        old: &str,
        spec: &ContainerSpec,
    ) -> Option<Duration> {
        let task = spec.labels.get(labels::TASK).cloned().unwrap_or_default();
        let state = self.task_state(&task);
        if !user_restart::in_progress(state) {
            tracing::info!(alloc = %alloc.metadata.uid, task, "restarting the task: a user asked");
            ts::record(
                state,
                events::RESTART_SIGNALED,
                user_restart::USER_REQUESTED,
                None,
                Utc::now(),
            );
            self.write_status(alloc).await;
        }
        let (signal, timeout) = tasks
            .iter()
            .find(|t| t.name == task)
            .map(|t| {
                (
                    (!t.kill_signal.is_empty()).then(|| t.kill_signal.clone()),
                    t.kill_timeout.as_std(),
                )
            })
            .unwrap_or((None, Duration::from_secs(5)));
        let docker = &self.shared.docker;
        if let Err(e) = docker.stop(old, signal.as_deref(), timeout).await {
            tracing::warn!(container = %old, error = %e, "stopping a container for a restart failed; trying again");
            return Some(POLL);
        }
        if let Err(e) = docker.remove(old).await {
            tracing::warn!(container = %old, error = %e, "removing a container for a restart failed; trying again");
            return Some(POLL);
        }
        self.reset_checks(&task);
        self.start_new(alloc, job, tasks, spec, Utc::now(), Start::UserRestart)
            .await
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
            let started = self.shared.docker.start(id).await;
            if matches!(&started, Err(e) if e.is_removal_in_progress()) {
                // Removed from outside meanwhile: the next pass creates it
                // anew, still as this restart.
                return Some(REMOVAL_RETRY);
            }
            let memory = self.tasks.entry(task.to_string()).or_default();
            memory.restart_at = None;
            memory.restarts.push(now);
            let restarts = memory.restarts.len() as u64;
            return match started {
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
                    state.state = TaskRunState::Running;
                    state.restarts = restarts;
                    None
                }
                Err(e) => self.start_failed(job, tasks, task, &e, now),
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
        let wait = self.apply_policy(job, tasks, task, exit, now);
        if wait.is_none() {
            if let Some(state) = self.status.task_states.get_mut(task) {
                if state.state == TaskRunState::Dead {
                    state.finished_at = finished_at.or(Some(now));
                }
            }
        }
        wait
    }
}

/// Why a container is created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Start {
    /// The task's first, or one after a replacement.
    Fresh,
    /// The restart policy's, after an exit: counted by the policy.
    PolicyRestart,
    /// A user's restart request's: not counted.
    UserRestart,
}

/// Whether a missing container is created now.
enum CreateDue {
    Now(Start),
    /// A restart delay is running.
    After(Duration),
    /// The restart policy gave up: the task is dead.
    Never,
}

/// How soon a create is tried again while Docker removes the old container.
const REMOVAL_RETRY: Duration = Duration::from_secs(1);

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
