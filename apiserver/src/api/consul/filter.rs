//! Consul's `filter` expressions (go-bexpr), the subset its HTTP API
//! documents for catalog and health reads, parsed once and evaluated
//! against each entry's JSON (so the selectors are exactly the field names
//! the entry is served with).
//!
//! ```text
//! expr     := and ("or" and)*
//! and      := unary ("and" unary)*
//! unary    := "not" unary | "(" expr ")" | match
//! match    := selector ("==" | "!=") value
//!           | selector "is" ["not"] "empty"
//!           | value ["not"] "in" selector
//!           | selector ["not"] ("contains" | "matches") value
//! selector := ident ("." ident | "[" value "]")*
//! value    := "double quoted" | `raw` | bare word
//! ```
//!
//! A selector that crosses a list (`Checks.Status`) matches when any
//! element does, as bexpr does for slices of structs; `!=` and the `not`
//! forms are the negation of that.

use regex::Regex;
use serde_json::Value;

/// A parsed expression.
#[derive(Debug, Clone)]
pub enum Expr {
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Match {
        selector: Vec<String>,
        op: Op,
        negate: bool,
    },
}

#[derive(Debug, Clone)]
pub enum Op {
    Equal(String),
    Empty,
    /// `value in selector` and `selector contains value`.
    Contains(String),
    Matches(Regex),
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Quoted(String),
    Eq,
    Ne,
    Open,
    Close,
    OpenBracket,
    CloseBracket,
    Dot,
}

/// Parses `input`, checking every selector against `fields`: the top-level
/// names an entry has, and which of them (or which nested names) are maps
/// whose keys are free. The error reads like Consul's.
pub fn parse(input: &str, fields: &Fields) -> Result<Expr, String> {
    let tokens =
        lex(input).map_err(|e| format!("Failed to create boolean expression evaluator: {e}"))?;
    let mut p = Parser {
        tokens,
        pos: 0,
        depth: 0,
        matchers: 0,
    };
    let expr = p
        .expr()
        .map_err(|e| format!("Failed to create boolean expression evaluator: {e}"))?;
    if p.pos != p.tokens.len() {
        return Err(format!(
            "Failed to create boolean expression evaluator: unexpected {:?} after the expression",
            p.tokens[p.pos]
        ));
    }
    check_selectors(&expr, fields)?;
    Ok(expr)
}

/// The selectors an entry kind accepts: dotted paths; a path ending in
/// `.*` is a map (any key below it is valid).
pub struct Fields(pub &'static [&'static str]);

fn check_selectors(expr: &Expr, fields: &Fields) -> Result<(), String> {
    match expr {
        Expr::And(a, b) | Expr::Or(a, b) => {
            check_selectors(a, fields)?;
            check_selectors(b, fields)
        }
        Expr::Not(a) => check_selectors(a, fields),
        Expr::Match { selector, .. } => {
            let path = selector.join(".");
            let known = fields.0.iter().any(|f| match f.strip_suffix(".*") {
                // The map itself, or one key inside it.
                Some(map) => {
                    path == map
                        || path
                            .strip_prefix(map)
                            .and_then(|rest| rest.strip_prefix('.'))
                            .is_some_and(|key| !key.contains('.'))
                }
                None => *f == path,
            });
            if known {
                Ok(())
            } else {
                Err(format!(
                    "Failed to create boolean expression evaluator: Selector {path:?} is not valid"
                ))
            }
        }
    }
}

fn lex(input: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = input.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            c if c.is_whitespace() => i += 1,
            '(' => (out.push(Token::Open), i += 1).1,
            ')' => (out.push(Token::Close), i += 1).1,
            '[' => (out.push(Token::OpenBracket), i += 1).1,
            ']' => (out.push(Token::CloseBracket), i += 1).1,
            '.' => (out.push(Token::Dot), i += 1).1,
            '=' | '!' => {
                if chars.get(i + 1) != Some(&'=') {
                    return Err(format!("unexpected {c:?} at position {i}"));
                }
                out.push(if c == '=' { Token::Eq } else { Token::Ne });
                i += 2;
            }
            '"' | '`' => {
                let mut s = String::new();
                let mut j = i + 1;
                loop {
                    let Some(&ch) = chars.get(j) else {
                        return Err(format!("unterminated string starting at position {i}"));
                    };
                    if ch == c {
                        break;
                    }
                    if ch == '\\' && c == '"' {
                        j += 1;
                        match chars.get(j) {
                            Some('n') => s.push('\n'),
                            Some('t') => s.push('\t'),
                            Some(&other) => s.push(other),
                            None => return Err("unterminated escape".into()),
                        }
                    } else {
                        s.push(ch);
                    }
                    j += 1;
                }
                out.push(Token::Quoted(s));
                i = j + 1;
            }
            c if is_word(c) => {
                let start = i;
                while i < chars.len() && is_word(chars[i]) {
                    i += 1;
                }
                out.push(Token::Word(chars[start..i].iter().collect()));
            }
            other => return Err(format!("unexpected {other:?} at position {i}")),
        }
    }
    Ok(out)
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '-' | '/' | ':' | '+')
}

/// How deep parentheses and `not` may nest, and how many matchers one
/// filter may hold: the parse, the selector check, the evaluation and the
/// drop of the tree all recurse over it, so a hostile filter (`((((…`, or
/// thousands of `and`s) must be refused before it can exhaust the stack.
const MAX_NESTING: usize = 32;
const MAX_MATCHERS: usize = 128;

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    /// Open parentheses and `not`s around the current position.
    depth: usize,
    matchers: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn peek_word(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Token::Word(w)) if w == word)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn expect_word(&mut self, word: &str) -> Result<(), String> {
        match self.next() {
            Some(Token::Word(w)) if w == word => Ok(()),
            other => Err(format!("expected {word:?}, found {other:?}")),
        }
    }

    fn expr(&mut self) -> Result<Expr, String> {
        let mut left = self.and()?;
        while self.peek_word("or") {
            self.pos += 1;
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut left = self.unary()?;
        while self.peek_word("and") {
            self.pos += 1;
            left = Expr::And(Box::new(left), Box::new(self.unary()?));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, String> {
        if self.peek_word("not") {
            self.pos += 1;
            let inner = self.nested(Self::unary)?;
            return Ok(Expr::Not(Box::new(inner)));
        }
        if self.peek() == Some(&Token::Open) {
            self.pos += 1;
            let inner = self.nested(Self::expr)?;
            return match self.next() {
                Some(Token::Close) => Ok(inner),
                other => Err(format!("expected \")\", found {other:?}")),
            };
        }
        self.matchers += 1;
        if self.matchers > MAX_MATCHERS {
            return Err(format!(
                "the filter has more than {MAX_MATCHERS} matching expressions"
            ));
        }
        self.matcher()
    }

    /// Parses one nesting level deeper, refusing more than [`MAX_NESTING`].
    fn nested(&mut self, parse: fn(&mut Self) -> Result<Expr, String>) -> Result<Expr, String> {
        if self.depth >= MAX_NESTING {
            return Err(format!(
                "the filter nests parentheses or \"not\" more than {MAX_NESTING} deep"
            ));
        }
        self.depth += 1;
        let inner = parse(self);
        self.depth -= 1;
        inner
    }

    /// `value [not] in selector`, or a selector followed by its operator.
    fn matcher(&mut self) -> Result<Expr, String> {
        let save = self.pos;
        if let Some(value) = self.value_token() {
            let negate = self.peek_word("not")
                && matches!(self.tokens.get(self.pos + 1), Some(Token::Word(w)) if w == "in");
            if negate {
                self.pos += 1;
            }
            if self.peek_word("in") {
                self.pos += 1;
                let selector = self.selector()?;
                return Ok(Expr::Match {
                    selector,
                    op: Op::Contains(value),
                    negate,
                });
            }
            self.pos = save;
        }
        let selector = self.selector()?;
        let (op, negate) = match self.next() {
            Some(Token::Eq) => (Op::Equal(self.value()?), false),
            Some(Token::Ne) => (Op::Equal(self.value()?), true),
            Some(Token::Word(w)) if w == "is" => {
                let negate = self.peek_word("not");
                if negate {
                    self.pos += 1;
                }
                self.expect_word("empty")?;
                (Op::Empty, negate)
            }
            Some(Token::Word(w)) if w == "not" => match self.next() {
                Some(Token::Word(w)) if w == "contains" => (Op::Contains(self.value()?), true),
                Some(Token::Word(w)) if w == "matches" => (self.regex()?, true),
                other => return Err(format!("expected contains or matches, found {other:?}")),
            },
            Some(Token::Word(w)) if w == "contains" => (Op::Contains(self.value()?), false),
            Some(Token::Word(w)) if w == "matches" => (self.regex()?, false),
            other => {
                return Err(format!(
                    "expected an operator (==, !=, is empty, contains, matches) after {:?}, found {other:?}",
                    selector.join(".")
                ))
            }
        };
        Ok(Expr::Match {
            selector,
            op,
            negate,
        })
    }

    fn regex(&mut self) -> Result<Op, String> {
        let pattern = self.value()?;
        Regex::new(&pattern)
            .map(Op::Matches)
            .map_err(|e| format!("invalid regular expression {pattern:?}: {e}"))
    }

    /// A quoted value, or a bare word that is not a keyword.
    fn value_token(&mut self) -> Option<String> {
        match self.peek()? {
            Token::Quoted(s) => {
                let s = s.clone();
                self.pos += 1;
                Some(s)
            }
            _ => None,
        }
    }

    fn value(&mut self) -> Result<String, String> {
        match self.next() {
            Some(Token::Quoted(s)) => Ok(s),
            Some(Token::Word(w)) if !is_keyword(&w) => Ok(w),
            other => Err(format!("expected a value, found {other:?}")),
        }
    }

    fn selector(&mut self) -> Result<Vec<String>, String> {
        let mut path = match self.next() {
            Some(Token::Word(w)) if !is_keyword(&w) => vec![w],
            other => return Err(format!("expected a selector, found {other:?}")),
        };
        loop {
            match self.peek() {
                Some(Token::Dot) => {
                    self.pos += 1;
                    match self.next() {
                        Some(Token::Word(w)) => path.push(w),
                        other => return Err(format!("expected a field name, found {other:?}")),
                    }
                }
                Some(Token::OpenBracket) => {
                    self.pos += 1;
                    path.push(self.value()?);
                    if self.next() != Some(Token::CloseBracket) {
                        return Err("expected \"]\"".into());
                    }
                }
                _ => return Ok(path),
            }
        }
    }
}

fn is_keyword(w: &str) -> bool {
    matches!(
        w,
        "and" | "or" | "not" | "in" | "is" | "empty" | "contains" | "matches"
    )
}

impl Expr {
    /// Whether `entry` (the served JSON) matches.
    pub fn eval(&self, entry: &Value) -> bool {
        match self {
            Expr::And(a, b) => a.eval(entry) && b.eval(entry),
            Expr::Or(a, b) => a.eval(entry) || b.eval(entry),
            Expr::Not(a) => !a.eval(entry),
            Expr::Match {
                selector,
                op,
                negate,
            } => {
                let mut found = Vec::new();
                select(entry, selector, &mut found);
                let hit = match op {
                    Op::Equal(want) => found.iter().any(|v| scalar_eq(v, want)),
                    Op::Empty => found.iter().all(|v| is_empty(v)),
                    Op::Contains(want) => found.iter().any(|v| contains(v, want)),
                    Op::Matches(re) => found
                        .iter()
                        .any(|v| scalar_text(v).is_some_and(|s| re.is_match(&s))),
                };
                hit != *negate
            }
        }
    }
}

/// Every value `path` reaches; a list on the way fans out to its elements.
fn select<'a>(value: &'a Value, path: &[String], out: &mut Vec<&'a Value>) {
    let Some((first, rest)) = path.split_first() else {
        out.push(value);
        return;
    };
    match value {
        Value::Object(map) => {
            if let Some(v) = map.get(first) {
                select(v, rest, out);
            }
        }
        Value::Array(items) => {
            for item in items {
                select(item, path, out);
            }
        }
        _ => {}
    }
}

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn scalar_eq(v: &Value, want: &str) -> bool {
    scalar_text(v).is_some_and(|s| s == want)
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(m) => m.is_empty(),
        _ => false,
    }
}

/// A list holds the value, a map has it as a key, a string contains it.
fn contains(v: &Value, want: &str) -> bool {
    match v {
        Value::Array(items) => items.iter().any(|i| scalar_eq(i, want)),
        Value::Object(map) => map.contains_key(want),
        Value::String(s) => s.contains(want),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const FIELDS: Fields = Fields(&[
        "Node.Node",
        "Node.Meta.*",
        "Service.ID",
        "Service.Tags",
        "Service.Port",
        "Service.Meta.*",
        "Checks.Status",
        "Checks",
    ]);

    fn entry() -> Value {
        json!({
            "Node": {"Node": "n1", "Meta": {"rack": "r1"}},
            "Service": {"ID": "web-1", "Tags": ["http", "v2"], "Port": 8080,
                        "Meta": {"version": "2", "empty": ""}},
            "Checks": [{"Status": "passing"}, {"Status": "warning"}]
        })
    }

    fn eval(input: &str) -> bool {
        parse(input, &FIELDS).expect(input).eval(&entry())
    }

    #[test]
    fn matches_the_documented_operators() {
        let yes = [
            r#"Service.Tags contains "http""#,
            r#""v2" in Service.Tags"#,
            r#""v9" not in Service.Tags"#,
            r#"Service.Tags not contains "v9""#,
            r#"Service.Meta.version == "2""#,
            r#"Service.Meta["version"] == "2""#,
            "Service.Meta.version == 2",
            "Service.Port == 8080",
            r#"Node.Node == "n1" and Service.ID != "web-2""#,
            r#"Node.Node == "x" or Service.ID == "web-1""#,
            r#"not Node.Node == "x""#,
            r#"Checks.Status == "warning""#,
            r#"Checks.Status != "critical""#,
            "Service.Meta.empty is empty",
            "Service.Meta.absent is empty",
            "Service.Tags is not empty",
            r#"Service.Meta contains "version""#,
            r#"Service.ID matches "^web-[0-9]+$""#,
            r#"(Node.Node == "x" or Node.Node == "n1") and not (Service.Port == 1)"#,
            "Node.Meta.rack == `r1`",
        ];
        for input in yes {
            assert!(eval(input), "{input}");
        }
        let no = [
            r#"Service.Tags contains "nope""#,
            r#"Checks.Status == "critical""#,
            r#"Node.Node == "n1" and Service.ID == "x""#,
            "Service.Tags is empty",
            r#"Service.ID not matches "web""#,
        ];
        for input in no {
            assert!(!eval(input), "{input}");
        }
    }

    #[test]
    fn bad_expressions_and_selectors_are_errors() {
        for input in [
            "Service.ID ==",
            "Service.ID = \"x\"",
            "(Service.ID == \"x\"",
            "Service.ID == \"x\" extra",
            "Service.Bogus == \"x\"",
            "Service.Meta.a.b == \"x\"",
            "\"unterminated",
            "Service.ID matches \"(\"",
            "",
        ] {
            let err = parse(input, &FIELDS).expect_err(input);
            assert!(
                err.starts_with("Failed to create boolean expression evaluator"),
                "{err}"
            );
        }
    }

    /// A hostile filter is refused before the recursion over it can
    /// exhaust the stack: 2,000 `(`, 2,000 `not`, 10,000 `and`s.
    #[test]
    fn deep_or_long_filters_are_refused_not_recursed_into() {
        let matcher = r#"Service.ID == "x""#;
        let parens = format!("{}{matcher}{}", "(".repeat(2000), ")".repeat(2000));
        let nots = format!("{}{matcher}", "not ".repeat(2000));
        let ands = vec![matcher; 10_000].join(" and ");
        for input in [&parens, &nots, &ands] {
            let err = parse(input, &FIELDS).expect_err("refused");
            assert!(err.contains("more than"), "{err}");
        }
        let fine = format!("{}{matcher}{}", "(".repeat(30), ")".repeat(30));
        assert!(parse(&fine, &FIELDS).is_ok());
        assert!(parse(&vec![matcher; 100].join(" or "), &FIELDS).is_ok());
    }
}
