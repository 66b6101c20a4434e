//! Every constraint operator, evaluated on resolved values, as Nomad's
//! `checkConstraint` does: a missing left side makes every operator false
//! except `!=`/`not` and `is_not_set`; `<`, `<=`, `>`, `>=` compare as
//! numbers when both sides parse as numbers, else lexically; `version` takes
//! go-version constraints (lenient versions, `~>`), `semver` strict ones;
//! the `set_*` operators split both sides on commas and trim.
//!
//! `distinct_hosts` and `distinct_property` are not value tests: they are
//! true here and checked against usage in `feasibility`.

use std::cmp::Ordering;

use drover_api_types::job::ConstraintOperator;
use drover_api_types::validate::{parse_version_constraint, VersionOp};
use regex::Regex;

/// Whether `lhs operator rhs` holds. An unknown operator is false. An empty
/// operator means `=`.
pub fn check_operator(operator: &str, lhs: Option<&str>, rhs: Option<&str>) -> bool {
    use ConstraintOperator::*;
    let text = if operator.is_empty() { "=" } else { operator };
    let Some(op) = ConstraintOperator::parse(text) else {
        return false;
    };
    match op {
        DistinctHosts | DistinctProperty => true,
        IsSet => lhs.is_some(),
        IsNotSet => lhs.is_none(),
        NotEqual => lhs != rhs,
        _ => {
            let (Some(l), Some(r)) = (lhs, rhs) else {
                return false;
            };
            match op {
                Equal => l == r,
                Less => compare(l, r) == Ordering::Less,
                LessEqual => compare(l, r) != Ordering::Greater,
                Greater => compare(l, r) == Ordering::Greater,
                GreaterEqual => compare(l, r) != Ordering::Less,
                Regexp => Regex::new(r).is_ok_and(|re| re.is_match(l)),
                Version => version_matches(l, r, false),
                Semver => version_matches(l, r, true),
                SetContainsAll => {
                    let have = set(l);
                    set(r).iter().all(|item| have.contains(item))
                }
                SetContainsAny => {
                    let have = set(l);
                    set(r).iter().any(|item| have.contains(item))
                }
                _ => false,
            }
        }
    }
}

fn set(text: &str) -> Vec<&str> {
    text.split(',').map(str::trim).collect()
}

/// Numeric when both sides parse as numbers, else lexical.
fn compare(l: &str, r: &str) -> Ordering {
    match (l.trim().parse::<f64>(), r.trim().parse::<f64>()) {
        (Ok(a), Ok(b)) => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
        _ => l.cmp(r),
    }
}

/// Whether version `have` satisfies every clause of `constraint`. `strict`
/// selects Semantic Versioning (`semver`) over go-version (`version`).
/// Unparseable versions or constraints never match.
pub fn version_matches(have: &str, constraint: &str, strict: bool) -> bool {
    let Ok(clauses) = parse_version_constraint(constraint, strict) else {
        return false;
    };
    clauses.iter().all(|clause| {
        let op = clause.op;
        let ordering = if strict {
            match (
                semver::Version::parse(have.trim()),
                semver::Version::parse(&clause.version),
            ) {
                (Ok(a), Ok(b)) => a.cmp_precedence(&b),
                _ => return false,
            }
        } else {
            match (Lenient::parse(have.trim()), Lenient::parse(&clause.version)) {
                (Some(a), Some(b)) => {
                    if op == VersionOp::Pessimistic {
                        return a.cmp(&b) != Ordering::Less && a.same_prefix(&b);
                    }
                    a.cmp(&b)
                }
                _ => return false,
            }
        };
        match op {
            VersionOp::Equal => ordering == Ordering::Equal,
            VersionOp::NotEqual => ordering != Ordering::Equal,
            VersionOp::Greater => ordering == Ordering::Greater,
            VersionOp::GreaterEqual => ordering != Ordering::Less,
            VersionOp::Less => ordering == Ordering::Less,
            VersionOp::LessEqual => ordering != Ordering::Greater,
            // Only go-version constraints allow `~>`; parsing rejects it in
            // strict (semver) mode, so this arm is never reached there.
            VersionOp::Pessimistic => false,
        }
    })
}

/// A go-version version: numeric segments (padded to three), an optional
/// prerelease; metadata is ignored.
#[derive(Debug, PartialEq, Eq)]
struct Lenient {
    segments: Vec<u64>,
    /// How many segments were written (for `~>`).
    written: usize,
    prerelease: Option<String>,
}

impl Lenient {
    fn parse(text: &str) -> Option<Self> {
        let text = text.strip_prefix('v').unwrap_or(text);
        let text = text.split_once('+').map_or(text, |(rest, _)| rest);
        let (numbers, prerelease) = match text.split_once('-') {
            Some((numbers, pre)) => (numbers, Some(pre.to_string())),
            None => (text, None),
        };
        let mut segments = numbers
            .split('.')
            .map(|n| n.parse::<u64>().ok())
            .collect::<Option<Vec<_>>>()?;
        let written = segments.len();
        while segments.len() < 3 {
            segments.push(0);
        }
        Some(Lenient {
            segments,
            written,
            prerelease,
        })
    }

    /// `~> 1.2` allows `1.x` (x ≥ 2); `~> 1.2.3` allows `1.2.x`: every
    /// written segment but the last must match.
    fn same_prefix(&self, constraint: &Lenient) -> bool {
        let keep = constraint.written.saturating_sub(1).max(1);
        self.segments
            .iter()
            .take(keep)
            .eq(constraint.segments.iter().take(keep))
    }
}

impl Ord for Lenient {
    fn cmp(&self, other: &Self) -> Ordering {
        let len = self.segments.len().max(other.segments.len());
        for i in 0..len {
            let a = self.segments.get(i).copied().unwrap_or(0);
            let b = other.segments.get(i).copied().unwrap_or(0);
            if a != b {
                return a.cmp(&b);
            }
        }
        match (&self.prerelease, &other.prerelease) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Greater,
            (Some(_), None) => Ordering::Less,
            (Some(a), Some(b)) => compare_prerelease(a, b),
        }
    }
}

impl PartialOrd for Lenient {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

fn compare_prerelease(a: &str, b: &str) -> Ordering {
    let mut left = a.split('.');
    let mut right = b.split('.');
    loop {
        match (left.next(), right.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) => {
                let ordering = match (x.parse::<u64>(), y.parse::<u64>()) {
                    (Ok(m), Ok(n)) => m.cmp(&n),
                    (Ok(_), Err(_)) => Ordering::Less,
                    (Err(_), Ok(_)) => Ordering::Greater,
                    (Err(_), Err(_)) => x.cmp(y),
                };
                if ordering != Ordering::Equal {
                    return ordering;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operator() {
        let table: &[(&str, Option<&str>, Option<&str>, bool)] = &[
            ("=", Some("linux"), Some("linux"), true),
            ("=", Some("linux"), Some("windows"), false),
            ("", Some("linux"), Some("linux"), true),
            ("==", Some("a"), Some("a"), true),
            ("is", Some("a"), Some("b"), false),
            ("=", None, Some("a"), false),
            ("!=", Some("a"), Some("b"), true),
            ("!=", Some("a"), Some("a"), false),
            ("not", None, Some("a"), true),
            ("<", Some("9"), Some("10"), true),
            ("<", Some("b9"), Some("b10"), false),
            ("<", Some("10"), Some("9"), false),
            ("<=", Some("2.5"), Some("2.5"), true),
            ("<=", Some("3"), Some("2.5"), false),
            (">", Some("10"), Some("9"), true),
            (">", Some("abc"), Some("abd"), false),
            (">", Some("b"), Some("a"), true),
            (">=", Some("4"), Some("4"), true),
            (">=", Some("3"), Some("4"), false),
            (">", None, Some("1"), false),
            ("regexp", Some("us-east-1"), Some("^us-"), true),
            ("regexp", Some("eu-west-1"), Some("^us-"), false),
            ("regexp", Some("x"), Some("("), false),
            ("version", Some("1.2.3"), Some(">= 1.2, < 2.0"), true),
            ("version", Some("2.0.0"), Some(">= 1.2, < 2.0"), false),
            ("version", Some("1.10"), Some("> 1.9"), true),
            ("version", Some("1.3.0-beta"), Some(">= 1.3.0"), false),
            ("version", Some("1.4.7"), Some("~> 1.4.2"), true),
            ("version", Some("1.5.0"), Some("~> 1.4.2"), false),
            ("version", Some("1.9"), Some("~> 1.4"), true),
            ("version", Some("2.0"), Some("~> 1.4"), false),
            ("version", Some("v1.2.0"), Some("= 1.2"), true),
            ("version", Some("garbage"), Some(">= 1.0"), false),
            ("semver", Some("1.2.3"), Some(">= 1.2.0, < 2.0.0"), true),
            ("semver", Some("1.2"), Some(">= 1.0.0"), false),
            ("semver", Some("2.0.0-rc.1"), Some("< 2.0.0"), true),
            ("semver", Some("2.0.0"), Some("!= 2.0.0"), false),
            ("set_contains", Some("a, b,c"), Some("c,a"), true),
            ("set_contains_all", Some("a,b"), Some("a,d"), false),
            ("set_contains_any", Some("a,b"), Some("d, b"), true),
            ("set_contains_any", Some("a,b"), Some("d,e"), false),
            ("is_set", Some(""), None, true),
            ("is_set", None, None, false),
            ("is_not_set", None, None, true),
            ("is_not_set", Some("x"), None, false),
            ("bogus", Some("a"), Some("a"), false),
            ("distinct_hosts", None, None, true),
        ];
        for (op, l, r, want) in table {
            assert_eq!(check_operator(op, *l, *r), *want, "{l:?} {op} {r:?}");
        }
    }
}
