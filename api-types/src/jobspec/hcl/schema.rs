//! What each block of a Nomad job file may contain, one table per block.
//!
//! Attributes marked legacy in a comment are Nomad 0.x/1.x spellings mapped
//! onto the current model with a deprecation warning by the decoders.

use super::body::Schema;

pub(super) const FILE: Schema = Schema {
    attributes: &[],
    blocks: &["job", "variable", "variables", "locals"],
    unsupported: &[],
};

pub(super) const VARIABLE: Schema = Schema {
    attributes: &["type", "default", "description", "sensitive"],
    blocks: &["validation"],
    unsupported: &[],
};

pub(super) const VALIDATION: Schema = Schema {
    attributes: &["condition", "error_message"],
    blocks: &[],
    unsupported: &[],
};

pub(super) const JOB: Schema = Schema {
    attributes: &[
        "region",
        "namespace",
        "id",
        "name",
        "type",
        "priority",
        "all_at_once",
        "datacenters",
        "node_pool",
        "meta",
    ],
    blocks: &[
        "group",
        "constraint",
        "affinity",
        "spread",
        "update",
        "periodic",
        "parameterized",
        "reschedule",
        "migrate",
        "meta",
    ],
    unsupported: &[
        "vault",
        "consul",
        "multiregion",
        "ui",
        "vault_token",
        "consul_token",
        "vault_namespace",
        "consul_namespace",
    ],
};

pub(super) const GROUP: Schema = Schema {
    attributes: &[
        "count",
        "shutdown_delay",
        "meta",
        // legacy: both become a `disconnect` block
        "max_client_disconnect",
        "stop_after_client_disconnect",
    ],
    blocks: &[
        "task",
        "constraint",
        "affinity",
        "spread",
        "network",
        "service",
        "volume",
        "restart",
        "reschedule",
        "migrate",
        "update",
        "ephemeral_disk",
        "disconnect",
        "meta",
    ],
    unsupported: &["vault", "consul", "scaling", "prevent_reschedule_on_lost"],
};

pub(super) const TASK: Schema = Schema {
    attributes: &[
        "driver",
        "user",
        "config",
        "env",
        "meta",
        "leader",
        "kill_timeout",
        "kill_signal",
        "shutdown_delay",
    ],
    blocks: &[
        "config",
        "env",
        "meta",
        "resources",
        "service",
        "template",
        "volume_mount",
        "lifecycle",
        "restart",
        "logs",
        "artifact",
        "dispatch_payload",
        "constraint",
        "affinity",
    ],
    unsupported: &[
        "vault",
        "consul",
        "csi_plugin",
        "identity",
        "action",
        "schedule",
        "scaling",
        "kind",
    ],
};

pub(super) const RESOURCES: Schema = Schema {
    attributes: &["cpu", "cores", "memory", "memory_max", "disk"],
    // legacy: `network` moves to the group
    blocks: &["network"],
    unsupported: &["device", "numa", "iops", "secrets"],
};

/// The 0.x task-level `resources { network { … } }`.
pub(super) const LEGACY_NETWORK: Schema = Schema {
    attributes: &["mbits", "mode"],
    blocks: &["port"],
    unsupported: &["reserved_ports", "dynamic_ports"],
};

pub(super) const NETWORK: Schema = Schema {
    attributes: &["mode", "hostname", "mbits"],
    blocks: &["port", "dns"],
    unsupported: &["cni"],
};

pub(super) const PORT: Schema = Schema {
    attributes: &["static", "to", "host_network"],
    blocks: &[],
    unsupported: &[],
};

pub(super) const DNS: Schema = Schema {
    attributes: &["servers", "searches", "options"],
    blocks: &[],
    unsupported: &[],
};

pub(super) const SERVICE: Schema = Schema {
    attributes: &[
        "name",
        "port",
        "tags",
        "canary_tags",
        "meta",
        "canary_meta",
        "address_mode",
        "address",
        "provider",
        "task",
        "enable_tag_override",
        "on_update",
    ],
    blocks: &["check", "meta", "canary_meta"],
    unsupported: &[
        "connect",
        "identity",
        "tagged_addresses",
        "weights",
        "kind",
        "cluster",
    ],
};

pub(super) const CHECK: Schema = Schema {
    attributes: &[
        "name",
        "type",
        "path",
        "method",
        "header",
        "body",
        "protocol",
        "port",
        "address_mode",
        "interval",
        "timeout",
        "command",
        "args",
        "task",
        "initial_status",
        "tls_skip_verify",
        "success_before_passing",
        "failures_before_critical",
        "on_update",
    ],
    blocks: &["check_restart", "header"],
    unsupported: &[
        "expose",
        "grpc_service",
        "grpc_use_tls",
        "tls_server_name",
        "notes",
    ],
};

pub(super) const CHECK_RESTART: Schema = Schema {
    attributes: &["limit", "grace", "ignore_warnings"],
    blocks: &[],
    unsupported: &[],
};

pub(super) const VOLUME: Schema = Schema {
    attributes: &[
        "type",
        "source",
        "read_only",
        "access_mode",
        "attachment_mode",
        "per_alloc",
    ],
    blocks: &[],
    unsupported: &["mount_options", "sticky"],
};

pub(super) const RESTART: Schema = Schema {
    attributes: &["attempts", "interval", "delay", "mode", "render_templates"],
    blocks: &[],
    unsupported: &[],
};

pub(super) const RESCHEDULE: Schema = Schema {
    attributes: &[
        "attempts",
        "interval",
        "delay",
        "delay_function",
        "max_delay",
        "unlimited",
    ],
    blocks: &[],
    unsupported: &[],
};

pub(super) const MIGRATE: Schema = Schema {
    attributes: &[
        "max_parallel",
        "health_check",
        "min_healthy_time",
        "healthy_deadline",
    ],
    blocks: &[],
    unsupported: &[],
};

pub(super) const UPDATE: Schema = Schema {
    attributes: &[
        "max_parallel",
        "health_check",
        "min_healthy_time",
        "healthy_deadline",
        "progress_deadline",
        "auto_revert",
        "auto_promote",
        "canary",
        "stagger",
    ],
    blocks: &[],
    unsupported: &[],
};

pub(super) const EPHEMERAL_DISK: Schema = Schema {
    attributes: &["size", "sticky", "migrate"],
    blocks: &[],
    unsupported: &[],
};

pub(super) const DISCONNECT: Schema = Schema {
    attributes: &["lost_after", "stop_on_client_after", "replace", "reconcile"],
    blocks: &[],
    unsupported: &[],
};

pub(super) const PERIODIC: Schema = Schema {
    attributes: &["cron", "crons", "prohibit_overlap", "time_zone", "enabled"],
    blocks: &[],
    unsupported: &[],
};

pub(super) const PARAMETERIZED: Schema = Schema {
    attributes: &["payload", "meta_required", "meta_optional"],
    blocks: &[],
    unsupported: &[],
};

/// Besides `attribute`/`operator`/`value`, Nomad's shorthands: each names
/// the operator and holds the value (or `true` for `distinct_hosts`).
pub(super) const CONSTRAINT: Schema = Schema {
    attributes: &[
        "attribute",
        "operator",
        "value",
        "distinct_hosts",
        "distinct_property",
        "regexp",
        "set_contains",
        "set_contains_any",
        "version",
        "semver",
    ],
    blocks: &[],
    unsupported: &[],
};

pub(super) const AFFINITY: Schema = Schema {
    attributes: &[
        "attribute",
        "operator",
        "value",
        "weight",
        "regexp",
        "set_contains",
        "set_contains_any",
        "version",
        "semver",
    ],
    blocks: &[],
    unsupported: &[],
};

pub(super) const SPREAD: Schema = Schema {
    attributes: &["attribute", "weight"],
    blocks: &["target"],
    unsupported: &[],
};

pub(super) const SPREAD_TARGET: Schema = Schema {
    attributes: &["percent"],
    blocks: &[],
    unsupported: &[],
};

pub(super) const TEMPLATE: Schema = Schema {
    attributes: &[
        "source",
        "destination",
        "data",
        "change_mode",
        "change_signal",
        "splay",
        "perms",
        "left_delimiter",
        "right_delimiter",
        "env",
    ],
    blocks: &[],
    unsupported: &[
        "uid",
        "gid",
        "error_on_missing_key",
        "vault_grace",
        "change_script",
        "wait",
    ],
};

pub(super) const VOLUME_MOUNT: Schema = Schema {
    attributes: &["volume", "destination", "read_only", "propagation_mode"],
    blocks: &[],
    unsupported: &["selinux_label"],
};

pub(super) const LIFECYCLE: Schema = Schema {
    attributes: &["hook", "sidecar"],
    blocks: &[],
    unsupported: &[],
};

pub(super) const LOGS: Schema = Schema {
    attributes: &["max_files", "max_file_size", "disabled", "enabled"],
    blocks: &[],
    unsupported: &[],
};

pub(super) const ARTIFACT: Schema = Schema {
    attributes: &["source", "destination", "mode", "options", "headers"],
    blocks: &["options", "headers"],
    unsupported: &["chown"],
};

pub(super) const DISPATCH_PAYLOAD: Schema = Schema {
    attributes: &["file"],
    blocks: &[],
    unsupported: &[],
};
