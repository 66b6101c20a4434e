//! Readers for the small blocks shared by several levels: placement rules
//! (`constraint`, `affinity`, `spread`) and policies (`update`, `migrate`,
//! `reschedule`, `restart`, `periodic`, `parameterized`, `ephemeral_disk`,
//! `disconnect`).

use hcl_edit::structure::Block;

use crate::defaults::DEFAULT_WEIGHT;
use crate::diagnostic::suggestion_suffix;
use crate::group::{Disconnect, EphemeralDisk};
use crate::job::{
    Affinity, Constraint, MigrateStrategy, Parameterized, Periodic, ReschedulePolicy,
    RestartPolicy, Spread, SpreadTarget, UpdateStrategy,
};

use super::body::{Decoder, Reader};
use super::schema;

/// Operators that Nomad lets a constraint or affinity name as an attribute
/// holding the value: `regexp = "^linux"`.
const SHORTHAND_OPERATORS: [&str; 5] = [
    "regexp",
    "set_contains",
    "set_contains_any",
    "version",
    "semver",
];

pub(super) fn constraints(d: &mut Decoder, r: &Reader) -> Vec<Constraint> {
    let path = r.child("constraint", None);
    r.blocks("constraint")
        .filter_map(|b| constraint(d, b, path.clone()))
        .collect()
}

/// `None` for `distinct_hosts = false`, which Nomad drops.
fn constraint(d: &mut Decoder, block: &Block, path: String) -> Option<Constraint> {
    let r = Reader::open(d, &block.body, &schema::CONSTRAINT, path);
    let mut c = Constraint {
        attribute: r.string(d, "attribute").unwrap_or_default(),
        operator: r.string(d, "operator").unwrap_or_default(),
        value: r.string(d, "value").unwrap_or_default(),
    };
    if let Some(enabled) = r.bool(d, "distinct_hosts") {
        if !enabled {
            return None;
        }
        c.operator = "distinct_hosts".into();
        c.value = "true".into();
    }
    if let Some(attribute) = r.string(d, "distinct_property") {
        c.operator = "distinct_property".into();
        c.attribute = attribute;
    }
    for op in SHORTHAND_OPERATORS {
        if let Some(value) = r.string(d, op) {
            c.operator = op.into();
            c.value = value;
        }
    }
    Some(c)
}

pub(super) fn affinities(d: &mut Decoder, r: &Reader) -> Vec<Affinity> {
    let path = r.child("affinity", None);
    r.blocks("affinity")
        .map(|b| {
            let r = Reader::open(d, &b.body, &schema::AFFINITY, path.clone());
            let mut a = Affinity {
                attribute: r.string(d, "attribute").unwrap_or_default(),
                operator: r.string(d, "operator").unwrap_or_default(),
                value: r.string(d, "value").unwrap_or_default(),
                weight: r.int(d, "weight").unwrap_or(DEFAULT_WEIGHT),
            };
            for op in SHORTHAND_OPERATORS {
                if let Some(value) = r.string(d, op) {
                    a.operator = op.into();
                    a.value = value;
                }
            }
            a
        })
        .collect()
}

pub(super) fn spreads(d: &mut Decoder, r: &Reader) -> Vec<Spread> {
    let path = r.child("spread", None);
    r.blocks("spread")
        .map(|b| {
            let r = Reader::open(d, &b.body, &schema::SPREAD, path.clone());
            let targets = r
                .labeled(d, "target")
                .into_iter()
                .map(|(value, t)| {
                    let path = r.child("target", Some(&value));
                    let t = Reader::open(d, &t.body, &schema::SPREAD_TARGET, path);
                    SpreadTarget {
                        percent: t.int(d, "percent").unwrap_or_default(),
                        value,
                    }
                })
                .collect();
            Spread {
                attribute: r.string(d, "attribute").unwrap_or_default(),
                weight: r.int(d, "weight").unwrap_or(DEFAULT_WEIGHT),
                targets,
            }
        })
        .collect()
}

/// Opens the single `name` block of `r`, if any.
fn open<'b>(
    d: &mut Decoder,
    r: &Reader<'b>,
    name: &'b str,
    schema: &super::body::Schema,
) -> Option<Reader<'b>> {
    let block = r.block(d, name)?;
    Some(Reader::open(d, &block.body, schema, r.child(name, None)))
}

pub(super) fn update(d: &mut Decoder, r: &Reader) -> Option<UpdateStrategy> {
    let u = open(d, r, "update", &schema::UPDATE)?;
    Some(UpdateStrategy {
        max_parallel: u.int(d, "max_parallel"),
        health_check: u.string(d, "health_check"),
        min_healthy_time: u.duration(d, "min_healthy_time"),
        healthy_deadline: u.duration(d, "healthy_deadline"),
        progress_deadline: u.duration(d, "progress_deadline"),
        auto_revert: u.bool(d, "auto_revert"),
        auto_promote: u.bool(d, "auto_promote"),
        canary: u.int(d, "canary"),
        stagger: u.duration(d, "stagger"),
    })
}

pub(super) fn migrate(d: &mut Decoder, r: &Reader) -> Option<MigrateStrategy> {
    let m = open(d, r, "migrate", &schema::MIGRATE)?;
    Some(MigrateStrategy {
        max_parallel: m.int(d, "max_parallel"),
        health_check: m.string(d, "health_check"),
        min_healthy_time: m.duration(d, "min_healthy_time"),
        healthy_deadline: m.duration(d, "healthy_deadline"),
    })
}

pub(super) fn reschedule(d: &mut Decoder, r: &Reader) -> Option<ReschedulePolicy> {
    let p = open(d, r, "reschedule", &schema::RESCHEDULE)?;
    Some(ReschedulePolicy {
        attempts: p.int(d, "attempts"),
        interval: p.duration(d, "interval"),
        delay: p.duration(d, "delay"),
        delay_function: p.string(d, "delay_function"),
        max_delay: p.duration(d, "max_delay"),
        unlimited: p.bool(d, "unlimited"),
    })
}

pub(super) fn restart(d: &mut Decoder, r: &Reader) -> Option<RestartPolicy> {
    let p = open(d, r, "restart", &schema::RESTART)?;
    Some(RestartPolicy {
        attempts: p.int(d, "attempts"),
        interval: p.duration(d, "interval"),
        delay: p.duration(d, "delay"),
        mode: p.string(d, "mode"),
        render_templates: p.bool(d, "render_templates"),
    })
}

pub(super) fn periodic(d: &mut Decoder, r: &Reader) -> Option<Periodic> {
    let p = open(d, r, "periodic", &schema::PERIODIC)?;
    let mut periodic = Periodic::default();
    if let Some(cron) = p.string(d, "cron") {
        periodic.crons.push(cron);
    }
    periodic
        .crons
        .extend(p.strings(d, "crons").unwrap_or_default());
    if let Some(v) = p.bool(d, "prohibit_overlap") {
        periodic.prohibit_overlap = v;
    }
    if let Some(v) = p.string(d, "time_zone") {
        periodic.time_zone = v;
    }
    if let Some(v) = p.bool(d, "enabled") {
        periodic.enabled = v;
    }
    Some(periodic)
}

pub(super) fn parameterized(d: &mut Decoder, r: &Reader) -> Option<Parameterized> {
    let p = open(d, r, "parameterized", &schema::PARAMETERIZED)?;
    let mut out = Parameterized::default();
    if let Some(payload) = p.string(d, "payload") {
        const PAYLOADS: [&str; 3] = ["optional", "required", "forbidden"];
        if !PAYLOADS.contains(&payload.as_str()) {
            let suffix = suggestion_suffix(&payload, PAYLOADS);
            let span = p
                .attribute("payload")
                .and_then(|a| hcl_edit::Span::span(&a.value));
            let message = format!("\"payload\" must be \"optional\", \"required\" or \"forbidden\", got {payload:?}{suffix}");
            d.error(span, &p.path, message);
        }
        out.payload = payload;
    }
    out.meta_required = p.strings(d, "meta_required").unwrap_or_default();
    out.meta_optional = p.strings(d, "meta_optional").unwrap_or_default();
    Some(out)
}

pub(super) fn ephemeral_disk(d: &mut Decoder, r: &Reader) -> Option<EphemeralDisk> {
    let e = open(d, r, "ephemeral_disk", &schema::EPHEMERAL_DISK)?;
    let mut disk = EphemeralDisk::default();
    if let Some(size) = e.int(d, "size") {
        disk.size = size;
    }
    if let Some(sticky) = e.bool(d, "sticky") {
        disk.sticky = sticky;
    }
    if let Some(migrate) = e.bool(d, "migrate") {
        disk.migrate = migrate;
    }
    Some(disk)
}

pub(super) fn disconnect(d: &mut Decoder, r: &Reader) -> Option<Disconnect> {
    let p = open(d, r, "disconnect", &schema::DISCONNECT)?;
    Some(Disconnect {
        lost_after: p.duration(d, "lost_after"),
        stop_on_client_after: p.duration(d, "stop_on_client_after"),
        replace: p.bool(d, "replace").unwrap_or(true),
        reconcile: p.string(d, "reconcile").unwrap_or_default(),
    })
}
