//! `drover server`'s garbage collection and etcd compaction flags.

use std::time::Duration;

use drover_controllers::context::GcOptions;
use drover_controllers::gc::Thresholds;

use crate::commands::cluster_args::parse_duration;

#[derive(Debug, Clone, clap::Args)]
pub struct GcArgs {
    /// Time between garbage collection passes.
    #[arg(long, default_value = "1m", value_parser = parse_duration)]
    gc_interval: Duration,
    /// A stopped, replaced or orphaned terminal allocation is deleted this long after it finished.
    #[arg(long, default_value = "1h", value_parser = parse_duration)]
    alloc_gc_threshold: Duration,
    /// A stopped job, or a dead batch job, is deleted this long after it finished.
    #[arg(long, default_value = "4h", value_parser = parse_duration)]
    job_gc_threshold: Duration,
    /// A finished deployment (not a job's latest) is deleted this long after it ended.
    #[arg(long, default_value = "1h", value_parser = parse_duration)]
    deployment_gc_threshold: Duration,
    /// Versions kept per job (plus the current, the latest stable and any in use).
    #[arg(long, default_value_t = 6)]
    job_versions_kept: usize,
    /// Time between etcd compactions, each to the revision of the one before (0: never).
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    etcd_compaction_interval: Duration,
}

impl GcArgs {
    pub fn options(&self) -> GcOptions {
        GcOptions {
            interval: self.gc_interval.max(Duration::from_millis(100)),
            thresholds: Thresholds {
                alloc: self.alloc_gc_threshold,
                job: self.job_gc_threshold,
                deployment: self.deployment_gc_threshold,
                versions_kept: self.job_versions_kept,
                ..Thresholds::default()
            },
            compaction_interval: self.etcd_compaction_interval,
        }
    }
}
