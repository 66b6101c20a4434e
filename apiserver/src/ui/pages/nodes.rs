//! The nodes list: status, eligibility, drain, what is allocated of what
//! each can take.

use axum::extract::State;
use axum::response::Response;
use drover_api::views::NodeView;
use maud::{html, Markup};

use crate::ui::layout::table;

use super::{wire_name, Viewer};
use crate::ui::calls::Ui;

pub async fn nodes(State(ui): State<Ui>, viewer: Viewer) -> Response {
    let token = viewer.token();
    match ui.get::<Vec<NodeView>>(token, "/v1/nodes").await {
        Ok(nodes) => viewer.show("Nodes", "/ui/nodes", "nodes", render_nodes(&nodes)),
        Err(e) => viewer.error(&e),
    }
}

/// `used` of `total` as a whole percentage (0 when nothing to take).
fn percent(used: i64, total: i64) -> i64 {
    if total <= 0 {
        return 0;
    }
    (used.max(0) * 100) / total
}

/// The nodes table (pure).
pub fn render_nodes(nodes: &[NodeView]) -> Markup {
    html! {
        h1 { "Nodes" }
        @if nodes.is_empty() {
            p.muted { "No nodes. Start one with " code { "drover agent" } "." }
        } @else {
            (table(&["Name", "Datacenter", "Class", "Address", "Status", "Eligible", "Draining", "Allocations", "CPU", "Memory"], html! {
                        @for node in nodes {
                            @let status = wire_name(&node.status);
                            tr {
                                td { (node.name) }
                                td { (node.datacenter) }
                                td { (if node.node_class.is_empty() { "—" } else { &node.node_class }) }
                                td { (node.address) }
                                td class=(format!("status-{status}")) { (status) }
                                td { (if node.eligible { "yes" } else { "no" }) }
                                td { (if node.drain.is_some() { "yes" } else { "no" }) }
                                td.num { (node.allocations) }
                                td.num { (percent(node.allocated.cpu, node.resources.cpu)) "%" }
                                td.num { (percent(node.allocated.memory, node.resources.memory)) "%" }
                            }
                        }
                    }))
        }
    }
}
