//! Pure translations between drover's driver types and bollard's models:
//! [`ContainerSpec`] to a create request, an inspect answer to [`Observed`],
//! and image references to pull parameters.

use std::collections::HashMap;

use bollard::models::{
    ContainerCreateBody, ContainerInspectResponse, DeviceMapping, HostConfig, HostConfigLogConfig,
    PortBinding,
};
use chrono::{DateTime, Datelike, Utc};

use super::error::DriverError;
use crate::driver::{ContainerSpec, Observed};

/// The create request for `spec` (its name goes in the query, not the body).
pub(crate) fn create_body(spec: &ContainerSpec) -> Result<ContainerCreateBody, DriverError> {
    let invalid = |reason: String| DriverError::InvalidSpec {
        name: spec.name.clone(),
        reason,
    };
    if spec.image.is_empty() {
        return Err(invalid("no image".to_string()));
    }
    let mut exposed = Vec::new();
    let mut bindings: HashMap<String, Option<Vec<PortBinding>>> = HashMap::new();
    for port in &spec.ports {
        let proto = match port.protocol.as_str() {
            "" => "tcp",
            p @ ("tcp" | "udp" | "sctp") => p,
            other => return Err(invalid(format!("unknown port protocol {other:?}"))),
        };
        let key = format!("{}/{proto}", port.container_port);
        if !exposed.contains(&key) {
            exposed.push(key.clone());
        }
        let binding = PortBinding {
            host_ip: (!port.host_ip.is_empty()).then(|| port.host_ip.clone()),
            host_port: Some(port.host_port.to_string()),
        };
        bindings
            .entry(key)
            .or_insert_with(|| Some(Vec::new()))
            .get_or_insert_with(Vec::new)
            .push(binding);
    }
    let mut binds = Vec::new();
    for m in &spec.mounts {
        for path in [&m.source, &m.target] {
            if !path.starts_with('/') || path.contains(':') {
                return Err(invalid(format!(
                    "mount path {path:?} must be absolute and contain no ':'"
                )));
            }
        }
        let mut options: Vec<&str> = Vec::new();
        if m.read_only {
            options.push("ro");
        }
        options.extend(m.options.iter().map(String::as_str));
        if options.is_empty() {
            binds.push(format!("{}:{}", m.source, m.target));
        } else {
            binds.push(format!("{}:{}:{}", m.source, m.target, options.join(",")));
        }
    }
    let log_config = spec.log.as_ref().map(|log| {
        if log.disabled {
            return HostConfigLogConfig {
                typ: Some("none".into()),
                config: None,
            };
        }
        let config = HashMap::from([
            ("max-file".to_string(), log.max_files.to_string()),
            ("max-size".to_string(), format!("{}m", log.max_file_size_mb)),
        ]);
        HostConfigLogConfig {
            typ: Some("json-file".into()),
            config: Some(config),
        }
    });
    let host_config = HostConfig {
        port_bindings: (!bindings.is_empty()).then_some(bindings),
        binds: (!binds.is_empty()).then_some(binds),
        memory: spec.memory_limit,
        // As Nomad does: no swap beyond the memory limit.
        memory_swap: spec.memory_limit,
        memory_reservation: spec.memory_reservation,
        cpu_shares: spec.cpu_shares,
        network_mode: spec.network_mode.clone(),
        privileged: Some(spec.privileged),
        pid_mode: spec.pid_mode.clone(),
        ipc_mode: spec.ipc_mode.clone(),
        devices: (!spec.devices.is_empty()).then(|| {
            spec.devices
                .iter()
                .map(|d| DeviceMapping {
                    path_on_host: Some(d.host_path.clone()),
                    path_in_container: Some(d.container_path.clone()),
                    cgroup_permissions: Some(d.cgroup_permissions.clone()),
                })
                .collect()
        }),
        runtime: spec.runtime.clone(),
        cpuset_cpus: spec.cpuset_cpus.clone(),
        log_config,
        // No setuid binary in the image can gain what its user lacks.
        security_opt: Some(vec!["no-new-privileges".to_string()]),
        pids_limit: spec.pids_limit,
        cap_add: (!spec.cap_add.is_empty()).then(|| spec.cap_add.clone()),
        cap_drop: {
            let mut drop: Vec<String> = spec.cap_drop.clone();
            drop.extend(spec.cap_drop_policy.iter().cloned());
            drop.sort();
            drop.dedup();
            (!drop.is_empty()).then_some(drop)
        },
        readonly_rootfs: spec.readonly_rootfs.then_some(true),
        ..Default::default()
    };
    Ok(ContainerCreateBody {
        image: Some(spec.image.clone()),
        entrypoint: spec.entrypoint.clone(),
        cmd: spec.cmd.clone(),
        env: Some(spec.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
        labels: Some(spec.labels.clone().into_iter().collect()),
        exposed_ports: (!exposed.is_empty()).then_some(exposed),
        hostname: spec.hostname.clone(),
        stop_signal: spec.stop_signal.clone(),
        working_dir: spec.working_dir.clone(),
        user: spec.user.clone(),
        host_config: Some(host_config),
        ..Default::default()
    })
}

/// What an inspect answer says of a container.
pub(crate) fn observed(resp: ContainerInspectResponse) -> Observed {
    let state = resp.state.unwrap_or_default();
    let running = state.running.unwrap_or(false);
    let started_at = state.started_at.as_deref().and_then(parse_docker_time);
    let finished_at = state.finished_at.as_deref().and_then(parse_docker_time);
    // A created-but-never-started container has no exit code worth reporting.
    let exited = !running && (finished_at.is_some() || started_at.is_some());
    Observed {
        id: resp.id.unwrap_or_default(),
        name: resp
            .name
            .map(|n| n.trim_start_matches('/').to_string())
            .unwrap_or_default(),
        labels: resp
            .config
            .and_then(|c| c.labels)
            .unwrap_or_default()
            .into_iter()
            .collect(),
        running,
        exit_code: if exited { state.exit_code } else { None },
        oom_killed: state.oom_killed.unwrap_or(false),
        started_at,
        finished_at,
        ip: container_ip(resp.network_settings.as_ref()),
    }
}

/// The container's IP: on the `bridge` network when it is on it, else on
/// the first network by name that gave it one (sorted, so the choice is
/// stable). `None` for `host` or `none` networking.
fn container_ip(settings: Option<&bollard::models::NetworkSettings>) -> Option<String> {
    let networks = settings?.networks.as_ref()?;
    let ip_of = |name: &String| {
        networks
            .get(name)
            .and_then(|n| n.ip_address.clone())
            .filter(|ip| !ip.is_empty())
    };
    let mut names: Vec<&String> = networks.keys().collect();
    names.sort_by_key(|n| (n.as_str() != "bridge", n.as_str()));
    names.into_iter().find_map(ip_of)
}

/// Docker's RFC 3339 times; its zero time (`0001-01-01T00:00:00Z`) is none.
pub(crate) fn parse_docker_time(s: &str) -> Option<DateTime<Utc>> {
    let t = DateTime::parse_from_rfc3339(s).ok()?.with_timezone(&Utc);
    (t.year() > 1).then_some(t)
}

/// `(repository, tag)` for the create-image call: the tag defaults to
/// `latest`; a digest reference is passed whole with no tag.
pub(crate) fn split_image_ref(image: &str) -> (&str, &str) {
    if image.contains('@') {
        return (image, "");
    }
    let last_slash = image.rfind('/').map_or(0, |i| i + 1);
    match image[last_slash..].rfind(':') {
        Some(i) => (&image[..last_slash + i], &image[last_slash + i + 1..]),
        None => (image, "latest"),
    }
}

/// The image with its default tag, as Docker names it once pulled.
pub(crate) fn normalized_image(image: &str) -> String {
    match split_image_ref(image) {
        (repo, "") => repo.to_string(),
        (repo, tag) => format!("{repo}:{tag}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driver::{Mount, PortPublish};
    use bollard::models::{ContainerConfig, ContainerState};

    fn spec() -> ContainerSpec {
        ContainerSpec {
            name: "web-1234".into(),
            image: "img:1".into(),
            entrypoint: Some(vec!["/bin/sh".into(), "-c".into()]),
            cmd: Some(vec!["echo hi".into()]),
            env: [
                ("A".to_string(), "1".to_string()),
                ("B".into(), "x=y".into()),
            ]
            .into(),
            labels: [("k".to_string(), "v".to_string())].into(),
            ports: vec![
                PortPublish {
                    host_ip: "127.0.0.1".into(),
                    host_port: 20000,
                    container_port: 8080,
                    protocol: "tcp".into(),
                },
                PortPublish {
                    host_ip: "127.0.0.2".into(),
                    host_port: 20001,
                    container_port: 8080,
                    protocol: String::new(),
                },
                PortPublish {
                    host_ip: String::new(),
                    host_port: 20002,
                    container_port: 53,
                    protocol: "udp".into(),
                },
            ],
            mounts: vec![
                Mount {
                    source: "/a".into(),
                    target: "/local".into(),
                    read_only: true,
                    options: vec!["rslave".into(), "Z".into()],
                },
                Mount {
                    source: "/b".into(),
                    target: "/data".into(),
                    read_only: false,
                    options: vec!["shared".into()],
                },
                Mount {
                    source: "/c".into(),
                    target: "/plain".into(),
                    read_only: false,
                    options: Vec::new(),
                },
            ],
            memory_limit: Some(64 << 20),
            memory_reservation: Some(32 << 20),
            cpu_shares: Some(500),
            network_mode: Some("bridge".into()),
            hostname: Some("h".into()),
            privileged: true,
            stop_signal: Some("SIGINT".into()),
            working_dir: Some("/local".into()),
            ipc_mode: Some("host".into()),
            devices: vec![drover_api_types::docker::DeviceEntry {
                host_path: "/dev/fuse".into(),
                container_path: "/dev/fuse".into(),
                cgroup_permissions: "rwm".into(),
            }],
            runtime: Some("runsc".into()),
            pid_mode: Some("host".into()),
            cpuset_cpus: Some("0,1".into()),
            log: Some(crate::driver::LogOptions {
                max_files: 3,
                max_file_size_mb: 5,
                disabled: false,
            }),
            user: Some("nobody".into()),
            cap_add: vec!["SYS_TIME".into()],
            cap_drop: vec!["MKNOD".into()],
            cap_drop_policy: vec!["NET_RAW".into()],
            pids_limit: Some(64),
            pids_limit_asked: true,
            readonly_rootfs: true,
            pull: Default::default(),
            files: Vec::new(),
        }
    }

    #[test]
    fn every_spec_field_reaches_the_create_body() {
        let body = create_body(&spec()).expect("valid spec");
        assert_eq!(body.image.as_deref(), Some("img:1"));
        assert_eq!(body.entrypoint, Some(vec!["/bin/sh".into(), "-c".into()]));
        assert_eq!(body.cmd, Some(vec!["echo hi".into()]));
        assert_eq!(body.env, Some(vec!["A=1".into(), "B=x=y".into()]));
        assert_eq!(
            body.labels.expect("labels").get("k").map(String::as_str),
            Some("v")
        );
        assert_eq!(
            body.exposed_ports,
            Some(vec!["8080/tcp".into(), "53/udp".into()])
        );
        assert_eq!(body.hostname.as_deref(), Some("h"));
        assert_eq!(body.stop_signal.as_deref(), Some("SIGINT"));
        assert_eq!(body.working_dir.as_deref(), Some("/local"));
        assert_eq!(body.user.as_deref(), Some("nobody"));
        let hc = body.host_config.expect("host config");
        assert_eq!(hc.security_opt, Some(vec!["no-new-privileges".to_string()]));
        assert_eq!((hc.pids_limit, hc.readonly_rootfs), (Some(64), Some(true)));
        assert_eq!(hc.cap_add, Some(vec!["SYS_TIME".to_string()]));
        assert_eq!(
            hc.cap_drop,
            Some(vec!["MKNOD".to_string(), "NET_RAW".to_string()])
        );
        let pb = hc.port_bindings.expect("port bindings");
        let tcp = pb["8080/tcp"].as_ref().expect("tcp bindings");
        assert_eq!(tcp.len(), 2);
        assert_eq!(tcp[0].host_ip.as_deref(), Some("127.0.0.1"));
        assert_eq!(tcp[0].host_port.as_deref(), Some("20000"));
        assert_eq!(tcp[1].host_ip.as_deref(), Some("127.0.0.2"));
        let udp = pb["53/udp"].as_ref().expect("udp bindings");
        assert_eq!(udp[0].host_ip, None);
        assert_eq!(
            hc.binds,
            Some(vec![
                "/a:/local:ro,rslave,Z".into(),
                "/b:/data:shared".into(),
                "/c:/plain".into()
            ])
        );
        assert_eq!(hc.pid_mode.as_deref(), Some("host"));
        assert_eq!(hc.ipc_mode.as_deref(), Some("host"));
        assert_eq!(hc.runtime.as_deref(), Some("runsc"));
        let devices = hc.devices.as_ref().expect("devices");
        assert_eq!(devices[0].path_on_host.as_deref(), Some("/dev/fuse"));
        assert_eq!(devices[0].cgroup_permissions.as_deref(), Some("rwm"));
        assert_eq!(hc.cpuset_cpus.as_deref(), Some("0,1"));
        let log = hc.log_config.expect("log config");
        assert_eq!(log.typ.as_deref(), Some("json-file"));
        let options = log.config.expect("log options");
        assert_eq!(options["max-file"], "3");
        assert_eq!(options["max-size"], "5m");
        assert_eq!(hc.memory, Some(64 << 20));
        assert_eq!(hc.memory_swap, Some(64 << 20));
        assert_eq!(hc.memory_reservation, Some(32 << 20));
        assert_eq!(hc.cpu_shares, Some(500));
        assert_eq!(hc.network_mode.as_deref(), Some("bridge"));
        assert_eq!(hc.privileged, Some(true));
    }

    #[test]
    fn an_empty_spec_leaves_docker_defaults() {
        let body = create_body(&ContainerSpec {
            name: "t".into(),
            image: "i".into(),
            ..Default::default()
        })
        .expect("valid spec");
        assert_eq!(body.entrypoint, None);
        assert_eq!(body.cmd, None);
        assert_eq!(body.exposed_ports, None);
        let hc = body.host_config.expect("host config");
        assert_eq!(hc.port_bindings, None);
        assert_eq!(hc.binds, None);
        assert_eq!(hc.memory, None);
    }

    #[test]
    fn bad_specs_are_refused_with_the_container_name() {
        let mut s = spec();
        s.mounts[0].source = "relative".into();
        let err = create_body(&s).expect_err("relative mount");
        assert!(err.to_string().contains("web-1234"), "{err}");
        let mut s = spec();
        s.mounts[0].target = "/a:b".into();
        assert!(create_body(&s).is_err());
        let mut s = spec();
        s.ports[0].protocol = "http".into();
        assert!(create_body(&s).is_err());
        let mut s = spec();
        s.image.clear();
        assert!(create_body(&s).is_err());
    }

    #[test]
    fn inspect_maps_to_observed() {
        let resp = ContainerInspectResponse {
            id: Some("abc".into()),
            name: Some("/web-1234".into()),
            config: Some(ContainerConfig {
                labels: Some([("k".to_string(), "v".to_string())].into()),
                ..Default::default()
            }),
            state: Some(ContainerState {
                running: Some(false),
                exit_code: Some(3),
                oom_killed: Some(true),
                started_at: Some("2026-11-22T03:41:15.123456789Z".into()),
                finished_at: Some("2026-11-22T03:41:16Z".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let o = observed(resp);
        assert_eq!(o.id, "abc");
        assert_eq!(o.name, "web-1234");
        assert_eq!(o.labels.get("k").map(String::as_str), Some("v"));
        assert!(!o.running);
        assert_eq!(o.exit_code, Some(3));
        assert!(o.oom_killed);
        let started = o.started_at.expect("started");
        assert_eq!(started.timestamp_subsec_nanos(), 123_456_789);
        assert!(o.finished_at.expect("finished") > started);
    }

    #[test]
    fn the_container_ip_prefers_the_bridge_then_the_first_network_by_name() {
        use bollard::models::{EndpointSettings, NetworkSettings};
        let endpoint = |ip: &str| EndpointSettings {
            ip_address: Some(ip.into()),
            ..Default::default()
        };
        let settings = |nets: &[(&str, &str)]| NetworkSettings {
            networks: Some(
                nets.iter()
                    .map(|(n, ip)| (n.to_string(), endpoint(ip)))
                    .collect(),
            ),
            ..Default::default()
        };
        let on = |nets: &[(&str, &str)]| container_ip(Some(&settings(nets)));
        assert_eq!(
            on(&[("zeta", "10.0.9.2"), ("bridge", "172.17.0.3")]).as_deref(),
            Some("172.17.0.3")
        );
        assert_eq!(
            on(&[("zeta", "10.0.9.2"), ("apps", "10.0.1.2")]).as_deref(),
            Some("10.0.1.2")
        );
        // `host` networking: a network entry with no address of its own.
        assert_eq!(on(&[("host", "")]), None);
        assert_eq!(container_ip(None), None);
    }

    #[test]
    fn a_never_started_container_has_no_times_nor_exit_code() {
        let o = observed(ContainerInspectResponse {
            state: Some(ContainerState {
                running: Some(false),
                exit_code: Some(0),
                started_at: Some("0001-01-01T00:00:00Z".into()),
                finished_at: Some("0001-01-01T00:00:00Z".into()),
                ..Default::default()
            }),
            ..Default::default()
        });
        assert_eq!(
            (o.started_at, o.finished_at, o.exit_code),
            (None, None, None)
        );
    }

    #[test]
    fn image_references_split_into_repository_and_tag() {
        assert_eq!(split_image_ref("busybox"), ("busybox", "latest"));
        assert_eq!(split_image_ref("busybox:1.36"), ("busybox", "1.36"));
        assert_eq!(
            split_image_ref("registry:5000/team/app"),
            ("registry:5000/team/app", "latest")
        );
        assert_eq!(
            split_image_ref("registry:5000/team/app:v2"),
            ("registry:5000/team/app", "v2")
        );
        assert_eq!(split_image_ref("app@sha256:abcd"), ("app@sha256:abcd", ""));
        assert_eq!(normalized_image("busybox"), "busybox:latest");
        assert_eq!(normalized_image("app@sha256:abcd"), "app@sha256:abcd");
    }
}
