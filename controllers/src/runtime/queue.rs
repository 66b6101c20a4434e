//! The pure state of the keyed work queue: no locks, no clock, no I/O.
//!
//! It follows client-go's workqueue: a key is in at most one of "queued"
//! (waiting for a worker) and "processing"; a key added while it is being
//! processed is marked *dirty* and queued again once, when the worker calls
//! [`QueueState::done`]. This gives the two guarantees the runtime needs:
//! deduplication (N adds of a queued key make one reconcile) and one
//! reconcile per key at a time. Delayed adds wait in a separate map keyed by
//! their due time; the caller passes `now` so the state stays testable.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::hash::Hash;
use std::time::Duration;

use tokio::time::Instant;

/// What [`QueueState::add`] did with a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddOutcome {
    /// The key was put at the back of the queue.
    Queued,
    /// The key is being processed: it will be queued again when it is done.
    MarkedDirty,
    /// The key was already waiting (queued or dirty): nothing changed.
    Deduplicated,
}

/// A key handed to a worker, with how long it waited in the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Popped<K> {
    pub key: K,
    pub waited: Duration,
}

/// Queue state: queued keys in order, processing set, dirty set, delayed
/// keys and per-key failure counts.
#[derive(Debug)]
pub struct QueueState<K> {
    order: VecDeque<K>,
    /// Keys that must be (re)processed: queued ones and dirty processing
    /// ones. Maps to when the key entered this set, for the wait histogram.
    dirty: HashMap<K, Instant>,
    processing: HashSet<K>,
    /// Delayed keys: key → due time, and (due, seq) ordering for the earliest.
    waiting: HashMap<K, (Instant, u64)>,
    waiting_order: BTreeSet<(Instant, u64)>,
    waiting_keys: HashMap<u64, K>,
    seq: u64,
    failures: HashMap<K, u32>,
}

impl<K> Default for QueueState<K> {
    fn default() -> Self {
        Self {
            order: VecDeque::new(),
            dirty: HashMap::new(),
            processing: HashSet::new(),
            waiting: HashMap::new(),
            waiting_order: BTreeSet::new(),
            waiting_keys: HashMap::new(),
            seq: 0,
            failures: HashMap::new(),
        }
    }
}

impl<K: Clone + Eq + Hash> QueueState<K> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a key now. See [`AddOutcome`].
    pub fn add(&mut self, key: K, now: Instant) -> AddOutcome {
        if self.dirty.contains_key(&key) {
            return AddOutcome::Deduplicated;
        }
        self.dirty.insert(key.clone(), now);
        if self.processing.contains(&key) {
            return AddOutcome::MarkedDirty;
        }
        self.order.push_back(key);
        AddOutcome::Queued
    }

    /// Schedules `key` to be added at `due`. If the key is already waiting,
    /// the earlier due time wins.
    pub fn add_at(&mut self, key: K, due: Instant) {
        if let Some(&(old_due, old_seq)) = self.waiting.get(&key) {
            if old_due <= due {
                return;
            }
            self.waiting_order.remove(&(old_due, old_seq));
            self.waiting_keys.remove(&old_seq);
        }
        self.seq += 1;
        let seq = self.seq;
        self.waiting.insert(key.clone(), (due, seq));
        self.waiting_order.insert((due, seq));
        self.waiting_keys.insert(seq, key);
    }

    /// Moves every delayed key due at or before `now` into the queue.
    /// Returns the outcome of each add, in due order.
    pub fn promote_due(&mut self, now: Instant) -> Vec<AddOutcome> {
        let mut outcomes = Vec::new();
        while let Some(&(due, seq)) = self.waiting_order.first() {
            if due > now {
                break;
            }
            self.waiting_order.remove(&(due, seq));
            if let Some(key) = self.waiting_keys.remove(&seq) {
                self.waiting.remove(&key);
                outcomes.push(self.add(key, now));
            }
        }
        outcomes
    }

    /// The earliest due time of a delayed key.
    pub fn next_due(&self) -> Option<Instant> {
        self.waiting_order.first().map(|&(due, _)| due)
    }

    /// Takes the front key and marks it processing.
    pub fn pop(&mut self, now: Instant) -> Option<Popped<K>> {
        let key = self.order.pop_front()?;
        let since = self.dirty.remove(&key).unwrap_or(now);
        self.processing.insert(key.clone());
        Some(Popped {
            key,
            waited: now.saturating_duration_since(since),
        })
    }

    /// Marks `key` as no longer processing; if it was added meanwhile it is
    /// queued again. Returns whether it was re-queued.
    pub fn done(&mut self, key: &K) -> bool {
        self.processing.remove(key);
        if self.dirty.contains_key(key) {
            self.order.push_back(key.clone());
            true
        } else {
            false
        }
    }

    /// Records one more failure for `key` and returns the new count (≥ 1).
    pub fn record_failure(&mut self, key: &K) -> u32 {
        let n = self.failures.entry(key.clone()).or_insert(0);
        *n = n.saturating_add(1);
        *n
    }

    /// Forgets the failures of `key` (after a success).
    pub fn forget(&mut self, key: &K) {
        self.failures.remove(key);
    }

    pub fn failures(&self, key: &K) -> u32 {
        self.failures.get(key).copied().unwrap_or(0)
    }

    /// Number of keys ready for a worker (not counting delayed ones).
    pub fn len(&self) -> usize {
        self.order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    pub fn is_processing(&self, key: &K) -> bool {
        self.processing.contains(key)
    }

    /// Number of delayed keys.
    pub fn waiting_len(&self) -> usize {
        self.waiting.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t0() -> Instant {
        Instant::now()
    }

    #[test]
    fn add_deduplicates_queued_keys() {
        let now = t0();
        let mut q = QueueState::new();
        assert_eq!(q.add("a", now), AddOutcome::Queued);
        assert_eq!(q.add("a", now), AddOutcome::Deduplicated);
        assert_eq!(q.add("b", now), AddOutcome::Queued);
        assert_eq!(q.len(), 2);
        assert_eq!(q.pop(now).map(|p| p.key), Some("a"));
        assert_eq!(q.pop(now).map(|p| p.key), Some("b"));
        assert_eq!(q.pop(now), None);
    }

    #[test]
    fn key_added_while_processing_is_requeued_once_after_done() {
        let now = t0();
        let mut q = QueueState::new();
        q.add("a", now);
        let popped = q.pop(now).expect("a is queued");
        assert!(q.is_processing(&popped.key));
        assert_eq!(q.add("a", now), AddOutcome::MarkedDirty);
        assert_eq!(q.add("a", now), AddOutcome::Deduplicated);
        // Not handed out while processing.
        assert_eq!(q.pop(now), None);
        assert!(q.done(&"a"));
        assert_eq!(q.len(), 1);
        assert_eq!(q.pop(now).map(|p| p.key), Some("a"));
        assert!(!q.done(&"a"));
        assert!(q.is_empty());
    }

    #[test]
    fn pop_reports_time_waited() {
        let now = t0();
        let mut q = QueueState::new();
        q.add("a", now);
        let later = now + Duration::from_millis(250);
        let popped = q.pop(later).expect("queued");
        assert_eq!(popped.waited, Duration::from_millis(250));
    }

    #[test]
    fn delayed_keys_are_promoted_when_due_earliest_wins() {
        let now = t0();
        let mut q = QueueState::new();
        q.add_at("a", now + Duration::from_secs(10));
        q.add_at("a", now + Duration::from_secs(5));
        q.add_at("a", now + Duration::from_secs(7));
        q.add_at("b", now + Duration::from_secs(6));
        assert_eq!(q.waiting_len(), 2);
        assert_eq!(q.next_due(), Some(now + Duration::from_secs(5)));
        assert!(q.promote_due(now + Duration::from_secs(4)).is_empty());
        assert_eq!(
            q.promote_due(now + Duration::from_secs(5)),
            vec![AddOutcome::Queued]
        );
        assert_eq!(q.next_due(), Some(now + Duration::from_secs(6)));
        q.promote_due(now + Duration::from_secs(6));
        assert_eq!(q.next_due(), None);
        assert_eq!(q.pop(now).map(|p| p.key), Some("a"));
        assert_eq!(q.pop(now).map(|p| p.key), Some("b"));
    }

    #[test]
    fn promoted_key_already_queued_is_deduplicated() {
        let now = t0();
        let mut q = QueueState::new();
        q.add("a", now);
        q.add_at("a", now);
        assert_eq!(q.promote_due(now), vec![AddOutcome::Deduplicated]);
        assert_eq!(q.len(), 1);
    }

    #[test]
    fn failures_count_and_reset() {
        let mut q: QueueState<&str> = QueueState::new();
        assert_eq!(q.record_failure(&"a"), 1);
        assert_eq!(q.record_failure(&"a"), 2);
        assert_eq!(q.failures(&"b"), 0);
        q.forget(&"a");
        assert_eq!(q.failures(&"a"), 0);
    }

    #[derive(Debug, Clone)]
    enum Op {
        Add(u8),
        Pop,
        Done(usize),
    }

    fn op() -> impl proptest::strategy::Strategy<Value = Op> {
        use proptest::prelude::*;
        prop_oneof![
            (0u8..4).prop_map(Op::Add),
            Just(Op::Pop),
            (0usize..4).prop_map(Op::Done),
        ]
    }

    proptest::proptest! {
        /// Whatever the sequence of operations: a key is queued at most once,
        /// never queued while processing, and never handed out twice at once.
        #[test]
        fn invariants_hold(ops in proptest::collection::vec(op(), 0..64)) {
            let now = t0();
            let mut q = QueueState::new();
            let mut held: Vec<u8> = Vec::new();
            for op in ops {
                match op {
                    Op::Add(k) => {
                        q.add(k, now);
                    }
                    Op::Pop => {
                        if let Some(p) = q.pop(now) {
                            proptest::prop_assert!(!held.contains(&p.key));
                            held.push(p.key);
                        }
                    }
                    Op::Done(i) if !held.is_empty() => {
                        let k = held.remove(i % held.len());
                        q.done(&k);
                    }
                    Op::Done(_) => {}
                }
                let queued: HashSet<u8> = q.order.iter().copied().collect();
                proptest::prop_assert_eq!(queued.len(), q.order.len());
                for k in &q.order {
                    proptest::prop_assert!(!q.processing.contains(k));
                    proptest::prop_assert!(q.dirty.contains_key(k));
                }
            }
        }
    }
}
