//! Latency and errors of every etcd request this process makes, and the
//! health of each etcd endpoint and which one is in use.
//!
//! The collectors are process-wide (every [`Store`](crate::Store) handle in
//! a process talks to the same etcd, and a binary serves one `/metrics`),
//! created on first use, so this crate needs no registry of its own: the
//! binary that serves `/metrics` calls [`register`] with its registry.
//! Recording is on whether or not anyone registered them.

use std::sync::LazyLock;
use std::time::Duration;

use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry};

/// Seconds; etcd answers in milliseconds, a slow disk or a lost leader
/// takes seconds, and the request timeout caps the tail.
const BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

struct EtcdMetrics {
    duration: HistogramVec,
    errors: IntCounterVec,
    endpoint_up: IntGaugeVec,
    endpoint_preferred: IntGaugeVec,
    failovers: IntCounterVec,
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
    endpoint_up: IntGaugeVec::new(
        Opts::new(
            "drover_etcd_endpoint_up",
            "1 if the etcd endpoint answered its last health probe or request, 0 if it \
             could not be reached or could not serve; absent until first heard of.",
        ),
        &["endpoint"],
    )
    .expect("constant gauge options are valid"),
    endpoint_preferred: IntGaugeVec::new(
        Opts::new(
            "drover_etcd_endpoint_preferred",
            "1 for the etcd endpoint requests go to first, 0 for the others.",
        ),
        &["endpoint"],
    )
    .expect("constant gauge options are valid"),
    failovers: IntCounterVec::new(
        Opts::new(
            "drover_etcd_endpoint_failovers_total",
            "Times the preferred etcd endpoint changed, by the endpoint left.",
        ),
        &["endpoint"],
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
        Box::new(METRICS.endpoint_up.clone()),
        Box::new(METRICS.endpoint_preferred.clone()),
        Box::new(METRICS.failovers.clone()),
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

/// Records whether `endpoint` is up.
pub(crate) fn set_endpoint_up(endpoint: &str, up: bool) {
    METRICS
        .endpoint_up
        .with_label_values(&[endpoint])
        .set(i64::from(up));
}

/// Records that requests now go to `to` first; `from` is the endpoint
/// left (`None` when the first endpoint is chosen at connect).
pub(crate) fn set_preferred(from: Option<&str>, to: &str) {
    if let Some(from) = from {
        METRICS.endpoint_preferred.with_label_values(&[from]).set(0);
        METRICS.failovers.with_label_values(&[from]).inc();
    }
    METRICS.endpoint_preferred.with_label_values(&[to]).set(1);
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
    fn records_endpoint_health_and_preference() {
        let registry = Registry::new();
        register(&registry).expect("register");
        set_endpoint_up("http://metrics-test-a:2379", false);
        set_preferred(None, "http://metrics-test-a:2379");
        set_preferred(
            Some("http://metrics-test-a:2379"),
            "http://metrics-test-b:2379",
        );
        let families = registry.gather();
        let series = |name: &str, endpoint: &str| {
            families
                .iter()
                .find(|f| f.name() == name)
                .and_then(|f| {
                    f.get_metric()
                        .iter()
                        .find(|m| m.get_label().iter().any(|l| l.value() == endpoint))
                        .cloned()
                })
                .unwrap_or_else(|| panic!("no {name} series for {endpoint}"))
        };
        let a = "http://metrics-test-a:2379";
        let b = "http://metrics-test-b:2379";
        assert_eq!(
            series("drover_etcd_endpoint_up", a).get_gauge().value(),
            0.0
        );
        assert_eq!(
            series("drover_etcd_endpoint_preferred", a)
                .get_gauge()
                .value(),
            0.0
        );
        assert_eq!(
            series("drover_etcd_endpoint_preferred", b)
                .get_gauge()
                .value(),
            1.0
        );
        assert!(
            series("drover_etcd_endpoint_failovers_total", a)
                .get_counter()
                .value()
                >= 1.0
        );
    }

    #[test]
    fn operation_labels_have_no_spaces() {
        assert_eq!(operation_label("get"), "get");
        assert_eq!(operation_label("lease revoke"), "lease_revoke");
    }
}
