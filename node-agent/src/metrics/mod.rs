//! The agent's Prometheus metrics, served on its HTTP API at `/metrics`.
//!
//! - Counters the workers bump as things happen: container starts, task
//!   restarts, OOM kills; heartbeat failures and etcd connectivity from
//!   the registration.
//! - What each worker last reported of its allocation ([`AllocReport`]:
//!   client status, the tasks' limits, check results), kept in memory and
//!   forgotten when the worker ends.
//! - Per-allocation usage from Docker's stats, sampled on a timer by
//!   [`collect::run`] (not per scrape: a stats call per container per
//!   scrape would load Docker with the scrape rate); the last few minutes
//!   of it kept per task ([`history`]) for `GET /v1/client/stats/{alloc}`.
//!
//! [`AgentMetrics::publish`] turns reports and samples into series, and
//! removes the series of allocations, tasks and checks that are gone, so
//! the number of series stays bounded by what runs on the node.
//!
//! Per-allocation series carry `namespace`, `drover_job`, `task_group`,
//! `task` and `alloc_id` (not `job`: Prometheus sets `job` to the scrape
//! job and would rename ours to `exported_job`).

pub mod collect;
pub mod history;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Mutex, PoisonError};

use drover_api_types::alloc::{AllocationStatus, ClientStatus};
use drover_api_types::{Allocation, Job};
use prometheus::{CounterVec, IntCounter, IntGauge, IntGaugeVec, Opts, Registry};

/// The labels of per-task series, in this order.
pub const TASK_LABELS: [&str; 5] = ["namespace", "drover_job", "task_group", "task", "alloc_id"];

/// The check statuses, each a series (1 for the current one).
pub const CHECK_STATUSES: [&str; 3] = ["passing", "warning", "critical"];

const CLIENT_STATUSES: [&str; 6] = [
    "pending", "running", "complete", "failed", "lost", "unknown",
];

/// One task's label values, in [`TASK_LABELS`] order.
pub type TaskSeries = [String; 5];

/// A check's label values: check, service, alloc_id.
pub type CheckSeries = [String; 3];

/// What a worker last said about its allocation.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AllocReport {
    pub namespace: String,
    pub job: String,
    pub group: String,
    pub client_status: ClientStatus,
    /// Per task: cpu (MHz) and memory limit (bytes) from the job.
    pub tasks: BTreeMap<String, TaskLimits>,
    /// Check id (`<service>/<check>`) → status.
    pub checks: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TaskLimits {
    pub cpu_mhz: i64,
    pub memory_bytes: i64,
}

/// One container's usage at a sample.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    pub alloc_id: String,
    pub task: String,
    pub container_id: String,
    /// Cumulative CPU time of the container, nanoseconds.
    pub cpu_nanos: u64,
    /// Memory in use without the page cache Docker's CLI leaves out too.
    pub memory_bytes: u64,
}

/// The report of an allocation as a worker sees it (pure): the tasks'
/// limits come from the job version it runs (the hard memory limit is
/// `memory_max` when set above `memory`, as the container gets it).
pub fn report_of(alloc: &Allocation, job: Option<&Job>, status: &AllocationStatus) -> AllocReport {
    let group = job.and_then(|j| {
        j.spec
            .groups
            .iter()
            .find(|g| g.name == alloc.spec.task_group)
    });
    let tasks = group
        .map(|g| {
            g.tasks
                .iter()
                .map(|t| {
                    let r = &t.resources;
                    let memory_mb = r
                        .memory_max
                        .filter(|max| *max > r.memory)
                        .unwrap_or(r.memory);
                    let limits = TaskLimits {
                        cpu_mhz: r.cpu,
                        memory_bytes: memory_mb.saturating_mul(1024 * 1024),
                    };
                    (t.name.clone(), limits)
                })
                .collect()
        })
        .unwrap_or_default();
    AllocReport {
        namespace: alloc.metadata.namespace.clone(),
        job: alloc.spec.job_id.clone(),
        group: alloc.spec.task_group.clone(),
        client_status: status.client_status,
        tasks,
        checks: status
            .checks
            .iter()
            .map(|c| (c.check_id.clone(), c.status.clone()))
            .collect(),
    }
}

/// The CPU seconds to add for `sample` given the previous sample of the
/// same task (pure): the growth of the same container's counter, or all of
/// a new container's (a restarted task, an adopted container).
pub fn cpu_delta_seconds(previous: Option<&(String, u64)>, sample: &Sample) -> f64 {
    let nanos = match previous {
        Some((id, before)) if *id == sample.container_id && sample.cpu_nanos >= *before => {
            sample.cpu_nanos - before
        }
        _ => sample.cpu_nanos,
    };
    nanos as f64 / 1e9
}

/// What was published at the last [`AgentMetrics::publish`], to remove
/// what has gone since.
#[derive(Debug, Default)]
pub struct Published {
    tasks: BTreeSet<TaskSeries>,
    usage: BTreeSet<TaskSeries>,
    checks: BTreeSet<CheckSeries>,
    /// Per task: the container and the CPU counter it had.
    cpu: HashMap<TaskSeries, (String, u64)>,
}

/// Every agent metric; shared by the workers, the collector and the HTTP
/// API.
#[derive(Debug)]
pub struct AgentMetrics {
    pub registry: Registry,
    pub container_starts: IntCounter,
    pub task_restarts: IntCounter,
    pub oom_kills: IntCounter,
    pub etcd_connected: IntGauge,
    pub heartbeat_failures: IntCounter,
    allocations: IntGaugeVec,
    cpu_usage: CounterVec,
    memory_usage: IntGaugeVec,
    memory_limit: IntGaugeVec,
    cpu_limit: IntGaugeVec,
    checks: IntGaugeVec,
    reports: Mutex<BTreeMap<String, AllocReport>>,
    /// Each running task's recent samples.
    history: Mutex<history::History>,
}

impl AgentMetrics {
    /// Creates the metrics and registers them on `registry` (which
    /// `/metrics` then serves, with whatever else the binary put there).
    pub fn register(registry: &Registry) -> prometheus::Result<Self> {
        let task_gauge =
            |name: &str, help: &str| IntGaugeVec::new(Opts::new(name, help), &TASK_LABELS);
        let metrics = Self {
            registry: registry.clone(),
            container_starts: IntCounter::new(
                "drover_agent_container_starts_total",
                "Containers started (created and started, or started again by a restart).",
            )?,
            task_restarts: IntCounter::new(
                "drover_agent_task_restarts_total",
                "Tasks restarted by their restart policy.",
            )?,
            oom_kills: IntCounter::new(
                "drover_agent_oom_kills_total",
                "Task exits Docker reported as OOM-killed.",
            )?,
            etcd_connected: IntGauge::new(
                "drover_agent_etcd_connected",
                "1 while the node is registered on a live heartbeat lease, else 0.",
            )?,
            heartbeat_failures: IntCounter::new(
                "drover_agent_heartbeat_failures_total",
                "Heartbeat attempts that failed (node write, lease grant) and leases lost.",
            )?,
            allocations: IntGaugeVec::new(
                Opts::new(
                    "drover_agent_allocations",
                    "Allocations on this node by client status.",
                ),
                &["client_status"],
            )?,
            cpu_usage: CounterVec::new(
                Opts::new(
                    "drover_alloc_cpu_usage_seconds_total",
                    "CPU time used by the task's container (sampled every 10 s).",
                ),
                &TASK_LABELS,
            )?,
            memory_usage: task_gauge(
                "drover_alloc_memory_usage_bytes",
                "Memory used by the task's container, page cache excluded (sampled every 10 s).",
            )?,
            memory_limit: task_gauge(
                "drover_alloc_memory_limit_bytes",
                "The task's memory limit (memory_max if set, else memory).",
            )?,
            cpu_limit: task_gauge(
                "drover_alloc_cpu_limit_mhz",
                "The task's cpu resource, MHz.",
            )?,
            checks: IntGaugeVec::new(
                Opts::new(
                    "drover_agent_check_status",
                    "Service check results: 1 for the check's current status, 0 for the others.",
                ),
                &["check", "service", "alloc_id", "status"],
            )?,
            reports: Mutex::new(BTreeMap::new()),
            history: Mutex::new(history::History::default()),
        };
        registry.register(Box::new(metrics.container_starts.clone()))?;
        registry.register(Box::new(metrics.task_restarts.clone()))?;
        registry.register(Box::new(metrics.oom_kills.clone()))?;
        registry.register(Box::new(metrics.etcd_connected.clone()))?;
        registry.register(Box::new(metrics.heartbeat_failures.clone()))?;
        registry.register(Box::new(metrics.allocations.clone()))?;
        registry.register(Box::new(metrics.cpu_usage.clone()))?;
        registry.register(Box::new(metrics.memory_usage.clone()))?;
        registry.register(Box::new(metrics.memory_limit.clone()))?;
        registry.register(Box::new(metrics.cpu_limit.clone()))?;
        registry.register(Box::new(metrics.checks.clone()))?;
        Ok(metrics)
    }

    /// Records what a worker knows of its allocation now.
    pub fn report(&self, alloc_id: &str, report: AllocReport) {
        self.lock().insert(alloc_id.to_string(), report);
    }

    /// The worker of `alloc_id` ended: its series go at the next publish.
    pub fn forget(&self, alloc_id: &str) {
        self.lock().remove(alloc_id);
    }

    /// A copy of the reports, by allocation id.
    pub fn reports(&self) -> BTreeMap<String, AllocReport> {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, AllocReport>> {
        // A panicked holder cannot leave the map half-written (single
        // inserts and removes), so its contents are still good.
        self.reports.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Keeps a round of `samples` taken at `at` in the tasks' recent
    /// history (see [`history::History::record`]).
    pub fn remember(
        &self,
        reports: &BTreeMap<String, AllocReport>,
        samples: &[Sample],
        at: chrono::DateTime<chrono::Utc>,
        core_mhz: f64,
    ) {
        self.history
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .record(reports, samples, at, core_mhz);
    }

    /// An allocation's recent usage, per task; `None` when no worker here
    /// reports it.
    pub fn usage_of(&self, alloc_id: &str) -> Option<drover_api::stats::AgentAllocStats> {
        let report = self.lock().get(alloc_id).cloned();
        // Read after the reports, never while holding their lock.
        self.history
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .of(alloc_id, report.as_ref(), collect::EVERY.as_secs())
    }

    /// Sets every per-allocation series from `reports` and `samples`
    /// (usage of running containers) and removes the series of whatever
    /// is no longer there.
    pub fn publish(
        &self,
        reports: &BTreeMap<String, AllocReport>,
        samples: &[Sample],
        published: &mut Published,
    ) {
        let (tasks, checks) = self.set_reports(reports);
        let (usage, cpu) = self.set_usage(reports, samples, &published.cpu);
        for gone in published.tasks.difference(&tasks) {
            let labels = refs(gone);
            let _ = self.memory_limit.remove_label_values(&labels);
            let _ = self.cpu_limit.remove_label_values(&labels);
        }
        // A task that stopped running loses its usage series (and its CPU
        // counter: a new container starts a new one).
        for gone in published.usage.difference(&usage) {
            let labels = refs(gone);
            let _ = self.cpu_usage.remove_label_values(&labels);
            let _ = self.memory_usage.remove_label_values(&labels);
        }
        for gone in published.checks.difference(&checks) {
            for known in CHECK_STATUSES {
                let _ = self
                    .checks
                    .remove_label_values(&[&gone[0], &gone[1], &gone[2], known]);
            }
        }
        *published = Published {
            tasks,
            usage,
            checks,
            cpu,
        };
    }

    /// Allocations by status, limits and checks; returns the task and
    /// check series set.
    fn set_reports(
        &self,
        reports: &BTreeMap<String, AllocReport>,
    ) -> (BTreeSet<TaskSeries>, BTreeSet<CheckSeries>) {
        let mut by_status: BTreeMap<&str, i64> = CLIENT_STATUSES.iter().map(|s| (*s, 0)).collect();
        let mut tasks = BTreeSet::new();
        let mut checks = BTreeSet::new();
        for (alloc_id, report) in reports {
            *by_status.entry(report.client_status.as_str()).or_default() += 1;
            for (task, limits) in &report.tasks {
                let series = task_series(alloc_id, report, task);
                let labels = refs(&series);
                self.memory_limit
                    .with_label_values(&labels)
                    .set(limits.memory_bytes);
                self.cpu_limit
                    .with_label_values(&labels)
                    .set(limits.cpu_mhz);
                tasks.insert(series);
            }
            for (check_id, status) in &report.checks {
                let (service, check) = check_id.split_once('/').unwrap_or(("", check_id));
                let series = [check.to_string(), service.to_string(), alloc_id.clone()];
                for known in CHECK_STATUSES {
                    let value = i64::from(known == status);
                    self.checks
                        .with_label_values(&[&series[0], &series[1], &series[2], known])
                        .set(value);
                }
                checks.insert(series);
            }
        }
        for (status, count) in by_status {
            self.allocations.with_label_values(&[status]).set(count);
        }
        (tasks, checks)
    }

    /// Usage of the sampled containers of reported allocations; returns
    /// the usage series set and each one's CPU counter, for next time.
    fn set_usage(
        &self,
        reports: &BTreeMap<String, AllocReport>,
        samples: &[Sample],
        previous_cpu: &HashMap<TaskSeries, (String, u64)>,
    ) -> (BTreeSet<TaskSeries>, HashMap<TaskSeries, (String, u64)>) {
        let mut usage = BTreeSet::new();
        let mut cpu = HashMap::new();
        for sample in samples {
            // A container whose worker is gone (or not reported yet) has
            // no labels to publish under.
            let Some(report) = reports.get(&sample.alloc_id) else {
                continue;
            };
            let series = task_series(&sample.alloc_id, report, &sample.task);
            let labels = refs(&series);
            let delta = cpu_delta_seconds(previous_cpu.get(&series), sample);
            self.cpu_usage.with_label_values(&labels).inc_by(delta);
            let memory = i64::try_from(sample.memory_bytes).unwrap_or(i64::MAX);
            self.memory_usage.with_label_values(&labels).set(memory);
            cpu.insert(
                series.clone(),
                (sample.container_id.clone(), sample.cpu_nanos),
            );
            usage.insert(series);
        }
        (usage, cpu)
    }
}

/// Forgets an allocation's report when its worker ends, whichever way it
/// ends (the worker has several returns).
pub struct ForgetOnDrop {
    metrics: std::sync::Arc<AgentMetrics>,
    alloc_id: Option<String>,
}

impl ForgetOnDrop {
    pub fn new(metrics: std::sync::Arc<AgentMetrics>) -> Self {
        Self {
            metrics,
            alloc_id: None,
        }
    }

    /// The allocation to forget (the first one set: a worker has one).
    pub fn set(&mut self, alloc_id: &str) {
        self.alloc_id.get_or_insert_with(|| alloc_id.to_string());
    }
}

impl Drop for ForgetOnDrop {
    fn drop(&mut self) {
        if let Some(id) = &self.alloc_id {
            self.metrics.forget(id);
        }
    }
}

fn task_series(alloc_id: &str, report: &AllocReport, task: &str) -> TaskSeries {
    [
        report.namespace.clone(),
        report.job.clone(),
        report.group.clone(),
        task.to_string(),
        alloc_id.to_string(),
    ]
}

fn refs(series: &[String; 5]) -> [&str; 5] {
    [
        series[0].as_str(),
        series[1].as_str(),
        series[2].as_str(),
        series[3].as_str(),
        series[4].as_str(),
    ]
}

#[cfg(test)]
mod tests;
