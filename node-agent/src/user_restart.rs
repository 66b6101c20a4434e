//! A user's restart of running tasks (`drover alloc restart`, Nomad's
//! `alloc restart`), decided without Docker. Pure.
//!
//! The allocation's spec carries the latest
//! [`RestartRequest`](drover_api_types::alloc::RestartRequest); every
//! container the agent creates carries the generation the allocation had
//! then ([`labels::RESTART_GENERATION`]). A running container of a task
//! the request names is restarted while its label is older — once: the
//! new container carries the request's generation, which an agent that
//! restarted reads back from Docker, so nothing runs again by accident.
//!
//! The restart is the user's, not a failure: the restart policy does not
//! count it and the task stays running throughout, so the allocation
//! neither fails nor winds down nor is rescheduled.
//!
//! The agent could die between stopping the old container and starting
//! the new one. The "Restart Signaled" event it writes before it stops
//! anything says a restart is under way ([`in_progress`]): a restarted
//! agent finishes it — an exited or missing container is started anew
//! rather than judged by the restart policy.

use std::collections::BTreeMap;

use drover_api_types::alloc::{RestartRequest, TaskState};

use crate::driver::labels;
use crate::task_state::events;

/// The "Restart Signaled" event's message, as Nomad words it.
pub const USER_REQUESTED: &str = "User requested restart";
/// The "Started" event's message once the new container runs.
pub const RESTARTED: &str = "Task restarted by user";

/// The label a new container of the allocation carries: the request's
/// generation (none before the first request).
pub fn label_value(request: Option<&RestartRequest>) -> Option<String> {
    request
        .map(|r| r.generation)
        .filter(|g| *g > 0)
        .map(|g| g.to_string())
}

/// The generation a running container of `task` must have reached: the
/// request's, when it names the task.
pub fn wanted(request: Option<&RestartRequest>, task: &str) -> Option<u64> {
    request
        .filter(|r| r.generation > 0 && r.names(task))
        .map(|r| r.generation)
}

/// The generation a container was created at (no label, or one that does
/// not parse: 0, before any request).
pub fn container_generation(container_labels: &BTreeMap<String, String>) -> u64 {
    container_labels
        .get(labels::RESTART_GENERATION)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Whether a container with these labels has not had the restart wanted.
pub fn is_due(container_labels: &BTreeMap<String, String>, wanted: Option<u64>) -> bool {
    wanted.is_some_and(|w| container_generation(container_labels) < w)
}

/// Whether the task's latest event (a pull's progress aside) is a user's
/// restart signal: the agent began a restart it has not seen through.
pub fn in_progress(state: &TaskState) -> bool {
    state
        .events
        .iter()
        .rev()
        .find(|e| e.event_type != events::DRIVER)
        .is_some_and(|e| e.event_type == events::RESTART_SIGNALED && e.message == USER_REQUESTED)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task_state::record;
    use chrono::Utc;

    fn request(generation: u64, task: &str) -> RestartRequest {
        RestartRequest {
            generation,
            task: task.into(),
            requested_at: None,
        }
    }

    fn labelled(generation: Option<&str>) -> BTreeMap<String, String> {
        generation
            .map(|g| (labels::RESTART_GENERATION.to_string(), g.to_string()))
            .into_iter()
            .collect()
    }

    #[test]
    fn a_request_is_due_on_the_tasks_it_names_until_their_container_has_it() {
        let all = request(2, "");
        let web = request(3, "web");
        assert_eq!(wanted(Some(&all), "web"), Some(2));
        assert_eq!(wanted(Some(&web), "web"), Some(3));
        assert_eq!(wanted(Some(&web), "sidecar"), None);
        assert_eq!(wanted(None, "web"), None);
        assert_eq!(wanted(Some(&request(0, "")), "web"), None);

        // A container from before any request (or before the label).
        assert!(is_due(&labelled(None), Some(1)));
        assert!(is_due(&labelled(Some("1")), Some(2)));
        // Done once: the new container carries the generation.
        assert!(!is_due(&labelled(Some("2")), Some(2)));
        assert!(!is_due(&labelled(Some("3")), Some(2)));
        assert!(!is_due(&labelled(None), None));
        // A label that does not parse counts as none.
        assert!(is_due(&labelled(Some("x")), Some(1)));
    }

    #[test]
    fn new_containers_carry_the_latest_generation() {
        assert_eq!(label_value(None), None);
        assert_eq!(label_value(Some(&request(0, ""))), None);
        assert_eq!(label_value(Some(&request(7, "web"))).as_deref(), Some("7"));
    }

    #[test]
    fn a_signal_not_followed_by_a_start_is_a_restart_under_way() {
        let now = Utc::now();
        let mut state = TaskState::default();
        assert!(!in_progress(&state));
        record(
            &mut state,
            events::STARTED,
            "Task started by client",
            None,
            now,
        );
        assert!(!in_progress(&state));
        record(
            &mut state,
            events::RESTART_SIGNALED,
            USER_REQUESTED,
            None,
            now,
        );
        assert!(in_progress(&state));
        // A pull for the new container does not end it.
        record(&mut state, events::DRIVER, "Downloading image", None, now);
        assert!(in_progress(&state));
        record(&mut state, events::STARTED, RESTARTED, None, now);
        assert!(!in_progress(&state));
        // A check's restart signal is not the user's.
        record(
            &mut state,
            events::RESTART_SIGNALED,
            "healthcheck: check \"http\" unhealthy",
            None,
            now,
        );
        assert!(!in_progress(&state));
    }
}
