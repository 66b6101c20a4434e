use super::render::{deployments_table, latest_section};
use super::*;
use chrono::{TimeZone, Utc};
use drover_api::deployments::DeploymentView;
use drover_api_types::deployment::{
    DeploymentAdmin, DeploymentGroupSpec, DeploymentGroupStatus, DeploymentState,
};
use drover_api_types::Deployment;

fn deployment() -> DeploymentView {
    let mut d = Deployment::default();
    d.metadata.name = "4f1a2b3c-0000-0000-0000-000000000000".into();
    d.metadata.uid = d.metadata.name.clone();
    d.metadata.namespace = "default".into();
    d.spec.job_id = "web".into();
    d.spec.job_version = 3;
    d.spec.created_at = Utc.with_ymd_and_hms(2024, 5, 1, 10, 0, 0).single();
    d.spec.groups.insert(
        "front".into(),
        DeploymentGroupSpec {
            desired_total: 3,
            desired_canaries: 1,
            auto_revert: true,
            ..Default::default()
        },
    );
    d.status.state = DeploymentState::Blocked;
    d.status.description = "Deployment is waiting for promotion".into();
    d.status.groups.insert(
        "front".into(),
        DeploymentGroupStatus {
            placed_canaries: vec!["c1".into()],
            placed: 1,
            healthy: 1,
            ..Default::default()
        },
    );
    DeploymentView::new(d, None)
}

fn now() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 5, 1, 10, 5, 0)
        .single()
        .expect("now")
}

#[test]
fn the_table_shows_short_ids_progress_and_age() {
    let table = deployments_table(&[deployment()], false, false, Style::PLAIN, now()).render();
    let mut lines = table.lines();
    let header = lines.next().expect("header");
    assert!(header.starts_with("ID "), "{table}");
    assert!(header.contains("GROUPS (HEALTHY/DESIRED)"), "{table}");
    let row = lines.next().expect("row");
    for cell in [
        "4f1a2b3c ",
        "web",
        " 3 ",
        "blocked",
        "waiting for promotion",
        "front 1/3 canaries 1/1",
        "5m",
    ] {
        assert!(row.contains(cell), "{cell:?} in {row}");
    }
    let wide = deployments_table(&[deployment()], true, true, Style::PLAIN, now()).render();
    assert!(wide.starts_with("NAMESPACE"), "{wide}");
    assert!(wide.contains("REQUESTED"), "{wide}");
}

#[test]
fn the_latest_deployment_section_lists_groups_as_nomad_does() {
    assert_eq!(latest_section(None, Style::PLAIN), "");
    let mut d = deployment();
    d.admin = Some(DeploymentAdmin {
        promote: vec!["*".into()],
        ..Default::default()
    });
    let page = latest_section(Some(&d), Style::PLAIN);
    assert!(
        page.contains("Latest Deployment\nID          = 4f1a2b3c\n"),
        "{page}"
    );
    assert!(page.contains("Status      = blocked"), "{page}");
    assert!(page.contains("Requested   = promote *"), "{page}");
    assert!(
        page.contains("Task Group   Auto Revert   Promoted   Desired   Canaries   Placed   Healthy   Unhealthy   Progress Deadline"),
        "{page}"
    );
    assert!(page.contains("front        true          false      3         1          1        1         0           -"), "{page}");
}

#[test]
fn levers_say_what_was_asked() {
    let r = drover_api::deployment_actions::DeploymentUpdateResponse {
        id: "4f1a2b3c-0000".into(),
        namespace: "default".into(),
        index: 3,
        admin: DeploymentAdmin::default(),
    };
    let promote = DeploymentCommand::Promote(PromoteArgs {
        id: "4f1a".into(),
        groups: vec![],
    });
    assert_eq!(
        lever_message(&promote, &r),
        "deployment 4f1a2b3c in namespace \"default\": promotion of every group's canaries \
         requested; `drover deployment status 4f1a2b3c` follows it"
    );
    let resume = DeploymentCommand::Resume(IdArgs { id: "4f".into() });
    assert!(lever_message(&resume, &r).contains(": resumed;"));
}
