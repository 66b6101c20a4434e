//! Garbage collection of finished allocations on the node: their stopped
//! containers (kept for `drover logs` and post-mortems) and their
//! directories go once they are older than the retention, or sooner when
//! more than `max_kept` finished allocations are around (the oldest
//! first), so a batch job that runs every minute never fills the disk.
//! The allocation's record in etcd is not the agent's to delete.
//!
//! [`select`] is the pure decision; [`Finished`] is what workers report
//! and the agent's collection loop reads.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};

/// When finished allocations' remains are collected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GcPolicy {
    /// How often the collector runs.
    pub interval: Duration,
    /// How long a finished allocation's containers and directory are kept.
    pub retention: Duration,
    /// At most this many finished allocations keep their remains.
    pub max_kept: usize,
}

impl Default for GcPolicy {
    /// Nomad keeps 50 finished allocations per client.
    fn default() -> Self {
        GcPolicy {
            interval: Duration::from_secs(60),
            retention: Duration::from_secs(3600),
            max_kept: 50,
        }
    }
}

/// Which finished allocations to collect now: every one finished longer
/// ago than the retention, then the oldest of the rest beyond `max_kept`.
/// `finished` holds allocation ids and when they finished.
pub fn select(
    finished: &BTreeMap<String, DateTime<Utc>>,
    now: DateTime<Utc>,
    policy: &GcPolicy,
) -> Vec<String> {
    let retention = chrono::Duration::from_std(policy.retention).unwrap_or(chrono::Duration::MAX);
    let mut newest_first: Vec<(&String, &DateTime<Utc>)> = finished.iter().collect();
    newest_first.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let mut kept = 0;
    let mut out = Vec::new();
    for (id, at) in newest_first {
        let expired = now.signed_duration_since(*at) >= retention;
        if expired || kept >= policy.max_kept {
            out.push(id.clone());
        } else {
            kept += 1;
        }
    }
    out.sort();
    out
}

/// Finished allocations not yet collected, as workers report them.
#[derive(Debug, Default)]
pub struct Finished {
    pending: Mutex<BTreeMap<String, DateTime<Utc>>>,
    collected: Mutex<std::collections::BTreeSet<String>>,
}

impl Finished {
    /// Records that `alloc` finished at `at` (once; later reports are
    /// ignored, and so is an allocation already collected).
    pub fn report(&self, alloc: &str, at: DateTime<Utc>) {
        if lock(&self.collected).contains(alloc) {
            return;
        }
        lock(&self.pending).entry(alloc.to_string()).or_insert(at);
    }

    /// Whether this allocation's remains are gone.
    pub fn is_collected(&self, alloc: &str) -> bool {
        lock(&self.collected).contains(alloc)
    }

    /// Takes the allocations to collect now (they count as collected from
    /// here on).
    pub fn take_due(&self, now: DateTime<Utc>, policy: &GcPolicy) -> Vec<String> {
        let mut pending = lock(&self.pending);
        let due = select(&pending, now, policy);
        let mut collected = lock(&self.collected);
        for id in &due {
            pending.remove(id);
            collected.insert(id.clone());
        }
        due
    }

    /// Forgets an allocation that is no longer assigned here.
    pub fn forget(&self, alloc: &str) {
        lock(&self.pending).remove(alloc);
        lock(&self.collected).remove(alloc);
    }
}

/// A poisoned lock only means another thread panicked while holding it;
/// the map itself is still consistent (every update is one call).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(secs: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_000_000 + secs, 0)
            .single()
            .expect("valid time")
    }

    fn policy(retention_secs: u64, max_kept: usize) -> GcPolicy {
        GcPolicy {
            interval: Duration::from_secs(60),
            retention: Duration::from_secs(retention_secs),
            max_kept,
        }
    }

    fn finished(entries: &[(&str, i64)]) -> BTreeMap<String, DateTime<Utc>> {
        entries
            .iter()
            .map(|(id, secs)| (id.to_string(), at(*secs)))
            .collect()
    }

    #[test]
    fn expired_allocations_are_collected_and_recent_ones_kept() {
        let f = finished(&[("old", 0), ("edge", 40), ("new", 90)]);
        assert_eq!(select(&f, at(100), &policy(60, 50)), ["edge", "old"]);
    }

    #[test]
    fn beyond_max_kept_the_oldest_go_first() {
        let f = finished(&[("a", 10), ("b", 20), ("c", 30), ("d", 40)]);
        assert_eq!(select(&f, at(50), &policy(3600, 2)), ["a", "b"]);
        assert_eq!(select(&f, at(50), &policy(3600, 0)), ["a", "b", "c", "d"]);
    }

    #[test]
    fn taken_allocations_are_not_reported_again_until_forgotten() {
        let reg = Finished::default();
        reg.report("a", at(0));
        reg.report("b", at(90));
        assert_eq!(reg.take_due(at(100), &policy(60, 50)), ["a"]);
        assert!(reg.is_collected("a"));
        reg.report("a", at(0));
        assert!(reg.take_due(at(100), &policy(60, 50)).is_empty());
        reg.forget("a");
        assert!(!reg.is_collected("a"));
        reg.report("a", at(0));
        assert_eq!(reg.take_due(at(200), &policy(60, 50)), ["a", "b"]);
    }

    #[test]
    fn the_first_report_of_a_finish_time_counts() {
        let reg = Finished::default();
        reg.report("a", at(0));
        reg.report("a", at(99));
        assert_eq!(reg.take_due(at(70), &policy(60, 50)), ["a"]);
    }
}
