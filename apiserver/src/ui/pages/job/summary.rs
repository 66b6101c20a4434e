//! A job now: its facts and levers (edit, stop, purge, scale, dispatch,
//! force a launch), each group's allocations by state and why any wait,
//! its deployments, its children, its allocations.

use axum::extract::{Path, Query, State};
use axum::response::Response;
use drover_api::children::ChildrenResponse;
use drover_api::deployments::{sort_newest_first, DeploymentView};
use drover_api::views::AllocationView;
use drover_api_types::acl::Capability;
use drover_api_types::Job;
use maud::{html, Markup};

use super::super::deployments::deployments_table;
use super::super::parts::placement_failures;
use super::super::{alloc_link, url_component, when, wire_name, Viewer};
use super::{header, job_url, read_job};
use crate::ui::calls::{CallError, Ui};
use crate::ui::layout::table;

/// The most children and deployments the summary lists (newest first).
const SHOWN: usize = 20;
/// Allocations listed a page (`?page=N`, newest first); the group counts
/// are over all of them.
pub const ALLOCS_PER_PAGE: usize = 100;

#[derive(Debug, Default, serde::Deserialize)]
pub struct JobQuery {
    #[serde(default)]
    pub page: usize,
}

/// One job as its page shows it.
pub struct JobPage {
    pub job: Job,
    /// The job's allocations, newest first.
    pub allocations: Result<Vec<AllocationView>, CallError>,
    /// Its deployments, newest first.
    pub deployments: Result<Vec<DeploymentView>, CallError>,
    /// Of a periodic or parameterized job: its launches and children.
    pub children: Option<Result<ChildrenResponse, CallError>>,
    /// The buttons the visitor's token may press.
    pub may: JobActions,
    /// Which page of the allocations is listed (0: the newest).
    pub alloc_page: usize,
}

/// What the visitor may do to the job.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JobActions {
    /// Stop, purge, edit, revert, steer deployments, force a launch.
    pub submit: bool,
    pub scale: bool,
    pub dispatch: bool,
}

pub async fn job(
    State(ui): State<Ui>,
    viewer: Viewer,
    Path((namespace, name)): Path<(String, String)>,
    Query(query): Query<JobQuery>,
) -> Response {
    let token = viewer.token();
    let ns = url_component(&namespace);
    let api = format!("/v1/job/{}", url_component(&name));
    let job = match read_job(&ui, token, &namespace, &name).await {
        Ok(job) => job,
        Err(e) => return viewer.error(&e),
    };
    let caller = ui.caller(token).await;
    let may_do = |capability| caller.as_ref().is_ok_and(|c| c.may(&namespace, capability));
    let may = JobActions {
        submit: may_do(Capability::SubmitJob),
        scale: may_do(Capability::ScaleJob),
        dispatch: may_do(Capability::DispatchJob),
    };
    let allocations = ui
        .get::<Vec<AllocationView>>(
            token,
            &format!(
                "/v1/allocations?namespace={ns}&job={}",
                url_component(&name)
            ),
        )
        .await
        .map(|mut mine| {
            mine.sort_by_key(|a| std::cmp::Reverse(a.create_time));
            mine
        });
    let deployments = ui
        .get::<Vec<DeploymentView>>(token, &format!("{api}/deployments?namespace={ns}"))
        .await
        .map(|mut list| {
            sort_newest_first(&mut list);
            list.truncate(SHOWN);
            list
        });
    let children = match job.spec.periodic.is_some() || job.spec.parameterized.is_some() {
        true => Some(
            ui.get::<ChildrenResponse>(token, &format!("{api}/children?namespace={ns}"))
                .await,
        ),
        false => None,
    };
    let title = format!("Job {name}");
    viewer.show(
        &title,
        "/ui/jobs",
        "job",
        render_job(&JobPage {
            job,
            allocations,
            deployments,
            children,
            may,
            alloc_page: query.page,
        }),
    )
}

/// One job's page (pure).
pub fn render_job(page: &JobPage) -> Markup {
    let job = &page.job;
    let status = job.status.as_ref();
    let state = status.map_or("pending", |s| s.status.as_str());
    let ns = &job.metadata.namespace;
    let name = &job.metadata.name;
    html! {
        (header(ns, name, ""))
        dl.facts {
            dt { "Type" } dd { (wire_name(&job.spec.job_type)) }
            dt { "Status" } dd class=(format!("status-{state}")) { (state) }
            dt { "Version" } dd { (job.metadata.version) }
            @if let Some(parent) = &job.spec.parent_id {
                dt { "Parent" } dd { a href=(job_url(ns, parent)) { (parent) } }
            }
            @if let Some(text) = status.map(|s| &s.status_description).filter(|d| !d.is_empty()) {
                dt { "Why" } dd { (text) }
            }
        }
        (levers(page))
        h2 { "Groups" }
        (groups(page))
        @if let Some(failures) = status.map(|s| &s.placement_failures).filter(|f| !f.is_empty()) {
            h2 { "Placement failures" }
            (placement_failures(failures))
        }
        @if let Some(children) = &page.children {
            (children_section(job, children, page.may))
        }
        @match &page.deployments {
            Ok(list) if list.is_empty() => {},
            Ok(list) => {
                h2 { "Deployments" }
                @let steer = std::iter::once((ns.clone(), page.may.submit)).collect();
                (deployments_table(list, &steer))
            },
            Err(e) => { h2 { "Deployments" } p.muted { "not shown: " (e.message) } },
        }
        h2 { "Allocations" }
        @match &page.allocations {
            Err(e) => p.muted { "not shown: " (e.message) },
            Ok(allocations) if allocations.is_empty() => p.muted { "none" },
            Ok(allocations) => {
                @let pages = allocations.len().div_ceil(ALLOCS_PER_PAGE).max(1);
                @let at = page.alloc_page.min(pages - 1);
                (table(&["ID", "Name", "Node", "Version", "Desired", "Status", "Healthy"], html! {
                        @for a in allocations.iter().skip(at * ALLOCS_PER_PAGE).take(ALLOCS_PER_PAGE) {
                            @let client = wire_name(&a.client_status);
                            tr {
                                td { (alloc_link(&a.id)) }
                                td { (a.name) }
                                td { (a.node_name.as_deref().unwrap_or("—")) }
                                td.num { (a.job_version) }
                                td { (wire_name(&a.desired_status)) }
                                td class=(format!("status-{client}")) { (client) }
                                td { @match a.healthy { Some(true) => "yes", Some(false) => "no", None => "—" } }
                            }
                        }
                    }))
                @if pages > 1 {
                    @let base = job_url(ns, name);
                    nav.pages aria-label="Allocation pages" {
                        @if at > 0 { a href=(format!("{base}?page={}", at - 1)) { "← newer" } }
                        " allocations " (at * ALLOCS_PER_PAGE + 1) "–" (((at + 1) * ALLOCS_PER_PAGE).min(allocations.len()))
                        " of " (allocations.len()) " "
                        @if at + 1 < pages { a href=(format!("{base}?page={}", at + 1)) { "older →" } }
                    }
                }
            },
        }
    }
}

/// Edit, force a launch, stop and purge: whichever the token may press.
fn levers(page: &JobPage) -> Markup {
    let job = &page.job;
    let ns = &job.metadata.namespace;
    let name = &job.metadata.name;
    let api = format!("/v1/job/{}", url_component(name));
    let in_ns = format!("?namespace={}", url_component(ns));
    html! {
        @if page.may.submit {
            div.actions {
                a.button href=(format!("/ui/run?namespace={}&job={}", url_component(ns), url_component(name))) { "Edit" }
                @if job.spec.periodic.is_some() && !job.spec.stop {
                    button.secondary type="button" data-method="POST" data-path=(format!("{api}/periodic/force{in_ns}"))
                        { "Launch now" }
                }
                @if !job.spec.stop {
                    button.danger type="button" data-method="POST"
                        data-path=(format!("{api}/stop{in_ns}")) data-confirm=(format!("Stop job {name}?"))
                        { "Stop job" }
                }
                button.danger type="button" data-method="DELETE"
                    data-path=(format!("{api}{in_ns}&purge=true")) data-confirm=(format!("Purge job {name}? Its history goes too."))
                    data-then="/ui/jobs"
                    { "Purge" }
            }
        }
    }
}

/// Each group's count (a form to scale it) and allocations by state.
fn groups(page: &JobPage) -> Markup {
    let job = &page.job;
    let status = job.status.as_ref();
    let api_path = format!("/v1/job/{}", url_component(&job.metadata.name));
    let in_ns = format!("?namespace={}", url_component(&job.metadata.namespace));
    table(
        &[
            "Group", "Desired", "Queued", "Starting", "Running", "Failed", "Complete", "Lost",
        ],
        html! {
            @for group in &job.spec.groups {
                @let summary = status.and_then(|s| s.summary.get(&group.name)).cloned().unwrap_or_default();
                tr {
                    td { (group.name) }
                    td.num {
                        @if page.may.scale {
                            form.scale data-path=(format!("{api_path}/scale{in_ns}")) data-group=(group.name) {
                                input type="number" name="count" min="0" value=(group.count)
                                    aria-label=(format!("Count of group {}", group.name));
                                button type="submit" { "Scale" }
                            }
                        } @else {
                            (group.count)
                        }
                    }
                    td.num { (summary.queued) }
                    td.num { (summary.starting) }
                    td.num { (summary.running) }
                    td.num { (summary.failed) }
                    td.num { (summary.complete) }
                    td.num { (summary.lost) }
                }
            }
        },
    )
}

/// A periodic parent's launches (last success, next launch) or a
/// parameterized one's dispatch form, then its newest children.
fn children_section(
    job: &Job,
    children: &Result<ChildrenResponse, CallError>,
    may: JobActions,
) -> Markup {
    let ns = &job.metadata.namespace;
    let api = format!("/v1/job/{}", url_component(&job.metadata.name));
    let in_ns = format!("?namespace={}", url_component(ns));
    html! {
        h2 { "Children" }
        @if let (Some(params), true) = (&job.spec.parameterized, may.dispatch && !job.spec.stop) {
            form.dispatch data-path=(format!("{api}/dispatch{in_ns}")) aria-label="Dispatch" {
                @for key in &params.meta_required {
                    label { (key) " (required) " input name=(format!("meta.{key}")) required; }
                }
                @for key in &params.meta_optional {
                    label { (key) " " input name=(format!("meta.{key}")); }
                }
                @if params.payload != "forbidden" {
                    label { "Payload" @if params.payload == "required" { " (required)" }
                        textarea name="payload" rows="3" required[params.payload == "required"] {} }
                }
                button type="submit" { "Dispatch" }
            }
        }
        @match children {
            Err(e) => p.muted { "not shown: " (e.message) },
            Ok(answer) => {
                @if let Some(launch) = &answer.periodic {
                    dl.facts {
                        dt { "Last success" } dd { @if launch.last_success.is_some() { (when(launch.last_success)) } @else { "never" } }
                        dt { "Next launch" } dd { @if launch.next_launch.is_some() { (when(launch.next_launch)) } @else { "none scheduled" } }
                        @if !launch.last_result.is_empty() { dt { "Last result" } dd class=(format!("status-{}", launch.last_result)) { (launch.last_result) } }
                        @if launch.skipped > 0 { dt { "Skipped (overlap)" } dd { (launch.skipped) } }
                    }
                }
                @if answer.children.is_empty() {
                    p.muted { "none yet" }
                } @else {
                    (table(&["Child", "Launched", "Status", "Result"], html! {
                        @for child in answer.children.iter().take(SHOWN) {
                            tr {
                                td { a href=(job_url(ns, &child.job_id)) { (child.job_id) } }
                                td { (when(child.launched)) }
                                td class=(format!("status-{}", child.status)) { (child.status) }
                                td { (child.result) }
                            }
                        }
                    }))
                    @if answer.children.len() > SHOWN {
                        p.muted { (answer.children.len() - SHOWN) " older not shown" }
                    }
                }
            }
        }
    }
}
