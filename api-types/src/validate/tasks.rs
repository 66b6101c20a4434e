//! Tasks: their driver and its config, lifecycle, templates, artifacts,
//! volume mounts and signals; and the group-level rules about tasks (at least
//! one main task, at most one leader) and volumes.

use crate::diagnostic::suggestion_suffix;
use crate::group::TaskGroup;
use crate::task::{Task, Template};

use super::names::{defined_suffix, duplicate_names};
use super::network::Ports;
use super::{indexed, quoted_list, resources, Report};

/// The drivers drover's agent runs.
pub const SUPPORTED_DRIVERS: [&str; 1] = ["docker"];

/// Nomad task drivers (built-in and common plugins) that drover does not run
/// yet: accepted with a warning, since a future agent may run them.
const OTHER_NOMAD_DRIVERS: [&str; 17] = [
    "exec",
    "exec2",
    "raw_exec",
    "java",
    "qemu",
    "podman",
    "containerd-driver",
    "lxc",
    "nspawn",
    "singularity",
    "pot",
    "rkt",
    "virt",
    "firecracker-task-driver",
    "jail-task-driver",
    "iis",
    "ecs",
];

const HOOKS: [&str; 3] = ["prestart", "poststart", "poststop"];
const CHANGE_MODES: [&str; 4] = ["noop", "restart", "signal", "script"];
const ARTIFACT_MODES: [&str; 4] = ["", "any", "file", "dir"];
const VOLUME_TYPES: [&str; 2] = ["host", "csi"];
const PROPAGATION_MODES: [&str; 4] = ["", "private", "host-to-task", "bidirectional"];
const CSI_ACCESS_MODES: [&str; 6] = [
    "",
    "single-node-reader-only",
    "single-node-writer",
    "multi-node-reader-only",
    "multi-node-single-writer",
    "multi-node-multi-writer",
];
const CSI_ATTACHMENT_MODES: [&str; 3] = ["", "file-system", "block-device"];

/// Group-level rules about the set of tasks.
pub(super) fn validate_group_tasks(report: &mut Report, path: &str, group: &TaskGroup) {
    if group.tasks.is_empty() {
        report.error(path, "the group has no task; add at least one task");
        return;
    }
    duplicate_names(
        report,
        path,
        "task",
        group.tasks.iter().map(|t| t.name.as_str()),
    );
    let leaders: Vec<&str> = group
        .tasks
        .iter()
        .filter(|t| t.leader)
        .map(|t| t.name.as_str())
        .collect();
    if leaders.len() > 1 {
        report.error(
            path,
            format!(
                "more than one task is marked leader ({}); mark at most one",
                quoted_list(leaders)
            ),
        );
    }
    if group.tasks.iter().all(|t| t.lifecycle.is_some()) {
        report.error(
            path,
            "every task has a lifecycle block, so the group has no main task; remove lifecycle from at least one task",
        );
    }
}

pub(super) fn validate_group_volumes(report: &mut Report, group_path: &str, group: &TaskGroup) {
    for (name, volume) in &group.volumes {
        let path = format!("{group_path} volume {name:?}");
        if let Some(problem) = super::names::group_name_problem(name) {
            report.error(&path, format!("volume name {name:?} {problem}"));
        }
        report.one_of(&path, "type", &volume.volume_type, &VOLUME_TYPES);
        if volume.source.trim().is_empty() {
            report.error(
                &path,
                "source is empty; name the host volume or CSI volume to mount",
            );
        }
        if volume.volume_type == "csi" {
            report.one_of(&path, "access_mode", &volume.access_mode, &CSI_ACCESS_MODES);
            let mode = &volume.attachment_mode;
            report.one_of(&path, "attachment_mode", mode, &CSI_ATTACHMENT_MODES);
        }
    }
}

pub(super) fn validate_task(
    report: &mut Report,
    path: &str,
    group: &TaskGroup,
    ports: &Ports,
    task: &Task,
) {
    validate_driver(report, path, &task.driver);
    if task.driver == "docker" {
        validate_docker_config(report, &format!("{path} config"), task, ports);
    }
    let disk = group.ephemeral_disk.as_ref().map(|d| d.size);
    resources::validate_task_logs(report, path, task, disk);
    if let Some(lifecycle) = &task.lifecycle {
        let lifecycle_path = format!("{path} lifecycle");
        report.one_of(&lifecycle_path, "hook", &lifecycle.hook, &HOOKS);
        if lifecycle.sidecar && lifecycle.hook == "poststop" {
            report.error(
                &lifecycle_path,
                "sidecar is only valid with the prestart or poststart hook; remove sidecar or change hook",
            );
        }
    }
    for (index, template) in task.templates.iter().enumerate() {
        validate_template(report, &indexed(path, "template", index), template);
    }
    for (index, artifact) in task.artifacts.iter().enumerate() {
        let artifact_path = indexed(path, "artifact", index);
        if artifact.source.trim().is_empty() {
            report.error(&artifact_path, "source is empty; set the URL to fetch");
        }
        report.one_of(&artifact_path, "mode", &artifact.mode, &ARTIFACT_MODES);
    }
    validate_volume_mounts(report, path, group, task);
    if !task.kill_signal.is_empty() && !is_signal_name(&task.kill_signal) {
        report.error(path, signal_problem("kill_signal", &task.kill_signal));
    }
}

fn validate_driver(report: &mut Report, path: &str, driver: &str) {
    if driver.trim().is_empty() {
        report.error(path, "driver is empty; set driver to \"docker\"");
    } else if OTHER_NOMAD_DRIVERS.contains(&driver) {
        report.warning(
            path,
            format!(
                "driver {driver:?} is not supported by drover yet (it runs {}); no node will run this task",
                quoted_list(SUPPORTED_DRIVERS)
            ),
        );
    } else if !SUPPORTED_DRIVERS.contains(&driver) {
        let known = SUPPORTED_DRIVERS.iter().chain(OTHER_NOMAD_DRIVERS.iter());
        report.error(
            path,
            format!(
                "driver {driver:?} is not a known task driver{}; drover runs {}",
                suggestion_suffix(driver, known.copied()),
                quoted_list(SUPPORTED_DRIVERS)
            ),
        );
    }
}

fn validate_docker_config(report: &mut Report, path: &str, task: &Task, ports: &Ports) {
    match task.config.get("image") {
        None => report.error(
            path,
            "docker tasks need an image; set config.image, e.g. \"nginx:1.25\"",
        ),
        Some(serde_json::Value::String(image)) if !image.trim().is_empty() => {}
        Some(_) => report.error(
            path,
            "image must be a non-empty string, e.g. \"nginx:1.25\"",
        ),
    }
    match task.config.get("ports") {
        None => {}
        Some(serde_json::Value::Array(labels)) => {
            for label in labels {
                match label.as_str() {
                    Some(label) => ports.check_reference(report, path, label, " in ports"),
                    None => report.error(
                        path,
                        format!("ports must list port labels (strings); {label} is not one"),
                    ),
                }
            }
        }
        Some(_) => report.error(
            path,
            "ports must be a list of port labels of the group network, e.g. [\"http\"]",
        ),
    }
    match task.config.get("volumes") {
        None => {}
        Some(serde_json::Value::Array(entries)) => {
            for entry in entries {
                match entry.as_str() {
                    Some(entry) => {
                        if let Err(e) = crate::docker::parse_volume(entry) {
                            report.error(path, e);
                        }
                    }
                    None => report.error(
                        path,
                        format!("volumes must list \"/host:/container[:options]\" strings; {entry} is not one"),
                    ),
                }
            }
        }
        Some(_) => report.error(
            path,
            "volumes must be a list of \"/host:/container[:options]\" strings",
        ),
    }
    if let Some(serde_json::Value::Array(mounts)) = task.config.get("mount") {
        for (index, mount) in mounts.iter().enumerate() {
            let mount_path = indexed(path, "mount", index);
            let kind = mount.get("type").and_then(serde_json::Value::as_str);
            if !matches!(kind, None | Some("bind")) {
                report.warning(
                    &mount_path,
                    format!(
                        "type {:?} is not applied: drover's agent mounts every mount block as a bind mount of source",
                        kind.unwrap_or_default()
                    ),
                );
            }
            let propagation = crate::docker::bind_propagation(mount);
            if let Some(p) = propagation {
                report.one_of(
                    &mount_path,
                    "bind_options.propagation",
                    p,
                    &crate::docker::PROPAGATIONS,
                );
            }
        }
    }
    if task
        .config
        .get("pid_mode")
        .and_then(serde_json::Value::as_str)
        .is_some_and(|m| m != "host" && !m.is_empty())
    {
        report.error(
            path,
            "pid_mode must be \"host\" (or left out for the container's own PID namespace)",
        );
    }
    if let Some(mode) = task.config.get("ipc_mode") {
        let known = ["", "host", "private", "shareable", "none"];
        if !mode.as_str().is_some_and(|m| known.contains(&m)) {
            report.error(
                path,
                "ipc_mode must be \"host\", \"private\", \"shareable\" or \"none\"",
            );
        }
    }
    if let Some(devices) = task.config.get("devices") {
        if let Err(why) = crate::docker::parse_devices(devices) {
            report.error(path, format!("devices: {why}"));
        }
    }
    if task.config.get("runtime").is_some_and(|r| !r.is_string()) {
        report.error(path, "runtime must be a runtime's name (e.g. \"runsc\")");
    }
    for key in task.config.keys() {
        if !crate::docker::APPLIED_CONFIG_KEYS.contains(&key.as_str()) {
            report.warning(
                path,
                format!(
                    "{key} is not applied by drover's agent; it is ignored (docs/agent.md lists the docker config keys drover applies)"
                ),
            );
        }
    }
}

fn validate_template(report: &mut Report, path: &str, template: &Template) {
    if template.destination.trim().is_empty() {
        report.error(
            path,
            "destination is empty; set the file to render to, e.g. \"local/config.yml\"",
        );
    }
    match (template.source.is_empty(), template.data.is_empty()) {
        (false, false) => report.error(
            path,
            "set either source or data, not both; keep source (a file) or data (inline text)",
        ),
        (true, true) => report.error(
            path,
            "set source (a template file) or data (the template text)",
        ),
        _ => {}
    }
    if !template.data.is_empty() {
        let text = &template.data;
        let (left, right) = (&template.left_delimiter, &template.right_delimiter);
        if let Err(e) = crate::template::check(text, left, right) {
            report.warning(
                path,
                format!("data, {e}; the task will fail on its node until this is changed"),
            );
        }
    }
    report.one_of(path, "change_mode", &template.change_mode, &CHANGE_MODES);
    if template.change_mode == "signal" && template.change_signal.is_empty() {
        report.error(
            path,
            "change_mode \"signal\" needs change_signal, e.g. \"SIGHUP\"",
        );
    }
    if !template.change_signal.is_empty() && !is_signal_name(&template.change_signal) {
        report.error(
            path,
            signal_problem("change_signal", &template.change_signal),
        );
    }
    let perms_ok = !template.perms.is_empty() && u32::from_str_radix(&template.perms, 8).is_ok();
    if !perms_ok {
        report.error(
            path,
            format!(
                "perms {:?} is not an octal file mode; write e.g. \"0644\"",
                template.perms
            ),
        );
    }
}

fn validate_volume_mounts(report: &mut Report, path: &str, group: &TaskGroup, task: &Task) {
    let defined: Vec<&str> = group.volumes.keys().map(String::as_str).collect();
    for (index, mount) in task.volume_mounts.iter().enumerate() {
        let mount_path = indexed(path, "volume_mount", index);
        if mount.volume.trim().is_empty() {
            report.error(&mount_path, "volume is empty; name a volume of the group");
        } else if !defined.contains(&mount.volume.as_str()) {
            report.error(
                &mount_path,
                format!(
                    "volume {:?} is not defined in the group {}",
                    mount.volume,
                    defined_suffix(&defined, "it defines no volumes")
                ),
            );
        }
        if mount.destination.trim().is_empty() {
            report.error(
                &mount_path,
                "destination is empty; set the path inside the task, e.g. \"/data\"",
            );
        }
        let mode = &mount.propagation_mode;
        report.one_of(&mount_path, "propagation_mode", mode, &PROPAGATION_MODES);
    }
}

/// `SIGTERM`, `SIGRTMIN+1`: SIG followed by capitals, digits or `+`.
fn is_signal_name(signal: &str) -> bool {
    signal.strip_prefix("SIG").is_some_and(|rest| {
        !rest.is_empty()
            && rest
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '+')
    })
}

fn signal_problem(field: &str, signal: &str) -> String {
    let upper = signal.to_ascii_uppercase();
    let hint = if is_signal_name(&upper) {
        upper
    } else if is_signal_name(&format!("SIG{upper}")) {
        format!("SIG{upper}")
    } else {
        "SIGTERM".to_string()
    };
    format!("{field} {signal:?} is not a signal name; write e.g. {hint:?}")
}

#[cfg(test)]
mod tests;
