//! The container driver: what the agent asks Docker for, and what it reads
//! back. [`ContainerSpec`] and [`Observed`] are plain data, so the decisions
//! about them (what to create, what to stop) are pure and tested without
//! Docker; `docker` is the thin bollard shell.

pub mod docker;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

/// Label keys on every container the agent creates.
pub mod labels {
    /// The allocation id.
    pub const ALLOC_ID: &str = "io.drover.alloc_id";
    /// The node id of the agent that created it.
    pub const NODE_ID: &str = "io.drover.node_id";
    /// The task name.
    pub const TASK: &str = "io.drover.task";
    /// A hash of the container spec: a different hash means a different
    /// container is wanted.
    pub const SPEC_HASH: &str = "io.drover.spec_hash";
    /// The same hash without the job's meta (`NOMAD_META_*`): a container
    /// whose spec differs only in meta is kept — a meta change updates an
    /// allocation in place, and the task keeps the values it started with.
    pub const SPEC_HASH_WITHOUT_META: &str = "io.drover.spec_hash_without_meta";
    /// The allocation's restart generation when the container was created
    /// (absent: 0). Outside the spec hashes: a user's restart request newer
    /// than it restarts the container once ([`crate::user_restart`]), and
    /// the label on the new container is how a restarted agent knows.
    pub const RESTART_GENERATION: &str = "io.drover.restart_generation";
}

/// A published port.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PortPublish {
    /// The node address to publish on (each agent has its own).
    pub host_ip: String,
    pub host_port: u16,
    pub container_port: u16,
    /// `tcp` or `udp`.
    pub protocol: String,
}

/// A bind mount.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Mount {
    /// Absolute path on the node.
    pub source: String,
    /// Absolute path in the container.
    pub target: String,
    pub read_only: bool,
    /// Docker's other bind options, as written after `ro`/`rw`: SELinux
    /// `z`/`Z`, propagation (`rslave`, …), consistency.
    pub options: Vec<String>,
}

/// The container's log rotation: the task's `logs` block as Docker's
/// json-file driver options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogOptions {
    /// `max-file`.
    pub max_files: i64,
    /// `max-size`, in MB.
    pub max_file_size_mb: i64,
    /// `logs { disabled = true }`: Docker's `none` driver.
    pub disabled: bool,
}

/// Registry credentials for a pull.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct RegistryAuth {
    pub username: Option<String>,
    pub password: Option<String>,
    pub server_address: Option<String>,
    pub identity_token: Option<String>,
}

/// Never the secrets: a spec or pull logged with `{:?}` shows whether they
/// are set, not what they are.
impl std::fmt::Debug for RegistryAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hidden = |s: &Option<String>| s.as_ref().map(|_| "<redacted>");
        f.debug_struct("RegistryAuth")
            .field("username", &self.username)
            .field("password", &hidden(&self.password))
            .field("server_address", &self.server_address)
            .field("identity_token", &hidden(&self.identity_token))
            .finish()
    }
}

/// How the image is got. Not part of the spec hash: new credentials do not
/// make a new container.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PullOptions {
    /// The task config's `auth` block.
    pub auth: Option<RegistryAuth>,
    /// Retry without credentials when they are refused (`auth_soft_fail`).
    pub auth_soft_fail: bool,
    /// Pull even when the image is on the node (`force_pull`).
    pub force: bool,
}

/// A file the task expects before its container starts (a rendered
/// `template`). Its contents are part of the spec hash, so a change
/// replaces the container: Nomad's default `change_mode = "restart"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedFile {
    /// Absolute path on the node, inside the allocation's directory.
    pub host_path: String,
    /// Bytes: a dispatch payload may be binary.
    pub contents: Vec<u8>,
    /// Unix permission bits the file is written with.
    pub mode: u32,
    /// The bits as the job declares them (`perms`), which the spec hash
    /// takes: the agent writing a `secrets/` file tighter than declared
    /// replaces no running container.
    pub declared_mode: u32,
}

impl RenderedFile {
    /// Writes the file whole or not at all (a temporary file renamed over
    /// it), so a container never sees half a config file, without following
    /// a link a container planted under `alloc_root` ([`crate::confined`]).
    pub fn write(&self, alloc_root: &std::path::Path) -> std::io::Result<()> {
        crate::confined::write_file(
            alloc_root,
            std::path::Path::new(&self.host_path),
            &self.contents,
            self.mode,
        )
    }
}

/// Everything needed to create one task's container.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerSpec {
    /// `<task>-<alloc-id>`.
    pub name: String,
    pub image: String,
    /// Replaces the image's entrypoint when set.
    pub entrypoint: Option<Vec<String>>,
    /// Replaces the image's command when set (`command` followed by `args`).
    pub cmd: Option<Vec<String>>,
    pub env: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
    pub ports: Vec<PortPublish>,
    pub mounts: Vec<Mount>,
    /// Hard memory limit in bytes (memory_max when set, else memory).
    pub memory_limit: Option<i64>,
    /// Soft reservation in bytes (memory, when memory_max is set).
    pub memory_reservation: Option<i64>,
    /// Relative CPU weight (the task's MHz, as Nomad does).
    pub cpu_shares: Option<i64>,
    pub network_mode: Option<String>,
    pub hostname: Option<String>,
    pub privileged: bool,
    /// Signal sent to stop the container (default SIGTERM).
    pub stop_signal: Option<String>,
    pub working_dir: Option<String>,
    /// `pid_mode = "host"`.
    pub pid_mode: Option<String>,
    /// `ipc_mode` (`host` only where the policy allows it).
    pub ipc_mode: Option<String>,
    /// The node's device files mapped in (only where the policy allows).
    pub devices: Vec<drover_api_types::docker::DeviceEntry>,
    /// A container runtime other than Docker's default.
    pub runtime: Option<String>,
    /// The cores reserved with `resources.cores`, as Docker's cpuset
    /// (`"0,1"`).
    pub cpuset_cpus: Option<String>,
    /// `None` leaves Docker's default log driver and options.
    pub log: Option<LogOptions>,
    /// The task's `user` (`None`: the image's).
    pub user: Option<String>,
    /// At most this many processes (the agent's `--docker-pids-limit`, or
    /// the task's `pids_limit` when lower).
    pub pids_limit: Option<i64>,
    /// Whether the task asked for its own `pids_limit`: only then is the
    /// limit in the spec hash, so an agent's new default replaces nothing.
    pub pids_limit_asked: bool,
    /// `readonly_rootfs = true`.
    pub readonly_rootfs: bool,
    /// The task's `cap_add` (upper case, as Docker takes them).
    pub cap_add: Vec<String>,
    /// The task's `cap_drop`.
    pub cap_drop: Vec<String>,
    /// Docker's default capabilities the agent's `allow_caps` leaves out
    /// (`NET_RAW` by default), dropped too; not in the spec hash.
    pub cap_drop_policy: Vec<String>,
    pub pull: PullOptions,
    /// Written by the worker before the container is created.
    pub files: Vec<RenderedFile>,
}

/// What Docker shows of one container the agent created.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Observed {
    pub id: String,
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub running: bool,
    pub exit_code: Option<i64>,
    pub oom_killed: bool,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// The container's IP on its network (bridge or user network), if any.
    pub ip: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_hides_registry_secrets() {
        let auth = RegistryAuth {
            username: Some("ci".into()),
            password: Some("s3cret-pw".into()),
            server_address: None,
            identity_token: Some("tok-123".into()),
        };
        let shown = format!("{auth:?}");
        assert!(
            !shown.contains("s3cret-pw") && !shown.contains("tok-123"),
            "{shown}"
        );
        assert!(
            shown.contains("ci") && shown.contains("<redacted>"),
            "{shown}"
        );
    }
}
