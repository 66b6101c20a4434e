//! The group network and every reference to its port labels (services,
//! checks, the docker driver's `config.ports`).

use std::collections::BTreeMap;

use crate::diagnostic::suggestion_suffix;
use crate::group::Network;

use super::names::{defined_suffix, duplicates};
use super::{child, quoted_list, Report};

const MODES: [&str; 3] = ["host", "bridge", "none"];

/// The port labels a group network defines, for checking references.
#[derive(Debug, Default)]
pub(crate) struct Ports<'a> {
    labels: Vec<&'a str>,
}

impl Ports<'_> {
    /// Checks a service/check port: a defined label, a literal port number,
    /// or `${...}` interpolation. `place` is appended to the subject, e.g.
    /// `" in ports"`.
    pub(crate) fn check_reference(
        &self,
        report: &mut Report,
        path: &str,
        reference: &str,
        place: &str,
    ) {
        if reference.is_empty() || reference.contains("${") {
            return;
        }
        if reference.chars().all(|c| c.is_ascii_digit()) {
            if !reference
                .parse::<u32>()
                .is_ok_and(|n| (1..=65535).contains(&n))
            {
                report.error(
                    path,
                    format!(
                        "port {reference}{place} is out of range; use a port label or a number from 1 to 65535"
                    ),
                );
            }
            return;
        }
        if !self.labels.contains(&reference) {
            report.error(
                path,
                format!(
                    "port label {reference:?}{place} is not defined in the group network {}",
                    defined_suffix(&self.labels, "it defines no ports")
                ),
            );
        }
    }
}

/// Checks the network block and returns the labels it defines.
pub(super) fn validate_network<'a>(
    report: &mut Report,
    group_path: &str,
    network: Option<&'a Network>,
) -> Ports<'a> {
    let Some(network) = network else {
        return Ports::default();
    };
    let path = format!("{group_path} network");
    validate_mode(report, &path, &network.mode);
    let labels: Vec<&str> = network.ports.iter().map(|p| p.label.as_str()).collect();
    for label in duplicates(labels.iter().copied()) {
        report.error(
            &path,
            format!("port label {label:?} is defined more than once; give each port its own label"),
        );
    }
    let mut by_static: BTreeMap<i64, Vec<&str>> = BTreeMap::new();
    for (index, port) in network.ports.iter().enumerate() {
        let port_path = child(&path, "port", &port.label, index);
        if port.label.trim().is_empty() {
            report.error(&port_path, "label is empty; name the port, e.g. \"http\"");
        }
        if let Some(value) = port.static_port {
            if (1..=65535).contains(&value) {
                by_static.entry(value).or_default().push(&port.label);
            } else {
                report.error(
                    &port_path,
                    format!(
                        "static port {value} is out of range; use 1 to 65535, or leave static out for a dynamic port"
                    ),
                );
            }
        }
        if let Some(to) = port.to {
            if !(-1..=65535).contains(&to) {
                report.error(
                    &port_path,
                    format!("to {to} is out of range; use 0 to 65535 (-1 maps to the host port)"),
                );
            }
        }
    }
    for (value, users) in by_static {
        if users.len() > 1 {
            report.error(
                &path,
                format!(
                    "static port {value} is reserved by more than one port ({}); a host port can be reserved once",
                    quoted_list(users)
                ),
            );
        }
    }
    Ports { labels }
}

fn validate_mode(report: &mut Report, path: &str, mode: &str) {
    if MODES.contains(&mode) {
        return;
    }
    match mode.strip_prefix("cni/") {
        Some(name) if !name.trim().is_empty() => {}
        Some(_) => report.error(
            path,
            "mode \"cni/\" names no CNI network; write \"cni/<network name>\"",
        ),
        None => report.error(
            path,
            format!(
                "mode {mode:?} is not valid; use one of: \"host\", \"bridge\", \"none\" or \"cni/<name>\"{}",
                suggestion_suffix(mode, MODES)
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{assert_diags, group, task, GROUP, SERVICE, TASK};
    use crate::group::Port;

    fn port(label: &str, static_port: Option<i64>, to: Option<i64>) -> Port {
        Port {
            label: label.into(),
            static_port,
            to,
            ..Port::default()
        }
    }

    fn set_ports(job: &mut crate::job::Job, ports: Vec<Port>) {
        if let Some(network) = group(job).network.as_mut() {
            network.ports = ports;
        }
    }

    #[test]
    fn undefined_port_label_in_service_lists_defined_labels() {
        assert_diags(
            |job| task(job).services[0].port = "http".into(),
            &[&format!("error: {SERVICE}: port label \"http\" is not defined in the group network (defined: \"web\")")],
        );
    }

    #[test]
    fn undefined_port_label_without_network() {
        assert_diags(
            |job| {
                group(job).network = None;
                task(job).config.remove("ports");
            },
            &[&format!("error: {SERVICE}: port label \"web\" is not defined in the group network (it defines no ports)")],
        );
    }

    #[test]
    fn literal_port_numbers_and_interpolation_pass_or_are_range_checked() {
        assert_diags(|job| task(job).services[0].port = "8080".into(), &[]);
        assert_diags(
            |job| task(job).services[0].port = "${NOMAD_PORT_web}".into(),
            &[],
        );
        assert_diags(
            |job| task(job).services[0].port = "70000".into(),
            &[&format!("error: {SERVICE}: port 70000 is out of range; use a port label or a number from 1 to 65535")],
        );
    }

    #[test]
    fn docker_config_ports_must_be_defined() {
        assert_diags(
            |job| {
                task(job)
                    .config
                    .insert("ports".into(), serde_json::json!(["web", "admin"]));
            },
            &[&format!("error: {TASK} config: port label \"admin\" in ports is not defined in the group network (defined: \"web\")")],
        );
    }

    #[test]
    fn network_mode() {
        let set_mode = |mode: &'static str| {
            move |job: &mut crate::job::Job| {
                if let Some(n) = group(job).network.as_mut() {
                    n.mode = mode.into();
                }
            }
        };
        assert_diags(set_mode("cni/mynet"), &[]);
        assert_diags(set_mode("host"), &[]);
        assert_diags(
            set_mode("brige"),
            &[&format!("error: {GROUP} network: mode \"brige\" is not valid; use one of: \"host\", \"bridge\", \"none\" or \"cni/<name>\" (did you mean \"bridge\"?)")],
        );
        assert_diags(
            set_mode("cni/"),
            &[&format!("error: {GROUP} network: mode \"cni/\" names no CNI network; write \"cni/<network name>\"")],
        );
    }

    #[test]
    fn port_ranges_duplicates_and_labels() {
        assert_diags(
            |job| set_ports(job, vec![port("web", Some(0), Some(70000))]),
            &[
                &format!("error: {GROUP} network port \"web\": static port 0 is out of range; use 1 to 65535, or leave static out for a dynamic port"),
                &format!("error: {GROUP} network port \"web\": to 70000 is out of range; use 0 to 65535 (-1 maps to the host port)"),
            ],
        );
        assert_diags(
            |job| set_ports(job, vec![port("web", Some(65535), Some(-1))]),
            &[],
        );
        assert_diags(
            |job| {
                set_ports(
                    job,
                    vec![
                        port("web", Some(80), None),
                        port("alt", Some(80), None),
                        port("web", None, None),
                        port("", None, None),
                    ],
                )
            },
            &[
                &format!("error: {GROUP} network: port label \"web\" is defined more than once; give each port its own label"),
                &format!("error: {GROUP} network port[3]: label is empty; name the port, e.g. \"http\""),
                &format!("error: {GROUP} network: static port 80 is reserved by more than one port (\"web\", \"alt\"); a host port can be reserved once"),
            ],
        );
    }
}
