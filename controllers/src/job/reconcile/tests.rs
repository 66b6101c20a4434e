//! Table tests for each bucket of the group plan and each delay function.

use chrono::{DateTime, Duration as ChronoDuration, TimeZone, Utc};
use drover_api_types::alloc::{Allocation, Binding, ClientStatus, DesiredStatus, RescheduleEvent};
use drover_api_types::job::{ReschedulePolicy, UpdateStrategy};
use drover_api_types::{mock, Duration, Job, JobType};

use super::*;

pub(super) fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .single()
        .expect("valid time")
}

pub(super) fn job(job_type: JobType, count: i64, version: u64) -> Job {
    let mut job = mock::job_of("web", job_type, vec![mock::group("app", count)]);
    job.metadata.version = version;
    job
}

pub(super) fn alloc(id: &str, index: u32, version: u64, status: ClientStatus) -> Allocation {
    let mut a = Allocation::default();
    a.metadata.uid = id.into();
    a.metadata.name = format!("web.app[{index}]");
    a.spec.job_id = "web".into();
    a.spec.task_group = "app".into();
    a.spec.index = index;
    a.spec.job_version = version;
    a.status.client_status = status;
    a
}

fn stopped(mut a: Allocation) -> Allocation {
    a.spec.desired_status = DesiredStatus::Stop;
    a
}

fn plan(job: &Job, allocs: &[Allocation]) -> GroupPlan {
    reconcile_group(job, &job.spec.groups[0], allocs, t0())
}

fn indexes(ps: &[Placement]) -> Vec<u32> {
    ps.iter().map(|p| p.index).collect()
}

fn ids(stops: &[(String, String)]) -> Vec<&str> {
    stops.iter().map(|(id, _)| id.as_str()).collect()
}

#[test]
fn place_fills_lowest_free_indexes() {
    use ClientStatus::*;
    let cases: Vec<(i64, Vec<Allocation>, Vec<u32>)> = vec![
        (3, vec![], vec![0, 1, 2]),
        (3, vec![alloc("a", 1, 0, Running)], vec![0, 2]),
        (2, vec![alloc("a", 5, 0, Running)], vec![0]),
        (
            3,
            vec![alloc("a", 0, 0, Running), alloc("b", 2, 0, Pending)],
            vec![1],
        ),
        // History does not hold an index.
        (2, vec![stopped(alloc("a", 0, 0, Complete))], vec![0, 1]),
        (0, vec![], vec![]),
    ];
    for (count, allocs, want) in cases {
        let job = job(JobType::Service, count, 0);
        let p = plan(&job, &allocs);
        assert_eq!(indexes(&p.place), want, "count {count}, allocs {allocs:?}");
        assert!(p.place.iter().all(|pl| pl.previous_allocation.is_none()));
    }
    let p = plan(&job(JobType::Service, 1, 0), &[]);
    assert_eq!(p.place[0].name, "web.app[0]");
    assert_eq!(p.place[0].not_before, None);
}

#[test]
fn stop_extras_highest_index_first() {
    use ClientStatus::*;
    let allocs = vec![
        alloc("a", 0, 0, Running),
        alloc("b", 3, 0, Running),
        alloc("c", 1, 0, Running),
        alloc("d", 2, 0, Pending),
    ];
    let p = plan(&job(JobType::Service, 1, 0), &allocs);
    assert_eq!(ids(&p.stop), vec!["b", "d", "c"]);
    assert!(p.stop.iter().all(|(_, why)| why == REASON_COUNT_REDUCED));
    assert_eq!(p.ignore, vec!["a"]);
    assert!(p.place.is_empty());

    // A duplicate index keeps the running one.
    let dup = vec![alloc("x", 0, 0, Pending), alloc("y", 0, 0, Running)];
    let p = plan(&job(JobType::Service, 1, 0), &dup);
    assert_eq!(
        p.stop,
        vec![("x".to_string(), REASON_DUPLICATE_INDEX.to_string())]
    );
    assert_eq!(p.ignore, vec!["y"]);
}

#[test]
fn job_stop_stops_everything_live() {
    use ClientStatus::*;
    let mut job = job(JobType::Service, 3, 0);
    job.spec.stop = true;
    let allocs = vec![
        alloc("a", 0, 0, Running),
        alloc("b", 2, 0, Failed),
        alloc("c", 1, 0, Pending),
        stopped(alloc("h", 1, 0, Complete)),
    ];
    let p = plan(&job, &allocs);
    assert_eq!(ids(&p.stop), vec!["b", "c", "a"]);
    assert!(p.place.is_empty() && p.reschedule.is_empty());
}

#[test]
fn lost_is_replaced_at_once_at_the_same_index() {
    use ClientStatus::*;
    let allocs = vec![alloc("a", 0, 0, Running), alloc("b", 1, 0, Lost)];
    let p = plan(&job(JobType::Service, 2, 0), &allocs);
    assert_eq!(p.lost.len(), 1);
    assert_eq!(p.lost[0].index, 1);
    assert_eq!(p.lost[0].previous_allocation.as_deref(), Some("b"));
    assert_eq!(p.lost[0].not_before, None);
    assert!(p.place.is_empty());
    // Once replaced (and, as the shell does in the same write, told to
    // stop), the lost one is history.
    let mut repl = alloc("c", 1, 0, Pending);
    repl.spec.previous_allocation = Some("b".into());
    let mut with = vec![allocs[0].clone(), stopped(allocs[1].clone())];
    with.push(repl.clone());
    assert!(plan(&job(JobType::Service, 2, 0), &with).is_empty());
    // One replaced while unknown and lost later is still told to run: it is
    // told to stop, so its node stops it if it ever comes back.
    let with = vec![allocs[0].clone(), allocs[1].clone(), repl];
    let p = plan(&job(JobType::Service, 2, 0), &with);
    assert_eq!(p.stop, vec![("b".to_string(), REASON_LOST.to_string())]);
    assert!(p.place.is_empty() && p.lost.is_empty());
}

fn events(delays: &[u64]) -> Vec<RescheduleEvent> {
    delays
        .iter()
        .enumerate()
        .map(|(i, d)| RescheduleEvent {
            time: Some(t0() - ChronoDuration::minutes(10 * (delays.len() - i) as i64)),
            prev_alloc_id: format!("p{i}"),
            prev_node_id: String::new(),
            delay_seconds: *d,
        })
        .collect()
}

fn with_policy(job_type: JobType, policy: ReschedulePolicy) -> Job {
    let mut j = job(job_type, 1, 0);
    j.spec.groups[0].reschedule = Some(policy);
    j
}

fn policy(function: &str, delay: u64, max: u64) -> ReschedulePolicy {
    ReschedulePolicy {
        attempts: Some(0),
        interval: Some(Duration::ZERO),
        delay: Some(Duration::from_secs(delay)),
        delay_function: Some(function.into()),
        max_delay: Some(Duration::from_secs(max)),
        unlimited: Some(true),
    }
}

#[test]
fn delay_functions() {
    let cases: Vec<(&str, u64, u64, Vec<u64>, u64)> = vec![
        ("constant", 5, 0, vec![], 5),
        ("constant", 5, 0, vec![5, 5, 5], 5),
        ("exponential", 30, 3600, vec![], 30),
        ("exponential", 30, 3600, vec![30], 60),
        ("exponential", 30, 3600, vec![30, 60], 120),
        ("exponential", 30, 100, vec![30, 60], 100),
        ("exponential", 30, 100, vec![30, 60, 100], 100),
        ("fibonacci", 5, 3600, vec![], 5),
        ("fibonacci", 5, 3600, vec![5], 5),
        ("fibonacci", 5, 3600, vec![5, 5], 10),
        ("fibonacci", 5, 3600, vec![5, 5, 10], 15),
        ("fibonacci", 5, 3600, vec![5, 5, 10, 15], 25),
        ("fibonacci", 5, 20, vec![5, 5, 10, 15], 20),
    ];
    for (function, delay, max, history, want) in cases {
        let job = with_policy(JobType::Service, policy(function, delay, max));
        let mut failed = alloc("f", 0, 0, ClientStatus::Failed);
        failed.spec.reschedule_events = events(&history);
        failed.binding = Some(Binding {
            node_id: "n1".into(),
            ..Default::default()
        });
        let p = plan(&job, &[failed]);
        assert_eq!(p.reschedule.len(), 1, "{function} {history:?}");
        let r = &p.reschedule[0];
        assert_eq!(
            r.not_before,
            Some(t0() + ChronoDuration::seconds(want as i64)),
            "{function} after {history:?}"
        );
        assert_eq!(r.previous_allocation.as_deref(), Some("f"));
        assert_eq!(r.index, 0);
        assert_eq!(r.reschedule_events.len(), history.len() + 1);
        let last = r.reschedule_events.last().expect("an event");
        assert_eq!(
            (last.delay_seconds, last.prev_node_id.as_str()),
            (want, "n1")
        );
    }
}

#[test]
fn reschedule_attempts_within_interval() {
    // (attempts, unlimited, event ages in minutes, interval minutes, rescheduled)
    let cases: Vec<(i64, bool, Vec<i64>, u64, bool)> = vec![
        (1, false, vec![], 60, true),
        (1, false, vec![10], 60, false),
        (1, false, vec![90], 60, true),
        (2, false, vec![90, 10], 60, true),
        (2, false, vec![20, 10], 60, false),
        (0, false, vec![], 60, false),
        (0, true, vec![5, 4, 3, 2, 1], 60, true),
    ];
    for (attempts, unlimited, ages, interval, want) in cases {
        let job = with_policy(
            JobType::Batch,
            ReschedulePolicy {
                attempts: Some(attempts),
                interval: Some(Duration::from_secs(interval * 60)),
                delay: Some(Duration::from_secs(5)),
                delay_function: Some("constant".into()),
                max_delay: Some(Duration::ZERO),
                unlimited: Some(unlimited),
            },
        );
        let mut failed = alloc("f", 0, 0, ClientStatus::Failed);
        failed.spec.reschedule_events = ages
            .iter()
            .map(|m| RescheduleEvent {
                time: Some(t0() - ChronoDuration::minutes(*m)),
                delay_seconds: 5,
                ..Default::default()
            })
            .collect();
        let p = plan(&job, &[failed]);
        assert_eq!(
            p.reschedule.len() == 1,
            want,
            "{attempts} {unlimited} {ages:?}"
        );
        assert_eq!(p.failed == vec!["f".to_string()], !want);
        assert!(p.place.is_empty(), "an exhausted failure keeps its index");
    }
}

#[test]
fn system_jobs_are_not_rescheduled() {
    let mut job = job(JobType::System, 1, 0);
    job.spec.groups[0].reschedule = None;
    let p = plan(&job, &[alloc("f", 0, 0, ClientStatus::Failed)]);
    assert_eq!(p.failed, vec!["f"]);
    assert!(p.reschedule.is_empty() && p.place.is_empty());
}

#[test]
fn batch_complete_is_done() {
    use ClientStatus::*;
    let job = job(JobType::Batch, 2, 1);
    let allocs = vec![alloc("a", 0, 0, Complete), alloc("b", 1, 1, Running)];
    let p = plan(&job, &allocs);
    assert!(p.is_empty(), "{p:?}");
    assert_eq!(p.ignore, vec!["a", "b"]);
    // A service's completed allocation is replaced.
    let svc = super::tests::job(JobType::Service, 1, 0);
    let p = plan(&svc, &[alloc("a", 0, 0, Complete)]);
    assert_eq!(p.place.len(), 1);
    assert_eq!(p.place[0].previous_allocation.as_deref(), Some("a"));
}

fn with_max_parallel(n: Option<i64>, count: i64) -> Job {
    let mut j = job(JobType::Service, count, 2);
    j.spec.groups[0].update = n.map(|n| UpdateStrategy {
        max_parallel: Some(n),
        ..Default::default()
    });
    j
}

#[test]
fn destructive_update_respects_max_parallel() {
    use ClientStatus::*;
    let old = |id: &str, i: u32| alloc(id, i, 1, Running);
    // (max_parallel, allocs, updated indexes)
    let cases: Vec<(Option<i64>, Vec<Allocation>, Vec<u32>)> = vec![
        (
            Some(1),
            vec![old("a", 0), old("b", 1), old("c", 2)],
            vec![0],
        ),
        (
            Some(2),
            vec![old("a", 0), old("b", 1), old("c", 2)],
            vec![0, 1],
        ),
        (
            None,
            vec![old("a", 0), old("b", 1), old("c", 2)],
            vec![0, 1, 2],
        ),
        (
            Some(2),
            vec![old("a", 0), old("b", 1), old("c", 2), stopped(old("z", 3))],
            vec![0],
        ),
        (
            Some(1),
            vec![old("a", 0), old("b", 1), old("c", 2), stopped(old("z", 3))],
            vec![],
        ),
        // A terminal stopped old one is history, not in flight.
        (
            Some(1),
            vec![
                old("a", 0),
                alloc("b", 1, 2, Running),
                stopped(alloc("z", 2, 1, Complete)),
            ],
            vec![0],
        ),
    ];
    for (mp, allocs, want) in cases {
        let count = allocs
            .iter()
            .filter(|a| a.spec.desired_status == DesiredStatus::Run)
            .count() as i64;
        let p = plan(&with_max_parallel(mp, count), &allocs);
        assert_eq!(indexes(&p.destructive_update), want, "{mp:?}");
        for u in &p.destructive_update {
            assert!(u.previous_allocation.is_some());
            assert_eq!(u.not_before, None);
        }
        assert_eq!(p.ignore.len(), count as usize - want.len());
    }
}

#[test]
fn summary_and_job_status() {
    use ClientStatus::*;
    let mut bound = alloc("s", 3, 0, Pending);
    bound.binding = Some(Binding::default());
    let allocs = vec![
        alloc("q", 0, 0, Pending),
        bound,
        alloc("r", 1, 0, Running),
        alloc("f", 2, 0, Failed),
        alloc("c", 4, 0, Complete),
        alloc("l", 5, 0, Lost),
    ];
    let s = summary(&allocs, 0);
    assert_eq!(
        (s.queued, s.starting, s.running, s.failed, s.complete, s.lost),
        (1, 1, 1, 1, 1, 1)
    );
    assert_eq!(s.outdated, 0);
    assert_eq!(
        summary(&allocs, 1).outdated,
        1,
        "the running one is of version 0"
    );
    let svc = job(JobType::Service, 1, 0);
    assert_eq!(job_status(&svc, &[]), "pending");
    assert_eq!(job_status(&svc, &allocs), "running");
    assert_eq!(job_status(&svc, &[alloc("f", 0, 0, Failed)]), "pending");
    let mut stopped_job = svc.clone();
    stopped_job.spec.stop = true;
    assert_eq!(
        job_status(&stopped_job, &[alloc("f", 0, 0, Failed)]),
        "dead"
    );
    let batch = job(JobType::Batch, 1, 0);
    assert_eq!(job_status(&batch, &[alloc("c", 0, 0, Complete)]), "dead");
    let mut exhausted = alloc("f", 0, 0, Failed);
    exhausted.spec.reschedule_events = vec![RescheduleEvent::default()];
    assert_eq!(job_status(&batch, &[exhausted]), "dead");
    assert_eq!(job_status(&batch, &[alloc("f", 0, 0, Failed)]), "pending");
}

#[test]
fn a_marked_allocation_is_migrated_at_its_index() {
    let job = job(JobType::Service, 2, 0);
    let mut marked = alloc("a", 0, 0, ClientStatus::Running);
    marked.spec.migrate = true;
    let plan = plan(&job, &[marked, alloc("b", 1, 0, ClientStatus::Running)]);
    assert_eq!(plan.migrate.len(), 1);
    assert_eq!(plan.migrate[0].index, 0);
    assert_eq!(plan.migrate[0].previous_allocation.as_deref(), Some("a"));
    assert_eq!(plan.ignore, vec!["b".to_string()]);
    assert!(plan.place.is_empty() && plan.stop.is_empty());
}

/// A user's restart request is the agent's business: the reconciler
/// plans exactly what it plans without it.
#[test]
fn a_restart_request_changes_nothing_the_reconciler_plans() {
    let job = job(JobType::Service, 2, 1);
    let allocs = [
        alloc("a", 0, 1, ClientStatus::Running),
        alloc("b", 1, 0, ClientStatus::Running),
    ];
    let mut restarted = allocs.clone();
    for a in &mut restarted {
        a.spec.restart = Some(drover_api_types::alloc::RestartRequest {
            generation: 3,
            task: String::new(),
            requested_at: Some(t0()),
        });
    }
    assert_eq!(plan(&job, &allocs), plan(&job, &restarted));
    // The current one is left as it is, restarted or not.
    assert!(plan(&job, &restarted).ignore.contains(&"a".to_string()));
}

#[test]
fn unknown_is_replaced_at_once_and_left_running_unless_the_group_says_not_to() {
    use ClientStatus::*;
    let mut job = job(JobType::Service, 2, 0);
    let allocs = vec![alloc("a", 0, 0, Running), alloc("b", 1, 0, Unknown)];
    let p = plan(&job, &allocs);
    assert_eq!(indexes(&p.disconnected), vec![1]);
    assert_eq!(p.disconnected[0].previous_allocation.as_deref(), Some("b"));
    assert!(p.stop.is_empty() && p.lost.is_empty() && p.place.is_empty());
    // With the replacement there, the unknown original waits untouched.
    let mut repl = alloc("c", 1, 0, Running);
    repl.spec.previous_allocation = Some("b".into());
    let mut with = allocs.clone();
    with.push(repl);
    assert!(plan(&job, &with).is_empty());
    // replace = false: it keeps its index, and nothing is placed.
    job.spec.groups[0].disconnect = Some(drover_api_types::group::Disconnect {
        lost_after: Some(Duration::from_secs(3600)),
        replace: false,
        ..Default::default()
    });
    let p = plan(&job, &allocs);
    assert!(p.is_empty(), "{p:?}");
    assert_eq!(p.ignore, vec!["a".to_string(), "b".to_string()]);
}

#[test]
fn a_reconnected_original_is_settled_and_a_stopped_job_stops_it_too() {
    use ClientStatus::*;
    let mut job = job(JobType::Service, 1, 0);
    job.spec.groups[0].disconnect = Some(drover_api_types::group::Disconnect {
        lost_after: Some(Duration::from_secs(3600)),
        reconcile: "keep_original".into(),
        ..Default::default()
    });
    let mut repl = alloc("r", 0, 0, Running);
    repl.spec.previous_allocation = Some("a".into());
    let back = vec![alloc("a", 0, 0, Running), repl];
    let p = plan(&job, &back);
    assert_eq!(
        p.stop,
        vec![("r".to_string(), REASON_RECONNECTED.to_string())]
    );
    assert!(p.place.is_empty() && p.disconnected.is_empty());
    // Applied: the replacement gave way, and the original holds the index.
    let mut applied = back.clone();
    applied[1].spec.desired_status = DesiredStatus::Stop;
    applied[1].spec.desired_description = REASON_RECONNECTED.into();
    applied[1].status.client_status = Complete;
    assert!(plan(&job, &applied).is_empty());
    // A stopped job stops an original still away, with the rest.
    let mut away = back.clone();
    away[0].status.client_status = Unknown;
    job.spec.stop = true;
    let mut stopped_ids: Vec<String> = plan(&job, &away)
        .stop
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    stopped_ids.sort();
    assert_eq!(stopped_ids, vec!["a".to_string(), "r".to_string()]);
}
