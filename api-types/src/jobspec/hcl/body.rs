//! A schema-checked reader over one block body, and the diagnostics sink the
//! block decoders share.
//!
//! [`Reader::open`] checks every attribute and block of a body against the
//! block's [`Schema`] once: unknown names are errors with a suggestion,
//! names drover does not support yet are warnings. The typed getters then
//! evaluate one attribute each and report type errors at its location,
//! returning `None` so decoding goes on and collects every error.

use std::ops::Range;

use hcl::Value;
use hcl_edit::expr::Expression;
use hcl_edit::structure::{Attribute, Block, Body, Structure};
use hcl_edit::Span;

use crate::diagnostic::{suggestion_suffix, Diagnostic, Location};
use crate::duration::Duration;
use crate::job::Meta;

use super::eval::Evaluator;

/// What a block may contain. `meta`-like names that are written either as a
/// block or as a map attribute appear in both lists.
pub(super) struct Schema {
    pub attributes: &'static [&'static str],
    pub blocks: &'static [&'static str],
    /// Nomad features drover ignores with a warning (attributes or blocks).
    pub unsupported: &'static [&'static str],
}

/// Everything a decoder needs besides the body it reads.
pub(super) struct Decoder<'a> {
    pub file: &'a str,
    pub source: &'a str,
    pub eval: Evaluator,
    pub errors: Vec<Diagnostic>,
    pub warnings: Vec<Diagnostic>,
}

impl Decoder<'_> {
    pub fn location(&self, span: Option<Range<usize>>) -> Option<Location> {
        span.map(|s| Location::from_offset(self.file, self.source, s.start))
    }

    fn diagnostic(&self, d: Diagnostic, span: Option<Range<usize>>, path: &str) -> Diagnostic {
        let d = d.in_path(path);
        match self.location(span) {
            Some(location) => d.at(location),
            None => d,
        }
    }

    pub fn error(&mut self, span: Option<Range<usize>>, path: &str, message: impl Into<String>) {
        let d = self.diagnostic(Diagnostic::error(message), span, path);
        self.errors.push(d);
    }

    pub fn warn(&mut self, span: Option<Range<usize>>, path: &str, message: impl Into<String>) {
        let d = self.diagnostic(Diagnostic::warning(message), span, path);
        self.warnings.push(d);
    }

    /// Evaluates `expr`; on failure reports it and returns `None`.
    pub fn value(&mut self, expr: &Expression, path: &str) -> Option<Value> {
        match self.eval.eval(expr) {
            Ok(value) => Some(value),
            Err(message) => {
                self.error(expr.span(), path, message);
                None
            }
        }
    }
}

/// The body of one block, checked against its schema.
pub(super) struct Reader<'b> {
    pub path: String,
    body: &'b Body,
}

impl<'b> Reader<'b> {
    pub fn open(d: &mut Decoder, body: &'b Body, schema: &Schema, path: String) -> Self {
        for structure in body.iter() {
            match structure {
                Structure::Attribute(a) => check_attribute(d, a, schema, &path),
                Structure::Block(b) => check_block(d, b, schema, &path),
            }
        }
        Reader { path, body }
    }

    /// The path of a child block: `job "web" group "api"`.
    pub fn child(&self, ident: &str, label: Option<&str>) -> String {
        match label {
            Some(label) => format!("{} {ident} {label:?}", self.path),
            None => format!("{} {ident}", self.path),
        }
    }

    pub fn attribute(&self, name: &str) -> Option<&'b Attribute> {
        self.body.get_attribute(name)
    }

    pub fn has(&self, name: &str) -> bool {
        self.body.has_attribute(name) || self.body.has_blocks(name)
    }

    /// The span of an attribute's key or a block's identifier.
    pub fn span_of(&self, name: &str) -> Option<Range<usize>> {
        match self.attribute(name) {
            Some(a) => a.key.span(),
            None => self
                .body
                .get_blocks(name)
                .next()
                .and_then(|b| b.ident.span()),
        }
    }

    /// The evaluated value of an attribute; `None` when absent, null or broken.
    pub fn value(&self, d: &mut Decoder, name: &str) -> Option<(Value, &'b Expression)> {
        let attr = self.attribute(name)?;
        match d.value(&attr.value, &self.path)? {
            Value::Null => None,
            value => Some((value, &attr.value)),
        }
    }

    fn typed<T>(
        &self,
        d: &mut Decoder,
        name: &str,
        convert: fn(&Value) -> Result<T, String>,
    ) -> Option<T> {
        let (value, expr) = self.value(d, name)?;
        match convert(&value) {
            Ok(v) => Some(v),
            Err(expected) => {
                let message = format!("\"{name}\" must be {expected}, got {}", describe(&value));
                d.error(expr.span(), &self.path, message);
                None
            }
        }
    }

    pub fn string(&self, d: &mut Decoder, name: &str) -> Option<String> {
        self.typed(d, name, as_string)
    }

    pub fn int(&self, d: &mut Decoder, name: &str) -> Option<i64> {
        self.typed(d, name, as_int)
    }

    pub fn bool(&self, d: &mut Decoder, name: &str) -> Option<bool> {
        self.typed(d, name, as_bool)
    }

    pub fn duration(&self, d: &mut Decoder, name: &str) -> Option<Duration> {
        let text = self.typed(d, name, as_duration_text)?;
        match Duration::parse(&text) {
            Ok(duration) => Some(duration),
            Err(e) => {
                let span = self.attribute(name).and_then(|a| a.value.span());
                d.error(span, &self.path, format!("\"{name}\": {e}"));
                None
            }
        }
    }

    /// A list of strings; a lone string is accepted with a warning, as
    /// Nomad's HCL1 parser did.
    pub fn strings(&self, d: &mut Decoder, name: &str) -> Option<Vec<String>> {
        let (value, expr) = self.value(d, name)?;
        if let Value::String(s) = &value {
            let message = format!("\"{name}\" should be a list: write {name} = [{s:?}]");
            d.warn(expr.span(), &self.path, message);
            return Some(vec![s.clone()]);
        }
        match as_strings(&value) {
            Ok(list) => Some(list),
            Err(expected) => {
                let message = format!("\"{name}\" must be {expected}, got {}", describe(&value));
                d.error(expr.span(), &self.path, message);
                None
            }
        }
    }

    /// A string map written as `name { k = "v" }` blocks or `name = { … }`.
    pub fn string_map(&self, d: &mut Decoder, name: &str) -> Meta {
        let mut map = Meta::new();
        if let Some((value, expr)) = self.value(d, name) {
            match as_string_map(&value) {
                Ok(m) => map.extend(m),
                Err(expected) => {
                    let message =
                        format!("\"{name}\" must be {expected}, got {}", describe(&value));
                    d.error(expr.span(), &self.path, message);
                }
            }
        }
        for block in self.blocks(name) {
            let path = self.child(name, None);
            for structure in block.body.iter() {
                match structure {
                    Structure::Attribute(a) => {
                        let Some(value) = d.value(&a.value, &path) else {
                            continue;
                        };
                        match as_string(&value) {
                            Ok(s) => {
                                map.insert(a.key.to_string(), s);
                            }
                            Err(_) => d.error(
                                a.value.span(),
                                &path,
                                format!(
                                    "\"{}\" must be a string, got {}",
                                    a.key.as_str(),
                                    describe(&value)
                                ),
                            ),
                        }
                    }
                    Structure::Block(b) => d.error(
                        b.ident.span(),
                        &path,
                        format!(
                            "unexpected block \"{}\": {name} holds only key = \"value\" pairs",
                            b.ident.as_str()
                        ),
                    ),
                }
            }
        }
        map
    }

    pub fn blocks(&self, name: &'b str) -> impl Iterator<Item = &'b Block> + 'b {
        self.body.get_blocks(name)
    }

    /// At most one unlabeled block called `name`.
    pub fn block(&self, d: &mut Decoder, name: &'b str) -> Option<&'b Block> {
        let mut blocks = self.blocks(name);
        let first = blocks.next()?;
        for extra in blocks {
            d.error(
                extra.ident.span(),
                &self.path,
                format!("only one \"{name}\" block is allowed"),
            );
        }
        if let Some(label) = first.labels.first() {
            d.error(
                label.span(),
                &self.path,
                format!("a \"{name}\" block takes no label"),
            );
        }
        Some(first)
    }

    /// Blocks called `name` with exactly one label each: `(label, block)`.
    pub fn labeled(&self, d: &mut Decoder, name: &'b str) -> Vec<(String, &'b Block)> {
        let mut out = Vec::new();
        for block in self.blocks(name) {
            match block.labels.as_slice() {
                [label] => out.push((label.as_str().to_string(), block)),
                _ => d.error(
                    block.ident.span(),
                    &self.path,
                    format!(
                        "a \"{name}\" block takes exactly one label: {name} \"<name>\" {{ … }}"
                    ),
                ),
            }
        }
        out
    }
}

fn check_attribute(d: &mut Decoder, a: &Attribute, schema: &Schema, path: &str) {
    let name = a.key.as_str();
    if schema.attributes.contains(&name) {
        return;
    }
    let span = a.key.span();
    if schema.unsupported.contains(&name) {
        d.warn(
            span,
            path,
            format!("\"{name}\" is not supported by drover yet and is ignored"),
        );
    } else if schema.blocks.contains(&name) {
        d.error(
            span,
            path,
            format!("\"{name}\" is a block, not an attribute: write {name} {{ … }}"),
        );
    } else {
        let suffix = suggestion_suffix(name, schema.attributes.iter().copied());
        d.error(span, path, format!("unknown attribute \"{name}\"{suffix}"));
    }
}

fn check_block(d: &mut Decoder, b: &Block, schema: &Schema, path: &str) {
    let name = b.ident.as_str();
    if schema.blocks.contains(&name) {
        return;
    }
    let span = b.ident.span();
    if schema.unsupported.contains(&name) {
        d.warn(
            span,
            path,
            format!("\"{name}\" blocks are not supported by drover yet and are ignored"),
        );
    } else if schema.attributes.contains(&name) {
        d.error(
            span,
            path,
            format!("\"{name}\" is an attribute, not a block: write {name} = …"),
        );
    } else {
        let suffix = suggestion_suffix(name, schema.blocks.iter().copied());
        d.error(span, path, format!("unknown block \"{name}\"{suffix}"));
    }
}

/// A value as an error message shows what was written.
pub(super) fn describe(value: &Value) -> String {
    match value {
        Value::String(s) => format!("{s:?}"),
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "an object".into(),
        other => serde_json::to_string(other).unwrap_or_default(),
    }
}

pub(super) fn as_string(value: &Value) -> Result<String, String> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        _ => Err("a string".into()),
    }
}

/// Whole numbers, also written as strings (`count = "3"`), as Nomad accepts.
pub(super) fn as_int(value: &Value) -> Result<i64, String> {
    let expected = || "a whole number".to_string();
    match value {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64))
            .ok_or_else(expected),
        Value::String(s) => s.trim().parse().map_err(|_| expected()),
        _ => Err(expected()),
    }
}

pub(super) fn as_bool(value: &Value) -> Result<bool, String> {
    match value {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s == "true" || s == "false" => Ok(s == "true"),
        _ => Err("true or false".into()),
    }
}

fn as_duration_text(value: &Value) -> Result<String, String> {
    match value {
        Value::String(s) => Ok(s.clone()),
        _ => Err("a duration such as \"30s\" or \"5m\"".into()),
    }
}

pub(super) fn as_strings(value: &Value) -> Result<Vec<String>, String> {
    let expected = || "a list of strings".to_string();
    value
        .as_array()
        .ok_or_else(expected)?
        .iter()
        .map(|v| as_string(v).map_err(|_| expected()))
        .collect()
}

pub(super) fn as_string_map(value: &Value) -> Result<Meta, String> {
    let expected = || "a map of strings".to_string();
    value
        .as_object()
        .ok_or_else(expected)?
        .iter()
        .map(|(k, v)| as_string(v).map(|v| (k.clone(), v)).map_err(|_| expected()))
        .collect()
}
