//! Driver `config` blocks, which have no schema: attributes become JSON
//! values, nested blocks become objects, and a block written several times
//! becomes a list of objects.
//!
//! Two spellings of the same thing are normalized so either gives an equal
//! config: `mount { … }` blocks and the `mounts = [{ … }]` attribute both end
//! as the list `mount`. The 0.x `port_map` is taken out and handed back to
//! be mapped onto the group network (see [`super::legacy`]).

use std::ops::Range;

use hcl::Value;
use hcl_edit::structure::{Body, Structure};
use hcl_edit::Span;

use crate::task::DriverConfig;

use super::body::{as_int, describe, Decoder};

/// Blocks kept as a list even when written once.
const LIST_BLOCKS: [&str; 1] = ["mount"];

/// The 0.x `port_map { label = container_port }` of a docker config.
#[derive(Debug, Default)]
pub(super) struct PortMap {
    pub entries: Vec<(String, i64)>,
    pub span: Option<Range<usize>>,
}

/// The config as JSON, and its legacy `port_map` if it had one.
pub(super) fn decode(d: &mut Decoder, body: &Body, path: &str) -> (DriverConfig, Option<PortMap>) {
    let mut config = object(d, body, path);
    let port_map = config.remove("port_map").map(|value| {
        let span = body
            .get_attribute("port_map")
            .and_then(|a| a.key.span())
            .or_else(|| {
                body.get_blocks("port_map")
                    .next()
                    .and_then(|b| b.ident.span())
            });
        port_map(d, &value, span, path)
    });
    if let Some(serde_json::Value::Array(mounts)) = config.remove("mounts") {
        match config.get_mut("mount") {
            Some(serde_json::Value::Array(list)) => list.extend(mounts),
            _ => {
                config.insert("mount".into(), serde_json::Value::Array(mounts));
            }
        }
    }
    (config, port_map)
}

/// The same conversion for `config = { … }` written as an attribute.
pub(super) fn from_value(
    d: &mut Decoder,
    value: &Value,
    span: Option<Range<usize>>,
    path: &str,
) -> DriverConfig {
    match to_json(value) {
        serde_json::Value::Object(map) => map,
        _ => {
            d.error(
                span,
                path,
                format!(
                    "\"config\" must be a block or an object, got {}",
                    describe(value)
                ),
            );
            DriverConfig::new()
        }
    }
}

fn object(d: &mut Decoder, body: &Body, path: &str) -> DriverConfig {
    let mut out = DriverConfig::new();
    let mut blocks: Vec<(String, Vec<serde_json::Value>)> = Vec::new();
    for structure in body.iter() {
        match structure {
            Structure::Attribute(a) => {
                if let Some(value) = d.value(&a.value, path) {
                    out.insert(a.key.to_string(), to_json(&value));
                }
            }
            Structure::Block(b) => {
                let path = format!("{path} {}", b.ident.as_str());
                let mut value = serde_json::Value::Object(object(d, &b.body, &path));
                // Labels nest: `a "x" "y" {}` is `a = { x = { y = {} } }`.
                for label in b.labels.iter().rev() {
                    let mut wrapper = DriverConfig::new();
                    wrapper.insert(label.as_str().to_string(), value);
                    value = serde_json::Value::Object(wrapper);
                }
                let ident = b.ident.to_string();
                match blocks.iter_mut().find(|(name, _)| *name == ident) {
                    Some((_, list)) => list.push(value),
                    None => blocks.push((ident, vec![value])),
                }
            }
        }
    }
    for (name, mut list) in blocks {
        let value = if list.len() == 1 && !LIST_BLOCKS.contains(&name.as_str()) {
            list.remove(0)
        } else {
            serde_json::Value::Array(list)
        };
        out.insert(name, value);
    }
    out
}

fn port_map(
    d: &mut Decoder,
    value: &serde_json::Value,
    span: Option<Range<usize>>,
    path: &str,
) -> PortMap {
    let mut map = PortMap {
        span: span.clone(),
        ..PortMap::default()
    };
    // Written once it is an object; written as repeated blocks, a list of them.
    let objects: Vec<&serde_json::Map<String, serde_json::Value>> = match value {
        serde_json::Value::Object(o) => vec![o],
        serde_json::Value::Array(items) => items.iter().filter_map(|i| i.as_object()).collect(),
        _ => Vec::new(),
    };
    for (label, port) in objects.into_iter().flatten() {
        let parsed = from_json(port);
        match as_int(&parsed) {
            Ok(to) => map.entries.push((label.clone(), to)),
            Err(_) => d.error(
                span.clone(),
                path,
                format!(
                    "port_map: the port of {label:?} must be a whole number, got {}",
                    describe(&parsed)
                ),
            ),
        }
    }
    map
}

/// HCL values map one to one onto JSON; integers stay integers.
pub(super) fn to_json(value: &Value) -> serde_json::Value {
    match value {
        Value::Null => serde_json::Value::Null,
        Value::Bool(b) => serde_json::Value::Bool(*b),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => i.into(),
            (None, Some(u), _) => u.into(),
            (None, None, Some(f)) => serde_json::Number::from_f64(f)
                .map_or(serde_json::Value::Null, serde_json::Value::Number),
            _ => serde_json::Value::Null,
        },
        Value::String(s) => serde_json::Value::String(s.clone()),
        Value::Array(items) => serde_json::Value::Array(items.iter().map(to_json).collect()),
        Value::Object(map) => {
            serde_json::Value::Object(map.iter().map(|(k, v)| (k.clone(), to_json(v))).collect())
        }
    }
}

pub(super) fn from_json(value: &serde_json::Value) -> Value {
    match value {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => Value::from(i),
            (None, Some(f)) => Value::from(f),
            _ => Value::Null,
        },
        serde_json::Value::String(s) => Value::String(s.clone()),
        serde_json::Value::Array(items) => Value::Array(items.iter().map(from_json).collect()),
        serde_json::Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), from_json(v))).collect())
        }
    }
}
