//! Allocations replaced while `unknown` (their node disconnected, the
//! group's `disconnect.replace` on): when the node comes back and its agent
//! reports the original running again, one of the pair must go, as the
//! group's `disconnect.reconcile` says. An original that ran out of its
//! `lost_after` instead (lost) is told to stop, so a node that returns even
//! later stops it rather than run it beside its replacement.
//!
//! A replacement stopped because its original won
//! ([`REASON_RECONNECTED`]) hands the index back: it no longer counts as
//! replacing the original, which is then an ordinary allocation again.

use std::collections::{BTreeMap, BTreeSet};

use drover_api_types::alloc::{Allocation, ClientStatus, DesiredStatus, TaskRunState};
use drover_api_types::group::ReconnectKeep;
use drover_api_types::TaskGroup;

use super::REASON_LOST;

pub const REASON_RECONNECTED: &str =
    "alloc not needed: the allocation it replaced came back with its node (disconnect.reconcile)";
pub const REASON_REPLACED_WHILE_DISCONNECTED: &str =
    "alloc not needed: replaced while its node was disconnected (disconnect.reconcile)";

/// Whether `r` still stands in for its `previous_allocation`: every
/// replacement does, except one stopped because the original came back.
pub(super) fn counts_as_replacement(r: &Allocation) -> bool {
    !(r.spec.desired_status != DesiredStatus::Run
        && r.spec.desired_description == REASON_RECONNECTED)
}

/// What to stop among `ours` (one group's allocations): `(id, reason)`,
/// sorted by id. Every allocation listed is one the rest of the plan must
/// not count.
pub(super) fn settle(group: &TaskGroup, ours: &[&Allocation]) -> Vec<(String, &'static str)> {
    let replacement_of: BTreeMap<&str, &Allocation> = ours
        .iter()
        .filter(|r| counts_as_replacement(r))
        .filter_map(|r| r.spec.previous_allocation.as_deref().map(|p| (p, *r)))
        .collect();
    let keep = group.reconnect_keeps();
    let mut stops = Vec::new();
    for original in ours {
        if original.spec.desired_status != DesiredStatus::Run {
            continue;
        }
        let Some(replacement) = replacement_of.get(original.metadata.uid.as_str()) else {
            continue;
        };
        match original.status.client_status {
            ClientStatus::Lost => stops.push((original.metadata.uid.clone(), REASON_LOST)),
            ClientStatus::Running | ClientStatus::Pending => {
                let replacement_lives = replacement.spec.desired_status == DesiredStatus::Run
                    && !replacement.status.client_status.is_terminal();
                if replacement_lives && keeps_original(keep, original, replacement) {
                    stops.push((replacement.metadata.uid.clone(), REASON_RECONNECTED));
                } else {
                    stops.push((
                        original.metadata.uid.clone(),
                        REASON_REPLACED_WHILE_DISCONNECTED,
                    ));
                }
            }
            // Unknown: still waiting for its node; complete or failed:
            // history like any replaced allocation.
            _ => {}
        }
    }
    stops.sort();
    stops.dedup_by(|a, b| a.0 == b.0);
    stops
}

/// The ids [`settle`] stops, for the callers that set them aside.
pub(super) fn settled_ids(stops: &[(String, &'static str)]) -> BTreeSet<String> {
    stops.iter().map(|(id, _)| id.clone()).collect()
}

/// `original` runs again beside `replacement`: does it stay? A replacement
/// that does not run yet never wins a comparison (it could still fail to
/// start, and the original is known to run); ties keep the original, which
/// has already served.
fn keeps_original(keep: ReconnectKeep, original: &Allocation, replacement: &Allocation) -> bool {
    let replacement_runs = replacement.status.client_status == ClientStatus::Running;
    match keep {
        ReconnectKeep::KeepOriginal => true,
        ReconnectKeep::KeepReplacement => false,
        ReconnectKeep::BestScore => {
            let score = |a: &Allocation| {
                a.binding
                    .as_ref()
                    .and_then(|b| b.score)
                    .unwrap_or(f64::NEG_INFINITY)
            };
            !replacement_runs || score(original) >= score(replacement)
        }
        ReconnectKeep::LongestRunning => {
            match (running_since(original), running_since(replacement)) {
                (Some(o), Some(r)) => o <= r,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => true,
            }
        }
    }
}

/// Since when every running task of `a` has run without a restart: the
/// latest start among them; `None` when none runs.
fn running_since(a: &Allocation) -> Option<chrono::DateTime<chrono::Utc>> {
    if a.status.client_status != ClientStatus::Running {
        return None;
    }
    a.status
        .task_states
        .values()
        .filter(|t| t.state == TaskRunState::Running)
        .filter_map(|t| t.started_at)
        .max()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::reconcile::tests::{alloc, job, t0};
    use drover_api_types::alloc::{Binding, TaskState};
    use drover_api_types::group::Disconnect;
    use drover_api_types::JobType;

    fn group(reconcile: &str) -> TaskGroup {
        let mut g = job(JobType::Service, 1, 0).spec.groups[0].clone();
        g.disconnect = Some(Disconnect {
            lost_after: Some(drover_api_types::Duration::from_secs(3600)),
            reconcile: reconcile.into(),
            ..Disconnect::default()
        });
        g
    }

    fn scored(mut a: Allocation, score: f64) -> Allocation {
        a.binding = Some(Binding {
            score: Some(score),
            ..Default::default()
        });
        a
    }

    fn started(mut a: Allocation, secs: i64) -> Allocation {
        a.status.task_states.insert(
            "main".into(),
            TaskState {
                state: TaskRunState::Running,
                started_at: Some(t0() + chrono::Duration::seconds(secs)),
                ..Default::default()
            },
        );
        a
    }

    /// The original `a` (index 0) came back running; `r` replaced it.
    fn pair(original: Allocation, mut replacement: Allocation) -> Vec<Allocation> {
        replacement.spec.previous_allocation = Some(original.metadata.uid.clone());
        vec![original, replacement]
    }

    fn decide(reconcile: &str, allocs: &[Allocation]) -> Vec<(String, &'static str)> {
        let ours: Vec<&Allocation> = allocs.iter().collect();
        settle(&group(reconcile), &ours)
    }

    fn stopped(id: &str, why: &'static str) -> Vec<(String, &'static str)> {
        vec![(id.to_string(), why)]
    }

    #[test]
    fn each_strategy_picks_its_survivor() {
        let running = |id| alloc(id, 0, 0, ClientStatus::Running);
        let both = pair(
            started(scored(running("a"), 0.2), 0),
            started(scored(running("r"), 0.7), 100),
        );
        assert_eq!(
            decide("keep_original", &both),
            stopped("r", REASON_RECONNECTED)
        );
        assert_eq!(
            decide("keep_replacement", &both),
            stopped("a", REASON_REPLACED_WHILE_DISCONNECTED)
        );
        // The replacement's node scored better.
        assert_eq!(
            decide("best_score", &both),
            stopped("a", REASON_REPLACED_WHILE_DISCONNECTED)
        );
        assert_eq!(decide("", &both), decide("best_score", &both));
        // The original has run since 0, the replacement since 100.
        assert_eq!(
            decide("longest_running", &both),
            stopped("r", REASON_RECONNECTED)
        );
        // The original restarted after the replacement started.
        let restarted = pair(started(running("a"), 200), started(running("r"), 100));
        assert_eq!(
            decide("longest_running", &restarted),
            stopped("a", REASON_REPLACED_WHILE_DISCONNECTED)
        );
    }

    #[test]
    fn a_replacement_not_yet_running_loses_every_comparison() {
        let pending = pair(
            started(scored(alloc("a", 0, 0, ClientStatus::Running), 0.1), 0),
            scored(alloc("r", 0, 0, ClientStatus::Pending), 0.9),
        );
        assert_eq!(
            decide("best_score", &pending),
            stopped("r", REASON_RECONNECTED)
        );
        assert_eq!(
            decide("longest_running", &pending),
            stopped("r", REASON_RECONNECTED)
        );
        // Unless the group asked for the replacement whatever it does.
        assert_eq!(
            decide("keep_replacement", &pending),
            stopped("a", REASON_REPLACED_WHILE_DISCONNECTED)
        );
    }

    #[test]
    fn a_dead_replacement_leaves_nothing_to_compare_the_original_goes() {
        let mut failed = alloc("r", 0, 0, ClientStatus::Failed);
        failed.spec.desired_status = DesiredStatus::Run;
        let both = pair(alloc("a", 0, 0, ClientStatus::Running), failed);
        // The failed replacement is rescheduled as usual; the original,
        // replaced, goes even under keep_original.
        assert_eq!(
            decide("keep_original", &both),
            stopped("a", REASON_REPLACED_WHILE_DISCONNECTED)
        );
    }

    #[test]
    fn unknown_originals_wait_and_lost_ones_are_told_to_stop() {
        let waiting = pair(
            alloc("a", 0, 0, ClientStatus::Unknown),
            alloc("r", 0, 0, ClientStatus::Running),
        );
        assert!(decide("keep_original", &waiting).is_empty());
        let lost = pair(
            alloc("a", 0, 0, ClientStatus::Lost),
            alloc("r", 0, 0, ClientStatus::Running),
        );
        assert_eq!(decide("keep_original", &lost), stopped("a", REASON_LOST));
    }

    #[test]
    fn a_replacement_that_gave_way_no_longer_replaces() {
        let mut gave_way = alloc("r", 0, 0, ClientStatus::Complete);
        gave_way.spec.desired_status = DesiredStatus::Stop;
        gave_way.spec.desired_description = REASON_RECONNECTED.into();
        let both = pair(alloc("a", 0, 0, ClientStatus::Running), gave_way);
        assert!(!counts_as_replacement(&both[1]));
        assert!(decide("keep_original", &both).is_empty());
    }
}
