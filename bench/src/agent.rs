//! `drover-bench agent`: how fast one real agent turns a binding into a
//! running container on the local Docker, and how much memory it takes.
//!
//! It starts its own etcd (unless `--etcd` is given) and `drover agent` as
//! a child process (so its RSS is the agent's alone), and no server: it
//! writes the job, the allocations and their bindings itself, the way the
//! job and placement controllers do, so only the agent is measured.
//!
//! Two modes, each over `--allocs` allocations: a burst (all bound in one
//! batch) and paced (one bound every `--pace`, after the burst's are
//! stopped and gone). For each allocation it reports the time from the
//! binding write to Docker's `State.StartedAt` of its container and to the
//! agent's status write saying `running`.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{bail, Context as _};
use drover_api_types::alloc::{Binding, DesiredStatus};
use drover_api_types::task::DriverConfig;
use drover_api_types::{mock, Allocation, Job, JobType, ObjectMeta};
use drover_node_agent::driver::docker::Docker;
use drover_node_agent::driver::labels;
use drover_store::keys::collections as c;
use drover_store::{Atomic, Guard, Store, StoreConfig, Stored as _};
use serde_json::json;

use super::measure::{etcd_for, round2, tempdir, Summary};
use crate::measure::parse_duration;

/// Built locally from busybox-static: no registry is needed, and a pull
/// never counts towards start-up.
const IMAGE: &str = "drover-bench/busybox:1";
const NAMESPACE: &str = "default";
const JOB: &str = "bench-agent";
const GROUP: &str = "app";
const TASK: &str = "app";
/// A task that stops at once on SIGTERM: `sh` as PID 1 would ignore it and
/// make every stop wait for the kill timeout.
const SCRIPT: &str = "trap 'exit 0' TERM; sleep 3600 & wait";
const TASK_MEMORY_MB: i64 = 16;
const TASK_CPU_MHZ: i64 = 100;

#[derive(Debug, clap::Args)]
pub struct AgentArgs {
    /// Allocations per mode (burst, then paced).
    #[arg(long, default_value_t = 50)]
    allocs: usize,
    /// Time between bindings in the paced mode.
    #[arg(long, default_value = "250ms", value_parser = parse_duration)]
    pace: Duration,
    /// Use this etcd instead of starting one (a unique prefix is used).
    #[arg(long = "etcd", value_delimiter = ',')]
    etcd: Vec<String>,
    /// Give up waiting for a mode's allocations to run after this long.
    #[arg(long, default_value = "120s", value_parser = parse_duration)]
    timeout: Duration,
    /// End with one line of JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: &AgentArgs) -> anyhow::Result<std::process::ExitCode> {
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let report = runtime.block_on(bench(args))?;
    report.print(args.json);
    let complete = |m: &Mode| m.started.count == report.allocs && m.running.count == report.allocs;
    Ok(if complete(&report.burst) && complete(&report.paced) {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    })
}

/// One mode's latencies, in milliseconds from the binding write.
#[derive(Debug, Default)]
struct Mode {
    /// To Docker's `State.StartedAt`.
    started: Summary,
    /// To the agent's `running` status arriving on a watch.
    running: Summary,
}

struct Report {
    allocs: usize,
    pace: Duration,
    burst: Mode,
    paced: Mode,
    rss_idle_mb: f64,
    rss_loaded_mb: f64,
}

impl Report {
    fn print(&self, json: bool) {
        let line = |name: &str, s: &Summary| {
            println!(
                "{name:<35} {:>6.0} ms / {:>6.0} ms / {:>6.0} ms  ({} of {})",
                s.p50, s.p99, s.max, s.count, self.allocs
            );
        };
        println!("allocations per mode:               {}", self.allocs);
        println!("from the binding write to …           p50 /       p99 /       max");
        line("burst: container started", &self.burst.started);
        line("burst: status running", &self.burst.running);
        let pace = self.pace.as_millis();
        line(
            &format!("paced ({pace} ms): container started"),
            &self.paced.started,
        );
        line(
            &format!("paced ({pace} ms): status running"),
            &self.paced.running,
        );
        println!(
            "agent RSS idle:                     {:.1} MB",
            self.rss_idle_mb
        );
        println!(
            "agent RSS with {:<3} running:        {:.1} MB",
            self.allocs, self.rss_loaded_mb
        );
        if json {
            let mut out = serde_json::Map::new();
            out.insert("allocs".into(), json!(self.allocs));
            out.insert("pace_ms".into(), json!(self.pace.as_millis()));
            for (mode, m) in [("burst", &self.burst), ("paced", &self.paced)] {
                for (what, s) in [("started", &m.started), ("running", &m.running)] {
                    out.insert(format!("{mode}_{what}"), json!(s.count));
                    out.insert(format!("{mode}_{what}_p50_ms"), json!(round2(s.p50)));
                    out.insert(format!("{mode}_{what}_p99_ms"), json!(round2(s.p99)));
                    out.insert(format!("{mode}_{what}_max_ms"), json!(round2(s.max)));
                }
            }
            out.insert("agent_rss_idle_mb".into(), json!(round2(self.rss_idle_mb)));
            out.insert(
                "agent_rss_loaded_mb".into(),
                json!(round2(self.rss_loaded_mb)),
            );
            println!("{}", serde_json::Value::Object(out));
        }
    }
}

async fn bench(args: &AgentArgs) -> anyhow::Result<Report> {
    if args.allocs == 0 {
        bail!("--allocs must be positive");
    }
    let docker = Docker::new().context("connecting to Docker")?;
    let health = docker.health().await;
    if !health.healthy {
        bail!(
            "Docker is unreachable ({}): the agent bench runs real containers",
            health.description
        );
    }
    eprintln!("building the image {IMAGE} (docker import of busybox-static)...");
    tokio::task::spawn_blocking(|| drover_test_support::docker::busybox_image(IMAGE))
        .await
        .context("building the image")?
        .with_context(|| format!("building the image {IMAGE}"))?;

    let scratch = Scratch(tempdir()?);
    let result = bench_in(args, &scratch.0, &docker).await;
    if result.is_err() {
        print_tail(&scratch.0.join("agent.log"));
    }
    result
}

async fn bench_in(args: &AgentArgs, scratch: &Path, docker: &Docker) -> anyhow::Result<Report> {
    let (etcd, endpoints) = etcd_for(&args.etcd).await?;
    let prefix = format!("/drover-bench-agent-{}", std::process::id());
    let store = Store::connect(StoreConfig::new(endpoints.clone(), prefix.as_str()))
        .await
        .context("connecting to etcd")?;

    eprintln!("starting drover agent...");
    let mut agent = AgentProcess::start(&endpoints, &prefix, scratch)?;
    let node = agent
        .wait_registered(&store, Duration::from_secs(60))
        .await?;
    // Registration, the first list of assignments and the orphan sweep
    // settle before the idle figure is taken.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let rss_idle_mb = agent.rss_mb();

    write_job(&store, args.allocs, &node.id).await?;
    let running = RunningWatch::start(&store).await?;
    let bench = Bench {
        store: &store,
        docker,
        node: &node,
        running: &running,
        allocs: args.allocs,
        timeout: args.timeout,
    };

    eprintln!("burst: binding {} allocations at once...", args.allocs);
    let allocs = bench.create_allocs("burst").await?;
    let bound_at = bench.bind_burst(&allocs).await?;
    let burst_running = bench.wait_running(&bound_at).await;
    // Measured once everything is up, with a moment for the agent to
    // finish the passes that follow the status writes.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_loaded_mb = agent.rss_mb();
    let burst = Mode {
        started: bench.started_latencies(&bound_at).await?,
        running: burst_running,
    };
    eprintln!("stopping the burst's allocations...");
    bench.stop_and_remove(&allocs).await?;

    eprintln!(
        "paced: binding {} allocations, one every {} ms...",
        args.allocs,
        args.pace.as_millis()
    );
    let allocs = bench.create_allocs("paced").await?;
    let bound_at = bench.bind_paced(&allocs, args.pace).await?;
    let paced_running = bench.wait_running(&bound_at).await;
    let paced = Mode {
        started: bench.started_latencies(&bound_at).await?,
        running: paced_running,
    };
    eprintln!("stopping the paced allocations...");
    bench.stop_and_remove(&allocs).await?;

    drop(running);
    agent.stop();
    if etcd.is_none() {
        // A shared etcd keeps nothing of this run.
        let _ = store.delete_prefix(&format!("{prefix}/")).await;
    }
    drop(etcd);
    Ok(Report {
        allocs: args.allocs,
        pace: args.pace,
        burst,
        paced,
        rss_idle_mb,
        rss_loaded_mb,
    })
}

/// What every phase of one run works with.
struct Bench<'a> {
    store: &'a Store,
    docker: &'a Docker,
    node: &'a Node,
    running: &'a RunningWatch,
    allocs: usize,
    timeout: Duration,
}

/// The agent's node as a binding names it.
struct Node {
    id: String,
    name: String,
}

impl Bench<'_> {
    /// The allocations' specs, as the job controller writes them before
    /// placement sees them (not timed).
    async fn create_allocs(&self, mode: &str) -> anyhow::Result<Vec<Allocation>> {
        let keys = self.store.keys();
        let mut batch = self.store.batch();
        let mut allocs = Vec::with_capacity(self.allocs);
        for i in 0..self.allocs {
            let alloc = bench_alloc(mode, i);
            let bytes = alloc.encode().context("encoding an allocation")?;
            batch.push(
                Atomic::new()
                    .guard(keys.alloc(NAMESPACE, &alloc.metadata.uid), Guard::Absent)
                    .put(keys.alloc(NAMESPACE, &alloc.metadata.uid), bytes),
            );
            allocs.push(alloc);
        }
        let outcome = batch
            .commit(self.store)
            .await
            .context("writing the allocations")?;
        if !outcome.failed.is_empty() {
            bail!(
                "{} allocations already existed under this prefix",
                outcome.failed.len()
            );
        }
        Ok(allocs)
    }

    /// The placement controller's unit for one allocation: the binding
    /// (created only if absent) and the node's index entry, together. No
    /// leader fence or spec-revision guard: nothing else writes here.
    fn binding_unit(&self, alloc: &Allocation) -> anyhow::Result<Atomic> {
        let keys = self.store.keys();
        let id = &alloc.metadata.uid;
        let binding = Binding {
            node_id: self.node.id.clone(),
            node_name: self.node.name.clone(),
            cpu: TASK_CPU_MHZ,
            memory: TASK_MEMORY_MB,
            bound_at: Some(SystemTime::now().into()),
            ..Default::default()
        };
        let mut indexed = alloc.clone();
        indexed.binding = Some(binding.clone());
        let binding_key = keys.alloc_binding(NAMESPACE, id);
        Ok(Atomic::new()
            .guard(&binding_key, Guard::Absent)
            .put(
                &binding_key,
                serde_json::to_vec(&binding).context("encoding a binding")?,
            )
            .put(
                keys.node_alloc(&self.node.id, NAMESPACE, id),
                indexed.encode().context("encoding an allocation")?,
            ))
    }

    /// Binds every allocation in one batch; each one's bind time is when
    /// the batch was sent.
    async fn bind_burst(
        &self,
        allocs: &[Allocation],
    ) -> anyhow::Result<HashMap<String, SystemTime>> {
        let mut batch = self.store.batch();
        for alloc in allocs {
            batch.push(self.binding_unit(alloc)?);
        }
        let sent = SystemTime::now();
        let outcome = batch
            .commit(self.store)
            .await
            .context("writing the bindings")?;
        if !outcome.failed.is_empty() {
            bail!("{} bindings were refused", outcome.failed.len());
        }
        Ok(allocs
            .iter()
            .map(|a| (a.metadata.uid.clone(), sent))
            .collect())
    }

    /// Binds one allocation every `pace`.
    async fn bind_paced(
        &self,
        allocs: &[Allocation],
        pace: Duration,
    ) -> anyhow::Result<HashMap<String, SystemTime>> {
        let mut ticks = tokio::time::interval(pace);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut bound_at = HashMap::with_capacity(allocs.len());
        for alloc in allocs {
            ticks.tick().await;
            let mut batch = self.store.batch();
            batch.push(self.binding_unit(alloc)?);
            let sent = SystemTime::now();
            let outcome = batch
                .commit(self.store)
                .await
                .context("writing a binding")?;
            if !outcome.failed.is_empty() {
                bail!("the binding of {} was refused", alloc.metadata.uid);
            }
            bound_at.insert(alloc.metadata.uid.clone(), sent);
        }
        Ok(bound_at)
    }

    /// Latency to the `running` status of each allocation that got there
    /// within the timeout.
    async fn wait_running(&self, bound_at: &HashMap<String, SystemTime>) -> Summary {
        let deadline = Instant::now() + self.timeout;
        loop {
            let seen = self.running.seen(bound_at);
            if seen.len() == bound_at.len() || Instant::now() >= deadline {
                if seen.len() < bound_at.len() {
                    eprintln!(
                        "stopped waiting: {} of {} running",
                        seen.len(),
                        bound_at.len()
                    );
                }
                return Summary::of(
                    seen.iter()
                        .filter_map(|(id, at)| Some(millis(*bound_at.get(id)?, *at)))
                        .collect(),
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Latency to Docker's `State.StartedAt` of each allocation's container.
    async fn started_latencies(
        &self,
        bound_at: &HashMap<String, SystemTime>,
    ) -> anyhow::Result<Summary> {
        let containers = self
            .docker
            .list((labels::NODE_ID, self.node.id.as_str()))
            .await
            .context("listing the agent's containers")?;
        let mut first: HashMap<&str, SystemTime> = HashMap::new();
        for c in &containers {
            let (Some(alloc), Some(started)) = (c.labels.get(labels::ALLOC_ID), c.started_at)
            else {
                continue;
            };
            let started = SystemTime::from(started);
            if bound_at.contains_key(alloc) {
                let at = first.entry(alloc.as_str()).or_insert(started);
                *at = (*at).min(started);
            }
        }
        Ok(Summary::of(
            first
                .iter()
                .filter_map(|(id, at)| Some(millis(*bound_at.get(*id)?, *at)))
                .collect(),
        ))
    }

    /// Stops the allocations the way the job controller does (desired
    /// status `stop`), waits for their containers to stop, then removes
    /// the allocations and their containers so the next mode starts from
    /// an empty node.
    async fn stop_and_remove(&self, allocs: &[Allocation]) -> anyhow::Result<()> {
        let keys = self.store.keys();
        let mut batch = self.store.batch();
        for alloc in allocs {
            let mut stopped = alloc.clone();
            stopped.spec.desired_status = DesiredStatus::Stop;
            let spec = stopped.encode().context("encoding an allocation")?;
            stopped.binding = Some(Binding {
                node_id: self.node.id.clone(),
                node_name: self.node.name.clone(),
                ..Default::default()
            });
            let indexed = stopped.encode().context("encoding an allocation")?;
            let id = &alloc.metadata.uid;
            batch.put(keys.alloc(NAMESPACE, id), spec);
            batch.put(keys.node_alloc(&self.node.id, NAMESPACE, id), indexed);
        }
        batch
            .commit(self.store)
            .await
            .context("stopping the allocations")?;
        let node_label = (labels::NODE_ID, self.node.id.as_str());
        let deadline = Instant::now() + self.timeout;
        loop {
            let containers = self.docker.list(node_label).await?;
            if !containers.iter().any(|c| c.running) {
                break;
            }
            if Instant::now() >= deadline {
                eprintln!("containers still running after the stop; removing them anyway");
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        for collection in [
            c::NODE_ALLOCS,
            c::ALLOCATIONS_BINDING,
            c::ALLOCATIONS,
            c::ALLOCATIONS_STATUS,
        ] {
            self.store
                .delete_prefix(&keys.collection(collection))
                .await
                .with_context(|| format!("deleting {collection}"))?;
        }
        loop {
            let containers = self.docker.list(node_label).await?;
            if containers.is_empty() {
                return Ok(());
            }
            for c in containers {
                self.docker
                    .remove(&c.id)
                    .await
                    .with_context(|| format!("removing container {}", c.name))?;
            }
            if Instant::now() >= deadline {
                bail!("the agent's containers would not go away");
            }
        }
    }
}

/// Milliseconds from `from` to `to`, negative if `to` is earlier (Docker's
/// clock and ours are the same machine's, but rounded differently).
fn millis(from: SystemTime, to: SystemTime) -> f64 {
    match to.duration_since(from) {
        Ok(d) => d.as_secs_f64() * 1000.0,
        Err(e) => -e.duration().as_secs_f64() * 1000.0,
    }
}

async fn write_job(store: &Store, count: usize, node_id: &str) -> anyhow::Result<()> {
    let job = bench_job(count);
    let bytes = job.encode().context("encoding the job")?;
    let keys = store.keys();
    let mut batch = store.batch();
    // The agent reads its node's copy of the job version's group (the
    // node-jobs controller writes it once a binding names it; written here
    // up front, as no server runs).
    batch.put(
        keys.node_job(node_id, NAMESPACE, JOB, job.metadata.version, Some(GROUP)),
        bytes.clone(),
    );
    batch.put(
        keys.job_version(NAMESPACE, JOB, job.metadata.version),
        bytes.clone(),
    );
    batch.put(keys.job(NAMESPACE, JOB), bytes);
    batch.commit(store).await.context("writing the job")?;
    Ok(())
}

fn bench_job(count: usize) -> Job {
    let mut config = DriverConfig::new();
    config.insert("image".into(), json!(IMAGE));
    config.insert("command".into(), json!("sh"));
    config.insert("args".into(), json!(["-c", SCRIPT]));
    let mut task = mock::task(TASK);
    task.config = config;
    task.resources.cpu = TASK_CPU_MHZ;
    task.resources.memory = TASK_MEMORY_MB;
    task.kill_timeout = Duration::from_secs(5).into();
    let mut group = mock::group(GROUP, i64::try_from(count).unwrap_or(i64::MAX));
    group.tasks = vec![task];
    let mut job = mock::job_of(JOB, JobType::Service, vec![group]);
    job.metadata.namespace = NAMESPACE.into();
    job.metadata.version = 1;
    job
}

fn bench_alloc(mode: &str, index: usize) -> Allocation {
    let mut alloc = Allocation {
        metadata: ObjectMeta {
            name: format!("{JOB}.{GROUP}[{index}]"),
            namespace: NAMESPACE.into(),
            // Container names are `<task>-<alloc-id>` and machine-wide.
            uid: format!("b{}-{mode}-{index:04}", std::process::id()),
            creation_timestamp: Some(SystemTime::now().into()),
            ..Default::default()
        },
        ..Default::default()
    };
    alloc.spec.job_id = JOB.into();
    alloc.spec.job_version = 1;
    alloc.spec.task_group = GROUP.into();
    alloc.spec.index = u32::try_from(index).unwrap_or(u32::MAX);
    alloc
}

mod support;
use support::*;
