//! A task's runtime environment: the `NOMAD_*` (and `DROVER_*`) variables,
//! and `${…}` interpolation of those and of `${attr.*}`, `${node.*}` and
//! `${meta.*}` in driver config, args, env and service fields. Pure.
//!
//! Here rather than in the agent because the agent (containers, checks) and
//! the service registration controller must expand `${…}` identically: a
//! check id the agent reports is matched by the controller against the
//! same interpolated service name.

use std::collections::BTreeMap;

use crate::alloc::Allocation;
use crate::{Job, Node, Task, TaskGroup};

/// Where the per-allocation directories appear inside the container.
pub const ALLOC_DIR: &str = "/alloc";
pub const TASK_DIR: &str = "/local";
pub const SECRETS_DIR: &str = "/secrets";

/// Everything a task's environment is made of.
pub struct TaskContext<'a> {
    pub job: &'a Job,
    pub group: &'a TaskGroup,
    pub task: &'a Task,
    pub alloc: &'a Allocation,
    pub node: &'a Node,
}

/// Turns a meta key into the part of a variable name Nomad uses: characters
/// other than letters, digits, `_` and `.` become `_`.
fn env_key(key: &str) -> String {
    key.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The `NOMAD_*` variables of the task, each also under `DROVER_*`.
pub fn runtime_env(ctx: &TaskContext<'_>) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    let (job, alloc, task) = (ctx.job, ctx.alloc, ctx.task);
    let mut set = |k: &str, v: String| {
        env.insert(format!("NOMAD_{k}"), v);
    };
    set("ALLOC_ID", alloc.metadata.uid.clone());
    set(
        "SHORT_ALLOC_ID",
        alloc.metadata.uid.chars().take(8).collect::<String>(),
    );
    set("ALLOC_NAME", alloc.metadata.name.clone());
    set("ALLOC_INDEX", alloc.spec.index.to_string());
    set("JOB_NAME", job.metadata.name.clone());
    set("JOB_ID", job.metadata.name.clone());
    if let Some(parent) = &job.spec.parent_id {
        set("JOB_PARENT_ID", parent.clone());
    }
    set("GROUP_NAME", ctx.group.name.clone());
    set("TASK_NAME", task.name.clone());
    set("NAMESPACE", job.metadata.namespace.clone());
    set("DC", ctx.node.spec.datacenter.clone());
    set("REGION", job.spec.region.clone());
    set("ALLOC_DIR", ALLOC_DIR.into());
    set("TASK_DIR", TASK_DIR.into());
    set("SECRETS_DIR", SECRETS_DIR.into());
    let cores: &[u32] = alloc
        .binding
        .as_ref()
        .and_then(|b| b.cores.get(&task.name))
        .map_or(&[], Vec::as_slice);
    if cores.is_empty() {
        set("CPU_LIMIT", task.resources.cpu.to_string());
    } else {
        // As in Nomad: reserved cores count at the node's MHz per core.
        let node = &ctx.node.spec.resources;
        let per_core = node.cpu / node.cores.max(1);
        set("CPU_LIMIT", (per_core * cores.len() as i64).to_string());
        set("CPU_CORES", cpuset_list(cores));
    }
    set("MEMORY_LIMIT", task.resources.memory.to_string());
    if let Some(max) = task.resources.memory_max {
        set("MEMORY_MAX_LIMIT", max.to_string());
    }
    if let Some(binding) = &alloc.binding {
        for (label, port) in &binding.ports {
            let inside = if port.to > 0 { port.to } else { port.value };
            let ip = if port.host_ip.is_empty() {
                ctx.node.spec.address.clone()
            } else {
                port.host_ip.clone()
            };
            let host_addr = format!("{ip}:{}", port.value);
            set(&format!("PORT_{label}"), inside.to_string());
            set(&format!("HOST_PORT_{label}"), port.value.to_string());
            set(&format!("IP_{label}"), ip.clone());
            set(&format!("ADDR_{label}"), host_addr.clone());
            set(&format!("HOST_IP_{label}"), ip.clone());
            set(&format!("HOST_ADDR_{label}"), host_addr);
            // The allocation's side of the mapping. drover publishes ports
            // on the node address (no network namespace of its own per
            // allocation as Nomad's bridge mode has), so the IP is that too.
            set(&format!("ALLOC_PORT_{label}"), inside.to_string());
            set(&format!("ALLOC_IP_{label}"), ip.clone());
            set(&format!("ALLOC_ADDR_{label}"), format!("{ip}:{inside}"));
        }
    }
    // As in Nomad, job meta (a dispatch's meta lands there) < group < task.
    let mut meta = job.spec.meta.clone();
    meta.extend(ctx.group.meta.clone());
    meta.extend(task.meta.clone());
    for (key, value) in &meta {
        let key = env_key(key);
        set(&format!("META_{key}"), value.clone());
        let upper = key.to_uppercase();
        if upper != key {
            set(&format!("META_{upper}"), value.clone());
        }
    }
    let drover: Vec<(String, String)> = env
        .iter()
        .filter_map(|(k, v)| {
            k.strip_prefix("NOMAD_")
                .map(|rest| (format!("DROVER_{rest}"), v.clone()))
        })
        .collect();
    env.extend(drover);
    env
}

/// Core ids in cpuset list notation, ranges collapsed: `0-2,7`.
pub fn cpuset_list(ids: &[u32]) -> String {
    let mut sorted = ids.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < sorted.len() {
        let start = sorted[i];
        let mut end = start;
        while i + 1 < sorted.len() && sorted[i + 1] == end + 1 {
            i += 1;
            end = sorted[i];
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
        i += 1;
    }
    parts.join(",")
}

/// Resolves the names `${…}` may use in a task: `NOMAD_*`/`DROVER_*` and
/// the task's env (`env.X` or bare), `attr.*`, `node.*`, `meta.*`.
pub struct Lookup<'a> {
    pub env: &'a BTreeMap<String, String>,
    pub node: &'a Node,
    pub meta: &'a BTreeMap<String, String>,
}

impl Lookup<'_> {
    pub fn get(&self, name: &str) -> Option<String> {
        let node = self.node;
        if let Some(attr) = name.strip_prefix("attr.") {
            return node.spec.attributes.get(attr).cloned();
        }
        if let Some(key) = name.strip_prefix("meta.") {
            return self
                .meta
                .get(key)
                .or_else(|| node.spec.meta.get(key))
                .cloned();
        }
        if let Some(key) = name.strip_prefix("env.") {
            return self.env.get(key).cloned();
        }
        match name {
            "node.unique.id" => Some(node.metadata.uid.clone()),
            "node.unique.name" => Some(node.metadata.name.clone()),
            "node.datacenter" => Some(node.spec.datacenter.clone()),
            "node.class" => Some(node.spec.node_class.clone()),
            "node.pool" => Some(node.spec.node_pool.clone()),
            "node.region" => None,
            other => self.env.get(other).cloned(),
        }
    }
}

/// Replaces every `${name}` that `lookup` knows; unknown names are left as
/// written (as Nomad does), so a typo shows up verbatim in the container.
pub fn interpolate(input: &str, lookup: &Lookup<'_>) -> String {
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find('}') {
            Some(end) => {
                let name = after[..end].trim();
                match lookup.get(name) {
                    Some(value) => out.push_str(&value),
                    None => out.push_str(&rest[start..start + 2 + end + 1]),
                }
                rest = &after[end + 1..];
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

/// The task's full environment: runtime variables, then the task's `env`
/// (interpolated, so `${NOMAD_PORT_http}` and `${attr.*}` work there).
pub fn task_env(ctx: &TaskContext<'_>) -> BTreeMap<String, String> {
    let mut env = runtime_env(ctx);
    let user: Vec<(String, String)> = {
        let lookup = Lookup {
            env: &env,
            node: ctx.node,
            meta: &ctx.task.meta,
        };
        ctx.task
            .env
            .iter()
            .map(|(k, v)| (k.clone(), interpolate(v, &lookup)))
            .collect()
    };
    env.extend(user);
    env
}

/// The fixture the runtime-environment tests of every crate share (the
/// agent's container spec, checks and metrics tests use it too): a job
/// `web`, group `frontend`, task `nginx`, an allocation with port `http`
/// 23456 → 80 on node `node-1`. Built for tests and the `fixtures` feature.
#[cfg(any(test, feature = "fixtures"))]
pub mod fixtures {
    use super::*;
    use crate::alloc::{AssignedPort, Binding};

    pub fn fixture() -> (Job, Allocation, Node) {
        let mut job = Job {
            api_version: crate::API_VERSION.into(),
            kind: "Job".into(),
            metadata: Default::default(),
            spec: Default::default(),
            status: None,
        };
        job.metadata.name = "web".into();
        job.metadata.namespace = "default".into();
        job.spec.region = "global".into();
        let mut group = TaskGroup {
            name: "frontend".into(),
            ..Default::default()
        };
        let mut task = Task {
            name: "nginx".into(),
            driver: "docker".into(),
            ..Default::default()
        };
        task.resources.cpu = 500;
        task.resources.memory = 256;
        task.resources.memory_max = Some(512);
        task.meta.insert("team-name".into(), "edge".into());
        task.env
            .insert("LISTEN".into(), "${NOMAD_ADDR_http}".into());
        task.env
            .insert("KERNEL".into(), "${attr.kernel.name}".into());
        task.env
            .insert("WHERE".into(), "${node.datacenter}/${meta.rack}".into());
        task.env.insert("TYPO".into(), "${NOMAD_PORT_htp}".into());
        group.tasks.push(task);
        job.spec.groups.push(group);
        let mut alloc = Allocation::default();
        alloc.metadata.uid = "a1b2".into();
        alloc.metadata.name = "web.frontend[2]".into();
        alloc.spec.index = 2;
        let mut binding = Binding::default();
        binding.ports.insert(
            "http".into(),
            AssignedPort {
                host_ip: "127.0.0.2".into(),
                value: 23456,
                to: 80,
            },
        );
        alloc.binding = Some(binding);
        let mut node = Node::default();
        node.metadata.uid = "node-1".into();
        node.spec.datacenter = "dc1".into();
        node.spec.address = "127.0.0.2".into();
        node.spec
            .attributes
            .insert("kernel.name".into(), "linux".into());
        node.spec.meta.insert("rack".into(), "r7".into());
        (job, alloc, node)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    pub(crate) use super::fixtures::fixture;
    use super::*;

    #[test]
    fn runtime_variables_follow_nomad_names_and_have_drover_twins() {
        let (job, alloc, node) = fixture();
        let group = &job.spec.groups[0];
        let ctx = TaskContext {
            job: &job,
            group,
            task: &group.tasks[0],
            alloc: &alloc,
            node: &node,
        };
        let env = task_env(&ctx);
        let get = |k: &str| env.get(k).map(String::as_str);
        assert_eq!(get("NOMAD_ALLOC_ID"), Some("a1b2"));
        assert_eq!(get("NOMAD_ALLOC_NAME"), Some("web.frontend[2]"));
        assert_eq!(get("NOMAD_ALLOC_INDEX"), Some("2"));
        assert_eq!(get("NOMAD_JOB_NAME"), Some("web"));
        assert_eq!(get("NOMAD_GROUP_NAME"), Some("frontend"));
        assert_eq!(get("NOMAD_TASK_NAME"), Some("nginx"));
        assert_eq!(get("NOMAD_NAMESPACE"), Some("default"));
        assert_eq!(get("NOMAD_DC"), Some("dc1"));
        assert_eq!(get("NOMAD_REGION"), Some("global"));
        assert_eq!(get("NOMAD_PORT_http"), Some("80"));
        assert_eq!(get("NOMAD_HOST_PORT_http"), Some("23456"));
        assert_eq!(get("NOMAD_IP_http"), Some("127.0.0.2"));
        assert_eq!(get("NOMAD_ADDR_http"), Some("127.0.0.2:23456"));
        assert_eq!(get("NOMAD_META_team_name"), Some("edge"));
        assert_eq!(get("NOMAD_META_TEAM_NAME"), Some("edge"));
        assert_eq!(get("NOMAD_TASK_DIR"), Some("/local"));
        assert_eq!(get("NOMAD_CPU_LIMIT"), Some("500"));
        assert_eq!(get("NOMAD_MEMORY_LIMIT"), Some("256"));
        assert_eq!(get("NOMAD_MEMORY_MAX_LIMIT"), Some("512"));
        assert_eq!(get("DROVER_ALLOC_ID"), Some("a1b2"));
        assert_eq!(get("DROVER_ADDR_http"), Some("127.0.0.2:23456"));
        // The task's own env is interpolated.
        assert_eq!(get("LISTEN"), Some("127.0.0.2:23456"));
        assert_eq!(get("KERNEL"), Some("linux"));
        assert_eq!(get("WHERE"), Some("dc1/r7"));
        assert_eq!(get("TYPO"), Some("${NOMAD_PORT_htp}"), "unknown names stay");
    }

    /// Nomad's runtime environment table (developer.hashicorp.com/nomad/docs/runtime,
    /// "Job-related variables" and "Network-related variables"), for a
    /// task with a port `http` and reserved cores, in a dispatched child.
    /// Left out on purpose: VAULT_TOKEN (no Vault), NOMAD_TOKEN and
    /// NOMAD_UNIX_ADDR (workload identity, the task API),
    /// NOMAD_PARENT_CGROUP (exec drivers), and the Consul Connect ones
    /// (NOMAD_UPSTREAM_*, NOMAD_ENVOY_*): drover has no service mesh.
    const NOMAD_TABLE: [&str; 30] = [
        "NOMAD_ALLOC_DIR",
        "NOMAD_TASK_DIR",
        "NOMAD_SECRETS_DIR",
        "NOMAD_MEMORY_LIMIT",
        "NOMAD_MEMORY_MAX_LIMIT",
        "NOMAD_CPU_LIMIT",
        "NOMAD_CPU_CORES",
        "NOMAD_ALLOC_ID",
        "NOMAD_SHORT_ALLOC_ID",
        "NOMAD_ALLOC_NAME",
        "NOMAD_ALLOC_INDEX",
        "NOMAD_TASK_NAME",
        "NOMAD_GROUP_NAME",
        "NOMAD_JOB_ID",
        "NOMAD_JOB_NAME",
        "NOMAD_JOB_PARENT_ID",
        "NOMAD_DC",
        "NOMAD_NAMESPACE",
        "NOMAD_REGION",
        "NOMAD_META_team_name",
        "NOMAD_META_TEAM_NAME",
        "NOMAD_IP_http",
        "NOMAD_PORT_http",
        "NOMAD_ADDR_http",
        "NOMAD_ALLOC_IP_http",
        "NOMAD_ALLOC_PORT_http",
        "NOMAD_ALLOC_ADDR_http",
        "NOMAD_HOST_IP_http",
        "NOMAD_HOST_PORT_http",
        "NOMAD_HOST_ADDR_http",
    ];

    #[test]
    fn every_variable_of_nomads_table_is_set() {
        let (mut job, mut alloc, mut node) = fixture();
        job.metadata.name = "batch/dispatch-1700000000-0a1b2c3d".into();
        job.spec.parent_id = Some("batch".into());
        alloc.metadata.uid = "0123456789abcdef".into();
        if let Some(b) = alloc.binding.as_mut() {
            b.cores.insert("nginx".into(), vec![0, 1, 2, 7]);
        }
        node.spec.resources.cpu = 8000;
        node.spec.resources.cores = 8;
        let group = &job.spec.groups[0];
        let ctx = TaskContext {
            job: &job,
            group,
            task: &group.tasks[0],
            alloc: &alloc,
            node: &node,
        };
        let env = task_env(&ctx);
        let missing: Vec<&str> = NOMAD_TABLE
            .iter()
            .copied()
            .filter(|k| !env.contains_key(*k))
            .collect();
        assert!(missing.is_empty(), "not set: {missing:?}");
        let get = |k: &str| env.get(k).map(String::as_str);
        assert_eq!(get("NOMAD_SHORT_ALLOC_ID"), Some("01234567"));
        assert_eq!(get("NOMAD_JOB_PARENT_ID"), Some("batch"));
        assert_eq!(get("NOMAD_CPU_CORES"), Some("0-2,7"));
        assert_eq!(get("NOMAD_CPU_LIMIT"), Some("4000"));
        assert_eq!(get("NOMAD_ALLOC_PORT_http"), Some("80"));
        assert_eq!(get("NOMAD_ALLOC_ADDR_http"), Some("127.0.0.2:80"));
        assert_eq!(get("NOMAD_HOST_IP_http"), Some("127.0.0.2"));
        assert_eq!(get("NOMAD_HOST_ADDR_http"), Some("127.0.0.2:23456"));
        assert_eq!(cpuset_list(&[3, 1, 2, 9]), "1-3,9");
        assert_eq!(cpuset_list(&[]), "");
    }

    #[test]
    fn interpolation_handles_edges() {
        let (_, _, node) = fixture();
        let env: BTreeMap<String, String> = [("A".to_string(), "1".to_string())].into();
        let meta = BTreeMap::new();
        let lookup = Lookup {
            env: &env,
            node: &node,
            meta: &meta,
        };
        let cases = [
            ("plain", "plain"),
            ("${A}${A}", "11"),
            ("x${ A }y", "x1y"),
            ("${env.A}", "1"),
            ("${node.unique.id}", "node-1"),
            ("unclosed ${A", "unclosed ${A"),
            ("${missing} and ${A}", "${missing} and 1"),
            ("$A stays", "$A stays"),
        ];
        for (input, want) in cases {
            assert_eq!(interpolate(input, &lookup), want, "{input}");
        }
    }
}
