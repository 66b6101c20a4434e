//! Job- and group-level rules, and that every error is collected.

use super::testutil::{assert_diags, base_job, group, messages, task, GROUP, SERVICE, TASK};

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
