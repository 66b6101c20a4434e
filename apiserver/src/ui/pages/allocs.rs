//! One allocation: where it runs, each task's state and events, and the
//! end of each task's output.

use axum::extract::{Path, State};
use axum::response::Response;
use drover_api::views::AllocationView;
use maud::{html, Markup};

use crate::ui::layout::table;

use super::{url_component, when, wire_name, Viewer};
use crate::ui::calls::{CallError, Ui};

/// Lines of each task's output the page shows.
pub const TAIL_LINES: u32 = 200;
/// The most of a task's output the page holds.
const TAIL_BYTES: usize = 256 << 10;

/// One allocation as its page shows it.
pub struct AllocPage {
    pub alloc: AllocationView,
    /// Each task's output tail, by task name, or why it is not shown.
    pub logs: Vec<(String, Result<String, CallError>)>,
}

pub async fn alloc(State(ui): State<Ui>, viewer: Viewer, Path(id): Path<String>) -> Response {
    let token = viewer.token();
    let id_part = url_component(&id);
    let alloc = match ui
        .get::<AllocationView>(token, &format!("/v1/allocation/{id_part}"))
        .await
    {
        Ok(alloc) => alloc,
        Err(e) => return viewer.error(&e),
    };
    let mut logs = Vec::new();
    for task in alloc.task_states.keys() {
        let path = format!(
            "/v1/allocation/{}/logs/{}?tail={TAIL_LINES}&namespace={}",
            url_component(&alloc.id),
            url_component(task),
            url_component(&alloc.namespace)
        );
        logs.push((task.clone(), ui.text(token, &path, TAIL_BYTES).await));
    }
    let title = format!("Allocation {}", alloc.name);
    viewer.show(
        &title,
        "/ui/jobs",
        "alloc",
        render_alloc(&AllocPage { alloc, logs }),
    )
}

/// The allocation page (pure).
pub fn render_alloc(page: &AllocPage) -> Markup {
    let a = &page.alloc;
    let client = wire_name(&a.client_status);
    html! {
        h1 { "Allocation " (a.name) }
        dl.facts {
            dt { "ID" } dd { code { (a.id) } }
            dt { "Job" } dd {
                a href=(format!("/ui/job/{}/{}", url_component(&a.namespace), url_component(&a.job))) { (a.job) }
                " (version " (a.job_version) ")"
            }
            dt { "Node" } dd { (a.node_name.as_deref().unwrap_or("not placed")) }
            dt { "Desired" } dd { (wire_name(&a.desired_status)) }
            dt { "Status" } dd class=(format!("status-{client}")) { (client) }
            @if !a.client_description.is_empty() {
                dt { "Why" } dd { (a.client_description) }
            }
        }
        @for (task, state) in &a.task_states {
            @let run = wire_name(&state.state);
            section aria-label=(format!("Task {task}")) {
                h2 { "Task " (task) " " span class=(format!("status-{run}")) { "(" (run) @if state.failed { ", failed" } ")" } }
                p.muted { "Restarts: " (state.restarts) }
                (table(&["Time", "Type", "Description"], html! {
                            @for event in state.events.iter().rev() {
                                tr {
                                    td { (when(event.time)) }
                                    td { (event.event_type) }
                                    td { (event.message) }
                                }
                            }
                        }))
                @if let Some((_, logs)) = page.logs.iter().find(|(name, _)| name == task) {
                    h3 { "Output (last " (TAIL_LINES) " lines)" }
                    @match logs {
                        Ok(text) if text.is_empty() => p.muted { "nothing yet" },
                        Ok(text) => pre.logs tabindex="0" { (text) },
                        Err(e) => p.muted { "not shown: " (e.message) },
                    }
                }
            }
        }
    }
}
