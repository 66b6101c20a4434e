//! Deployments across jobs, newest first, active ones with their levers:
//! promote canaries, pause or resume, fail.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::response::Response;
use drover_api::deployments::{sort_newest_first, DeploymentView};
use drover_api_types::acl::Capability;
use drover_api_types::deployment::DeploymentState;
use maud::{html, Markup};

use super::{short_id, url_component, wire_name, Viewer};
use crate::ui::calls::Ui;
use crate::ui::layout::table;

/// The most deployments the page lists (newest first).
const SHOWN: usize = 100;

pub async fn deployments(State(ui): State<Ui>, viewer: Viewer) -> Response {
    let token = viewer.token();
    let mut list = match ui
        .get::<Vec<DeploymentView>>(token, "/v1/deployments?namespace=*")
        .await
    {
        Ok(list) => list,
        Err(e) => return viewer.error(&e),
    };
    sort_newest_first(&mut list);
    list.truncate(SHOWN);
    let namespaces: std::collections::BTreeSet<&str> =
        list.iter().map(|d| d.metadata.namespace.as_str()).collect();
    let caller = ui.caller(token).await;
    let mut may_steer = BTreeMap::new();
    for ns in namespaces {
        let may = caller
            .as_ref()
            .is_ok_and(|c| c.may(ns, Capability::SubmitJob));
        may_steer.insert(ns.to_string(), may);
    }
    viewer.show(
        "Deployments",
        "/ui/deployments",
        "deployments",
        render_deployments(&list, &may_steer),
    )
}

/// Whether any group still has canaries to promote (pure).
fn awaits_promotion(d: &DeploymentView) -> bool {
    d.spec.groups.iter().any(|(name, spec)| {
        spec.desired_canaries > 0 && !d.status.groups.get(name).is_some_and(|g| g.promoted)
    })
}

/// The deployments page (pure); `may_steer` says, per namespace, whether
/// the visitor may press the levers.
pub fn render_deployments(list: &[DeploymentView], may_steer: &BTreeMap<String, bool>) -> Markup {
    html! {
        h1 { "Deployments" }
        @if list.is_empty() {
            p.muted { "No deployments yet: every new version of a service job makes one." }
        } @else {
            (deployments_table(list, may_steer))
        }
    }
}

/// Deployments with their progress and, where the visitor may, levers.
pub fn deployments_table(list: &[DeploymentView], may_steer: &BTreeMap<String, bool>) -> Markup {
    html! {
            (table(&["ID", "Job", "Version", "State", "Groups (healthy/desired, canaries)", "Actions"], html! {
                @for d in list {
                    @let state = wire_name(&d.state());
                    @let path = format!("/v1/deployment/{}", url_component(d.id()));
                    @let steer = d.state().is_active() && may_steer.get(&d.metadata.namespace).copied().unwrap_or(false);
                    tr {
                        td { code { (short_id(d.id())) } }
                        td { a href=(format!("/ui/job/{}/{}", url_component(&d.metadata.namespace), url_component(&d.spec.job_id))) { (d.spec.job_id) } }
                        td.num { (d.spec.job_version) }
                        td class=(format!("status-{state}")) { (state) }
                        td {
                            @for (name, spec) in &d.spec.groups {
                                @let status = d.status.groups.get(name).cloned().unwrap_or_default();
                                div {
                                    (name) ": " (status.healthy) "/" (spec.desired_total)
                                    @if spec.desired_canaries > 0 {
                                        ", canaries " (status.placed_canaries.len()) "/" (spec.desired_canaries)
                                        @if status.promoted { " promoted" }
                                    }
                                }
                            }
                        }
                        td { div.actions {
                            @if steer {
                                @if awaits_promotion(d) {
                                    button type="button" data-method="POST" data-path=(format!("{path}/promote?namespace=*")) { "Promote" }
                                }
                                @if d.state() == DeploymentState::Paused {
                                    button.secondary type="button" data-method="POST" data-path=(format!("{path}/pause?namespace=*")) data-body="{\"pause\":false}" { "Resume" }
                                } @else {
                                    button.secondary type="button" data-method="POST" data-path=(format!("{path}/pause?namespace=*")) data-body="{\"pause\":true}" { "Pause" }
                                }
                                button.danger type="button" data-method="POST" data-path=(format!("{path}/fail?namespace=*")) data-confirm="Fail this deployment?" { "Fail" }
                            } }
                        }
                    }
                }
            }))
    }
}
