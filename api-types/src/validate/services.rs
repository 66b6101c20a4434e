//! Services (group or task level) and their health checks.

use std::collections::BTreeSet;

use crate::duration::Duration;
use crate::group::{Check, Service};

use super::names::{defined_suffix, duplicates};
use super::network::Ports;
use super::{child, not_one_of, Report};

const PROVIDERS: [&str; 2] = ["consul", "nomad"];
const ADDRESS_MODES: [&str; 4] = ["auto", "host", "driver", "alloc"];
const CHECK_ADDRESS_MODES: [&str; 4] = ["", "host", "driver", "alloc"];
const ON_UPDATE: [&str; 4] = ["", "require_healthy", "ignore_warnings", "ignore"];
const CHECK_TYPES: [&str; 4] = ["http", "tcp", "script", "grpc"];
const INITIAL_STATUSES: [&str; 4] = ["", "passing", "warning", "critical"];
const PROTOCOLS: [&str; 3] = ["", "http", "https"];
const HTTP_METHODS: [&str; 9] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
];
const MIN_CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// Who declares the services: a group (which knows its tasks' names, for
/// `task` references) or a task.
#[derive(Debug, Clone, Copy)]
pub(super) enum Owner<'a> {
    Group(&'a [&'a str]),
    Task,
}

pub(super) fn validate_services(
    report: &mut Report,
    path: &str,
    services: &[Service],
    ports: &Ports,
    owner: Owner,
) {
    let mut seen = BTreeSet::new();
    for service in services {
        if !service.name.is_empty() && !seen.insert((&service.name, &service.port)) {
            report.error(
                path,
                format!(
                    "service {:?} with port {:?} is defined more than once; give each service a unique name",
                    service.name, service.port
                ),
            );
        }
    }
    for (index, service) in services.iter().enumerate() {
        let service_path = child(path, "service", &service.name, index);
        validate_service(report, &service_path, service, ports, owner);
    }
}

fn validate_service(
    report: &mut Report,
    path: &str,
    service: &Service,
    ports: &Ports,
    owner: Owner,
) {
    if service.name.is_empty() {
        report.error(path, "name is empty; name the service, e.g. \"web\"");
    } else if !is_service_name(&service.name) {
        report.error(
            path,
            format!(
                "name {:?} is not a valid service name; use letters, digits and '-' (at most 63, not starting or ending with '-'), or ${{...}} interpolation",
                service.name
            ),
        );
    }
    ports.check_reference(report, path, &service.port, "");
    report.one_of(path, "provider", &service.provider, &PROVIDERS);
    report.one_of(path, "address_mode", &service.address_mode, &ADDRESS_MODES);
    report.one_of(path, "on_update", &service.on_update, &ON_UPDATE);
    if let (Owner::Group(tasks), false) = (owner, service.task.is_empty()) {
        check_task_reference(report, path, &service.task, tasks);
    }
    for name in duplicates(service.checks.iter().map(|c| c.name.as_str())) {
        report.error(
            path,
            format!("check name {name:?} is used more than once; give each check its own name"),
        );
    }
    for (index, check) in service.checks.iter().enumerate() {
        let check_path = child(path, "check", &check.name, index);
        validate_check(report, &check_path, service, check, ports, owner);
    }
}

fn check_task_reference(report: &mut Report, path: &str, task: &str, tasks: &[&str]) {
    if !tasks.contains(&task) {
        report.error(
            path,
            format!(
                "task {task:?} is not a task of this group {}",
                defined_suffix(tasks, "it has no tasks")
            ),
        );
    }
}

/// RFC 1123 labels, after replacing `${...}` with a placeholder as Nomad does.
fn is_service_name(name: &str) -> bool {
    let stripped = strip_interpolation(name);
    let bytes = stripped.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
        && bytes.first() != Some(&b'-')
        && bytes.last() != Some(&b'-')
}

fn strip_interpolation(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        match rest[start..].find('}') {
            Some(end) => {
                out.push_str("ENV-VAR");
                rest = &rest[start + end + 1..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

fn validate_check(
    report: &mut Report,
    path: &str,
    service: &Service,
    check: &Check,
    ports: &Ports,
    owner: Owner,
) {
    let kind = check.check_type.as_str();
    report.one_of(path, "type", kind, &CHECK_TYPES);
    match kind {
        "http" if check.path.is_empty() => {
            report.error(path, "http checks need a path; set path, e.g. \"/health\"")
        }
        "script" if check.command.is_empty() => {
            report.error(path, "script checks need a command; set command")
        }
        _ => {}
    }
    validate_check_timing(report, path, check);
    report.one_of(
        path,
        "initial_status",
        &check.initial_status,
        &INITIAL_STATUSES,
    );
    report.one_of(path, "protocol", &check.protocol, &PROTOCOLS);
    report.one_of(
        path,
        "address_mode",
        &check.address_mode,
        &CHECK_ADDRESS_MODES,
    );
    report.one_of(path, "on_update", &check.on_update, &ON_UPDATE);
    if !check.method.is_empty() && !HTTP_METHODS.contains(&check.method.as_str()) {
        report.error(path, method_problem(&check.method));
    }
    ports.check_reference(report, path, &check.port, "");
    let needs_port = matches!(kind, "http" | "tcp" | "grpc") && check.address_mode != "driver";
    if needs_port && check.port.is_empty() && service.port.is_empty() {
        report.error(
            path,
            format!("{kind} checks need a port; set port on the check or on the service"),
        );
    }
    if let Owner::Group(tasks) = owner {
        if !check.task.is_empty() {
            check_task_reference(report, path, &check.task, tasks);
        } else if kind == "script" && service.task.is_empty() {
            report.error(
                path,
                "script checks in a group service need a task to run in; set task on the check or the service",
            );
        }
    }
    validate_check_counts(report, path, check);
}

fn validate_check_timing(report: &mut Report, path: &str, check: &Check) {
    if check.interval.is_zero() {
        report.error(path, "interval is not set; set interval, e.g. \"10s\"");
    } else if check.interval < MIN_CHECK_INTERVAL {
        report.error(
            path,
            format!(
                "interval {} is too short; use at least {MIN_CHECK_INTERVAL}",
                check.interval
            ),
        );
    }
    if check.timeout.is_zero() {
        report.error(path, "timeout is not set; set timeout, e.g. \"2s\"");
    }
}

fn validate_check_counts(report: &mut Report, path: &str, check: &Check) {
    if let Some(restart) = &check.check_restart {
        if restart.limit < 0 {
            report.error(
                path,
                format!(
                    "check_restart limit {} is negative; use 0 (never restart) or more",
                    restart.limit
                ),
            );
        }
    }
    let counts = [
        ("success_before_passing", check.success_before_passing),
        ("failures_before_critical", check.failures_before_critical),
    ];
    for (field, value) in counts {
        if let Some(n) = value.filter(|n| *n < 0) {
            report.error(path, format!("{field} {n} is negative; use 0 or more"));
        }
    }
}

fn method_problem(method: &str) -> String {
    let upper = method.to_ascii_uppercase();
    if HTTP_METHODS.contains(&upper.as_str()) {
        format!("method {method:?} is not valid; write it in capitals: {upper:?}")
    } else {
        not_one_of("method", method, &HTTP_METHODS)
    }
}

#[cfg(test)]
mod tests;
