//! `drover-bench churn`: apply, update and stop many small jobs, and show
//! that garbage collection and compaction keep etcd bounded.
//!
//! It starts its own etcd (unless `--etcd` is given), `drover server` as a
//! child process with short GC thresholds (`0s`, two versions kept, a pass
//! every second, a compaction every 5 s) and simulated nodes in this
//! process. `--jobs` service jobs of one small allocation each are
//! registered through the HTTP API; once all run, each is updated (an
//! environment variable: a new allocation) and timed from its register
//! call returning to every allocation of the job being at the new version
//! and running (and, when a deployment of that version exists, to its
//! success). Then every job is stopped, and the bench waits until GC has
//! emptied the collections and the server has compacted past the
//! deletions; a defragmentation at the end shows the space is reclaimable.
//! etcd's database size (allocated and in use) and the key count under the
//! prefix are reported at each step.

#[path = "churn/sizes.rs"]
mod sizes;
#[path = "churn/track.rs"]
mod track;

use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use drover_api_types::task::Resources;
use drover_api_types::{mock, Job, JobType};
use futures::{stream, StreamExt};
use serde_json::{json, Value};

use super::fleet::{Etcd, Fleet, FleetConfig};
use super::measure::{percentile, round2, tempdir};
use crate::measure::free_addr;
use crate::measure::parse_duration;
use sizes::Sizes;
use track::lock;

#[derive(Debug, clap::Args)]
pub struct ChurnArgs {
    /// Jobs applied, updated and stopped.
    #[arg(long, default_value_t = 1000)]
    jobs: usize,
    /// Simulated nodes they run on.
    #[arg(long, default_value_t = 50)]
    nodes: usize,
    /// Register calls in flight at once.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Use this etcd instead of starting one (a unique prefix is used).
    #[arg(long = "etcd", value_delimiter = ',')]
    etcd: Vec<String>,
    /// Give up waiting for a phase after this long.
    #[arg(long, default_value = "300s", value_parser = parse_duration)]
    timeout: Duration,
    /// End with one line of JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: &ChurnArgs) -> anyhow::Result<std::process::ExitCode> {
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let report = runtime.block_on(measure(args))?;
    report.print(args.json);
    Ok(if report.complete() {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    })
}

/// Milliseconds, sorted.
struct Latencies(Vec<f64>);

impl Latencies {
    fn of(mut v: Vec<f64>) -> Self {
        v.sort_by(f64::total_cmp);
        Latencies(v)
    }

    fn json(&self) -> Value {
        let v = &self.0;
        json!({"count": v.len(), "p50_ms": round2(percentile(v, 0.5)), "p90_ms": round2(percentile(v, 0.9)),
               "p99_ms": round2(percentile(v, 0.99)), "max_ms": round2(v.last().copied().unwrap_or(0.0))})
    }

    fn line(&self, what: &str, of: usize) {
        let v = &self.0;
        println!(
            "{what:<30} {:>5}/{of}  p50 {:>7.1} ms  p90 {:>7.1} ms  p99 {:>7.1} ms  max {:>7.1} ms",
            v.len(),
            percentile(v, 0.5),
            percentile(v, 0.9),
            percentile(v, 0.99),
            v.last().copied().unwrap_or(0.0)
        );
    }
}

struct Report {
    jobs: usize,
    apply: Latencies,
    update: Latencies,
    deployment: Latencies,
    update_phase_s: f64,
    gc_wait_s: f64,
    sizes: Vec<(&'static str, Sizes)>,
}

impl Report {
    fn complete(&self) -> bool {
        self.update.0.len() == self.jobs
            && self
                .sizes
                .iter()
                .any(|(what, s)| *what == "after stop + GC" && s.gc_done())
    }

    fn print(&self, json: bool) {
        self.apply.line("apply → running:", self.jobs);
        self.update.line("update → new version running:", self.jobs);
        if self.deployment.0.is_empty() {
            println!("update → deployment successful:  no deployments were created");
        } else {
            self.deployment
                .line("update → deployment successful:", self.jobs);
        }
        println!(
            "update phase {:.1} s; stop → collections empty after {:.1} s",
            self.update_phase_s, self.gc_wait_s
        );
        for (what, s) in &self.sizes {
            println!("{what:<28} {}", s.line());
        }
        if json {
            let sizes: serde_json::Map<String, Value> = self
                .sizes
                .iter()
                .map(|(what, s)| (what.to_string(), s.json()))
                .collect();
            let line = json!({
                "jobs": self.jobs,
                "apply": self.apply.json(),
                "update": self.update.json(),
                "deployment": self.deployment.json(),
                "update_phase_s": round2(self.update_phase_s),
                "gc_wait_s": round2(self.gc_wait_s),
                "etcd": sizes,
            });
            println!("{line}");
        }
    }
}

async fn measure(args: &ChurnArgs) -> anyhow::Result<Report> {
    if args.jobs == 0 || args.nodes == 0 || args.concurrency == 0 {
        bail!("--jobs, --nodes and --concurrency must be positive");
    }
    let scratch = tempdir()?;
    let etcd = Etcd::connect(&args.etcd, "churn").await?;
    let mut sizes = vec![("start", Sizes::read(&etcd.store).await?)];

    let http = free_addr()?;
    let server_flags = [
        "--gc-interval=1s",
        "--alloc-gc-threshold=0s",
        "--job-gc-threshold=0s",
        "--deployment-gc-threshold=0s",
        "--job-versions-kept=2",
        "--etcd-compaction-interval=5s",
    ];
    let fleet = Fleet::start(
        etcd,
        &scratch,
        FleetConfig {
            nodes: args.nodes,
            node_prefix: "churn",
            server_flags: server_flags.iter().map(|f| f.to_string()).collect(),
            ready_within: Duration::from_secs(60),
        },
        Some(http),
    )
    .await?;
    let store = fleet.etcd.store.clone();
    let client = reqwest::Client::new();
    let base = format!("http://{http}");
    let (state, watch_task) = track::start(&store).await;

    eprintln!("applying {} jobs...", args.jobs);
    register_all(&client, &base, &state, args, "1").await?;
    let apply = wait_done(&state, args.jobs, args.timeout).await;
    sizes.push(("after apply", Sizes::read(&store).await?));

    eprintln!("updating {} jobs...", args.jobs);
    let started = Instant::now();
    register_all(&client, &base, &state, args, "2").await?;
    let update = wait_done(&state, args.jobs, args.timeout).await;
    let update_phase_s = started.elapsed().as_secs_f64();
    let deployment = wait_deployments(&state, args.timeout).await;
    sizes.push(("after updates", Sizes::read(&store).await?));

    eprintln!("stopping {} jobs and waiting for GC...", args.jobs);
    let started = Instant::now();
    stop_all(&client, &base, args).await?;
    let collected = sizes::wait_collected(&store, args.timeout).await?;
    let gc_wait_s = started.elapsed().as_secs_f64();
    sizes.push(("after stop + GC", collected));
    let metrics = format!("{base}/metrics");
    let revision = store.current_revision().await?;
    sizes::wait_compacted(&client, &metrics, revision, Duration::from_secs(30)).await;
    let compacted = sizes::wait_space_freed(&store, Duration::from_secs(30)).await?;
    sizes.push(("after compaction", compacted));
    sizes::defragment(&store).await?;
    sizes.push(("after defragment", Sizes::read(&store).await?));

    watch_task.abort();
    fleet.stop().await;
    let _ = std::fs::remove_dir_all(&scratch);
    Ok(Report {
        jobs: args.jobs,
        apply,
        update,
        deployment,
        update_phase_s,
        gc_wait_s,
        sizes,
    })
}

fn job_name(i: usize) -> String {
    format!("churn-{i:05}")
}

/// Registers every job with `CHURN=<generation>`, `concurrency` at a time;
/// each is timed from its call's return.
async fn register_all(
    client: &reqwest::Client,
    base: &str,
    state: &track::Shared,
    args: &ChurnArgs,
    generation: &str,
) -> anyhow::Result<()> {
    let calls = stream::iter(0..args.jobs)
        .map(|i| async move {
            let body = json!({ "job": churn_job(&job_name(i), generation) });
            let response = client
                .post(format!("{base}/v1/jobs"))
                .json(&body)
                .send()
                .await
                .context("registering a job")?;
            if !response.status().is_success() {
                let status = response.status();
                bail!(
                    "registering {}: {status}: {}",
                    job_name(i),
                    response.text().await.unwrap_or_default()
                );
            }
            let answer: Value = response
                .json()
                .await
                .context("reading the register answer")?;
            let version = answer["version"].as_u64().unwrap_or(0);
            lock(state).expect(&job_name(i), version);
            Ok(())
        })
        .buffer_unordered(args.concurrency);
    let results: Vec<anyhow::Result<()>> = calls.collect().await;
    results.into_iter().collect()
}

async fn stop_all(client: &reqwest::Client, base: &str, args: &ChurnArgs) -> anyhow::Result<()> {
    let calls = stream::iter(0..args.jobs)
        .map(|i| async move {
            let response = client
                .post(format!("{base}/v1/job/{}/stop", job_name(i)))
                .json(&json!({}))
                .send()
                .await
                .context("stopping a job")?;
            if !response.status().is_success() {
                bail!("stopping {}: {}", job_name(i), response.status());
            }
            Ok(())
        })
        .buffer_unordered(args.concurrency);
    let results: Vec<anyhow::Result<()>> = calls.collect().await;
    results.into_iter().collect()
}

/// Waits until `jobs` jobs are done (or the timeout); their latencies.
async fn wait_done(state: &track::Shared, jobs: usize, timeout: Duration) -> Latencies {
    let deadline = Instant::now() + timeout;
    while lock(state).done.len() < jobs && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Latencies::of(lock(state).done.values().copied().collect())
}

/// Waits for the deployments of the latest versions, if there are any.
async fn wait_deployments(state: &track::Shared, timeout: Duration) -> Latencies {
    let deadline = Instant::now() + timeout;
    loop {
        let (with, done) = {
            let s = lock(state);
            (s.with_deployment(), s.deployed.len())
        };
        if done >= with || Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Latencies::of(lock(state).deployed.values().copied().collect())
}

/// One small service job; `generation` lands in an environment variable,
/// so changing it needs new allocations.
fn churn_job(name: &str, generation: &str) -> Job {
    let mut task = mock::task("app");
    task.config
        .insert("image".into(), json!("drover-bench/churn:1"));
    task.env = [("CHURN".to_string(), generation.to_string())].into();
    task.resources = Resources {
        cpu: 10,
        memory: 16,
        ..Default::default()
    };
    let mut group = mock::group("app", 1);
    group.tasks = vec![task];
    mock::job_of(name, JobType::Service, vec![group])
}
