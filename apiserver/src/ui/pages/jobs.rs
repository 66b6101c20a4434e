//! The jobs list.

use axum::extract::{Query, State};
use axum::response::Response;
use drover_api_types::Job;
use maud::{html, Markup};

use crate::ui::layout::table;

use super::{url_component, wire_name, Viewer};
use crate::ui::calls::Ui;

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
