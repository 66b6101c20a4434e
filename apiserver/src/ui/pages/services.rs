//! The service catalog: every service with its tags and checks by state,
//! and one service's instances (where each runs, its allocation) with
//! each check's status and last output. Read through the same routes
//! Nomad's and Consul's clients read (`/v1/services`, `/v1/service/{name}`,
//! `/v1/health/…`).

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::response::Response;
use maud::{html, Markup};
use serde_json::Value;

use super::{alloc_link, url_component, Viewer};
use crate::ui::calls::{CallError, Ui};
use crate::ui::layout::table;

/// Check states, worst last, as the catalog names them.
const STATES: [&str; 3] = ["passing", "warning", "critical"];

pub async fn services(State(ui): State<Ui>, viewer: Viewer) -> Response {
    let token = viewer.token();
    let listed = match ui.get::<Value>(token, "/v1/services?namespace=*").await {
        Ok(listed) => listed,
        Err(e) => return viewer.error(&e),
    };
    let checks = ui.get::<Value>(token, "/v1/health/state/any").await;
    viewer.show(
        "Services",
        "/ui/services",
        "services",
        render_services(&listed, &checks),
    )
}

/// Service → check state → count, from `/v1/health/state/any` (pure).
fn check_counts(checks: &Value) -> BTreeMap<String, BTreeMap<String, u64>> {
    let mut out: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    for check in checks.as_array().into_iter().flatten() {
        let service = check["ServiceName"].as_str().unwrap_or_default();
        if service.is_empty() {
            continue;
        }
        let state = check["Status"].as_str().unwrap_or("critical").to_string();
        *out.entry(service.to_string())
            .or_default()
            .entry(state)
            .or_default() += 1;
    }
    out
}

/// The services table (pure): `listed` is `/v1/services`' answer.
pub fn render_services(listed: &Value, checks: &Result<Value, CallError>) -> Markup {
    let counts = checks.as_ref().map(check_counts);
    let rows: Vec<(&str, &str, Vec<&str>)> = listed
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|ns| {
            let namespace = ns["Namespace"].as_str().unwrap_or_default();
            ns["Services"]
                .as_array()
                .into_iter()
                .flatten()
                .map(move |s| {
                    let tags = s["Tags"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                        .collect();
                    (
                        namespace,
                        s["ServiceName"].as_str().unwrap_or_default(),
                        tags,
                    )
                })
        })
        .collect();
    html! {
        h1 { "Services" }
        @if rows.is_empty() {
            p.muted { "No services: a job's " code { "service" } " blocks register here as its allocations start." }
        } @else {
            (table(&["Service", "Namespace", "Tags", "Checks"], html! {
                @for (namespace, name, tags) in &rows {
                    tr {
                        td { a href=(format!("/ui/service/{}?namespace={}", url_component(name), url_component(namespace))) { (name) } }
                        td { (namespace) }
                        td { @for tag in tags { span.badge { (tag) } " " } }
                        td {
                            @match &counts {
                                Err(e) => span.muted { "not shown: " (e.message) },
                                Ok(counts) => {
                                    @match counts.get(*name) {
                                        None => span.muted { "no checks" },
                                        Some(by_state) => @for state in STATES {
                                            @if let Some(n) = by_state.get(state) {
                                                span class=(format!("status-{state}")) { (n) " " (state) } " "
                                            }
                                        },
                                    }
                                },
                            }
                        }
                    }
                }
            }))
        }
    }
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct ServiceQuery {
    pub namespace: Option<String>,
}

pub async fn service(
    State(ui): State<Ui>,
    viewer: Viewer,
    Path(name): Path<String>,
    axum::extract::Query(query): axum::extract::Query<ServiceQuery>,
) -> Response {
    let token = viewer.token();
    let ns = url_component(query.namespace.as_deref().unwrap_or("default"));
    let service = url_component(&name);
    let instances = match ui
        .get::<Value>(token, &format!("/v1/service/{service}?namespace={ns}"))
        .await
    {
        Ok(instances) => instances,
        Err(e) => return viewer.error(&e),
    };
    let checks = ui
        .get::<Value>(token, &format!("/v1/health/checks/{service}?ns={ns}"))
        .await;
    viewer.show(
        &format!("Service {name}"),
        "/ui/services",
        "services",
        render_service(&name, &instances, &checks),
    )
}

/// One service's instances and their checks (pure).
pub fn render_service(name: &str, instances: &Value, checks: &Result<Value, CallError>) -> Markup {
    let mut by_instance: BTreeMap<&str, Vec<&Value>> = BTreeMap::new();
    if let Ok(checks) = checks {
        for check in checks.as_array().into_iter().flatten() {
            by_instance
                .entry(check["ServiceID"].as_str().unwrap_or_default())
                .or_default()
                .push(check);
        }
    }
    let list: Vec<&Value> = instances.as_array().into_iter().flatten().collect();
    html! {
        h1 { "Service " (name) }
        @if list.is_empty() {
            p.muted { "No instance is registered now." }
        }
        @if let Err(e) = checks { p.muted { "Checks not shown: " (e.message) } }
        @for instance in &list {
            @let id = instance["ID"].as_str().unwrap_or_default();
            @let alloc = instance["AllocID"].as_str().unwrap_or_default();
            section.card aria-label=(format!("Instance {id}")) {
                p {
                    code { (instance["Address"].as_str().unwrap_or_default()) ":" (instance["Port"].as_u64().unwrap_or(0)) }
                    " · job " a href=(format!("/ui/job/{}/{}", url_component(instance["Namespace"].as_str().unwrap_or("default")), url_component(instance["JobID"].as_str().unwrap_or_default()))) { (instance["JobID"].as_str().unwrap_or_default()) }
                    @if !alloc.is_empty() { " · allocation " (alloc_link(alloc)) }
                    @for tag in instance["Tags"].as_array().into_iter().flatten().filter_map(Value::as_str) { " " span.badge { (tag) } }
                }
                @match by_instance.get(id) {
                    None => p.muted { "no checks" },
                    Some(checks) => (table(&["Check", "Status", "Output"], html! {
                        @for check in checks {
                            @let status = check["Status"].as_str().unwrap_or_default();
                            tr {
                                td { (check["Name"].as_str().unwrap_or_default()) }
                                td class=(format!("status-{status}")) { (status) }
                                td { pre.output { (check["Output"].as_str().unwrap_or_default()) } }
                            }
                        }
                    })),
                }
            }
        }
    }
}
