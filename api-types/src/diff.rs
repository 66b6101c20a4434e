//! Field-level differences between two versions of a job, as `nomad plan`
//! shows them. Pure.
//!
//! Both jobs are serialized to JSON and walked, so every field the job has
//! is covered without this module listing them: a field added to the model
//! shows up in diffs on its own. Arrays of objects that carry a `name` (or
//! `label`) — groups, tasks, services, ports — are matched by it, so
//! reordering them is no change; other arrays of objects (constraints,
//! affinities) are compared as multisets; arrays of plain values (args,
//! datacenters) are one field, since their order matters. Empty values
//! (`null`, `{}`, `[]`) count as absent, so a default that serializes as
//! an empty collection never shows up as a change.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::Job;

/// What happened to a job, group, task, object or field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DiffType {
    #[default]
    None,
    Added,
    Deleted,
    Edited,
}

impl DiffType {
    /// The `nomad plan` prefix; a space for no change keeps columns aligned.
    pub fn prefix(self) -> &'static str {
        match self {
            DiffType::None => " ",
            DiffType::Added => "+",
            DiffType::Deleted => "-",
            DiffType::Edited => "~",
        }
    }

    fn between(old: bool, new: bool, changed: bool) -> DiffType {
        match (old, new) {
            (false, true) => DiffType::Added,
            (true, false) => DiffType::Deleted,
            _ if changed => DiffType::Edited,
            _ => DiffType::None,
        }
    }
}

/// One scalar field (or array of plain values), rendered as text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FieldDiff {
    #[serde(rename = "type")]
    pub diff_type: DiffType,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new: Option<String>,
}

/// A nested object (`update`, `config`, `services[http]`, …).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ObjectDiff {
    #[serde(rename = "type")]
    pub diff_type: DiffType,
    pub name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldDiff>,
    /// Nested objects (a `$ref` back to this schema in the OpenAPI document).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(no_recursion)]
    pub objects: Vec<ObjectDiff>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TaskDiff {
    #[serde(rename = "type")]
    pub diff_type: DiffType,
    pub name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldDiff>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub objects: Vec<ObjectDiff>,
}

/// A task group; every group of either job is listed, changed or not, so
/// a caller can annotate each with what the scheduler would do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GroupDiff {
    #[serde(rename = "type")]
    pub diff_type: DiffType,
    pub name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldDiff>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub objects: Vec<ObjectDiff>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tasks: Vec<TaskDiff>,
}

/// The whole difference. Fields and objects hold only what changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct JobDiff {
    #[serde(rename = "type")]
    pub diff_type: DiffType,
    /// The job's name.
    pub id: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldDiff>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub objects: Vec<ObjectDiff>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<GroupDiff>,
}

#[derive(Default)]
struct Children {
    fields: Vec<FieldDiff>,
    objects: Vec<ObjectDiff>,
}

impl Children {
    fn is_empty(&self) -> bool {
        self.fields.is_empty() && self.objects.is_empty()
    }
}

/// The difference from `old` (the stored job, if any) to `new`. The
/// jobs' spec, labels and annotations are compared; status and
/// bookkeeping (version, index, uid) are not.
pub fn diff_jobs(old: Option<&Job>, new: &Job) -> JobDiff {
    let old_parts = old.map(job_parts);
    let (new_spec, new_meta, new_groups) = job_parts(new);
    let empty = Map::new();
    let (old_spec, old_meta, old_groups) = match &old_parts {
        Some((s, m, g)) => (s, m, g.as_slice()),
        None => (&empty, &empty, &[][..]),
    };
    let mut children = Children::default();
    diff_maps(old_meta, &new_meta, &[], &mut children);
    diff_maps(old_spec, &new_spec, &["groups"], &mut children);
    let groups: Vec<GroupDiff> = match_named(old_groups, &new_groups, "name")
        .into_iter()
        .map(|(name, o, n)| diff_group(name, o, n))
        .collect();
    let changed = !children.is_empty() || groups.iter().any(|g| g.diff_type != DiffType::None);
    JobDiff {
        diff_type: DiffType::between(old.is_some(), true, changed),
        id: new.metadata.name.clone(),
        fields: children.fields,
        objects: children.objects,
        groups,
    }
}

/// The spec (as a map), labels and annotations (as a map), and groups.
fn job_parts(job: &Job) -> (Map<String, Value>, Map<String, Value>, Vec<Value>) {
    let as_map = |v: serde_json::Result<Value>| match v {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    let mut spec = as_map(serde_json::to_value(&job.spec));
    let groups = match spec.remove("groups") {
        Some(Value::Array(groups)) => groups,
        _ => Vec::new(),
    };
    let mut meta = Map::new();
    for (key, value) in [
        ("labels", serde_json::to_value(&job.metadata.labels)),
        (
            "annotations",
            serde_json::to_value(&job.metadata.annotations),
        ),
    ] {
        if let Ok(value) = value {
            meta.insert(key.to_string(), value);
        }
    }
    (spec, meta, groups)
}

fn diff_group(name: String, old: Option<&Value>, new: Option<&Value>) -> GroupDiff {
    let empty = Map::new();
    let old_map = old.and_then(Value::as_object).unwrap_or(&empty);
    let new_map = new.and_then(Value::as_object).unwrap_or(&empty);
    let mut children = Children::default();
    // The name heads the group; its tasks are listed on their own.
    diff_maps(old_map, new_map, &["name", "tasks"], &mut children);
    let tasks_of = |m: &Map<String, Value>| match m.get("tasks") {
        Some(Value::Array(tasks)) => tasks.clone(),
        _ => Vec::new(),
    };
    let (old_tasks, new_tasks) = (tasks_of(old_map), tasks_of(new_map));
    let tasks: Vec<TaskDiff> = match_named(&old_tasks, &new_tasks, "name")
        .into_iter()
        .map(|(name, o, n)| {
            let obj = diff_object(name, o, n, &["name"]);
            TaskDiff {
                diff_type: obj.diff_type,
                name: obj.name,
                fields: obj.fields,
                objects: obj.objects,
            }
        })
        .collect();
    let changed = !children.is_empty() || tasks.iter().any(|t| t.diff_type != DiffType::None);
    GroupDiff {
        diff_type: DiffType::between(old.is_some(), new.is_some(), changed),
        name,
        fields: children.fields,
        objects: children.objects,
        tasks,
    }
}

/// Pairs the elements of two arrays by their `key` field: old order first,
/// then what only `new` has.
fn match_named<'a>(
    old: &'a [Value],
    new: &'a [Value],
    key: &str,
) -> Vec<(String, Option<&'a Value>, Option<&'a Value>)> {
    let name_of = |v: &Value| {
        v.get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let find = |list: &'a [Value], name: &str| list.iter().find(|v| name_of(v) == name);
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    for v in old.iter().chain(new) {
        let name = name_of(v);
        if seen.insert(name.clone()) {
            let pair = (find(old, &name), find(new, &name));
            out.push((name, pair.0, pair.1));
        }
    }
    out
}

/// Whether `v` is nothing worth showing.
fn is_blank(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

fn present(v: Option<&Value>) -> Option<&Value> {
    v.filter(|v| !is_blank(v))
}

fn diff_maps(
    old: &Map<String, Value>,
    new: &Map<String, Value>,
    skip: &[&str],
    out: &mut Children,
) {
    let keys: BTreeSet<&String> = old
        .keys()
        .chain(new.keys())
        .filter(|k| !skip.contains(&k.as_str()))
        .collect();
    for key in keys {
        diff_value(key, present(old.get(key)), present(new.get(key)), out);
    }
}

enum Shape {
    Plain,
    Object,
    Objects,
}

fn shape(v: &Value) -> Shape {
    match v {
        Value::Object(_) => Shape::Object,
        Value::Array(items) if items.iter().all(Value::is_object) => Shape::Objects,
        _ => Shape::Plain,
    }
}

fn diff_value(name: &str, old: Option<&Value>, new: Option<&Value>, out: &mut Children) {
    if old == new {
        return;
    }
    let (o, n) = (old.map(shape), new.map(shape));
    match (o, n) {
        (Some(Shape::Plain) | None, Some(Shape::Plain) | None) => out.fields.push(FieldDiff {
            diff_type: DiffType::between(old.is_some(), new.is_some(), true),
            name: name.to_string(),
            old: old.map(text),
            new: new.map(text),
        }),
        (Some(Shape::Object) | None, Some(Shape::Object) | None) => {
            out.objects
                .push(diff_object(name.to_string(), old, new, &[]));
        }
        (Some(Shape::Objects) | None, Some(Shape::Objects) | None) => {
            let as_slice = |v: Option<&Value>| v.and_then(Value::as_array).cloned();
            diff_arrays(
                name,
                as_slice(old).unwrap_or_default(),
                as_slice(new).unwrap_or_default(),
                out,
            );
        }
        // The value changed shape: show it gone and come back.
        _ => {
            diff_value(name, old, None, out);
            diff_value(name, None, new, out);
        }
    }
}

/// An object on either side (or both), leaving out `skip` (the key a
/// named element is already shown by).
fn diff_object(
    name: String,
    old: Option<&Value>,
    new: Option<&Value>,
    skip: &[&str],
) -> ObjectDiff {
    let empty = Map::new();
    let mut children = Children::default();
    diff_maps(
        old.and_then(Value::as_object).unwrap_or(&empty),
        new.and_then(Value::as_object).unwrap_or(&empty),
        skip,
        &mut children,
    );
    ObjectDiff {
        diff_type: DiffType::between(old.is_some(), new.is_some(), !children.is_empty()),
        name,
        fields: children.fields,
        objects: children.objects,
    }
}

/// Arrays of objects: by name when every element has one, else as
/// multisets (an element in both is unchanged; the rest are added or
/// deleted).
fn diff_arrays(name: &str, old: Vec<Value>, new: Vec<Value>, out: &mut Children) {
    let keyed = ["name", "label"].into_iter().find(|key| {
        let named = |v: &Value| v.get(*key).and_then(Value::as_str).is_some();
        let unique = |list: &[Value]| {
            let names: BTreeSet<_> = list
                .iter()
                .filter_map(|v| v.get(*key).and_then(Value::as_str))
                .collect();
            names.len() == list.len()
        };
        old.iter().chain(&new).all(named) && unique(&old) && unique(&new)
    });
    if let Some(key) = keyed {
        for (id, o, n) in match_named(&old, &new, key) {
            let obj = diff_object(format!("{name}[{id}]"), o, n, &[key]);
            if obj.diff_type != DiffType::None {
                out.objects.push(obj);
            }
        }
        return;
    }
    let mut unmatched: Vec<Option<&Value>> = new.iter().map(Some).collect();
    let mut deleted = Vec::new();
    for o in &old {
        match unmatched.iter_mut().find(|n| **n == Some(o)) {
            Some(slot) => *slot = None,
            None => deleted.push(o),
        }
    }
    for o in deleted {
        out.objects
            .push(diff_object(name.to_string(), Some(o), None, &[]));
    }
    for n in unmatched.into_iter().flatten() {
        out.objects
            .push(diff_object(name.to_string(), None, Some(n), &[]));
    }
}

/// A value as `nomad plan` quotes it: strings bare, the rest as JSON.
fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl JobDiff {
    /// Whether anything changed.
    pub fn is_empty(&self) -> bool {
        self.diff_type == DiffType::None
    }

    /// The diff as `nomad plan` prints it:
    ///
    /// ```text
    /// ~ Job: "web"
    ///   ~ Group: "front"
    ///     ~ count: "2" => "3"
    ///       Task: "nginx"
    /// ```
    pub fn render(&self) -> String {
        let mut out = String::new();
        line(
            &mut out,
            0,
            self.diff_type,
            &format!("Job: \"{}\"", self.id),
        );
        render_children(&mut out, 1, &self.fields, &self.objects);
        for g in &self.groups {
            line(&mut out, 1, g.diff_type, &format!("Group: \"{}\"", g.name));
            render_children(&mut out, 2, &g.fields, &g.objects);
            for t in &g.tasks {
                line(&mut out, 2, t.diff_type, &format!("Task: \"{}\"", t.name));
                render_children(&mut out, 3, &t.fields, &t.objects);
            }
        }
        out
    }
}

fn line(out: &mut String, depth: usize, ty: DiffType, text: &str) {
    out.push_str(&"  ".repeat(depth));
    out.push_str(ty.prefix());
    out.push(' ');
    out.push_str(text);
    out.push('\n');
}

fn render_children(out: &mut String, depth: usize, fields: &[FieldDiff], objects: &[ObjectDiff]) {
    for f in fields {
        let value = match (&f.old, &f.new) {
            (Some(o), Some(n)) => format!("\"{o}\" => \"{n}\""),
            (Some(v), None) | (None, Some(v)) => format!("\"{v}\""),
            (None, None) => String::new(),
        };
        line(out, depth, f.diff_type, &format!("{}: {value}", f.name));
    }
    for o in objects {
        line(out, depth, o.diff_type, &format!("{} {{", o.name));
        render_children(out, depth + 1, &o.fields, &o.objects);
        out.push_str(&"  ".repeat(depth + 1));
        out.push_str("}\n");
    }
}

#[cfg(test)]
mod tests;
