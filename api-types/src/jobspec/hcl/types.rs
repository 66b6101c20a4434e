//! Variable type constraints (`type = list(string)`) and the conversions HCL
//! applies when a value meets one.

use hcl::expr::{Expression, ObjectKey};
use hcl::{Map, Value};

use super::body::describe;

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Type {
    Any,
    String,
    Number,
    Bool,
    List(Box<Type>),
    Set(Box<Type>),
    Map(Box<Type>),
    Object(Vec<(String, Type, bool)>),
    Tuple(Vec<Type>),
}

const SYNTAX: &str =
    "write string, number, bool, any, list(T), set(T), map(T), object({…}) or tuple([…])";

impl Type {
    pub fn parse(expr: &Expression) -> Result<Type, String> {
        Type::parse_field(expr).map(|(ty, _)| ty)
    }

    /// A type, and whether it was wrapped in `optional(…)`.
    fn parse_field(expr: &Expression) -> Result<(Type, bool), String> {
        let call = match expr {
            Expression::Variable(v) => {
                return match v.as_str() {
                    "string" => Ok((Type::String, false)),
                    "number" => Ok((Type::Number, false)),
                    "bool" => Ok((Type::Bool, false)),
                    "any" => Ok((Type::Any, false)),
                    other => Err(format!("unknown type {other:?}: {SYNTAX}")),
                }
            }
            Expression::FuncCall(call) => call,
            _ => return Err(format!("invalid type: {SYNTAX}")),
        };
        let [arg] = call.args.as_slice() else {
            return Err(format!("{}(…) takes one argument: {SYNTAX}", call.name));
        };
        let inner = || Type::parse(arg).map(Box::new);
        let ty = match call.name.name.as_str() {
            "list" => Type::List(inner()?),
            "set" => Type::Set(inner()?),
            "map" => Type::Map(inner()?),
            "optional" => return Type::parse(arg).map(|ty| (ty, true)),
            "tuple" => match arg {
                Expression::Array(items) => {
                    Type::Tuple(items.iter().map(Type::parse).collect::<Result<_, _>>()?)
                }
                _ => return Err("tuple takes a list of types: tuple([string, number])".into()),
            },
            "object" => match arg {
                Expression::Object(fields) => Type::Object(
                    fields
                        .iter()
                        .map(|(k, v)| {
                            let (ty, optional) = Type::parse_field(v)?;
                            Ok((object_key(k), ty, optional))
                        })
                        .collect::<Result<_, String>>()?,
                ),
                _ => return Err("object takes attribute types: object({ name = string })".into()),
            },
            other => return Err(format!("unknown type {other}(…): {SYNTAX}")),
        };
        Ok((ty, false))
    }

    /// Whether a value given as text is taken as is, rather than parsed as HCL.
    pub fn is_primitive(&self) -> bool {
        matches!(self, Type::Any | Type::String | Type::Number | Type::Bool)
    }

    fn name(&self) -> &'static str {
        match self {
            Type::Any => "any value",
            Type::String => "a string",
            Type::Number => "a number",
            Type::Bool => "a bool",
            Type::List(_) | Type::Set(_) | Type::Tuple(_) => "a list",
            Type::Map(_) | Type::Object(_) => "an object",
        }
    }

    /// Converts `value` to this type as HCL would (`"3"` to 3, 3 to `"3"`).
    pub fn convert(&self, value: &Value) -> Result<Value, String> {
        let mismatch = || format!("{} is required, got {}", self.name(), describe(value));
        match (self, value) {
            (Type::Any, v) => Ok(v.clone()),
            (_, Value::Null) => Ok(Value::Null),
            (Type::String, Value::String(_)) => Ok(value.clone()),
            (Type::String, Value::Number(n)) => Ok(Value::String(n.to_string())),
            (Type::String, Value::Bool(b)) => Ok(Value::String(b.to_string())),
            (Type::Number, Value::Number(_)) => Ok(value.clone()),
            (Type::Number, Value::String(s)) => parse_number(s).ok_or_else(mismatch),
            (Type::Bool, Value::Bool(_)) => Ok(value.clone()),
            (Type::Bool, Value::String(s)) if s == "true" || s == "false" => {
                Ok(Value::Bool(s == "true"))
            }
            (Type::List(t), Value::Array(items)) => convert_all(t, items).map(Value::Array),
            (Type::Set(t), Value::Array(items)) => {
                let mut out: Vec<Value> = Vec::new();
                for v in convert_all(t, items)? {
                    if !out.contains(&v) {
                        out.push(v);
                    }
                }
                Ok(Value::Array(out))
            }
            (Type::Tuple(types), Value::Array(items)) if types.len() == items.len() => types
                .iter()
                .zip(items)
                .map(|(t, v)| t.convert(v))
                .collect::<Result<_, _>>()
                .map(Value::Array),
            (Type::Map(t), Value::Object(map)) => map
                .iter()
                .map(|(k, v)| t.convert(v).map(|v| (k.clone(), v)))
                .collect::<Result<Map<_, _>, _>>()
                .map(Value::Object),
            (Type::Object(fields), Value::Object(map)) => convert_object(fields, map),
            _ => Err(mismatch()),
        }
    }
}

fn object_key(key: &ObjectKey) -> String {
    match key {
        ObjectKey::Identifier(ident) => ident.to_string(),
        ObjectKey::Expression(Expression::String(s)) => s.clone(),
        ObjectKey::Expression(other) => hcl::format::to_string(other).unwrap_or_default(),
        _ => String::new(),
    }
}

fn parse_number(s: &str) -> Option<Value> {
    let s = s.trim();
    if let Ok(i) = s.parse::<i64>() {
        return Some(Value::from(i));
    }
    s.parse::<f64>()
        .ok()
        .filter(|f| f.is_finite())
        .map(Value::from)
}

fn convert_all(ty: &Type, items: &[Value]) -> Result<Vec<Value>, String> {
    items.iter().map(|v| ty.convert(v)).collect()
}

fn convert_object(
    fields: &[(String, Type, bool)],
    map: &Map<String, Value>,
) -> Result<Value, String> {
    let mut out = Map::new();
    for (name, ty, optional) in fields {
        match map.get(name) {
            Some(v) => {
                let converted = ty
                    .convert(v)
                    .map_err(|e| format!("attribute {name:?}: {e}"))?;
                out.insert(name.clone(), converted);
            }
            None if *optional => {
                out.insert(name.clone(), Value::Null);
            }
            None => return Err(format!("attribute {name:?} is required")),
        }
    }
    Ok(Value::Object(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ty(src: &str) -> Type {
        let expr: Expression = src.parse().unwrap_or(Expression::Null);
        Type::parse(&expr).unwrap_or_else(|e| panic!("{src}: {e}"))
    }

    #[test]
    fn parses_and_converts() {
        assert_eq!(ty("number").convert(&Value::from("3")), Ok(Value::from(3)));
        assert_eq!(ty("string").convert(&Value::from(3)), Ok(Value::from("3")));
        assert_eq!(
            ty("bool").convert(&Value::from("true")),
            Ok(Value::Bool(true))
        );
        assert_eq!(
            ty("list(number)").convert(&Value::from(vec!["1", "2"])),
            Ok(Value::from(vec![1, 2]))
        );
        assert_eq!(
            ty("set(string)").convert(&Value::from(vec!["a", "a"])),
            Ok(Value::from(vec!["a"]))
        );
        let obj = ty("object({ name = string, port = optional(number) })");
        let mut map = Map::new();
        map.insert("name".to_string(), Value::from("web"));
        let converted = obj.convert(&Value::Object(map));
        assert!(converted.is_ok(), "{converted:?}");
    }

    #[test]
    fn mismatches_say_what_was_expected() {
        assert_eq!(
            ty("number").convert(&Value::from("three")),
            Err("a number is required, got \"three\"".to_string())
        );
        let bad: Expression = "strng".parse().unwrap_or(Expression::Null);
        assert!(Type::parse(&bad).is_err());
    }
}
