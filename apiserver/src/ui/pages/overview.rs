//! The cluster overview: nodes, allocations and jobs by status.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::response::Response;
use drover_api::views::{AllocationView, NodeView};
use drover_api_types::Job;
use maud::{html, Markup};

use super::{count_by, wire_name, Viewer};
use crate::ui::calls::{CallError, Ui};

/// What the overview shows, as the API answered each part.
pub struct Overview {
    pub nodes: Result<Vec<NodeView>, CallError>,
    pub allocations: Result<Vec<AllocationView>, CallError>,
    pub jobs: Result<Vec<Job>, CallError>,
}

pub async fn overview(State(ui): State<Ui>, viewer: Viewer) -> Response {
    let token = viewer.token();
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
    viewer.show("Overview", "/ui", "overview", render_overview(&data))
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
