//! Names: the job id, its namespace, groups and tasks, and duplicates.
//!
//! Job, group and task names end up in keys, URLs and Docker container names
//! (`<task>-<alloc-id>`), so they use Nomad's job id alphabet: letters,
//! digits, `-`, `_` and `.`, at most 128 characters.

use std::collections::BTreeSet;

use crate::job::Job;

use super::{quoted_list, Report};

pub(super) const MAX_NAME_LEN: usize = 128;

const NAME_RULE: &str = "use only letters, digits, '-', '_' and '.' (no spaces or slashes)";

/// Why `name` would lead out of a directory it names a child of: the
/// agent makes directories of task names, so `.` and `..` cannot be names
/// (the other rules already keep out `/` and NUL).
fn relative_dir_problem(name: &str) -> Option<String> {
    (name == "." || name == "..")
        .then(|| "is a relative directory; give it a name of its own".into())
}

/// Why `name` is not a valid job/group/task name, if it is not.
pub(super) fn name_problem(name: &str) -> Option<String> {
    if name.trim().is_empty() {
        return Some("is empty".into());
    }
    if let Some(problem) = relative_dir_problem(name) {
        return Some(problem);
    }
    let length = name.chars().count();
    if length > MAX_NAME_LEN {
        return Some(format!(
            "is {length} characters long; use at most {MAX_NAME_LEN}"
        ));
    }
    let bad: BTreeSet<char> = name
        .chars()
        .filter(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        .collect();
    if bad.is_empty() {
        None
    } else {
        let shown: Vec<String> = bad.iter().map(|c| format!("{c:?}")).collect();
        Some(format!("contains {}; {NAME_RULE}", shown.join(", ")))
    }
}

pub(super) fn validate_job_names(report: &mut Report, job: &Job, path: &str) {
    let name = &job.metadata.name;
    // A child job is named after its parent, with a `/` (as in Nomad).
    let child = job.spec.parent_id.as_deref().is_some_and(|parent| {
        crate::children::is_child_name(name, parent) && name_problem(parent).is_none()
    });
    let problem = if child { None } else { name_problem(name) };
    if name.trim().is_empty() {
        report.error(path, "job name is empty; set metadata.name");
    } else if let Some(problem) = problem {
        report.error(path, format!("job name {name:?} {problem}"));
    }
    // The same rule `drover namespace apply` checks: a namespace that can
    // be made can hold jobs.
    if let Some(problem) = crate::namespace::invalid_name(&job.metadata.namespace) {
        report.error(path, problem);
    }
}

/// A group or task name (`kind` is "group" or "task").
pub(super) fn validate_object_name(report: &mut Report, path: &str, kind: &str, name: &str) {
    if name.trim().is_empty() {
        report.error(
            path,
            format!("{kind} name is empty; give the {kind} a name"),
        );
    } else if let Some(problem) = if kind == "group" {
        group_name_problem(name)
    } else {
        name_problem(name)
    } {
        report.error(path, format!("{kind} name {name:?} {problem}"));
    }
}

/// Group (and volume) names are freer, as in Nomad (they name no
/// container): anything but slashes and control characters, at most 128
/// characters, and not `.` or `..`.
pub(super) fn group_name_problem(name: &str) -> Option<String> {
    let length = name.chars().count();
    if let Some(problem) = relative_dir_problem(name) {
        Some(problem)
    } else if length > MAX_NAME_LEN {
        Some(format!(
            "is {length} characters long; use at most {MAX_NAME_LEN}"
        ))
    } else if name.contains('/') || name.chars().any(char::is_control) {
        Some("contains '/' or a control character; remove it".into())
    } else {
        None
    }
}

/// Reports each non-empty name that appears more than once, once.
pub(super) fn duplicate_names<'a>(
    report: &mut Report,
    path: &str,
    kind: &str,
    names: impl IntoIterator<Item = &'a str>,
) {
    for name in duplicates(names) {
        report.error(
            path,
            format!("{kind} name {name:?} is used more than once; {kind} names must be unique"),
        );
    }
}

/// The non-empty values that occur more than once, in first-seen order.
pub(super) fn duplicates<'a>(values: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    let mut seen = BTreeSet::new();
    let mut reported = BTreeSet::new();
    let mut out = Vec::new();
    for value in values {
        if !value.is_empty() && !seen.insert(value) && reported.insert(value) {
            out.push(value);
        }
    }
    out
}

/// `(defined: "a", "b")`, or a note that nothing is defined.
pub(super) fn defined_suffix(defined: &[&str], none: &str) -> String {
    if defined.is_empty() {
        format!("({none})")
    } else {
        format!("(defined: {})", quoted_list(defined.iter().copied()))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{base_job, messages};

    #[test]
    fn job_name_rules() {
        let long = "a".repeat(129);
        let cases: [(&str, &str); 4] = [
            ("", "error: job \"\": job name is empty; set metadata.name"),
            ("my job", "error: job \"my job\": job name \"my job\" contains ' '; use only letters, digits, '-', '_' and '.' (no spaces or slashes)"),
            ("a/b", "error: job \"a/b\": job name \"a/b\" contains '/'; use only letters, digits, '-', '_' and '.' (no spaces or slashes)"),
            (&long, ""),
        ];
        for (name, expected) in cases {
            let mut job = base_job();
            job.metadata.name = name.to_string();
            let got = messages(&job);
            if name.len() > 128 {
                assert_eq!(got.len(), 1);
                assert!(
                    got[0].ends_with("is 129 characters long; use at most 128"),
                    "{got:?}"
                );
            } else {
                assert_eq!(got, [expected], "{name}");
            }
        }
    }

    #[test]
    fn a_child_is_named_after_its_parent_with_a_slash() {
        let mut job = base_job();
        job.metadata.name = "backup/periodic-1700000000".into();
        job.spec.parent_id = Some("backup".into());
        assert!(messages(&job).is_empty(), "{:?}", messages(&job));
        // Not its parent's name, or no parent at all: an ordinary name.
        job.spec.parent_id = Some("other".into());
        assert_eq!(messages(&job).len(), 1);
        job.spec.parent_id = None;
        assert_eq!(messages(&job).len(), 1);
    }

    #[test]
    fn names_that_would_lead_out_of_a_directory_are_refused() {
        for name in [".", ".."] {
            let mut job = base_job();
            job.spec.groups[0].tasks[0].name = name.into();
            let got = messages(&job);
            assert!(
                got.iter()
                    .any(|m| m.contains(&format!("task name {name:?} is a relative directory"))),
                "{got:?}"
            );
            let mut job = base_job();
            job.spec.groups[0].name = name.into();
            let got = messages(&job);
            assert!(
                got.iter().any(|m| m.contains("is a relative directory")),
                "{got:?}"
            );
        }
        let mut job = base_job();
        job.spec.groups[0].volumes.insert(
            "..".into(),
            crate::group::VolumeRequest {
                volume_type: "host".into(),
                source: "data".into(),
                ..Default::default()
            },
        );
        let got = messages(&job);
        assert!(
            got.iter()
                .any(|m| m.contains("volume name \"..\" is a relative directory")),
            "{got:?}"
        );
        let mut job = base_job();
        job.spec.groups[0].tasks[0].name = "...".into();
        assert!(messages(&job).is_empty(), "three dots name a directory");
    }

    #[test]
    fn valid_names_pass() {
        let mut job = base_job();
        job.metadata.name = "billing-api_v2.1".into();
        assert!(messages(&job).is_empty());
    }

    #[test]
    fn namespace_rules() {
        let mut job = base_job();
        job.metadata.namespace = "web_team-2".into();
        assert!(
            messages(&job).is_empty(),
            "as drover namespace apply takes it"
        );
        job.metadata.namespace = "team a".into();
        assert_eq!(
            messages(&job),
            ["error: job \"billing\": namespace \"team a\" must be 1 to 128 letters, digits, '-' or '_'"]
        );
    }

    #[test]
    fn duplicate_and_empty_group_names() {
        let mut job = base_job();
        let group = job.spec.groups[0].clone();
        job.spec.groups.push(group);
        assert_eq!(
            messages(&job),
            ["error: job \"billing\": group name \"api\" is used more than once; group names must be unique"]
        );
        let mut job = base_job();
        job.spec.groups[0].name.clear();
        assert_eq!(
            messages(&job),
            ["error: job \"billing\" group[0]: group name is empty; give the group a name"]
        );
    }

    #[test]
    fn group_names_follow_nomad() {
        let mut job = base_job();
        job.spec.groups[0].name = "web server".into();
        assert!(messages(&job).is_empty());
        job.spec.groups[0].name = "web/server".into();
        assert_eq!(
            messages(&job),
            ["error: job \"billing\" group \"web/server\": group name \"web/server\" contains '/' or a control character; remove it"]
        );
    }

    #[test]
    fn duplicate_and_bad_task_names() {
        let mut job = base_job();
        let task = job.spec.groups[0].tasks[0].clone();
        job.spec.groups[0].tasks.push(task);
        assert_eq!(
            messages(&job),
            ["error: job \"billing\" group \"api\": task name \"api\" is used more than once; task names must be unique"]
        );
        let mut job = base_job();
        job.spec.groups[0].tasks[0].name = "a/b".into();
        assert_eq!(
            messages(&job),
            ["error: job \"billing\" group \"api\" task \"a/b\": task name \"a/b\" contains '/'; use only letters, digits, '-', '_' and '.' (no spaces or slashes)"]
        );
    }

    #[test]
    fn job_without_groups() {
        let mut job = base_job();
        job.spec.groups.clear();
        assert_eq!(
            messages(&job),
            ["error: job \"billing\": the job has no group; add at least one group"]
        );
    }
}
