//! Constraints, affinities and spreads, at job, group and task level.
//!
//! Operators are checked the way Nomad's scheduler will use them: regular
//! expressions must compile, `version` takes go-version constraints (lenient
//! versions such as `1.2`), `semver` takes strict Semantic Versioning.

use std::collections::BTreeSet;

use crate::job::{Affinity, Constraint, ConstraintOperator, JobType, Spread};

use super::{indexed, not_one_of, Report};

pub(super) fn validate_placement(
    report: &mut Report,
    path: &str,
    constraints: &[Constraint],
    affinities: &[Affinity],
    spreads: &[Spread],
    job_type: JobType,
) {
    for (index, constraint) in constraints.iter().enumerate() {
        validate_constraint(report, &indexed(path, "constraint", index), constraint);
    }
    if job_type == JobType::System && !affinities.is_empty() {
        report.error(
            path,
            "system jobs may not have an affinity block (they run on every eligible node); remove it",
        );
    } else {
        for (index, affinity) in affinities.iter().enumerate() {
            validate_affinity(report, &indexed(path, "affinity", index), affinity);
        }
    }
    if job_type == JobType::System && !spreads.is_empty() {
        report.error(
            path,
            "system jobs may not have a spread block (they run on every eligible node); remove it",
        );
    } else {
        for (index, spread) in spreads.iter().enumerate() {
            validate_spread(report, &indexed(path, "spread", index), spread);
        }
    }
}

/// The operator as written, `=` when left out (Nomad's default).
fn operator_text(operator: &str) -> &str {
    if operator.is_empty() {
        "="
    } else {
        operator
    }
}

fn validate_constraint(report: &mut Report, path: &str, constraint: &Constraint) {
    let text = operator_text(&constraint.operator);
    let Some(operator) = ConstraintOperator::parse(text) else {
        report.error(path, not_one_of("operator", text, &ConstraintOperator::ALL));
        return;
    };
    if operator != ConstraintOperator::DistinctHosts && constraint.attribute.trim().is_empty() {
        report.error(path, missing_attribute(text));
    }
    validate_value(report, path, text, operator, &constraint.value);
}

fn validate_affinity(report: &mut Report, path: &str, affinity: &Affinity) {
    let text = operator_text(&affinity.operator);
    let affinity_operators = ConstraintOperator::affinity_spellings();
    match ConstraintOperator::parse(text) {
        Some(operator) if !operator.only_filters() => {
            if affinity.attribute.trim().is_empty() {
                report.error(path, missing_attribute(text));
            }
            validate_value(report, path, text, operator, &affinity.value);
        }
        Some(_) => report.error(
            path,
            format!(
                "operator {text:?} cannot be used in an affinity; use it in a constraint, or use one of: {}",
                super::quoted_list(&affinity_operators)
            ),
        ),
        None => report.error(path, not_one_of("operator", text, &affinity_operators)),
    }
    match affinity.weight {
        0 => report.error(
            path,
            "weight is 0, which has no effect; use a weight from -100 to 100 other than 0",
        ),
        w if !(-100..=100).contains(&w) => report.error(
            path,
            format!("weight {w} is out of range; use a weight from -100 to 100 other than 0"),
        ),
        _ => {}
    }
}

fn missing_attribute(operator: &str) -> String {
    format!(
        "operator {operator:?} needs an attribute; set attribute, e.g. \"${{attr.kernel.name}}\""
    )
}

fn validate_value(
    report: &mut Report,
    path: &str,
    text: &str,
    operator: ConstraintOperator,
    value: &str,
) {
    use ConstraintOperator::*;
    let problem = match operator {
        IsSet | IsNotSet => (!matches!(value, "" | "true" | "false"))
            .then(|| format!("operator {text:?} takes no value (got {value:?}); remove value")),
        DistinctHosts => (!matches!(value, "" | "true" | "false")).then(|| {
            format!("distinct_hosts value {value:?} is not valid; use \"true\" or \"false\"")
        }),
        DistinctProperty => distinct_property_problem(value),
        _ if value.is_empty() => Some(format!("operator {text:?} needs a value; set value")),
        Regexp => regex::Regex::new(value).err().map(|e| {
            format!(
                "value {value:?} is not a valid regular expression: {}",
                regex_problem(&e)
            )
        }),
        Version => parse_version_constraint(value, false).err().map(|e| {
            format!(
                "value {value:?} is not a valid version constraint: {e}; write e.g. \">= 1.2, < 2.0\""
            )
        }),
        Semver => parse_version_constraint(value, true).err().map(|e| {
            format!(
                "value {value:?} is not a valid semver constraint: {e}; write e.g. \">= 1.2.0, < 2.0.0\""
            )
        }),
        _ => None,
    };
    if let Some(problem) = problem {
        report.error(path, problem);
    }
}

fn distinct_property_problem(value: &str) -> Option<String> {
    if value.is_empty() || value.parse::<u64>().is_ok_and(|n| n >= 1) {
        return None;
    }
    Some(format!(
        "distinct_property value {value:?} is not valid; use a positive integer (how many allocations may share a property value), or leave it out for 1"
    ))
}

/// The one-line reason of a regex error (its Display spans several lines).
fn regex_problem(error: &regex::Error) -> String {
    let text = error.to_string();
    text.lines()
        .rev()
        .map(str::trim)
        .find(|line| !line.is_empty())
        .map(|line| line.trim_start_matches("error: ").to_string())
        .unwrap_or(text)
}

fn validate_spread(report: &mut Report, path: &str, spread: &Spread) {
    if spread.attribute.trim().is_empty() {
        report.error(
            path,
            "attribute is empty; set attribute, e.g. \"${node.datacenter}\"",
        );
    }
    if !(0..=100).contains(&spread.weight) {
        report.error(
            path,
            format!("weight {} is out of range; use 0 to 100", spread.weight),
        );
    }
    let mut seen = BTreeSet::new();
    let mut sum = 0i64;
    for (index, target) in spread.targets.iter().enumerate() {
        let target_path = indexed(path, "target", index);
        if target.value.is_empty() {
            report.error(&target_path, "value is empty; name an attribute value");
        } else if !seen.insert(target.value.as_str()) {
            report.error(
                &target_path,
                format!(
                    "value {:?} is already targeted; list each value once",
                    target.value
                ),
            );
        }
        if !(0..=100).contains(&target.percent) {
            report.error(
                &target_path,
                format!("percent {} is out of range; use 0 to 100", target.percent),
            );
        }
        sum = sum.saturating_add(target.percent);
    }
    if sum > 100 {
        report.error(
            path,
            format!("target percents add up to {sum}%; they must not exceed 100%"),
        );
    }
}

/// A comparison operator in a `version` or `semver` constraint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionOp {
    Equal,
    NotEqual,
    Greater,
    GreaterEqual,
    Less,
    LessEqual,
    /// `~>`: at least this version, below the next one at its precision.
    Pessimistic,
}

/// One clause of a version constraint, e.g. `>= 1.2`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionClause {
    pub op: VersionOp,
    /// The version as written, validated (a `v` prefix is kept).
    pub version: String,
}

const VERSION_OPS: [(&str, VersionOp); 7] = [
    (">=", VersionOp::GreaterEqual),
    ("<=", VersionOp::LessEqual),
    ("!=", VersionOp::NotEqual),
    ("~>", VersionOp::Pessimistic),
    ("=", VersionOp::Equal),
    (">", VersionOp::Greater),
    ("<", VersionOp::Less),
];

/// Parses a comma-separated constraint such as `>= 1.2, < 2.0`. With
/// `strict`, versions must be full Semantic Versions (`1.2.0`) and `~>` is
/// not allowed; otherwise versions are go-version's lenient ones (`v1.2`,
/// `1.2.3-beta+build`).
pub fn parse_version_constraint(text: &str, strict: bool) -> Result<Vec<VersionClause>, String> {
    text.split(',')
        .map(|clause| parse_clause(clause.trim(), strict))
        .collect()
}

fn parse_clause(clause: &str, strict: bool) -> Result<VersionClause, String> {
    if clause.is_empty() {
        return Err("a clause is empty".into());
    }
    let (op, rest) = VERSION_OPS
        .iter()
        .find_map(|(text, op)| clause.strip_prefix(text).map(|rest| (*op, rest)))
        .unwrap_or((VersionOp::Equal, clause));
    let version = rest.trim();
    if version.is_empty() {
        return Err(format!("{clause:?} has no version"));
    }
    if strict {
        if op == VersionOp::Pessimistic {
            return Err("\"~>\" is not a semver operator (use >=, <=, >, <, =, !=)".into());
        }
        semver::Version::parse(version)
            .map_err(|e| format!("{version:?} is not a semantic version ({e})"))?;
    } else if !is_lenient_version(version) {
        return Err(format!(
            "{version:?} is not a version (expected numbers separated by dots, e.g. 1.2 or 1.2.3-beta)"
        ));
    }
    Ok(VersionClause {
        op,
        version: version.to_string(),
    })
}

/// go-version's syntax: `v?N(.N)*`, then `-prerelease`, then `+metadata`.
fn is_lenient_version(version: &str) -> bool {
    let version = version.strip_prefix('v').unwrap_or(version);
    let (rest, metadata) = match version.split_once('+') {
        Some((rest, metadata)) => (rest, Some(metadata)),
        None => (version, None),
    };
    let (numbers, prerelease) = match rest.split_once('-') {
        Some((numbers, prerelease)) => (numbers, Some(prerelease)),
        None => (rest, None),
    };
    let identifier_ok = |s: &str| {
        !s.is_empty()
            && s.split('.').all(|part| {
                !part.is_empty()
                    && part
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '~')
            })
    };
    !numbers.is_empty()
        && numbers
            .split('.')
            .all(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
        && prerelease.is_none_or(identifier_ok)
        && metadata.is_none_or(identifier_ok)
}

#[cfg(test)]
mod tests;
