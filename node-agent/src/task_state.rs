//! Task states and events as the agent records them in the allocation
//! status, and the allocation's client status derived from them. Pure.

use chrono::{DateTime, Utc};
use drover_api_types::alloc::{AllocationStatus, ClientStatus, TaskEvent, TaskRunState, TaskState};

/// Event types, named as Nomad names them.
pub mod events {
    pub const RECEIVED: &str = "Received";
    pub const TASK_SETUP: &str = "Task Setup";
    pub const DRIVER: &str = "Driver";
    pub const STARTED: &str = "Started";
    pub const TERMINATED: &str = "Terminated";
    pub const RESTARTING: &str = "Restarting";
    pub const NOT_RESTARTING: &str = "Not Restarting";
    pub const KILLING: &str = "Killing";
    pub const KILLED: &str = "Killed";
    pub const RESTART_SIGNALED: &str = "Restart Signaled";
    pub const DRIVER_FAILURE: &str = "Driver Failure";
}

/// Events kept per task; older ones are dropped (Nomad keeps 10).
pub const MAX_EVENTS: usize = 10;

/// Appends an event, keeping the last [`MAX_EVENTS`].
pub fn record(
    state: &mut TaskState,
    kind: &str,
    message: impl Into<String>,
    exit_code: Option<i64>,
    now: DateTime<Utc>,
) {
    state.events.push(TaskEvent {
        event_type: kind.to_string(),
        time: Some(now),
        message: message.into(),
        exit_code,
    });
    if state.events.len() > MAX_EVENTS {
        let drop = state.events.len() - MAX_EVENTS;
        state.events.drain(..drop);
    }
}

/// The allocation's client status from its tasks' states: failed if a task
/// died failed, complete once every task is dead, running while any runs
/// or once a main task has started (poststop hooks may still be to run),
/// pending before. `tasks` are the task names, each with whether it is a
/// main task (no lifecycle hook).
pub fn client_status(
    status: &AllocationStatus,
    tasks: &[(String, bool)],
) -> (ClientStatus, &'static str) {
    let state_of = |(t, _): &(String, bool)| status.task_states.get(t);
    if tasks
        .iter()
        .filter_map(state_of)
        .any(|s| s.state == TaskRunState::Dead && s.failed)
    {
        return (ClientStatus::Failed, "Failed tasks");
    }
    if !tasks.is_empty()
        && tasks
            .iter()
            .all(|t| state_of(t).is_some_and(|s| s.state == TaskRunState::Dead))
    {
        return (ClientStatus::Complete, "All tasks have completed");
    }
    if tasks
        .iter()
        .filter_map(state_of)
        .any(|s| s.state == TaskRunState::Running)
    {
        return (ClientStatus::Running, "Tasks are running");
    }
    let main_started = tasks
        .iter()
        .filter(|(_, main)| *main)
        .filter_map(state_of)
        .any(|s| s.started_at.is_some());
    if main_started {
        return (ClientStatus::Running, "Tasks are running");
    }
    (ClientStatus::Pending, "No tasks have started")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(states: &[(&str, TaskRunState, bool)]) -> AllocationStatus {
        let mut s = AllocationStatus::default();
        for (task, state, failed) in states {
            s.task_states.insert(
                task.to_string(),
                TaskState {
                    state: *state,
                    failed: *failed,
                    ..Default::default()
                },
            );
        }
        s
    }

    #[test]
    fn client_status_follows_the_tasks() {
        let tasks = vec![("web".to_string(), true), ("log".to_string(), false)];
        let cases = [
            (vec![], ClientStatus::Pending),
            (
                vec![("web", TaskRunState::Pending, false)],
                ClientStatus::Pending,
            ),
            (
                vec![
                    ("web", TaskRunState::Running, false),
                    ("log", TaskRunState::Pending, false),
                ],
                ClientStatus::Running,
            ),
            (
                vec![
                    ("web", TaskRunState::Dead, false),
                    ("log", TaskRunState::Running, false),
                ],
                ClientStatus::Running,
            ),
            (
                vec![
                    ("web", TaskRunState::Dead, false),
                    ("log", TaskRunState::Dead, false),
                ],
                ClientStatus::Complete,
            ),
            (
                vec![
                    ("web", TaskRunState::Dead, true),
                    ("log", TaskRunState::Running, false),
                ],
                ClientStatus::Failed,
            ),
        ];
        for (states, want) in cases {
            assert_eq!(
                client_status(&status(&states), &tasks).0,
                want,
                "{states:?}"
            );
        }
    }

    #[test]
    fn a_started_main_task_keeps_the_allocation_running_between_phases() {
        let tasks = vec![("web".to_string(), true), ("cleanup".to_string(), false)];
        let mut s = status(&[
            ("web", TaskRunState::Dead, false),
            ("cleanup", TaskRunState::Pending, false),
        ]);
        assert_eq!(client_status(&s, &tasks).0, ClientStatus::Pending);
        if let Some(web) = s.task_states.get_mut("web") {
            web.started_at = Some(Utc::now());
        }
        assert_eq!(client_status(&s, &tasks).0, ClientStatus::Running);
    }

    #[test]
    fn events_are_capped_oldest_first_out() {
        let mut state = TaskState::default();
        let now = Utc::now();
        for i in 0..15 {
            record(&mut state, events::RESTARTING, format!("#{i}"), None, now);
        }
        assert_eq!(state.events.len(), MAX_EVENTS);
        assert_eq!(state.events[0].message, "#5");
        assert_eq!(state.events[9].message, "#14");
    }
}
