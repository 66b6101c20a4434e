//! Prometheus metrics of one controller and its work queue.
//!
//! Every metric carries a constant `controller` label, so several controllers
//! can register on one [`Registry`]. Names follow the controller-runtime /
//! workqueue conventions (see DESIGN.md, "Conventions: Metrics").

use prometheus::{Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts, Registry};

/// The `result` label values of `drover_controller_reconcile_total`.
pub const RESULT_SUCCESS: &str = "success";
pub const RESULT_ERROR: &str = "error";
pub const RESULT_REQUEUE: &str = "requeue";

const DURATION_BUCKETS: &[f64] = &[
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// The metrics handles; cheap to clone.
#[derive(Clone, Debug)]
pub struct Metrics {
    pub reconcile_total: IntCounterVec,
    pub reconcile_errors: IntCounter,
    pub reconcile_duration: Histogram,
    pub depth: IntGauge,
    pub adds: IntCounter,
    pub queue_duration: Histogram,
    pub retries: IntCounter,
}

impl Metrics {
    /// Creates the metrics of `controller` and registers them on `registry`.
    pub fn register(controller: &str, registry: &Registry) -> prometheus::Result<Self> {
        let opts =
            |name: &str, help: &str| Opts::new(name, help).const_label("controller", controller);
        let hopts = |name: &str, help: &str| {
            HistogramOpts::new(name, help)
                .const_label("controller", controller)
                .buckets(DURATION_BUCKETS.to_vec())
        };
        let metrics = Self {
            reconcile_total: IntCounterVec::new(
                opts(
                    "drover_controller_reconcile_total",
                    "Reconciles by result (success, error, requeue).",
                ),
                &["result"],
            )?,
            reconcile_errors: IntCounter::with_opts(opts(
                "drover_controller_reconcile_errors_total",
                "Reconciles that returned an error.",
            ))?,
            reconcile_duration: Histogram::with_opts(hopts(
                "drover_controller_reconcile_duration_seconds",
                "Time spent in one reconcile.",
            ))?,
            depth: IntGauge::with_opts(opts(
                "drover_workqueue_depth",
                "Keys waiting for a worker.",
            ))?,
            adds: IntCounter::with_opts(opts(
                "drover_workqueue_adds_total",
                "Keys added to the queue (deduplicated adds not counted).",
            ))?,
            queue_duration: Histogram::with_opts(hopts(
                "drover_workqueue_queue_duration_seconds",
                "Time a key waits in the queue before a worker takes it.",
            ))?,
            retries: IntCounter::with_opts(opts(
                "drover_workqueue_retries_total",
                "Keys re-queued with backoff after an error.",
            ))?,
        };
        registry.register(Box::new(metrics.reconcile_total.clone()))?;
        registry.register(Box::new(metrics.reconcile_errors.clone()))?;
        registry.register(Box::new(metrics.reconcile_duration.clone()))?;
        registry.register(Box::new(metrics.depth.clone()))?;
        registry.register(Box::new(metrics.adds.clone()))?;
        registry.register(Box::new(metrics.queue_duration.clone()))?;
        registry.register(Box::new(metrics.retries.clone()))?;
        Ok(metrics)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_controllers_share_a_registry() {
        let registry = Registry::new();
        let a = Metrics::register("jobs", &registry).expect("jobs");
        let b = Metrics::register("nodes", &registry).expect("nodes");
        a.adds.inc();
        b.adds.inc_by(2);
        assert!(Metrics::register("jobs", &registry).is_err());
        let adds: Vec<_> = registry
            .gather()
            .into_iter()
            .filter(|f| f.name() == "drover_workqueue_adds_total")
            .collect();
        assert_eq!(adds.len(), 1);
        assert_eq!(adds[0].get_metric().len(), 2);
    }
}
