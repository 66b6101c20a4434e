//! The async shell around [`QueueState`]: a cloneable, thread-safe work queue.
//!
//! The state sits behind a `std` mutex held only for short, non-async
//! sections; idle workers wait on a [`Notify`] or until the earliest delayed
//! key is due. Time comes from `tokio::time` so tests can pause the clock.

use std::fmt;
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use prometheus::Registry;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::backoff::{Backoff, BackoffConfig};
use super::metrics::Metrics;
use super::queue::{AddOutcome, QueueState};

struct State<K> {
    queue: QueueState<K>,
    backoff: Backoff,
    shut_down: bool,
}

struct Inner<K> {
    name: String,
    state: Mutex<State<K>>,
    notify: Notify,
    metrics: Metrics,
}

/// A keyed work queue: deduplicating, one holder per key, delayed adds and
/// per-key exponential backoff. Clones share the same queue.
pub struct WorkQueue<K> {
    inner: Arc<Inner<K>>,
}

impl<K> Clone for WorkQueue<K> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<K> fmt::Debug for WorkQueue<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkQueue")
            .field("name", &self.inner.name)
            .finish_non_exhaustive()
    }
}

impl<K: Clone + Eq + Hash> WorkQueue<K> {
    /// Creates the queue of controller `name` and registers its metrics (and
    /// the reconcile metrics the runner records) on `registry`.
    pub fn new(
        name: &str,
        backoff: BackoffConfig,
        registry: &Registry,
    ) -> prometheus::Result<Self> {
        let metrics = Metrics::register(name, registry)?;
        Ok(Self::with_metrics(name, backoff, metrics))
    }

    /// A queue recording into already registered `metrics`: a server makes
    /// fresh queues each time it becomes leader, with the same metrics.
    pub fn with_metrics(name: &str, backoff: BackoffConfig, metrics: Metrics) -> Self {
        Self {
            inner: Arc::new(Inner {
                name: name.to_owned(),
                state: Mutex::new(State {
                    queue: QueueState::new(),
                    backoff: Backoff::new(backoff),
                    shut_down: false,
                }),
                notify: Notify::new(),
                metrics,
            }),
        }
    }

    pub fn name(&self) -> &str {
        &self.inner.name
    }

    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    fn lock(&self) -> MutexGuard<'_, State<K>> {
        // A panic while holding the lock cannot leave the plain state
        // half-updated in a way that matters more than losing the queue.
        self.inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn record(&self, outcome: AddOutcome, depth: usize) {
        if outcome != AddOutcome::Deduplicated {
            self.inner.metrics.adds.inc();
        }
        self.set_depth(depth);
    }

    fn set_depth(&self, depth: usize) {
        self.inner
            .metrics
            .depth
            .set(i64::try_from(depth).unwrap_or(i64::MAX));
    }

    /// Adds `key` now. Ignored after [`WorkQueue::shut_down`].
    pub fn add(&self, key: K) {
        let mut st = self.lock();
        if st.shut_down {
            return;
        }
        let outcome = st.queue.add(key, Instant::now());
        self.record(outcome, st.queue.len());
        drop(st);
        if outcome == AddOutcome::Queued {
            self.inner.notify.notify_waiters();
        }
    }

    /// Adds `key` once `delay` has passed (at once if it is zero).
    pub fn add_after(&self, key: K, delay: Duration) {
        if delay.is_zero() {
            return self.add(key);
        }
        let mut st = self.lock();
        if st.shut_down {
            return;
        }
        st.queue.add_at(key, Instant::now() + delay);
        drop(st);
        // Idle workers recompute how long to sleep.
        self.inner.notify.notify_waiters();
    }

    /// Records a failure of `key` and adds it after its backoff delay, which
    /// is returned.
    pub fn add_rate_limited(&self, key: K) -> Duration {
        let delay = {
            let mut st = self.lock();
            let failures = st.queue.record_failure(&key);
            st.backoff.delay(failures)
        };
        self.inner.metrics.retries.inc();
        self.add_after(key, delay);
        delay
    }

    /// Resets the backoff of `key` (after a success).
    pub fn forget(&self, key: &K) {
        self.lock().queue.forget(key);
    }

    /// Consecutive failures recorded for `key`.
    pub fn failures(&self, key: &K) -> u32 {
        self.lock().queue.failures(key)
    }

    /// Keys ready for a worker.
    pub fn len(&self) -> usize {
        self.lock().queue.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Waits for a key and marks it processing; the caller must call
    /// [`WorkQueue::done`] with it. `None` once the queue is shut down.
    pub async fn get(&self) -> Option<K> {
        loop {
            let notified = self.inner.notify.notified();
            let mut notified = std::pin::pin!(notified);
            // Register before looking at the state so no wake-up is lost.
            notified.as_mut().enable();
            let next_due = {
                let mut st = self.lock();
                if st.shut_down {
                    return None;
                }
                let now = Instant::now();
                for outcome in st.queue.promote_due(now) {
                    if outcome != AddOutcome::Deduplicated {
                        self.inner.metrics.adds.inc();
                    }
                }
                let popped = st.queue.pop(now);
                self.set_depth(st.queue.len());
                if let Some(popped) = popped {
                    self.inner
                        .metrics
                        .queue_duration
                        .observe(popped.waited.as_secs_f64());
                    return Some(popped.key);
                }
                st.queue.next_due()
            };
            match next_due {
                Some(due) => {
                    tokio::select! {
                        () = &mut notified => {}
                        () = tokio::time::sleep_until(due) => {}
                    }
                }
                None => notified.await,
            }
        }
    }

    /// Ends the processing of `key`; if it was added meanwhile it is queued
    /// again.
    pub fn done(&self, key: &K) {
        let mut st = self.lock();
        let requeued = st.queue.done(key);
        self.set_depth(st.queue.len());
        drop(st);
        if requeued {
            self.inner.notify.notify_waiters();
        }
    }

    /// Stops the queue: [`WorkQueue::get`] returns `None` and adds are
    /// ignored. Keys being processed are finished by their workers.
    pub fn shut_down(&self) {
        self.lock().shut_down = true;
        self.inner.notify.notify_waiters();
    }

    pub fn is_shut_down(&self) -> bool {
        self.lock().shut_down
    }
}
