//! The HCL2 function library Nomad job files use: registration, argument
//! helpers, and the string functions. Collection, number and encoding
//! functions live in [`super::funcs_collections`].
//!
//! Every function takes `ParamType::Any` parameters and checks types itself,
//! so a wrong argument gets a message in HCL terms ("upper: argument 1 must
//! be a string, got a list") rather than hcl-rs's generic one.

use hcl::eval::{Context, Func, FuncArgs, FuncDef, ParamType};
use hcl::{Number, Value};

use super::funcs_collections as coll;

/// `(name, function, fixed parameter count, takes more)`.
type Entry = (&'static str, Func, usize, bool);

const STRING_FUNCS: &[Entry] = &[
    ("format", format, 1, true),
    ("formatlist", formatlist, 1, true),
    ("join", join, 2, false),
    ("split", split, 2, false),
    ("upper", upper, 1, false),
    ("lower", lower, 1, false),
    ("title", title, 1, false),
    ("trimspace", trimspace, 1, false),
    ("trim", trim, 2, false),
    ("trimprefix", trimprefix, 2, false),
    ("trimsuffix", trimsuffix, 2, false),
    ("startswith", startswith, 2, false),
    ("endswith", endswith, 2, false),
    ("replace", replace, 3, false),
    ("regex_replace", regex_replace, 3, false),
    ("regexall", regexall, 2, false),
    ("regex", regex, 2, false),
    ("substr", substr, 3, false),
    ("strrev", strrev, 1, false),
    ("chomp", chomp, 1, false),
    ("indent", indent, 2, false),
];

/// Functions resolved before evaluation because they need the job file's
/// directory (hcl-rs functions are plain `fn` pointers without state).
pub(super) const FILE_FUNCS: [&str; 2] = ["file", "fileexists"];

/// Every function name a job file may call, for "did you mean".
pub(super) fn names() -> impl Iterator<Item = &'static str> {
    STRING_FUNCS
        .iter()
        .chain(coll::FUNCS.iter())
        .map(|(name, ..)| *name)
        .chain(FILE_FUNCS)
}

/// Declares the whole library in `ctx`.
pub(super) fn declare_all(ctx: &mut Context<'_>) {
    for (name, func, params, variadic) in STRING_FUNCS.iter().chain(coll::FUNCS.iter()) {
        let mut builder = FuncDef::builder().params(vec![ParamType::Any; *params]);
        if *variadic {
            builder = builder.variadic_param(ParamType::Any);
        }
        ctx.declare_func(*name, builder.build(*func));
    }
}

// ---- argument helpers, shared with funcs_collections ----

/// A short description of a value's type for error messages.
pub(super) fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a bool",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// Strings, and numbers and bools converted as HCL does implicitly.
pub(super) fn to_str(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

pub(super) fn arg(args: &FuncArgs, index: usize) -> Result<&Value, String> {
    args.get(index)
        .ok_or_else(|| format!("missing argument {}", index + 1))
}

pub(super) fn str_arg(args: &FuncArgs, index: usize) -> Result<String, String> {
    let value = arg(args, index)?;
    to_str(value).ok_or_else(|| {
        format!(
            "argument {} must be a string, got {}",
            index + 1,
            kind(value)
        )
    })
}

pub(super) fn num_of(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

pub(super) fn num_arg(args: &FuncArgs, index: usize) -> Result<f64, String> {
    let value = arg(args, index)?;
    num_of(value).ok_or_else(|| {
        format!(
            "argument {} must be a number, got {}",
            index + 1,
            kind(value)
        )
    })
}

pub(super) fn int_arg(args: &FuncArgs, index: usize) -> Result<i64, String> {
    let n = num_arg(args, index)?;
    if n.fract() != 0.0 {
        return Err(format!("argument {} must be a whole number", index + 1));
    }
    Ok(n as i64)
}

pub(super) fn list_arg(args: &FuncArgs, index: usize) -> Result<&Vec<Value>, String> {
    let value = arg(args, index)?;
    value
        .as_array()
        .ok_or_else(|| format!("argument {} must be a list, got {}", index + 1, kind(value)))
}

/// A number value, integral when it has no fraction so it prints as `3`.
pub(super) fn number(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 9.0e15 {
        Value::Number(Number::from(n as i64))
    } else {
        Number::from_f64(n).map_or(Value::Null, Value::Number)
    }
}

fn strings(list: &[Value], what: &str) -> Result<Vec<String>, String> {
    list.iter()
        .map(|v| to_str(v).ok_or_else(|| format!("{what} must hold strings, got {}", kind(v))))
        .collect()
}

// ---- format ----

fn format(args: FuncArgs) -> Result<Value, String> {
    let spec = str_arg(&args, 0)?;
    let rest = args.get(1..).unwrap_or_default();
    format_values(&spec, rest).map(Value::String)
}

/// Go's `fmt` verbs as HCL's `format` supports them: `%s %d %v %q %f %t %x
/// %X %o %b %e %%`, with flags `-`, `0`, `+`, width and precision.
pub(super) fn format_values(spec: &str, args: &[Value]) -> Result<String, String> {
    let mut out = String::new();
    let mut chars = spec.chars().peekable();
    let mut next = 0;
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut flags = String::new();
        while let Some(&f) = chars.peek() {
            if "-+ 0#.".contains(f) || f.is_ascii_digit() {
                flags.push(f);
                chars.next();
            } else {
                break;
            }
        }
        let verb = chars
            .next()
            .ok_or("the format ends with an incomplete % verb")?;
        if verb == '%' {
            out.push('%');
            continue;
        }
        let value = args
            .get(next)
            .ok_or_else(|| format!("not enough arguments for the format (%{verb} has none)"))?;
        next += 1;
        out.push_str(&pad(&flags, &format_one(verb, &flags, value)?));
    }
    if next < args.len() {
        return Err(format!(
            "too many arguments: the format uses {next}, got {}",
            args.len()
        ));
    }
    Ok(out)
}

fn precision(flags: &str) -> Option<usize> {
    flags.split_once('.').and_then(|(_, p)| p.parse().ok())
}

fn format_one(verb: char, flags: &str, value: &Value) -> Result<String, String> {
    let need_num =
        || num_of(value).ok_or_else(|| format!("%{verb} needs a number, got {}", kind(value)));
    let need_int = || {
        need_num().and_then(|n| {
            if n.fract() == 0.0 {
                Ok(n as i64)
            } else {
                Err(format!("%{verb} needs a whole number, got {n}"))
            }
        })
    };
    let plus = |s: String, n: f64| {
        if flags.contains('+') && n >= 0.0 {
            format!("+{s}")
        } else {
            s
        }
    };
    Ok(match verb {
        's' => to_str(value).ok_or_else(|| format!("%s needs a string, got {}", kind(value)))?,
        'v' => display(value),
        'q' => serde_json::to_string(&display(value)).map_err(|e| e.to_string())?,
        'd' => need_int().map(|n| plus(n.to_string(), n as f64))?,
        'f' => need_num().map(|n| plus(format!("{n:.*}", precision(flags).unwrap_or(6)), n))?,
        'e' => need_num().map(|n| format!("{n:.*e}", precision(flags).unwrap_or(6)))?,
        'x' => need_int().map(|n| format!("{n:x}"))?,
        'X' => need_int().map(|n| format!("{n:X}"))?,
        'o' => need_int().map(|n| format!("{n:o}"))?,
        'b' => need_int().map(|n| format!("{n:b}"))?,
        't' => match value {
            Value::Bool(b) => b.to_string(),
            other => return Err(format!("%t needs a bool, got {}", kind(other))),
        },
        other => return Err(format!("unsupported format verb %{other}")),
    })
}

/// Applies width (`%5d`), left alignment (`%-5s`) and zero padding (`%05d`).
fn pad(flags: &str, text: &str) -> String {
    let width_part = flags.split('.').next().unwrap_or_default();
    let digits: String = width_part
        .trim_start_matches(['-', '+', ' ', '#', '0'])
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let width: usize = digits.parse().unwrap_or(0);
    let len = text.chars().count();
    if len >= width {
        return text.to_string();
    }
    let fill = width - len;
    if width_part.contains('-') {
        format!("{text}{}", " ".repeat(fill))
    } else if width_part.starts_with('0') || width_part.starts_with("+0") {
        let (sign, digits) = match text.strip_prefix(['-', '+']) {
            Some(rest) => (&text[..1], rest),
            None => ("", text),
        };
        format!("{sign}{}{digits}", "0".repeat(fill))
    } else {
        format!("{}{text}", " ".repeat(fill))
    }
}

/// `%v`: strings bare, everything else as JSON.
pub(super) fn display(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => serde_json::to_string(other).unwrap_or_default(),
    }
}

fn formatlist(args: FuncArgs) -> Result<Value, String> {
    let spec = str_arg(&args, 0)?;
    let rest = args.get(1..).unwrap_or_default();
    let lengths: Vec<usize> = rest
        .iter()
        .filter_map(|v| v.as_array().map(Vec::len))
        .collect();
    let Some(&len) = lengths.first() else {
        return format_values(&spec, rest).map(|s| Value::Array(vec![Value::String(s)]));
    };
    if lengths.iter().any(|&l| l != len) {
        return Err("all list arguments must have the same length".into());
    }
    (0..len)
        .map(|i| {
            let row: Vec<Value> = rest
                .iter()
                .map(|v| match v {
                    Value::Array(items) => items.get(i).cloned().unwrap_or(Value::Null),
                    other => other.clone(),
                })
                .collect();
            format_values(&spec, &row).map(Value::String)
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Value::Array)
}

// ---- strings ----

fn join(args: FuncArgs) -> Result<Value, String> {
    let sep = str_arg(&args, 0)?;
    let items = strings(list_arg(&args, 1)?, "join's list")?;
    Ok(Value::String(items.join(&sep)))
}

fn split(args: FuncArgs) -> Result<Value, String> {
    let sep = str_arg(&args, 0)?;
    let text = str_arg(&args, 1)?;
    if text.is_empty() {
        return Ok(Value::Array(Vec::new()));
    }
    Ok(Value::Array(
        text.split(sep.as_str())
            .map(|s| Value::String(s.to_string()))
            .collect(),
    ))
}

fn upper(args: FuncArgs) -> Result<Value, String> {
    Ok(Value::String(str_arg(&args, 0)?.to_uppercase()))
}

fn lower(args: FuncArgs) -> Result<Value, String> {
    Ok(Value::String(str_arg(&args, 0)?.to_lowercase()))
}

fn title(args: FuncArgs) -> Result<Value, String> {
    let text = str_arg(&args, 0)?;
    let mut out = String::with_capacity(text.len());
    let mut at_word_start = true;
    for c in text.chars() {
        if at_word_start && c.is_alphabetic() {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        at_word_start = !c.is_alphanumeric();
    }
    Ok(Value::String(out))
}

fn trimspace(args: FuncArgs) -> Result<Value, String> {
    Ok(Value::String(str_arg(&args, 0)?.trim().to_string()))
}

fn trim(args: FuncArgs) -> Result<Value, String> {
    let text = str_arg(&args, 0)?;
    let cut: Vec<char> = str_arg(&args, 1)?.chars().collect();
    Ok(Value::String(text.trim_matches(cut.as_slice()).to_string()))
}

fn trimprefix(args: FuncArgs) -> Result<Value, String> {
    let text = str_arg(&args, 0)?;
    let prefix = str_arg(&args, 1)?;
    Ok(Value::String(
        text.strip_prefix(prefix.as_str())
            .unwrap_or(&text)
            .to_string(),
    ))
}

fn trimsuffix(args: FuncArgs) -> Result<Value, String> {
    let text = str_arg(&args, 0)?;
    let suffix = str_arg(&args, 1)?;
    Ok(Value::String(
        text.strip_suffix(suffix.as_str())
            .unwrap_or(&text)
            .to_string(),
    ))
}

fn startswith(args: FuncArgs) -> Result<Value, String> {
    Ok(Value::Bool(
        str_arg(&args, 0)?.starts_with(&str_arg(&args, 1)?),
    ))
}

fn endswith(args: FuncArgs) -> Result<Value, String> {
    Ok(Value::Bool(
        str_arg(&args, 0)?.ends_with(&str_arg(&args, 1)?),
    ))
}

fn compile(pattern: &str) -> Result<regex::Regex, String> {
    regex::Regex::new(pattern).map_err(|e| format!("invalid regular expression {pattern:?}: {e}"))
}

/// Go's `$1`/`${name}` references work unchanged with the regex crate.
fn replace(args: FuncArgs) -> Result<Value, String> {
    let text = str_arg(&args, 0)?;
    let search = str_arg(&args, 1)?;
    let replacement = str_arg(&args, 2)?;
    let pattern = search
        .strip_prefix('/')
        .and_then(|s| s.strip_suffix('/'))
        .filter(|s| !s.is_empty());
    Ok(Value::String(match pattern {
        Some(pattern) => compile(pattern)?
            .replace_all(&text, replacement.as_str())
            .into_owned(),
        None => text.replace(&search, &replacement),
    }))
}

fn regex_replace(args: FuncArgs) -> Result<Value, String> {
    let text = str_arg(&args, 0)?;
    let re = compile(&str_arg(&args, 1)?)?;
    let replacement = str_arg(&args, 2)?;
    Ok(Value::String(
        re.replace_all(&text, replacement.as_str()).into_owned(),
    ))
}

/// A match as Terraform returns it: the string without capture groups, the
/// list of groups with unnamed ones, an object with named ones.
fn match_value(re: &regex::Regex, caps: &regex::Captures<'_>) -> Value {
    let text =
        |m: Option<regex::Match<'_>>| m.map_or(Value::Null, |m| Value::String(m.as_str().into()));
    if re.captures_len() == 1 {
        return text(caps.get(0));
    }
    let names: Vec<Option<&str>> = re.capture_names().skip(1).collect();
    if names.iter().all(Option::is_some) {
        let object = names
            .iter()
            .flatten()
            .map(|n| (n.to_string(), text(caps.name(n))))
            .collect();
        return Value::Object(object);
    }
    Value::Array((1..re.captures_len()).map(|i| text(caps.get(i))).collect())
}

fn regexall(args: FuncArgs) -> Result<Value, String> {
    let re = compile(&str_arg(&args, 0)?)?;
    let text = str_arg(&args, 1)?;
    Ok(Value::Array(
        re.captures_iter(&text)
            .map(|c| match_value(&re, &c))
            .collect(),
    ))
}

fn regex(args: FuncArgs) -> Result<Value, String> {
    let pattern = str_arg(&args, 0)?;
    let re = compile(&pattern)?;
    let text = str_arg(&args, 1)?;
    re.captures(&text)
        .map(|c| match_value(&re, &c))
        .ok_or_else(|| format!("pattern {pattern:?} does not match {text:?}"))
}

fn substr(args: FuncArgs) -> Result<Value, String> {
    let chars: Vec<char> = str_arg(&args, 0)?.chars().collect();
    let len = chars.len() as i64;
    let mut offset = int_arg(&args, 1)?;
    let length = int_arg(&args, 2)?;
    if offset < 0 {
        offset += len;
    }
    let start = offset.clamp(0, len);
    let end = if length < 0 {
        len
    } else {
        (start + length).min(len)
    };
    let out: String = chars
        .get(start as usize..end as usize)
        .unwrap_or_default()
        .iter()
        .collect();
    Ok(Value::String(out))
}

fn strrev(args: FuncArgs) -> Result<Value, String> {
    Ok(Value::String(str_arg(&args, 0)?.chars().rev().collect()))
}

fn chomp(args: FuncArgs) -> Result<Value, String> {
    let text = str_arg(&args, 0)?;
    Ok(Value::String(
        text.trim_end_matches(['\n', '\r']).to_string(),
    ))
}

fn indent(args: FuncArgs) -> Result<Value, String> {
    let spaces = " ".repeat(int_arg(&args, 0)?.max(0) as usize);
    let text = str_arg(&args, 1)?;
    Ok(Value::String(text.replace('\n', &format!("\n{spaces}"))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hcl::eval::Evaluate;

    fn eval(src: &str) -> Result<Value, String> {
        let mut ctx = Context::new();
        declare_all(&mut ctx);
        let expr: hcl::Expression = src.parse().map_err(|e: hcl::Error| e.to_string())?;
        expr.evaluate(&ctx).map_err(|e| e.to_string())
    }

    fn ok(src: &str) -> Value {
        eval(src).unwrap_or_else(|e| panic!("{src}: {e}"))
    }

    #[test]
    fn format_supports_go_verbs() {
        assert_eq!(ok(r#"format("%s-%d", "web", 3)"#), Value::from("web-3"));
        assert_eq!(
            ok(r#"format("%05d|%-4s|%.2f", 42, "ab", 3.14159)"#),
            Value::from("00042|ab  |3.14")
        );
        assert_eq!(
            ok(r#"format("%q %v %%", "x", [1])"#),
            Value::from("\"x\" [1] %")
        );
        assert!(eval(r#"format("%s %s", "a")"#).is_err());
    }

    #[test]
    fn formatlist_zips_lists() {
        assert_eq!(
            ok(r#"formatlist("%s:%d", ["a", "b"], [1, 2])"#),
            Value::from(vec!["a:1", "b:2"])
        );
    }

    #[test]
    fn string_functions() {
        assert_eq!(
            ok(r#"join(",", split("-", "a-b-c"))"#),
            Value::from("a,b,c")
        );
        assert_eq!(ok(r#"upper("ab")"#), Value::from("AB"));
        assert_eq!(ok(r#"lower("AB")"#), Value::from("ab"));
        assert_eq!(
            ok(r#"title("hello big world")"#),
            Value::from("Hello Big World")
        );
        assert_eq!(ok(r#"trimspace("  x \n")"#), Value::from("x"));
        assert_eq!(ok(r#"trim("?!hi?!", "!?")"#), Value::from("hi"));
        assert_eq!(ok(r#"trimprefix("v1.2", "v")"#), Value::from("1.2"));
        assert_eq!(ok(r#"trimsuffix("a.txt", ".txt")"#), Value::from("a"));
        assert_eq!(ok(r#"replace("a-b-c", "-", "_")"#), Value::from("a_b_c"));
        assert_eq!(
            ok(r##"replace("a1b22", "/[0-9]+/", "#")"##),
            Value::from("a#b#")
        );
        assert_eq!(
            ok(r#"regex_replace("v1.2.3", "^v", "")"#),
            Value::from("1.2.3")
        );
        assert_eq!(
            ok(r#"regexall("[0-9]+", "a1b22")"#),
            Value::from(vec!["1", "22"])
        );
        assert_eq!(ok(r#"substr("hello", 1, 3)"#), Value::from("ell"));
        assert_eq!(ok(r#"substr("hello", -3, -1)"#), Value::from("llo"));
        assert_eq!(ok(r#"startswith("nomad", "no")"#), Value::Bool(true));
    }

    #[test]
    fn type_errors_name_the_argument() {
        let err = eval(r#"upper([1])"#).err().unwrap_or_default();
        assert!(
            err.contains("argument 1 must be a string, got a list"),
            "{err}"
        );
    }
}
