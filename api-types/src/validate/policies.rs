//! Restart, reschedule, update and migrate policies, and `disconnect`.
//!
//! Canonicalization pushes job-level policies into every group. To report a
//! bad job-level policy once, at the job, a group's policy is checked only
//! when it differs from what the group would inherit ([`Inherited`]).

use crate::defaults::{canonicalize, default_migrate, default_update};
use crate::duration::Duration;
use crate::group::{ReconnectKeep, TaskGroup};
use crate::job::{
    Job, JobSpec, JobType, MigrateStrategy, ReschedulePolicy, RestartPolicy, UpdateStrategy,
};
use crate::meta::ObjectMeta;
use crate::task::Task;

use super::Report;

const RESTART_MODES: [&str; 2] = ["fail", "delay"];
const DELAY_FUNCTIONS: [&str; 3] = ["constant", "exponential", "fibonacci"];
const UPDATE_HEALTH_CHECKS: [&str; 3] = ["checks", "task_states", "manual"];
const MIGRATE_HEALTH_CHECKS: [&str; 2] = ["checks", "task_states"];
/// Nomad's `RestartPolicyMinInterval`.
const MIN_RESTART_INTERVAL: Duration = Duration::from_secs(5);
/// Nomad's `ReschedulePolicyMinDelay`.
const MIN_RESCHEDULE_DELAY: Duration = Duration::from_secs(5);

/// The policies a group without its own would get: the job's, merged with
/// the defaults for the job type.
#[derive(Debug, Default)]
pub(super) struct Inherited {
    reschedule: Option<ReschedulePolicy>,
    update: Option<UpdateStrategy>,
    migrate: Option<MigrateStrategy>,
}

impl Inherited {
    pub(super) fn of(job: &Job) -> Self {
        let spec = &job.spec;
        let mut probe = Job {
            api_version: String::new(),
            kind: String::new(),
            metadata: ObjectMeta::default(),
            spec: JobSpec {
                job_type: spec.job_type,
                update: spec.update.clone(),
                reschedule: spec.reschedule.clone(),
                migrate: spec.migrate.clone(),
                groups: vec![TaskGroup::default()],
                ..JobSpec::default()
            },
            status: None,
        };
        canonicalize(&mut probe);
        match probe.spec.groups.pop() {
            Some(group) => Inherited {
                reschedule: group.reschedule,
                update: group.update,
                migrate: group.migrate,
            },
            None => Inherited::default(),
        }
    }
}

/// Job-level policies, as every group inherits them.
pub(super) fn validate_job_policies(report: &mut Report, job: &Job, path: &str) {
    let spec = &job.spec;
    let inherited = Inherited::of(job);
    let job_type = spec.job_type;
    if spec.reschedule.is_some() {
        validate_reschedule(
            report,
            &format!("{path} reschedule"),
            job_type,
            inherited.reschedule.as_ref(),
        );
    }
    if spec.update.is_some() {
        let path = format!("{path} update");
        check_update(report, &path, job_type, inherited.update.as_ref());
    }
    if spec.migrate.is_some() {
        let path = format!("{path} migrate");
        check_migrate(report, &path, job_type, inherited.migrate.as_ref());
    }
}

/// An update block: checked where the job type rolls out updates (service,
/// system), a warning where it is ignored.
fn check_update(
    report: &mut Report,
    path: &str,
    job_type: JobType,
    update: Option<&UpdateStrategy>,
) {
    match update {
        Some(_) if default_update(job_type).is_none() => {
            unused_block_warning(report, path, job_type, "update")
        }
        Some(update) => validate_update(report, path, update),
        None => {}
    }
}

/// A migrate block: only service jobs migrate on drain.
fn check_migrate(
    report: &mut Report,
    path: &str,
    job_type: JobType,
    migrate: Option<&MigrateStrategy>,
) {
    match migrate {
        Some(_) if default_migrate(job_type).is_none() => {
            unused_block_warning(report, path, job_type, "migrate")
        }
        Some(migrate) => validate_migrate(report, path, migrate),
        None => {}
    }
}

pub(super) fn validate_group_policies(
    report: &mut Report,
    job: &Job,
    inherited: &Inherited,
    group: &TaskGroup,
    path: &str,
) {
    let job_type = job.spec.job_type;
    if let Some(restart) = &group.restart {
        validate_restart(report, &format!("{path} restart"), restart);
    }
    if group.reschedule != inherited.reschedule {
        validate_reschedule(
            report,
            &format!("{path} reschedule"),
            job_type,
            group.reschedule.as_ref(),
        );
    }
    if group.update != inherited.update {
        check_update(
            report,
            &format!("{path} update"),
            job_type,
            group.update.as_ref(),
        );
    }
    if group.migrate != inherited.migrate {
        check_migrate(
            report,
            &format!("{path} migrate"),
            job_type,
            group.migrate.as_ref(),
        );
    }
    validate_disconnect(report, path, group);
}

/// A task's restart policy, when it overrides the group's.
pub(super) fn validate_task_restart(
    report: &mut Report,
    group: &TaskGroup,
    task: &Task,
    path: &str,
) {
    if let Some(restart) = task
        .restart
        .as_ref()
        .filter(|r| Some(*r) != group.restart.as_ref())
    {
        validate_restart(report, &format!("{path} restart"), restart);
    }
}

fn unused_block_warning(report: &mut Report, path: &str, job_type: JobType, block: &str) {
    report.warning(
        path,
        format!(
            "{} jobs do not use the {block} block; it is ignored",
            job_type.as_str()
        ),
    );
}

fn validate_restart(report: &mut Report, path: &str, restart: &RestartPolicy) {
    let attempts = restart.attempts.unwrap_or(0);
    let mode = restart.mode.as_deref().unwrap_or("");
    let interval = restart.interval.unwrap_or_default();
    let delay = restart.delay.unwrap_or_default();
    if attempts < 0 {
        report.error(
            path,
            format!("attempts {attempts} is negative; use 0 or more"),
        );
    }
    report.one_of(path, "mode", mode, &RESTART_MODES);
    if attempts == 0 && mode == "delay" {
        report.error(
            path,
            "mode \"delay\" with 0 attempts is ambiguous; set attempts, or use mode \"fail\"",
        );
    }
    if interval < MIN_RESTART_INTERVAL {
        report.error(
            path,
            format!("interval {interval} is too short; use at least {MIN_RESTART_INTERVAL}"),
        );
    }
    let needed = times(delay, attempts);
    if attempts > 0 && needed > interval {
        report.error(
            path,
            format!(
                "{attempts} restarts with a delay of {delay} need {needed}, more than the interval of {interval}; raise interval to at least {needed}, or lower attempts or delay"
            ),
        );
    }
}

fn validate_reschedule(
    report: &mut Report,
    path: &str,
    job_type: JobType,
    policy: Option<&ReschedulePolicy>,
) {
    let Some(policy) = policy else {
        return;
    };
    if matches!(job_type, JobType::System | JobType::Sysbatch) {
        report.error(
            path,
            format!(
                "{} jobs may not have a reschedule block (their allocations follow their nodes); remove it",
                job_type.as_str()
            ),
        );
        return;
    }
    let attempts = policy.attempts.unwrap_or(0);
    let unlimited = policy.unlimited.unwrap_or(false);
    let function = policy.delay_function.as_deref().unwrap_or("");
    if attempts < 0 {
        report.error(
            path,
            format!("attempts {attempts} is negative; use 0 or more"),
        );
    }
    report.one_of(path, "delay_function", function, &DELAY_FUNCTIONS);
    if attempts <= 0 && !unlimited {
        return; // rescheduling is off: Nomad ignores the rest
    }
    let interval = policy.interval.unwrap_or_default();
    let delay = policy.delay.unwrap_or_default();
    let max_delay = policy.max_delay.unwrap_or_default();
    if attempts > 0 && unlimited {
        report.error(
            path,
            format!("attempts {attempts} with unlimited = true is ambiguous; set attempts to 0 or unlimited to false"),
        );
    }
    if attempts > 0 && !unlimited && interval.is_zero() {
        report.error(path, "interval must be set when attempts is greater than 0");
    }
    let mut delays_ok = DELAY_FUNCTIONS.contains(&function);
    if delay < MIN_RESCHEDULE_DELAY {
        report.error(
            path,
            format!("delay {delay} is too short; use at least {MIN_RESCHEDULE_DELAY}"),
        );
        delays_ok = false;
    }
    if function != "constant" && max_delay < delay {
        report.error(
            path,
            format!("max_delay ({max_delay}) must be at least delay ({delay}) with the {function} delay function"),
        );
        delays_ok = false;
    }
    if delays_ok && !unlimited && attempts > 0 && !interval.is_zero() {
        check_reschedule_interval(report, path, policy);
    }
}

/// Whether `attempts` reschedules fit in the interval (delays are valid).
fn check_reschedule_interval(report: &mut Report, path: &str, policy: &ReschedulePolicy) {
    let attempts = policy.attempts.unwrap_or(0);
    let function = policy.delay_function.as_deref().unwrap_or("");
    let interval = policy.interval.unwrap_or_default();
    let delay = policy.delay.unwrap_or_default();
    let max_delay = policy.max_delay.unwrap_or_default();
    let (needed, strict) = reschedule_interval_needed(function, delay, max_delay, attempts);
    let too_short = if strict {
        interval <= needed
    } else {
        interval < needed
    };
    if too_short {
        let bound = if strict { "longer than" } else { "of at least" };
        report.error(
            path,
            format!(
                "{attempts} reschedules with {function} delays from {delay} (max_delay {max_delay}) need an interval {bound} {needed}, not {interval}; raise interval or lower attempts"
            ),
        );
    }
}

/// The interval `attempts` reschedules need, computed as Nomad's
/// `viableAttempts` does (exponential and fibonacci delays grow to
/// `max_delay`, then add it linearly); `true` when the interval must be
/// strictly longer (Nomad's exponential rule).
fn reschedule_interval_needed(
    function: &str,
    delay: Duration,
    max_delay: Duration,
    attempts: i64,
) -> (Duration, bool) {
    let attempts = attempts.clamp(0, 10_000) as u32;
    let add = |a: Duration, b: Duration| Duration(a.0.saturating_add(b.0));
    match function {
        "exponential" => {
            let mut needed = Duration::ZERO;
            for i in 0..attempts {
                let factor = 2u32.checked_pow(i).unwrap_or(u32::MAX);
                let next = Duration(delay.0.saturating_mul(factor));
                needed = if next > max_delay {
                    add(needed, max_delay)
                } else {
                    next
                };
            }
            (needed, true)
        }
        "fibonacci" => {
            let (mut before, mut last) = (delay, delay);
            let mut capped = false;
            for _ in 2..attempts {
                let next = if capped {
                    add(last, max_delay)
                } else {
                    let sum = add(last, before);
                    capped = sum > max_delay;
                    sum.min(max_delay)
                };
                (before, last) = (last, next);
            }
            (last, false)
        }
        _ => (times(delay, i64::from(attempts)), false),
    }
}

fn times(duration: Duration, count: i64) -> Duration {
    let count = u32::try_from(count.max(0)).unwrap_or(u32::MAX);
    Duration(duration.0.saturating_mul(count))
}

fn validate_update(report: &mut Report, path: &str, update: &UpdateStrategy) {
    let max_parallel = update.max_parallel.unwrap_or(0);
    let canary = update.canary.unwrap_or(0);
    if max_parallel < 0 {
        report.error(
            path,
            format!("max_parallel {max_parallel} is negative; use 0 or more"),
        );
    }
    if canary < 0 {
        report.error(path, format!("canary {canary} is negative; use 0 or more"));
    }
    if update.auto_promote == Some(true) && canary <= 0 {
        report.error(
            path,
            "auto_promote requires canary greater than 0; set canary or remove auto_promote",
        );
    }
    let health_check = update.health_check.as_deref().unwrap_or("");
    report.one_of(path, "health_check", health_check, &UPDATE_HEALTH_CHECKS);
    let min_healthy = update.min_healthy_time.unwrap_or_default();
    let healthy = update.healthy_deadline.unwrap_or_default();
    let progress = update.progress_deadline.unwrap_or_default();
    validate_deadlines(report, path, min_healthy, healthy);
    if !progress.is_zero() && healthy >= progress {
        report.error(
            path,
            format!("healthy_deadline ({healthy}) must be less than progress_deadline ({progress}); raise progress_deadline, or set it to 0 to disable it"),
        );
    }
    if update.stagger.is_some_and(|s| s.is_zero()) {
        report.error(path, "stagger must be greater than 0, e.g. \"30s\"");
    }
}

fn validate_deadlines(report: &mut Report, path: &str, min_healthy: Duration, healthy: Duration) {
    if healthy.is_zero() {
        report.error(path, "healthy_deadline must be greater than 0, e.g. \"5m\"");
    } else if min_healthy >= healthy {
        report.error(
            path,
            format!(
                "min_healthy_time ({min_healthy}) must be less than healthy_deadline ({healthy})"
            ),
        );
    }
}

fn validate_migrate(report: &mut Report, path: &str, migrate: &MigrateStrategy) {
    let max_parallel = migrate.max_parallel.unwrap_or(0);
    if max_parallel < 0 {
        report.error(
            path,
            format!("max_parallel {max_parallel} is negative; use 0 or more"),
        );
    }
    let health_check = migrate.health_check.as_deref().unwrap_or("");
    report.one_of(path, "health_check", health_check, &MIGRATE_HEALTH_CHECKS);
    // Nomad allows min_healthy_time == healthy_deadline here, unlike update.
    let min_healthy = migrate.min_healthy_time.unwrap_or_default();
    let healthy = migrate.healthy_deadline.unwrap_or_default();
    if min_healthy > healthy {
        report.error(
            path,
            format!(
                "min_healthy_time ({min_healthy}) must not exceed healthy_deadline ({healthy})"
            ),
        );
    }
}

fn validate_disconnect(report: &mut Report, group_path: &str, group: &TaskGroup) {
    let Some(disconnect) = &group.disconnect else {
        return;
    };
    let path = format!("{group_path} disconnect");
    report.one_of(
        &path,
        "reconcile",
        &disconnect.reconcile,
        &ReconnectKeep::NAMES,
    );
    if group.lost_after().is_some() && group.stop_on_client_after().is_some() {
        // Nomad refuses the pair too: the servers would keep the allocation
        // unknown (not replaced as lost) while its agent has stopped it.
        report.error(
            &path,
            "lost_after and stop_on_client_after cannot both be set: keep lost_after to wait for the node, or stop_on_client_after to have its agent stop the allocation",
        );
    }
    if disconnect.stop_on_client_after.is_some() && group.stop_after_client_disconnect.is_some() {
        report.error(
            &path,
            "stop_on_client_after replaces the group's stop_after_client_disconnect; set only stop_on_client_after",
        );
    }
}

#[cfg(test)]
mod tests;
