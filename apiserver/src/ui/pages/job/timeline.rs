//! "What happened" to a job, on one time line, newest first: its versions,
//! its deployments (started, promoted, paused, ended, reverted), its
//! allocations placed, replaced, rescheduled, lost with their node, failed,
//! its tasks' failures and restarts, and what happened to the nodes it
//! lost or was moved off (missed heartbeats, drains) — each linked to its
//! object.
//!
//! Built from what the cluster keeps (versions, deployments, allocations
//! and their task events), so it reaches back as far as those are kept:
//! the garbage collector's thresholds bound it, and so does [`SHOWN`].
//! [`moments`] is pure; the page only reads and renders.

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::response::Response;
use chrono::{DateTime, Utc};
use drover_api::deployments::DeploymentView;
use drover_api::versions::{JobVersion, JobVersions};
use drover_api::views::{AllocationView, NodeDetail};
use drover_api_types::alloc::ClientStatus;
use drover_api_types::deployment::DeploymentState;
use maud::{html, Markup};

use super::super::{short_id, url_component, when, Viewer};
use super::{header, job_url};
use crate::ui::calls::Ui;

/// The most moments the page shows, newest first.
pub const SHOWN: usize = 300;
/// The most nodes whose events the page reads (those the job lost or was
/// moved off), so a job spread over a fleet costs a bounded number of reads.
pub const NODES_READ: usize = 10;

/// What kind of thing happened (the legend, and each row's colour).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Version,
    Deployment,
    Placement,
    Reschedule,
    Lost,
    Node,
    Failure,
    Restart,
}

impl Kind {
    pub fn label(self) -> &'static str {
        match self {
            Kind::Version => "version",
            Kind::Deployment => "deployment",
            Kind::Placement => "placement",
            Kind::Reschedule => "reschedule",
            Kind::Lost => "lost",
            Kind::Node => "node",
            Kind::Failure => "failure",
            Kind::Restart => "restart",
        }
    }
}

/// One thing that happened, and the page of what it happened to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moment {
    pub at: DateTime<Utc>,
    pub kind: Kind,
    pub text: String,
    pub link: String,
}

/// Everything the job's objects say happened, newest first, at most
/// [`SHOWN`] (pure). The second value: how many older ones were left out.
pub fn moments(
    versions: &[JobVersion],
    deployments: &[DeploymentView],
    allocs: &[AllocationView],
    nodes: &[NodeDetail],
) -> (Vec<Moment>, usize) {
    let mut out = Vec::new();
    for n in nodes {
        let link = format!("/ui/node/{}", url_component(&n.node.id));
        for e in &n.events {
            let Some(at) = e.time else { continue };
            out.push(Moment {
                at,
                kind: Kind::Node,
                text: format!("node {}: {}", n.node.name, e.message),
                link: link.clone(),
            });
        }
    }
    for v in versions {
        version_moments(v, &mut out);
    }
    for d in deployments {
        deployment_moments(d, &mut out);
    }
    let by_id: HashMap<&str, &AllocationView> = allocs.iter().map(|a| (a.id.as_str(), a)).collect();
    for a in allocs {
        alloc_moments(a, &by_id, &mut out);
    }
    // Newest first; at the same instant, in kind order, then by text, so a
    // refresh does not reshuffle rows.
    out.sort_by(|a, b| {
        b.at.cmp(&a.at)
            .then(a.kind.cmp(&b.kind))
            .then(a.text.cmp(&b.text))
    });
    let left_out = out.len().saturating_sub(SHOWN);
    out.truncate(SHOWN);
    (out, left_out)
}

fn version_moments(v: &JobVersion, out: &mut Vec<Moment>) {
    let meta = &v.job.metadata;
    let Some(at) = meta.submit_time else {
        return;
    };
    let link = format!("{}/versions", job_url(&meta.namespace, &meta.name));
    let stable = if v.stable {
        " (stable: its deployment succeeded)"
    } else {
        ""
    };
    let text = match v.job.spec.stop {
        true => format!("version {} registered: the job stopped{stable}", v.version),
        false => format!("version {} registered{stable}", v.version),
    };
    out.push(Moment {
        at,
        kind: Kind::Version,
        text,
        link,
    });
}

fn deployment_moments(d: &DeploymentView, out: &mut Vec<Moment>) {
    // The job's summary lists its deployments with their levers.
    let link = job_url(&d.metadata.namespace, &d.spec.job_id);
    let id = short_id(d.id());
    let version = d.spec.job_version;
    if let Some(at) = d.spec.created_at {
        let canaries: u64 = d.spec.groups.values().map(|g| g.desired_canaries).sum();
        let text = match canaries {
            0 => format!("deployment {id} of version {version} started"),
            n => format!("deployment {id} of version {version} started with {n} canaries"),
        };
        out.push(Moment {
            at,
            kind: Kind::Deployment,
            text,
            link: link.clone(),
        });
    }
    if let Some(admin) = &d.admin {
        if let Some(at) = admin.updated_at {
            let mut levers = Vec::new();
            if !admin.promote.is_empty() {
                levers.push(format!("promoted ({})", admin.promote.join(", ")));
            }
            if admin.paused {
                levers.push("paused".to_string());
            }
            if admin.fail {
                levers.push("failed by an operator".to_string());
            }
            if !levers.is_empty() {
                out.push(Moment {
                    at,
                    kind: Kind::Deployment,
                    text: format!("deployment {id}: {}", levers.join(", ")),
                    link: link.clone(),
                });
            }
        }
    }
    let ended = matches!(
        d.status.state,
        DeploymentState::Successful | DeploymentState::Failed | DeploymentState::Cancelled
    );
    if let (true, Some(at)) = (ended, d.status.updated_at) {
        let mut text = format!(
            "deployment {id} of version {version} {}",
            d.status.state.as_str()
        );
        if !d.status.description.is_empty() {
            text.push_str(": ");
            text.push_str(&d.status.description);
        }
        if let Some(to) = d.status.reverted_to {
            text.push_str(&format!("; the job reverted to version {to}"));
        }
        let kind = match d.status.state {
            DeploymentState::Failed => Kind::Failure,
            _ => Kind::Deployment,
        };
        out.push(Moment {
            at,
            kind,
            text,
            link,
        });
    }
}

/// The nodes whose events explain the job's story: those it lost an
/// allocation with or was moved off, at most [`NODES_READ`] (pure).
pub fn nodes_to_read(allocs: &[AllocationView]) -> Vec<String> {
    let mut ids: Vec<String> = allocs
        .iter()
        .filter(|a| a.client_status == ClientStatus::Lost || a.migrate)
        .filter_map(|a| a.node_id.clone())
        .collect();
    ids.sort();
    ids.dedup();
    ids.truncate(NODES_READ);
    ids
}

/// Why `a` exists, from what happened to the allocation it replaces.
fn replaced_because(a: &AllocationView, before: Option<&AllocationView>) -> (Kind, String) {
    let Some(previous) = &a.previous_allocation else {
        return (Kind::Placement, String::new());
    };
    let prev = short_id(previous);
    match before {
        Some(b) if b.client_status == ClientStatus::Lost => (
            Kind::Reschedule,
            format!(", rescheduled from {prev}, lost on {}", node_of(b)),
        ),
        Some(b) if b.client_status == ClientStatus::Failed => (
            Kind::Reschedule,
            format!(", rescheduled from {prev}, which failed on {}", node_of(b)),
        ),
        Some(b) if b.migrate => (
            Kind::Placement,
            format!(", moved from {prev} on {}", node_of(b)),
        ),
        Some(b) if b.job_version != a.job_version => (
            Kind::Placement,
            format!(", replacing {prev} of version {}", b.job_version),
        ),
        _ => (Kind::Placement, format!(", replacing {prev}")),
    }
}

fn node_of(a: &AllocationView) -> &str {
    a.node_name
        .as_deref()
        .or(a.node_id.as_deref())
        .unwrap_or("no node")
}

/// Task events worth a row: a task that ended badly, was restarted, or
/// could not start. Starts and ordinary stops are the allocations' rows.
fn task_event_kind(event_type: &str, exit_code: Option<i64>) -> Option<Kind> {
    match event_type {
        "Restarting" | "Restart Signaled" => Some(Kind::Restart),
        "Terminated" if exit_code.is_some_and(|c| c != 0) => Some(Kind::Failure),
        // "Killed" is a task stopped on purpose (a replacement, a stop).
        "Not Restarting" | "Driver Failure" | "Setup Failure" | "Failed Validation"
        | "OOM Killed" => Some(Kind::Failure),
        _ => None,
    }
}

fn alloc_moments(
    a: &AllocationView,
    by_id: &HashMap<&str, &AllocationView>,
    out: &mut Vec<Moment>,
) {
    let link = format!("/ui/alloc/{}", url_component(&a.id));
    let id = short_id(&a.id);
    let before = a
        .previous_allocation
        .as_deref()
        .and_then(|p| by_id.get(p).copied());
    let (kind, why) = replaced_because(a, before);
    let canary = if a.canary { " (canary)" } else { "" };
    match (a.placed_at.or(a.create_time), &a.node_id) {
        (Some(at), Some(_)) => out.push(Moment {
            at,
            kind,
            text: format!(
                "{} {id}{canary} of version {} placed on {}{why}",
                a.name,
                a.job_version,
                node_of(a)
            ),
            link: link.clone(),
        }),
        (Some(at), None) => out.push(Moment {
            at,
            kind,
            text: format!(
                "{} {id}{canary} of version {} created, waiting for a node{why}",
                a.name, a.job_version
            ),
            link: link.clone(),
        }),
        (None, _) => {}
    }
    let status_at = a.status_time.or(a.modify_time);
    match (a.client_status, status_at) {
        (ClientStatus::Lost, Some(at)) => out.push(Moment {
            at,
            kind: Kind::Lost,
            text: format!(
                "{} {id} lost with node {}{}",
                a.name,
                node_of(a),
                detail(&a.client_description)
            ),
            link: link.clone(),
        }),
        (ClientStatus::Failed, Some(at)) => out.push(Moment {
            at,
            kind: Kind::Failure,
            text: format!("{} {id} failed{}", a.name, detail(&a.client_description)),
            link: link.clone(),
        }),
        _ => {}
    }
    for (task, state) in &a.task_states {
        for event in &state.events {
            let (Some(kind), Some(at)) = (
                task_event_kind(&event.event_type, event.exit_code),
                event.time,
            ) else {
                continue;
            };
            let code = match event.exit_code {
                Some(c) if c != 0 => format!(" (exit code {c})"),
                _ => String::new(),
            };
            out.push(Moment {
                at,
                kind,
                text: format!(
                    "{} {id}, task {task}: {}{code}{}",
                    a.name,
                    event.event_type,
                    detail(&event.message)
                ),
                link: link.clone(),
            });
        }
    }
}

fn detail(text: &str) -> String {
    match text.trim() {
        "" => String::new(),
        t => format!(": {t}"),
    }
}

pub async fn timeline(
    State(ui): State<Ui>,
    viewer: Viewer,
    Path((namespace, name)): Path<(String, String)>,
) -> Response {
    let token = viewer.token();
    let (job, ns) = (url_component(&name), url_component(&namespace));
    let versions_path = format!("/v1/job/{job}/versions?namespace={ns}");
    let deployments_path = format!("/v1/job/{job}/deployments?namespace={ns}");
    let allocs_path = format!("/v1/allocations?namespace={ns}&job={job}");
    let versions = ui.get::<JobVersions>(token, &versions_path);
    let deployments = ui.get::<Vec<DeploymentView>>(token, &deployments_path);
    let allocs = ui.get::<Vec<AllocationView>>(token, &allocs_path);
    let (versions, deployments, allocs) = tokio::join!(versions, deployments, allocs);
    let (versions, deployments, allocs) = match (versions, deployments, allocs) {
        (Ok(v), Ok(d), Ok(a)) => (v.versions, d, a),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return viewer.error(&e),
    };
    let mut nodes = Vec::new();
    for id in nodes_to_read(&allocs) {
        // A node since removed has no events to add.
        let path = format!("/v1/node/{}", url_component(&id));
        if let Ok(detail) = ui.get::<NodeDetail>(token, &path).await {
            nodes.push(detail);
        }
    }
    let (list, left_out) = moments(&versions, &deployments, &allocs, &nodes);
    viewer.show(
        &format!("What happened to {name}"),
        "/ui/jobs",
        "timeline",
        render_timeline(&namespace, &name, &list, left_out),
    )
}

/// The time line (pure).
pub fn render_timeline(namespace: &str, name: &str, list: &[Moment], left_out: usize) -> Markup {
    html! {
        (header(namespace, name, "/timeline"))
        @if list.is_empty() {
            p.muted { "Nothing kept says anything happened to this job yet." }
        } @else {
            ol.timeline {
                @for m in list {
                    li class=(format!("moment {}", m.kind.label())) {
                        time datetime=(m.at.to_rfc3339()) { (when(Some(m.at))) }
                        span.kind { (m.kind.label()) }
                        a href=(m.link) { (m.text) }
                    }
                }
            }
            @if left_out > 0 {
                p.muted { (left_out) " older moments are not shown." }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use drover_api_types::alloc::{TaskEvent, TaskState};
    use drover_api_types::deployment::DeploymentStatus;
    use drover_api_types::Deployment;

    fn at(s: i64) -> Option<DateTime<Utc>> {
        DateTime::from_timestamp(1_800_000_000 + s, 0)
    }

    fn alloc(id: &str, version: u64, status: ClientStatus, placed: i64) -> AllocationView {
        let mut a: AllocationView = serde_json::from_value(serde_json::json!({
            "id": id, "name": "web.front[0]", "namespace": "default", "job": "web",
            "group": "front", "job_version": version, "node_id": "n1", "node_name": "node-1",
            "desired_status": "run", "client_status": "running", "healthy": null,
            "previous_allocation": null, "create_time": null, "modify_time": null, "index": 1
        }))
        .expect("view");
        a.client_status = status;
        a.placed_at = at(placed);
        a.create_time = at(placed - 1);
        a
    }

    fn version(v: u64, submitted: i64) -> JobVersion {
        let mut job = drover_api_types::mock::job("web", 1);
        job.metadata.version = v;
        job.metadata.submit_time = at(submitted);
        JobVersion {
            version: v,
            stable: v == 0,
            job,
            diff: None,
        }
    }

    #[test]
    fn a_lost_node_and_its_reschedule_read_in_order() {
        let mut lost = alloc("aaaaaaaa-1", 0, ClientStatus::Lost, 10);
        lost.status_time = at(100);
        lost.client_description = "node node-1 missed its heartbeats".into();
        let mut next = alloc("bbbbbbbb-2", 0, ClientStatus::Running, 105);
        next.node_name = Some("node-2".into());
        next.previous_allocation = Some("aaaaaaaa-1".into());
        let (list, left_out) = moments(&[version(0, 0)], &[], &[lost, next], &[]);
        assert_eq!(left_out, 0);
        let rows: Vec<(Kind, &str)> = list.iter().map(|m| (m.kind, m.text.as_str())).collect();
        assert_eq!(
            rows,
            vec![
                (
                    Kind::Reschedule,
                    "web.front[0] bbbbbbbb of version 0 placed on node-2, rescheduled from aaaaaaaa, lost on node-1"
                ),
                (
                    Kind::Lost,
                    "web.front[0] aaaaaaaa lost with node node-1: node node-1 missed its heartbeats"
                ),
                (Kind::Placement, "web.front[0] aaaaaaaa of version 0 placed on node-1"),
                (Kind::Version, "version 0 registered (stable: its deployment succeeded)"),
            ]
        );
        assert_eq!(list[0].link, "/ui/alloc/bbbbbbbb-2");
        assert_eq!(list[3].link, "/ui/job/default/web/versions");
    }

    #[test]
    fn the_nodes_read_are_those_the_job_lost_or_left_and_their_events_show() {
        let mut lost = alloc("aaaaaaaa-1", 0, ClientStatus::Lost, 10);
        lost.node_id = Some("n1".into());
        let mut moved = alloc("bbbbbbbb-2", 0, ClientStatus::Complete, 10);
        moved.node_id = Some("n2".into());
        moved.migrate = true;
        let fine = alloc("cccccccc-3", 0, ClientStatus::Running, 10);
        assert_eq!(
            nodes_to_read(&[lost, moved, fine.clone()]),
            vec!["n1", "n2"]
        );
        let many: Vec<AllocationView> = (0..NODES_READ + 5)
            .map(|i| {
                let mut a = alloc(&format!("{i:08}"), 0, ClientStatus::Lost, 1);
                a.node_id = Some(format!("n{i:03}"));
                a
            })
            .collect();
        assert_eq!(nodes_to_read(&many).len(), NODES_READ);

        let detail = NodeDetail {
            node: node_view(),
            attributes: Default::default(),
            meta: Default::default(),
            host_volumes: Default::default(),
            events: vec![drover_api_types::node::NodeEvent {
                time: at(50),
                subsystem: "Cluster".into(),
                message: "Node heartbeat missed".into(),
            }],
            allocation_list: Vec::new(),
        };
        let (list, _) = moments(&[], &[], &[fine], &[detail]);
        assert_eq!(list[0].kind, Kind::Node);
        assert_eq!(list[0].text, "node node-1: Node heartbeat missed");
        assert_eq!(list[0].link, "/ui/node/n1");
    }

    fn node_view() -> drover_api::views::NodeView {
        serde_json::from_value(serde_json::json!({
            "id": "n1", "name": "node-1", "datacenter": "dc1", "node_class": "", "node_pool": "default",
            "address": "", "http_addr": "", "http_tls": false, "status": "down",
            "status_description": "", "eligible": true, "drain": null, "drivers": {},
            "resources": {"cpu": 0, "memory": 0, "memory_max": 0},
            "allocated": {"cpu": 0, "memory": 0, "memory_max": 0},
            "allocations": 0, "agent_version": "", "heartbeat": false,
            "last_transition": null, "create_time": null, "index": 1
        }))
        .expect("node view")
    }

    #[test]
    fn task_failures_and_restarts_show_ordinary_events_do_not() {
        let mut a = alloc("cccccccc-3", 1, ClientStatus::Running, 5);
        let event = |t: &str, s: i64, code: Option<i64>| TaskEvent {
            event_type: t.into(),
            time: at(s),
            message: String::new(),
            exit_code: code,
        };
        a.task_states.insert(
            "app".into(),
            TaskState {
                events: vec![
                    event("Started", 6, None),
                    event("Killed", 6, None),
                    event("Terminated", 7, Some(0)),
                    event("Terminated", 8, Some(3)),
                    event("Restarting", 9, None),
                ],
                ..Default::default()
            },
        );
        let (list, _) = moments(&[], &[], &[a], &[]);
        let kinds: Vec<Kind> = list.iter().map(|m| m.kind).collect();
        assert_eq!(kinds, vec![Kind::Restart, Kind::Failure, Kind::Placement]);
        assert!(list[1].text.contains("(exit code 3)"), "{}", list[1].text);
    }

    #[test]
    fn a_failed_deployment_says_why_and_where_it_reverted() {
        let mut d = Deployment::default();
        d.metadata.uid = "dddddddd-4".into();
        d.metadata.name = "dddddddd-4".into();
        d.spec.job_version = 2;
        d.spec.created_at = at(20);
        d.status = DeploymentStatus {
            state: DeploymentState::Failed,
            description: "allocation unhealthy".into(),
            reverted_to: Some(1),
            updated_at: at(40),
            ..Default::default()
        };
        let view = DeploymentView::new(d, None);
        let (list, _) = moments(&[], &[view], &[], &[]);
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].kind, Kind::Failure);
        assert_eq!(
            list[0].text,
            "deployment dddddddd of version 2 failed: allocation unhealthy; the job reverted to version 1"
        );
        assert_eq!(list[1].text, "deployment dddddddd of version 2 started");
    }

    #[test]
    fn the_newest_are_kept_and_the_rest_counted() {
        let allocs: Vec<AllocationView> = (0..SHOWN as i64 + 7)
            .map(|i| alloc(&format!("{i:08}-x"), 0, ClientStatus::Running, i))
            .collect();
        let (list, left_out) = moments(&[], &[], &allocs, &[]);
        assert_eq!((list.len(), left_out), (SHOWN, 7));
        assert!(list.windows(2).all(|w| w[0].at >= w[1].at));
        assert!(render_timeline("default", "web", &list, left_out)
            .into_string()
            .contains("7 older moments"));
    }
}
