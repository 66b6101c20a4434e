//! Store throughput and watch latency.
//!
//! `cargo run --release -p drover-store --example store_bench -- [--etcd URL]
//! [--json] [--objects N] [--singles N] [--events N]`
//!
//! Starts its own etcd (through drover-test-support) unless `--etcd` is
//! given, then measures: batched puts of 1 KiB objects (txns of up to
//! `max_txn_ops`), sequential single puts, 64-way concurrent single puts, and
//! watch delivery latency (from just before a put is sent to the watcher
//! receiving its event).

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use drover_store::watch::RawEvent;
use drover_store::{Guard, Store, StoreConfig};
use drover_test_support::EtcdProcess;
use futures::StreamExt;
use tokio::sync::Mutex;

const VALUE_BYTES: usize = 1024;
const CONCURRENCY: usize = 64;

struct Args {
    etcd: Option<String>,
    json: bool,
    objects: usize,
    singles: usize,
    events: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        etcd: None,
        json: false,
        objects: 20_000,
        singles: 2_000,
        events: 2_000,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--etcd" => args.etcd = Some(value("--etcd")?),
            "--json" => args.json = true,
            "--objects" => args.objects = parse_count(&value("--objects")?)?,
            "--singles" => args.singles = parse_count(&value("--singles")?)?,
            "--events" => args.events = parse_count(&value("--events")?)?,
            "--bench" => {} // passed by `cargo bench`
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(args)
}

fn parse_count(s: &str) -> Result<usize, String> {
    match s.parse() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("not a positive count: {s}")),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = parse_args()?;
    let (_etcd, endpoint) = match &args.etcd {
        Some(url) => (None, url.clone()),
        None => {
            let etcd = EtcdProcess::start().await?;
            let endpoint = etcd.endpoint();
            (Some(etcd), endpoint)
        }
    };
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH)?.as_nanos();
    let store = Store::connect(StoreConfig::new(
        vec![endpoint.clone()],
        format!("/drover-bench/{nanos}"),
    ))
    .await?;
    let prefix = store.keys().prefix().to_string();
    let value = vec![b'x'; VALUE_BYTES];

    let batched = batched_puts(&store, &prefix, &value, args.objects).await?;
    let single = single_puts(&store, &prefix, &value, args.singles).await?;
    let concurrent = concurrent_puts(&store, &prefix, &value, args.singles).await?;
    let latency = watch_latency(&store, &prefix, &value, args.events).await?;
    store.delete_prefix(&format!("{prefix}/")).await?;

    let report = Report {
        endpoint,
        objects: args.objects,
        txn_ops: store.config().max_txn_ops,
        batched_per_sec: batched,
        single_per_sec: single,
        concurrent_per_sec: concurrent,
        events: args.events,
        latency,
    };
    if args.json {
        println!("{}", report.json());
    } else {
        report.print();
    }
    Ok(())
}

async fn batched_puts(
    store: &Store,
    prefix: &str,
    value: &[u8],
    n: usize,
) -> drover_store::Result<f64> {
    let mut batch = store.batch();
    for i in 0..n {
        batch.put(format!("{prefix}/batched/{i:08}"), value.to_vec());
    }
    let start = Instant::now();
    let outcome = batch.commit(store).await?;
    let elapsed = start.elapsed();
    assert_eq!(outcome.applied, n, "every batched put must land");
    Ok(n as f64 / elapsed.as_secs_f64())
}

async fn single_puts(
    store: &Store,
    prefix: &str,
    value: &[u8],
    n: usize,
) -> drover_store::Result<f64> {
    let start = Instant::now();
    for i in 0..n {
        let key = format!("{prefix}/single/{i:08}");
        store
            .put_raw(&key, value.to_vec(), Guard::None, None)
            .await?;
    }
    Ok(n as f64 / start.elapsed().as_secs_f64())
}

async fn concurrent_puts(
    store: &Store,
    prefix: &str,
    value: &[u8],
    n: usize,
) -> drover_store::Result<f64> {
    let start = Instant::now();
    let results = futures::stream::iter(0..n)
        .map(|i| {
            let key = format!("{prefix}/concurrent/{i:08}");
            let value = value.to_vec();
            async move { store.put_raw(&key, value, Guard::None, None).await }
        })
        .buffer_unordered(CONCURRENCY)
        .collect::<Vec<_>>()
        .await;
    for r in results {
        r?;
    }
    Ok(n as f64 / start.elapsed().as_secs_f64())
}

/// Latency percentiles in milliseconds.
struct Latency {
    p50: f64,
    p99: f64,
    max: f64,
}

async fn watch_latency(
    store: &Store,
    prefix: &str,
    value: &[u8],
    n: usize,
) -> Result<Latency, Box<dyn std::error::Error>> {
    let watched = format!("{prefix}/watched/");
    let mut watcher = store.watch_raw(&watched);
    match tokio::time::timeout(Duration::from_secs(10), watcher.next()).await {
        Ok(Some(RawEvent::Restarted { .. })) => {}
        _ => return Err("watch did not start".into()),
    }
    let received = Arc::new(Mutex::new(vec![None::<Instant>; n]));
    let sink = received.clone();
    let collector = tokio::spawn(async move {
        let mut seen = 0;
        while seen < n {
            let Some(RawEvent::Change(change)) = watcher.next().await else {
                break;
            };
            let now = Instant::now();
            if let drover_store::watch::Change::Put(kv) = change {
                let index = kv
                    .key
                    .rsplit('/')
                    .next()
                    .and_then(|s| s.parse::<usize>().ok());
                if let Some(slot) = index.filter(|i| *i < n) {
                    sink.lock().await[slot] = Some(now);
                    seen += 1;
                }
            }
        }
    });
    let mut sent = Vec::with_capacity(n);
    for i in 0..n {
        sent.push(Instant::now());
        store
            .put_raw(
                &format!("{watched}{i:08}"),
                value.to_vec(),
                Guard::None,
                None,
            )
            .await?;
    }
    tokio::time::timeout(Duration::from_secs(30), collector).await??;
    let received = received.lock().await;
    let mut ms: Vec<f64> = sent
        .iter()
        .zip(received.iter())
        .filter_map(|(s, r)| r.map(|r| r.duration_since(*s).as_secs_f64() * 1e3))
        .collect();
    if ms.len() != n {
        return Err(format!("watcher saw {} of {n} events", ms.len()).into());
    }
    ms.sort_by(f64::total_cmp);
    let pct = |p: f64| ms[((ms.len() as f64 * p) as usize).min(ms.len() - 1)];
    Ok(Latency {
        p50: pct(0.50),
        p99: pct(0.99),
        max: ms[ms.len() - 1],
    })
}

struct Report {
    endpoint: String,
    objects: usize,
    txn_ops: usize,
    batched_per_sec: f64,
    single_per_sec: f64,
    concurrent_per_sec: f64,
    events: usize,
    latency: Latency,
}

impl Report {
    fn print(&self) {
        println!(
            "drover-store bench against {} (1 KiB values)",
            self.endpoint
        );
        println!("{:<44} {:>12}", "measure", "result");
        let rows = [
            (
                format!(
                    "batched puts ({} objs, txns of {})",
                    self.objects, self.txn_ops
                ),
                format!("{:.0}/s", self.batched_per_sec),
            ),
            (
                "single puts, sequential".to_string(),
                format!("{:.0}/s", self.single_per_sec),
            ),
            (
                format!("single puts, {CONCURRENCY} in flight"),
                format!("{:.0}/s", self.concurrent_per_sec),
            ),
            (
                format!("watch latency p50 ({} events)", self.events),
                format!("{:.2} ms", self.latency.p50),
            ),
            (
                "watch latency p99".to_string(),
                format!("{:.2} ms", self.latency.p99),
            ),
            (
                "watch latency max".to_string(),
                format!("{:.2} ms", self.latency.max),
            ),
        ];
        for (name, value) in rows {
            println!("{name:<44} {value:>12}");
        }
    }

    fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "endpoint": self.endpoint,
            "value_bytes": VALUE_BYTES,
            "batched_objects": self.objects,
            "txn_ops": self.txn_ops,
            "batched_puts_per_sec": self.batched_per_sec.round(),
            "single_puts_per_sec": self.single_per_sec.round(),
            "concurrent_puts_per_sec": self.concurrent_per_sec.round(),
            "concurrency": CONCURRENCY,
            "watch_events": self.events,
            "watch_latency_ms": {
                "p50": self.latency.p50,
                "p99": self.latency.p99,
                "max": self.latency.max,
            },
        })
    }
}
