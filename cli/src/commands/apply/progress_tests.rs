use std::collections::BTreeMap;

use drover_api_types::jobspec::{load_str, ParseOptions};

use super::*;

fn job(kind: &str, count: i64) -> Job {
    let text = format!(
        r#"job "web" {{
  type = "{kind}"
  datacenters = ["dc1"]
  group "front" {{
    count = {count}
    task "web" {{
      driver = "docker"
      config {{ image = "nginx" }}
    }}
  }}
}}
"#
    );
    let mut job = load_str("web.nomad", &text, &ParseOptions::default())
        .expect("valid")
        .jobs
        .remove(0);
    job.metadata.version = 2;
    job
}

fn status(s: GroupSummary) -> JobStatus {
    JobStatus {
        status: "running".into(),
        summary: BTreeMap::from([("front".to_string(), s)]),
        observed_version: 2,
        ..JobStatus::default()
    }
}

fn summary(queued: u64, starting: u64, running: u64, failed: u64) -> GroupSummary {
    GroupSummary {
        queued,
        starting,
        running,
        failed,
        ..GroupSummary::default()
    }
}

#[test]
fn a_service_is_done_when_every_allocation_runs() {
    let job = job("service", 3);
    let p = evaluate(&job, Some(&status(summary(0, 1, 2, 0))), None);
    assert!(!p.done && p.failed.is_none());
    assert_eq!(p.lines, ["front: 2/3 running, 1 starting, 0 failed"]);
    let p = evaluate(&job, Some(&status(summary(0, 0, 3, 0))), None);
    assert!(p.done, "{p:?}");
}

#[test]
fn an_update_is_done_once_the_old_version_stopped() {
    let job = job("service", 3);
    let mut rolling = summary(0, 0, 4, 0);
    rolling.outdated = 1;
    let p = evaluate(&job, Some(&status(rolling)), None);
    assert!(!p.done, "{p:?}");
    assert_eq!(
        p.lines,
        ["front: 3/3 running, 0 starting, 0 failed, 1 of the old version still running"]
    );
    let mut half = summary(0, 0, 3, 0);
    half.outdated = 1;
    assert!(!evaluate(&job, Some(&status(half)), None).done);
}

#[test]
fn a_status_for_an_older_version_is_not_judged() {
    let job = job("service", 1);
    let mut old = status(summary(0, 0, 1, 0));
    old.observed_version = 1;
    let p = evaluate(&job, Some(&old), None);
    assert!(!p.done);
    assert_eq!(p.lines, ["front: waiting for the scheduler"]);
    assert!(!evaluate(&job, None, None).done);
}

#[test]
fn placement_failures_fail_with_their_reasons() {
    let job = job("service", 2);
    let mut s = status(summary(2, 0, 0, 0));
    s.placement_failures.insert(
        "front".into(),
        PlacementFailure {
            queued: 2,
            nodes_evaluated: 3,
            nodes_filtered: BTreeMap::from([(
                "constraint ${attr.kernel.name} = windows".into(),
                3,
            )]),
            dimensions_exhausted: BTreeMap::new(),
            quota_exhausted: None,
        },
    );
    let p = evaluate(&job, Some(&s), None);
    assert!(!p.done);
    assert_eq!(
        p.failed.as_deref(),
        Some(
            "front: 2 allocations not placed (3 nodes evaluated): \
             constraint ${attr.kernel.name} = windows filtered 3 nodes"
        )
    );
}

#[test]
fn a_quota_that_held_allocations_back_is_the_reason() {
    let job = job("service", 3);
    let mut s = status(summary(2, 0, 0, 0));
    s.placement_failures.insert(
        "front".into(),
        PlacementFailure {
            queued: 1,
            quota_exhausted: Some("quota web exhausted: allocations 2/2 used, 1 asked".into()),
            ..Default::default()
        },
    );
    let p = evaluate(&job, Some(&s), None);
    assert_eq!(
        p.failed.as_deref(),
        Some("front: 1 allocation not placed: quota web exhausted: allocations 2/2 used, 1 asked")
    );
}

#[test]
fn service_failures_are_left_to_unlimited_rescheduling() {
    let job = job("service", 1);
    let p = evaluate(&job, Some(&status(summary(0, 0, 0, 5))), None);
    assert!(!p.done && p.failed.is_none(), "{p:?}");
}

#[test]
fn batch_failures_beyond_the_attempts_fail_counting_from_the_baseline() {
    // Batch: one rescheduling attempt by default, so two failures of one
    // index use it up.
    let job = job("batch", 1);
    let p = evaluate(&job, Some(&status(summary(0, 0, 0, 1))), None);
    assert!(p.failed.is_none(), "{p:?}");
    let p = evaluate(&job, Some(&status(summary(0, 0, 0, 2))), None);
    assert!(p
        .failed
        .as_deref()
        .is_some_and(|r| r.contains("2 allocations failed")));
    let before = status(summary(0, 0, 0, 2));
    let p = evaluate(&job, Some(&status(summary(0, 0, 1, 3))), Some(&before));
    assert!(p.failed.is_none(), "{p:?}");
    assert_eq!(
        p.lines,
        ["front: 0/1 complete, 1 running, 0 starting, 1 failed"]
    );
}

#[test]
fn a_batch_job_is_done_when_its_count_completed() {
    let job = job("batch", 2);
    let mut s = status(GroupSummary {
        complete: 2,
        ..GroupSummary::default()
    });
    s.status = "dead".into();
    assert!(evaluate(&job, Some(&s), None).done);
    s.summary.insert(
        "front".into(),
        GroupSummary {
            complete: 1,
            failed: 1,
            ..GroupSummary::default()
        },
    );
    let p = evaluate(&job, Some(&s), None);
    assert!(!p.done && p.failed.is_some(), "{p:?}");
}

#[test]
fn a_stopped_job_is_done_when_nothing_runs() {
    let mut job = job("service", 2);
    job.spec.stop = true;
    let p = evaluate(&job, Some(&status(summary(0, 0, 1, 0))), None);
    assert!(!p.done);
    assert_eq!(
        p.lines,
        ["front: stopping, 1 running, 0 starting, 0 failed"]
    );
    assert!(evaluate(&job, Some(&status(summary(0, 0, 0, 0))), None).done);
}

#[test]
fn a_system_job_is_done_when_it_runs_somewhere_and_nothing_waits() {
    let job = job("system", 1);
    let p = evaluate(&job, Some(&status(summary(0, 0, 2, 0))), None);
    assert!(p.done);
    assert_eq!(p.lines, ["front: 2 running, 0 starting, 0 failed"]);
}
