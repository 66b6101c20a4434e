//! Garbage collection and compaction metrics.

use prometheus::{Histogram, HistogramOpts, IntCounterVec, IntGauge, Opts, Registry};

/// Registered once per process and shared by every leadership term.
#[derive(Clone)]
pub struct GcMetrics {
    /// `drover_gc_collected_total{kind}`: objects deleted, by kind
    /// (allocation, job, deployment, job_version, leftover, orphan_part).
    pub collected: IntCounterVec,
    /// `drover_gc_pass_duration_seconds`: one pass, snapshot to commit.
    pub pass_duration: Histogram,
    /// `drover_etcd_compacted_revision`: the revision etcd was last
    /// compacted to by this server.
    pub compacted_revision: IntGauge,
}

impl GcMetrics {
    pub fn register(registry: &Registry) -> prometheus::Result<Self> {
        let collected = IntCounterVec::new(
            Opts::new(
                "drover_gc_collected_total",
                "Objects deleted by garbage collection, by kind.",
            ),
            &["kind"],
        )?;
        let pass_duration = Histogram::with_opts(
            HistogramOpts::new(
                "drover_gc_pass_duration_seconds",
                "Duration of one garbage collection pass (snapshot, plan, commit).",
            )
            .buckets(vec![
                0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
            ]),
        )?;
        let compacted_revision = IntGauge::new(
            "drover_etcd_compacted_revision",
            "The revision etcd's history was last compacted to by this server.",
        )?;
        registry.register(Box::new(collected.clone()))?;
        registry.register(Box::new(pass_duration.clone()))?;
        registry.register(Box::new(compacted_revision.clone()))?;
        Ok(Self {
            collected,
            pass_duration,
            compacted_revision,
        })
    }
}
