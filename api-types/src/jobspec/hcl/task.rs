//! Readers for the `task` block and what only tasks have: `resources`,
//! `template`, `artifact`, `volume_mount`, `lifecycle`, `logs`,
//! `dispatch_payload` and the driver `config`.

use hcl_edit::structure::Block;
use hcl_edit::Span;

use crate::task::{
    Artifact, DispatchPayload, Lifecycle, LogConfig, Resources, Task, Template, VolumeMount,
};

use super::body::{Decoder, Reader};
use super::legacy::LegacyTask;
use super::{config, decode, policies as p, schema, service};

/// Decodes `task "<name>" { … }`, with the 0.x parts the group must map.
pub(super) fn task(
    d: &mut Decoder,
    name: String,
    block: &Block,
    group: &Reader,
) -> (Task, LegacyTask) {
    let r = Reader::open(
        d,
        &block.body,
        &schema::TASK,
        group.child("task", Some(&name)),
    );
    let mut legacy = LegacyTask::default();
    let mut t = Task {
        name,
        ..Task::default()
    };
    t.driver = r.string(d, "driver").unwrap_or_default();
    t.user = r.string(d, "user").unwrap_or_default();
    driver_config(d, &r, &mut t, &mut legacy);
    t.env = r.string_map(d, "env");
    t.meta = r.string_map(d, "meta");
    if let Some(b) = r.block(d, "resources") {
        t.resources = resources(d, b, &r, &mut legacy);
    }
    t.services = service::services(d, &r);
    t.templates = r.blocks("template").map(|b| template(d, b, &r)).collect();
    t.volume_mounts = r
        .blocks("volume_mount")
        .map(|b| volume_mount(d, b, &r))
        .collect();
    t.artifacts = r.blocks("artifact").map(|b| artifact(d, b, &r)).collect();
    t.constraints = p::constraints(d, &r);
    t.affinities = p::affinities(d, &r);
    t.lifecycle = r.block(d, "lifecycle").map(|b| lifecycle(d, b, &r));
    t.leader = r.bool(d, "leader").unwrap_or_default();
    if let Some(timeout) = r.duration(d, "kill_timeout") {
        t.kill_timeout = timeout;
    }
    t.kill_signal = r.string(d, "kill_signal").unwrap_or_default();
    t.shutdown_delay = r.duration(d, "shutdown_delay");
    t.restart = p::restart(d, &r);
    if let Some(b) = r.block(d, "logs") {
        t.logs = logs(d, b, &r);
    }
    t.dispatch_payload = r.block(d, "dispatch_payload").map(|b| {
        let p = Reader::open(
            d,
            &b.body,
            &schema::DISPATCH_PAYLOAD,
            r.child("dispatch_payload", None),
        );
        DispatchPayload {
            file: p.string(d, "file").unwrap_or_default(),
        }
    });
    (t, legacy)
}

/// `config { … }`, or the rarer `config = { … }`.
fn driver_config(d: &mut Decoder, r: &Reader, t: &mut Task, legacy: &mut LegacyTask) {
    if let Some(b) = r.block(d, "config") {
        let (config, port_map) = config::decode(d, &b.body, &r.child("config", None));
        t.config = config;
        legacy.port_map = port_map;
    } else if let Some((value, expr)) = r.value(d, "config") {
        t.config = config::from_value(d, &value, expr.span(), &r.path);
    }
}

fn lifecycle(d: &mut Decoder, block: &Block, task: &Reader) -> Lifecycle {
    let l = Reader::open(
        d,
        &block.body,
        &schema::LIFECYCLE,
        task.child("lifecycle", None),
    );
    Lifecycle {
        hook: l.string(d, "hook").unwrap_or_default(),
        sidecar: l.bool(d, "sidecar").unwrap_or_default(),
    }
}

fn resources(d: &mut Decoder, block: &Block, task: &Reader, legacy: &mut LegacyTask) -> Resources {
    let r = Reader::open(
        d,
        &block.body,
        &schema::RESOURCES,
        task.child("resources", None),
    );
    let mut res = Resources::default();
    if let Some(cpu) = r.int(d, "cpu") {
        res.cpu = cpu;
    }
    res.cores = r.int(d, "cores");
    if let Some(memory) = r.int(d, "memory") {
        res.memory = memory;
    }
    res.memory_max = r.int(d, "memory_max");
    res.disk = r.int(d, "disk");
    if let Some(b) = r.block(d, "network") {
        let network = decode::network(d, b, r.child("network", None), &schema::LEGACY_NETWORK);
        legacy.network = Some((network, b.ident.span(), r.path.clone()));
    }
    res
}

fn template(d: &mut Decoder, block: &Block, task: &Reader) -> Template {
    let r = Reader::open(
        d,
        &block.body,
        &schema::TEMPLATE,
        task.child("template", None),
    );
    let mut t = Template::default();
    let set = |d: &mut Decoder, field: &mut String, name| {
        if let Some(v) = r.string(d, name) {
            *field = v;
        }
    };
    set(d, &mut t.source, "source");
    set(d, &mut t.destination, "destination");
    set(d, &mut t.data, "data");
    set(d, &mut t.change_mode, "change_mode");
    set(d, &mut t.change_signal, "change_signal");
    set(d, &mut t.perms, "perms");
    set(d, &mut t.left_delimiter, "left_delimiter");
    set(d, &mut t.right_delimiter, "right_delimiter");
    if let Some(splay) = r.duration(d, "splay") {
        t.splay = splay;
    }
    if let Some(env) = r.bool(d, "env") {
        t.env = env;
    }
    t
}

fn volume_mount(d: &mut Decoder, block: &Block, task: &Reader) -> VolumeMount {
    let r = Reader::open(
        d,
        &block.body,
        &schema::VOLUME_MOUNT,
        task.child("volume_mount", None),
    );
    VolumeMount {
        volume: r.string(d, "volume").unwrap_or_default(),
        destination: r.string(d, "destination").unwrap_or_default(),
        read_only: r.bool(d, "read_only").unwrap_or_default(),
        propagation_mode: r.string(d, "propagation_mode").unwrap_or_default(),
    }
}

fn artifact(d: &mut Decoder, block: &Block, task: &Reader) -> Artifact {
    let r = Reader::open(
        d,
        &block.body,
        &schema::ARTIFACT,
        task.child("artifact", None),
    );
    Artifact {
        source: r.string(d, "source").unwrap_or_default(),
        destination: r.string(d, "destination").unwrap_or_default(),
        mode: r.string(d, "mode").unwrap_or_default(),
        options: r.string_map(d, "options"),
        headers: r.string_map(d, "headers"),
    }
}

fn logs(d: &mut Decoder, block: &Block, task: &Reader) -> LogConfig {
    let r = Reader::open(d, &block.body, &schema::LOGS, task.child("logs", None));
    let mut logs = LogConfig::default();
    if let Some(n) = r.int(d, "max_files") {
        logs.max_files = n;
    }
    if let Some(n) = r.int(d, "max_file_size") {
        logs.max_file_size = n;
    }
    // Nomad before 1.6 wrote `enabled`; `disabled` replaced it.
    if let Some(enabled) = r.bool(d, "enabled") {
        logs.disabled = !enabled;
    }
    if let Some(disabled) = r.bool(d, "disabled") {
        logs.disabled = disabled;
    }
    logs
}
