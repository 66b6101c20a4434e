//! Table tests of the deployment assessment.

use chrono::{DateTime, TimeZone, Utc};
use drover_api_types::alloc::{Allocation, ClientStatus, DeploymentHealth, DesiredStatus};
use drover_api_types::deployment::{DeploymentAdmin, DeploymentGroupSpec, DeploymentState};
use drover_api_types::{mock, Deployment, Duration, Job, JobType};

use super::*;

fn t(secs: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .single()
        .map(|t| t + chrono::Duration::seconds(secs))
        .unwrap_or_default()
}

fn deployment(count: u64, canaries: u64) -> Deployment {
    let mut d = Deployment::default();
    d.metadata.name = "d1".into();
    d.spec.job_id = "web".into();
    d.spec.job_version = 2;
    d.spec.groups.insert(
        "app".into(),
        DeploymentGroupSpec {
            desired_total: count,
            desired_canaries: canaries,
            max_parallel: 1,
            health_check: "checks".into(),
            progress_deadline: Duration::from_secs(600),
            auto_revert: true,
            ..Default::default()
        },
    );
    d.status.groups.insert(
        "app".into(),
        DeploymentGroupStatus {
            require_progress_by: Some(t(600)),
            ..Default::default()
        },
    );
    d
}

fn job(version: u64) -> Job {
    let mut j = mock::job_of("web", JobType::Service, Vec::new());
    j.metadata.version = version;
    j
}

fn alloc(id: &str, version: u64, ours: bool, healthy: Option<bool>) -> Allocation {
    let mut a = Allocation::default();
    a.metadata.uid = id.into();
    a.spec.task_group = "app".into();
    a.spec.job_version = version;
    a.status.client_status = ClientStatus::Running;
    if ours {
        a.spec.deployment_id = Some("d1".into());
    }
    a.status.deployment_health = healthy.map(|healthy| DeploymentHealth {
        deployment_id: "d1".into(),
        healthy,
        ..Default::default()
    });
    a
}

fn canary(id: &str, healthy: Option<bool>) -> Allocation {
    let mut a = alloc(id, 2, true, healthy);
    a.spec.canary = true;
    a
}

fn assess_now(d: &Deployment, allocs: &[Allocation], admin: &DeploymentAdmin) -> Assessment {
    assess(d, Some(&job(2)), admin, allocs, t(10))
}

#[test]
fn allocations_it_did_not_place_count_only_once_running() {
    // Another deployment of the same version placed them (or they moved
    // in place): without a verdict for this one, pending is not there.
    let d = deployment(2, 0);
    let mut pending = [alloc("a", 2, false, None), alloc("b", 2, false, None)];
    for a in &mut pending {
        a.status.client_status = ClientStatus::Pending;
    }
    let none = DeploymentAdmin::default();
    assert_eq!(
        assess_now(&d, &pending, &none).status.state,
        DeploymentState::Running
    );
    for a in &mut pending {
        a.status.client_status = ClientStatus::Running;
    }
    assert_eq!(
        assess_now(&d, &pending, &none).status.state,
        DeploymentState::Successful
    );
}

#[test]
fn rolling_update_in_progress_then_successful() {
    let d = deployment(3, 0);
    let none = DeploymentAdmin::default();
    let mid = [
        alloc("a", 2, true, Some(true)),
        alloc("b", 2, true, None),
        alloc("c", 1, false, None),
    ];
    let a = assess_now(&d, &mid, &none);
    assert_eq!(a.status.state, DeploymentState::Running);
    assert_eq!(a.status.groups["app"].placed, 2);
    assert_eq!(a.status.groups["app"].healthy, 1);
    // Progress: a new healthy allocation pushes the deadline on.
    assert_eq!(a.status.groups["app"].require_progress_by, Some(t(610)));
    assert!(!a.stable);

    let done = [
        alloc("a", 2, true, Some(true)),
        alloc("b", 2, true, Some(true)),
        alloc("d", 2, true, Some(true)),
    ];
    let a = assess_now(&d, &done, &none);
    assert_eq!(a.status.state, DeploymentState::Successful);
    assert!(a.stable);
    assert!(!a.revert);
}

#[test]
fn an_old_allocation_left_or_a_missing_one_keeps_it_running() {
    let d = deployment(2, 0);
    let allocs = [alloc("a", 2, true, Some(true)), alloc("c", 1, false, None)];
    assert_eq!(
        assess_now(&d, &allocs, &DeploymentAdmin::default())
            .status
            .state,
        DeploymentState::Running
    );
    let allocs = [alloc("a", 2, true, Some(true))];
    assert_eq!(
        assess_now(&d, &allocs, &DeploymentAdmin::default())
            .status
            .state,
        DeploymentState::Running
    );
}

#[test]
fn unhealthy_fails_and_asks_for_a_revert() {
    let d = deployment(2, 0);
    let allocs = [alloc("a", 2, true, Some(false)), alloc("c", 1, false, None)];
    let a = assess_now(&d, &allocs, &DeploymentAdmin::default());
    assert_eq!(a.status.state, DeploymentState::Failed);
    assert_eq!(a.status.description, DESC_UNHEALTHY);
    assert!(a.revert);
}

#[test]
fn progress_deadline_and_operator_fail() {
    let d = deployment(2, 0);
    let allocs = [alloc("a", 2, true, None), alloc("c", 1, false, None)];
    let late = assess(
        &d,
        Some(&job(2)),
        &DeploymentAdmin::default(),
        &allocs,
        t(601),
    );
    assert_eq!(late.status.description, DESC_PROGRESS);
    let fail = DeploymentAdmin {
        fail: true,
        ..Default::default()
    };
    let a = assess_now(&d, &allocs, &fail);
    assert_eq!(a.status.state, DeploymentState::Failed);
    assert_eq!(a.status.description, DESC_FAILED_BY_USER);
}

#[test]
fn canaries_block_until_promoted_or_auto_promoted() {
    let d = deployment(3, 1);
    let old = [
        alloc("x", 1, false, None),
        alloc("y", 1, false, None),
        alloc("z", 1, false, None),
    ];
    let mut allocs = old.to_vec();
    allocs.push(canary("c1", None));
    let a = assess_now(&d, &allocs, &DeploymentAdmin::default());
    assert_eq!(a.status.state, DeploymentState::Running);
    assert_eq!(
        a.status.groups["app"].placed_canaries,
        vec!["c1".to_string()]
    );

    let mut allocs = old.to_vec();
    allocs.push(canary("c1", Some(true)));
    let a = assess_now(&d, &allocs, &DeploymentAdmin::default());
    assert_eq!(a.status.state, DeploymentState::Blocked);
    assert!(!a.status.groups["app"].promoted);

    let promote = DeploymentAdmin {
        promote: vec!["*".into()],
        ..Default::default()
    };
    let a = assess_now(&d, &allocs, &promote);
    assert!(a.status.groups["app"].promoted);
    assert_eq!(a.status.state, DeploymentState::Running);

    let mut auto = deployment(3, 1);
    if let Some(g) = auto.spec.groups.get_mut("app") {
        g.auto_promote = true;
    }
    let a = assess_now(&auto, &allocs, &DeploymentAdmin::default());
    assert!(a.status.groups["app"].promoted);
}

#[test]
fn newer_version_stop_and_terminal() {
    let d = deployment(1, 0);
    let a = assess(&d, Some(&job(3)), &DeploymentAdmin::default(), &[], t(1));
    assert_eq!(a.status.state, DeploymentState::Cancelled);
    assert!(!a.revert, "a cancelled deployment is not reverted");
    let a = assess(&d, None, &DeploymentAdmin::default(), &[], t(1));
    assert_eq!(a.status.description, DESC_STOPPED);
    let mut done = d.clone();
    done.status.state = DeploymentState::Successful;
    let a = assess(&done, Some(&job(3)), &DeploymentAdmin::default(), &[], t(1));
    assert_eq!(a.status, done.status);
}

/// A job purged and registered again under the same name starts at
/// version 0 again: the old job's deployment of that version is not its
/// rollout, and the job controller gives the new job a fresh one.
#[test]
fn a_deployment_of_a_purged_job_is_cancelled_not_reused() {
    let mut d = deployment(1, 0);
    d.spec.job_uid = "old-uid".into();
    let mut again = job(d.spec.job_version);
    again.metadata.uid = "new-uid".into();
    assert!(!d.spec.rolls_out(&again));
    let a = assess(&d, Some(&again), &DeploymentAdmin::default(), &[], t(1));
    assert_eq!(a.status.state, DeploymentState::Cancelled);
    assert_eq!(a.status.description, DESC_PURGED);
    again.metadata.uid = "old-uid".into();
    assert!(d.spec.rolls_out(&again));
    // Written before job uids were recorded: any job of the name.
    d.spec.job_uid.clear();
    assert!(d.spec.rolls_out(&again));
}

#[test]
fn paused_and_manual_health() {
    let mut d = deployment(1, 0);
    if let Some(g) = d.spec.groups.get_mut("app") {
        g.health_check = "manual".into();
    }
    let mut stopped_old = alloc("c", 1, false, None);
    stopped_old.spec.desired_status = DesiredStatus::Stop;
    let allocs = [alloc("a", 2, true, None), stopped_old];
    let paused = DeploymentAdmin {
        paused: true,
        ..Default::default()
    };
    assert_eq!(
        assess_now(&d, &allocs, &paused).status.state,
        DeploymentState::Paused
    );
    let mut healthy = DeploymentAdmin::default();
    healthy.alloc_health.insert("a".into(), true);
    assert_eq!(
        assess_now(&d, &allocs, &healthy).status.state,
        DeploymentState::Successful
    );
}
