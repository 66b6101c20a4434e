//! Nomad `template` blocks: the subset of consul-template's Go-template
//! language that needs neither a service catalog nor a KV store, and the
//! `KEY=VALUE` files `env = true` templates render to. Pure: the caller
//! reads `source` files and writes the result.
//!
//! Supported: literal text; `{{ env "NAME" }}`; string literals (`"…"` with
//! Go escapes, `` `…` ``), `true`/`false`; pipelines and parentheses;
//! `toUpper`, `toLower`, `trimSpace`, `not`, `and`, `or`, `eq`, `ne`;
//! `{{ if }}`/`{{ else if }}`/`{{ else }}`/`{{ end }}`; trim markers
//! `{{-`/`-}}`; comments `{{/* … */}}`; custom delimiters. Everything else
//! is refused at parse time with its line and column, so a template that
//! would render wrongly never reaches a container.

use std::collections::BTreeMap;
use std::fmt;

mod lex;

use lex::{lex, Item, Tok};

/// Why a template cannot be rendered, at a 1-based line and column (in
/// characters) of the template text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    pub line: usize,
    pub col: usize,
    pub message: String,
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, col {}: {}", self.line, self.col, self.message)
    }
}

impl std::error::Error for TemplateError {}

/// An error at a byte offset, turned into line and column at the end (only
/// the whole text knows where lines start).
struct At(usize, String);

type Parsed<T> = Result<T, At>;

/// Whether `text` parses (delimiters as for [`render`]): what validation
/// checks, so a template that would fail on the node is named at submit.
pub fn check(text: &str, left: &str, right: &str) -> Result<(), TemplateError> {
    render(text, left, right, &|_| None).map(drop)
}

/// Renders `text` with `left`/`right` delimiters (empty means `{{`/`}}`);
/// `env "NAME"` asks `env`, and a name it does not know renders as "" (as
/// consul-template does).
pub fn render(
    text: &str,
    left: &str,
    right: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<String, TemplateError> {
    let left = if left.is_empty() { "{{" } else { left };
    let right = if right.is_empty() { "}}" } else { right };
    let result = lex(text, left, right)
        .and_then(|items| check_nesting(&items).map(|()| items))
        .and_then(|items| parse(&items))
        .and_then(|nodes| {
            let mut out = String::new();
            eval_list(&nodes, env, &mut out).map(|()| out)
        });
    result.map_err(|At(offset, message)| {
        let before = &text[..offset.min(text.len())];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        TemplateError {
            line,
            col: before[line_start..].chars().count() + 1,
            message,
        }
    })
}

// --------------------------------------------------------------- parsing

#[derive(Debug)]
enum Node {
    Text(String),
    Output(Pipeline),
    If {
        branches: Vec<(Pipeline, Vec<Node>)>,
        otherwise: Vec<Node>,
    },
}

type Pipeline = Vec<Command>;

#[derive(Debug)]
enum Command {
    Call(Func, Vec<Operand>),
    Value(Operand),
}

#[derive(Debug)]
enum Operand {
    Str(String),
    Bool(bool),
    /// A function: called with what follows when first in its command,
    /// else without arguments.
    Func(Func),
    Pipeline(Pipeline),
}

#[derive(Debug, Clone, Copy)]
enum Func {
    Env,
    ToUpper,
    ToLower,
    TrimSpace,
    Not,
    And,
    Or,
    Eq,
    Ne,
}

impl Func {
    fn of(name: &str) -> Option<Func> {
        Some(match name {
            "env" => Func::Env,
            "toUpper" => Func::ToUpper,
            "toLower" => Func::ToLower,
            "trimSpace" => Func::TrimSpace,
            "not" => Func::Not,
            "and" => Func::And,
            "or" => Func::Or,
            "eq" => Func::Eq,
            "ne" => Func::Ne,
            _ => return None,
        })
    }

    /// The fewest and most arguments it takes.
    fn arity(self) -> (usize, usize) {
        match self {
            Func::Env | Func::ToUpper | Func::ToLower | Func::TrimSpace | Func::Not => (1, 1),
            Func::And | Func::Or => (1, usize::MAX),
            Func::Eq => (2, usize::MAX),
            Func::Ne => (2, 2),
        }
    }
}

/// Go template keywords drover does not implement.
const UNSUPPORTED_KEYWORDS: &[&str] = &[
    "range", "with", "define", "template", "block", "break", "continue",
];
const CATALOG: &[&str] = &[
    "service",
    "services",
    "connect",
    "caRoots",
    "caLeaf",
    "node",
    "nodes",
    "datacenters",
    "nomadService",
    "nomadServices",
    "nomadClusterID",
];
const KV: &[&str] = &[
    "key",
    "keyOrDefault",
    "keyExists",
    "ls",
    "safeLs",
    "tree",
    "safeTree",
    "nomadVar",
    "nomadVarList",
    "nomadVarListSafe",
    "nomadVarExists",
];
const VAULT: &[&str] = &["secret", "secrets", "pkiCert"];

fn unsupported_function(name: &str) -> String {
    let why = if CATALOG.contains(&name) {
        "; the catalog functions come with service registration"
    } else if KV.contains(&name) {
        "; the key/value and variable functions come later"
    } else if VAULT.contains(&name) {
        "; Vault is not integrated"
    } else {
        ""
    };
    format!("function {name:?} is not supported yet (drover renders env only{why})")
}

/// How deep `{{ if }}` blocks, and parentheses within one action, may
/// nest: the parser and the evaluator recurse once per level, and a
/// template is the job's to write, so a bound keeps a hostile one from
/// overflowing the agent's stack.
pub const MAX_NESTING: usize = 64;

/// Refuses a template that nests deeper than [`MAX_NESTING`], before the
/// recursive parser sees it.
fn check_nesting(items: &[Item]) -> Parsed<()> {
    let too_deep = |offset: usize, what: &str| {
        At(
            offset,
            format!("{what} nest more than {MAX_NESTING} deep; flatten the template"),
        )
    };
    let mut blocks = 0usize;
    for item in items {
        let Item::Action(toks, _) = item else {
            continue;
        };
        match toks.first() {
            Some((Tok::Ident(word), offset)) if word == "if" => {
                blocks += 1;
                if blocks > MAX_NESTING {
                    return Err(too_deep(*offset, "{{ if }} blocks"));
                }
            }
            Some((Tok::Ident(word), _)) if word == "end" => blocks = blocks.saturating_sub(1),
            _ => {}
        }
        let mut parens = 0usize;
        for (tok, offset) in toks {
            match tok {
                Tok::Open => {
                    parens += 1;
                    if parens > MAX_NESTING {
                        return Err(too_deep(*offset, "parentheses"));
                    }
                }
                Tok::Close => parens = parens.saturating_sub(1),
                _ => {}
            }
        }
    }
    Ok(())
}

fn parse(items: &[Item]) -> Parsed<Vec<Node>> {
    let mut at = 0;
    let (nodes, end) = parse_list(items, &mut at)?;
    match end {
        Stop::Eof => Ok(nodes),
        Stop::Else(_, offset) => Err(At(offset, "{{ else }} without {{ if }}".into())),
        Stop::End(offset) => Err(At(offset, "{{ end }} without {{ if }}".into())),
    }
}

enum Stop<'a> {
    Eof,
    /// The tokens after `else` (e.g. `if …`), and where it is.
    Else(&'a [(Tok, usize)], usize),
    End(usize),
}

fn parse_list<'a>(items: &'a [Item], at: &mut usize) -> Parsed<(Vec<Node>, Stop<'a>)> {
    let mut nodes = Vec::new();
    while let Some(item) = items.get(*at) {
        *at += 1;
        let (toks, start) = match item {
            Item::Text(t) => {
                if !t.is_empty() {
                    nodes.push(Node::Text(t.clone()));
                }
                continue;
            }
            Item::Action(toks, start) => (toks.as_slice(), *start),
        };
        match toks.first() {
            None => return Err(At(start, "empty action: nothing between the delimiters".into())),
            Some((Tok::Ident(word), offset)) => match word.as_str() {
                "if" => {
                    let cond = parse_condition(&toks[1..], *offset)?;
                    nodes.push(parse_if(items, at, cond, *offset)?);
                }
                "else" => return Ok((nodes, Stop::Else(&toks[1..], *offset))),
                "end" => {
                    if let Some((_, extra)) = toks.get(1) {
                        return Err(At(*extra, "unexpected words after end".into()));
                    }
                    return Ok((nodes, Stop::End(*offset)));
                }
                w if UNSUPPORTED_KEYWORDS.contains(&w) => {
                    return Err(At(
                        *offset,
                        format!("{w:?} is not supported yet (drover renders env, if/else and literals only)"),
                    ))
                }
                _ => nodes.push(Node::Output(parse_pipeline(toks, start)?)),
            },
            Some(_) => nodes.push(Node::Output(parse_pipeline(toks, start)?)),
        }
    }
    Ok((nodes, Stop::Eof))
}

fn parse_condition(toks: &[(Tok, usize)], keyword: usize) -> Parsed<Pipeline> {
    if toks.is_empty() {
        return Err(At(keyword, "missing condition after if".into()));
    }
    parse_pipeline(toks, keyword)
}

fn parse_if(items: &[Item], at: &mut usize, first: Pipeline, start: usize) -> Parsed<Node> {
    let mut branches = Vec::new();
    let mut cond = first;
    loop {
        let (body, end) = parse_list(items, at)?;
        branches.push((cond, body));
        match end {
            Stop::End(_) => {
                return Ok(Node::If {
                    branches,
                    otherwise: Vec::new(),
                })
            }
            Stop::Else([], _) => {
                let (otherwise, end) = parse_list(items, at)?;
                return match end {
                    Stop::End(_) => Ok(Node::If {
                        branches,
                        otherwise,
                    }),
                    Stop::Else(_, offset) => {
                        Err(At(offset, "a second {{ else }} in the same if".into()))
                    }
                    Stop::Eof => Err(At(start, "{{ if }} without {{ end }}".into())),
                };
            }
            Stop::Else(rest, offset) => match rest.first() {
                Some((Tok::Ident(w), o)) if w == "if" => cond = parse_condition(&rest[1..], *o)?,
                _ => return Err(At(offset, "after else only \"if …\" may follow".into())),
            },
            Stop::Eof => return Err(At(start, "{{ if }} without {{ end }}".into())),
        }
    }
}

/// Commands separated by `|`; each after the first gets the previous
/// result as its last argument.
fn parse_pipeline(toks: &[(Tok, usize)], start: usize) -> Parsed<Pipeline> {
    let mut commands = Vec::new();
    let mut depth = 0usize;
    let mut from = 0;
    for (i, (tok, offset)) in toks.iter().enumerate() {
        match tok {
            Tok::Open => depth += 1,
            Tok::Close => {
                depth = depth
                    .checked_sub(1)
                    .ok_or_else(|| At(*offset, "unexpected \")\"".into()))?;
            }
            Tok::Pipe if depth == 0 => {
                let at = toks.get(from).map_or(*offset, |t| t.1);
                commands.push(parse_command(&toks[from..i], at, !commands.is_empty())?);
                from = i + 1;
            }
            _ => {}
        }
    }
    if depth > 0 {
        return Err(At(start, "unclosed \"(\"".into()));
    }
    let at = toks.get(from).map_or(start, |t| t.1);
    commands.push(parse_command(&toks[from..], at, !commands.is_empty())?);
    Ok(commands)
}

fn parse_command(toks: &[(Tok, usize)], at: usize, piped: bool) -> Parsed<Command> {
    let mut operands = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        let (operand, used) = parse_operand(&toks[i..], i == 0)?;
        operands.push((operand, toks[i].1));
        i += used;
    }
    let mut operands = operands.into_iter();
    let Some((first, first_at)) = operands.next() else {
        return Err(At(at, "missing command in pipeline".into()));
    };
    let rest: Vec<(Operand, usize)> = operands.collect();
    match first {
        // A name first is the call; its arguments follow.
        Operand::Func(func) => {
            let given = rest.len() + usize::from(piped);
            check_arity(func, given, first_at, &toks[0].0)?;
            Ok(Command::Call(
                func,
                rest.into_iter().map(|(o, _)| o).collect(),
            ))
        }
        other => {
            if let Some((_, offset)) = rest.first() {
                return Err(At(*offset, "only a function takes arguments".into()));
            }
            if piped {
                return Err(At(first_at, "only a function can follow \"|\"".into()));
            }
            Ok(Command::Value(other))
        }
    }
}

fn check_arity(func: Func, given: usize, at: usize, name: &Tok) -> Parsed<()> {
    let (min, max) = func.arity();
    if given >= min && given <= max {
        return Ok(());
    }
    let Tok::Ident(name) = name else {
        return Ok(());
    };
    let wanted = match (min, max) {
        (1, 1) => "1 argument".to_string(),
        (m, usize::MAX) => format!("at least {m} arguments"),
        (m, n) if m == n => format!("{m} arguments"),
        (m, n) => format!("{m} to {n} arguments"),
    };
    Err(At(
        at,
        format!("function {name:?} takes {wanted}, got {given}"),
    ))
}

/// One operand and how many tokens it used. A name not first in its
/// command is a call without arguments, as in Go.
fn parse_operand(toks: &[(Tok, usize)], first: bool) -> Parsed<(Operand, usize)> {
    let (tok, offset) = &toks[0];
    match tok {
        Tok::Str(s) => Ok((Operand::Str(s.clone()), 1)),
        Tok::Number(n) => Ok((Operand::Str(n.clone()), 1)),
        Tok::Ident(w) if w == "true" || w == "false" => Ok((Operand::Bool(w == "true"), 1)),
        Tok::Ident(w) => match Func::of(w) {
            Some(func) => {
                if !first {
                    check_arity(func, 0, *offset, tok)?;
                }
                Ok((Operand::Func(func), 1))
            }
            None if ["if", "else", "end"].contains(&w.as_str())
                || UNSUPPORTED_KEYWORDS.contains(&w.as_str()) =>
            {
                Err(At(*offset, format!("unexpected {w:?} inside an action")))
            }
            None => Err(At(*offset, unsupported_function(w))),
        },
        Tok::Open => {
            let mut depth = 0usize;
            let close = toks.iter().position(|(t, _)| {
                match t {
                    Tok::Open => depth += 1,
                    Tok::Close => depth = depth.saturating_sub(1),
                    _ => {}
                }
                depth == 0
            });
            let Some(close) = close else {
                return Err(At(*offset, "unclosed \"(\"".into()));
            };
            if close == 1 {
                return Err(At(*offset, "empty parentheses".into()));
            }
            let inner = parse_pipeline(&toks[1..close], *offset)?;
            Ok((Operand::Pipeline(inner), close + 1))
        }
        Tok::Data(d) => Err(At(
            *offset,
            format!("{d:?} is not supported yet (drover templates have no data or variables; use env \"NAME\")"),
        )),
        Tok::Pipe => Err(At(*offset, "missing command before \"|\"".into())),
        Tok::Close => Err(At(*offset, "unexpected \")\"".into())),
        Tok::Punct(c) => Err(At(*offset, format!("unexpected {c:?} in action"))),
    }
}

// ------------------------------------------------------------ evaluation

#[derive(Debug, Clone, PartialEq)]
enum Value {
    Str(String),
    Bool(bool),
}

impl Value {
    fn truthy(&self) -> bool {
        match self {
            Value::Str(s) => !s.is_empty(),
            Value::Bool(b) => *b,
        }
    }

    fn into_string(self) -> String {
        match self {
            Value::Str(s) => s,
            Value::Bool(b) => b.to_string(),
        }
    }
}

type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

fn eval_list(nodes: &[Node], env: Env<'_>, out: &mut String) -> Parsed<()> {
    for node in nodes {
        match node {
            Node::Text(t) => out.push_str(t),
            Node::Output(p) => out.push_str(&eval_pipeline(p, env).into_string()),
            Node::If {
                branches,
                otherwise,
            } => {
                let body = branches
                    .iter()
                    .find(|(cond, _)| eval_pipeline(cond, env).truthy())
                    .map_or(otherwise, |(_, body)| body);
                eval_list(body, env, out)?;
            }
        }
    }
    Ok(())
}

fn eval_pipeline(pipeline: &Pipeline, env: Env<'_>) -> Value {
    let mut last: Option<Value> = None;
    for command in pipeline {
        last = Some(match command {
            Command::Value(o) => eval_operand(o, env),
            Command::Call(func, args) => {
                let mut values: Vec<Value> = args.iter().map(|a| eval_operand(a, env)).collect();
                values.extend(last.take());
                call(*func, values, env)
            }
        });
    }
    last.unwrap_or(Value::Str(String::new()))
}

fn eval_operand(operand: &Operand, env: Env<'_>) -> Value {
    match operand {
        Operand::Str(s) => Value::Str(s.clone()),
        Operand::Bool(b) => Value::Bool(*b),
        Operand::Func(func) => call(*func, Vec::new(), env),
        Operand::Pipeline(p) => eval_pipeline(p, env),
    }
}

/// Arity was checked when parsing, so missing arguments cannot happen; an
/// empty string stands in rather than a panic.
fn call(func: Func, args: Vec<Value>, env: Env<'_>) -> Value {
    let text = |i: usize| {
        args.get(i)
            .cloned()
            .map(Value::into_string)
            .unwrap_or_default()
    };
    match func {
        Func::Env => Value::Str(env(&text(0)).unwrap_or_default()),
        Func::ToUpper => Value::Str(text(0).to_uppercase()),
        Func::ToLower => Value::Str(text(0).to_lowercase()),
        Func::TrimSpace => Value::Str(text(0).trim().to_string()),
        Func::Not => Value::Bool(!args.first().is_some_and(Value::truthy)),
        Func::And => pick(args, |v| !v.truthy()),
        Func::Or => pick(args, Value::truthy),
        Func::Eq => Value::Bool(args.iter().skip(1).any(|v| Some(v) == args.first())),
        Func::Ne => Value::Bool(args.first() != args.get(1)),
    }
}

/// Go's `and`/`or`: the first argument that decides, else the last.
fn pick(args: Vec<Value>, decides: impl Fn(&Value) -> bool) -> Value {
    let mut last = Value::Str(String::new());
    for v in args {
        if decides(&v) {
            return v;
        }
        last = v;
    }
    last
}

// ------------------------------------------------------------- env files

/// The `KEY=VALUE` lines of an `env = true` template, as Nomad's env file
/// parser reads them: `#` comments and blank lines skipped, an optional
/// `export `, values in double quotes (with `\n`, `\"`, `\\` escapes) or
/// single quotes (literal), unquoted values trimmed and ended by ` #`.
pub fn parse_env_file(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").map_or(line, str::trim_start);
        let Some((key, value)) = line.split_once('=') else {
            return Err(format!("line {}: {raw:?} is not KEY=VALUE", n + 1));
        };
        let key = key.trim();
        let valid = key.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
        if !valid {
            return Err(format!(
                "line {}: {key:?} is not a variable name (letters, digits and _)",
                n + 1
            ));
        }
        let value = value.trim();
        let value = if let Some(inner) = value.strip_prefix('"') {
            unquote_double(inner)
                .ok_or_else(|| format!("line {}: the value of {key} has no closing \"", n + 1))?
        } else if let Some(inner) = value.strip_prefix('\'') {
            match inner.find('\'') {
                Some(end) => inner[..end].to_string(),
                None => {
                    return Err(format!(
                        "line {}: the value of {key} has no closing '",
                        n + 1
                    ))
                }
            }
        } else {
            let end = value.find(" #").unwrap_or(value.len());
            value[..end].trim_end().to_string()
        };
        out.insert(key.to_string(), value);
    }
    Ok(out)
}

fn unquote_double(inner: &str) -> Option<String> {
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Some(out),
            '\\' => match chars.next()? {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                other => out.push(other),
            },
            c => out.push(c),
        }
    }
    None
}

#[cfg(test)]
mod tests;
