//! Task lifecycle within one allocation, as Nomad orders it. Pure: the
//! worker asks [`plan`] what each task may do in this pass.
//!
//! - **prestart** tasks start first. Ephemeral ones (no `sidecar`) must
//!   complete successfully before the main tasks start; sidecars must be
//!   running.
//! - **main** tasks (no `lifecycle` block) start once the prestart phase is
//!   done.
//! - **poststart** tasks start once every main task runs.
//! - When the allocation winds down — it is told to stop, a task failed for
//!   good, the leader task died, or every main task finished — main tasks
//!   and ephemeral hooks are stopped first, sidecars once no main task runs,
//!   and **poststop** tasks run last, once everything else is dead (only if
//!   a main task ever started: there is nothing to clean up otherwise).

use drover_api_types::alloc::TaskRunState;
use drover_api_types::Task;

/// Where a task sits in the allocation's lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Prestart,
    Main,
    Poststart,
    Poststop,
}

impl Phase {
    pub fn of(task: &Task) -> Phase {
        match task.lifecycle.as_ref().map(|l| l.hook.as_str()) {
            None => Phase::Main,
            Some("prestart") => Phase::Prestart,
            Some("poststart") => Phase::Poststart,
            // Validation admits only the three hooks.
            Some(_) => Phase::Poststop,
        }
    }
}

/// A task as the plan sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskView {
    pub phase: Phase,
    pub sidecar: bool,
    pub leader: bool,
    pub state: TaskRunState,
    pub failed: bool,
    /// The task has been started at least once.
    pub started: bool,
}

impl TaskView {
    pub fn new(task: &Task, state: Option<&drover_api_types::alloc::TaskState>) -> TaskView {
        TaskView {
            phase: Phase::of(task),
            sidecar: task.lifecycle.as_ref().is_some_and(|l| l.sidecar),
            leader: task.leader,
            state: state.map_or(TaskRunState::Pending, |s| s.state),
            failed: state.is_some_and(|s| s.failed),
            started: state.is_some_and(|s| s.started_at.is_some()),
        }
    }

    fn dead(&self) -> bool {
        self.state == TaskRunState::Dead
    }

    fn running(&self) -> bool {
        self.state == TaskRunState::Running
    }

    /// Runs until it exits, rather than for the allocation's lifetime.
    pub fn ephemeral(&self) -> bool {
        self.phase != Phase::Main && !self.sidecar
    }
}

/// What one task may do in this pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Keep it running (create or restart it as needed).
    Run,
    /// Not yet: create nothing, leave any container alone.
    Wait,
    /// Stop it (signal, then kill after its timeout).
    Stop,
    /// It will never run: record it dead without starting it.
    Skip,
}

/// Decides every task's step, in the order of `tasks`.
pub fn plan(tasks: &[TaskView], stopping: bool) -> Vec<Step> {
    let of = |phase: Phase| tasks.iter().filter(move |t| t.phase == phase);
    let gave_up = tasks
        .iter()
        .any(|t| t.phase != Phase::Poststop && t.dead() && t.failed);
    let leader_dead = tasks.iter().any(|t| t.leader && t.dead());
    let mains_done = of(Phase::Main).all(TaskView::dead);
    let winding_down = stopping || gave_up || leader_dead || mains_done;
    let any_main_started = of(Phase::Main).any(|t| t.started);
    let any_main_running = of(Phase::Main).any(TaskView::running);
    let others_dead = tasks
        .iter()
        .filter(|t| t.phase != Phase::Poststop)
        .all(TaskView::dead);
    let prestart_done = of(Phase::Prestart).all(|t| {
        if t.sidecar {
            t.running()
        } else {
            t.dead() && !t.failed
        }
    });
    let mains_running = of(Phase::Main).all(TaskView::running);

    tasks
        .iter()
        .map(|t| {
            if t.phase == Phase::Poststop {
                return match (winding_down && others_dead, any_main_started) {
                    (false, _) => Step::Wait,
                    (true, true) if t.dead() => Step::Stop,
                    (true, true) => Step::Run,
                    (true, false) => Step::Skip,
                };
            }
            if winding_down {
                // Sidecars outlive the main tasks they serve.
                return if t.sidecar && any_main_running {
                    Step::Wait
                } else {
                    Step::Stop
                };
            }
            if t.dead() {
                // An ephemeral hook that completed stays completed.
                return Step::Stop;
            }
            match t.phase {
                Phase::Prestart => Step::Run,
                Phase::Main if prestart_done || t.started => Step::Run,
                Phase::Poststart if mains_running || t.started => Step::Run,
                _ => Step::Wait,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests;
