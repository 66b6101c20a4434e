use super::super::testutil::{assert_diags, group, job_of_type, messages, task, GROUP, TASK};
use super::{parse_version_constraint, VersionOp};
use crate::job::{Affinity, Constraint, JobType, Spread, SpreadTarget};

const JOB: &str = "job \"billing\"";

fn constraint(attribute: &str, operator: &str, value: &str) -> Constraint {
    Constraint {
        attribute: attribute.into(),
        operator: operator.into(),
        value: value.into(),
    }
}

/// The diagnostics of the base job with one job-level constraint.
fn job_constraint(attribute: &str, operator: &str, value: &str) -> Vec<String> {
    let mut job = super::super::testutil::base_job();
    job.spec
        .constraints
        .push(constraint(attribute, operator, value));
    messages(&job)
}

#[test]
fn valid_constraints_pass() {
    let cases = [
        ("${attr.kernel.name}", "", "linux"),
        ("${attr.kernel.name}", "=", "linux"),
        ("${attr.kernel.name}", "!=", "windows"),
        ("${attr.cpu.numcores}", ">=", "4"),
        ("${attr.kernel.name}", "regexp", "^lin.*$"),
        ("${attr.kernel.version}", "version", ">= 1.2, < 2.0"),
        ("${attr.kernel.version}", "version", "~> 5.4"),
        ("${attr.kernel.version}", "version", "v1.2.3-beta+build.5"),
        ("${attr.vault.version}", "semver", ">= 1.2.0, < 2.0.0-rc.1"),
        ("${meta.tags}", "set_contains", "a,b"),
        ("${attr.gpu}", "is_set", ""),
        ("${attr.gpu}", "is_not_set", "true"),
        ("", "distinct_hosts", "true"),
        ("", "distinct_hosts", ""),
        ("${node.datacenter}", "distinct_property", "2"),
        ("${node.datacenter}", "distinct_property", ""),
    ];
    for (attribute, operator, value) in cases {
        assert_eq!(
            job_constraint(attribute, operator, value),
            Vec::<String>::new(),
            "{operator} {value}"
        );
    }
}

#[test]
fn invalid_constraints_say_what_to_change() {
    let at = format!("error: {JOB} constraint[0]");
    let cases: Vec<(&str, &str, &str, String)> = vec![
        ("${attr.x}", "reqexp", "a", format!("{at}: operator \"reqexp\" is not valid; use one of: \"=\", \"==\", \"is\", \"!=\", \"not\", \"<\", \"<=\", \">\", \">=\", \"regexp\", \"version\", \"semver\", \"set_contains\", \"set_contains_all\", \"set_contains_any\", \"is_set\", \"is_not_set\", \"distinct_hosts\", \"distinct_property\" (did you mean \"regexp\"?)")),
        ("", "=", "linux", format!("{at}: operator \"=\" needs an attribute; set attribute, e.g. \"${{attr.kernel.name}}\"")),
        ("${attr.x}", "!=", "", format!("{at}: operator \"!=\" needs a value; set value")),
        ("${attr.x}", "set_contains_any", "", format!("{at}: operator \"set_contains_any\" needs a value; set value")),
        ("${attr.x}", "regexp", "[a-", format!("{at}: value \"[a-\" is not a valid regular expression: unclosed character class")),
        ("${attr.x}", "version", ">= 1.x", format!("{at}: value \">= 1.x\" is not a valid version constraint: \"1.x\" is not a version (expected numbers separated by dots, e.g. 1.2 or 1.2.3-beta); write e.g. \">= 1.2, < 2.0\"")),
        ("${attr.x}", "version", ">= 1.2,", format!("{at}: value \">= 1.2,\" is not a valid version constraint: a clause is empty; write e.g. \">= 1.2, < 2.0\"")),
        ("${attr.x}", "version", ">=", format!("{at}: value \">=\" is not a valid version constraint: \">=\" has no version; write e.g. \">= 1.2, < 2.0\"")),
        ("${attr.x}", "semver", ">= 1.2", format!("{at}: value \">= 1.2\" is not a valid semver constraint: \"1.2\" is not a semantic version (unexpected end of input while parsing minor version number); write e.g. \">= 1.2.0, < 2.0.0\"")),
        ("${attr.x}", "semver", "~> 1.2.0", format!("{at}: value \"~> 1.2.0\" is not a valid semver constraint: \"~>\" is not a semver operator (use >=, <=, >, <, =, !=); write e.g. \">= 1.2.0, < 2.0.0\"")),
        ("${attr.x}", "is_set", "yes", format!("{at}: operator \"is_set\" takes no value (got \"yes\"); remove value")),
        ("", "distinct_hosts", "yes", format!("{at}: distinct_hosts value \"yes\" is not valid; use \"true\" or \"false\"")),
        ("${node.datacenter}", "distinct_property", "0", format!("{at}: distinct_property value \"0\" is not valid; use a positive integer (how many allocations may share a property value), or leave it out for 1")),
        ("", "distinct_property", "", format!("{at}: operator \"distinct_property\" needs an attribute; set attribute, e.g. \"${{attr.kernel.name}}\"")),
    ];
    for (attribute, operator, value, expected) in cases {
        assert_eq!(job_constraint(attribute, operator, value), [expected]);
    }
}

#[test]
fn constraints_are_checked_at_group_and_task_level_with_all_errors() {
    assert_diags(
        |job| {
            group(job).constraints.push(constraint("${attr.x}", "regexp", "("));
            task(job).constraints.push(constraint("${attr.x}", "==", "a"));
            task(job).constraints.push(constraint("", "version", "1.2"));
        },
        &[
            &format!("error: {GROUP} constraint[0]: value \"(\" is not a valid regular expression: unclosed group"),
            &format!("error: {TASK} constraint[1]: operator \"version\" needs an attribute; set attribute, e.g. \"${{attr.kernel.name}}\""),
        ],
    );
}

fn affinity(operator: &str, value: &str, weight: i64) -> Affinity {
    Affinity {
        attribute: "${node.datacenter}".into(),
        operator: operator.into(),
        value: value.into(),
        weight,
    }
}

#[test]
fn affinities() {
    let at = format!("error: {GROUP} affinity[0]");
    let cases: Vec<(Affinity, Vec<String>)> = vec![
        (affinity("=", "dc1", 50), vec![]),
        (affinity("", "dc1", -100), vec![]),
        (affinity("=", "dc1", 0), vec![format!("{at}: weight is 0, which has no effect; use a weight from -100 to 100 other than 0")]),
        (affinity("=", "dc1", 101), vec![format!("{at}: weight 101 is out of range; use a weight from -100 to 100 other than 0")]),
        (affinity("distinct_hosts", "", 50), vec![format!("{at}: operator \"distinct_hosts\" cannot be used in an affinity; use it in a constraint, or use one of: \"=\", \"==\", \"is\", \"!=\", \"not\", \"<\", \"<=\", \">\", \">=\", \"regexp\", \"version\", \"semver\", \"set_contains\", \"set_contains_all\", \"set_contains_any\"")]),
        (affinity("regexp", "(", 50), vec![format!("{at}: value \"(\" is not a valid regular expression: unclosed group")]),
        (Affinity { attribute: String::new(), ..affinity("=", "dc1", 50) }, vec![format!("{at}: operator \"=\" needs an attribute; set attribute, e.g. \"${{attr.kernel.name}}\"")]),
    ];
    for (affinity, expected) in cases {
        let mut job = super::super::testutil::base_job();
        group(&mut job).affinities.push(affinity);
        assert_eq!(messages(&job), expected);
    }
}

fn spread(attribute: &str, weight: i64, targets: &[(&str, i64)]) -> Spread {
    Spread {
        attribute: attribute.into(),
        weight,
        targets: targets
            .iter()
            .map(|(value, percent)| SpreadTarget {
                value: value.to_string(),
                percent: *percent,
            })
            .collect(),
    }
}

#[test]
fn spreads() {
    let at = format!("error: {JOB} spread[0]");
    let cases: Vec<(Spread, Vec<String>)> = vec![
        (
            spread("${node.datacenter}", 50, &[("dc1", 70), ("dc2", 30)]),
            vec![],
        ),
        (spread("${node.datacenter}", 0, &[]), vec![]),
        (
            spread("", 50, &[]),
            vec![format!(
                "{at}: attribute is empty; set attribute, e.g. \"${{node.datacenter}}\""
            )],
        ),
        (
            spread("${node.datacenter}", 101, &[]),
            vec![format!("{at}: weight 101 is out of range; use 0 to 100")],
        ),
        (
            spread("${node.datacenter}", 50, &[("dc1", 70), ("dc2", 40)]),
            vec![format!(
                "{at}: target percents add up to 110%; they must not exceed 100%"
            )],
        ),
        (
            spread("${node.datacenter}", 50, &[("dc1", 10), ("dc1", 10)]),
            vec![format!(
                "{at} target[1]: value \"dc1\" is already targeted; list each value once"
            )],
        ),
        (
            spread("${node.datacenter}", 50, &[("", -1)]),
            vec![
                format!("{at} target[0]: value is empty; name an attribute value"),
                format!("{at} target[0]: percent -1 is out of range; use 0 to 100"),
            ],
        ),
    ];
    for (spread, expected) in cases {
        let mut job = super::super::testutil::base_job();
        job.spec.spreads.push(spread);
        assert_eq!(messages(&job), expected);
    }
}

#[test]
fn system_jobs_refuse_affinities_and_spreads() {
    let mut job = job_of_type(JobType::System);
    job.spec.affinities.push(affinity("=", "dc1", 50));
    group(&mut job)
        .spreads
        .push(spread("${node.datacenter}", 50, &[]));
    assert_eq!(
        messages(&job),
        [
            format!("error: {JOB}: system jobs may not have an affinity block (they run on every eligible node); remove it"),
            format!("error: {GROUP}: system jobs may not have a spread block (they run on every eligible node); remove it"),
        ]
    );
}

#[test]
fn version_constraint_parser() {
    let parsed = parse_version_constraint(">= 1.2, < 2.0, != 1.5.1-beta, ~> 1.4, 1.3", false);
    let ops: Vec<VersionOp> = parsed
        .map(|clauses| clauses.iter().map(|c| c.op).collect())
        .unwrap_or_default();
    assert_eq!(
        ops,
        [
            VersionOp::GreaterEqual,
            VersionOp::Less,
            VersionOp::NotEqual,
            VersionOp::Pessimistic,
            VersionOp::Equal
        ]
    );
    for bad in ["", "1..2", ">= a", "1.2-", "1.2+", "=> 1.2", "1.2 3"] {
        assert!(parse_version_constraint(bad, false).is_err(), "{bad}");
    }
    assert!(parse_version_constraint("1.2.3", true).is_ok());
    assert!(parse_version_constraint("v1.2.3", true).is_err());
}
