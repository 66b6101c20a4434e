//! Tests of the async runtime.
//!
//! They run on tokio's paused clock, which jumps straight to the next timer,
//! so the timings asserted are exact and no test waits in real time.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use prometheus::Registry;
use tokio::time::sleep;

use super::*;

/// What one reconcile does: how long it takes and what it returns.
struct Step {
    takes: Duration,
    result: Result<Action, String>,
}

type Script = Box<dyn Fn(&str, u32) -> Step + Send + Sync>;

/// A reconciler that follows a script and records what happened.
struct Recorder {
    script: Script,
    epoch: Instant,
    /// (key, start ms, end ms) per reconcile.
    log: Mutex<Vec<(String, u128, u128)>>,
    attempts: Mutex<HashMap<String, u32>>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    per_key: Mutex<HashMap<String, usize>>,
    max_per_key: AtomicUsize,
}

impl Recorder {
    fn new(script: impl Fn(&str, u32) -> Step + Send + Sync + 'static) -> Arc<Self> {
        Arc::new(Self {
            script: Box::new(script),
            epoch: Instant::now(),
            log: Mutex::new(Vec::new()),
            attempts: Mutex::new(HashMap::new()),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
            per_key: Mutex::new(HashMap::new()),
            max_per_key: AtomicUsize::new(0),
        })
    }

    fn ms(&self) -> u128 {
        self.epoch.elapsed().as_millis()
    }

    fn log(&self) -> Vec<(String, u128, u128)> {
        self.log.lock().expect("log").clone()
    }

    fn starts(&self, key: &str) -> Vec<u128> {
        self.log()
            .into_iter()
            .filter(|(k, _, _)| k == key)
            .map(|(_, s, _)| s)
            .collect()
    }

    fn bump_key(&self, key: &str, up: bool) {
        let mut per_key = self.per_key.lock().expect("per_key");
        let n = per_key.entry(key.to_owned()).or_insert(0);
        if up {
            *n += 1;
            self.max_per_key.fetch_max(*n, Ordering::SeqCst);
        } else {
            *n -= 1;
        }
    }
}

impl Reconcile for Recorder {
    type Key = String;
    type Error = String;

    async fn reconcile(&self, key: &String) -> Result<Action, String> {
        let attempt = {
            let mut attempts = self.attempts.lock().expect("attempts");
            let n = attempts.entry(key.clone()).or_insert(0);
            *n += 1;
            *n
        };
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        self.bump_key(key, true);
        let start = self.ms();
        let step = (self.script)(key, attempt);
        sleep(step.takes).await;
        self.bump_key(key, false);
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        self.log
            .lock()
            .expect("log")
            .push((key.clone(), start, self.ms()));
        step.result
    }
}

fn ok(takes_ms: u64) -> Step {
    Step {
        takes: Duration::from_millis(takes_ms),
        result: Ok(Action::AwaitChange),
    }
}

fn fail() -> Step {
    Step {
        takes: Duration::ZERO,
        result: Err("boom".to_owned()),
    }
}

fn requeue(after_ms: u64) -> Step {
    Step {
        takes: Duration::ZERO,
        result: Ok(Action::RequeueAfter(Duration::from_millis(after_ms))),
    }
}

fn new_queue(registry: &Registry) -> WorkQueue<String> {
    let backoff = BackoffConfig {
        base: Duration::from_millis(50),
        max: Duration::from_millis(400),
        jitter: 0.0,
        seed: 7,
    };
    WorkQueue::new("test", backoff, registry).expect("queue")
}

/// Millisecond rounding only: the paused clock fires timers on time.
const SLACK_MS: u128 = 1;

fn assert_near(actual: &[u128], expected: &[u128]) {
    assert_eq!(actual.len(), expected.len(), "{actual:?} vs {expected:?}");
    for (a, e) in actual.iter().zip(expected) {
        assert!(
            *a + 1 >= *e && *a <= e + SLACK_MS,
            "{actual:?} not near {expected:?}"
        );
    }
}

/// Runs `controller` for `for_ms`, then shuts it down.
async fn run_for<R: Reconcile>(controller: Controller<R>, for_ms: u64) {
    let (tx, rx) = watch::channel(false);
    let handle = tokio::spawn(controller.run(rx));
    sleep(Duration::from_millis(for_ms)).await;
    tx.send(true).expect("controller alive");
    handle.await.expect("controller task");
}

#[tokio::test(start_paused = true)]
async fn duplicate_adds_make_one_reconcile() {
    let registry = Registry::new();
    let queue = new_queue(&registry);
    let rec = Recorder::new(|_, _| ok(0));
    for _ in 0..3 {
        queue.add("a".to_owned());
    }
    run_for(Controller::new(Arc::clone(&rec), queue.clone(), 2), 100).await;
    assert_eq!(rec.log().len(), 1);
    assert_eq!(queue.metrics().adds.get(), 1);
}

#[tokio::test(start_paused = true)]
async fn one_key_is_never_reconciled_concurrently() {
    let registry = Registry::new();
    let queue = new_queue(&registry);
    let rec = Recorder::new(|_, _| ok(200));
    queue.add("a".to_owned());
    let (tx, rx) = watch::channel(false);
    let handle = tokio::spawn(run(Arc::clone(&rec), queue.clone(), 4, rx));
    sleep(Duration::from_millis(50)).await;
    queue.add("a".to_owned()); // while the first reconcile runs
    queue.add("a".to_owned()); // deduplicated with the one above
    sleep(Duration::from_millis(600)).await;
    tx.send(true).expect("controller alive");
    handle.await.expect("controller task");
    let log = rec.log();
    assert_eq!(log.len(), 2, "{log:?}");
    assert!(log[1].1 >= log[0].2, "overlap: {log:?}");
    assert_eq!(rec.max_per_key.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn concurrency_is_bounded_by_workers() {
    let registry = Registry::new();
    let queue = new_queue(&registry);
    let rec = Recorder::new(|_, _| ok(100));
    for i in 0..10 {
        queue.add(format!("k{i}"));
    }
    run_for(Controller::new(Arc::clone(&rec), queue.clone(), 3), 800).await;
    assert_eq!(rec.log().len(), 10);
    assert_eq!(rec.max_in_flight.load(Ordering::SeqCst), 3);
    // 10 reconciles of 100 ms on 3 workers: four rounds.
    let last_end = rec.log().iter().map(|e| e.2).max().unwrap_or(0);
    assert!(last_end >= 400, "{last_end}");
}

#[tokio::test(start_paused = true)]
async fn errors_back_off_exponentially_up_to_the_cap() {
    let registry = Registry::new();
    let queue = new_queue(&registry);
    let rec = Recorder::new(|_, _| fail());
    queue.add("a".to_owned());
    run_for(Controller::new(Arc::clone(&rec), queue.clone(), 2), 1_350).await;
    let starts = rec.starts("a");
    let gaps: Vec<u128> = starts.windows(2).map(|w| w[1] - w[0]).take(5).collect();
    assert_near(&gaps, &[50, 100, 200, 400, 400]);
    assert!(queue.failures(&"a".to_owned()) >= 6);
    assert_eq!(
        queue.metrics().retries.get(),
        u64::from(queue.failures(&"a".to_owned()))
    );
}

#[tokio::test(start_paused = true)]
async fn success_resets_backoff_and_requeue_after_is_honoured() {
    let registry = Registry::new();
    let queue = new_queue(&registry);
    let rec = Recorder::new(|_, attempt| match attempt {
        1 | 2 | 4 => fail(),
        3 => requeue(300),
        _ => ok(0),
    });
    queue.add("a".to_owned());
    run_for(Controller::new(Arc::clone(&rec), queue.clone(), 1), 900).await;
    let starts = rec.starts("a");
    let gaps: Vec<u128> = starts.windows(2).map(|w| w[1] - w[0]).collect();
    // fail, +50 fail, +100 requeue, +300 fail, +50 (reset) success.
    assert_near(&gaps, &[50, 100, 300, 50]);
    assert_eq!(queue.failures(&"a".to_owned()), 0);
}

#[tokio::test(start_paused = true)]
async fn resync_re_adds_all_keys_every_period() {
    let registry = Registry::new();
    let queue = new_queue(&registry);
    let rec = Recorder::new(|_, _| ok(0));
    let keys: KeysFn<String> = Arc::new(|| vec!["a".to_owned(), "b".to_owned()]);
    let controller = Controller::new(Arc::clone(&rec), queue.clone(), 2)
        .with_resync(Duration::from_millis(200), keys);
    run_for(controller, 500).await;
    assert_near(&rec.starts("a"), &[200, 400]);
    assert_near(&rec.starts("b"), &[200, 400]);
}

#[tokio::test(start_paused = true)]
async fn shutdown_stops_workers_after_in_flight_reconciles() {
    let registry = Registry::new();
    let queue = new_queue(&registry);
    let rec = Recorder::new(|_, _| ok(300));
    queue.add("a".to_owned());
    queue.add("b".to_owned());
    let (tx, rx) = watch::channel(false);
    let handle = tokio::spawn(run(Arc::clone(&rec), queue.clone(), 1, rx));
    sleep(Duration::from_millis(100)).await;
    tx.send(true).expect("controller alive");
    handle.await.expect("controller task");
    // "a" was finished before run returned; "b" was never started.
    let log = rec.log();
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!(log[0].0, "a");
    assert!(rec.epoch.elapsed() >= Duration::from_millis(300));
    assert!(queue.is_shut_down());
    queue.add("c".to_owned());
    assert!(queue.get().await.is_none());
}

#[tokio::test(start_paused = true)]
async fn dropped_shutdown_sender_stops_the_controller() {
    let registry = Registry::new();
    let queue = new_queue(&registry);
    let rec = Recorder::new(|_, _| ok(0));
    let (tx, rx) = watch::channel(false);
    drop(tx);
    run(rec, queue.clone(), 2, rx).await;
    assert!(queue.is_shut_down());
}

#[tokio::test(start_paused = true)]
async fn metrics_count_a_run() {
    let registry = Registry::new();
    let queue = new_queue(&registry);
    let rec = Recorder::new(|key, attempt| match (key, attempt) {
        ("err", 1) => fail(),
        ("rq", 1) => requeue(100),
        _ => ok(10),
    });
    for key in ["ok", "err", "rq", "ok"] {
        queue.add(key.to_owned());
    }
    run_for(Controller::new(Arc::clone(&rec), queue.clone(), 2), 500).await;
    let m = queue.metrics();
    let total = |result: &str| m.reconcile_total.with_label_values(&[result]).get();
    assert_eq!(total(metrics::RESULT_SUCCESS), 3);
    assert_eq!(total(metrics::RESULT_ERROR), 1);
    assert_eq!(total(metrics::RESULT_REQUEUE), 1);
    assert_eq!(m.reconcile_errors.get(), 1);
    assert_eq!(m.retries.get(), 1);
    // Three distinct adds, plus the retry of "err" and the requeue of "rq".
    assert_eq!(m.adds.get(), 5);
    assert_eq!(m.reconcile_duration.get_sample_count(), 5);
    assert_eq!(m.queue_duration.get_sample_count(), 5);
    assert_eq!(m.depth.get(), 0);
    let families = registry.gather();
    let names: Vec<&str> = families.iter().map(|f| f.name()).collect();
    for name in [
        "drover_controller_reconcile_total",
        "drover_controller_reconcile_errors_total",
        "drover_controller_reconcile_duration_seconds",
        "drover_workqueue_depth",
        "drover_workqueue_adds_total",
        "drover_workqueue_queue_duration_seconds",
        "drover_workqueue_retries_total",
    ] {
        assert!(names.contains(&name), "{name} not registered: {names:?}");
    }
}
