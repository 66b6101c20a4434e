//! Collection, number, type-conversion and encoding functions of the HCL2
//! library (see [`super::funcs`] for registration and the string functions).

use hcl::eval::FuncArgs;
use hcl::{Map, Value};

use super::funcs::{arg, int_arg, kind, list_arg, num_arg, num_of, number, str_arg, to_str};

type Entry = (&'static str, hcl::eval::Func, usize, bool);

pub(super) const FUNCS: &[Entry] = &[
    ("lookup", lookup, 2, true),
    ("merge", merge, 0, true),
    ("concat", concat, 0, true),
    ("contains", contains, 2, false),
    ("length", length, 1, false),
    ("keys", keys, 1, false),
    ("values", values, 1, false),
    ("element", element, 2, false),
    ("index", index, 2, false),
    ("coalesce", coalesce, 0, true),
    ("coalescelist", coalescelist, 0, true),
    ("compact", compact, 1, false),
    ("distinct", distinct, 1, false),
    ("flatten", flatten, 1, false),
    ("reverse", reverse, 1, false),
    ("sort", sort, 1, false),
    ("slice", slice, 3, false),
    ("zipmap", zipmap, 2, false),
    ("chunklist", chunklist, 2, false),
    ("range", range, 1, true),
    ("min", min, 0, true),
    ("max", max, 0, true),
    ("sum", sum, 1, false),
    ("abs", abs, 1, false),
    ("ceil", ceil, 1, false),
    ("floor", floor, 1, false),
    ("parseint", parseint, 2, false),
    ("tostring", tostring, 1, false),
    ("tonumber", tonumber, 1, false),
    ("tobool", tobool, 1, false),
    ("tolist", tolist, 1, false),
    ("toset", toset, 1, false),
    ("tomap", tomap, 1, false),
    ("jsonencode", jsonencode, 1, false),
    ("jsondecode", jsondecode, 1, false),
    ("yamlencode", yamlencode, 1, false),
    ("base64encode", base64encode, 1, false),
    ("base64decode", base64decode, 1, false),
];

fn object_arg(args: &FuncArgs, index: usize) -> Result<&Map<String, Value>, String> {
    let value = arg(args, index)?;
    value
        .as_object()
        .ok_or_else(|| format!("argument {} must be a map, got {}", index + 1, kind(value)))
}

fn lookup(args: FuncArgs) -> Result<Value, String> {
    let map = object_arg(&args, 0)?;
    let key = str_arg(&args, 1)?;
    match (map.get(&key), args.get(2)) {
        (Some(v), _) => Ok(v.clone()),
        (None, Some(default)) => Ok(default.clone()),
        (None, None) => Err(format!(
            "the map has no key {key:?} and no default was given"
        )),
    }
}

fn merge(args: FuncArgs) -> Result<Value, String> {
    let mut out = Map::new();
    for (i, value) in args.iter().enumerate() {
        match value {
            Value::Object(map) => out.extend(map.clone()),
            Value::Null => {}
            other => {
                return Err(format!(
                    "argument {} must be a map, got {}",
                    i + 1,
                    kind(other)
                ))
            }
        }
    }
    Ok(Value::Object(out))
}

fn concat(args: FuncArgs) -> Result<Value, String> {
    let mut out = Vec::new();
    for i in 0..args.len() {
        out.extend(list_arg(&args, i)?.iter().cloned());
    }
    Ok(Value::Array(out))
}

fn contains(args: FuncArgs) -> Result<Value, String> {
    let needle = arg(&args, 1)?;
    Ok(Value::Bool(list_arg(&args, 0)?.contains(needle)))
}

fn length(args: FuncArgs) -> Result<Value, String> {
    let n = match arg(&args, 0)? {
        Value::Array(items) => items.len(),
        Value::Object(map) => map.len(),
        Value::String(s) => s.chars().count(),
        other => {
            return Err(format!(
                "length needs a list, map or string, got {}",
                kind(other)
            ))
        }
    };
    Ok(Value::from(n))
}

/// HCL maps iterate in lexical key order, which `keys` and `values` follow.
fn sorted_entries(map: &Map<String, Value>) -> Vec<(&String, &Value)> {
    let mut entries: Vec<_> = map.iter().collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    entries
}

fn keys(args: FuncArgs) -> Result<Value, String> {
    let map = object_arg(&args, 0)?;
    Ok(Value::Array(
        sorted_entries(map)
            .into_iter()
            .map(|(k, _)| Value::String(k.clone()))
            .collect(),
    ))
}

fn values(args: FuncArgs) -> Result<Value, String> {
    let map = object_arg(&args, 0)?;
    Ok(Value::Array(
        sorted_entries(map)
            .into_iter()
            .map(|(_, v)| v.clone())
            .collect(),
    ))
}

fn element(args: FuncArgs) -> Result<Value, String> {
    let list = list_arg(&args, 0)?;
    let i = int_arg(&args, 1)?;
    if list.is_empty() {
        return Err("cannot take an element of an empty list".into());
    }
    if i < 0 {
        return Err("the index must not be negative".into());
    }
    Ok(list[(i as usize) % list.len()].clone())
}

fn index(args: FuncArgs) -> Result<Value, String> {
    let needle = arg(&args, 1)?;
    list_arg(&args, 0)?
        .iter()
        .position(|v| v == needle)
        .map(Value::from)
        .ok_or_else(|| format!("{} is not in the list", super::funcs::display(needle)))
}

fn coalesce(args: FuncArgs) -> Result<Value, String> {
    args.iter()
        .find(|v| !matches!(v, Value::Null) && *v != &Value::String(String::new()))
        .cloned()
        .ok_or_else(|| "no non-null, non-empty argument".to_string())
}

fn coalescelist(args: FuncArgs) -> Result<Value, String> {
    for i in 0..args.len() {
        if !list_arg(&args, i)?.is_empty() {
            return Ok(args[i].clone());
        }
    }
    Ok(Value::Array(Vec::new()))
}

fn compact(args: FuncArgs) -> Result<Value, String> {
    Ok(Value::Array(
        list_arg(&args, 0)?
            .iter()
            .filter(|v| !matches!(v, Value::Null) && *v != &Value::String(String::new()))
            .cloned()
            .collect(),
    ))
}

fn dedup(items: &[Value]) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    for item in items {
        if !out.contains(item) {
            out.push(item.clone());
        }
    }
    out
}

fn distinct(args: FuncArgs) -> Result<Value, String> {
    Ok(Value::Array(dedup(list_arg(&args, 0)?)))
}

fn flatten_into(items: &[Value], out: &mut Vec<Value>) {
    for item in items {
        match item {
            Value::Array(inner) => flatten_into(inner, out),
            other => out.push(other.clone()),
        }
    }
}

fn flatten(args: FuncArgs) -> Result<Value, String> {
    let mut out = Vec::new();
    flatten_into(list_arg(&args, 0)?, &mut out);
    Ok(Value::Array(out))
}

fn reverse(args: FuncArgs) -> Result<Value, String> {
    Ok(Value::Array(
        list_arg(&args, 0)?.iter().rev().cloned().collect(),
    ))
}

fn sort(args: FuncArgs) -> Result<Value, String> {
    let mut items = list_arg(&args, 0)?
        .iter()
        .map(|v| to_str(v).ok_or_else(|| format!("sort needs strings, got {}", kind(v))))
        .collect::<Result<Vec<_>, _>>()?;
    items.sort();
    Ok(Value::Array(items.into_iter().map(Value::String).collect()))
}

fn slice(args: FuncArgs) -> Result<Value, String> {
    let list = list_arg(&args, 0)?;
    let (start, end) = (int_arg(&args, 1)?, int_arg(&args, 2)?);
    if start < 0 || end < start || end as usize > list.len() {
        return Err(format!(
            "slice({start}, {end}) is out of range for {} elements",
            list.len()
        ));
    }
    Ok(Value::Array(list[start as usize..end as usize].to_vec()))
}

fn zipmap(args: FuncArgs) -> Result<Value, String> {
    let keys = list_arg(&args, 0)?;
    let values = list_arg(&args, 1)?;
    if keys.len() != values.len() {
        return Err("the key and value lists must have the same length".into());
    }
    keys.iter()
        .zip(values)
        .map(|(k, v)| {
            to_str(k)
                .map(|k| (k, v.clone()))
                .ok_or_else(|| format!("keys must be strings, got {}", kind(k)))
        })
        .collect::<Result<Map<_, _>, _>>()
        .map(Value::Object)
}

fn chunklist(args: FuncArgs) -> Result<Value, String> {
    let list = list_arg(&args, 0)?;
    let size = int_arg(&args, 1)?;
    if size <= 0 {
        return Ok(Value::Array(vec![Value::Array(list.clone())]));
    }
    Ok(Value::Array(
        list.chunks(size as usize)
            .map(|c| Value::Array(c.to_vec()))
            .collect(),
    ))
}

fn range(args: FuncArgs) -> Result<Value, String> {
    let nums = (0..args.len())
        .map(|i| num_arg(&args, i))
        .collect::<Result<Vec<f64>, _>>()?;
    let (start, end, step) = match nums.as_slice() {
        [end] => (0.0, *end, 1.0),
        [start, end] => (*start, *end, if end >= start { 1.0 } else { -1.0 }),
        [start, end, step] => (*start, *end, *step),
        _ => return Err("range takes one to three numbers".into()),
    };
    if step == 0.0 || (step > 0.0) != (end >= start) && start != end {
        return Err("the step must move from start toward end".into());
    }
    let count = ((end - start) / step).ceil().max(0.0) as usize;
    if count > 1024 {
        return Err("range would produce more than 1024 elements".into());
    }
    Ok(Value::Array(
        (0..count)
            .map(|i| number(start + step * i as f64))
            .collect(),
    ))
}

fn numbers(args: &FuncArgs) -> Result<Vec<f64>, String> {
    if args.is_empty() {
        return Err("needs at least one number".into());
    }
    (0..args.len()).map(|i| num_arg(args, i)).collect()
}

fn min(args: FuncArgs) -> Result<Value, String> {
    Ok(number(
        numbers(&args)?.into_iter().fold(f64::INFINITY, f64::min),
    ))
}

fn max(args: FuncArgs) -> Result<Value, String> {
    Ok(number(
        numbers(&args)?
            .into_iter()
            .fold(f64::NEG_INFINITY, f64::max),
    ))
}

fn sum(args: FuncArgs) -> Result<Value, String> {
    let total = list_arg(&args, 0)?
        .iter()
        .map(|v| num_of(v).ok_or_else(|| format!("sum needs numbers, got {}", kind(v))))
        .sum::<Result<f64, String>>()?;
    Ok(number(total))
}

fn abs(args: FuncArgs) -> Result<Value, String> {
    Ok(number(num_arg(&args, 0)?.abs()))
}

fn ceil(args: FuncArgs) -> Result<Value, String> {
    Ok(number(num_arg(&args, 0)?.ceil()))
}

fn floor(args: FuncArgs) -> Result<Value, String> {
    Ok(number(num_arg(&args, 0)?.floor()))
}

fn parseint(args: FuncArgs) -> Result<Value, String> {
    let text = str_arg(&args, 0)?;
    let base = int_arg(&args, 1)?;
    let base = u32::try_from(base).ok().filter(|b| (2..=36).contains(b));
    let base = base.ok_or("the base must be between 2 and 36")?;
    i64::from_str_radix(&text, base)
        .map(Value::from)
        .map_err(|e| format!("cannot parse {text:?} in base {base}: {e}"))
}

fn tostring(args: FuncArgs) -> Result<Value, String> {
    match arg(&args, 0)? {
        Value::Null => Ok(Value::Null),
        v => to_str(v)
            .map(Value::String)
            .ok_or_else(|| format!("cannot convert {} to a string", kind(v))),
    }
}

fn tonumber(args: FuncArgs) -> Result<Value, String> {
    match arg(&args, 0)? {
        Value::Null => Ok(Value::Null),
        v => num_of(v)
            .map(number)
            .ok_or_else(|| format!("cannot convert {} to a number", super::funcs::display(v))),
    }
}

fn tobool(args: FuncArgs) -> Result<Value, String> {
    match arg(&args, 0)? {
        Value::Bool(b) => Ok(Value::Bool(*b)),
        Value::String(s) if s == "true" || s == "false" => Ok(Value::Bool(s == "true")),
        Value::Null => Ok(Value::Null),
        v => Err(format!(
            "cannot convert {} to a bool",
            super::funcs::display(v)
        )),
    }
}

fn tolist(args: FuncArgs) -> Result<Value, String> {
    Ok(Value::Array(list_arg(&args, 0)?.clone()))
}

fn toset(args: FuncArgs) -> Result<Value, String> {
    Ok(Value::Array(dedup(list_arg(&args, 0)?)))
}

fn tomap(args: FuncArgs) -> Result<Value, String> {
    Ok(Value::Object(object_arg(&args, 0)?.clone()))
}

fn jsonencode(args: FuncArgs) -> Result<Value, String> {
    serde_json::to_string(arg(&args, 0)?)
        .map(Value::String)
        .map_err(|e| e.to_string())
}

fn jsondecode(args: FuncArgs) -> Result<Value, String> {
    let text = str_arg(&args, 0)?;
    serde_json::from_str::<Value>(&text).map_err(|e| format!("invalid JSON: {e}"))
}

fn yamlencode(args: FuncArgs) -> Result<Value, String> {
    serde_yaml_ng::to_string(arg(&args, 0)?)
        .map(Value::String)
        .map_err(|e| e.to_string())
}

const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn base64encode(args: FuncArgs) -> Result<Value, String> {
    let bytes = str_arg(&args, 0)?.into_bytes();
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(BASE64[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    Ok(Value::String(out))
}

fn base64decode(args: FuncArgs) -> Result<Value, String> {
    let text = str_arg(&args, 0)?;
    let invalid = || format!("{text:?} is not valid base64");
    let mut bits: u32 = 0;
    let mut nbits = 0;
    let mut out = Vec::new();
    for c in text.trim_end_matches('=').bytes() {
        let v = BASE64.iter().position(|&b| b == c).ok_or_else(invalid)?;
        bits = (bits << 6) | v as u32;
        nbits += 6;
        if nbits >= 8 {
            nbits -= 8;
            out.push((bits >> nbits) as u8);
            bits &= (1 << nbits) - 1;
        }
    }
    String::from_utf8(out)
        .map(Value::String)
        .map_err(|_| format!("{text:?} does not decode to UTF-8 text"))
}

#[cfg(test)]
mod tests {
    use hcl::eval::{Context, Evaluate};
    use hcl::Value;

    fn ok(src: &str) -> Value {
        let mut ctx = Context::new();
        super::super::funcs::declare_all(&mut ctx);
        let expr: hcl::Expression = src
            .parse()
            .unwrap_or_else(|e: hcl::Error| panic!("{src}: {e}"));
        expr.evaluate(&ctx).unwrap_or_else(|e| panic!("{src}: {e}"))
    }

    fn json(src: &str) -> String {
        serde_json::to_string(&ok(src)).unwrap_or_default()
    }

    #[test]
    fn collections() {
        assert_eq!(json(r#"lookup({a = 1}, "b", 2)"#), "2");
        assert_eq!(json(r#"merge({a = 1}, {b = 2})"#), r#"{"a":1,"b":2}"#);
        assert_eq!(json(r#"concat([1], [2, 3])"#), "[1,2,3]");
        assert_eq!(json(r#"contains(["a"], "a")"#), "true");
        assert_eq!(json(r#"length("héllo")"#), "5");
        assert_eq!(json(r#"keys({b = 1, a = 2})"#), r#"["a","b"]"#);
        assert_eq!(json(r#"values({b = 1, a = 2})"#), "[2,1]");
        assert_eq!(json(r#"element(["a", "b"], 3)"#), r#""b""#);
        assert_eq!(json(r#"index(["a", "b"], "b")"#), "1");
        assert_eq!(json(r#"coalesce("", "x")"#), r#""x""#);
        assert_eq!(json(r#"coalescelist([], [1])"#), "[1]");
        assert_eq!(json(r#"compact(["a", "", "b"])"#), r#"["a","b"]"#);
        assert_eq!(json(r#"distinct([1, 2, 1])"#), "[1,2]");
        assert_eq!(json(r#"flatten([[1], [2, [3]]])"#), "[1,2,3]");
        assert_eq!(json(r#"range(3)"#), "[0,1,2]");
        assert_eq!(json(r#"range(1, 10, 4)"#), "[1,5,9]");
    }

    #[test]
    fn numbers_and_conversions() {
        assert_eq!(json("min(3, 1, 2)"), "1");
        assert_eq!(json("max(3, 1, 2)"), "3");
        assert_eq!(json("abs(-4)"), "4");
        assert_eq!(json("ceil(1.2)"), "2");
        assert_eq!(json("floor(1.8)"), "1");
        assert_eq!(json(r#"tonumber("42")"#), "42");
        assert_eq!(json("tostring(42)"), r#""42""#);
        assert_eq!(json(r#"tobool("true")"#), "true");
        assert_eq!(json(r#"toset(["a", "a"])"#), r#"["a"]"#);
    }

    #[test]
    fn encodings() {
        assert_eq!(
            json(r#"jsonencode({a = [1, "x"]})"#),
            r#""{\"a\":[1,\"x\"]}""#
        );
        assert_eq!(json(r#"jsondecode("{\"a\": 1}")"#), r#"{"a":1}"#);
        assert_eq!(json(r#"base64encode("hello!?")"#), r#""aGVsbG8hPw==""#);
        assert_eq!(json(r#"base64decode("aGVsbG8hPw==")"#), r#""hello!?""#);
        assert_eq!(json(r#"yamlencode({a = 1})"#), r#""a: 1\n""#);
    }
}
