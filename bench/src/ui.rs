//! `drover-bench ui`: how fast the web UI answers on a large cluster.
//!
//! It places `--allocs` allocations over `--nodes` simulated nodes, as
//! `drover-bench schedule` does, through a real `drover server` child
//! process; once all run, it asks every page of the UI `--rounds` times
//! over HTTP, as a browser would (one at a time), and prints for each its
//! render time (p50, p99, max) and its size with the stylesheet and
//! script. Then it measures how long a change takes to reach an open page:
//! from a scale request to the page's live stream saying `changed` and the
//! page's new `<main>` fetched.

use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use drover_api_types::alloc::AllocationStatus;
use drover_store::Versioned;
use futures::StreamExt;
use serde_json::json;

use super::fleet::{Etcd, Fleet, FleetConfig};
use super::measure::{free_addr, round2, tempdir, Summary};
use super::schedule::{apply_jobs, until_running};
use crate::measure::parse_duration;

#[derive(Debug, clap::Args)]
pub struct UiArgs {
    /// Simulated nodes.
    #[arg(long, default_value_t = 1000)]
    nodes: usize,
    /// Allocations in total, over jobs of 1,000 each.
    #[arg(long, default_value_t = 10000)]
    allocs: usize,
    /// How often each page is asked.
    #[arg(long, default_value_t = 10)]
    rounds: usize,
    /// Stop asking a page after this long (a slow page is measured fewer
    /// times rather than holding the run up).
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    page_budget: Duration,
    /// Use this etcd instead of starting one (a unique prefix is used).
    #[arg(long = "etcd", value_delimiter = ',')]
    etcd: Vec<String>,
    /// Give up placing after this long.
    #[arg(long, default_value = "600s", value_parser = parse_duration)]
    timeout: Duration,
    /// End with one line of JSON.
    #[arg(long)]
    json: bool,
}

/// Allocations per job: the job page shows a job of this many.
const JOB_SIZE: usize = 1000;

pub fn run(args: &UiArgs) -> anyhow::Result<std::process::ExitCode> {
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let report = runtime.block_on(measure(args))?;
    report.print(args.json);
    Ok(std::process::ExitCode::SUCCESS)
}

struct PageFigures {
    path: String,
    status: u16,
    times: Summary,
    /// The page's HTML with the stylesheet and script it loads.
    bytes: usize,
}

struct Report {
    nodes: usize,
    allocs: usize,
    running: usize,
    pages: Vec<PageFigures>,
    /// Scale request → `changed` on the page's stream → new `<main>` fetched.
    change: Summary,
    server_rss_mb: f64,
}

impl Report {
    fn print(&self, json: bool) {
        println!(
            "nodes: {}, allocations: {} ({} running)",
            self.nodes, self.allocs, self.running
        );
        println!(
            "{:<44} {:>6} {:>9} {:>9} {:>9} {:>9}",
            "page", "status", "p50 ms", "p99 ms", "max ms", "KB"
        );
        for p in &self.pages {
            println!(
                "{:<44} {:>6} {:>9.1} {:>9.1} {:>9.1} {:>9.1}",
                p.path,
                p.status,
                p.times.p50,
                p.times.p99,
                p.times.max,
                p.bytes as f64 / 1024.0
            );
        }
        println!(
            "a change on an open page (scale → live stream → new <main>): p50 {:.0} ms, max {:.0} ms over {}",
            self.change.p50, self.change.max, self.change.count
        );
        println!("server peak RSS: {:.0} MB", self.server_rss_mb);
        if json {
            let pages: Vec<_> = self
                .pages
                .iter()
                .map(|p| {
                    json!({
                        "path": p.path, "status": p.status, "asked": p.times.count,
                        "p50_ms": round2(p.times.p50), "p99_ms": round2(p.times.p99),
                        "max_ms": round2(p.times.max), "bytes": p.bytes,
                    })
                })
                .collect();
            let line = json!({
                "nodes": self.nodes,
                "allocs": self.allocs,
                "running": self.running,
                "pages": pages,
                "change_p50_ms": round2(self.change.p50),
                "change_max_ms": round2(self.change.max),
                "server_rss_mb": round2(self.server_rss_mb),
            });
            println!("{line}");
        }
    }
}

async fn measure(args: &UiArgs) -> anyhow::Result<Report> {
    if args.nodes == 0 || args.allocs == 0 || args.rounds == 0 {
        bail!("--nodes, --allocs and --rounds must be positive");
    }
    let scratch = tempdir()?;
    let etcd = Etcd::connect(&args.etcd, "ui").await?;
    let addr = free_addr()?;
    let fleet = Fleet::start(
        etcd,
        &scratch,
        FleetConfig {
            nodes: args.nodes,
            node_prefix: "bench",
            server_flags: Vec::new(),
            ready_within: Duration::from_secs(120),
        },
        Some(addr),
    )
    .await?;
    let store = fleet.etcd.store.clone();
    let mut running = store.watch_prefix::<Versioned<AllocationStatus>>(
        &store.keys().collection("allocations-status"),
    );
    let _ = running.next().await;
    eprintln!("placing {} allocations...", args.allocs);
    let applied = Instant::now();
    apply_jobs(&store, args.allocs, JOB_SIZE).await?;
    let first_running = until_running(&mut running, args.allocs, applied, args.timeout).await;
    drop(running);
    eprintln!(
        "{} running after {:.1} s; asking the pages...",
        first_running.len(),
        applied.elapsed().as_secs_f64()
    );

    // A node and an allocation to show: from a status key
    // (`…/allocations-status/<node>/<ns>/<id>`).
    let (node, alloc) = first_running
        .keys()
        .next()
        .and_then(|k| {
            let mut parts = k.rsplit('/');
            let id = parts.next()?;
            let _ns = parts.next()?;
            let node = parts.next()?;
            Some((node.to_string(), id.to_string()))
        })
        .context("no allocation ran")?;
    let base = format!("http://{addr}");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .context("an HTTP client")?;
    let assets = size(&http, &format!("{base}/ui/static/app.css")).await?
        + size(&http, &format!("{base}/ui/static/app.js")).await?;
    let job = "/ui/job/default/bench-0000";
    let paths = [
        "/ui".to_string(),
        "/ui/jobs".to_string(),
        job.to_string(),
        format!("{job}/timeline"),
        format!("{job}/versions"),
        format!("{job}/definition"),
        "/ui/deployments".to_string(),
        "/ui/nodes".to_string(),
        format!("/ui/node/{node}"),
        "/ui/topology".to_string(),
        format!("/ui/alloc/{alloc}"),
        "/ui/services".to_string(),
        "/ui/search?q=bench-0001".to_string(),
        "/ui/run".to_string(),
    ];
    let mut pages = Vec::new();
    for path in paths {
        let figures = page(&http, &base, &path, args.rounds, args.page_budget).await?;
        eprintln!(
            "{path}: p99 {:.0} ms, {} bytes",
            figures.times.p99, figures.bytes
        );
        pages.push(PageFigures {
            bytes: figures.bytes + assets,
            ..figures
        });
    }
    let change = change_latency(&http, &base, job, 5).await?;
    let server_rss_mb = fleet.server.peak_rss_mb();
    fleet.stop().await;
    let _ = std::fs::remove_dir_all(&scratch);
    Ok(Report {
        nodes: args.nodes,
        allocs: args.allocs,
        running: first_running.len(),
        pages,
        change,
        server_rss_mb,
    })
}

async fn size(http: &reqwest::Client, url: &str) -> anyhow::Result<usize> {
    let body = http.get(url).send().await?.bytes().await?;
    Ok(body.len())
}

/// Asks `path` `rounds` times (within `budget`), after one unmeasured ask.
async fn page(
    http: &reqwest::Client,
    base: &str,
    path: &str,
    rounds: usize,
    budget: Duration,
) -> anyhow::Result<PageFigures> {
    let url = format!("{base}{path}");
    let warm = http.get(&url).send().await?;
    let status = warm.status().as_u16();
    let bytes = warm.bytes().await?.len();
    let started = Instant::now();
    let mut times = Vec::new();
    while times.len() < rounds && started.elapsed() < budget {
        let asked = Instant::now();
        let response = http.get(&url).send().await?;
        response.bytes().await?;
        times.push(asked.elapsed().as_secs_f64() * 1000.0);
    }
    Ok(PageFigures {
        path: path.to_string(),
        status,
        times: Summary::of(times),
        bytes,
    })
}

/// `times` scale requests of the job on an open page: from the request to
/// its live stream's `changed`, then the page's `<main>` fetched again.
async fn change_latency(
    http: &reqwest::Client,
    base: &str,
    job_page: &str,
    times: usize,
) -> anyhow::Result<Summary> {
    let mut stream = http
        .get(format!("{base}/ui/live?page=job"))
        .timeout(Duration::from_secs(600))
        .send()
        .await?
        .bytes_stream();
    let mut latencies = Vec::new();
    for n in 0..times {
        // Let earlier changes settle: read until the stream is quiet.
        while let Ok(Some(_)) =
            tokio::time::timeout(Duration::from_millis(500), stream.next()).await
        {}
        let count = JOB_SIZE + 1 + (n % 2);
        let asked = Instant::now();
        let scaled = http
            .post(format!("{base}/v1/job/bench-0000/scale"))
            .json(&json!({"group": "app", "count": count}))
            .send()
            .await?;
        if !scaled.status().is_success() {
            bail!("scaling answered {}", scaled.status());
        }
        let changed = loop {
            match tokio::time::timeout(Duration::from_secs(30), stream.next()).await {
                Ok(Some(Ok(chunk))) if String::from_utf8_lossy(&chunk).contains("changed") => {
                    break true
                }
                Ok(Some(Ok(_))) => continue,
                _ => break false,
            }
        };
        if !changed {
            bail!("the live stream said nothing within 30 s of a scale");
        }
        http.get(format!("{base}{job_page}"))
            .header("X-Drover-Fragment", "main")
            .send()
            .await?
            .bytes()
            .await?;
        latencies.push(asked.elapsed().as_secs_f64() * 1000.0);
    }
    Ok(Summary::of(latencies))
}
