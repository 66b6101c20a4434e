//! Readers for `service` blocks (group or task level) and their `check`s.

use std::collections::BTreeMap;

use hcl::Value;
use hcl_edit::structure::{Block, Structure};
use hcl_edit::Span;

use crate::group::{Check, CheckRestart, Service};

use super::body::{as_string, as_strings, describe, Decoder, Reader};
use super::schema;

pub(super) fn services(d: &mut Decoder, r: &Reader) -> Vec<Service> {
    r.blocks("service").map(|b| service(d, b, r)).collect()
}

/// The service's name for its path, when it is plain enough to read early.
fn peek_name(d: &Decoder, block: &Block) -> Option<String> {
    let attr = block.body.get_attribute("name")?;
    d.eval
        .eval(&attr.value)
        .ok()
        .and_then(|v| as_string(&v).ok())
}

fn service(d: &mut Decoder, block: &Block, parent: &Reader) -> Service {
    let path = parent.child("service", peek_name(d, block).as_deref());
    let r = Reader::open(d, &block.body, &schema::SERVICE, path);
    let mut s = Service::default();
    let strings = |d: &mut Decoder, name| r.string(d, name).unwrap_or_default();
    s.name = strings(d, "name");
    s.port = strings(d, "port");
    s.tags = r.strings(d, "tags").unwrap_or_default();
    s.canary_tags = r.strings(d, "canary_tags").unwrap_or_default();
    s.meta = r.string_map(d, "meta");
    s.canary_meta = r.string_map(d, "canary_meta");
    if let Some(mode) = r.string(d, "address_mode") {
        s.address_mode = mode;
    }
    s.address = strings(d, "address");
    if let Some(provider) = r.string(d, "provider") {
        s.provider = provider;
    }
    s.task = strings(d, "task");
    s.enable_tag_override = r.bool(d, "enable_tag_override").unwrap_or_default();
    s.on_update = strings(d, "on_update");
    s.checks = r.blocks("check").map(|b| check(d, b, &r)).collect();
    s
}

fn check(d: &mut Decoder, block: &Block, service: &Reader) -> Check {
    let path = service.child("check", peek_name(d, block).as_deref());
    let r = Reader::open(d, &block.body, &schema::CHECK, path);
    let strings = |d: &mut Decoder, name| r.string(d, name).unwrap_or_default();
    let mut c = Check {
        name: strings(d, "name"),
        check_type: strings(d, "type"),
        path: strings(d, "path"),
        method: strings(d, "method"),
        header: header(d, &r),
        body: strings(d, "body"),
        protocol: strings(d, "protocol"),
        port: strings(d, "port"),
        address_mode: strings(d, "address_mode"),
        command: strings(d, "command"),
        args: r.strings(d, "args").unwrap_or_default(),
        task: strings(d, "task"),
        initial_status: strings(d, "initial_status"),
        tls_skip_verify: r.bool(d, "tls_skip_verify").unwrap_or_default(),
        success_before_passing: r.int(d, "success_before_passing"),
        failures_before_critical: r.int(d, "failures_before_critical"),
        on_update: strings(d, "on_update"),
        ..Check::default()
    };
    if let Some(interval) = r.duration(d, "interval") {
        c.interval = interval;
    }
    if let Some(timeout) = r.duration(d, "timeout") {
        c.timeout = timeout;
    }
    c.check_restart = r.block(d, "check_restart").map(|b| {
        let cr = Reader::open(
            d,
            &b.body,
            &schema::CHECK_RESTART,
            r.child("check_restart", None),
        );
        CheckRestart {
            limit: cr.int(d, "limit").unwrap_or_default(),
            grace: cr.duration(d, "grace").unwrap_or_default(),
            ignore_warnings: cr.bool(d, "ignore_warnings").unwrap_or_default(),
        }
    });
    c
}

/// `header { Authorization = ["Basic x"] }` or `header = { … }`: each value
/// a list of strings (a lone string is taken as a list of one).
fn header(d: &mut Decoder, r: &Reader) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    let mut entries: Vec<(String, Value, Option<std::ops::Range<usize>>)> = Vec::new();
    match r.value(d, "header") {
        Some((Value::Object(map), expr)) => {
            entries.extend(map.into_iter().map(|(k, v)| (k, v, expr.span())));
        }
        Some((other, expr)) => {
            let message = format!(
                "\"header\" must be a map of lists of strings, got {}",
                describe(&other)
            );
            d.error(expr.span(), &r.path, message);
        }
        None => {}
    }
    let path = r.child("header", None);
    for block in r.blocks("header") {
        for structure in block.body.iter() {
            match structure {
                Structure::Attribute(a) => {
                    if let Some(v) = d.value(&a.value, &path) {
                        entries.push((a.key.to_string(), v, a.value.span()));
                    }
                }
                Structure::Block(b) => d.error(
                    b.ident.span(),
                    &path,
                    "\"header\" holds only Name = [\"value\"] pairs",
                ),
            }
        }
    }
    for (name, value, span) in entries {
        let values = match &value {
            Value::String(s) => Ok(vec![s.clone()]),
            other => as_strings(other),
        };
        match values {
            Ok(values) => {
                out.insert(name, values);
            }
            Err(_) => d.error(
                span,
                &path,
                format!(
                    "header {name:?} must be a list of strings, got {}",
                    describe(&value)
                ),
            ),
        }
    }
    out
}
