//! Topology: every node as a box, its CPU and memory bars filled by its
//! allocations (each a segment as wide as its share of the node, coloured
//! by job, linked to its page), as Nomad's topology view shows a fleet.
//! A page holds [`PER_PAGE`] nodes (`?page=N`), so a fleet of thousands
//! stays a page a browser draws at once.

use std::collections::BTreeMap;

use axum::extract::{Query, State};
use axum::response::Response;
use drover_api::views::{AllocationView, NodeView, Usage};
use maud::{html, Markup};

use super::{node_link, url_component, wire_name, Viewer};
use crate::ui::calls::{CallError, Ui};

/// Nodes drawn on one page.
pub const PER_PAGE: usize = 100;

#[derive(Debug, Default, serde::Deserialize)]
pub struct TopologyQuery {
    #[serde(default)]
    pub page: usize,
}

pub async fn topology(
    State(ui): State<Ui>,
    viewer: Viewer,
    Query(query): Query<TopologyQuery>,
) -> Response {
    let token = viewer.token();
    let mut nodes = match ui.get::<Vec<NodeView>>(token, "/v1/nodes").await {
        Ok(nodes) => nodes,
        Err(e) => return viewer.error(&e),
    };
    nodes.sort_by(|a, b| (&a.name, &a.id).cmp(&(&b.name, &b.id)));
    let allocations = ui
        .get::<Vec<AllocationView>>(token, "/v1/allocations?namespace=*")
        .await;
    viewer.show(
        "Topology",
        "/ui/topology",
        "nodes",
        render_topology(&nodes, &allocations, query.page),
    )
}

/// A job's colour: a hue from its name, the same on every page (pure).
pub fn hue(job: &str) -> u32 {
    job.bytes().fold(2166136261u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(16777619)
    }) % 360
}

/// `part` of `whole` as a percentage of a bar, two decimals (pure).
fn share(part: i64, whole: i64) -> String {
    if whole <= 0 {
        return "0".into();
    }
    format!(
        "{:.2}",
        (part.max(0) as f64 * 100.0 / whole as f64).min(100.0)
    )
}

/// One resource bar of a node: each allocation a linked segment.
fn bar(
    label: &str,
    total: i64,
    allocs: &[&AllocationView],
    of: fn(&Usage) -> i64,
    unit: &str,
) -> Markup {
    let used: i64 = allocs.iter().map(|a| of(&a.allocated)).sum();
    html! {
        div.bar-row {
            span.bar-label { (label) }
            div.bar role="img" aria-label=(format!("{label}: {used} of {total} {unit} allocated")) {
                @for a in allocs {
                    a.segment href=(format!("/ui/alloc/{}", url_component(&a.id)))
                        style=(format!("width:{}%;background:hsl({} 55% 50%)", share(of(&a.allocated), total), hue(&a.job)))
                        title=(format!("{} · {} {unit}", a.name, of(&a.allocated))) {}
                }
            }
            span.bar-figure { (used) "/" (total) " " (unit) }
        }
    }
}

/// The page (pure): nodes `page * PER_PAGE ..`, each with its active
/// allocations, then a legend of the jobs drawn.
pub fn render_topology(
    nodes: &[NodeView],
    allocations: &Result<Vec<AllocationView>, CallError>,
    page: usize,
) -> Markup {
    let mut by_node: BTreeMap<&str, Vec<&AllocationView>> = BTreeMap::new();
    if let Ok(allocations) = allocations {
        for a in allocations.iter().filter(|a| a.is_active()) {
            if let Some(node) = &a.node_id {
                by_node.entry(node.as_str()).or_default().push(a);
            }
        }
    }
    let pages = nodes.len().div_ceil(PER_PAGE).max(1);
    let page = page.min(pages - 1);
    let shown: Vec<(&NodeView, Vec<&AllocationView>)> = nodes
        .iter()
        .skip(page * PER_PAGE)
        .take(PER_PAGE)
        .map(|n| (n, by_node.get(n.id.as_str()).cloned().unwrap_or_default()))
        .collect();
    let mut jobs: BTreeMap<&str, usize> = BTreeMap::new();
    for a in shown.iter().flat_map(|(_, allocs)| allocs) {
        *jobs.entry(a.job.as_str()).or_default() += 1;
    }
    html! {
        h1 { "Topology" }
        @if let Err(e) = allocations { p.muted { "Allocations not shown: " (e.message) } }
        @if nodes.is_empty() { p.muted { "No nodes." } }
        div.topology {
            @for (node, allocs) in &shown {
                @let status = wire_name(&node.status);
                section.node-box aria-label=(format!("Node {}", node.name)) {
                    h2 { (node_link(&node.id, &node.name)) " " span class=(format!("status-{status}")) { (status) } }
                    p.muted { (allocs.len()) " allocation(s) · " (node.datacenter) }
                    (bar("CPU", node.resources.cpu, allocs, |u| u.cpu, "MHz"))
                    (bar("Memory", node.resources.memory, allocs, |u| u.memory, "MB"))
                }
            }
        }
        @if pages > 1 {
            nav.pages aria-label="Pages" {
                @if page > 0 { a href=(format!("/ui/topology?page={}", page - 1)) { "← previous" } }
                " page " (page + 1) " of " (pages) " "
                @if page + 1 < pages { a href=(format!("/ui/topology?page={}", page + 1)) { "next →" } }
            }
        }
        @if !jobs.is_empty() {
            h2 { "Jobs on this page" }
            ul.legend {
                @for (job, count) in &jobs {
                    li { span.swatch style=(format!("background:hsl({} 55% 50%)", hue(job))) {} (job) " (" (count) ")" }
                }
            }
        }
    }
}
