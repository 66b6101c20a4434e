//! The restart policy, as Nomad applies it on the client: after a task
//! exits, restart it after `delay` unless `attempts` restarts already
//! happened within the current `interval`; then `mode = "fail"` gives up
//! (the allocation fails and the server may reschedule it elsewhere) and
//! `mode = "delay"` waits for the interval to end and starts counting
//! again. A batch task that exits 0 is complete and never restarted. Pure:
//! `now` and the restart history are arguments.

use std::time::Duration;

use chrono::{DateTime, Utc};
use drover_api_types::job::RestartPolicy;
use drover_api_types::{defaults::default_restart, JobType};

/// What to do after a task exited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Start the task again after this long (task event "Restarting").
    Restart { after: Duration, reason: String },
    /// The task is done: complete (`failed: false`) or failed (task event
    /// "Not Restarting").
    Dead { failed: bool, reason: String },
}

/// How the task ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exit {
    pub code: Option<i64>,
    pub oom_killed: bool,
}

fn describe(exit: Exit) -> String {
    match (exit.oom_killed, exit.code) {
        (true, _) => "OOM killed".to_string(),
        (false, Some(code)) => format!("exit code {code}"),
        (false, None) => "exited".to_string(),
    }
}

/// Decides after an exit. `restarts` are the times of earlier restarts of
/// this task (any order); those older than the interval do not count.
/// `run_to_completion` marks a task that is done when it exits 0 whatever
/// the job type (an ephemeral lifecycle hook).
pub fn decide(
    policy: Option<&RestartPolicy>,
    job_type: JobType,
    run_to_completion: bool,
    exit: Exit,
    restarts: &[DateTime<Utc>],
    now: DateTime<Utc>,
) -> Decision {
    let batch = matches!(job_type, JobType::Batch | JobType::Sysbatch);
    if (batch || run_to_completion) && exit.code == Some(0) && !exit.oom_killed {
        return Decision::Dead {
            failed: false,
            reason: "completed successfully".into(),
        };
    }
    let defaults = default_restart(job_type);
    let policy = policy.unwrap_or(&defaults);
    let attempts = policy.attempts.or(defaults.attempts).unwrap_or(0).max(0);
    let interval = policy
        .interval
        .or(defaults.interval)
        .map(|d| d.as_std())
        .unwrap_or_default();
    let delay = policy
        .delay
        .or(defaults.delay)
        .map(|d| d.as_std())
        .unwrap_or_default();
    let mode_delay = policy.mode.as_deref() == Some("delay");
    let window = chrono::Duration::from_std(interval).unwrap_or(chrono::Duration::MAX);
    let since = now
        .checked_sub_signed(window)
        .unwrap_or(DateTime::<Utc>::MIN_UTC);
    let mut recent: Vec<DateTime<Utc>> = restarts.iter().copied().filter(|t| *t > since).collect();
    recent.sort();
    let what = describe(exit);
    if (recent.len() as i64) < attempts {
        return Decision::Restart {
            after: delay,
            reason: format!("{what}: restarting in {}", human(delay)),
        };
    }
    if mode_delay {
        // Wait until the oldest counted restart leaves the interval.
        let until = recent
            .first()
            .and_then(|t| t.checked_add_signed(window))
            .unwrap_or(now);
        let wait = (until - now).to_std().unwrap_or_default().max(delay);
        return Decision::Restart {
            after: wait,
            reason: format!(
                "{what}: {attempts} restarts within {}; restarting in {} (mode delay)",
                human(interval),
                human(wait)
            ),
        };
    }
    Decision::Dead {
        failed: true,
        reason: format!(
            "{what}: exceeded {attempts} restarts within {} (mode fail)",
            human(interval)
        ),
    }
}

/// `15s`, `2m30s`, `1h`.
pub fn human(d: Duration) -> String {
    drover_api_types::Duration::from(d).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(secs: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000 + secs, 0)
            .single()
            .expect("valid")
    }

    fn policy(attempts: i64, interval: u64, delay: u64, mode: &str) -> RestartPolicy {
        RestartPolicy {
            attempts: Some(attempts),
            interval: Some(Duration::from_secs(interval).into()),
            delay: Some(Duration::from_secs(delay).into()),
            mode: Some(mode.into()),
            render_templates: None,
        }
    }

    const CRASH: Exit = Exit {
        code: Some(1),
        oom_killed: false,
    };

    #[test]
    fn restarts_within_attempts_then_fails_in_mode_fail() {
        let p = policy(2, 300, 10, "fail");
        let d = decide(Some(&p), JobType::Service, false, CRASH, &[], at(0));
        assert!(matches!(d, Decision::Restart { after, .. } if after == Duration::from_secs(10)));
        let d = decide(Some(&p), JobType::Service, false, CRASH, &[at(-100)], at(0));
        assert!(matches!(d, Decision::Restart { .. }));
        let d = decide(
            Some(&p),
            JobType::Service,
            false,
            CRASH,
            &[at(-100), at(-50)],
            at(0),
        );
        assert_eq!(
            d,
            Decision::Dead {
                failed: true,
                reason: "exit code 1: exceeded 2 restarts within 5m (mode fail)".into()
            }
        );
        // Restarts older than the interval no longer count.
        let d = decide(
            Some(&p),
            JobType::Service,
            false,
            CRASH,
            &[at(-400), at(-350)],
            at(0),
        );
        assert!(matches!(d, Decision::Restart { .. }));
    }

    #[test]
    fn mode_delay_waits_for_the_interval_to_pass() {
        let p = policy(1, 300, 10, "delay");
        let d = decide(Some(&p), JobType::Service, false, CRASH, &[at(-100)], at(0));
        assert!(matches!(d, Decision::Restart { after, .. } if after == Duration::from_secs(200)));
    }

    #[test]
    fn batch_success_completes_and_service_success_restarts() {
        let ok = Exit {
            code: Some(0),
            oom_killed: false,
        };
        assert_eq!(
            decide(None, JobType::Batch, false, ok, &[], at(0)),
            Decision::Dead {
                failed: false,
                reason: "completed successfully".into()
            }
        );
        assert!(matches!(
            decide(None, JobType::Service, false, ok, &[], at(0)),
            Decision::Restart { .. }
        ));
        // An ephemeral lifecycle hook completes even in a service job.
        assert!(matches!(
            decide(None, JobType::Service, true, ok, &[], at(0)),
            Decision::Dead { failed: false, .. }
        ));
    }

    #[test]
    fn zero_attempts_fail_at_once_and_oom_is_named() {
        let p = policy(0, 60, 1, "fail");
        let oom = Exit {
            code: Some(137),
            oom_killed: true,
        };
        assert_eq!(
            decide(Some(&p), JobType::Service, false, oom, &[], at(0)),
            Decision::Dead {
                failed: true,
                reason: "OOM killed: exceeded 0 restarts within 1m (mode fail)".into()
            }
        );
    }
}
