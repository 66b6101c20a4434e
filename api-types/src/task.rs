//! Tasks: one process (container) each, with its resources and files.

use serde::{Deserialize, Serialize};

use crate::duration::Duration;
use crate::group::Service;
use crate::job::{Affinity, Constraint, Meta, RestartPolicy};

/// The driver's own configuration, passed through untouched (no schema).
pub type DriverConfig = serde_json::Map<String, serde_json::Value>;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Task {
    pub name: String,
    pub driver: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub user: String,
    #[serde(skip_serializing_if = "serde_json::Map::is_empty")]
    #[schema(value_type = Object)]
    pub config: DriverConfig,
    #[serde(skip_serializing_if = "Meta::is_empty")]
    pub env: Meta,
    #[serde(skip_serializing_if = "Meta::is_empty")]
    pub meta: Meta,
    pub resources: Resources,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<Service>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub templates: Vec<Template>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub volume_mounts: Vec<VolumeMount>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub artifacts: Vec<Artifact>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub constraints: Vec<Constraint>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub affinities: Vec<Affinity>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lifecycle: Option<Lifecycle>,
    pub leader: bool,
    pub kill_timeout: Duration,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub kill_signal: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shutdown_delay: Option<Duration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restart: Option<RestartPolicy>,
    pub logs: LogConfig,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dispatch_payload: Option<DispatchPayload>,
}

/// What a task asks for. CPU in MHz, memory in MB.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Resources {
    pub cpu: i64,
    /// Whole cores reserved exclusively; when set, `cpu` is derived from it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cores: Option<i64>,
    pub memory: i64,
    /// Memory oversubscription: the hard limit, above the `memory` reservation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_max: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disk: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Template {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub source: String,
    pub destination: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub data: String,
    /// `noop`, `restart`, `signal` or `script`.
    pub change_mode: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub change_signal: String,
    pub splay: Duration,
    pub perms: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub left_delimiter: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub right_delimiter: String,
    /// Render as environment variables rather than a file.
    pub env: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct VolumeMount {
    pub volume: String,
    pub destination: String,
    pub read_only: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub propagation_mode: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Artifact {
    pub source: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub destination: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub mode: String,
    #[serde(skip_serializing_if = "Meta::is_empty")]
    pub options: Meta,
    #[serde(skip_serializing_if = "Meta::is_empty")]
    pub headers: Meta,
}

/// When the task runs relative to the main tasks of its group.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Lifecycle {
    /// `prestart`, `poststart` or `poststop`.
    pub hook: String,
    /// Keep running alongside the main tasks instead of running to completion.
    pub sidecar: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    pub max_files: i64,
    /// MB per file.
    pub max_file_size: i64,
    pub disabled: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct DispatchPayload {
    /// Path under the task's local/ directory.
    pub file: String,
}
