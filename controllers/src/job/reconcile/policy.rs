//! Reschedule policy: may a failed allocation be replaced now, and after what
//! delay.
//!
//! Decides from the failed allocation's `spec.reschedule_events` (the history
//! of reschedules that led to it) only. Invariants: a `None` field falls back
//! to the job type's default; the delay never exceeds a non-zero `max_delay`;
//! an unlimited policy always allows a replacement.

use chrono::{DateTime, Utc};
use drover_api_types::alloc::{Allocation, RescheduleEvent};
use drover_api_types::defaults::default_reschedule;
use drover_api_types::job::ReschedulePolicy;
use drover_api_types::{Job, TaskGroup};

/// A reschedule policy with every field resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub attempts: u64,
    pub interval: std::time::Duration,
    pub delay: std::time::Duration,
    pub delay_function: DelayFunction,
    pub max_delay: std::time::Duration,
    pub unlimited: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DelayFunction {
    Constant,
    Exponential,
    Fibonacci,
}

impl DelayFunction {
    /// Unknown names fall back to `constant`, the least surprising choice.
    pub fn parse(name: &str) -> Self {
        match name {
            "exponential" => DelayFunction::Exponential,
            "fibonacci" => DelayFunction::Fibonacci,
            _ => DelayFunction::Constant,
        }
    }
}

/// The group's policy, else the job's, else the job type's default; `None`
/// when the job type is never rescheduled (system, sysbatch).
pub fn resolve(job: &Job, group: &TaskGroup) -> Option<Policy> {
    let fallback = default_reschedule(job.spec.job_type);
    let raw: &ReschedulePolicy = group
        .reschedule
        .as_ref()
        .or(job.spec.reschedule.as_ref())
        .or(fallback.as_ref())?;
    let dflt = fallback.clone().unwrap_or_default();
    let dur = |v: Option<drover_api_types::Duration>, d: Option<drover_api_types::Duration>| {
        v.or(d).map(|d| d.as_std()).unwrap_or_default()
    };
    Some(Policy {
        attempts: raw
            .attempts
            .or(dflt.attempts)
            .map(|a| u64::try_from(a).unwrap_or(0))
            .unwrap_or(0),
        interval: dur(raw.interval, dflt.interval),
        delay: dur(raw.delay, dflt.delay),
        delay_function: DelayFunction::parse(
            raw.delay_function
                .as_deref()
                .or(dflt.delay_function.as_deref())
                .unwrap_or("constant"),
        ),
        max_delay: dur(raw.max_delay, dflt.max_delay),
        unlimited: raw.unlimited.or(dflt.unlimited).unwrap_or(false),
    })
}

impl Policy {
    /// Whether another attempt is allowed at `now`: unlimited, or fewer than
    /// `attempts` reschedules within the last `interval` (an event without a
    /// time counts, to stay on the safe side).
    pub fn allows(&self, events: &[RescheduleEvent], now: DateTime<Utc>) -> bool {
        if self.unlimited {
            return true;
        }
        let window = chrono::Duration::from_std(self.interval).unwrap_or(chrono::Duration::MAX);
        let used = events
            .iter()
            .filter(|e| match e.time {
                Some(t) => now.signed_duration_since(t) < window,
                None => true,
            })
            .count() as u64;
        used < self.attempts
    }

    /// The delay before the next attempt, given the previous ones.
    /// constant: `delay`; exponential: `delay`, then twice the last delay;
    /// fibonacci: `delay`, `delay`, then the sum of the last two. Capped by a
    /// non-zero `max_delay`.
    pub fn next_delay(&self, events: &[RescheduleEvent]) -> std::time::Duration {
        let base = self.delay.as_secs();
        let last = |back: usize| {
            events
                .len()
                .checked_sub(back)
                .and_then(|i| events.get(i))
                .map(|e| e.delay_seconds)
        };
        let secs = match self.delay_function {
            DelayFunction::Constant => base,
            DelayFunction::Exponential => match last(1) {
                Some(prev) if prev > 0 => prev.saturating_mul(2),
                _ => base,
            },
            DelayFunction::Fibonacci => match (last(2), last(1)) {
                (Some(a), Some(b)) if a > 0 && b > 0 => a.saturating_add(b),
                _ => base,
            },
        };
        let delay = if self.delay_function == DelayFunction::Constant {
            self.delay
        } else {
            std::time::Duration::from_secs(secs)
        };
        if self.max_delay.is_zero() {
            delay
        } else {
            delay.min(self.max_delay)
        }
    }
}

/// The reschedule event recorded on the replacement of `failed`.
pub fn event_for(
    failed: &Allocation,
    now: DateTime<Utc>,
    delay: std::time::Duration,
) -> RescheduleEvent {
    RescheduleEvent {
        time: Some(now),
        prev_alloc_id: failed.metadata.uid.clone(),
        prev_node_id: failed
            .binding
            .as_ref()
            .map(|b| b.node_id.clone())
            .unwrap_or_default(),
        delay_seconds: delay.as_secs(),
    }
}
