//! Latency and errors of every etcd request this process makes.
//!
//! The collectors are process-wide (every [`Store`](crate::Store) handle in
//! a process talks to the same etcd, and a binary serves one `/metrics`),
//! created on first use, so this crate needs no registry of its own: the
//! binary that serves `/metrics` calls [`register`] with its registry.
//! Recording is on whether or not anyone registered them.

use std::sync::LazyLock;
use std::time::Duration;

use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry};

/// Seconds; etcd answers in milliseconds, a slow disk or a lost leader
/// takes seconds, and the request timeout caps the tail.
const BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

struct EtcdMetrics {
    duration: HistogramVec,
    errors: IntCounterVec,
}

static METRICS: LazyLock<EtcdMetrics> = LazyLock::new(|| EtcdMetrics {
    // The options are constants (checked by the tests below), so these
    // cannot fail at run time.
    duration: HistogramVec::new(
        HistogramOpts::new(
            "drover_etcd_request_duration_seconds",
            "Time of one etcd request (errors and timeouts included), by operation.",
        )
        .buckets(BUCKETS.to_vec()),
        &["operation"],
    )
    .expect("constant histogram options are valid"),
    errors: IntCounterVec::new(
        Opts::new(
            "drover_etcd_request_errors_total",
            "etcd requests that failed or timed out, by operation.",
        ),
        &["operation"],
    )
    .expect("constant counter options are valid"),
});

/// Registers the etcd metrics on `registry`. Registering them twice on
/// the same registry is not an error (several components of one process
/// may each ask).
pub fn register(registry: &Registry) -> prometheus::Result<()> {
    for collector in [
        Box::new(METRICS.duration.clone()) as Box<dyn prometheus::core::Collector>,
        Box::new(METRICS.errors.clone()),
    ] {
        match registry.register(collector) {
            Ok(()) | Err(prometheus::Error::AlreadyReg) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The `operation` label of an operation name (`lease keepalive` →
/// `lease_keepalive`): label values without spaces are easier to query.
pub fn operation_label(op: &str) -> String {
    op.replace(' ', "_")
}

/// Records one request.
pub(crate) fn observe(op: &str, elapsed: Duration, ok: bool) {
    let label = operation_label(op);
    METRICS
        .duration
        .with_label_values(&[label.as_str()])
        .observe(elapsed.as_secs_f64());
    if !ok {
        METRICS.errors.with_label_values(&[label.as_str()]).inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registers_twice_and_records() {
        let registry = Registry::new();
        register(&registry).expect("first");
        register(&registry).expect("second is a no-op");
        observe("lease keepalive", Duration::from_millis(3), false);
        let families = registry.gather();
        let errors = families
            .iter()
            .find(|f| f.name() == "drover_etcd_request_errors_total")
            .expect("errors family");
        let metric = errors
            .get_metric()
            .iter()
            .find(|m| m.get_label().iter().any(|l| l.value() == "lease_keepalive"))
            .expect("lease_keepalive series");
        assert!(metric.get_counter().value() >= 1.0);
        assert!(families
            .iter()
            .any(|f| f.name() == "drover_etcd_request_duration_seconds"));
    }

    #[test]
    fn operation_labels_have_no_spaces() {
        assert_eq!(operation_label("get"), "get");
        assert_eq!(operation_label("lease revoke"), "lease_revoke");
    }
}
