//! Placement metrics: `drover_placement_allocations_placed_total`,
//! `drover_placement_failed_total{reason}` and
//! `drover_placement_pass_duration_seconds`.
//!
//! A failure's reason texts name constraints, ports and volumes, far too
//! many values for a label; [`reason_class`] maps each to a small fixed
//! set. One allocation left unplaced by a pass counts once, under the class
//! that rejected the most nodes for its group ([`dominant_class`]), so the
//! sum over reasons is the number of failed placement attempts (a queued
//! allocation counts again at each pass that retries it).

use drover_api_types::job::PlacementFailure;
use prometheus::{Histogram, HistogramOpts, IntCounter, IntCounterVec, Opts, Registry};

use super::PassPlan;

/// The class of a group with no node at all to evaluate.
pub const NO_NODES: &str = "no_nodes";

/// The class of a group held back by its namespace's quota alone.
pub const QUOTA: &str = "quota";

const BUCKETS: &[f64] = &[
    0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// The low-cardinality class of a reason text (see `feasibility` and
/// `resources` for the texts).
pub fn reason_class(text: &str) -> &'static str {
    match text {
        "node not ready" | "node ineligible" | "node draining" => "node_status",
        "datacenter" => "datacenter",
        "node pool" => "pool",
        "cpu" => "cpu",
        "memory" => "memory",
        "distinct_hosts" => "distinct_hosts",
        t if t.starts_with("port ") || t == "dynamic port" => "port",
        t if t.starts_with("constraint ") => "constraint",
        t if t.starts_with("distinct_property ") => "distinct_property",
        t if t.starts_with("missing driver ")
            || t.starts_with("driver ")
            || t.starts_with("driver.docker: ") =>
        {
            "driver"
        }
        t if t.starts_with("missing host volume ") => "volume",
        _ => "other",
    }
}

/// The class that rejected the most nodes for a group (ties go to the
/// class first in name order, so the answer is stable); when no node was
/// rejected, [`QUOTA`] if the namespace's quota held it back, else
/// [`NO_NODES`].
pub fn dominant_class(failure: &PlacementFailure) -> &'static str {
    let mut by_class: std::collections::BTreeMap<&'static str, u64> = Default::default();
    for (text, nodes) in failure
        .nodes_filtered
        .iter()
        .chain(failure.dimensions_exhausted.iter())
    {
        *by_class.entry(reason_class(text)).or_default() += nodes;
    }
    let mut best: Option<(&'static str, u64)> = None;
    for (class, nodes) in by_class {
        if best.is_none_or(|(_, most)| nodes > most) {
            best = Some((class, nodes));
        }
    }
    match best {
        Some((class, _)) => class,
        None if failure.quota_exhausted.is_some() => QUOTA,
        None => NO_NODES,
    }
}

/// The placement controller's metrics; cheap to clone.
#[derive(Clone, Debug)]
pub struct PlacementMetrics {
    pub placed: IntCounter,
    pub failed: IntCounterVec,
    pub pass_duration: Histogram,
}

impl PlacementMetrics {
    pub fn register(registry: &Registry) -> prometheus::Result<Self> {
        let metrics = Self {
            placed: IntCounter::new(
                "drover_placement_allocations_placed_total",
                "Allocations bound to a node (bindings committed).",
            )?,
            failed: IntCounterVec::new(
                Opts::new(
                    "drover_placement_failed_total",
                    "Allocations a placement pass could not place, by the class of reason that rejected the most nodes.",
                ),
                &["reason"],
            )?,
            pass_duration: Histogram::with_opts(
                HistogramOpts::new(
                    "drover_placement_pass_duration_seconds",
                    "Time to compute one job's placement pass (feasibility and scoring; commit excluded).",
                )
                .buckets(BUCKETS.to_vec()),
            )?,
        };
        registry.register(Box::new(metrics.placed.clone()))?;
        registry.register(Box::new(metrics.failed.clone()))?;
        registry.register(Box::new(metrics.pass_duration.clone()))?;
        Ok(metrics)
    }

    /// Counts the allocations a pass left unplaced.
    pub fn record_failures(&self, plan: &PassPlan) {
        for failure in plan.failures.values() {
            if failure.queued > 0 {
                self.failed
                    .with_label_values(&[dominant_class(failure)])
                    .inc_by(failure.queued);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reason_texts_map_to_few_classes() {
        let cases = [
            ("node not ready", "node_status"),
            ("node draining", "node_status"),
            ("datacenter", "datacenter"),
            ("node pool", "pool"),
            ("constraint ${attr.kernel.name} = windows", "constraint"),
            ("missing driver \"docker\"", "driver"),
            ("driver \"docker\" unhealthy", "driver"),
            ("driver.docker: volumes disabled", "driver"),
            ("missing host volume \"data\"", "volume"),
            ("distinct_hosts", "distinct_hosts"),
            ("distinct_property ${meta.rack}", "distinct_property"),
            ("cpu", "cpu"),
            ("memory", "memory"),
            ("port 80", "port"),
            ("dynamic port", "port"),
            ("something new", "other"),
        ];
        for (text, class) in cases {
            assert_eq!(reason_class(text), class, "{text}");
        }
    }

    #[test]
    fn the_class_rejecting_most_nodes_wins() {
        let mut failure = PlacementFailure::default();
        assert_eq!(dominant_class(&failure), NO_NODES);
        let held_back = PlacementFailure {
            quota_exhausted: Some("quota web exhausted: allocations 2/2 used, 1 asked".into()),
            ..Default::default()
        };
        assert_eq!(dominant_class(&held_back), QUOTA);
        failure.nodes_filtered.insert("constraint a = b".into(), 2);
        failure.nodes_filtered.insert("constraint c = d".into(), 2);
        failure.dimensions_exhausted.insert("memory".into(), 3);
        assert_eq!(dominant_class(&failure), "constraint");
        failure.dimensions_exhausted.insert("memory".into(), 5);
        assert_eq!(dominant_class(&failure), "memory");
        // A tie goes to the first class by name.
        failure.nodes_filtered.insert("datacenter".into(), 5);
        assert_eq!(dominant_class(&failure), "datacenter");
    }

    #[test]
    fn failures_count_queued_allocations() {
        let metrics = PlacementMetrics::register(&Registry::new()).expect("register");
        let mut plan = PassPlan::default();
        let mut failure = PlacementFailure {
            queued: 3,
            ..Default::default()
        };
        failure.dimensions_exhausted.insert("port 80".into(), 1);
        plan.failures.insert("web".into(), failure);
        metrics.record_failures(&plan);
        assert_eq!(metrics.failed.with_label_values(&["port"]).get(), 3);
    }
}
