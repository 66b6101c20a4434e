//! Table tests of the group plan under a deployment.

use drover_api_types::alloc::{ClientStatus, DeploymentHealth};
use drover_api_types::JobType;

use super::tests::{alloc, job, t0};
use super::*;

fn rollout(canaries: usize, promoted: bool) -> Rollout {
    Rollout {
        deployment_id: "d2".into(),
        active: true,
        ended: false,
        promoted,
        canaries,
        max_parallel: 1,
        in_place: Default::default(),
        manual_health: Default::default(),
    }
}

fn placed(id: &str, index: u32, healthy: Option<bool>) -> Allocation {
    let mut a = alloc(id, index, 2, ClientStatus::Running);
    a.spec.deployment_id = Some("d2".into());
    a.status.deployment_health = healthy.map(|healthy| DeploymentHealth {
        deployment_id: "d2".into(),
        healthy,
        ..Default::default()
    });
    a
}

fn plan(allocs: &[Allocation], r: &Rollout) -> GroupPlan {
    let job = job(JobType::Service, 3, 2);
    reconcile_rollout(&job, &job.spec.groups[0], allocs, Some(r), t0())
}

fn old(id: &str, index: u32) -> Allocation {
    alloc(id, index, 1, ClientStatus::Running)
}

#[test]
fn an_unhealthy_new_allocation_holds_the_next_update() {
    let waiting = [placed("n0", 0, None), old("b", 1), old("c", 2)];
    assert!(plan(&waiting, &rollout(0, true))
        .destructive_update
        .is_empty());
    let healthy = [placed("n0", 0, Some(true)), old("b", 1), old("c", 2)];
    let p = plan(&healthy, &rollout(0, true));
    assert_eq!(p.destructive_update.len(), 1);
    assert_eq!(
        p.destructive_update[0].previous_allocation.as_deref(),
        Some("b")
    );
}

/// The new allocation in flight dies with its node: its replacement, made
/// in the same pass, is in flight in its place, so no other old allocation
/// is replaced yet (the old one it replaced may still be stopping).
#[test]
fn a_lost_new_allocation_still_holds_the_next_update() {
    let mut lost = placed("n0", 0, None);
    lost.status.client_status = ClientStatus::Lost;
    let p = plan(&[lost, old("b", 1), old("c", 2)], &rollout(0, true));
    assert_eq!(p.lost.len(), 1);
    assert!(p.destructive_update.is_empty(), "{p:?}");
}

#[test]
fn a_paused_or_failed_deployment_replaces_nothing() {
    let allocs = [old("a", 0), old("b", 1), old("c", 2)];
    let mut paused = rollout(0, true);
    paused.active = false;
    assert!(plan(&allocs, &paused).destructive_update.is_empty());
}

#[test]
fn in_place_allocations_move_without_budget() {
    let allocs = [old("a", 0), old("b", 1), old("c", 2)];
    let mut r = rollout(0, true);
    r.in_place = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
    let p = plan(&allocs, &r);
    assert_eq!(p.in_place_update, vec!["a", "b", "c"]);
    assert!(p.destructive_update.is_empty() && p.place.is_empty());
}

#[test]
fn canaries_are_placed_beside_the_old_version_until_promoted() {
    let allocs = [old("a", 0), old("b", 1), old("c", 2)];
    let p = plan(&allocs, &rollout(1, false));
    assert_eq!(p.canary.len(), 1);
    assert!(p.canary[0].canary);
    assert!(p.destructive_update.is_empty() && p.stop.is_empty());

    let mut canary = placed("k", 0, Some(true));
    canary.spec.canary = true;
    let with_canary = [old("a", 0), old("b", 1), old("c", 2), canary.clone()];
    let p = plan(&with_canary, &rollout(1, false));
    assert!(p.is_empty(), "waiting for promotion: {p:?}");

    let p = plan(&with_canary, &rollout(1, true));
    assert_eq!(p.promote, vec!["k"]);
}

#[test]
fn a_promoted_canary_replaces_the_old_allocation_at_its_index() {
    let mut promoted = placed("k", 0, Some(true));
    promoted.spec.canary = false;
    let allocs = [old("a", 0), old("b", 1), old("c", 2), promoted];
    let p = plan(&allocs, &rollout(1, true));
    assert_eq!(p.stop.len(), 1);
    assert_eq!(p.stop[0].0, "a");
    assert_eq!(
        p.destructive_update.len(),
        1,
        "then the rest, max_parallel at a time"
    );
}

#[test]
fn canaries_of_an_ended_or_other_deployment_are_stopped() {
    let mut canary = placed("k", 0, Some(false));
    canary.spec.canary = true;
    let allocs = [old("a", 0), old("b", 1), old("c", 2), canary.clone()];
    let mut failed = rollout(1, false);
    failed.active = false;
    failed.ended = true;
    let p = plan(&allocs, &failed);
    assert_eq!(
        p.stop,
        vec![("k".to_string(), REASON_CANARY_ENDED.to_string())]
    );
    assert!(p.canary.is_empty());

    canary.spec.deployment_id = Some("d1".into());
    let allocs = [old("a", 0), old("b", 1), old("c", 2), canary];
    let p = plan(&allocs, &rollout(1, false));
    assert!(p.stop.iter().any(|(id, _)| id == "k"));
}

#[test]
fn a_stopped_job_stops_canaries_too() {
    let mut job = job(JobType::Service, 1, 2);
    job.spec.stop = true;
    let mut canary = placed("k", 0, None);
    canary.spec.canary = true;
    let allocs = [old("a", 0), canary];
    let p = reconcile_rollout(
        &job,
        &job.spec.groups[0],
        &allocs,
        Some(&rollout(1, false)),
        t0(),
    );
    let stopped: Vec<&str> = p.stop.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(stopped.len(), 2);
    assert!(p.canary.is_empty());
}
