//! Table tests of the collector: each bucket, each threshold, and every
//! never-collect rule.

use chrono::{DateTime, Duration as ChronoDuration, TimeZone, Utc};
use drover_api_types::alloc::{Allocation, Binding, ClientStatus, DesiredStatus};
use drover_api_types::deployment::{Deployment, DeploymentState};
use drover_api_types::{mock, Job, JobType};

use super::*;

pub(super) fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0)
        .single()
        .expect("valid time")
}

pub(super) fn ago(minutes: i64) -> DateTime<Utc> {
    t0() - ChronoDuration::minutes(minutes)
}

pub(super) fn job(name: &str, job_type: JobType, version: u64) -> Job {
    let mut job = mock::job_of(name, job_type, vec![mock::group("app", 1)]);
    job.metadata.version = version;
    job.metadata.resource_version = 100 + version as i64;
    job
}

/// An allocation of `job` whose status was last updated `minutes` ago.
pub(super) fn alloc(id: &str, job: &str, status: ClientStatus, minutes: i64) -> Allocation {
    let mut a = Allocation::default();
    a.metadata.uid = id.into();
    a.metadata.namespace = "default".into();
    a.metadata.resource_version = 7;
    a.spec.job_id = job.into();
    a.spec.task_group = "app".into();
    a.status.client_status = status;
    a.status.updated_at = Some(ago(minutes));
    a.binding = Some(Binding {
        node_id: "n1".into(),
        ..Default::default()
    });
    a
}

fn stopped(mut a: Allocation) -> Allocation {
    a.spec.desired_status = DesiredStatus::Stop;
    a
}

fn deployment(
    id: &str,
    job: &str,
    version: u64,
    state: DeploymentState,
    minutes: i64,
) -> Deployment {
    let mut d = Deployment::default();
    d.metadata.name = id.into();
    d.metadata.uid = id.into();
    d.metadata.namespace = "default".into();
    d.metadata.resource_version = 9;
    d.spec.job_id = job.into();
    d.spec.job_version = version;
    d.spec.created_at = Some(ago(minutes + 1));
    d.status.state = state;
    d.status.updated_at = Some(ago(minutes));
    d
}

pub(super) fn thresholds() -> Thresholds {
    Thresholds {
        alloc: std::time::Duration::from_secs(3600),
        job: std::time::Duration::from_secs(4 * 3600),
        deployment: std::time::Duration::from_secs(3600),
        versions_kept: 2,
        max_per_pass: 1000,
    }
}

fn key(name: &str) -> ObjectKey {
    ObjectKey::new("default", name)
}

fn alloc_ids(plan: &GcPlan) -> Vec<&str> {
    plan.allocs.iter().map(|a| a.key.name.as_str()).collect()
}

fn run(snap: &Snapshot) -> GcPlan {
    collect(snap, t0(), &thresholds())
}

#[test]
fn terminal_allocations_go_only_when_stopped_or_replaced_and_old_enough() {
    let web = job("web", JobType::Service, 1);
    let mut replacement = alloc("new", "web", ClientStatus::Running, 0);
    replacement.spec.previous_allocation = Some("replaced".into());
    let snap = Snapshot {
        jobs: vec![web],
        allocs: vec![
            stopped(alloc("stopped-old", "web", ClientStatus::Complete, 90)),
            stopped(alloc("stopped-young", "web", ClientStatus::Complete, 10)),
            alloc("replaced", "web", ClientStatus::Failed, 90),
            // Failed, still meant to run, nothing replaces it: it holds
            // its index (a reschedule is pending).
            alloc("failed-unreplaced", "web", ClientStatus::Failed, 600),
            stopped(alloc("stopping", "web", ClientStatus::Running, 600)),
            replacement,
        ],
        ..Default::default()
    };
    let plan = run(&snap);
    assert_eq!(alloc_ids(&plan), vec!["stopped-old", "replaced"]);
    assert!(plan.allocs.iter().all(|a| a.job_guard == JobGuard::None));
    assert_eq!(plan.allocs[0].node.as_deref(), Some("n1"));
    assert_eq!(plan.allocs[0].revision, 7);
    assert!(plan.jobs.is_empty() && plan.finished.is_empty());
}

#[test]
fn completed_batch_allocations_of_a_live_batch_job_stay() {
    let mut batch = job("etl", JobType::Batch, 0);
    batch.spec.groups[0].count = 2;
    // One index done, one still running: the job is not dead, and the
    // completed allocation must stay or its index would run again.
    let snap = Snapshot {
        jobs: vec![batch],
        allocs: vec![
            alloc("done", "etl", ClientStatus::Complete, 600),
            alloc("busy", "etl", ClientStatus::Running, 600),
        ],
        ..Default::default()
    };
    assert_eq!(run(&snap), GcPlan::default());
}

#[test]
fn a_dead_batch_job_goes_with_its_allocations_after_the_job_threshold() {
    let batch = job("etl", JobType::Batch, 0);
    let mut snap = Snapshot {
        jobs: vec![batch],
        allocs: vec![alloc("done", "etl", ClientStatus::Complete, 300)],
        versions: [(key("etl"), [0].into())].into(),
        ..Default::default()
    };
    // First seen finished now: the job threshold counts from now.
    let plan = run(&snap);
    assert_eq!(plan.finished, vec![key("etl")]);
    assert!(plan.is_empty(), "{plan:?}");

    snap.finished_since.insert(key("etl"), ago(300));
    let plan = run(&snap);
    assert_eq!(plan.jobs.len(), 1);
    assert_eq!(plan.jobs[0].revision, 100);
    assert_eq!(plan.jobs[0].versions, vec![0]);
    assert_eq!(alloc_ids(&plan), vec!["done"]);
    assert_eq!(plan.allocs[0].job_guard, JobGuard::Revision(100));
}

#[test]
fn a_stopped_job_waits_for_its_allocations_and_its_latest_finish() {
    let mut web = job("web", JobType::Service, 3);
    web.spec.stop = true;
    let mut snap = Snapshot {
        jobs: vec![web],
        allocs: vec![
            stopped(alloc("a", "web", ClientStatus::Complete, 600)),
            stopped(alloc("b", "web", ClientStatus::Running, 600)),
        ],
        finished_since: [(key("web"), ago(600))].into(),
        ..Default::default()
    };
    let plan = run(&snap);
    assert!(plan.jobs.is_empty(), "an allocation still runs");
    // Its terminal allocation goes on its own, guarded by the job as read.
    assert_eq!(alloc_ids(&plan), vec!["a"]);
    assert_eq!(plan.allocs[0].job_guard, JobGuard::Revision(103));

    snap.allocs[1] = stopped(alloc("b", "web", ClientStatus::Complete, 60));
    assert!(run(&snap).jobs.is_empty(), "finished 1h ago, threshold 4h");
    snap.allocs[1] = stopped(alloc("b", "web", ClientStatus::Complete, 241));
    let plan = run(&snap);
    assert_eq!(plan.jobs.len(), 1);
    assert_eq!(alloc_ids(&plan), vec!["a", "b"]);
}

#[test]
fn allocations_and_history_of_a_gone_job_go_guarded_by_its_absence() {
    let snap = Snapshot {
        allocs: vec![alloc("orphan", "gone", ClientStatus::Failed, 90)],
        versions: [(key("gone"), [0, 1].into())].into(),
        stable: [(key("gone"), [1].into())].into(),
        job_records: [key("gone")].into(),
        alloc_parts: [
            (key("orphan"), Some("n1".to_string())),
            (key("lost-spec"), Some("n2".to_string())),
        ]
        .into(),
        ..Default::default()
    };
    let plan = run(&snap);
    assert_eq!(alloc_ids(&plan), vec!["orphan"]);
    assert_eq!(plan.allocs[0].job_guard, JobGuard::Absent);
    assert_eq!(
        plan.leftovers,
        vec![LeftoverGc {
            job: key("gone"),
            versions: vec![0, 1],
            stable: vec![1],
        }]
    );
    assert_eq!(
        plan.orphan_parts,
        vec![(key("lost-spec"), Some("n2".into()))]
    );
}

#[test]
fn versions_keep_the_newest_the_current_the_stable_and_those_in_use() {
    // Current version 5 (an update rolled back by hand to 5 after 9).
    let web = job("web", JobType::Service, 5);
    let mut old_runner = alloc("old", "web", ClientStatus::Running, 0);
    old_runner.spec.job_version = 2;
    let mut old_done = stopped(alloc("older", "web", ClientStatus::Complete, 0));
    old_done.spec.job_version = 1;
    let snap = Snapshot {
        jobs: vec![web],
        allocs: vec![old_runner, old_done],
        versions: [(key("web"), (0..=9).collect())].into(),
        stable: [(key("web"), [1, 3].into())].into(),
        deployments: vec![deployment("d4", "web", 4, DeploymentState::Running, 0)],
        ..Default::default()
    };
    let plan = run(&snap);
    assert_eq!(plan.versions.len(), 1);
    let v = &plan.versions[0];
    assert_eq!(v.job_revision, 105);
    // Kept: 9, 8 (newest two), 5 (current), 3 (newest stable), 2 (runs),
    // 4 (a deployment rolls it out).
    assert_eq!(v.versions, vec![0, 1, 6, 7]);
    assert_eq!(v.stable, vec![1]);
}

#[test]
fn deployments_keep_each_live_jobs_newest_and_those_in_use() {
    let web = job("web", JobType::Service, 3);
    let mut runner = alloc("r", "web", ClientStatus::Running, 0);
    runner.spec.deployment_id = Some("d1".into());
    let snap = Snapshot {
        jobs: vec![web],
        allocs: vec![runner],
        deployments: vec![
            deployment("d0", "web", 0, DeploymentState::Successful, 120),
            deployment("d1", "web", 1, DeploymentState::Successful, 120),
            deployment("d2", "web", 2, DeploymentState::Failed, 10),
            deployment("d3", "web", 3, DeploymentState::Cancelled, 120),
            deployment("x0", "gone", 0, DeploymentState::Running, 0),
        ],
        ..Default::default()
    };
    let plan = run(&snap);
    let ids: Vec<&str> = plan
        .deployments
        .iter()
        .map(|d| d.key.name.as_str())
        .collect();
    // d1: an allocation runs it; d2: too young; d3: the newest; x0: its
    // job is gone.
    assert_eq!(ids, vec!["x0", "d0"]);
    // A gone job must still be gone when the deletion commits (it may be
    // new and not yet in the view); an old deployment needs nothing.
    let guards: Vec<JobGuard> = plan.deployments.iter().map(|d| d.job_guard).collect();
    assert_eq!(guards, vec![JobGuard::Absent, JobGuard::None]);
    assert_eq!(plan.deployments[0].job, ObjectKey::new("default", "gone"));
}

#[test]
fn a_pass_is_bounded_and_says_so() {
    let web = job("web", JobType::Service, 0);
    let allocs: Vec<Allocation> = (0..10)
        .map(|i| stopped(alloc(&format!("a{i}"), "web", ClientStatus::Complete, 120)))
        .collect();
    let snap = Snapshot {
        jobs: vec![web],
        allocs,
        ..Default::default()
    };
    let mut t = thresholds();
    t.max_per_pass = 4;
    let plan = collect(&snap, t0(), &t);
    assert_eq!(plan.allocs.len(), 4);
    assert!(plan.truncated);
}

#[test]
fn zero_thresholds_collect_at_once_and_a_status_without_times_counts_as_old() {
    let web = job("web", JobType::Service, 0);
    let mut a = stopped(alloc("a", "web", ClientStatus::Complete, 0));
    a.status.updated_at = None;
    let snap = Snapshot {
        jobs: vec![web],
        allocs: vec![a, stopped(alloc("b", "web", ClientStatus::Lost, 0))],
        ..Default::default()
    };
    let mut t = thresholds();
    t.alloc = std::time::Duration::ZERO;
    assert_eq!(alloc_ids(&collect(&snap, t0(), &t)), vec!["a", "b"]);
    t.alloc = std::time::Duration::from_secs(60);
    assert_eq!(alloc_ids(&collect(&snap, t0(), &t)), vec!["a"]);
}
