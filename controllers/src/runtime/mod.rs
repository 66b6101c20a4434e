//! The controller runtime: a keyed work queue and the reconcile loop every
//! controller runs on.
//!
//! Watches (and a periodic resync) add *keys* — e.g. a job id — to a
//! [`WorkQueue`]; N workers take keys and call [`Reconcile::reconcile`],
//! which re-reads the current state and converges it. Keys, not events, are
//! queued so that a burst of changes to one object makes one reconcile
//! (deduplication), and a key is never reconciled by two workers at once (a
//! key added while it is processed is queued again once it is done). On
//! error a key is retried after an exponential, jittered, per-key backoff
//! that a success resets; a reconcile may also ask to run again after a delay
//! ([`Action::RequeueAfter`]). Shutdown is a `tokio::sync::watch` flag.
//!
//! # Layout
//! - [`queue`]: the pure queue state (queued order, processing, dirty,
//!   delayed keys, failure counts), unit-tested without async.
//! - [`backoff`]: delays from failure counts, with seeded jitter.
//! - [`workqueue`]: the thread-safe async shell around the state.
//! - [`metrics`]: the `drover_controller_*` / `drover_workqueue_*` metrics.
//! - this file: [`Reconcile`], [`Action`] and the [`Controller`] runner.

pub mod backoff;
pub mod metrics;
pub mod queue;
pub mod workqueue;

#[cfg(test)]
mod tests;

use std::fmt::{Debug, Display};
use std::future::Future;
use std::hash::Hash;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::Instant;

pub use backoff::{Backoff, BackoffConfig};
pub use metrics::Metrics;
pub use workqueue::WorkQueue;

/// What to do with a key after a successful reconcile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Reconcile the key again after this delay (e.g. a deadline to watch).
    RequeueAfter(Duration),
    /// Nothing to do until a watch adds the key again.
    AwaitChange,
}

/// A controller's reconcile function.
pub trait Reconcile: Send + Sync + 'static {
    /// What the queue holds, e.g. a job id.
    type Key: Clone + Eq + Hash + Debug + Send + Sync + 'static;
    /// Errors are logged and the key is retried with backoff.
    type Error: Display + Send + 'static;

    /// Converges the object named by `key` towards its desired state.
    fn reconcile(
        &self,
        key: &Self::Key,
    ) -> impl Future<Output = Result<Action, Self::Error>> + Send;
}

/// Returns the keys to re-add on every resync.
pub type KeysFn<K> = Arc<dyn Fn() -> Vec<K> + Send + Sync>;

/// Runs a reconciler on a queue with a number of workers and, optionally, a
/// periodic resync.
pub struct Controller<R: Reconcile> {
    reconciler: Arc<R>,
    queue: WorkQueue<R::Key>,
    workers: usize,
    resync: Option<(Duration, KeysFn<R::Key>)>,
}

impl<R: Reconcile> Controller<R> {
    /// A controller with `workers` workers (at least one).
    pub fn new(reconciler: Arc<R>, queue: WorkQueue<R::Key>, workers: usize) -> Self {
        Self {
            reconciler,
            queue,
            workers: workers.max(1),
            resync: None,
        }
    }

    /// Every `period`, adds all the keys `keys` returns (a safety net for
    /// missed watch events). The first resync is one period after start.
    pub fn with_resync(mut self, period: Duration, keys: KeysFn<R::Key>) -> Self {
        self.resync = Some((period, keys));
        self
    }

    /// Runs until `shutdown` becomes `true` (or its sender is dropped), then
    /// shuts the queue down and waits for the reconciles in flight.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let mut tasks = JoinSet::new();
        for _ in 0..self.workers {
            tasks.spawn(worker(Arc::clone(&self.reconciler), self.queue.clone()));
        }
        if let Some((period, keys)) = self.resync {
            tasks.spawn(resync(self.queue.clone(), period, keys, shutdown.clone()));
        }
        // An error means the sender is gone: nobody can keep us running.
        let _ = shutdown.wait_for(|stop| *stop).await;
        tracing::info!(controller = self.queue.name(), "controller shutting down");
        self.queue.shut_down();
        while let Some(joined) = tasks.join_next().await {
            if let Err(err) = joined {
                tracing::error!(controller = self.queue.name(), %err, "controller task failed");
            }
        }
    }
}

/// Runs `reconciler` on `queue` with `workers` workers until `shutdown`.
pub async fn run<R: Reconcile>(
    reconciler: Arc<R>,
    queue: WorkQueue<R::Key>,
    workers: usize,
    shutdown: watch::Receiver<bool>,
) {
    Controller::new(reconciler, queue, workers)
        .run(shutdown)
        .await;
}

async fn worker<R: Reconcile>(reconciler: Arc<R>, queue: WorkQueue<R::Key>) {
    while let Some(key) = queue.get().await {
        process(&*reconciler, &queue, &key).await;
        queue.done(&key);
    }
}

async fn process<R: Reconcile>(reconciler: &R, queue: &WorkQueue<R::Key>, key: &R::Key) {
    let m = queue.metrics();
    let started = Instant::now();
    // A panicking reconcile must not leave its key marked processing forever.
    let outcome = AssertUnwindSafe(reconciler.reconcile(key))
        .catch_unwind()
        .await;
    m.reconcile_duration
        .observe(started.elapsed().as_secs_f64());
    let error = match outcome {
        Ok(Ok(Action::AwaitChange)) => {
            m.reconcile_total
                .with_label_values(&[metrics::RESULT_SUCCESS])
                .inc();
            queue.forget(key);
            return;
        }
        Ok(Ok(Action::RequeueAfter(delay))) => {
            m.reconcile_total
                .with_label_values(&[metrics::RESULT_REQUEUE])
                .inc();
            queue.forget(key);
            queue.add_after(key.clone(), delay);
            return;
        }
        Ok(Err(err)) => err.to_string(),
        Err(_) => "reconcile panicked".to_owned(),
    };
    m.reconcile_total
        .with_label_values(&[metrics::RESULT_ERROR])
        .inc();
    m.reconcile_errors.inc();
    let delay = queue.add_rate_limited(key.clone());
    tracing::warn!(
        controller = queue.name(),
        ?key,
        error = %error,
        retry_in = ?delay,
        "reconcile failed"
    );
}

async fn resync<K: Clone + Eq + Hash>(
    queue: WorkQueue<K>,
    period: Duration,
    keys: KeysFn<K>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut ticks = tokio::time::interval_at(Instant::now() + period, period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.wait_for(|stop| *stop) => return,
            _ = ticks.tick() => {
                for key in keys() {
                    queue.add(key);
                }
            }
        }
    }
}
