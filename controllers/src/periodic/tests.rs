use chrono::{DateTime, TimeZone, Utc};
use drover_api_types::children::PeriodicLaunch;
use drover_api_types::job::Periodic;
use drover_api_types::{Job, JobType};

use super::*;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .expect("rfc3339")
}

fn periodic(crons: &[&str], zone: &str, overlap: bool) -> Periodic {
    Periodic {
        crons: crons.iter().map(|c| c.to_string()).collect(),
        prohibit_overlap: overlap,
        time_zone: zone.to_string(),
        enabled: true,
    }
}

fn parent(p: Periodic) -> Job {
    let mut job: Job = serde_json::from_value(serde_json::json!({
        "apiVersion": "drover.io/v1", "kind": "Job",
        "metadata": {"name": "backup", "namespace": "default"},
        "spec": {"type": "batch"}
    }))
    .expect("job");
    job.spec.job_type = JobType::Batch;
    job.spec.periodic = Some(p);
    job
}

fn child(name: &str, launched: &str, state: ChildState) -> Child {
    Child {
        name: name.to_string(),
        launched: at(launched),
        state,
        stopping: false,
    }
}

/// (crons, zone, now, next, latest in (now - 1h, now]).
type ScheduleCase<'a> = (&'a [&'a str], &'a str, &'a str, &'a str, Option<&'a str>);

#[test]
fn next_and_latest_launch_times() {
    let cases: &[ScheduleCase] = &[
        (
            &["*/15 * * * *"],
            "",
            "2024-05-01T10:07:30Z",
            "2024-05-01T10:15:00Z",
            Some("2024-05-01T10:00:00Z"),
        ),
        (
            &["*/15 * * * *"],
            "",
            "2024-05-01T10:15:00Z",
            "2024-05-01T10:30:00Z",
            Some("2024-05-01T10:15:00Z"),
        ),
        (
            &["@hourly"],
            "UTC",
            "2024-05-01T10:59:59.900Z",
            "2024-05-01T11:00:00Z",
            Some("2024-05-01T10:00:00Z"),
        ),
        (
            &["0 3 * * *"],
            "",
            "2024-05-01T10:00:00Z",
            "2024-05-02T03:00:00Z",
            None,
        ),
        // Two crons: the earliest next, the latest due.
        (
            &["0 3 * * *", "30 10 * * *"],
            "",
            "2024-05-01T10:00:00Z",
            "2024-05-01T10:30:00Z",
            None,
        ),
        // A seconds field (7 fields: seconds … year).
        (
            &["*/5 * * * * * *"],
            "",
            "2024-05-01T10:00:07.5Z",
            "2024-05-01T10:00:10Z",
            Some("2024-05-01T10:00:05Z"),
        ),
        // 03:00 in New York is 07:00 UTC in summer.
        (
            &["0 3 * * *"],
            "America/New_York",
            "2024-07-01T06:00:00Z",
            "2024-07-01T07:00:00Z",
            None,
        ),
    ];
    for (crons, zone, now, next, latest) in cases {
        let s = Schedule::parse(&periodic(crons, zone, false)).expect("parses");
        let now = at(now);
        assert_eq!(
            s.next_after(now),
            Some(at(next)),
            "next of {crons:?} at {now}"
        );
        let window = now - chrono::Duration::hours(1);
        assert_eq!(
            s.latest_in(window, now),
            latest.map(at),
            "latest of {crons:?} at {now}"
        );
    }
}

#[test]
fn dst_spring_forward_skips_the_missing_hour_and_fall_back_runs_once() {
    let s = Schedule::parse(&periodic(&["30 2 * * *"], "America/New_York", false)).expect("parses");
    // 2024-03-10 02:30 does not exist in New York: the next launch is the
    // following day's 02:30 EDT (06:30 UTC).
    let before = at("2024-03-10T05:00:00Z");
    assert_eq!(s.next_after(before), Some(at("2024-03-11T06:30:00Z")));
    // 2024-11-03 01:30 happens twice; a 01:30 cron launches at the first.
    let s = Schedule::parse(&periodic(&["30 1 * * *"], "America/New_York", false)).expect("parses");
    let first = s.next_after(at("2024-11-03T04:00:00Z")).expect("next");
    assert_eq!(first, at("2024-11-03T05:30:00Z"));
    // Both occurrences are in the window; still one launch is owed.
    let latest = s.latest_in(at("2024-11-03T04:00:00Z"), at("2024-11-03T07:00:00Z"));
    assert!(latest.is_some());
}

#[test]
fn first_sight_starts_from_now_without_launching() {
    let job = parent(periodic(&["* * * * *"], "", false));
    let now = at("2024-05-01T10:00:30Z");
    let plan = plan_launch(&job, &PeriodicLaunch::default(), &[], now);
    assert_eq!(plan.launch, None);
    assert_eq!(plan.record.evaluated, Some(now));
    assert_eq!(plan.record.next_launch, Some(at("2024-05-01T10:01:00Z")));
}

#[test]
fn a_due_time_launches_once_and_missed_ones_are_not_backfilled() {
    let job = parent(periodic(&["* * * * *"], "", false));
    let record = PeriodicLaunch {
        evaluated: Some(at("2024-05-01T10:00:30Z")),
        ..Default::default()
    };
    // Ten minutes without a leader: only 10:10 is launched.
    let now = at("2024-05-01T10:10:05Z");
    let plan = plan_launch(&job, &record, &[], now);
    assert_eq!(plan.launch, Some(at("2024-05-01T10:10:00Z")));
    assert_eq!(plan.record.last_launch, plan.launch);
    assert_eq!(plan.record.last_child, "backup/periodic-1714558200");
    assert_eq!(plan.record.evaluated, Some(now));
    assert_eq!(plan.record.next_launch, Some(at("2024-05-01T10:11:00Z")));
    // Again at the same instant (a retry): nothing more is due.
    let again = plan_launch(&job, &plan.record, &[], now);
    assert_eq!(again.launch, None);
    assert_eq!(again.record, plan.record);
}

#[test]
fn prohibit_overlap_skips_while_a_child_is_not_dead() {
    let record = PeriodicLaunch {
        evaluated: Some(at("2024-05-01T10:00:30Z")),
        ..Default::default()
    };
    let now = at("2024-05-01T10:01:01Z");
    for (state, overlap, launches) in [
        (ChildState::Running, true, false),
        (ChildState::Pending, true, false),
        (ChildState::Dead(Outcome::Complete), true, true),
        (ChildState::Running, false, true),
    ] {
        let job = parent(periodic(&["* * * * *"], "", overlap));
        let children = [child(
            "backup/periodic-1714557600",
            "2024-05-01T10:00:00Z",
            state,
        )];
        let plan = plan_launch(&job, &record, &children, now);
        assert_eq!(
            plan.launch.is_some(),
            launches,
            "{state:?} overlap={overlap}"
        );
        assert_eq!(plan.skipped.is_some(), !launches);
        assert_eq!(plan.record.skipped, u64::from(!launches));
        assert_eq!(plan.record.evaluated, Some(now), "a skip also moves on");
    }
}

#[test]
fn disabled_or_stopped_parents_launch_nothing_and_forget_the_window() {
    let record = PeriodicLaunch {
        evaluated: Some(at("2024-05-01T10:00:30Z")),
        next_launch: Some(at("2024-05-01T10:01:00Z")),
        ..Default::default()
    };
    let now = at("2024-05-01T10:05:00Z");
    let mut disabled = periodic(&["* * * * *"], "", false);
    disabled.enabled = false;
    let mut stopped = parent(periodic(&["* * * * *"], "", false));
    stopped.spec.stop = true;
    for job in [parent(disabled), stopped] {
        let plan = plan_launch(&job, &record, &[], now);
        assert_eq!(plan.launch, None);
        assert_eq!(
            (plan.record.evaluated, plan.record.next_launch),
            (None, None)
        );
    }
}

#[test]
fn the_record_follows_the_children() {
    let job = parent(periodic(&["0 3 * * *"], "", false));
    let children = [
        child(
            "backup/periodic-1",
            "2024-05-01T03:00:00Z",
            ChildState::Dead(Outcome::Complete),
        ),
        child(
            "backup/periodic-2",
            "2024-05-02T03:00:00Z",
            ChildState::Dead(Outcome::Failed),
        ),
        // A forced launch, still running.
        child(
            "backup/periodic-3",
            "2024-05-02T09:00:00Z",
            ChildState::Running,
        ),
    ];
    let record = PeriodicLaunch {
        evaluated: Some(at("2024-05-02T08:00:00Z")),
        ..Default::default()
    };
    let plan = plan_launch(&job, &record, &children, at("2024-05-02T10:00:00Z"));
    let r = plan.record;
    assert_eq!(r.last_child, "backup/periodic-3");
    assert_eq!(r.last_launch, Some(at("2024-05-02T09:00:00Z")));
    assert_eq!(r.last_result, "failed");
    assert_eq!(r.last_success, Some(at("2024-05-01T03:00:00Z")));
}

#[test]
fn children_gc_keeps_the_newest_finished_and_never_a_live_one() {
    let dead = ChildState::Dead(Outcome::Complete);
    let children = [
        child("j/periodic-1", "2024-05-01T00:01:00Z", dead),
        child("j/periodic-2", "2024-05-01T00:02:00Z", ChildState::Running),
        child(
            "j/periodic-3",
            "2024-05-01T00:03:00Z",
            ChildState::Dead(Outcome::Failed),
        ),
        child("j/periodic-4", "2024-05-01T00:04:00Z", dead),
        child("j/periodic-5", "2024-05-01T00:05:00Z", ChildState::Pending),
        child("j/periodic-6", "2024-05-01T00:06:00Z", dead),
    ];
    // (kept, parent stopped, delete, stop)
    let cases: &[(usize, bool, &[&str], &[&str])] = &[
        (5, false, &[], &[]),
        (2, false, &["j/periodic-1", "j/periodic-3"], &[]),
        (
            0,
            false,
            &[
                "j/periodic-1",
                "j/periodic-3",
                "j/periodic-4",
                "j/periodic-6",
            ],
            &[],
        ),
        (
            1,
            true,
            &["j/periodic-1", "j/periodic-3", "j/periodic-4"],
            &["j/periodic-2", "j/periodic-5"],
        ),
    ];
    for (kept, stopped, delete, stop) in cases {
        let plan = plan_children(&children, *kept, *stopped);
        assert_eq!(plan.delete, *delete, "kept {kept}");
        assert_eq!(plan.stop, *stop, "kept {kept} stopped {stopped}");
    }
    // A child already stopping is not stopped again.
    let mut stopping = child("j/periodic-9", "2024-05-01T00:09:00Z", ChildState::Running);
    stopping.stopping = true;
    assert!(plan_children(&[stopping], 5, true).stop.is_empty());
}

#[test]
fn time_zone_of_local_and_utc_parse() {
    for zone in ["", "UTC", "Local", "Europe/Paris"] {
        assert!(
            Schedule::parse(&periodic(&["@daily"], zone, false)).is_ok(),
            "{zone}"
        );
    }
    assert!(Schedule::parse(&periodic(&["@daily"], "Mars/Olympus", false)).is_err());
    let _ = Utc.timestamp_opt(0, 0);
}
