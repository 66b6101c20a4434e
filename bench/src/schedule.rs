//! `drover-bench schedule`: how fast a real server places allocations on
//! simulated nodes, end to end through etcd.
//!
//! It starts its own etcd (unless `--etcd` is given), measures that etcd's
//! raw write ceiling, runs `drover server` as a child process (so its peak
//! RSS is the server's alone), registers simulated nodes in this process,
//! applies jobs totalling `--allocs` allocations, and times until every
//! allocation is reported running.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use drover_api_types::alloc::{AllocationStatus, ClientStatus};
use drover_api_types::{mock, Job};
use drover_store::watch::Change;
use drover_store::{RawEvent, Store, Versioned, WatchEvent};
use futures::StreamExt;
use serde_json::json;

use super::fleet::{Etcd, Fleet, FleetConfig};
use super::measure::{percentile, round2, tempdir};
use crate::measure::parse_duration;

#[derive(Debug, clap::Args)]
pub struct ScheduleArgs {
    /// Simulated nodes.
    #[arg(long, default_value_t = 1000)]
    nodes: usize,
    /// Allocations in total, over jobs of `--job-size` each.
    #[arg(long, default_value_t = 10000)]
    allocs: usize,
    /// Allocations per job (the last job takes the remainder).
    #[arg(long, default_value_t = 1000)]
    job_size: usize,
    /// Use this etcd instead of starting one (a unique prefix is used).
    #[arg(long = "etcd", value_delimiter = ',')]
    etcd: Vec<String>,
    /// Give up after this long.
    #[arg(long, default_value = "600s", value_parser = parse_duration)]
    timeout: Duration,
    /// End with one line of JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: &ScheduleArgs) -> anyhow::Result<std::process::ExitCode> {
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let report = runtime.block_on(schedule(args))?;
    report.print(args.json);
    Ok(if report.placed == report.allocs {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    })
}

struct Report {
    nodes: usize,
    allocs: usize,
    placed: usize,
    seconds: f64,
    p50_ms: f64,
    p99_ms: f64,
    server_rss_mb: f64,
    etcd_ceiling: f64,
    /// Seconds from apply until every allocation existed, and was bound.
    created_seconds: Option<f64>,
    bound_seconds: Option<f64>,
}

impl Report {
    fn print(&self, json: bool) {
        let rate = self.placed as f64 / self.seconds.max(1e-9);
        println!("nodes:                      {}", self.nodes);
        println!(
            "allocations:                {} ({} running)",
            self.allocs, self.placed
        );
        let phase = |s: Option<f64>| s.map_or("-".to_string(), |s| format!("{s:.2}"));
        println!(
            "seconds to all created:     {}",
            phase(self.created_seconds)
        );
        println!("seconds to all bound:       {}", phase(self.bound_seconds));
        println!("seconds to all running:     {:.2}", self.seconds);
        println!("placements per second:      {rate:.0}");
        println!(
            "per-allocation p50 / p99:   {:.0} ms / {:.0} ms",
            self.p50_ms, self.p99_ms
        );
        println!("server peak RSS:            {:.0} MB", self.server_rss_mb);
        println!(
            "etcd write ceiling:         {:.0} writes/s",
            self.etcd_ceiling
        );
        if json {
            let line = json!({
                "nodes": self.nodes,
                "allocs": self.allocs,
                "seconds": round2(self.seconds),
                "placements_per_sec": round2(rate),
                "p50_ms": round2(self.p50_ms),
                "p99_ms": round2(self.p99_ms),
                "server_rss_mb": round2(self.server_rss_mb),
                "etcd_ceiling_writes_per_sec": round2(self.etcd_ceiling),
                "created_seconds": self.created_seconds.map(round2),
                "bound_seconds": self.bound_seconds.map(round2),
            });
            println!("{line}");
        }
    }
}

async fn schedule(args: &ScheduleArgs) -> anyhow::Result<Report> {
    if args.nodes == 0 || args.allocs == 0 || args.job_size == 0 {
        bail!("--nodes, --allocs and --job-size must be positive");
    }
    let scratch = tempdir()?;
    let etcd = Etcd::connect(&args.etcd, "schedule").await?;

    eprintln!("measuring the etcd write ceiling...");
    let etcd_ceiling = write_ceiling(&etcd.store).await?;

    let fleet = Fleet::start(
        etcd,
        &scratch,
        FleetConfig {
            nodes: args.nodes,
            node_prefix: "bench",
            server_flags: Vec::new(),
            ready_within: Duration::from_secs(120),
        },
        None,
    )
    .await?;
    let store = fleet.etcd.store.clone();

    eprintln!("applying {} allocations...", args.allocs);
    let mut running = store.watch_prefix::<Versioned<AllocationStatus>>(
        &store.keys().collection("allocations-status"),
    );
    // The first event is the (empty) initial list.
    let _ = running.next().await;
    let applied = Instant::now();
    let created = phase(&store, "allocations", args.allocs, applied);
    let bound = phase(&store, "allocations-binding", args.allocs, applied);
    apply_jobs(&store, args.allocs, args.job_size).await?;

    let first_running = until_running(&mut running, args.allocs, applied, args.timeout).await;
    let seconds = applied.elapsed().as_secs_f64();
    let server_rss_mb = fleet.server.peak_rss_mb();
    let created_seconds = phase_seconds(created).await;
    let bound_seconds = phase_seconds(bound).await;
    fleet.stop().await;
    let _ = std::fs::remove_dir_all(&scratch);

    let mut latencies: Vec<f64> = first_running
        .values()
        .map(|d| d.as_secs_f64() * 1000.0)
        .collect();
    latencies.sort_by(f64::total_cmp);
    Ok(Report {
        nodes: args.nodes,
        allocs: args.allocs,
        placed: first_running.len(),
        seconds,
        p50_ms: percentile(&latencies, 0.50),
        p99_ms: percentile(&latencies, 0.99),
        server_rss_mb,
        etcd_ceiling,
        created_seconds,
        bound_seconds,
    })
}

/// The watch of allocation statuses [`until_running`] reads; open it
/// before applying, and drop its first event (the initial list).
pub type StatusWatch = drover_store::watch::Watcher<Versioned<AllocationStatus>>;

/// When each allocation was first reported running, from `since`, until
/// `allocs` are or `timeout` passes (then it says how far it got).
pub async fn until_running(
    running: &mut StatusWatch,
    allocs: usize,
    since: Instant,
    timeout: Duration,
) -> HashMap<String, Duration> {
    let mut first_running: HashMap<String, Duration> = HashMap::with_capacity(allocs);
    let deadline = tokio::time::Instant::now() + timeout;
    while first_running.len() < allocs {
        let next = tokio::time::timeout_at(deadline, running.next()).await;
        let Ok(Some(event)) = next else {
            eprintln!(
                "stopped waiting: {} of {allocs} running",
                first_running.len()
            );
            break;
        };
        if let Ok(WatchEvent::Applied { key, object }) = event {
            if object.value.client_status == ClientStatus::Running {
                first_running.entry(key).or_insert_with(|| since.elapsed());
            }
        }
    }
    first_running
}

/// Counts the keys created under a collection; returns the time from
/// `since` until `total` exist (or `None` if the watch ended first).
fn phase(
    store: &Store,
    collection: &str,
    total: usize,
    since: Instant,
) -> tokio::task::JoinHandle<Option<Duration>> {
    let mut watch = store.watch_raw(&store.keys().collection(collection));
    tokio::spawn(async move {
        let mut seen = std::collections::HashSet::with_capacity(total);
        while let Some(event) = watch.next().await {
            if let RawEvent::Change(Change::Put(kv)) = event {
                seen.insert(kv.key);
                if seen.len() >= total {
                    return Some(since.elapsed());
                }
            }
        }
        None
    })
}

/// A phase's seconds, if it completed by now.
async fn phase_seconds(task: tokio::task::JoinHandle<Option<Duration>>) -> Option<f64> {
    if !task.is_finished() {
        task.abort();
        return None;
    }
    task.await.ok().flatten().map(|d| d.as_secs_f64())
}

/// Batched puts of 400-byte values for two seconds, four batches in flight:
/// what this etcd can take, the same way the controllers write.
async fn write_ceiling(store: &Store) -> anyhow::Result<f64> {
    let value = vec![b'x'; 400];
    let started = Instant::now();
    let mut written = 0usize;
    let mut round = 0usize;
    while started.elapsed() < Duration::from_secs(2) {
        let mut batches = Vec::new();
        for lane in 0..4 {
            let mut batch = store.batch();
            for i in 0..512 {
                let key = format!("{}/bench-ceiling/{round}-{lane}-{i}", store.keys().prefix());
                batch.put(key, value.clone());
            }
            batches.push(batch.commit(store));
        }
        for outcome in futures::future::join_all(batches).await {
            written += outcome.context("writing to etcd")?.applied;
        }
        round += 1;
    }
    let rate = written as f64 / started.elapsed().as_secs_f64();
    store
        .delete_prefix(&format!("{}/bench-ceiling/", store.keys().prefix()))
        .await
        .context("cleaning up")?;
    Ok(rate)
}

/// Registers jobs of `job_size` allocations (`bench-0000`, …) totalling
/// `allocs`, each with its version snapshot, straight into etcd.
pub async fn apply_jobs(store: &Store, allocs: usize, job_size: usize) -> anyhow::Result<()> {
    let mut left = allocs;
    let mut n = 0;
    while left > 0 {
        let count = left.min(job_size);
        let mut job = bench_job(n, count);
        job.metadata.submit_time = Some(chrono::Utc::now());
        drover_store::jobs::commit_job_version(store, &job, Vec::new())
            .await
            .context("applying a job")?;
        left -= count;
        n += 1;
    }
    Ok(())
}

fn bench_job(n: usize, count: usize) -> Job {
    mock::job(
        &format!("bench-{n:04}"),
        i64::try_from(count).unwrap_or(i64::MAX),
    )
}
