//! What a docker task may ask of its node beyond its own allocation, and
//! what a node's agent allows: the workload policy, safe by default.
//!
//! A task asks for [`HostAccess`] by what its `config` says: `privileged`,
//! host paths in `volumes` or `mount` (absolute, or relative ones that
//! climb out of the task directory), `network_mode = "host"`, `pid_mode =
//! "host"`, `ipc_mode = "host"`, `devices`; and a `runtime` outside the
//! agent's `allow_runtimes`. An agent allows none of them unless its
//! operator says so, and
//! publishes what it allows as docker driver attributes
//! ([`HostAccess::attribute`], as Nomad's `driver.docker.volumes.enabled`),
//! so placement never puts a task on a node that would refuse it; the
//! agent still refuses (defence in depth). Host volumes the operator
//! declared (`--host-volume`) are always allowed: they are the operator's
//! own choice.

use std::collections::BTreeSet;
use std::path::{Component, Path};

use serde_json::Value;

use crate::task::Task;

/// One thing beyond its allocation a task can ask of its node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum HostAccess {
    /// `privileged = true`: root on the node.
    Privileged,
    /// A host path outside the allocation bind-mounted into the task.
    HostPaths,
    /// `network_mode = "host"`: the node's network namespace.
    HostNetwork,
    /// `pid_mode = "host"`: the node's processes.
    HostPid,
    /// `ipc_mode = "host"`: the node's shared memory and semaphores.
    HostIpc,
    /// `devices`: the node's device files.
    Devices,
}

impl HostAccess {
    pub const ALL: [HostAccess; 6] = [
        HostAccess::Privileged,
        HostAccess::HostPaths,
        HostAccess::HostNetwork,
        HostAccess::HostPid,
        HostAccess::HostIpc,
        HostAccess::Devices,
    ];

    /// The docker driver attribute a node sets (to `"1"`) when its agent
    /// allows this.
    pub fn attribute(self) -> &'static str {
        match self {
            HostAccess::Privileged => "driver.docker.privileged.enabled",
            HostAccess::HostPaths => "driver.docker.volumes.enabled",
            HostAccess::HostNetwork => "driver.docker.network.host.enabled",
            HostAccess::HostPid => "driver.docker.pid.host.enabled",
            HostAccess::HostIpc => "driver.docker.ipc.host.enabled",
            HostAccess::Devices => "driver.docker.devices.enabled",
        }
    }

    /// What is off on a node that does not allow it (`volumes disabled`).
    pub fn disabled(self) -> &'static str {
        match self {
            HostAccess::Privileged => "privileged containers disabled",
            HostAccess::HostPaths => "volumes disabled",
            HostAccess::HostNetwork => "host network disabled",
            HostAccess::HostPid => "host pid namespace disabled",
            HostAccess::HostIpc => "host ipc namespace disabled",
            HostAccess::Devices => "devices disabled",
        }
    }

    /// The `drover agent` flag that allows it.
    pub fn flag(self) -> &'static str {
        match self {
            HostAccess::Privileged => "--allow-privileged",
            HostAccess::HostPaths => "--docker-volumes-enabled",
            HostAccess::HostNetwork => "--docker-allow-host-network",
            HostAccess::HostPid => "--docker-allow-host-pid",
            HostAccess::HostIpc => "--docker-allow-host-ipc",
            HostAccess::Devices => "--docker-allow-devices",
        }
    }
}

/// Docker's default capabilities less `net_raw`: what Nomad's docker
/// driver allows by default (`allow_caps`), and so drover's.
pub fn default_allow_caps() -> Vec<String> {
    DOCKER_DEFAULT_CAPS
        .iter()
        .filter(|c| **c != "net_raw")
        .map(|c| c.to_string())
        .collect()
}

/// The capabilities Docker gives a container by default.
pub const DOCKER_DEFAULT_CAPS: [&str; 14] = [
    "audit_write",
    "chown",
    "dac_override",
    "fowner",
    "fsetid",
    "kill",
    "mknod",
    "net_bind_service",
    "net_raw",
    "setfcap",
    "setgid",
    "setpcap",
    "setuid",
    "sys_chroot",
];

/// The node attribute listing the capabilities tasks may have.
pub const ALLOW_CAPS_ATTRIBUTE: &str = "driver.docker.allow_caps";

/// The node attribute listing the container runtimes tasks may ask for.
pub const ALLOW_RUNTIMES_ATTRIBUTE: &str = "driver.docker.allow_runtimes";

/// Nomad's default `allow_runtimes`.
pub fn default_allow_runtimes() -> Vec<String> {
    vec!["runc".into(), "nvidia".into()]
}

/// What an agent allows: no [`HostAccess`] and [`default_allow_caps`] by
/// default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPolicy {
    pub allowed: BTreeSet<HostAccess>,
    /// Capabilities a task's container may have (lower case, without
    /// `CAP_`); `all` allows every one.
    pub caps: BTreeSet<String>,
    /// Container runtimes a task may ask for (`runtime`).
    pub runtimes: BTreeSet<String>,
}

impl Default for HostPolicy {
    fn default() -> Self {
        HostPolicy {
            allowed: BTreeSet::new(),
            caps: default_allow_caps().into_iter().collect(),
            runtimes: default_allow_runtimes().into_iter().collect(),
        }
    }
}

/// `CAP_SYS_ADMIN`, `sys_admin` → `sys_admin`.
pub fn cap_name(cap: &str) -> String {
    let lower = cap.trim().to_ascii_lowercase();
    lower.strip_prefix("cap_").unwrap_or(&lower).to_string()
}

impl HostPolicy {
    pub fn allows(&self, access: HostAccess) -> bool {
        self.allowed.contains(&access)
    }

    /// Whether a task may add capability `cap`.
    pub fn allows_cap(&self, cap: &str) -> bool {
        self.caps.contains("all") || self.caps.contains(&cap_name(cap))
    }

    /// Whether a task may ask for container runtime `runtime`.
    pub fn allows_runtime(&self, runtime: &str) -> bool {
        self.runtimes.contains(runtime)
    }

    /// The driver attributes that publish it: `"1"` for each allowed
    /// access, and the capabilities and runtimes, comma-separated.
    pub fn attributes(&self) -> impl Iterator<Item = (&'static str, String)> + '_ {
        let caps = self.caps.iter().cloned().collect::<Vec<_>>().join(",");
        let runtimes = self.runtimes.iter().cloned().collect::<Vec<_>>().join(",");
        self.allowed
            .iter()
            .map(|a| (a.attribute(), "1".to_string()))
            .chain([
                (ALLOW_CAPS_ATTRIBUTE, caps),
                (ALLOW_RUNTIMES_ATTRIBUTE, runtimes),
            ])
    }

    /// Reads a node's docker driver attributes back (`"1"` or `"true"`; no
    /// capability list: the default one).
    pub fn from_attributes(attributes: &std::collections::BTreeMap<String, String>) -> HostPolicy {
        let on = |a: HostAccess| {
            attributes
                .get(a.attribute())
                .is_some_and(|v| v == "1" || v.eq_ignore_ascii_case("true"))
        };
        HostPolicy {
            allowed: HostAccess::ALL.into_iter().filter(|a| on(*a)).collect(),
            caps: match attributes.get(ALLOW_CAPS_ATTRIBUTE) {
                Some(list) => list
                    .split(',')
                    .filter(|c| !c.trim().is_empty())
                    .map(cap_name)
                    .collect(),
                None => HostPolicy::default().caps,
            },
            runtimes: match attributes.get(ALLOW_RUNTIMES_ATTRIBUTE) {
                Some(list) => list
                    .split(',')
                    .map(str::trim)
                    .filter(|r| !r.is_empty())
                    .map(str::to_string)
                    .collect(),
                None => HostPolicy::default().runtimes,
            },
        }
    }
}

/// The container runtime a docker task's `runtime` asks for, if any.
pub fn runtime_asked(task: &Task) -> Option<String> {
    if task.driver != "docker" {
        return None;
    }
    task.config
        .get("runtime")
        .and_then(Value::as_str)
        .filter(|r| !r.is_empty())
        .map(str::to_string)
}

/// The capabilities a docker task's `cap_add` asks for (as written,
/// normalised by [`cap_name`]).
pub fn caps_asked(task: &Task) -> Vec<String> {
    if task.driver != "docker" {
        return Vec::new();
    }
    task.config
        .get("cap_add")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(cap_name)
        .collect()
}

/// Where a relative `volumes` or `mount` source lies inside the
/// allocation directory, as the names below it (pure, lexical: the task
/// directory is `<task>/` there, `..` climbs to the allocation). `None`
/// when it is absolute or climbs out of the allocation.
pub fn in_allocation(task: &str, source: &str) -> Option<Vec<String>> {
    let path = Path::new(source);
    if path.is_absolute() {
        return None;
    }
    let mut names = vec![task.to_string()];
    for component in path.components() {
        match component {
            Component::ParentDir => {
                names.pop()?;
            }
            Component::Normal(name) => names.push(name.to_string_lossy().into_owned()),
            _ => {}
        }
    }
    Some(names)
}

/// Whether `source` (a `volumes` or `mount` source as written) is a host
/// path: absolute, or climbing out of the allocation directory with `..`,
/// or naming the allocation directory or a task directory itself, whose
/// layout (the task directories, the agent's mount points) is the
/// agent's. As in Nomad, anything else inside the allocation needs no
/// leave: the task's own directory and, through `..`, the shared
/// `alloc/` and other tasks' directories.
pub fn is_host_path(source: &str) -> bool {
    // The task's name does not matter here, only the shape.
    match in_allocation("task", source) {
        None => true,
        Some(names) => names.len() < 2 && names.first().map(String::as_str) != Some("alloc"),
    }
}

/// What a docker task's `config` asks of its node, as written. A value
/// built with `${…}` is judged by the agent once expanded.
pub fn asked_by(task: &Task) -> BTreeSet<HostAccess> {
    let mut asked = BTreeSet::new();
    if task.driver != "docker" {
        return asked;
    }
    let config = &task.config;
    if config.get("privileged").and_then(Value::as_bool) == Some(true) {
        asked.insert(HostAccess::Privileged);
    }
    if config.get("network_mode").and_then(Value::as_str) == Some("host") {
        asked.insert(HostAccess::HostNetwork);
    }
    if config.get("pid_mode").and_then(Value::as_str) == Some("host") {
        asked.insert(HostAccess::HostPid);
    }
    if config.get("ipc_mode").and_then(Value::as_str) == Some("host") {
        asked.insert(HostAccess::HostIpc);
    }
    if config
        .get("devices")
        .and_then(Value::as_array)
        .is_some_and(|d| !d.is_empty())
    {
        asked.insert(HostAccess::Devices);
    }
    if bind_sources(config).any(|s| is_host_path(&s)) {
        asked.insert(HostAccess::HostPaths);
    }
    asked
}

/// The host side of every `volumes` entry and `mount` block.
fn bind_sources(config: &serde_json::Map<String, Value>) -> impl Iterator<Item = String> + '_ {
    let volumes = config
        .get("volumes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter_map(|entry| entry.split(':').next().map(str::to_string));
    let mounts = ["mount", "mounts"]
        .into_iter()
        .filter_map(|key| config.get(key).and_then(Value::as_array))
        .flatten()
        .filter_map(|m| m.get("source").and_then(Value::as_str).map(str::to_string));
    volumes.chain(mounts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn docker_task(config: serde_json::Value) -> Task {
        let mut task = crate::mock::task("t");
        task.driver = "docker".into();
        if let Value::Object(map) = config {
            task.config = map;
        }
        task
    }

    #[test]
    fn a_task_asks_for_what_its_config_says() {
        let cases = [
            (serde_json::json!({"image": "x"}), vec![]),
            (
                serde_json::json!({"privileged": true}),
                vec![HostAccess::Privileged],
            ),
            (serde_json::json!({"privileged": false}), vec![]),
            (
                serde_json::json!({"volumes": ["/:/host"]}),
                vec![HostAccess::HostPaths],
            ),
            (
                serde_json::json!({"volumes": ["/var/run/docker.sock:/var/run/docker.sock"]}),
                vec![HostAccess::HostPaths],
            ),
            (
                serde_json::json!({"volumes": ["local/conf:/etc/app"]}),
                vec![],
            ),
            (
                serde_json::json!({"volumes": ["../../x:/x"]}),
                vec![HostAccess::HostPaths],
            ),
            (
                serde_json::json!({"volumes": ["a/../../x:/x"]}),
                vec![HostAccess::HostPaths],
            ),
            (serde_json::json!({"volumes": ["a/../b:/x"]}), vec![]),
            // Inside the allocation, as Nomad allows: the shared alloc/
            // and a sibling task's directory.
            (serde_json::json!({"volumes": ["../alloc/data:/d"]}), vec![]),
            (serde_json::json!({"volumes": ["../alloc:/d"]}), vec![]),
            (
                serde_json::json!({"volumes": ["../other/local:/d"]}),
                vec![],
            ),
            // The allocation or a task directory itself: their layout is
            // the agent's.
            (
                serde_json::json!({"volumes": ["..:/d"]}),
                vec![HostAccess::HostPaths],
            ),
            (
                serde_json::json!({"volumes": [".:/d"]}),
                vec![HostAccess::HostPaths],
            ),
            (
                serde_json::json!({"volumes": ["../other:/d"]}),
                vec![HostAccess::HostPaths],
            ),
            (
                serde_json::json!({"mount": [{"type": "bind", "source": "/etc", "target": "/e"}]}),
                vec![HostAccess::HostPaths],
            ),
            (
                serde_json::json!({"network_mode": "host"}),
                vec![HostAccess::HostNetwork],
            ),
            (serde_json::json!({"network_mode": "bridge"}), vec![]),
            (
                serde_json::json!({"pid_mode": "host"}),
                vec![HostAccess::HostPid],
            ),
            (
                serde_json::json!({"ipc_mode": "host"}),
                vec![HostAccess::HostIpc],
            ),
            (serde_json::json!({"ipc_mode": "private"}), vec![]),
            (
                serde_json::json!({"devices": [{"host_path": "/dev/fuse"}]}),
                vec![HostAccess::Devices],
            ),
            (serde_json::json!({"devices": []}), vec![]),
        ];
        for (config, want) in cases {
            let task = docker_task(config.clone());
            let got: Vec<HostAccess> = asked_by(&task).into_iter().collect();
            assert_eq!(got, want, "{config}");
        }
        let mut exec = docker_task(serde_json::json!({"privileged": true}));
        exec.driver = "exec".into();
        assert!(
            asked_by(&exec).is_empty(),
            "only the docker driver's config"
        );
    }

    #[test]
    fn capabilities_are_named_as_nomad_names_them() {
        let policy = HostPolicy::default();
        assert!(policy.allows_cap("CAP_CHOWN") && policy.allows_cap("kill"));
        assert!(
            !policy.allows_cap("NET_RAW"),
            "dropped by default, as in Nomad"
        );
        assert!(!policy.allows_cap("SYS_ADMIN"));
        let all = HostPolicy {
            caps: ["all".to_string()].into(),
            ..HostPolicy::default()
        };
        assert!(all.allows_cap("sys_admin"));
        let task = docker_task(serde_json::json!({"cap_add": ["SYS_ADMIN", "cap_net_raw"]}));
        assert_eq!(caps_asked(&task), ["sys_admin", "net_raw"]);
        let task = docker_task(serde_json::json!({"runtime": "runsc"}));
        assert_eq!(runtime_asked(&task).as_deref(), Some("runsc"));
        assert!(HostPolicy::default().allows_runtime("runc"));
    }

    #[test]
    fn a_policy_round_trips_through_node_attributes() {
        let policy = HostPolicy {
            allowed: [HostAccess::HostPaths, HostAccess::Privileged].into(),
            caps: ["chown".to_string(), "sys_admin".to_string()].into(),
            runtimes: ["runc".to_string(), "runsc".to_string()].into(),
        };
        assert!(policy.allows_runtime("runsc") && !policy.allows_runtime("nvidia"));
        let attributes = policy
            .attributes()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(HostPolicy::from_attributes(&attributes), policy);
        assert_eq!(
            HostPolicy::from_attributes(&Default::default()),
            HostPolicy::default()
        );
    }
}
