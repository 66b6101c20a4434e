//! Job- and group-level rules, and that every error is collected.

use super::testutil::{assert_diags, base_job, group, messages, task, GROUP, SERVICE, TASK};
use super::{validate, validate_within, JobLimits};

const JOB: &str = "job \"billing\"";

#[test]
fn count_priority_datacenters() {
    assert_diags(
        |job| group(job).count = -1,
        &[&format!(
            "error: {GROUP}: count -1 is negative; use 0 or more"
        )],
    );
    assert_diags(|job| group(job).count = 0, &[]);
    for priority in [0, 101] {
        assert_diags(
            |job| job.spec.priority = priority,
            &[&format!(
                "error: {JOB}: priority {priority} is out of range; use a value from 1 to 100"
            )],
        );
    }
    assert_diags(
        |job| job.spec.datacenters = vec!["dc1".into(), " ".into()],
        &[&format!(
            "error: {JOB}: datacenters[1] is empty; name a datacenter or use \"*\""
        )],
    );
}

#[test]
fn counts_are_bounded_per_group_and_per_job() {
    let limits = JobLimits {
        max_group_count: 100,
        max_job_allocations: 150,
    };
    let mut job = base_job();
    group(&mut job).count = 1_000_000_000;
    let problems: Vec<String> = validate_within(&job, &limits)
        .iter()
        .map(|d| format!("{}: {}", d.path, d.message))
        .collect();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].starts_with(&format!(
            "{GROUP}: count 1000000000 is over the limit of 100 per group"
        )),
        "{problems:?}"
    );
    assert!(limits
        .exceeded_by(&job)
        .is_some_and(|p| p.contains("--max-group-count")));
    // Within the group limit, but two groups add up past the job's.
    group(&mut job).count = 100;
    let mut second = job.spec.groups[0].clone();
    second.name = "second".into();
    job.spec.groups.push(second);
    let problems = validate_within(&job, &limits);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0]
        .message
        .contains("add up to 200, over the limit of 150"));
    assert!(limits.exceeded_by(&job).is_some());
    job.spec.groups[1].count = 50;
    assert!(validate_within(&job, &limits).is_empty());
    assert_eq!(limits.exceeded_by(&job), None);
    // The defaults refuse the poison job too.
    group(&mut job).count = 1_000_000_000;
    assert!(validate(&job)
        .iter()
        .any(|d| d.message.contains("per group")));
    // Stopped, it places nothing: it can always be stopped and purged.
    job.spec.stop = true;
    assert!(validate(&job).is_empty(), "{:?}", validate(&job));
    assert_eq!(JobLimits::default().exceeded_by(&job), None);
}

#[test]
fn every_error_is_collected_in_walk_order() {
    let mut job = base_job();
    job.spec.priority = 0;
    group(&mut job).count = -2;
    task(&mut job).resources.memory = 1;
    task(&mut job).services[0].port = "http".into();
    assert_eq!(
        messages(&job),
        [
            format!("error: {JOB}: priority 0 is out of range; use a value from 1 to 100"),
            format!("error: {GROUP}: count -2 is negative; use 0 or more"),
            format!("error: {TASK} resources: memory 1 MB is too low; use at least 10"),
            format!("error: {SERVICE}: port label \"http\" is not defined in the group network (defined: \"web\")"),
        ]
    );
}

#[test]
fn validate_is_deterministic_and_clean_after_a_yaml_round_trip() {
    let job = base_job();
    let text = crate::jobspec::yaml::to_yaml(&job).unwrap_or_default();
    let loaded = crate::jobspec::load_str("base.yaml", &text, &Default::default());
    let jobs = loaded.map(|l| l.jobs).unwrap_or_default();
    assert_eq!(jobs, [job]);
}

#[test]
fn a_job_too_large_to_store_is_refused_with_its_size() {
    let mut job = base_job();
    job.spec.meta.insert("blob".into(), "x".repeat(600 * 1024));
    let errors = messages(&job);
    assert!(
        errors
            .iter()
            .any(|m| m.contains("the job is 602 KiB as stored; a job may be at most 512 KiB")),
        "{errors:?}"
    );
    job.spec.meta.insert("blob".into(), "x".repeat(100 * 1024));
    let errors = messages(&job);
    assert!(
        !errors.iter().any(|m| m.contains("as stored")),
        "{errors:?}"
    );
}
