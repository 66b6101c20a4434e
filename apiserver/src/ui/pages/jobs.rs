//! The jobs list and one job's page.

use axum::extract::{Path, Query, State};
use axum::response::Response;
use drover_api::views::AllocationView;
use drover_api_types::Job;
use maud::{html, Markup};

use crate::ui::layout::table;

use drover_api_types::acl::Capability;

use super::{alloc_link, url_component, wire_name, Viewer};
use crate::ui::calls::{CallError, Ui};

#[derive(Debug, Default, serde::Deserialize)]
pub struct JobsQuery {
    /// A namespace, or `*` (the default) for every one the token may list.
    pub namespace: Option<String>,
}

pub async fn jobs(
    State(ui): State<Ui>,
    viewer: Viewer,
    Query(query): Query<JobsQuery>,
) -> Response {
    let token = viewer.token();
    let namespace = query.namespace.unwrap_or_else(|| "*".into());
    let path = format!("/v1/jobs?namespace={}", url_component(&namespace));
    match ui.get::<Vec<Job>>(token, &path).await {
        Ok(jobs) => viewer.show("Jobs", "/ui/jobs", "jobs", render_jobs(&jobs)),
        Err(e) => viewer.error(&e),
    }
}

/// Running of desired, over every group of `job`.
fn running_of_desired(job: &Job) -> (u64, u64) {
    let desired = job
        .spec
        .groups
        .iter()
        .map(|g| u64::try_from(g.count).unwrap_or(0))
        .sum();
    let running = job
        .status
        .as_ref()
        .map_or(0, |s| s.summary.values().map(|g| g.running).sum());
    (running, desired)
}

/// The jobs table (pure).
pub fn render_jobs(jobs: &[Job]) -> Markup {
    html! {
        h1 { "Jobs" }
        @if jobs.is_empty() {
            p.muted { "No jobs. Run one with " code { "drover apply -f job.nomad" } "." }
        } @else {
            (table(&["Name", "Namespace", "Type", "Status", "Version", "Running"], html! {
                        @for job in jobs {
                            @let status = job.status.as_ref().map_or("pending", |s| s.status.as_str());
                            @let (running, desired) = running_of_desired(job);
                            tr {
                                td { a href=(format!("/ui/job/{}/{}", url_component(&job.metadata.namespace), url_component(&job.metadata.name))) { (job.metadata.name) } }
                                td { (job.metadata.namespace) }
                                td { (wire_name(&job.spec.job_type)) }
                                td class=(format!("status-{status}")) { (status) }
                                td.num { (job.metadata.version) }
                                td.num { (running) "/" (desired) }
                            }
                        }
                    }))
        }
    }
}

/// One job as its page shows it.
pub struct JobPage {
    pub job: Job,
    /// The job's allocations, newest first.
    pub allocations: Result<Vec<AllocationView>, CallError>,
    /// The buttons the visitor's token may press.
    pub may: JobActions,
}

/// What the visitor may do to the job.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JobActions {
    pub stop: bool,
    pub scale: bool,
}

pub async fn job(
    State(ui): State<Ui>,
    viewer: Viewer,
    Path((namespace, name)): Path<(String, String)>,
) -> Response {
    let token = viewer.token();
    let ns = url_component(&namespace);
    let job_path = format!("/v1/job/{}?namespace={ns}", url_component(&name));
    let job = match ui.get::<Job>(token, &job_path).await {
        Ok(job) => job,
        Err(e) => return viewer.error(&e),
    };
    let caller = ui.caller(token).await;
    let may = JobActions {
        stop: caller
            .as_ref()
            .is_ok_and(|c| c.may(&namespace, Capability::SubmitJob)),
        scale: caller
            .as_ref()
            .is_ok_and(|c| c.may(&namespace, Capability::ScaleJob)),
    };
    let allocations = ui
        .get::<Vec<AllocationView>>(token, &format!("/v1/allocations?namespace={ns}"))
        .await
        .map(|all| {
            let mut mine: Vec<AllocationView> = all.into_iter().filter(|a| a.job == name).collect();
            mine.sort_by_key(|a| std::cmp::Reverse(a.create_time));
            mine
        });
    let title = format!("Job {name}");
    viewer.show(
        &title,
        "/ui/jobs",
        "job",
        render_job(&JobPage {
            job,
            allocations,
            may,
        }),
    )
}

/// One job's page (pure): what it is, each group's allocations by state
/// and why any wait, then its allocations.
pub fn render_job(page: &JobPage) -> Markup {
    let job = &page.job;
    let status = job.status.as_ref();
    let state = status.map_or("pending", |s| s.status.as_str());
    html! {
        h1 { "Job " (job.metadata.name) }
        dl.facts {
            dt { "Namespace" } dd { (job.metadata.namespace) }
            dt { "Type" } dd { (wire_name(&job.spec.job_type)) }
            dt { "Status" } dd class=(format!("status-{state}")) { (state) }
            dt { "Version" } dd { (job.metadata.version) }
            @if let Some(text) = status.map(|s| &s.status_description).filter(|d| !d.is_empty()) {
                dt { "Why" } dd { (text) }
            }
        }
        @let api_path = format!("/v1/job/{}", url_component(&job.metadata.name));
        @let in_ns = format!("?namespace={}", url_component(&job.metadata.namespace));
        @if page.may.stop && !job.spec.stop {
            div.actions {
                button.danger type="button" data-method="POST"
                    data-path=(format!("{api_path}/stop{in_ns}")) data-confirm=(format!("Stop job {}?", job.metadata.name))
                    { "Stop job" }
            }
        }
        h2 { "Groups" }
        (table(&["Group", "Desired", "Queued", "Starting", "Running", "Failed", "Complete", "Lost"], html! {
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
                }))
        @if let Some(failures) = status.map(|s| &s.placement_failures).filter(|f| !f.is_empty()) {
            h2 { "Placement failures" }
            @for (group, failure) in failures {
                section.card role="alert" aria-label=(format!("Placement failures of {group}")) {
                    p {
                        strong { (group) } ": " (failure.queued) " not placed, "
                        (failure.nodes_evaluated) " node(s) evaluated"
                    }
                    ul {
                        @if let Some(quota) = &failure.quota_exhausted { li { (quota) } }
                        @for (reason, nodes) in &failure.nodes_filtered {
                            li { (reason) " filtered " (nodes) " node(s)" }
                        }
                        @for (dimension, nodes) in &failure.dimensions_exhausted {
                            li { (dimension) " exhausted on " (nodes) " node(s)" }
                        }
                    }
                }
            }
        }
        h2 { "Allocations" }
        @match &page.allocations {
            Err(e) => p.muted { "not shown: " (e.message) },
            Ok(allocations) if allocations.is_empty() => p.muted { "none" },
            Ok(allocations) => (table(&["ID", "Name", "Node", "Version", "Desired", "Status", "Healthy"], html! {
                        @for a in allocations {
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
                    })),
        }
    }
}
