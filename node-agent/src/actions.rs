//! What to do to Docker, decided from what is desired and what Docker shows.
//! Pure: the worker of each allocation calls it with fresh observations and
//! carries the actions out.
//!
//! Invariants of [`compute_actions`]:
//! - a running container whose labels and spec hash match what is desired
//!   is kept — never restarted (that is how an agent restart adopts its
//!   containers) unless a user's restart request names its task and is
//!   newer than the container ([`crate::user_restart`]);
//! - at most one container per (allocation, task) survives; extra ones are
//!   removed, the running one with the right hash preferred;
//! - a container of a task that should stop is stopped with the task's
//!   signal and timeout; one that exited is reported, so the worker applies
//!   the restart policy;
//! - a labelled container that matches no desired task (an orphan) is
//!   removed, stopped first if it runs;
//! - containers without drover's labels are never touched.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::driver::{labels, ContainerSpec, Observed};

/// What one task of one allocation should be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Intent {
    Run(Box<ContainerSpec>),
    Stop {
        signal: Option<String>,
        timeout: Duration,
    },
    /// Not its turn (a lifecycle phase not reached): create nothing and
    /// leave any container of it as it is.
    Leave,
}

/// A task the agent is responsible for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredTask {
    pub alloc_id: String,
    pub task: String,
    pub intent: Intent,
    /// The restart generation a running container of the task must have
    /// reached: a user's request naming it ([`crate::user_restart::wanted`]).
    pub restart: Option<u64>,
}

/// One step for the driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Create and start.
    Create(Box<ContainerSpec>),
    /// Running as desired; nothing to do.
    Keep {
        alloc_id: String,
        task: String,
        id: String,
        /// When Docker started it (an adopted task's start time).
        started_at: Option<DateTime<Utc>>,
        /// Its IP on its Docker network, for `address_mode = "driver"`.
        ip: Option<String>,
    },
    /// The task's container exited: the worker applies the restart policy
    /// (start it again, or record the task dead) — unless a user's restart
    /// it began stopped it (`restart_due`: the container has not had the
    /// restart wanted), which it then finishes.
    Exited {
        alloc_id: String,
        task: String,
        id: String,
        exit_code: Option<i64>,
        oom_killed: bool,
        finished_at: Option<DateTime<Utc>>,
        restart_due: bool,
    },
    /// A user asked for a restart this running container has not had:
    /// stop and remove `old`, then create `spec` again (the same spec,
    /// carrying the request's generation). Not a failure: the restart
    /// policy does not count it.
    Restart {
        old: String,
        spec: Box<ContainerSpec>,
    },
    /// The spec changed: stop and remove `old`, then create `spec`.
    Replace {
        old: String,
        spec: Box<ContainerSpec>,
    },
    /// Stop (signal, then SIGKILL after the timeout); the container stays
    /// for logs until garbage collection.
    Stop {
        id: String,
        signal: Option<String>,
        timeout: Duration,
    },
    /// Remove (stopping it first if it runs): a duplicate or an orphan.
    Remove { id: String, running: bool },
}

/// How long an orphan gets to stop before it is killed.
pub const ORPHAN_STOP_TIMEOUT: Duration = Duration::from_secs(5);

fn key_of(o: &Observed) -> Option<(String, String)> {
    Some((
        o.labels.get(labels::ALLOC_ID)?.clone(),
        o.labels.get(labels::TASK)?.clone(),
    ))
}

fn hash_of(labels_map: &BTreeMap<String, String>) -> Option<&str> {
    labels_map.get(labels::SPEC_HASH).map(String::as_str)
}

/// The observed container is what `wanted` describes: the same hash, or
/// the same hash but for the job's meta (an in-place update).
fn same_container(observed: &BTreeMap<String, String>, wanted: &BTreeMap<String, String>) -> bool {
    if hash_of(observed) == hash_of(wanted) {
        return true;
    }
    let seen = observed.get(labels::SPEC_HASH_WITHOUT_META);
    seen.is_some() && seen == wanted.get(labels::SPEC_HASH_WITHOUT_META)
}

/// Decides every action for `desired` given `observed`. See the module
/// header for the rules; the result is in a deterministic order.
pub fn compute_actions(desired: &[DesiredTask], observed: &[Observed]) -> Vec<Action> {
    let mut by_task: BTreeMap<(String, String), Vec<&Observed>> = BTreeMap::new();
    for o in observed {
        if let Some(key) = key_of(o) {
            by_task.entry(key).or_default().push(o);
        }
    }
    let mut actions = Vec::new();
    for want in desired {
        let key = (want.alloc_id.clone(), want.task.clone());
        let mut found = by_task.remove(&key).unwrap_or_default();
        match &want.intent {
            Intent::Run(spec) => run(want, spec, &mut found, &mut actions),
            Intent::Leave => {}
            Intent::Stop { signal, timeout } => {
                for o in found.iter().filter(|o| o.running) {
                    actions.push(Action::Stop {
                        id: o.id.clone(),
                        signal: signal.clone(),
                        timeout: *timeout,
                    });
                }
            }
        }
    }
    for orphan in by_task.into_values().flatten() {
        actions.push(Action::Remove {
            id: orphan.id.clone(),
            running: orphan.running,
        });
    }
    actions
}

fn run(
    want: &DesiredTask,
    spec: &ContainerSpec,
    found: &mut Vec<&Observed>,
    actions: &mut Vec<Action>,
) {
    // Best first: running with the right hash, then running, then the most
    // recently started.
    found.sort_by(|a, b| {
        let rank = |o: &Observed| {
            (
                !(o.running && same_container(&o.labels, &spec.labels)),
                !o.running,
            )
        };
        rank(a)
            .cmp(&rank(b))
            .then(b.started_at.cmp(&a.started_at))
            .then(a.id.cmp(&b.id))
    });
    let Some((keeper, extras)) = found.split_first() else {
        actions.push(Action::Create(Box::new(spec.clone())));
        return;
    };
    for extra in extras {
        actions.push(Action::Remove {
            id: extra.id.clone(),
            running: extra.running,
        });
    }
    let matches = same_container(&keeper.labels, &spec.labels);
    let restart_due = crate::user_restart::is_due(&keeper.labels, want.restart);
    let action = match (keeper.running, matches) {
        (_, false) => Action::Replace {
            old: keeper.id.clone(),
            spec: Box::new(spec.clone()),
        },
        (true, true) if restart_due => Action::Restart {
            old: keeper.id.clone(),
            spec: Box::new(spec.clone()),
        },
        (true, true) => Action::Keep {
            alloc_id: want.alloc_id.clone(),
            task: want.task.clone(),
            id: keeper.id.clone(),
            started_at: keeper.started_at,
            ip: keeper.ip.clone(),
        },
        (false, true) => Action::Exited {
            alloc_id: want.alloc_id.clone(),
            task: want.task.clone(),
            id: keeper.id.clone(),
            exit_code: keeper.exit_code,
            oom_killed: keeper.oom_killed,
            finished_at: keeper.finished_at,
            restart_due,
        },
    };
    actions.push(action);
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn spec(alloc: &str, task: &str, hash: &str) -> ContainerSpec {
        let mut s = ContainerSpec {
            name: format!("{task}-{alloc}"),
            image: "busybox:1".into(),
            ..Default::default()
        };
        s.labels.insert(labels::ALLOC_ID.into(), alloc.into());
        s.labels.insert(labels::TASK.into(), task.into());
        s.labels.insert(labels::SPEC_HASH.into(), hash.into());
        s
    }

    fn seen(
        id: &str,
        alloc: &str,
        task: &str,
        hash: &str,
        running: bool,
        started: i64,
    ) -> Observed {
        let spec = spec(alloc, task, hash);
        Observed {
            id: id.into(),
            name: spec.name,
            labels: spec.labels,
            running,
            exit_code: (!running).then_some(1),
            started_at: Utc.timestamp_opt(started, 0).single(),
            ..Default::default()
        }
    }

    fn run_intent(alloc: &str, task: &str, hash: &str) -> DesiredTask {
        DesiredTask {
            alloc_id: alloc.into(),
            task: task.into(),
            intent: Intent::Run(Box::new(spec(alloc, task, hash))),
            restart: None,
        }
    }

    fn stop_intent(alloc: &str, task: &str) -> DesiredTask {
        DesiredTask {
            alloc_id: alloc.into(),
            task: task.into(),
            intent: Intent::Stop {
                signal: Some("SIGINT".into()),
                timeout: Duration::from_secs(7),
            },
            restart: None,
        }
    }

    #[test]
    fn missing_is_created_and_matching_is_kept() {
        let actions = compute_actions(
            &[run_intent("a", "web", "h1"), run_intent("b", "web", "h1")],
            &[seen("c1", "a", "web", "h1", true, 10)],
        );
        assert_eq!(
            actions,
            vec![
                Action::Keep {
                    alloc_id: "a".into(),
                    task: "web".into(),
                    id: "c1".into(),
                    started_at: Utc.timestamp_opt(10, 0).single(),
                    ip: None,
                },
                Action::Create(Box::new(spec("b", "web", "h1"))),
            ]
        );
    }

    #[test]
    fn a_container_differing_only_in_meta_is_kept() {
        let with_meta_hash = |mut d: DesiredTask, without_meta: &str| {
            if let Intent::Run(spec) = &mut d.intent {
                spec.labels
                    .insert(labels::SPEC_HASH_WITHOUT_META.into(), without_meta.into());
            }
            d
        };
        let mut running = seen("c1", "a", "web", "h1", true, 10);
        running
            .labels
            .insert(labels::SPEC_HASH_WITHOUT_META.into(), "m1".into());
        let same_but_meta = with_meta_hash(run_intent("a", "web", "h2"), "m1");
        let actions = compute_actions(&[same_but_meta], std::slice::from_ref(&running));
        assert!(matches!(&actions[0], Action::Keep { id, .. } if id == "c1"));
        let other = with_meta_hash(run_intent("a", "web", "h3"), "m3");
        let actions = compute_actions(&[other], std::slice::from_ref(&running));
        assert!(matches!(&actions[0], Action::Replace { .. }));
        // A container from before the label existed: the full hash decides.
        let old = seen("c1", "a", "web", "h1", true, 10);
        let actions = compute_actions(
            &[with_meta_hash(run_intent("a", "web", "h2"), "m1")],
            &[old],
        );
        assert!(matches!(&actions[0], Action::Replace { .. }));
    }

    #[test]
    fn a_changed_spec_replaces_and_an_exit_is_reported() {
        let actions = compute_actions(
            &[run_intent("a", "web", "h2"), run_intent("b", "web", "h1")],
            &[
                seen("c1", "a", "web", "h1", true, 10),
                seen("c2", "b", "web", "h1", false, 10),
            ],
        );
        assert_eq!(
            actions[0],
            Action::Replace {
                old: "c1".into(),
                spec: Box::new(spec("a", "web", "h2"))
            }
        );
        assert!(matches!(
            &actions[1],
            Action::Exited { id, exit_code: Some(1), .. } if id == "c2"
        ));
    }

    #[test]
    fn duplicates_keep_the_running_matching_one() {
        let actions = compute_actions(
            &[run_intent("a", "web", "h1")],
            &[
                seen("old", "a", "web", "h0", true, 50),
                seen("good", "a", "web", "h1", true, 10),
                seen("dead", "a", "web", "h1", false, 90),
            ],
        );
        assert_eq!(
            actions,
            vec![
                Action::Remove {
                    id: "old".into(),
                    running: true
                },
                Action::Remove {
                    id: "dead".into(),
                    running: false
                },
                Action::Keep {
                    alloc_id: "a".into(),
                    task: "web".into(),
                    id: "good".into(),
                    started_at: Utc.timestamp_opt(10, 0).single(),
                    ip: None,
                },
            ]
        );
    }

    #[test]
    fn stop_intents_stop_running_containers_with_the_tasks_signal() {
        let actions = compute_actions(
            &[stop_intent("a", "web"), stop_intent("b", "web")],
            &[
                seen("c1", "a", "web", "h1", true, 10),
                seen("c2", "b", "web", "h1", false, 10),
            ],
        );
        assert_eq!(
            actions,
            vec![Action::Stop {
                id: "c1".into(),
                signal: Some("SIGINT".into()),
                timeout: Duration::from_secs(7)
            }]
        );
    }

    #[test]
    fn a_task_left_alone_is_neither_created_nor_orphaned() {
        let leave = |alloc: &str, task: &str| DesiredTask {
            alloc_id: alloc.into(),
            task: task.into(),
            intent: Intent::Leave,
            restart: None,
        };
        let actions = compute_actions(
            &[leave("a", "sidecar"), leave("a", "cleanup")],
            &[seen("c1", "a", "sidecar", "h1", true, 10)],
        );
        assert_eq!(actions, vec![]);
    }

    #[test]
    fn a_users_restart_replaces_a_running_container_once() {
        let wanting = |generation: Option<u64>| DesiredTask {
            restart: generation,
            ..run_intent("a", "web", "h1")
        };
        let mut running = seen("c1", "a", "web", "h1", true, 10);
        let actions = compute_actions(&[wanting(Some(1))], std::slice::from_ref(&running));
        assert_eq!(
            actions,
            vec![Action::Restart {
                old: "c1".into(),
                spec: Box::new(spec("a", "web", "h1"))
            }]
        );
        // The new container carries the generation: kept from then on,
        // by this agent or one that restarted.
        running
            .labels
            .insert(labels::RESTART_GENERATION.into(), "1".into());
        let actions = compute_actions(&[wanting(Some(1))], std::slice::from_ref(&running));
        assert!(matches!(&actions[0], Action::Keep { id, .. } if id == "c1"));
        // No request naming the task: kept.
        let unlabelled = seen("c1", "a", "web", "h1", true, 10);
        let actions = compute_actions(&[wanting(None)], std::slice::from_ref(&unlabelled));
        assert!(matches!(&actions[0], Action::Keep { .. }));
        // A changed spec is a replacement whatever the request says.
        let actions = compute_actions(
            &[DesiredTask {
                restart: Some(1),
                ..run_intent("a", "web", "h2")
            }],
            std::slice::from_ref(&unlabelled),
        );
        assert!(matches!(&actions[0], Action::Replace { .. }));
        // An exited container is reported, saying whether the restart was
        // still due on it.
        let exited = seen("c2", "a", "web", "h1", false, 10);
        let actions = compute_actions(&[wanting(Some(1))], std::slice::from_ref(&exited));
        assert!(matches!(
            &actions[0],
            Action::Exited {
                restart_due: true,
                ..
            }
        ));
        let actions = compute_actions(&[wanting(None)], std::slice::from_ref(&exited));
        assert!(matches!(
            &actions[0],
            Action::Exited {
                restart_due: false,
                ..
            }
        ));
    }

    #[test]
    fn orphans_are_removed_and_foreign_containers_left_alone() {
        let mut foreign = seen("theirs", "x", "y", "h", true, 1);
        foreign.labels.clear();
        let actions = compute_actions(
            &[],
            &[
                seen("o1", "gone", "web", "h1", true, 10),
                seen("o2", "gone", "db", "h1", false, 10),
                foreign,
            ],
        );
        assert_eq!(
            actions,
            vec![
                Action::Remove {
                    id: "o2".into(),
                    running: false
                },
                Action::Remove {
                    id: "o1".into(),
                    running: true
                },
            ]
        );
    }
}
