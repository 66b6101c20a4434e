//! `drover-bench catalog`: how fast the catalog follows the fleet — from an
//! instance turning healthy (its allocation reported running with passing
//! checks) to its appearance in `/v1/health/service/<name>` and in DNS, and
//! from a stop to its disappearance from both.
//!
//! It starts its own etcd (unless `--etcd` is given), `drover server` as a
//! child process with its HTTP API and DNS on free loopback ports, and
//! simulated nodes in this process (they report allocations running at
//! once, so only the control plane is measured). One job of `--instances`
//! allocations with one service is applied; the start of each instance is
//! the watch event of its running status, the end its first sighting by
//! a blocking health query and by a DNS SRV poll. Then the job is stopped
//! through the API and each instance's disappearance is timed from the stop.

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use drover_api_types::alloc::{AllocationStatus, ClientStatus};
use drover_api_types::group::{Network, Port, Service};
use drover_api_types::{mock, Job, JobType};
use drover_store::{Store, Versioned, WatchEvent};
use futures::StreamExt;
use serde_json::{json, Value};

use super::dns_client::srv_lookup;
use super::fleet::{Etcd, Fleet, FleetConfig};
use super::measure::{round2, tempdir, Summary};
use crate::measure::free_addr;
use crate::measure::parse_duration;

const JOB: &str = "bench-catalog";
const SERVICE: &str = "bench-web";

#[derive(Debug, clap::Args)]
pub struct CatalogArgs {
    /// Instances of the service (allocations of one job).
    #[arg(long, default_value_t = 50)]
    instances: usize,
    /// Simulated nodes they spread over.
    #[arg(long, default_value_t = 10)]
    nodes: usize,
    /// Use this etcd instead of starting one (a unique prefix is used).
    #[arg(long = "etcd", value_delimiter = ',')]
    etcd: Vec<String>,
    /// Give up waiting for a phase after this long.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    timeout: Duration,
    /// End with one line of JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: &CatalogArgs) -> anyhow::Result<std::process::ExitCode> {
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let report = runtime.block_on(measure(args))?;
    report.print(args.json);
    Ok(if report.complete() {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    })
}

struct Report {
    instances: usize,
    appear_http: Summary,
    appear_dns: Summary,
    vanish_http: Summary,
    vanish_dns: Summary,
}

impl Report {
    fn complete(&self) -> bool {
        [
            &self.appear_http,
            &self.appear_dns,
            &self.vanish_http,
            &self.vanish_dns,
        ]
        .iter()
        .all(|s| s.count == self.instances)
    }

    fn print(&self, json: bool) {
        let line = |what: &str, s: &Summary| {
            println!(
                "{what:<38} {:>3}/{}  p50 {:>6.1} ms  p99 {:>6.1} ms  max {:>6.1} ms",
                s.count, self.instances, s.p50, s.p99, s.max
            );
        };
        line("healthy → in /v1/health/service:", &self.appear_http);
        line("healthy → in DNS (SRV):", &self.appear_dns);
        line("stop → gone from /v1/health/service:", &self.vanish_http);
        line("stop → gone from DNS (SRV):", &self.vanish_dns);
        if json {
            let summary = |s: &Summary| json!({"count": s.count, "p50_ms": round2(s.p50), "p99_ms": round2(s.p99), "max_ms": round2(s.max)});
            let line = json!({
                "instances": self.instances,
                "appear_http": summary(&self.appear_http),
                "appear_dns": summary(&self.appear_dns),
                "vanish_http": summary(&self.vanish_http),
                "vanish_dns": summary(&self.vanish_dns),
            });
            println!("{line}");
        }
    }
}

/// When each instance (by allocation id) was first seen, and — once the
/// stop phase began — first seen gone.
#[derive(Default)]
struct Sightings {
    appeared: HashMap<String, Instant>,
    vanished: HashMap<String, Instant>,
}

impl Sightings {
    /// Records one complete answer: the allocation ids present now.
    fn observe(&mut self, present: &BTreeSet<String>, stopping: bool) {
        let now = Instant::now();
        for id in present {
            self.appeared.entry(id.clone()).or_insert(now);
        }
        if stopping {
            for id in self.appeared.keys() {
                if !present.contains(id) {
                    self.vanished.entry(id.clone()).or_insert(now);
                }
            }
        }
    }
}

type Shared = Arc<Mutex<Sightings>>;

fn lock(s: &Shared) -> std::sync::MutexGuard<'_, Sightings> {
    s.lock().unwrap_or_else(PoisonError::into_inner)
}

async fn measure(args: &CatalogArgs) -> anyhow::Result<Report> {
    if args.instances == 0 || args.nodes == 0 {
        bail!("--instances and --nodes must be positive");
    }
    let scratch = tempdir()?;
    let etcd = Etcd::connect(&args.etcd, "catalog").await?;
    let http_addr = free_addr()?;
    let dns_addr = free_addr()?;
    let fleet = Fleet::start(
        etcd,
        &scratch,
        FleetConfig {
            nodes: args.nodes,
            node_prefix: "bench",
            server_flags: vec![format!("--dns-addr={dns_addr}")],
            ready_within: Duration::from_secs(60),
        },
        Some(http_addr),
    )
    .await?;
    let store = fleet.etcd.store.clone();
    let client = reqwest::Client::new();
    let base = format!("http://{http_addr}");

    let healthy = running_times(&store).await;
    let stopping = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let http_seen: Shared = Shared::default();
    let dns_seen: Shared = Shared::default();
    let http_task = tokio::spawn(watch_http(
        client.clone(),
        base.clone(),
        Arc::clone(&http_seen),
        Arc::clone(&stopping),
    ));
    let instances = Arc::new(Mutex::new(HashMap::<(String, u16), String>::new()));
    let dns_task = tokio::spawn(poll_dns(
        dns_addr,
        Arc::clone(&instances),
        Arc::clone(&dns_seen),
        Arc::clone(&stopping),
    ));

    eprintln!("applying {} instances...", args.instances);
    apply_job(&store, args.instances).await?;
    let everywhere = |s: &Shared| lock(s).appeared.len() >= args.instances;
    let deadline = Instant::now() + args.timeout;
    while Instant::now() < deadline && !(everywhere(&http_seen) && everywhere(&dns_seen)) {
        // DNS answers carry addresses, not allocation ids: the API's
        // answers map one to the other.
        refresh_instances(&client, &base, &instances).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    refresh_instances(&client, &base, &instances).await;
    eprintln!(
        "seen: {} in /v1/health/service, {} in DNS, {} reported running",
        lock(&http_seen).appeared.len(),
        lock(&dns_seen).appeared.len(),
        healthy.snapshot().len()
    );

    eprintln!("stopping the job...");
    stopping.store(true, std::sync::atomic::Ordering::SeqCst);
    let stopped_at = Instant::now();
    let response = client
        .delete(format!("{base}/v1/job/{JOB}"))
        .send()
        .await
        .context("stopping the job")?;
    if !response.status().is_success() {
        let status = response.status();
        bail!(
            "stopping the job: {status}: {}",
            response.text().await.unwrap_or_default()
        );
    }
    let gone = |s: &Shared| {
        let s = lock(s);
        s.vanished.len() >= s.appeared.len()
    };
    let deadline = Instant::now() + args.timeout;
    while Instant::now() < deadline && !(gone(&http_seen) && gone(&dns_seen)) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    http_task.abort();
    dns_task.abort();

    let healthy = healthy.snapshot();
    let appear = |s: &Shared| {
        let s = lock(s);
        Summary::of(
            s.appeared
                .iter()
                .filter_map(|(id, seen)| {
                    healthy
                        .get(id)
                        .map(|h| ms(seen.saturating_duration_since(*h)))
                })
                .collect(),
        )
    };
    let vanish = |s: &Shared| {
        Summary::of(
            lock(s)
                .vanished
                .values()
                .map(|seen| ms(seen.saturating_duration_since(stopped_at)))
                .collect(),
        )
    };
    let report = Report {
        instances: args.instances,
        appear_http: appear(&http_seen),
        appear_dns: appear(&dns_seen),
        vanish_http: vanish(&http_seen),
        vanish_dns: vanish(&dns_seen),
    };
    fleet.stop().await;
    let _ = std::fs::remove_dir_all(&scratch);
    Ok(report)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// When each allocation was first reported running, from a watch started
/// before the job is applied.
struct RunningTimes(Arc<Mutex<HashMap<String, Instant>>>);

impl RunningTimes {
    fn snapshot(&self) -> HashMap<String, Instant> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

async fn running_times(store: &Store) -> RunningTimes {
    let times = Arc::new(Mutex::new(HashMap::new()));
    let mut watch = store.watch_prefix::<Versioned<AllocationStatus>>(
        &store.keys().collection("allocations-status"),
    );
    // The first event is the initial (empty) list: after it, every change
    // is seen as it happens.
    let _ = watch.next().await;
    let sink = Arc::clone(&times);
    tokio::spawn(async move {
        while let Some(event) = watch.next().await {
            let Ok(WatchEvent::Applied { key, object }) = event else {
                continue;
            };
            if object.value.client_status != ClientStatus::Running {
                continue;
            }
            let Some(id) = key.rsplit('/').next() else {
                continue;
            };
            sink.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .entry(id.to_string())
                .or_insert_with(Instant::now);
        }
    });
    RunningTimes(times)
}

/// Blocking queries on the health endpoint, as Prometheus and
/// consul-template follow it.
async fn watch_http(
    client: reqwest::Client,
    base: String,
    seen: Shared,
    stopping: Arc<std::sync::atomic::AtomicBool>,
) {
    let mut index = 0i64;
    loop {
        let url = format!("{base}/v1/health/service/{SERVICE}?passing=1&index={index}&wait=30s");
        let Ok(response) = client.get(&url).send().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let next = response
            .headers()
            .get("x-consul-index")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<i64>().ok())
            .unwrap_or(index);
        let Ok(entries) = response.json::<Vec<Value>>().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let present: BTreeSet<String> = entries
            .iter()
            .filter_map(|e| alloc_of_service_id(e["Service"]["ID"].as_str()?))
            .collect();
        lock(&seen).observe(&present, stopping.load(std::sync::atomic::Ordering::SeqCst));
        index = next;
    }
}

/// The allocation id inside a registration id
/// (`_drover-<alloc-id>-<task>-<service>-<port>`).
fn alloc_of_service_id(id: &str) -> Option<String> {
    let rest = id.strip_prefix("_drover-")?;
    // A UUID is 36 characters.
    rest.get(..36).map(str::to_string)
}

/// (address, port) → allocation id, from Nomad's service API.
async fn refresh_instances(
    client: &reqwest::Client,
    base: &str,
    instances: &Mutex<HashMap<(String, u16), String>>,
) {
    let Ok(response) = client
        .get(format!("{base}/v1/service/{SERVICE}"))
        .send()
        .await
    else {
        return;
    };
    let Ok(entries) = response.json::<Vec<Value>>().await else {
        return;
    };
    let mut map = instances.lock().unwrap_or_else(PoisonError::into_inner);
    for e in entries {
        let (Some(address), Some(port), Some(alloc)) = (
            e["Address"].as_str(),
            e["Port"].as_u64().and_then(|p| u16::try_from(p).ok()),
            e["AllocID"].as_str(),
        ) else {
            continue;
        };
        map.insert((address.to_string(), port), alloc.to_string());
    }
}

/// Asks DNS for the service's SRV records as fast as answers come back.
async fn poll_dns(
    server: SocketAddr,
    instances: Arc<Mutex<HashMap<(String, u16), String>>>,
    seen: Shared,
    stopping: Arc<std::sync::atomic::AtomicBool>,
) {
    let name = format!("{SERVICE}.service.consul.");
    loop {
        let Ok(records) = srv_lookup(server, &name).await else {
            tokio::time::sleep(Duration::from_millis(5)).await;
            continue;
        };
        let map = instances
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let present: BTreeSet<String> = records
            .iter()
            .filter_map(|(ip, port)| map.get(&(ip.to_string(), *port)).cloned())
            .collect();
        lock(&seen).observe(&present, stopping.load(std::sync::atomic::Ordering::SeqCst));
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

async fn apply_job(store: &Store, instances: usize) -> anyhow::Result<()> {
    store
        .create(&bench_job(instances))
        .await
        .context("applying the job")?;
    Ok(())
}

fn bench_job(count: usize) -> Job {
    // Simulated nodes run nothing; the image only makes the job valid.
    let mut config = drover_api_types::task::DriverConfig::new();
    config.insert("image".into(), json!("drover-bench/web:1"));
    let mut task = mock::task("web");
    task.config = config;
    let mut group = mock::group("web", i64::try_from(count).unwrap_or(i64::MAX));
    group.tasks = vec![task];
    group.network = Some(Network {
        mode: "host".into(),
        ports: vec![Port {
            label: "http".into(),
            ..Default::default()
        }],
        hostname: None,
        mbits: None,
        dns: None,
    });
    group.services = vec![Service {
        name: SERVICE.into(),
        port: "http".into(),
        provider: "consul".into(),
        ..Default::default()
    }];
    mock::job_of(JOB, JobType::Service, vec![group])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sightings_record_first_appearance_and_disappearance_only_when_stopping() {
        let mut s = Sightings::default();
        let a: BTreeSet<String> = ["a".to_string(), "b".to_string()].into();
        s.observe(&a, false);
        let first_a = s.appeared["a"];
        s.observe(&["b".to_string()].into(), false);
        assert!(s.vanished.is_empty(), "nothing vanishes before the stop");
        s.observe(&["b".to_string()].into(), true);
        assert_eq!(s.appeared["a"], first_a);
        assert!(s.vanished.contains_key("a") && !s.vanished.contains_key("b"));
    }

    #[test]
    fn registration_ids_name_their_allocation() {
        let id = "_drover-0f8c2a4e-1d2b-4c3d-9e8f-0123456789ab-web-bench-web-http";
        assert_eq!(
            alloc_of_service_id(id).as_deref(),
            Some("0f8c2a4e-1d2b-4c3d-9e8f-0123456789ab")
        );
        assert_eq!(alloc_of_service_id("web-1"), None);
    }
}
