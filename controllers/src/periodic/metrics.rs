//! Periodic job metrics, per `{namespace, job_id}` of a periodic parent
//! (not `job`: Prometheus keeps that label for the scrape job and would
//! rename ours to `exported_job`):
//! `drover_periodic_last_launch_timestamp_seconds`,
//! `drover_periodic_last_success_timestamp_seconds`,
//! `drover_periodic_next_launch_timestamp_seconds`,
//! `drover_periodic_launches_total` and
//! `drover_periodic_skipped_total{reason}`.
//!
//! The gauges mirror the launch record after each reconcile, so a new
//! leader reports them as soon as it has looked at each parent; a parent
//! that is deleted, or stops being periodic, loses its series. The
//! counters count what this server did while leading.

use drover_api_types::children::PeriodicLaunch;
use prometheus::{GaugeVec, IntCounterVec, Opts, Registry};

/// Why a launch was skipped (the `reason` label).
pub const SKIP_OVERLAP: &str = "overlap";

#[derive(Clone)]
pub struct PeriodicMetrics {
    last_launch: GaugeVec,
    last_success: GaugeVec,
    next_launch: GaugeVec,
    launches: IntCounterVec,
    skipped: IntCounterVec,
}

impl PeriodicMetrics {
    pub fn register(registry: &Registry) -> prometheus::Result<Self> {
        let gauge = |name: &str, help: &str| -> prometheus::Result<GaugeVec> {
            let g = GaugeVec::new(Opts::new(name, help), &["namespace", "job_id"])?;
            registry.register(Box::new(g.clone()))?;
            Ok(g)
        };
        let launches = IntCounterVec::new(
            Opts::new(
                "drover_periodic_launches_total",
                "Children this server launched on a periodic job's schedule.",
            ),
            &["namespace", "job_id"],
        )?;
        registry.register(Box::new(launches.clone()))?;
        let skipped = IntCounterVec::new(
            Opts::new(
                "drover_periodic_skipped_total",
                "Scheduled launches skipped (reason=overlap: prohibit_overlap and a child still running).",
            ),
            &["namespace", "job_id", "reason"],
        )?;
        registry.register(Box::new(skipped.clone()))?;
        Ok(Self {
            last_launch: gauge(
                "drover_periodic_last_launch_timestamp_seconds",
                "Unix time of a periodic job's latest launch (scheduled or forced).",
            )?,
            last_success: gauge(
                "drover_periodic_last_success_timestamp_seconds",
                "Unix launch time of a periodic job's latest child that completed successfully.",
            )?,
            next_launch: gauge(
                "drover_periodic_next_launch_timestamp_seconds",
                "Unix time of a periodic job's next scheduled launch (absent while disabled or stopped).",
            )?,
            launches,
            skipped,
        })
    }

    /// Sets the gauges of one parent from its record.
    pub fn observe(&self, ns: &str, job: &str, record: &PeriodicLaunch) {
        let labels = [ns, job];
        let set = |g: &GaugeVec, t: Option<chrono::DateTime<chrono::Utc>>| match t {
            Some(t) => g.with_label_values(&labels).set(t.timestamp() as f64),
            None => {
                let _ = g.remove_label_values(&labels);
            }
        };
        set(&self.last_launch, record.last_launch);
        set(&self.last_success, record.last_success);
        set(&self.next_launch, record.next_launch);
    }

    pub fn launched(&self, ns: &str, job: &str) {
        self.launches.with_label_values(&[ns, job]).inc();
    }

    pub fn skipped(&self, ns: &str, job: &str, reason: &str) {
        self.skipped.with_label_values(&[ns, job, reason]).inc();
    }

    /// Drops every series of a parent that is gone or no longer periodic.
    pub fn forget(&self, ns: &str, job: &str) {
        let labels = [ns, job];
        for g in [&self.last_launch, &self.last_success, &self.next_launch] {
            let _ = g.remove_label_values(&labels);
        }
        let _ = self.launches.remove_label_values(&labels);
        let _ = self.skipped.remove_label_values(&[ns, job, SKIP_OVERLAP]);
    }
}
