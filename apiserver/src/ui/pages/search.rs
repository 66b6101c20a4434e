//! Search across jobs, nodes and allocations (`/` anywhere on a page
//! puts the cursor in the header's search box): a job or node whose name
//! holds the text, a node or allocation whose id starts with it, an
//! allocation whose name holds it. One match opens it directly.

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use drover_api::views::{AllocationView, NodeView};
use drover_api_types::Job;
use maud::{html, Markup};

use super::job::job_url;
use super::{alloc_link, node_link, short_id, url_component, wire_name, Viewer};
use crate::ui::calls::{CallError, Ui};

/// The longest text searched for.
pub const MAX_QUERY: usize = 200;
/// The most matches of each kind listed.
pub const SHOWN: usize = 50;

#[derive(Debug, Default, serde::Deserialize)]
pub struct SearchQuery {
    #[serde(default)]
    pub q: String,
}

/// What matched, of each kind (or why a kind could not be read).
#[derive(Debug, Default)]
pub struct Found {
    pub jobs: Vec<Job>,
    pub nodes: Vec<NodeView>,
    pub allocations: Vec<AllocationView>,
    pub refused: Vec<String>,
}

impl Found {
    fn count(&self) -> usize {
        self.jobs.len() + self.nodes.len() + self.allocations.len()
    }

    /// Where a single match lives.
    fn only(&self) -> Option<String> {
        if self.count() != 1 {
            return None;
        }
        if let Some(job) = self.jobs.first() {
            return Some(job_url(&job.metadata.namespace, &job.metadata.name));
        }
        if let Some(node) = self.nodes.first() {
            return Some(format!("/ui/node/{}", url_component(&node.id)));
        }
        self.allocations
            .first()
            .map(|a| format!("/ui/alloc/{}", url_component(&a.id)))
    }
}

/// Whether `text` matches a name (holds it) or an id (starts with it),
/// case aside (pure).
pub fn matches(text: &str, name: &str, id: &str) -> bool {
    let text = text.to_lowercase();
    name.to_lowercase().contains(&text) || id.to_lowercase().starts_with(&text)
}

/// The matches among what was read (pure).
pub fn find(
    text: &str,
    jobs: Result<Vec<Job>, CallError>,
    nodes: Result<Vec<NodeView>, CallError>,
    allocations: Result<Vec<AllocationView>, CallError>,
) -> Found {
    let mut found = Found::default();
    match jobs {
        Ok(jobs) => {
            found.jobs = jobs
                .into_iter()
                .filter(|j| matches(text, &j.metadata.name, ""))
                .collect()
        }
        Err(e) => found.refused.push(format!("jobs: {}", e.message)),
    }
    match nodes {
        Ok(nodes) => {
            found.nodes = nodes
                .into_iter()
                .filter(|n| matches(text, &n.name, &n.id))
                .collect()
        }
        Err(e) => found.refused.push(format!("nodes: {}", e.message)),
    }
    match allocations {
        Ok(allocations) => {
            found.allocations = allocations
                .into_iter()
                .filter(|a| matches(text, &a.name, &a.id))
                .collect()
        }
        Err(e) => found.refused.push(format!("allocations: {}", e.message)),
    }
    found
}

pub async fn search(
    State(ui): State<Ui>,
    viewer: Viewer,
    Query(query): Query<SearchQuery>,
) -> Response {
    let text: String = query.q.trim().chars().take(MAX_QUERY).collect();
    if text.is_empty() {
        return viewer.show_still("Search", "", render_search("", &Found::default()));
    }
    let token = viewer.token();
    let found = find(
        &text,
        ui.get::<Vec<Job>>(token, "/v1/jobs?namespace=*").await,
        ui.get::<Vec<NodeView>>(token, "/v1/nodes").await,
        ui.get::<Vec<AllocationView>>(token, "/v1/allocations?namespace=*")
            .await,
    );
    if let Some(url) = found.only() {
        return Redirect::to(&url).into_response();
    }
    viewer.show_still("Search", "", render_search(&text, &found))
}

/// The matches (pure), each kind capped at [`SHOWN`].
pub fn render_search(text: &str, found: &Found) -> Markup {
    html! {
        h1 { "Search" }
        @if text.is_empty() {
            p.muted { "Type a job or node name, an allocation's name, or the start of an id." }
        } @else if found.count() == 0 {
            p { "Nothing matches " code { (text) } "." }
        }
        @for why in &found.refused { p.muted { "not searched: " (why) } }
        @if !found.jobs.is_empty() {
            h2 { "Jobs (" (found.jobs.len()) ")" }
            ul {
                @for job in found.jobs.iter().take(SHOWN) {
                    li { a href=(job_url(&job.metadata.namespace, &job.metadata.name)) { (job.metadata.name) } " " span.muted { (job.metadata.namespace) } }
                }
            }
        }
        @if !found.nodes.is_empty() {
            h2 { "Nodes (" (found.nodes.len()) ")" }
            ul {
                @for node in found.nodes.iter().take(SHOWN) {
                    li { (node_link(&node.id, &node.name)) " " code.muted { (short_id(&node.id)) } }
                }
            }
        }
        @if !found.allocations.is_empty() {
            h2 { "Allocations (" (found.allocations.len()) ")" }
            ul {
                @for a in found.allocations.iter().take(SHOWN) {
                    li { (alloc_link(&a.id)) " " (a.name) " " span class=(format!("status-{}", wire_name(&a.client_status))) { (wire_name(&a.client_status)) } }
                }
            }
        }
        @if found.jobs.len().max(found.nodes.len()).max(found.allocations.len()) > SHOWN {
            p.muted { "Only the first " (SHOWN) " of each kind are listed: type more." }
        }
    }
}
