//! `drover-bench dns`: how many queries the DNS server answers per second
//! on one core, and how long each takes.
//!
//! The server's UDP loop runs as in `drover server`, on a current_thread
//! runtime in a thread of its own (so it has exactly one core's worth of
//! CPU), over a catalog snapshot of `--services` × `--instances` healthy
//! registrations. The snapshot is built in this process: etcd is not on a
//! query's path (the server answers from memory), so it is left out of the
//! figure. Load comes from `--clients` UDP sockets on another runtime
//! thread, each with one query in flight, asking A, SRV and tag queries in
//! turn; every answer is checked.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use drover_api_types::node::{Node, NodeState, NodeStatus};
use drover_api_types::service::ServiceRegistration;
use drover_apiserver::dns::catalog::NodeInput;
use drover_apiserver::dns::server::serve_udp;
use drover_apiserver::dns::{DnsConfig, DnsMetrics, Snapshot};
use hickory_proto::op::{Message, Query, ResponseCode};
use hickory_proto::rr::{Name, RecordType};
use serde_json::json;
use tokio::sync::watch;

use super::measure::{round2, Summary};
use crate::measure::parse_duration;

#[derive(Debug, clap::Args)]
pub struct DnsArgs {
    /// Services in the catalog.
    #[arg(long, default_value_t = 50)]
    services: usize,
    /// Healthy instances of each service.
    #[arg(long, default_value_t = 3)]
    instances: usize,
    /// UDP clients, each with one query in flight.
    #[arg(long, default_value_t = 16)]
    clients: usize,
    /// How long to measure (after a short warm-up).
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    duration: Duration,
    /// End with one line of JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: &DnsArgs) -> anyhow::Result<std::process::ExitCode> {
    if args.services == 0 || args.instances == 0 || args.clients == 0 {
        bail!("--services, --instances and --clients must be positive");
    }
    let report = bench(args)?;
    report.print(args.json);
    Ok(if report.errors == 0 {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    })
}

struct Report {
    services: usize,
    instances: usize,
    clients: usize,
    answered: usize,
    errors: usize,
    timeouts: usize,
    seconds: f64,
    latency_ms: Summary,
}

impl Report {
    fn print(&self, json: bool) {
        let qps = self.answered as f64 / self.seconds.max(1e-9);
        println!(
            "catalog:                    {} services × {} instances",
            self.services, self.instances
        );
        println!("clients (UDP, 1 in flight): {}", self.clients);
        println!(
            "answered:                   {} in {:.2} s ({} wrong, {} timed out)",
            self.answered, self.seconds, self.errors, self.timeouts
        );
        println!("queries per second (1 core): {qps:.0}");
        println!(
            "latency p50 / p99 / max:    {:.3} ms / {:.3} ms / {:.3} ms",
            self.latency_ms.p50, self.latency_ms.p99, self.latency_ms.max
        );
        if json {
            let line = json!({
                "services": self.services,
                "instances": self.instances,
                "clients": self.clients,
                "answered": self.answered,
                "errors": self.errors,
                "timeouts": self.timeouts,
                "seconds": round2(self.seconds),
                "queries_per_sec": round2(qps),
                "p50_ms": round3(self.latency_ms.p50),
                "p99_ms": round3(self.latency_ms.p99),
                "max_ms": round3(self.latency_ms.max),
            });
            println!("{line}");
        }
    }
}

/// Latencies here are fractions of a millisecond: keep microseconds.
fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn bench(args: &DnsArgs) -> anyhow::Result<Report> {
    let snapshot = Arc::new(catalog(args.services, args.instances));
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").context("binding the DNS socket")?;
    socket
        .set_nonblocking(true)
        .context("making the DNS socket non-blocking")?;
    let addr = socket.local_addr().context("the DNS socket's address")?;
    let (stop, shutdown) = watch::channel(false);
    let (_snapshots_tx, snapshots) = watch::channel(snapshot);
    // Counted as in the server, so their cost is in the figure.
    let metrics = DnsMetrics::unregistered().context("creating the DNS metrics")?;
    let server = std::thread::Builder::new()
        .name("dns-server".into())
        .spawn(move || -> anyhow::Result<()> {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("starting the server's runtime")?;
            runtime.block_on(async move {
                let socket = tokio::net::UdpSocket::from_std(socket)
                    .context("registering the DNS socket")?;
                serve_udp(
                    socket,
                    snapshots,
                    Arc::new(DnsConfig::default()),
                    metrics,
                    shutdown,
                )
                .await;
                Ok(())
            })
        })
        .context("starting the server thread")?;
    let clients = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .context("starting the clients' runtime")?;
    let report = clients.block_on(load(args, addr));
    let _ = stop.send(true);
    match server.join() {
        Ok(result) => result?,
        Err(_) => bail!("the DNS server thread panicked"),
    }
    report
}

/// `svc-<i>` × `instances`, spread over `instances` nodes, tagged `v<j>`.
fn catalog(services: usize, instances: usize) -> Snapshot {
    let nodes: Vec<Node> = (0..instances)
        .map(|j| {
            let mut node = Node::default();
            node.metadata.name = format!("node-{j}");
            node.metadata.uid = format!("n{j}");
            node.spec.address = format!("10.0.{}.{}", j / 250, j % 250 + 1);
            node.spec.datacenter = "dc1".into();
            node
        })
        .collect();
    let ready = NodeStatus {
        state: NodeState::Ready,
        ..Default::default()
    };
    let mut regs = Vec::with_capacity(services * instances);
    for i in 0..services {
        for (j, node) in nodes.iter().enumerate() {
            let mut reg = ServiceRegistration::default();
            reg.metadata.name = format!("_drover-svc-{i}-{j}");
            reg.spec.service_name = format!("svc-{i}");
            reg.spec.node_id = node.metadata.uid.clone();
            reg.spec.node_name = node.metadata.name.clone();
            reg.spec.address = node.spec.address.clone();
            reg.spec.port = 20000 + (i as u16 % 40000);
            reg.spec.datacenter = "dc1".into();
            reg.spec.tags = vec![format!("v{}", j % 2)];
            regs.push(reg);
        }
    }
    let inputs = nodes.iter().map(|n| NodeInput {
        id: &n.metadata.uid,
        node: n,
        status: Some(&ready),
    });
    Snapshot::build(&regs, inputs, 1)
}

/// Per client: answers, wrong answers, timeouts, latencies (ms).
type ClientResult = (usize, usize, usize, Vec<f64>);

async fn load(args: &DnsArgs, server: SocketAddr) -> anyhow::Result<Report> {
    let warmup = Duration::from_millis(500);
    let start = Instant::now() + warmup;
    let end = start + args.duration;
    let mut tasks = Vec::new();
    for c in 0..args.clients {
        let queries = queries(args.services, args.instances, c)?;
        tasks.push(tokio::spawn(client(server, queries, start, end)));
    }
    let (mut answered, mut errors, mut timeouts, mut latencies) = (0, 0, 0, Vec::new());
    for task in tasks {
        let (a, e, t, l) = task.await.context("a client task failed")??;
        answered += a;
        errors += e;
        timeouts += t;
        latencies.extend(l);
    }
    Ok(Report {
        services: args.services,
        instances: args.instances,
        clients: args.clients,
        answered,
        errors,
        timeouts,
        seconds: args.duration.as_secs_f64(),
        latency_ms: Summary::of(latencies),
    })
}

/// The queries one client cycles through, with the answer count each
/// must carry: A (node addresses, deduplicated), SRV, a tag, RFC 2782.
fn queries(
    services: usize,
    instances: usize,
    client: usize,
) -> anyhow::Result<Vec<(Message, usize)>> {
    let mut out = Vec::new();
    for k in 0..services.min(64) {
        let svc = (client * 7 + k) % services;
        // Instance j is on node j and tagged v<j % 2>.
        let tagged = instances.div_ceil(2);
        for (name, qtype, count) in [
            (
                format!("svc-{svc}.service.consul."),
                RecordType::A,
                instances,
            ),
            (
                format!("svc-{svc}.service.consul."),
                RecordType::SRV,
                instances,
            ),
            (
                format!("v0.svc-{svc}.service.dc1.consul."),
                RecordType::A,
                tagged,
            ),
            (
                format!("_svc-{svc}._tcp.service.consul."),
                RecordType::SRV,
                instances,
            ),
        ] {
            let mut message = Message::query();
            let name = Name::from_ascii(&name).with_context(|| format!("query name {name}"))?;
            message.add_query(Query::query(name, qtype));
            out.push((message, count));
        }
    }
    Ok(out)
}

async fn client(
    server: SocketAddr,
    queries: Vec<(Message, usize)>,
    start: Instant,
    end: Instant,
) -> anyhow::Result<ClientResult> {
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .context("binding a client socket")?;
    socket
        .connect(server)
        .await
        .context("connecting a client socket")?;
    let (mut answered, mut errors, mut timeouts) = (0, 0, 0);
    let mut latencies = Vec::new();
    let mut buf = vec![0u8; 4096];
    let mut id: u16 = 0;
    for (mut query, count) in queries.into_iter().cycle() {
        let sent = Instant::now();
        if sent >= end {
            break;
        }
        id = id.wrapping_add(1);
        query.metadata.id = id;
        let bytes = query.to_vec().context("encoding a query")?;
        socket.send(&bytes).await.context("sending a query")?;
        // Skip stale answers (to queries that timed out) by id.
        let answer = tokio::time::timeout(Duration::from_secs(1), async {
            loop {
                let len = socket.recv(&mut buf).await?;
                match Message::from_vec(&buf[..len]) {
                    Ok(m) if m.metadata.id == id => return std::io::Result::Ok(Some(m)),
                    Ok(_) => continue,
                    Err(_) => return Ok(None),
                }
            }
        })
        .await;
        let took = sent.elapsed();
        let measured = sent >= start;
        match answer {
            Ok(Ok(Some(m)))
                if m.metadata.response_code == ResponseCode::NoError
                    && m.answers.len() == count =>
            {
                if measured {
                    answered += 1;
                    latencies.push(took.as_secs_f64() * 1000.0);
                }
            }
            Ok(Ok(_)) => errors += usize::from(measured),
            Ok(Err(e)) => return Err(e).context("receiving an answer"),
            Err(_) => timeouts += usize::from(measured),
        }
    }
    Ok((answered, errors, timeouts, latencies))
}
