//! The nodes list (status, eligibility, drain, what is allocated of what
//! each can take) and one node, with Drain and eligibility where the token
//! may write nodes.

use axum::extract::{Path, State};
use axum::response::Response;
use drover_api::views::{NodeDetail, NodeView};
use maud::{html, Markup};

use crate::ui::layout::table;

use super::{alloc_link, node_link, url_component, when, wire_name, Viewer};
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
                                td { (node_link(&node.id, &node.name)) }
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

pub async fn node(State(ui): State<Ui>, viewer: Viewer, Path(id): Path<String>) -> Response {
    let token = viewer.token();
    let path = format!("/v1/node/{}", url_component(&id));
    let detail = match ui.get::<NodeDetail>(token, &path).await {
        Ok(detail) => detail,
        Err(e) => return viewer.error(&e),
    };
    let may_write = ui
        .caller(token)
        .await
        .is_ok_and(|c| c.acl.node(drover_api_types::acl::Level::Write));
    let title = format!("Node {}", detail.node.name);
    viewer.show(
        &title,
        "/ui/nodes",
        "nodes",
        render_node(&detail, may_write),
    )
}

/// One node (pure): what it is and can take, its levers when the token
/// may write nodes, its allocations and its events.
pub fn render_node(detail: &NodeDetail, may_write: bool) -> Markup {
    let node = &detail.node;
    let status = wire_name(&node.status);
    let api = format!("/v1/node/{}", url_component(&node.id));
    html! {
        h1 { "Node " (node.name) }
        dl.facts {
            dt { "ID" } dd { code { (node.id) } }
            dt { "Datacenter" } dd { (node.datacenter) }
            dt { "Address" } dd { (node.address) }
            dt { "Status" } dd class=(format!("status-{status}")) { (status) }
            dt { "Eligible" } dd { (if node.eligible { "yes" } else { "no" }) }
            dt { "Draining" } dd { (if node.drain.is_some() { "yes" } else { "no" }) }
            dt { "CPU" } dd { (node.allocated.cpu) " of " (node.resources.cpu) " MHz" }
            dt { "Memory" } dd { (node.allocated.memory) " of " (node.resources.memory) " MB" }
        }
        @if may_write {
            div.actions {
                @if node.drain.is_some() {
                    button.secondary type="button" data-method="POST" data-path=(format!("{api}/drain"))
                        data-body="{\"enable\":false}" { "Stop draining" }
                } @else {
                    button.danger type="button" data-method="POST" data-path=(format!("{api}/drain"))
                        data-body="{\"enable\":true}" data-confirm=(format!("Drain node {}? Its allocations move elsewhere.", node.name))
                        { "Drain" }
                }
                @if node.eligible {
                    button.secondary type="button" data-method="POST" data-path=(format!("{api}/eligibility"))
                        data-body="{\"eligible\":false}" { "Make ineligible" }
                } @else {
                    button.secondary type="button" data-method="POST" data-path=(format!("{api}/eligibility"))
                        data-body="{\"eligible\":true}" { "Make eligible" }
                }
            }
        }
        h2 { "Allocations" }
        @if detail.allocation_list.is_empty() {
            p.muted { "none" }
        } @else {
            (table(&["ID", "Name", "Desired", "Status"], html! {
                @for a in &detail.allocation_list {
                    @let client = wire_name(&a.client_status);
                    tr {
                        td { (alloc_link(&a.id)) }
                        td { (a.name) }
                        td { (wire_name(&a.desired_status)) }
                        td class=(format!("status-{client}")) { (client) }
                    }
                }
            }))
        }
        h2 { "Events" }
        (table(&["Time", "Subsystem", "Message"], html! {
            @for e in detail.events.iter().rev() {
                tr {
                    td { (when(e.time)) }
                    td { (e.subsystem) }
                    td { (e.message) }
                }
            }
        }))
    }
}
