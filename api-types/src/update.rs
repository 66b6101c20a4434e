//! Whether a changed task group can update its running allocations in
//! place or must replace them. Pure; one rule shared by `drover plan` and
//! the job reconciler, so what plan promises is what the controller does.
//!
//! In place (no new container): `count`, group and task `meta`, services'
//! `tags`, `canary_tags`, `meta`, `canary_meta` and `checks`, and the
//! `update`, `migrate`, `reschedule` and `restart` policies. Job level:
//! `meta`, `priority`, `all_at_once`, the policies, `periodic`,
//! `parameterized`, the datacenters' order. Anything else is destructive.
//!
//! The rule is written as a list of what may change, not of what may
//! not: both groups are serialized, the in-place fields removed, and what
//! remains must be equal. A field added to the model later is therefore
//! destructive until someone decides otherwise — the safe default, since
//! an in-place update that should have been a replacement leaves a
//! container running the old spec.

use serde_json::{Map, Value};

use crate::{Job, TaskGroup};

/// How a group's allocations take a new version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpdateKind {
    /// Nothing the running containers use changed: the allocations are
    /// re-stamped with the new version (unchanged groups are in place too).
    InPlace,
    /// The allocations must be replaced; `field` is the path of the first
    /// difference that forces it, e.g. `tasks[web].config.image`.
    Destructive { field: String },
}

impl UpdateKind {
    pub fn is_destructive(&self) -> bool {
        matches!(self, UpdateKind::Destructive { .. })
    }

    /// The field that forces a replacement, if any.
    pub fn field(&self) -> Option<&str> {
        match self {
            UpdateKind::InPlace => None,
            UpdateKind::Destructive { field } => Some(field),
        }
    }
}

impl std::fmt::Display for UpdateKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UpdateKind::InPlace => f.write_str("in-place update"),
            UpdateKind::Destructive { field } => {
                write!(f, "destructive update ({field} changed)")
            }
        }
    }
}

const GROUP_IN_PLACE: &[&str] = &[
    "count",
    "meta",
    "update",
    "migrate",
    "reschedule",
    "restart",
];
const TASK_IN_PLACE: &[&str] = &["meta", "restart"];
const SERVICE_IN_PLACE: &[&str] = &["tags", "canary_tags", "meta", "canary_meta", "checks"];
/// Job fields that decide where allocations run (or what they are):
/// changing one replaces every group's allocations.
const JOB_DESTRUCTIVE: &[&str] = &[
    "type",
    "region",
    "node_pool",
    "constraints",
    "affinities",
    "spreads",
];

/// How the allocations of `old_group` take `new_group` (the same group in
/// a newer version of its job).
pub fn update_kind(old_group: &TaskGroup, new_group: &TaskGroup) -> UpdateKind {
    let (old, new) = match (group_essentials(old_group), group_essentials(new_group)) {
        (Some(old), Some(new)) => (old, new),
        // Unreachable for these types; replacing is the safe answer.
        _ => return destructive(""),
    };
    match first_difference(&old, &new, "") {
        None => UpdateKind::InPlace,
        Some(field) => destructive(&field),
    }
}

/// [`update_kind`] for the group named `group` of two versions of a job,
/// with the job-level fields that decide placement taken into account. A
/// group missing from either version is destructive (there is nothing to
/// update in place).
pub fn job_update_kind(old: &Job, new: &Job, group: &str) -> UpdateKind {
    let find = |job: &'_ Job| -> Option<TaskGroup> {
        job.spec.groups.iter().find(|g| g.name == group).cloned()
    };
    let (Some(old_group), Some(new_group)) = (find(old), find(new)) else {
        return destructive("groups");
    };
    let mut old_dcs = old.spec.datacenters.clone();
    let mut new_dcs = new.spec.datacenters.clone();
    old_dcs.sort();
    new_dcs.sort();
    if old_dcs != new_dcs {
        return destructive("datacenters");
    }
    let fields = |job: &Job| match serde_json::to_value(&job.spec) {
        Ok(Value::Object(mut m)) => {
            m.retain(|k, _| JOB_DESTRUCTIVE.contains(&k.as_str()));
            Some(Value::Object(m))
        }
        _ => None,
    };
    match (fields(old), fields(new)) {
        (Some(o), Some(n)) => {
            if let Some(field) = first_difference(&o, &n, "") {
                return destructive(&field);
            }
        }
        _ => return destructive(""),
    }
    update_kind(&old_group, &new_group)
}

fn destructive(field: &str) -> UpdateKind {
    UpdateKind::Destructive {
        field: field.to_string(),
    }
}

/// The group as JSON without its in-place fields.
fn group_essentials(group: &TaskGroup) -> Option<Value> {
    let Ok(Value::Object(mut g)) = serde_json::to_value(group) else {
        return None;
    };
    drop_keys(&mut g, GROUP_IN_PLACE);
    strip_services(&mut g);
    if let Some(Value::Array(tasks)) = g.get_mut("tasks") {
        for task in tasks.iter_mut() {
            if let Value::Object(t) = task {
                drop_keys(t, TASK_IN_PLACE);
                strip_services(t);
            }
        }
    }
    Some(Value::Object(g))
}

fn drop_keys(map: &mut Map<String, Value>, keys: &[&str]) {
    for key in keys {
        map.remove(*key);
    }
}

fn strip_services(owner: &mut Map<String, Value>) {
    if let Some(Value::Array(services)) = owner.get_mut("services") {
        for service in services.iter_mut() {
            if let Value::Object(s) = service {
                drop_keys(s, SERVICE_IN_PLACE);
            }
        }
    }
}

/// The path of the first difference between `old` and `new`, in key
/// order. Arrays of objects with distinct names (tasks, services, ports)
/// are matched by name, so reordering them is no difference.
fn first_difference(old: &Value, new: &Value, path: &str) -> Option<String> {
    let join = |key: &str| match path {
        "" => key.to_string(),
        _ => format!("{path}.{key}"),
    };
    match (old, new) {
        (Value::Object(o), Value::Object(n)) => {
            let mut keys: Vec<&String> = o.keys().chain(n.keys()).collect();
            keys.sort();
            keys.dedup();
            keys.into_iter().find_map(|k| {
                let absent = Value::Null;
                let (a, b) = (o.get(k).unwrap_or(&absent), n.get(k).unwrap_or(&absent));
                first_difference(a, b, &join(k))
            })
        }
        (Value::Array(o), Value::Array(n)) => match (by_name(o), by_name(n)) {
            (Some(o), Some(n)) => {
                let mut names: Vec<&String> = o.keys().chain(n.keys()).collect();
                names.sort();
                names.dedup();
                names.into_iter().find_map(|name| {
                    let at = format!("{path}[{name}]");
                    match (o.get(name), n.get(name)) {
                        (Some(a), Some(b)) => first_difference(a, b, &at),
                        _ => Some(at),
                    }
                })
            }
            _ if o.len() != n.len() => Some(path.to_string()),
            _ => o
                .iter()
                .zip(n)
                .enumerate()
                .find_map(|(i, (a, b))| first_difference(a, b, &format!("{path}[{i}]"))),
        },
        _ if is_empty(old) && is_empty(new) => None,
        _ if old == new => None,
        _ => Some(path.to_string()),
    }
}

/// An array of objects keyed by their distinct `name`s (ports: `label`s),
/// if it is one.
fn by_name(items: &[Value]) -> Option<Map<String, Value>> {
    let mut map = Map::new();
    for item in items {
        let name = item.get("name").or_else(|| item.get("label"))?.as_str()?;
        if map.insert(name.to_string(), item.clone()).is_some() {
            return None;
        }
    }
    Some(map)
}

/// Empty values count as absent, as in [`crate::diff`].
fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

#[cfg(test)]
mod tests;
