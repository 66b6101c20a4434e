//! Table tests for the drainer's pure core.

use chrono::{Duration as ChronoDuration, TimeZone};
use drover_api_types::alloc::{Binding, ClientStatus};
use drover_api_types::job::MigrateStrategy;
use drover_api_types::node::DrainStrategy;
use drover_api_types::{mock, Duration, ObjectMeta};

use super::*;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .single()
        .expect("valid time")
}

fn at(secs: i64) -> DateTime<Utc> {
    t0() + ChronoDuration::seconds(secs)
}

fn node(deadline_secs: Option<u64>, ignore_system: bool) -> Node {
    let mut n = Node::default();
    n.metadata.uid = "n1".into();
    n.scheduling.drain = deadline_secs.map(|d| DrainStrategy {
        deadline: Duration::from_secs(d),
        ignore_system_jobs: ignore_system,
        started_at: Some(t0()),
    });
    n
}

fn job(name: &str, job_type: JobType, max_parallel: Option<i64>) -> ((String, String), Job) {
    let mut g = mock::group("g", 1);
    g.migrate = max_parallel.map(|m| MigrateStrategy {
        max_parallel: Some(m),
        ..Default::default()
    });
    let j = mock::job_of(name, job_type, vec![g]);
    (("default".into(), name.into()), j)
}

/// An allocation `id` of job `job` group `g` on node `n1`.
/// `state`: `r` running, `m` marked (migrating, running), `s` desired stop
/// (running), `d` done (complete), `o` on another node.
fn alloc(id: &str, job: &str, state: char) -> Allocation {
    let mut a = Allocation {
        metadata: ObjectMeta {
            uid: id.into(),
            namespace: "default".into(),
            ..Default::default()
        },
        ..Default::default()
    };
    a.spec.job_id = job.into();
    a.spec.task_group = "g".into();
    a.binding = Some(Binding {
        node_id: if state == 'o' { "n2" } else { "n1" }.into(),
        ..Default::default()
    });
    a.status.client_status = ClientStatus::Running;
    match state {
        'm' => a.spec.migrate = true,
        's' => a.spec.desired_status = DesiredStatus::Stop,
        'd' => {
            a.spec.migrate = true;
            a.status.client_status = ClientStatus::Complete;
        }
        _ => {}
    }
    a
}

fn jobs() -> Jobs {
    [
        job("web", JobType::Service, None),
        job("api", JobType::Service, Some(2)),
        job("etl", JobType::Batch, None),
        job("agent", JobType::System, None),
    ]
    .into_iter()
    .collect()
}

fn ids(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// (name, deadline, ignore_system, allocs as (id, job, state), now,
///  migrate, complete, next_check)
type Case = (
    &'static str,
    Option<u64>,
    bool,
    Vec<(&'static str, &'static str, char)>,
    i64,
    Vec<&'static str>,
    bool,
    Option<i64>,
);

#[test]
fn drain_table() {
    let cases: Vec<Case> = vec![
        (
            "no drain: nothing",
            None,
            false,
            vec![("a", "web", 'r')],
            0,
            vec![],
            false,
            None,
        ),
        (
            "empty node completes",
            Some(0),
            false,
            vec![],
            0,
            vec![],
            true,
            None,
        ),
        (
            "other node's allocs ignored",
            Some(0),
            false,
            vec![("a", "web", 'o')],
            0,
            vec![],
            true,
            None,
        ),
        (
            "max_parallel 1: first only",
            Some(0),
            false,
            vec![("b", "web", 'r'), ("a", "web", 'r'), ("c", "web", 'r')],
            0,
            vec!["a"],
            false,
            None,
        ),
        (
            "max_parallel 1: one in flight blocks",
            Some(0),
            false,
            vec![("a", "web", 'm'), ("b", "web", 'r')],
            0,
            vec![],
            false,
            None,
        ),
        (
            "max_parallel 1: done frees the slot",
            Some(0),
            false,
            vec![("a", "web", 'd'), ("b", "web", 'r'), ("c", "web", 'r')],
            0,
            vec!["b"],
            false,
            None,
        ),
        (
            "max_parallel 2",
            Some(0),
            false,
            vec![("a", "api", 'r'), ("b", "api", 'r'), ("c", "api", 'r')],
            0,
            vec!["a", "b"],
            false,
            None,
        ),
        (
            "groups are independent",
            Some(0),
            false,
            vec![("a", "api", 'm'), ("b", "api", 'r'), ("c", "web", 'r')],
            0,
            vec!["b", "c"],
            false,
            None,
        ),
        (
            "unknown job: max_parallel 1",
            Some(0),
            false,
            vec![("a", "gone", 'r'), ("b", "gone", 'r')],
            0,
            vec!["a"],
            false,
            None,
        ),
        (
            "stopping alloc is not marked but blocks completion",
            Some(0),
            false,
            vec![("a", "web", 's')],
            0,
            vec![],
            false,
            None,
        ),
        (
            "all terminal: complete",
            Some(0),
            false,
            vec![("a", "web", 'd'), ("b", "api", 'd')],
            0,
            vec![],
            true,
            None,
        ),
        (
            "batch waits for the deadline",
            Some(60),
            false,
            vec![("a", "etl", 'r')],
            10,
            vec![],
            false,
            Some(60),
        ),
        (
            "batch marked at the deadline",
            Some(60),
            false,
            vec![("a", "etl", 'r')],
            60,
            vec!["a"],
            false,
            None,
        ),
        (
            "deadline marks everything at once",
            Some(60),
            false,
            vec![
                ("a", "web", 'm'),
                ("b", "web", 'r'),
                ("c", "web", 'r'),
                ("d", "agent", 'r'),
            ],
            61,
            vec!["b", "c", "d"],
            false,
            None,
        ),
        (
            "before the deadline: requeue at it",
            Some(60),
            false,
            vec![("a", "web", 'r'), ("b", "web", 'r')],
            30,
            vec!["a"],
            false,
            Some(60),
        ),
        (
            "system stopped last",
            Some(0),
            false,
            vec![("a", "web", 'r'), ("s", "agent", 'r')],
            0,
            vec!["a"],
            false,
            None,
        ),
        (
            "system after the others are done",
            Some(0),
            false,
            vec![("a", "web", 'd'), ("s", "agent", 'r'), ("t", "agent", 'r')],
            0,
            vec!["s", "t"],
            false,
            None,
        ),
        (
            "system ignored",
            Some(0),
            true,
            vec![("a", "web", 'r'), ("s", "agent", 'r')],
            0,
            vec!["a"],
            false,
            None,
        ),
        (
            "ignored system does not block completion",
            Some(0),
            true,
            vec![("a", "web", 'd'), ("s", "agent", 'r')],
            0,
            vec![],
            true,
            None,
        ),
    ];
    let jobs = jobs();
    for (name, deadline, ignore, allocs, now, migrate, complete, next) in cases {
        let n = node(deadline, ignore);
        let allocs: Vec<Allocation> = allocs.iter().map(|(i, j, s)| alloc(i, j, *s)).collect();
        let plan = plan_drain(&n, &allocs, &jobs, at(now));
        assert_eq!(plan.migrate, ids(&migrate), "{name}: migrate");
        assert_eq!(plan.complete, complete, "{name}: complete");
        assert_eq!(plan.next_check, next.map(at), "{name}: next_check");
    }
}

#[test]
fn tiny_deadline_forces_everything() {
    let mut n = node(Some(0), false);
    if let Some(d) = n.scheduling.drain.as_mut() {
        d.deadline = Duration(std::time::Duration::from_nanos(1));
    }
    let allocs = vec![
        alloc("a", "web", 'r'),
        alloc("b", "web", 'r'),
        alloc("c", "etl", 'r'),
    ];
    let plan = plan_drain(
        &n,
        &allocs,
        &jobs(),
        at(0) + ChronoDuration::milliseconds(1),
    );
    assert_eq!(plan.migrate, ids(&["a", "b", "c"]));
}

#[test]
fn no_started_at_means_no_deadline() {
    let mut n = node(Some(10), false);
    if let Some(d) = n.scheduling.drain.as_mut() {
        d.started_at = None;
    }
    let allocs = vec![alloc("a", "web", 'r'), alloc("b", "web", 'r')];
    let plan = plan_drain(&n, &allocs, &jobs(), at(3600));
    assert_eq!(plan.migrate, ids(&["a"]));
    assert_eq!(plan.next_check, None);
}

#[test]
fn job_level_migrate_is_the_default_for_groups() {
    let mut jobs = jobs();
    if let Some(j) = jobs.get_mut(&("default".to_string(), "web".to_string())) {
        j.spec.migrate = Some(MigrateStrategy {
            max_parallel: Some(3),
            ..Default::default()
        });
        // As written, before defaults copy the job's strategy into it.
        j.spec.groups[0].migrate = None;
    }
    let allocs: Vec<Allocation> = ["a", "b", "c", "d"]
        .iter()
        .map(|i| alloc(i, "web", 'r'))
        .collect();
    let plan = plan_drain(&node(Some(0), false), &allocs, &jobs, at(0));
    assert_eq!(plan.migrate, ids(&["a", "b", "c"]));
}
