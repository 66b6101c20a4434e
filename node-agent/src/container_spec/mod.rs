//! From an allocation's task to the container to create: the docker
//! driver's `config` (image, command, args, entrypoint, ports, volumes,
//! mounts, labels, network_mode, hostname, privileged), resources, the
//! per-allocation directories, the runtime environment and the rendered
//! `template` blocks. Pure: template sources are read through the policy.

use std::collections::BTreeMap;
use std::path::Path;

use drover_api_types::host_access::{
    cap_name, in_allocation, is_host_path, HostAccess, HostPolicy, DOCKER_DEFAULT_CAPS,
};
use drover_api_types::Task;
use serde_json::Value;

use crate::driver::{labels, ContainerSpec, Mount, PortPublish, PullOptions, RegistryAuth};
use crate::task_env::{
    interpolate, task_env, Lookup, TaskContext, ALLOC_DIR, SECRETS_DIR, TASK_DIR,
};

/// Why a task's container cannot be specified. Each names the task and says
/// what to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    #[error("task {task:?}: the docker driver needs config.image")]
    MissingImage { task: String },
    #[error("task {task:?}: config.{field} must be {expected}")]
    BadField {
        task: String,
        field: String,
        expected: &'static str,
    },
    #[error("task {task:?}: config.ports names {label:?}, which the group network does not define or placement did not assign")]
    UnknownPort { task: String, label: String },
    #[error("task {task:?}: volume_mount {volume:?}: {reason}")]
    Volume {
        task: String,
        volume: String,
        reason: String,
    },
    #[error("task {task:?}: config.volumes: {reason}")]
    Volumes { task: String, reason: String },
    #[error("task {task:?}: {what} is not allowed on this node: {disabled} (start its agent with {flag})")]
    HostAccessRefused {
        task: String,
        what: String,
        disabled: &'static str,
        flag: &'static str,
    },
    #[error("task {task:?}: {field} {value:?} names a container outside this allocation; only another task of the same allocation may be shared")]
    ForeignContainer {
        task: String,
        field: &'static str,
        value: String,
    },
    #[error("task {task:?}: template {destination:?}: {message}")]
    Template {
        task: String,
        destination: String,
        message: String,
    },
}

/// What the agent decides, not the job: where allocation directories live,
/// and what tasks may ask of the host beyond their allocation.
pub struct AgentPolicy<'a> {
    /// `<data-dir>/allocs`: each allocation gets `<id>/alloc`, and each task
    /// `<id>/<task>/local` and `<id>/<task>/secrets`.
    pub allocs_dir: &'a Path,
    pub host: &'a HostPolicy,
    /// The most processes a container may run (`--docker-pids-limit`; a
    /// task's `pids_limit` may only lower it). `None`: no limit.
    pub pids_limit: Option<i64>,
    /// Directories the operator lets templates read absolute `source`
    /// paths from (`--template-source-dir`); relative sources stay in the
    /// allocation.
    pub template_source_dirs: &'a [std::path::PathBuf],
    /// Reads a template's `source` file under a root it must not leave:
    /// the one bit of I/O a spec needs, passed in so the spec stays a
    /// function of its inputs (the agent's is [`crate::confined::read_file`]).
    pub read_source: &'a dyn Fn(&Path, &Path) -> std::io::Result<String>,
}

/// `cap_add` within the policy's `allow_caps` (else refused, naming the
/// flag), the task's `cap_drop`, and Docker's defaults the policy leaves
/// out dropped as well.
fn capabilities(
    task: &Task,
    policy: &AgentPolicy<'_>,
    spec: &mut ContainerSpec,
) -> Result<(), SpecError> {
    let listed = |field: &str| -> Result<Vec<String>, SpecError> {
        match task.config.get(field) {
            Some(v) => Ok(strings(task, field, v)?
                .iter()
                .map(|c| cap_name(c).to_ascii_uppercase())
                .collect()),
            None => Ok(Vec::new()),
        }
    };
    spec.cap_add = listed("cap_add")?;
    spec.cap_drop = listed("cap_drop")?;
    if let Some(cap) = spec.cap_add.iter().find(|c| !policy.host.allows_cap(c)) {
        return Err(SpecError::HostAccessRefused {
            task: task.name.clone(),
            what: format!("cap_add {cap:?}"),
            disabled: "capability not in allow_caps",
            flag: "--docker-allow-caps",
        });
    }
    spec.cap_drop_policy = DOCKER_DEFAULT_CAPS
        .iter()
        .filter(|c| !policy.host.allows_cap(c))
        .filter(|c| !spec.cap_add.iter().any(|a| a.eq_ignore_ascii_case(c)))
        .map(|c| c.to_ascii_uppercase())
        .collect();
    Ok(())
}

/// `ipc_mode`, `devices` and `runtime`: each beyond the container's own
/// only as the policy allows.
fn host_extras(
    ctx: &TaskContext<'_>,
    policy: &AgentPolicy<'_>,
    expand: &dyn Fn(&str) -> String,
    spec: &mut ContainerSpec,
) -> Result<(), SpecError> {
    let task = ctx.task;
    if let Some(v) = task.config.get("ipc_mode") {
        let mode = expand(&string(task, "ipc_mode", v)?);
        namespace_mode(ctx, policy, "ipc_mode", &mode, HostAccess::HostIpc)?;
        spec.ipc_mode = (!mode.is_empty()).then_some(mode);
    }
    if let Some(v) = task.config.get("devices") {
        let devices =
            drover_api_types::docker::parse_devices(v).map_err(|reason| SpecError::BadField {
                task: task.name.clone(),
                field: format!("devices ({reason})"),
                expected: "a list of { host_path, container_path, cgroup_permissions }",
            })?;
        if !devices.is_empty() {
            allowed(task, policy, HostAccess::Devices, "devices")?;
        }
        spec.devices = devices;
    }
    if let Some(v) = task.config.get("runtime") {
        let runtime = expand(&string(task, "runtime", v)?);
        if !runtime.is_empty() && !policy.host.allows_runtime(&runtime) {
            return Err(SpecError::HostAccessRefused {
                task: task.name.clone(),
                what: format!("runtime {runtime:?}"),
                disabled: "runtime not in allow_runtimes",
                flag: "--docker-allow-runtimes",
            });
        }
        spec.runtime = (!runtime.is_empty()).then_some(runtime);
    }
    Ok(())
}

/// `Ok` when the policy allows `access`; else the refusal naming `what`
/// the task asked and the flag that would allow it.
fn allowed(
    task: &Task,
    policy: &AgentPolicy<'_>,
    access: HostAccess,
    what: &str,
) -> Result<(), SpecError> {
    if policy.host.allows(access) {
        return Ok(());
    }
    Err(SpecError::HostAccessRefused {
        task: task.name.clone(),
        what: what.to_string(),
        disabled: access.disabled(),
        flag: access.flag(),
    })
}

/// A `network_mode` or `pid_mode`: `host` needs the policy's leave;
/// `container:NAME` may name only another task of this allocation (its
/// container is `<task>-<alloc id>`).
fn namespace_mode(
    ctx: &TaskContext<'_>,
    policy: &AgentPolicy<'_>,
    field: &'static str,
    mode: &str,
    host: HostAccess,
) -> Result<(), SpecError> {
    let task = ctx.task;
    if mode == "host" {
        return allowed(task, policy, host, &format!("{field} = \"host\""));
    }
    if let Some(name) = mode.strip_prefix("container:") {
        let alloc = &ctx.alloc.metadata.uid;
        let sibling = ctx
            .group
            .tasks
            .iter()
            .any(|t| t.name != task.name && name == format!("{}-{alloc}", t.name));
        if !sibling {
            return Err(SpecError::ForeignContainer {
                task: task.name.clone(),
                field,
                value: mode.to_string(),
            });
        }
    }
    Ok(())
}

fn strings(task: &Task, field: &str, value: &Value) -> Result<Vec<String>, SpecError> {
    let bad = || SpecError::BadField {
        task: task.name.clone(),
        field: field.into(),
        expected: "a list of strings",
    };
    match value {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) => items
            .iter()
            .map(|v| match v {
                Value::String(s) => Ok(s.clone()),
                Value::Number(n) => Ok(n.to_string()),
                _ => Err(bad()),
            })
            .collect(),
        _ => Err(bad()),
    }
}

fn string(task: &Task, field: &str, value: &Value) -> Result<String, SpecError> {
    match value {
        Value::String(s) => Ok(s.clone()),
        _ => Err(SpecError::BadField {
            task: task.name.clone(),
            field: field.into(),
            expected: "a string",
        }),
    }
}

/// The container for `ctx.task` of `ctx.alloc` on this node.
pub fn container_spec(
    ctx: &TaskContext<'_>,
    policy: &AgentPolicy<'_>,
) -> Result<ContainerSpec, SpecError> {
    let task = ctx.task;
    let config = &task.config;
    let mut env = task_env(ctx);
    let (mut files, template_env) = templates::render_all(ctx, policy, &env)?;
    files.extend(templates::payload_file(ctx, policy)?);
    // As in Nomad, template variables override the task's own env.
    env.extend(template_env);
    let lookup = Lookup {
        env: &env,
        node: ctx.node,
        meta: &task.meta,
    };
    let expand = |s: &str| interpolate(s, &lookup);
    let field = |name: &str| config.get(name);

    let image = match field("image") {
        Some(v) => expand(&string(task, "image", v)?),
        None => {
            return Err(SpecError::MissingImage {
                task: task.name.clone(),
            })
        }
    };
    if image.trim().is_empty() {
        return Err(SpecError::MissingImage {
            task: task.name.clone(),
        });
    }
    let mut spec = ContainerSpec {
        name: format!("{}-{}", task.name, ctx.alloc.metadata.uid),
        image,
        ..ContainerSpec::default()
    };
    if let Some(v) = field("entrypoint") {
        spec.entrypoint = Some(
            strings(task, "entrypoint", v)?
                .iter()
                .map(|s| expand(s))
                .collect(),
        );
    }
    let command = field("command")
        .map(|v| string(task, "command", v))
        .transpose()?;
    let args = field("args")
        .map(|v| strings(task, "args", v))
        .transpose()?
        .unwrap_or_default();
    if command.is_some() || !args.is_empty() {
        spec.cmd = Some(
            command
                .into_iter()
                .chain(args)
                .map(|s| expand(&s))
                .collect(),
        );
    }
    for key in ["network_mode", "hostname", "work_dir"] {
        if let Some(v) = field(key) {
            let value = Some(expand(&string(task, key, v)?));
            match key {
                "network_mode" => spec.network_mode = value,
                "hostname" => spec.hostname = value,
                _ => spec.working_dir = value,
            }
        }
    }
    if let Some(v) = field("privileged") {
        spec.privileged = v.as_bool().unwrap_or(false);
        if spec.privileged {
            allowed(task, policy, HostAccess::Privileged, "privileged = true")?;
        }
    }
    if let Some(mode) = &spec.network_mode {
        namespace_mode(ctx, policy, "network_mode", mode, HostAccess::HostNetwork)?;
    }
    if !task.kill_signal.is_empty() {
        spec.stop_signal = Some(task.kill_signal.clone());
    }
    spec.pull = pull_options(task, &expand)?;
    spec.ports = ports(ctx, &expand)?;
    spec.mounts = mounts(ctx, policy, &expand)?;
    let resources = &task.resources;
    let mb = |m: i64| m.saturating_mul(1024 * 1024);
    match resources.memory_max.filter(|max| *max > resources.memory) {
        Some(max) => {
            spec.memory_limit = Some(mb(max));
            spec.memory_reservation = Some(mb(resources.memory));
        }
        None => spec.memory_limit = Some(mb(resources.memory)),
    }
    spec.cpu_shares = Some(resources.cpu.max(2));
    spec.cpuset_cpus = ctx
        .alloc
        .binding
        .as_ref()
        .and_then(|b| b.cores.get(&task.name))
        .filter(|ids| !ids.is_empty())
        .map(|ids| ids.iter().map(u32::to_string).collect::<Vec<_>>().join(","));
    if let Some(v) = field("pid_mode") {
        let mode = expand(&string(task, "pid_mode", v)?);
        namespace_mode(ctx, policy, "pid_mode", &mode, HostAccess::HostPid)?;
        spec.pid_mode = (!mode.is_empty()).then_some(mode);
    }
    host_extras(ctx, policy, &expand, &mut spec)?;
    let asked_pids = match field("pids_limit") {
        Some(v) => Some(
            v.as_i64()
                .filter(|n| *n > 0)
                .ok_or_else(|| SpecError::BadField {
                    task: task.name.clone(),
                    field: "pids_limit".into(),
                    expected: "a positive whole number",
                })?,
        ),
        None => None,
    };
    spec.pids_limit_asked = asked_pids.is_some();
    spec.pids_limit = match (asked_pids, policy.pids_limit) {
        (Some(asked), Some(most)) => Some(asked.min(most)),
        (asked, most) => asked.or(most),
    };
    if let Some(v) = field("readonly_rootfs") {
        spec.readonly_rootfs = v.as_bool().unwrap_or(false);
    }
    spec.user = (!task.user.is_empty()).then(|| task.user.clone());
    capabilities(task, policy, &mut spec)?;
    let logs = &task.logs;
    spec.log = Some(crate::driver::LogOptions {
        max_files: logs.max_files.max(1),
        max_file_size_mb: logs.max_file_size.max(1),
        disabled: logs.disabled,
    });
    if let Some(Value::Object(map)) = field("labels") {
        for (k, v) in map {
            if let Value::String(s) = v {
                spec.labels.insert(k.clone(), expand(s));
            }
        }
    }
    spec.env = env;
    spec.files = files;
    spec.labels
        .insert(labels::ALLOC_ID.into(), ctx.alloc.metadata.uid.clone());
    spec.labels
        .insert(labels::NODE_ID.into(), ctx.node.metadata.uid.clone());
    spec.labels.insert(labels::TASK.into(), task.name.clone());
    // Only the agent says which restart a container has had.
    spec.labels.remove(labels::RESTART_GENERATION);
    let hash = spec_hash(&spec);
    let without_meta = spec_hash_without_meta(&spec);
    spec.labels.insert(labels::SPEC_HASH.into(), hash);
    spec.labels
        .insert(labels::SPEC_HASH_WITHOUT_META.into(), without_meta);
    // After the hashes, and outside them: a restart request makes a new
    // container of the same spec, never a different one.
    if let Some(generation) = crate::user_restart::label_value(ctx.alloc.spec.restart.as_ref()) {
        spec.labels
            .insert(labels::RESTART_GENERATION.into(), generation);
    }
    Ok(spec)
}

/// `auth { username password server_address }`, `auth_soft_fail` and
/// `force_pull` from the task config (Nomad's names).
fn pull_options(task: &Task, expand: &dyn Fn(&str) -> String) -> Result<PullOptions, SpecError> {
    let config = &task.config;
    let flag = |name: &str| config.get(name).and_then(Value::as_bool).unwrap_or(false);
    let auth = match config.get("auth") {
        None => None,
        // A block written once is an object; HCL written oddly may repeat it.
        Some(Value::Object(map)) => Some(map),
        Some(Value::Array(items)) => items.iter().find_map(Value::as_object),
        Some(_) => {
            return Err(SpecError::BadField {
                task: task.name.clone(),
                field: "auth".into(),
                expected: "a block with username, password and server_address",
            })
        }
    };
    let auth = auth.map(|map| {
        let get = |k: &str| map.get(k).and_then(Value::as_str).map(expand);
        RegistryAuth {
            username: get("username"),
            password: get("password"),
            server_address: get("server_address"),
            identity_token: get("identity_token"),
        }
    });
    Ok(PullOptions {
        auth,
        auth_soft_fail: flag("auth_soft_fail"),
        force: flag("force_pull"),
    })
}

/// The ports named in `config.ports`, published on the address placement
/// assigned (the node's), to `to` inside (or the same port), tcp and udp.
/// As in Nomad, group ports not listed there are not published.
fn ports(
    ctx: &TaskContext<'_>,
    expand: &dyn Fn(&str) -> String,
) -> Result<Vec<PortPublish>, SpecError> {
    let task = ctx.task;
    let Some(listed) = task.config.get("ports") else {
        return Ok(Vec::new());
    };
    let assigned = ctx.alloc.binding.as_ref().map(|b| &b.ports);
    let mut out = Vec::new();
    for label in strings(task, "ports", listed)? {
        let label = expand(&label);
        let Some(port) = assigned.and_then(|p| p.get(&label)) else {
            return Err(SpecError::UnknownPort {
                task: task.name.clone(),
                label,
            });
        };
        let host_ip = if port.host_ip.is_empty() {
            ctx.node.spec.address.clone()
        } else {
            port.host_ip.clone()
        };
        let inside = if port.to > 0 { port.to } else { port.value };
        for protocol in ["tcp", "udp"] {
            out.push(PortPublish {
                host_ip: host_ip.clone(),
                host_port: port.value,
                container_port: inside,
                protocol: protocol.into(),
            });
        }
    }
    Ok(out)
}

fn mounts(
    ctx: &TaskContext<'_>,
    policy: &AgentPolicy<'_>,
    expand: &dyn Fn(&str) -> String,
) -> Result<Vec<Mount>, SpecError> {
    let task = ctx.task;
    let alloc_root = policy.allocs_dir.join(&ctx.alloc.metadata.uid);
    let task_root = alloc_root.join(&task.name);
    let path = |p: &Path| p.to_string_lossy().into_owned();
    let mut out = vec![
        Mount {
            source: path(&alloc_root.join("alloc")),
            target: ALLOC_DIR.into(),
            read_only: false,
            options: Vec::new(),
        },
        Mount {
            source: path(&task_root.join("local")),
            target: TASK_DIR.into(),
            read_only: false,
            options: Vec::new(),
        },
        Mount {
            source: path(&task_root.join("secrets")),
            target: SECRETS_DIR.into(),
            read_only: false,
            options: Vec::new(),
        },
    ];
    if let Some(v) = task.config.get("volumes") {
        for entry in strings(task, "volumes", v)? {
            let entry = expand(&entry);
            let volume = drover_api_types::docker::parse_volume(&entry).map_err(|reason| {
                SpecError::Volumes {
                    task: task.name.clone(),
                    reason,
                }
            })?;
            let source = bind_source(task, policy, &task_root, &volume.source, &entry)?;
            out.push(Mount {
                source,
                target: volume.target,
                read_only: volume.read_only,
                options: volume.options,
            });
        }
    }
    if let Some(Value::Array(items)) = task
        .config
        .get("mount")
        .or_else(|| task.config.get("mounts"))
    {
        for item in items {
            let get = |k: &str| item.get(k).and_then(Value::as_str).map(expand);
            let (Some(source), Some(target)) = (get("source"), get("target")) else {
                return Err(SpecError::BadField {
                    task: task.name.clone(),
                    field: "mount".into(),
                    expected: "blocks with source and target",
                });
            };
            let read_only = item
                .get("readonly")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            let options = drover_api_types::docker::bind_propagation(item)
                .map(|p| vec![p.to_string()])
                .unwrap_or_default();
            let source = bind_source(task, policy, &task_root, &source, &source)?;
            out.push(Mount {
                source,
                target,
                read_only,
                options,
            });
        }
    }
    for vm in &task.volume_mounts {
        let volume_error = |reason: String| SpecError::Volume {
            task: task.name.clone(),
            volume: vm.volume.clone(),
            reason,
        };
        let request = ctx
            .group
            .volumes
            .get(&vm.volume)
            .ok_or_else(|| volume_error("the group has no such volume".into()))?;
        let host = ctx
            .node
            .spec
            .host_volumes
            .get(&request.source)
            .ok_or_else(|| {
                volume_error(format!(
                    "this node has no host volume {:?} (--host-volume)",
                    request.source
                ))
            })?;
        out.push(Mount {
            source: host.path.clone(),
            target: vm.destination.clone(),
            read_only: vm.read_only || request.read_only || host.read_only,
            options: Vec::new(),
        });
    }
    Ok(out)
}

/// The host side of a `volumes` entry or `mount` block: relative to the
/// task directory, as in Nomad, unless it is a host path outside it
/// ([`is_host_path`]), which only a policy with host paths allows.
fn bind_source(
    task: &Task,
    policy: &AgentPolicy<'_>,
    task_root: &Path,
    source: &str,
    written: &str,
) -> Result<String, SpecError> {
    if is_host_path(source) {
        allowed(
            task,
            policy,
            HostAccess::HostPaths,
            &format!("host path {written:?}"),
        )?;
        if Path::new(source).is_absolute() {
            return Ok(source.to_string());
        }
    }
    // Resolved here, so `../alloc/data` is `<alloc>/alloc/data`: what the
    // agent makes, pins and hands Docker has no `..` in it.
    let alloc_root = task_root.parent().unwrap_or(task_root);
    match in_allocation(&task.name, source) {
        Some(names) => Ok(names
            .iter()
            .fold(alloc_root.to_path_buf(), |path, name| path.join(name))
            .to_string_lossy()
            .into_owned()),
        // Climbing out, allowed as a host path above.
        None => Ok(task_root.join(source).to_string_lossy().into_owned()),
    }
}

/// The directories to create before the container: the mount sources
/// inside the allocations directory, except a source that is one of the
/// spec's files (a template rendered to `local/x.conf` and mounted with
/// `volumes`), which must stay a file — only its parent is made. Sources
/// outside the allocations directory are the operator's and left alone.
pub fn mount_dirs(spec: &ContainerSpec, allocs_dir: &str) -> Vec<String> {
    let mut dirs = Vec::new();
    for mount in &spec.mounts {
        if !Path::new(&mount.source).starts_with(allocs_dir) {
            continue;
        }
        let is_file = spec
            .files
            .iter()
            .any(|f| Path::new(&f.host_path) == Path::new(&mount.source));
        let dir = if is_file {
            Path::new(&mount.source)
                .parent()
                .map(|p| p.to_string_lossy().into_owned())
        } else {
            Some(mount.source.clone())
        };
        if let Some(dir) = dir.filter(|d| !dirs.contains(d)) {
            dirs.push(dir);
        }
    }
    dirs
}

/// [`spec_hash`] without the `NOMAD_META_*` (and `DROVER_META_*`) variables.
pub fn spec_hash_without_meta(spec: &ContainerSpec) -> String {
    let mut rest = spec.clone();
    rest.env
        .retain(|k, _| !k.starts_with("NOMAD_META_") && !k.starts_with("DROVER_META_"));
    spec_hash(&rest)
}

/// A stable hash of everything that makes the container what it is (not
/// the hash labels themselves): FNV-1a over a canonical text, so it does not
/// change across builds or Rust versions and adoption survives upgrades.
pub fn spec_hash(spec: &ContainerSpec) -> String {
    let mut text = String::new();
    let mut add = |k: &str, v: &str| {
        text.push_str(k);
        text.push('=');
        text.push_str(v);
        text.push('\n');
    };
    add("name", &spec.name);
    add("image", &spec.image);
    add(
        "entrypoint",
        &spec
            .entrypoint
            .as_ref()
            .map(|v| v.join("\u{1f}"))
            .unwrap_or_default(),
    );
    add(
        "cmd",
        &spec
            .cmd
            .as_ref()
            .map(|v| v.join("\u{1f}"))
            .unwrap_or_default(),
    );
    for (k, v) in &spec.env {
        add(&format!("env.{k}"), v);
    }
    let labels: BTreeMap<&String, &String> = spec
        .labels
        .iter()
        .filter(|(k, _)| {
            ![
                labels::SPEC_HASH,
                labels::SPEC_HASH_WITHOUT_META,
                labels::RESTART_GENERATION,
            ]
            .contains(&k.as_str())
        })
        .collect();
    for (k, v) in labels {
        add(&format!("label.{k}"), v);
    }
    for p in &spec.ports {
        add(
            "port",
            &format!(
                "{}:{}:{}/{}",
                p.host_ip, p.host_port, p.container_port, p.protocol
            ),
        );
    }
    for m in &spec.mounts {
        if m.options.is_empty() {
            add(
                "mount",
                &format!("{}:{}:{}", m.source, m.target, m.read_only),
            );
        } else {
            add(
                "mount",
                &format!(
                    "{}:{}:{}:{}",
                    m.source,
                    m.target,
                    m.read_only,
                    m.options.join(",")
                ),
            );
        }
    }
    add(
        "memory",
        &format!("{:?}/{:?}", spec.memory_limit, spec.memory_reservation),
    );
    add("cpu", &format!("{:?}", spec.cpu_shares));
    add("network_mode", spec.network_mode.as_deref().unwrap_or(""));
    add("hostname", spec.hostname.as_deref().unwrap_or(""));
    add("privileged", &spec.privileged.to_string());
    add("stop_signal", spec.stop_signal.as_deref().unwrap_or(""));
    add("working_dir", spec.working_dir.as_deref().unwrap_or(""));
    // Each only when it differs from what an older agent created, so its
    // containers are still adopted after an upgrade (they keep Docker's
    // default log options until something else replaces them).
    if let Some(pid) = &spec.pid_mode {
        add("pid_mode", pid);
    }
    if let Some(ipc) = &spec.ipc_mode {
        add("ipc_mode", ipc);
    }
    for d in &spec.devices {
        add(
            "device",
            &format!(
                "{}:{}:{}",
                d.host_path, d.container_path, d.cgroup_permissions
            ),
        );
    }
    if let Some(runtime) = &spec.runtime {
        add("runtime", runtime);
    }
    if let Some(cpus) = &spec.cpuset_cpus {
        add("cpuset", cpus);
    }
    if let Some(user) = &spec.user {
        add("user", user);
    }
    if spec.pids_limit_asked {
        add("pids_limit", &format!("{:?}", spec.pids_limit));
    }
    if spec.readonly_rootfs {
        add("readonly_rootfs", "true");
    }
    if !spec.cap_add.is_empty() {
        add("cap_add", &spec.cap_add.join(","));
    }
    if !spec.cap_drop.is_empty() {
        add("cap_drop", &spec.cap_drop.join(","));
    }
    if let Some(log) = spec.log.as_ref().filter(|l| {
        l.disabled || (l.max_files, l.max_file_size_mb) != drover_api_types::defaults::LOG_ROTATION
    }) {
        add(
            "log",
            &format!(
                "{}:{}:{}",
                log.max_files, log.max_file_size_mb, log.disabled
            ),
        );
    }
    // Only present with templates, so other tasks' hashes (and the
    // containers adopted by them) stay as they were.
    for f in &spec.files {
        add("file", &format!("{}:{:o}", f.host_path, f.declared_mode));
        // Lossless for text, so the hashes of template files are as before.
        add("file.contents", &String::from_utf8_lossy(&f.contents));
    }
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{hash:016x}")
}

pub mod templates;

#[cfg(test)]
mod tests;
