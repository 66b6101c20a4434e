//! Input variables and locals.
//!
//! A variable's value comes, highest precedence first, from `--var`
//! ([`ParseOptions::vars`], later wins), `--var-file` (later files win), the
//! environment (`NOMAD_VAR_*`), then its `default`. Values given as text
//! (`--var`, environment) are converted to the declared type: numbers,
//! bools, and lists/maps written in HCL syntax. `validation` blocks run once
//! every variable is known; locals are evaluated after, in dependency order.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;

use hcl::expr::Expression as HclExpr;
use hcl::{Map, Value};
use hcl_edit::structure::{Block, Body};
use hcl_edit::Span;

use crate::diagnostic::{suggestion_suffix, Diagnostic, Location};

use super::body::{describe, Decoder, Reader};
use super::types::Type;
use super::{schema, ParseOptions};

struct Declared<'b> {
    ty: Type,
    default: Option<Value>,
    block: Option<&'b Block>,
    span: Option<Range<usize>>,
}

/// Evaluates every variable and declares them in the evaluator.
pub(super) fn evaluate(d: &mut Decoder, top: &Reader, options: &ParseOptions) {
    let declared = declarations(d, top);
    let mut values: BTreeMap<String, Value> = BTreeMap::new();
    for (name, text) in &options.env_vars {
        if let Some(decl) = declared.get(name) {
            if let Some(v) = from_text(d, name, text, &decl.ty, "the environment") {
                values.insert(name.clone(), v);
            }
        }
    }
    for path in &options.var_files {
        for (name, value) in var_file(d, path, &declared) {
            values.insert(name, value);
        }
    }
    for (name, text) in &options.vars {
        match declared.get(name) {
            Some(decl) => {
                if let Some(v) = from_text(d, name, text, &decl.ty, "--var") {
                    values.insert(name.clone(), v);
                }
            }
            None => {
                let suffix = suggestion_suffix(name, declared.keys().map(String::as_str));
                let message =
                    format!("--var {name}=…: the job file declares no variable {name:?}{suffix}");
                d.errors.push(Diagnostic::error(message));
            }
        }
    }
    let mut all = Map::new();
    for (name, decl) in &declared {
        match values.remove(name).or_else(|| decl.default.clone()) {
            Some(value) => {
                all.insert(name.clone(), value);
            }
            None => {
                let message = format!("no value given: set it with --var {name}=<value>, in a --var-file, or with the environment variable NOMAD_VAR_{name}");
                d.error(decl.span.clone(), &format!("variable {name:?}"), message);
            }
        }
    }
    d.eval.set_vars(all);
    for (name, decl) in &declared {
        if let Some(block) = decl.block {
            validate(d, name, block);
        }
    }
}

fn declarations<'b>(d: &mut Decoder, top: &Reader<'b>) -> BTreeMap<String, Declared<'b>> {
    let mut out: BTreeMap<String, Declared<'b>> = BTreeMap::new();
    for (name, block) in top.labeled(d, "variable") {
        let path = format!("variable {name:?}");
        let r = Reader::open(d, &block.body, &schema::VARIABLE, path.clone());
        let ty = match r.attribute("type") {
            Some(attr) => {
                Type::parse(&HclExpr::from(attr.value.clone())).unwrap_or_else(|message| {
                    d.error(attr.value.span(), &path, message);
                    Type::Any
                })
            }
            None => Type::Any,
        };
        let default = r
            .value(d, "default")
            .and_then(|(value, expr)| match ty.convert(&value) {
                Ok(v) => Some(v),
                Err(message) => {
                    d.error(expr.span(), &path, format!("invalid default: {message}"));
                    None
                }
            });
        // Read so that their types are checked; they change nothing.
        let _ = (r.string(d, "description"), r.bool(d, "sensitive"));
        let decl = Declared {
            ty,
            default,
            block: Some(block),
            span: block.labels.first().and_then(|l| l.span()),
        };
        insert_declaration(d, &mut out, name, decl);
    }
    for block in top.blocks("variables") {
        for attr in block.body.attributes() {
            let name = attr.key.to_string();
            let default = d.value(&attr.value, &format!("variable {name:?}"));
            let decl = Declared {
                ty: Type::Any,
                default,
                block: None,
                span: attr.key.span(),
            };
            insert_declaration(d, &mut out, name, decl);
        }
    }
    out
}

fn insert_declaration<'b>(
    d: &mut Decoder,
    out: &mut BTreeMap<String, Declared<'b>>,
    name: String,
    decl: Declared<'b>,
) {
    match out.entry(name) {
        std::collections::btree_map::Entry::Occupied(e) => {
            let path = format!("variable {:?}", e.key());
            d.error(decl.span.clone(), &path, "declared more than once");
        }
        std::collections::btree_map::Entry::Vacant(e) => {
            e.insert(decl);
        }
    }
}

/// A `--var` or environment value: text converted to the declared type.
fn from_text(d: &mut Decoder, name: &str, text: &str, ty: &Type, source: &str) -> Option<Value> {
    let parsed = if ty.is_primitive() {
        Ok(Value::String(text.to_string()))
    } else {
        text.parse::<HclExpr>()
            .map_err(|e| {
                format!(
                    "it is not an HCL value: {}",
                    e.to_string()
                        .lines()
                        .last()
                        .unwrap_or_default()
                        .trim_start_matches("= ")
                )
            })
            .and_then(|expr| d.eval.eval_hcl(expr))
    };
    match parsed.and_then(|v| ty.convert(&v)) {
        Ok(value) => Some(value),
        Err(message) => {
            let message = format!("invalid value from {source}: {message}");
            d.errors
                .push(Diagnostic::error(message).in_path(format!("variable {name:?}")));
            None
        }
    }
}

/// Values from one var-file; names the job does not declare are warned
/// about and skipped, as Nomad does.
fn var_file(
    d: &mut Decoder,
    path: &Path,
    declared: &BTreeMap<String, Declared>,
) -> Vec<(String, Value)> {
    let file = path.display().to_string();
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) => {
            d.errors.push(Diagnostic::error(format!(
                "cannot read var-file {file}: {e}"
            )));
            return Vec::new();
        }
    };
    let entries = if file.ends_with(".json") {
        json_entries(&file, &text)
    } else {
        hcl_entries(d, &file, &text)
    };
    let entries = match entries {
        Ok(entries) => entries,
        Err(diagnostic) => {
            d.errors.push(diagnostic);
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for (name, value, offset) in entries {
        let location = Location::from_offset(&file, &text, offset);
        let Some(decl) = declared.get(&name) else {
            let suffix = suggestion_suffix(&name, declared.keys().map(String::as_str));
            let message = format!("variable {name:?} is set but the job file does not declare it; it is ignored{suffix}");
            d.warnings.push(Diagnostic::warning(message).at(location));
            continue;
        };
        match decl.ty.convert(&value) {
            Ok(v) => out.push((name, v)),
            Err(message) => {
                let message = format!("invalid value for variable {name:?}: {message}");
                d.errors.push(Diagnostic::error(message).at(location));
            }
        }
    }
    out
}

type Entries = Result<Vec<(String, Value, usize)>, Diagnostic>;

fn hcl_entries(d: &Decoder, file: &str, text: &str) -> Entries {
    let body: Body =
        hcl_edit::parser::parse_body(text).map_err(|e| super::syntax_error(file, text, &e))?;
    let mut out = Vec::new();
    for attr in body.attributes() {
        let offset = attr.key.span().map_or(0, |s| s.start);
        let value = d.eval.eval(&attr.value).map_err(|message| {
            Diagnostic::error(message).at(Location::from_offset(file, text, offset))
        })?;
        out.push((attr.key.to_string(), value, offset));
    }
    if let Some(block) = body.blocks().next() {
        let offset = block.ident.span().map_or(0, |s| s.start);
        let message = "a var-file holds only name = value lines";
        return Err(Diagnostic::error(message).at(Location::from_offset(file, text, offset)));
    }
    Ok(out)
}

fn json_entries(file: &str, text: &str) -> Entries {
    let parsed: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        let location = Location {
            file: file.to_string(),
            line: e.line(),
            column: e.column(),
        };
        Diagnostic::error(format!("invalid JSON: {e}")).at(location)
    })?;
    let serde_json::Value::Object(map) = parsed else {
        return Err(Diagnostic::error(format!(
            "{file}: a JSON var-file holds one object of name: value"
        )));
    };
    let offset_of = |name: &str| text.find(&format!("\"{name}\"")).unwrap_or(0);
    Ok(map
        .iter()
        .map(|(k, v)| (k.clone(), super::config::from_json(v), offset_of(k)))
        .collect())
}

fn validate(d: &mut Decoder, name: &str, block: &Block) {
    let path = format!("variable {name:?}");
    for rule in block.body.get_blocks("validation") {
        let r = Reader::open(
            d,
            &rule.body,
            &schema::VALIDATION,
            format!("{path} validation"),
        );
        let Some(condition) = r.attribute("condition") else {
            d.error(
                rule.ident.span(),
                &path,
                "a validation block needs a condition",
            );
            continue;
        };
        let Some(passed) = d.value(&condition.value, &path) else {
            continue;
        };
        match passed {
            Value::Bool(true) => {}
            Value::Bool(false) => {
                let message = r
                    .string(d, "error_message")
                    .unwrap_or_else(|| "the validation condition failed".into());
                d.error(
                    condition.value.span(),
                    &path,
                    format!("invalid value: {message}"),
                );
            }
            other => {
                let message = format!(
                    "the validation condition must be true or false, got {}",
                    describe(&other)
                );
                d.error(condition.value.span(), &path, message);
            }
        }
    }
}

/// Evaluates every `locals` attribute, each after the locals it refers to.
pub(super) fn locals(d: &mut Decoder, top: &Reader) {
    let mut pending = Vec::new();
    for block in top.blocks("locals") {
        for attr in block.body.attributes() {
            let name = attr.key.to_string();
            if pending.iter().any(|(n, _)| *n == name) {
                d.error(
                    attr.key.span(),
                    "locals",
                    format!("local value {name:?} is defined more than once"),
                );
            } else {
                pending.push((name, attr));
            }
        }
        if let Some(b) = block.body.blocks().next() {
            d.error(
                b.ident.span(),
                "locals",
                "a locals block holds only name = value lines",
            );
        }
    }
    d.eval
        .declare_locals(pending.iter().map(|(n, _)| n.clone()));
    loop {
        let before = pending.len();
        let mut failures = Vec::new();
        pending.retain(|(name, attr)| match d.eval.eval(&attr.value) {
            Ok(value) => {
                d.eval.set_local(name.clone(), value);
                false
            }
            Err(message) => {
                failures.push((attr.value.span(), format!("local.{name}: {message}")));
                true
            }
        });
        if pending.is_empty() {
            return;
        }
        if pending.len() == before {
            for (span, message) in failures {
                d.error(span, "locals", message);
            }
            return;
        }
    }
}
