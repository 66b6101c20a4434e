//! The views. Each handler asks the API (as the visitor) and hands what it
//! answered to a pure render function; a section the visitor's token may
//! not read says so instead of failing the page.

use std::collections::BTreeMap;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use drover_api::views::{AllocationView, NodeView};
use drover_api_types::Job;
use maud::{html, Markup};
use serde::Serialize;

use super::calls::{CallError, Ui, Visitor};
use super::layout::{error_page, respond, Fragment, View};

/// The wire name of an enum value (`running`, `ready`), as the API writes
/// it.
fn wire_name<T: Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// Counts by name, in name order.
fn count_by(names: impl Iterator<Item = String>) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for name in names {
        *out.entry(name).or_insert(0) += 1;
    }
    out
}

/// With ACLs on and no token yet, the token page first.
fn needs_sign_in(ui: &Ui, visitor: &Visitor) -> Option<Response> {
    (ui.acl && visitor.0.is_none()).then(|| Redirect::to("/ui/token").into_response())
}

/// What the overview shows, as the API answered each part.
pub struct Overview {
    pub nodes: Result<Vec<NodeView>, CallError>,
    pub allocations: Result<Vec<AllocationView>, CallError>,
    pub jobs: Result<Vec<Job>, CallError>,
}

pub async fn overview(State(ui): State<Ui>, visitor: Visitor, fragment: Fragment) -> Response {
    if let Some(first) = needs_sign_in(&ui, &visitor) {
        return first;
    }
    let token = visitor.0.as_deref();
    let (nodes, allocations, jobs) = tokio::join!(
        ui.get(token, "/v1/nodes"),
        ui.get(token, "/v1/allocations?namespace=*"),
        ui.get(token, "/v1/jobs?namespace=*"),
    );
    let data = Overview {
        nodes,
        allocations,
        jobs,
    };
    respond(
        fragment,
        View {
            title: "Overview",
            current: "/ui",
            signed_in: token.is_some(),
            live: Some("overview"),
            main: render_overview(&data),
        },
    )
}

fn counts_card(title: &str, counts: Result<BTreeMap<String, usize>, &CallError>) -> Markup {
    html! {
        section.card aria-label=(title) {
            h2 { (title) }
            @match counts {
                Ok(counts) if counts.is_empty() => p.muted { "none" },
                Ok(counts) => dl {
                    @for (name, n) in &counts {
                        dt class=(format!("status-{name}")) { (name) }
                        dd { (n) }
                    }
                },
                Err(e) => p.muted { "not shown: " (e.message) },
            }
        }
    }
}

/// The overview (pure): nodes, allocations and jobs by status.
pub fn render_overview(data: &Overview) -> Markup {
    let nodes = data
        .nodes
        .as_ref()
        .map(|n| count_by(n.iter().map(|n| wire_name(&n.status))));
    let allocations = data
        .allocations
        .as_ref()
        .map(|a| count_by(a.iter().map(|a| wire_name(&a.client_status))));
    let jobs = data.jobs.as_ref().map(|j| {
        count_by(j.iter().map(|j| {
            j.status
                .as_ref()
                .map_or_else(|| "pending".to_string(), |s| s.status.clone())
        }))
    });
    html! {
        h1 { "Cluster overview" }
        div.cards {
            (counts_card("Nodes", nodes))
            (counts_card("Allocations", allocations))
            (counts_card("Jobs", jobs))
        }
    }
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct JobsQuery {
    /// A namespace, or `*` (the default) for every one the token may list.
    pub namespace: Option<String>,
}

pub async fn jobs(
    State(ui): State<Ui>,
    visitor: Visitor,
    fragment: Fragment,
    Query(query): Query<JobsQuery>,
) -> Response {
    if let Some(first) = needs_sign_in(&ui, &visitor) {
        return first;
    }
    let token = visitor.0.as_deref();
    let namespace = query.namespace.unwrap_or_else(|| "*".into());
    let path = format!("/v1/jobs?namespace={}", url_component(&namespace));
    match ui.get::<Vec<Job>>(token, &path).await {
        Ok(jobs) => respond(
            fragment,
            View {
                title: "Jobs",
                current: "/ui/jobs",
                signed_in: token.is_some(),
                live: Some("jobs"),
                main: render_jobs(&jobs),
            },
        ),
        Err(e) => error_page(e.status, &e.message, token.is_some()),
    }
}

/// `text` for a query string value.
fn url_component(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'*' => {
                out.push(byte as char)
            }
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
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
            div.table-wrap {
                table {
                    thead {
                        tr {
                            th scope="col" { "Name" }
                            th scope="col" { "Namespace" }
                            th scope="col" { "Type" }
                            th scope="col" { "Status" }
                            th scope="col" { "Version" }
                            th scope="col" { "Running" }
                        }
                    }
                    tbody {
                        @for job in jobs {
                            @let status = job.status.as_ref().map_or("pending", |s| s.status.as_str());
                            @let (running, desired) = running_of_desired(job);
                            tr {
                                td { (job.metadata.name) }
                                td { (job.metadata.namespace) }
                                td { (wire_name(&job.spec.job_type)) }
                                td class=(format!("status-{status}")) { (status) }
                                td.num { (job.metadata.version) }
                                td.num { (running) "/" (desired) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A page the UI does not have.
pub async fn not_found() -> Response {
    error_page(StatusCode::NOT_FOUND, "no such page", false)
}

#[cfg(test)]
mod tests;
