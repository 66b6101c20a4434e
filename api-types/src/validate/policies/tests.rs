use super::super::testutil::{assert_diags, base_job, group, messages, raw_job, task, GROUP, TASK};
use crate::defaults::canonicalize;
use crate::duration::Duration;
use crate::group::Disconnect;
use crate::job::{Job, JobType, MigrateStrategy, ReschedulePolicy, RestartPolicy, UpdateStrategy};

const JOB: &str = "job \"billing\"";

fn canonical(mut job: Job) -> Job {
    canonicalize(&mut job);
    job
}

fn secs(s: u64) -> Option<Duration> {
    Some(Duration::from_secs(s))
}

#[test]
fn restart_policy() {
    let at = format!("error: {GROUP} restart");
    let cases: Vec<(RestartPolicy, Vec<String>)> = vec![
        (RestartPolicy { mode: Some("delay".into()), ..RestartPolicy::default() }, vec![]),
        (RestartPolicy { mode: Some("fial".into()), ..RestartPolicy::default() }, vec![format!("{at}: mode \"fial\" is not valid; use one of: \"fail\", \"delay\" (did you mean \"fail\"?)")]),
        (RestartPolicy { attempts: Some(0), mode: Some("delay".into()), ..RestartPolicy::default() }, vec![format!("{at}: mode \"delay\" with 0 attempts is ambiguous; set attempts, or use mode \"fail\"")]),
        (RestartPolicy { attempts: Some(-1), ..RestartPolicy::default() }, vec![format!("{at}: attempts -1 is negative; use 0 or more")]),
        (RestartPolicy { interval: secs(1), delay: secs(0), ..RestartPolicy::default() }, vec![format!("{at}: interval 1s is too short; use at least 5s")]),
        (RestartPolicy { attempts: Some(5), interval: secs(60), delay: secs(15), ..RestartPolicy::default() }, vec![format!("{at}: 5 restarts with a delay of 15s need 1m15s, more than the interval of 1m; raise interval to at least 1m15s, or lower attempts or delay")]),
    ];
    for (policy, expected) in cases {
        let mut job = raw_job(JobType::Service);
        group(&mut job).restart = Some(policy);
        assert_eq!(messages(&canonical(job)), expected);
    }
}

#[test]
fn task_restart_is_checked_only_when_it_overrides() {
    let mut job = raw_job(JobType::Service);
    task(&mut job).restart = Some(RestartPolicy {
        mode: Some("never".into()),
        ..RestartPolicy::default()
    });
    assert_eq!(
        messages(&canonical(job)),
        [format!(
            "error: {TASK} restart: mode \"never\" is not valid; use one of: \"fail\", \"delay\""
        )]
    );
}

#[test]
fn reschedule_policy() {
    let at = format!("error: {GROUP} reschedule");
    let cases: Vec<(ReschedulePolicy, Vec<String>)> = vec![
        (ReschedulePolicy { attempts: Some(3), interval: secs(3600), unlimited: Some(false), ..ReschedulePolicy::default() }, vec![]),
        (ReschedulePolicy { attempts: Some(3), interval: secs(3600), ..ReschedulePolicy::default() }, vec![format!("{at}: attempts 3 with unlimited = true is ambiguous; set attempts to 0 or unlimited to false")]),
        (ReschedulePolicy { delay_function: Some("linear".into()), ..ReschedulePolicy::default() }, vec![format!("{at}: delay_function \"linear\" is not valid; use one of: \"constant\", \"exponential\", \"fibonacci\"")]),
        (ReschedulePolicy { delay: secs(1), ..ReschedulePolicy::default() }, vec![format!("{at}: delay 1s is too short; use at least 5s")]),
        (ReschedulePolicy { delay: secs(60), max_delay: secs(30), ..ReschedulePolicy::default() }, vec![format!("{at}: max_delay (30s) must be at least delay (1m) with the exponential delay function")]),
        (ReschedulePolicy { attempts: Some(2), interval: Some(Duration::ZERO), unlimited: Some(false), ..ReschedulePolicy::default() }, vec![format!("{at}: interval must be set when attempts is greater than 0")]),
        (ReschedulePolicy { attempts: Some(3), interval: secs(60), delay: secs(30), delay_function: Some("constant".into()), unlimited: Some(false), ..ReschedulePolicy::default() }, vec![format!("{at}: 3 reschedules with constant delays from 30s (max_delay 1h) need an interval of at least 1m30s, not 1m; raise interval or lower attempts")]),
        (ReschedulePolicy { attempts: Some(4), interval: secs(600), delay: secs(30), max_delay: secs(60), unlimited: Some(false), ..ReschedulePolicy::default() }, vec![]),
        (ReschedulePolicy { attempts: Some(0), unlimited: Some(false), delay: secs(0), ..ReschedulePolicy::default() }, vec![]),
        // Nomad's own arithmetic: fibonacci 1m,1m,2m,3m,5m,8m,13m,21m,30m (capped), then +30m = 1h.
        (ReschedulePolicy { attempts: Some(10), interval: secs(3600), delay: secs(60), delay_function: Some("fibonacci".into()), max_delay: secs(1800), unlimited: Some(false) }, vec![]),
        (ReschedulePolicy { attempts: Some(11), interval: secs(3600), delay: secs(60), delay_function: Some("fibonacci".into()), max_delay: secs(1800), unlimited: Some(false) }, vec![format!("{at}: 11 reschedules with fibonacci delays from 1m (max_delay 30m) need an interval of at least 1h30m, not 1h; raise interval or lower attempts")]),
        // exponential 30s, 1m, then +1m each: 2m after 3 attempts; the interval must be longer.
        (ReschedulePolicy { attempts: Some(3), interval: secs(120), delay: secs(30), max_delay: secs(60), unlimited: Some(false), ..ReschedulePolicy::default() }, vec![format!("{at}: 3 reschedules with exponential delays from 30s (max_delay 1m) need an interval longer than 2m, not 2m; raise interval or lower attempts")]),
    ];
    for (index, (policy, expected)) in cases.into_iter().enumerate() {
        let mut job = raw_job(JobType::Service);
        group(&mut job).reschedule = Some(policy);
        assert_eq!(messages(&canonical(job)), expected, "case {index}");
    }
}

#[test]
fn job_level_policy_is_reported_once_at_the_job() {
    let mut job = raw_job(JobType::Service);
    job.spec.update = Some(UpdateStrategy {
        canary: Some(0),
        auto_promote: Some(true),
        ..UpdateStrategy::default()
    });
    let second = group(&mut job).clone();
    job.spec.groups.push(crate::group::TaskGroup {
        name: "worker".into(),
        ..second
    });
    assert_eq!(
        messages(&canonical(job)),
        [format!("error: {JOB} update: auto_promote requires canary greater than 0; set canary or remove auto_promote")]
    );
}

#[test]
fn update_strategy() {
    let at = format!("error: {GROUP} update");
    let cases: Vec<(UpdateStrategy, Vec<String>)> = vec![
        (UpdateStrategy { canary: Some(2), auto_promote: Some(true), ..UpdateStrategy::default() }, vec![]),
        (UpdateStrategy { max_parallel: Some(-1), canary: Some(-1), ..UpdateStrategy::default() }, vec![
            format!("{at}: max_parallel -1 is negative; use 0 or more"),
            format!("{at}: canary -1 is negative; use 0 or more"),
        ]),
        (UpdateStrategy { auto_promote: Some(true), ..UpdateStrategy::default() }, vec![format!("{at}: auto_promote requires canary greater than 0; set canary or remove auto_promote")]),
        (UpdateStrategy { health_check: Some("check".into()), ..UpdateStrategy::default() }, vec![format!("{at}: health_check \"check\" is not valid; use one of: \"checks\", \"task_states\", \"manual\" (did you mean \"checks\"?)")]),
        (UpdateStrategy { min_healthy_time: secs(300), ..UpdateStrategy::default() }, vec![format!("{at}: min_healthy_time (5m) must be less than healthy_deadline (5m)")]),
        (UpdateStrategy { healthy_deadline: secs(900), ..UpdateStrategy::default() }, vec![format!("{at}: healthy_deadline (15m) must be less than progress_deadline (10m); raise progress_deadline, or set it to 0 to disable it")]),
        (UpdateStrategy { healthy_deadline: secs(900), progress_deadline: Some(Duration::ZERO), ..UpdateStrategy::default() }, vec![]),
        (UpdateStrategy { healthy_deadline: Some(Duration::ZERO), ..UpdateStrategy::default() }, vec![format!("{at}: healthy_deadline must be greater than 0, e.g. \"5m\"")]),
        (UpdateStrategy { stagger: Some(Duration::ZERO), ..UpdateStrategy::default() }, vec![format!("{at}: stagger must be greater than 0, e.g. \"30s\"")]),
    ];
    for (index, (policy, expected)) in cases.into_iter().enumerate() {
        let mut job = raw_job(JobType::Service);
        group(&mut job).update = Some(policy);
        assert_eq!(messages(&canonical(job)), expected, "case {index}");
    }
}

#[test]
fn migrate_strategy() {
    let mut job = raw_job(JobType::Service);
    job.spec.migrate = Some(MigrateStrategy {
        max_parallel: Some(-2),
        health_check: Some("manual".into()),
        min_healthy_time: secs(600),
        ..MigrateStrategy::default()
    });
    assert_eq!(
        messages(&canonical(job)),
        [
            format!("error: {JOB} migrate: max_parallel -2 is negative; use 0 or more"),
            format!("error: {JOB} migrate: health_check \"manual\" is not valid; use one of: \"checks\", \"task_states\""),
            format!("error: {JOB} migrate: min_healthy_time (10m) must not exceed healthy_deadline (5m)"),
        ]
    );
}

#[test]
fn blocks_a_job_type_does_not_use() {
    let mut job = raw_job(JobType::Batch);
    job.spec.update = Some(UpdateStrategy::default());
    group(&mut job).migrate = Some(MigrateStrategy::default());
    assert_eq!(
        messages(&canonical(job)),
        [
            format!("warning: {JOB} update: batch jobs do not use the update block; it is ignored"),
            format!(
                "warning: {GROUP} migrate: batch jobs do not use the migrate block; it is ignored"
            ),
        ]
    );
}

#[test]
fn system_jobs_refuse_reschedule_and_count() {
    for job_type in [JobType::System, JobType::Sysbatch] {
        let name = job_type.as_str();
        let mut job = raw_job(job_type);
        job.spec.reschedule = Some(ReschedulePolicy {
            attempts: Some(1),
            ..ReschedulePolicy::default()
        });
        group(&mut job).count = 3;
        assert_eq!(
            messages(&canonical(job)),
            [
                format!("error: {JOB} reschedule: {name} jobs may not have a reschedule block (their allocations follow their nodes); remove it"),
                format!("error: {GROUP}: {name} jobs should not have a count greater than 1 (got 3): they run one allocation on every eligible node; remove count"),
            ]
        );
        let mut job = raw_job(job_type);
        group(&mut job).reschedule = Some(ReschedulePolicy::default());
        assert_eq!(
            messages(&canonical(job)),
            [format!("error: {GROUP} reschedule: {name} jobs may not have a reschedule block (their allocations follow their nodes); remove it")]
        );
    }
}

#[test]
fn disconnect() {
    assert_diags(
        |job| {
            group(job).disconnect = Some(Disconnect { reconcile: "best".into(), stop_on_client_after: secs(60), ..Disconnect::default() });
            group(job).stop_after_client_disconnect = secs(60);
        },
        &[
            &format!("error: {GROUP} disconnect: reconcile \"best\" is not valid; use one of: \"\", \"best_score\", \"longest_running\", \"keep_original\", \"keep_replacement\" (did you mean \"best_score\"?)"),
            &format!("error: {GROUP} disconnect: stop_on_client_after replaces the group's stop_after_client_disconnect; set only stop_on_client_after"),
        ],
    );
    assert_diags(
        |job| {
            group(job).disconnect = Some(Disconnect { lost_after: secs(3600), stop_on_client_after: secs(60), ..Disconnect::default() });
        },
        &[&format!("error: {GROUP} disconnect: lost_after and stop_on_client_after cannot both be set: keep lost_after to wait for the node, or stop_on_client_after to have its agent stop the allocation")],
    );
    // Every field is applied now: a valid block draws no warning.
    let mut job = base_job();
    group(&mut job).disconnect = Some(Disconnect {
        lost_after: secs(3600),
        reconcile: "keep_original".into(),
        ..Disconnect::default()
    });
    assert!(messages(&job).is_empty(), "{:?}", messages(&job));
}
