use super::*;
use axum::http::StatusCode;
use drover_api_types::deployment::{DeploymentGroupSpec, DeploymentGroupStatus};
use drover_api_types::Deployment;

/// A running deployment: group `web` wants 2 canaries (placed: c1, c2),
/// group `db` has none and checks health manually.
fn deployment(state: DeploymentState) -> DeploymentView {
    let mut d = Deployment::default();
    d.metadata.name = "d1".into();
    d.metadata.uid = "d1".into();
    d.spec.groups.insert(
        "web".into(),
        DeploymentGroupSpec {
            desired_total: 3,
            desired_canaries: 2,
            health_check: "checks".into(),
            ..Default::default()
        },
    );
    d.spec.groups.insert(
        "db".into(),
        DeploymentGroupSpec {
            desired_total: 1,
            health_check: "manual".into(),
            ..Default::default()
        },
    );
    d.status.state = state;
    d.status.groups.insert(
        "web".into(),
        DeploymentGroupStatus {
            placed_canaries: vec!["c1".into(), "c2".into()],
            ..Default::default()
        },
    );
    DeploymentView::new(d, None)
}

fn healthy(ids: &[&str]) -> CanaryHealth {
    ids.iter().map(|id| (id.to_string(), true)).collect()
}

fn promote(groups: &[&str]) -> Action {
    Action::Promote {
        groups: groups.iter().map(|g| g.to_string()).collect(),
    }
}

#[test]
fn promote_all_writes_star_once_canaries_are_healthy() {
    let d = deployment(DeploymentState::Blocked);
    let out = decide(
        &d,
        &DeploymentAdmin::default(),
        &promote(&[]),
        &healthy(&["c1", "c2"]),
    )
    .expect("promote");
    assert_eq!(out.promote, vec!["*"]);
    assert!(out.updated_at.is_some());
    let out = decide(
        &d,
        &DeploymentAdmin::default(),
        &promote(&["web"]),
        &healthy(&["c1", "c2"]),
    )
    .expect("promote web");
    assert_eq!(out.promote, vec!["web"]);
}

#[test]
fn promote_refuses_unhealthy_no_canaries_unknown_groups_and_twice() {
    let d = deployment(DeploymentState::Running);
    let none = DeploymentAdmin::default();
    let e = decide(&d, &none, &promote(&[]), &healthy(&["c1"])).expect_err("one unhealthy");
    assert_eq!(e.status, StatusCode::CONFLICT);
    assert!(e.message.contains("1 of 2 canaries healthy"), "{e}");
    let e = decide(&d, &none, &promote(&["db"]), &healthy(&["c1", "c2"])).expect_err("db");
    assert!(e.message.contains("no canaries to promote"), "{e}");
    let e = decide(&d, &none, &promote(&["cache"]), &healthy(&[])).expect_err("unknown");
    assert_eq!(
        (e.status, e.field.as_deref()),
        (StatusCode::BAD_REQUEST, Some("groups"))
    );
    let mut no_canaries = deployment(DeploymentState::Running);
    no_canaries.spec.groups.remove("web");
    let e = decide(&no_canaries, &none, &promote(&[]), &healthy(&[])).expect_err("none");
    assert!(e.message.contains("has no canaries to promote"), "{e}");
    let asked = DeploymentAdmin {
        promote: vec!["*".into()],
        ..Default::default()
    };
    let e = decide(&d, &asked, &promote(&[]), &healthy(&["c1", "c2"])).expect_err("twice");
    assert!(e.message.contains("already promoted"), "{e}");
}

#[test]
fn terminal_deployments_refuse_every_lever() {
    for state in [
        DeploymentState::Successful,
        DeploymentState::Failed,
        DeploymentState::Cancelled,
    ] {
        let d = deployment(state);
        for action in [promote(&[]), Action::Fail, Action::Pause(true)] {
            let e = decide(
                &d,
                &DeploymentAdmin::default(),
                &action,
                &healthy(&["c1", "c2"]),
            )
            .expect_err("terminal");
            assert_eq!(e.status, StatusCode::CONFLICT);
            assert!(e.message.contains(state.as_str()), "{e}");
        }
    }
}

#[test]
fn pause_resume_and_fail() {
    let d = deployment(DeploymentState::Running);
    let none = DeploymentAdmin::default();
    let paused = decide(&d, &none, &Action::Pause(true), &CanaryHealth::new()).expect("pause");
    assert!(paused.paused);
    let e = decide(&d, &paused, &Action::Pause(true), &CanaryHealth::new()).expect_err("twice");
    assert!(e.message.contains("already paused"), "{e}");
    let resumed = decide(&d, &paused, &Action::Pause(false), &CanaryHealth::new()).expect("resume");
    assert!(!resumed.paused);
    let e = decide(&d, &none, &Action::Pause(false), &CanaryHealth::new()).expect_err("running");
    assert!(e.message.contains("not paused"), "{e}");
    // The controller's state counts too: a paused deployment resumes.
    let d = deployment(DeploymentState::Paused);
    assert!(decide(&d, &none, &Action::Pause(false), &CanaryHealth::new()).is_ok());
    let failed = decide(&d, &none, &Action::Fail, &CanaryHealth::new()).expect("fail");
    assert!(failed.fail);
    assert!(decide(&d, &failed, &Action::Fail, &CanaryHealth::new()).is_err());
}

fn alloc(id: &str, group: &str, deployment: &str) -> Allocation {
    let mut a = Allocation::default();
    a.metadata.uid = id.into();
    a.spec.task_group = group.into();
    a.spec.deployment_id = Some(deployment.into());
    a
}

#[test]
fn health_marks_only_manual_groups_of_this_deployment() {
    let d = deployment(DeploymentState::Running);
    let allocs = vec![
        alloc("aaaa-1", "db", "d1"),
        alloc("bbbb-1", "web", "d1"),
        alloc("cccc-1", "db", "other"),
    ];
    let req = |h: &[&str], u: &[&str]| AllocHealthRequest {
        healthy: h.iter().map(|s| s.to_string()).collect(),
        unhealthy: u.iter().map(|s| s.to_string()).collect(),
    };
    let out = marks(&d, &allocs, &req(&["aaaa"], &[])).expect("prefix");
    assert_eq!(out, BTreeMap::from([("aaaa-1".to_string(), true)]));
    let e = marks(&d, &allocs, &req(&["bbbb-1"], &[])).expect_err("not manual");
    assert!(e.message.contains("not \"manual\""), "{e}");
    let e = marks(&d, &allocs, &req(&[], &["cccc-1"])).expect_err("other deployment");
    assert_eq!(e.field.as_deref(), Some("unhealthy"));
    let e = marks(&d, &allocs, &req(&["aaaa-1"], &["aaaa-1"])).expect_err("both");
    assert!(e.message.contains("both healthy and unhealthy"), "{e}");
    let admin = decide(
        &d,
        &DeploymentAdmin::default(),
        &Action::Health(out),
        &CanaryHealth::new(),
    )
    .expect("health");
    assert_eq!(admin.alloc_health.get("aaaa-1"), Some(&true));
}
