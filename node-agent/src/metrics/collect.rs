//! The usage sampler: every [`EVERY`], one Docker stats call per running
//! container of this node's allocations, then
//! [`AgentMetrics::publish`](super::AgentMetrics::publish) and
//! [`AgentMetrics::remember`](super::AgentMetrics::remember).

use std::sync::Arc;
use std::time::Duration;

use bollard::models::ContainerStatsResponse;
use tokio::sync::watch;

use super::{Published, Sample};
use crate::driver::labels;
use crate::worker::Shared;

/// How often usage is sampled and the per-allocation series refreshed.
pub const EVERY: Duration = Duration::from_secs(10);

/// CPU nanoseconds and memory bytes of one stats answer (pure); `None`
/// when it carries no CPU counter (a container that stopped meanwhile).
///
/// Memory is what `docker stats` shows: usage minus the inactive page
/// cache (`inactive_file` on cgroup v2, `total_inactive_file` on v1),
/// which the kernel reclaims before it would OOM-kill.
pub fn usage_of(stats: &ContainerStatsResponse) -> Option<(u64, u64)> {
    let cpu = stats.cpu_stats.as_ref()?.cpu_usage.as_ref()?.total_usage?;
    let memory = stats.memory_stats.as_ref().map_or(0, |m| {
        let usage = m.usage.unwrap_or(0);
        let cache = m.stats.as_ref().map_or(0, |s| {
            s.get("inactive_file")
                .or_else(|| s.get("total_inactive_file"))
                .copied()
                .unwrap_or(0)
        });
        usage.saturating_sub(cache)
    });
    Some((cpu, memory))
}

/// The node's MHz per core (0 when unknown), to turn a CPU rate in
/// percent of a core into MHz (pure).
pub fn core_mhz(resources: &drover_api_types::node::NodeResources) -> f64 {
    if resources.cores <= 0 || resources.cpu <= 0 {
        return 0.0;
    }
    resources.cpu as f64 / resources.cores as f64
}

/// Samples and publishes every [`EVERY`] until `shutdown`.
pub async fn run(shared: Arc<Shared>, mut shutdown: watch::Receiver<bool>) {
    let mut published = Published::default();
    let mut tick = tokio::time::interval(EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.wait_for(|s| *s) => return,
            _ = tick.tick() => {}
        }
        let reports = shared.metrics.reports();
        let samples = sample(&shared).await;
        shared.metrics.publish(&reports, &samples, &mut published);
        let core_mhz = core_mhz(&shared.node.borrow().spec.resources);
        shared
            .metrics
            .remember(&reports, &samples, chrono::Utc::now(), core_mhz);
    }
}

/// One sample per running container of this node; a container whose
/// stats fail is left out this round (its usage series go until the next
/// sample: a missing value is better than a stale one).
async fn sample(shared: &Shared) -> Vec<Sample> {
    let node_id = shared.node.borrow().metadata.uid.clone();
    let containers = match shared
        .docker
        .list((labels::NODE_ID, node_id.as_str()))
        .await
    {
        Ok(c) => c,
        Err(e) => {
            tracing::debug!(error = %e, "metrics: docker list failed");
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for c in containers.into_iter().filter(|c| c.running) {
        let (Some(alloc), Some(task)) =
            (c.labels.get(labels::ALLOC_ID), c.labels.get(labels::TASK))
        else {
            continue;
        };
        match shared.docker.stats(&c.id).await {
            Ok(Some(stats)) => {
                if let Some((cpu_nanos, memory_bytes)) = usage_of(&stats) {
                    out.push(Sample {
                        alloc_id: alloc.clone(),
                        task: task.clone(),
                        container_id: c.id.clone(),
                        cpu_nanos,
                        memory_bytes,
                    });
                }
            }
            Ok(None) => {}
            Err(e) => {
                tracing::debug!(container = %c.name, error = %e, "metrics: docker stats failed")
            }
        }
    }
    out
}
