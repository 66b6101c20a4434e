//! An allocation's CPU and memory use: the recent samples a node's agent
//! keeps (`GET /v1/client/stats/{alloc}` on the agent), and the answer of
//! the server's `GET /v1/client/allocation/{id}/stats` built from them —
//! Nomad's `AllocResourceUsage` for the latest values (so Nomad's clients
//! read it), with the samples added under `History`.
//!
//! CPU is a rate: the growth of the container's cumulative CPU time
//! between two samples over the time between them, in percent of one
//! core (100 = one core kept busy; more on several cores), and the same
//! in MHz of the node's cores (percent × the node's MHz per core / 100),
//! drover's unit for a task's `cpu`. A container's first sample has no
//! rate. Memory is bytes in use without the page cache the kernel can
//! reclaim (what `docker stats` shows). Pure.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// How many samples an agent keeps per task: 5 minutes at one sample
/// every 10 s.
pub const KEPT_SAMPLES: usize = 30;

/// One sample of one task's container.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct UsageSample {
    pub time: DateTime<Utc>,
    /// Percent of one core since the previous sample; none for a
    /// container's first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_percent: Option<f64>,
    /// The same rate in MHz of the node's cores.
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "CpuMHz")]
    pub cpu_mhz: Option<f64>,
    pub memory_bytes: u64,
}

/// One task's recent samples, oldest first, and what it may use.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "PascalCase", default)]
pub struct TaskUsage {
    /// The task's `cpu`, MHz (a share under contention, not a cap).
    #[serde(rename = "CpuReservedMHz")]
    pub cpu_reserved_mhz: i64,
    /// The container's memory limit (`memory_max` when set, else
    /// `memory`), bytes.
    pub memory_limit_bytes: i64,
    pub samples: Vec<UsageSample>,
}

/// The agent's answer: each task's samples, a sample every
/// `interval_seconds`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "PascalCase", default)]
pub struct AgentAllocStats {
    #[serde(rename = "AllocID")]
    pub alloc_id: String,
    pub interval_seconds: u64,
    pub tasks: BTreeMap<String, TaskUsage>,
}

/// Nomad's `MemoryStats`; drover fills `RSS` and `Usage` (both the bytes
/// in use without reclaimable page cache) and names them in `Measured`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "PascalCase", default)]
pub struct MemoryStats {
    #[serde(rename = "RSS")]
    pub rss: u64,
    pub cache: u64,
    pub swap: u64,
    pub usage: u64,
    pub max_usage: u64,
    pub kernel_usage: u64,
    pub kernel_max_usage: u64,
    pub measured: Vec<String>,
}

/// Nomad's `CpuStats`; drover fills `Percent` (of one core) and
/// `TotalTicks` (MHz, as Nomad's are).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "PascalCase", default)]
pub struct CpuStats {
    pub system_mode: f64,
    pub user_mode: f64,
    pub total_ticks: f64,
    pub throttled_periods: u64,
    pub throttled_time: u64,
    pub percent: f64,
    pub measured: Vec<String>,
}

/// Nomad's `ResourceUsage`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "PascalCase", default)]
pub struct ResourceUsage {
    pub memory_stats: MemoryStats,
    pub cpu_stats: CpuStats,
    pub device_stats: Vec<serde_json::Value>,
}

/// Nomad's `TaskResourceUsage`: one task's latest sample.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "PascalCase", default)]
pub struct TaskResourceUsage {
    pub resource_usage: ResourceUsage,
    /// Unix nanoseconds (0: no sample yet).
    pub timestamp: i64,
    pub pids: Option<serde_json::Value>,
}

/// `GET /v1/client/allocation/{id}/stats`: Nomad's `AllocResourceUsage`
/// (the allocation's figures are its tasks' latest, added up) plus
/// `History`, each task's recent samples.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "PascalCase", default)]
pub struct AllocResourceUsage {
    pub resource_usage: ResourceUsage,
    pub tasks: BTreeMap<String, TaskResourceUsage>,
    /// Unix nanoseconds of the latest sample (0: none yet).
    pub timestamp: i64,
    /// drover's addition: per task, its samples (oldest first) and limits.
    pub history: BTreeMap<String, TaskUsage>,
    /// Seconds between two samples.
    pub interval_seconds: u64,
}

const MEASURED_MEMORY: [&str; 2] = ["RSS", "Usage"];
const MEASURED_CPU: [&str; 2] = ["Percent", "Total Ticks"];

fn usage_of(sample: Option<&UsageSample>) -> ResourceUsage {
    let memory = sample.map_or(0, |s| s.memory_bytes);
    let percent = sample.and_then(|s| s.cpu_percent).unwrap_or(0.0);
    let mhz = sample.and_then(|s| s.cpu_mhz).unwrap_or(0.0);
    ResourceUsage {
        memory_stats: MemoryStats {
            rss: memory,
            usage: memory,
            measured: MEASURED_MEMORY.map(str::to_string).to_vec(),
            ..MemoryStats::default()
        },
        cpu_stats: CpuStats {
            percent,
            total_ticks: mhz,
            measured: MEASURED_CPU.map(str::to_string).to_vec(),
            ..CpuStats::default()
        },
        device_stats: Vec::new(),
    }
}

fn nanos(time: Option<DateTime<Utc>>) -> i64 {
    time.and_then(|t| t.timestamp_nanos_opt()).unwrap_or(0)
}

/// The server's answer from the agent's (pure).
pub fn resource_usage(agent: AgentAllocStats) -> AllocResourceUsage {
    let mut total = usage_of(None);
    let mut tasks = BTreeMap::new();
    let mut latest: Option<DateTime<Utc>> = None;
    for (name, usage) in &agent.tasks {
        let last = usage.samples.last();
        let task = usage_of(last);
        total.memory_stats.rss += task.memory_stats.rss;
        total.memory_stats.usage += task.memory_stats.usage;
        total.cpu_stats.percent += task.cpu_stats.percent;
        total.cpu_stats.total_ticks += task.cpu_stats.total_ticks;
        let at = last.map(|s| s.time);
        latest = latest.max(at);
        tasks.insert(
            name.clone(),
            TaskResourceUsage {
                resource_usage: task,
                timestamp: nanos(at),
                pids: None,
            },
        );
    }
    AllocResourceUsage {
        resource_usage: total,
        tasks,
        timestamp: nanos(latest),
        history: agent.tasks,
        interval_seconds: agent.interval_seconds,
    }
}

/// The agent's URL for an allocation's samples (pure); `https` when the
/// agent serves TLS.
pub fn agent_url(http_addr: &str, tls: bool, alloc: &str) -> Option<reqwest::Url> {
    let scheme = if tls { "https" } else { "http" };
    let mut url = reqwest::Url::parse(&format!("{scheme}://{http_addr}/")).ok()?;
    url.path_segments_mut()
        .ok()?
        .clear()
        .extend(["v1", "client", "stats", alloc]);
    Some(url)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn sample(secs: i64, cpu: Option<f64>, memory: u64) -> UsageSample {
        UsageSample {
            time: Utc.timestamp_opt(secs, 0).single().expect("time"),
            cpu_percent: cpu,
            cpu_mhz: cpu.map(|p| p * 20.0),
            memory_bytes: memory,
        }
    }

    #[test]
    fn the_answer_is_nomads_shape_with_the_latest_values_added_up() {
        let mut agent = AgentAllocStats {
            alloc_id: "a1".into(),
            interval_seconds: 10,
            tasks: BTreeMap::new(),
        };
        agent.tasks.insert(
            "web".into(),
            TaskUsage {
                cpu_reserved_mhz: 500,
                memory_limit_bytes: 256 << 20,
                samples: vec![sample(100, None, 10), sample(110, Some(5.0), 20)],
            },
        );
        agent.tasks.insert(
            "log".into(),
            TaskUsage {
                samples: vec![sample(105, Some(1.0), 3)],
                ..TaskUsage::default()
            },
        );
        agent.tasks.insert("idle".into(), TaskUsage::default());
        let answer = resource_usage(agent.clone());
        assert_eq!(answer.resource_usage.memory_stats.rss, 23);
        assert_eq!(answer.resource_usage.cpu_stats.percent, 6.0);
        assert_eq!(answer.resource_usage.cpu_stats.total_ticks, 120.0);
        assert_eq!(answer.timestamp, 110_000_000_000);
        assert_eq!(answer.tasks["web"].timestamp, 110_000_000_000);
        assert_eq!(answer.tasks["idle"].timestamp, 0);
        assert_eq!(answer.history, agent.tasks);
        let json = serde_json::to_value(&answer).expect("json");
        for path in [
            "/ResourceUsage/MemoryStats/RSS",
            "/ResourceUsage/CpuStats/Percent",
            "/ResourceUsage/CpuStats/TotalTicks",
            "/Tasks/web/ResourceUsage/MemoryStats/Usage",
            "/Tasks/web/Timestamp",
            "/History/web/Samples/1/CpuMHz",
            "/History/web/MemoryLimitBytes",
            "/Timestamp",
        ] {
            assert!(json.pointer(path).is_some(), "{path} in {json}");
        }
        // A first sample has no rate, and says so by leaving it out.
        assert!(json.pointer("/History/web/Samples/0/CpuPercent").is_none());
    }

    #[test]
    fn the_agent_url_escapes_the_id() {
        let url = agent_url("10.0.0.5:4647", false, "a/1").expect("url");
        assert_eq!(url.as_str(), "http://10.0.0.5:4647/v1/client/stats/a%2F1");
        assert!(agent_url("not a host", true, "a").is_none());
        let tls = agent_url("10.0.0.5:4647", true, "a").expect("url");
        assert_eq!(tls.scheme(), "https");
    }
}
