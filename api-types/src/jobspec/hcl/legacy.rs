//! Nomad 0.x and early 1.x syntax still found in job files, mapped onto the
//! current model with a deprecation warning each:
//!
//! - task `resources { network { … } }` → the group `network` (ports merged,
//!   mode host), and for docker the task's `config.ports` lists those ports
//!   unless it names its own, since 0.x published every task port;
//! - docker `config { port_map { http = 80 } }` → `to = 80` on the group
//!   network port `http`;
//! - group `max_client_disconnect` / `stop_after_client_disconnect` →
//!   `disconnect { lost_after / stop_on_client_after }`.

use std::ops::Range;

use crate::group::{Disconnect, Network, TaskGroup};
use crate::task::Task;

use super::body::{Decoder, Reader};
use super::config::PortMap;

/// The 0.x parts of one task, applied once the whole group is read.
#[derive(Debug, Default)]
pub(super) struct LegacyTask {
    pub port_map: Option<PortMap>,
    /// The task-level network, where it was written, and the resources path.
    pub network: Option<(Network, Option<Range<usize>>, String)>,
}

pub(super) fn apply(
    d: &mut Decoder,
    group: &mut TaskGroup,
    task: &mut Task,
    legacy: LegacyTask,
    task_path: &str,
) {
    if let Some((network, span, path)) = legacy.network {
        let message = "\"network\" inside \"resources\" is deprecated (Nomad 0.x): its ports were moved to the group network";
        d.warn(span.clone(), &path, message);
        if task.driver == "docker" && !task.config.contains_key("ports") {
            let labels = network
                .ports
                .iter()
                .map(|p| serde_json::Value::String(p.label.clone()));
            task.config
                .insert("ports".into(), serde_json::Value::Array(labels.collect()));
        }
        merge_network(d, group, network, span, &path);
    }
    if let Some(port_map) = legacy.port_map {
        map_ports(d, group, port_map, &format!("{task_path} config"));
    }
}

fn merge_network(
    d: &mut Decoder,
    group: &mut TaskGroup,
    network: Network,
    span: Option<Range<usize>>,
    path: &str,
) {
    let target = group.network.get_or_insert_with(Network::default);
    if target.mbits.is_none() {
        target.mbits = network.mbits;
    }
    for port in network.ports {
        if target.ports.iter().any(|p| p.label == port.label) {
            let message = format!(
                "port {:?} is already declared by the group network or another task",
                port.label
            );
            d.error(span.clone(), path, message);
        } else {
            target.ports.push(port);
        }
    }
}

fn map_ports(d: &mut Decoder, group: &mut TaskGroup, port_map: PortMap, path: &str) {
    let mut mapped = Vec::new();
    for (label, to) in port_map.entries {
        let port = group
            .network
            .as_mut()
            .and_then(|n| n.ports.iter_mut().find(|p| p.label == label));
        match port {
            Some(port) => {
                port.to = Some(to);
                mapped.push(format!("port {label:?} {{ to = {to} }}"));
            }
            None => {
                let message = format!(
                    "port_map entry {label:?} matches no port of the group network and is ignored"
                );
                d.warn(port_map.span.clone(), path, message);
            }
        }
    }
    if !mapped.is_empty() {
        let message = format!(
            "\"port_map\" is deprecated (Nomad 0.x): mapped to the group network as {}",
            mapped.join(", ")
        );
        d.warn(port_map.span, path, message);
    }
}

/// Maps the group's legacy disconnect attributes onto `disconnect`.
pub(super) fn disconnect(d: &mut Decoder, r: &Reader, group: &mut TaskGroup) {
    let lost_after = r.duration(d, "max_client_disconnect");
    let stop_after = r.duration(d, "stop_after_client_disconnect");
    let legacy = [
        ("max_client_disconnect", "lost_after", lost_after),
        (
            "stop_after_client_disconnect",
            "stop_on_client_after",
            stop_after,
        ),
    ];
    for (name, field, value) in legacy {
        let Some(value) = value else { continue };
        let span = r.span_of(name);
        if r.has("disconnect") {
            let message = format!("\"{name}\" cannot be combined with a disconnect block: use disconnect {{ {field} = \"{value}\" }}");
            d.error(span, &r.path, message);
            continue;
        }
        let message =
            format!("\"{name}\" is deprecated: use disconnect {{ {field} = \"{value}\" }}");
        d.warn(span, &r.path, message);
        let target = group.disconnect.get_or_insert_with(Disconnect::default);
        if name == "max_client_disconnect" {
            target.lost_after = Some(value);
        } else {
            target.stop_on_client_after = Some(value);
        }
    }
}
