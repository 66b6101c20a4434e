//! Readers for the `job` and `group` blocks and the group's `network` and
//! `volume` blocks.

use hcl_edit::structure::Block;
use hcl_edit::Span;

use crate::diagnostic::suggestion_suffix;
use crate::group::{DnsConfig, Network, Port, TaskGroup, VolumeRequest};
use crate::job::{Job, JobSpec, JobType};
use crate::meta::{ObjectMeta, API_VERSION};

use super::body::{Decoder, Reader, Schema};
use super::{legacy, policies as p, schema, service, task};

/// Decodes `job "<name>" { … }`.
pub(super) fn job(d: &mut Decoder, name: String, block: &Block) -> Job {
    let r = Reader::open(d, &block.body, &schema::JOB, format!("job {name:?}"));
    let mut metadata = ObjectMeta {
        name: name.clone(),
        ..ObjectMeta::default()
    };
    if let Some(namespace) = r.string(d, "namespace") {
        metadata.namespace = namespace;
    }
    if r.attribute("id").is_some() {
        let message =
            format!("\"id\" cannot be set: a job's id is its label, job {name:?} {{ … }}");
        d.error(r.span_of("id"), &r.path, message);
    }
    let mut spec = JobSpec {
        display_name: r.string(d, "name"),
        ..JobSpec::default()
    };
    if let Some(job_type) = job_type(d, &r) {
        spec.job_type = job_type;
    }
    if let Some(region) = r.string(d, "region") {
        spec.region = region;
    }
    if let Some(datacenters) = r.strings(d, "datacenters") {
        spec.datacenters = datacenters;
    }
    if let Some(pool) = r.string(d, "node_pool") {
        spec.node_pool = pool;
    }
    if let Some(priority) = r.int(d, "priority") {
        spec.priority = priority;
    }
    if let Some(all) = r.bool(d, "all_at_once") {
        spec.all_at_once = all;
    }
    spec.meta = r.string_map(d, "meta");
    spec.constraints = p::constraints(d, &r);
    spec.affinities = p::affinities(d, &r);
    spec.spreads = p::spreads(d, &r);
    spec.update = p::update(d, &r);
    spec.periodic = p::periodic(d, &r);
    spec.parameterized = p::parameterized(d, &r);
    spec.reschedule = p::reschedule(d, &r);
    spec.migrate = p::migrate(d, &r);
    spec.groups = r
        .labeled(d, "group")
        .into_iter()
        .map(|(name, b)| group(d, name, b, &r))
        .collect();
    Job {
        api_version: API_VERSION.into(),
        kind: "Job".into(),
        metadata,
        spec,
        status: None,
    }
}

fn job_type(d: &mut Decoder, r: &Reader) -> Option<JobType> {
    let text = r.string(d, "type")?;
    let parsed = JobType::parse(&text);
    if parsed.is_none() {
        let suffix = suggestion_suffix(&text, JobType::ALL);
        let span = r.attribute("type").and_then(|a| a.value.span());
        let message = format!("unknown job type {text:?}{suffix}: use \"service\", \"batch\", \"system\" or \"sysbatch\"");
        d.error(span, &r.path, message);
    }
    parsed
}

fn group(d: &mut Decoder, name: String, block: &Block, job: &Reader) -> TaskGroup {
    let r = Reader::open(
        d,
        &block.body,
        &schema::GROUP,
        job.child("group", Some(&name)),
    );
    let mut g = TaskGroup {
        name,
        ..TaskGroup::default()
    };
    if let Some(count) = r.int(d, "count") {
        g.count = count;
    }
    g.shutdown_delay = r.duration(d, "shutdown_delay");
    g.meta = r.string_map(d, "meta");
    g.constraints = p::constraints(d, &r);
    g.affinities = p::affinities(d, &r);
    g.spreads = p::spreads(d, &r);
    g.network = r.block(d, "network").map(|b| {
        let path = r.child("network", None);
        network(d, b, path, &schema::NETWORK)
    });
    g.services = service::services(d, &r);
    g.volumes = volumes(d, &r);
    g.restart = p::restart(d, &r);
    g.reschedule = p::reschedule(d, &r);
    g.migrate = p::migrate(d, &r);
    g.update = p::update(d, &r);
    g.ephemeral_disk = p::ephemeral_disk(d, &r);
    g.disconnect = p::disconnect(d, &r);
    legacy::disconnect(d, &r, &mut g);
    let tasks: Vec<_> = r
        .labeled(d, "task")
        .into_iter()
        .map(|(name, b)| task::task(d, name, b, &r))
        .collect();
    for (task, legacy_parts) in tasks {
        let path = r.child("task", Some(&task.name));
        let mut task = task;
        legacy::apply(d, &mut g, &mut task, legacy_parts, &path);
        g.tasks.push(task);
    }
    g
}

/// A group `network` block, or (with [`schema::LEGACY_NETWORK`]) the 0.x
/// task-level one.
pub(super) fn network(d: &mut Decoder, block: &Block, path: String, schema: &Schema) -> Network {
    let r = Reader::open(d, &block.body, schema, path);
    let mut n = Network::default();
    if let Some(mode) = r.string(d, "mode") {
        n.mode = mode;
    }
    n.hostname = r.string(d, "hostname");
    n.mbits = r.int(d, "mbits");
    n.ports = r
        .labeled(d, "port")
        .into_iter()
        .map(|(label, b)| {
            let p = Reader::open(d, &b.body, &schema::PORT, r.child("port", Some(&label)));
            Port {
                static_port: p.int(d, "static"),
                to: p.int(d, "to"),
                host_network: p.string(d, "host_network").unwrap_or_default(),
                label,
            }
        })
        .collect();
    n.dns = r.block(d, "dns").map(|b| {
        let dns = Reader::open(d, &b.body, &schema::DNS, r.child("dns", None));
        DnsConfig {
            servers: dns.strings(d, "servers").unwrap_or_default(),
            searches: dns.strings(d, "searches").unwrap_or_default(),
            options: dns.strings(d, "options").unwrap_or_default(),
        }
    });
    n
}

fn volumes(d: &mut Decoder, r: &Reader) -> std::collections::BTreeMap<String, VolumeRequest> {
    let mut out = std::collections::BTreeMap::new();
    for (name, b) in r.labeled(d, "volume") {
        let v = Reader::open(d, &b.body, &schema::VOLUME, r.child("volume", Some(&name)));
        let request = VolumeRequest {
            volume_type: v.string(d, "type").unwrap_or_default(),
            source: v.string(d, "source").unwrap_or_default(),
            read_only: v.bool(d, "read_only").unwrap_or_default(),
            access_mode: v.string(d, "access_mode").unwrap_or_default(),
            attachment_mode: v.string(d, "attachment_mode").unwrap_or_default(),
            per_alloc: v.bool(d, "per_alloc").unwrap_or_default(),
        };
        if out.insert(name.clone(), request).is_some() {
            d.error(
                b.ident.span(),
                &r.path,
                format!("volume {name:?} is declared twice"),
            );
        }
    }
    out
}
