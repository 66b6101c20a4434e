//! One allocation: where it runs, each task's state and events, its CPU
//! and memory over the last minutes ([`super::usage`]), its output as it
//! is written (stdout or stderr, followed, searchable within the page), a
//! command run in a task with its output streamed, restart (the whole
//! allocation or one task, in place) and stop.
//!
//! The output, command and usage panels are kept when the page refreshes
//! itself (`data-keep`): the stream they hold stays open, and the usage
//! panel fetches itself again every 10 s.

use axum::extract::{Path, State};
use axum::response::Response;
use drover_api::views::AllocationView;
use drover_api_types::acl::Capability;
use drover_api_types::alloc::DesiredStatus;
use maud::{html, Markup};

use crate::ui::layout::table;

use super::parts::output_panel;
use super::usage::{self, Usage};
use super::{node_link, url_component, when, wire_name, Viewer};
use crate::ui::calls::Ui;

/// One allocation as its page shows it.
pub struct AllocPage {
    pub alloc: AllocationView,
    pub may: AllocActions,
    /// CPU and memory, while it runs (`None`: no panel).
    pub usage: Option<Usage>,
}

/// What the visitor may do with the allocation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AllocActions {
    pub read_logs: bool,
    pub exec: bool,
    /// Stop and restart (`alloc-lifecycle`).
    pub stop: bool,
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
    let runs = is_running(&alloc);
    let (caller, usage) = tokio::join!(ui.caller(token), async {
        match runs {
            true => Some(usage::fetch(&ui, token, &alloc.namespace, &alloc.id).await),
            false => None,
        }
    });
    let may_do = |capability| {
        caller
            .as_ref()
            .is_ok_and(|c| c.may(&alloc.namespace, capability))
    };
    let may = AllocActions {
        read_logs: may_do(Capability::ReadLogs),
        exec: may_do(Capability::AllocExec),
        stop: may_do(Capability::AllocLifecycle),
    };
    let title = format!("Allocation {}", alloc.name);
    viewer.show(
        &title,
        "/ui/jobs",
        "alloc",
        render_alloc(&AllocPage { alloc, may, usage }),
    )
}

/// Whether the allocation should run and does: what a restart, exec and
/// the usage panel need.
fn is_running(a: &AllocationView) -> bool {
    a.desired_status == DesiredStatus::Run && wire_name(&a.client_status) == "running"
}

/// The allocation page (pure).
pub fn render_alloc(page: &AllocPage) -> Markup {
    let a = &page.alloc;
    let client = wire_name(&a.client_status);
    let running = is_running(a);
    let restart_path = format!(
        "/v1/client/allocation/{}/restart?namespace={}",
        url_component(&a.id),
        url_component(&a.namespace)
    );
    html! {
        h1 { "Allocation " (a.name) }
        dl.facts {
            dt { "ID" } dd { code { (a.id) } }
            dt { "Job" } dd {
                a href=(format!("/ui/job/{}/{}", url_component(&a.namespace), url_component(&a.job))) { (a.job) }
                " (version " (a.job_version) ")"
            }
            dt { "Node" } dd {
                @match (&a.node_id, &a.node_name) {
                    (Some(id), Some(name)) => (node_link(id, name)),
                    _ => "not placed",
                }
            }
            dt { "Desired" } dd { (wire_name(&a.desired_status)) }
            dt { "Status" } dd class=(format!("status-{client}")) { (client) }
            @if !a.client_description.is_empty() {
                dt { "Why" } dd { (a.client_description) }
            }
            @if let Some(previous) = &a.previous_allocation {
                dt { "Replaces" } dd { (super::alloc_link(previous)) }
            }
        }
        @if page.may.stop && a.desired_status == DesiredStatus::Run {
            div.actions {
                @if running {
                    button.secondary type="button" data-method="POST"
                        data-path=(restart_path)
                        data-confirm="Restart every running task of this allocation where it runs? Its restart policy does not count this."
                        { "Restart" }
                }
                button.danger type="button" data-method="POST"
                    data-path=(format!("/v1/allocation/{}/stop?namespace={}", url_component(&a.id), url_component(&a.namespace)))
                    data-confirm="Stop this allocation? Its job places a replacement."
                    { "Stop allocation" }
            }
        }
        @if let Some(usage) = &page.usage {
            section.usage aria-label="Resource usage" id=(format!("usage-{}", super::short_id(&a.id))) data-keep
                data-src=(format!("/ui/alloc-usage/{}/{}", url_component(&a.namespace), url_component(&a.id))) {
                h2 { "Resource usage" }
                div.usage-body { (usage::render_usage(usage)) }
            }
        }
        @for (task, state) in &a.task_states {
            @let run = wire_name(&state.state);
            section aria-label=(format!("Task {task}")) {
                h2 { "Task " (task) " " span class=(format!("status-{run}")) { "(" (run) @if state.failed { ", failed" } ")" } }
                p.muted { "Restarts: " (state.restarts) }
                @if page.may.stop && running && run == "running" {
                    div.actions {
                        button.secondary type="button" data-method="POST"
                            data-path=(restart_path)
                            data-body=(serde_json::json!({"TaskName": task}).to_string())
                            data-confirm=(format!("Restart task {task} where it runs? Its restart policy does not count this."))
                            { "Restart task" }
                    }
                }
                (table(&["Time", "Type", "Description"], html! {
                            @for event in state.events.iter().rev() {
                                tr {
                                    td { (when(event.time)) }
                                    td { (event.event_type) }
                                    td { (event.message) }
                                }
                            }
                        }))
                @if page.may.read_logs {
                    (log_panel(&a.id, task))
                } @else {
                    p.muted { "Output not shown: the token lacks read-logs." }
                }
                @if page.may.exec && running {
                    (exec_panel(&a.id, task))
                }
            }
        }
    }
}

/// A task's output, from `/ui/logs/…`.
fn log_panel(alloc: &str, task: &str) -> Markup {
    output_panel(
        &format!("logs-{}-{task}", super::short_id(alloc)),
        &format!("/ui/logs/{}/{}", url_component(alloc), url_component(task)),
        &format!("Output of {task}"),
    )
}

/// A command run in the task (`/bin/sh -c`), its output streamed.
fn exec_panel(alloc: &str, task: &str) -> Markup {
    let id = format!("exec-{}-{task}", super::short_id(alloc));
    html! {
        div.exec-panel id=(id) data-keep {
            h3 { "Run a command in " (task) }
            form.exec data-src=(format!("/ui/exec/{}?task={}", url_component(alloc), url_component(task))) {
                label for=(format!("{id}-command")) { "Command (run by " code { "/bin/sh -c" } ")" }
                div.controls {
                    input id=(format!("{id}-command")) name="command" type="text" autocomplete="off" spellcheck="false" required;
                    button type="submit" { "Run" }
                }
            }
            pre.logs.exec-output tabindex="0" aria-label=(format!("Command output in {task}")) {}
            form.exec-stdin hidden {
                label for=(format!("{id}-stdin")) { "Input" }
                div.controls {
                    input id=(format!("{id}-stdin")) name="stdin" type="text" autocomplete="off";
                    button.secondary type="submit" { "Send" }
                }
            }
        }
    }
}
