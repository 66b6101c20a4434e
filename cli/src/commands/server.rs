//! `drover server`: run the controllers against etcd. Several servers may
//! run; one leads (etcd election) and the others stand by.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context as _;
use drover_api_types::validate::JobLimits;
use drover_apiserver::api::KvLimits;
use drover_apiserver::dns::{self, DnsConfig};
use drover_controllers::context::ServerOptions;
use drover_controllers::manager::{self, ControllerMetrics, Enabled, ServerConfig};
use drover_controllers::placement::Algorithm;
use drover_store::Store;

use super::cluster_args::{parse_duration, shutdown_on_signal, EtcdArgs, LogArgs, TlsArgs};

#[path = "server/gc_args.rs"]
mod gc_args;
#[path = "server/registration.rs"]
mod registration;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    etcd: EtcdArgs,
    #[command(flatten)]
    log: LogArgs,
    #[command(flatten)]
    gc: gc_args::GcArgs,
    /// This server's name in the leader election (default: the hostname).
    #[arg(long)]
    name: Option<String>,
    /// Switch a controller off (repeatable): job, placement, node-lifecycle, drain, services,
    /// deployments, gc, periodic.
    #[arg(long = "disable-controller", value_name = "NAME")]
    disable: Vec<String>,
    /// How placement scores nodes: `binpack` fills nodes, `spread` empties them.
    #[arg(long, default_value = "binpack", value_parser = ["binpack", "spread"])]
    scheduler_algorithm: String,
    /// Let tasks' memory_max exceed a node's free memory (only `memory` must fit).
    #[arg(long)]
    memory_oversubscription: bool,
    /// The heartbeat lease TTL agents use.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    heartbeat_ttl: Duration,
    /// Extra wait after a lease expires before a node is declared down.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    heartbeat_grace: Duration,
    /// At most this many nodes declared down per minute.
    #[arg(long, default_value_t = 10)]
    max_nodes_down_per_minute: usize,
    /// Leader lease TTL: a standby takes over within this after a leader dies.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    election_ttl: Duration,
    /// Where to serve /metrics and the status routes (the REST API joins later).
    #[arg(long, default_value = "127.0.0.1:4646")]
    http_addr: SocketAddr,
    /// Turn ACLs on: every request needs a token that allows it
    /// (docs/acl.md; `drover acl bootstrap` makes the first).
    #[arg(long)]
    acl: bool,
    /// With --acl, serve /metrics without a token (Prometheus scrapes
    /// without one); otherwise it needs operator read.
    #[arg(long)]
    acl_metrics_public: bool,
    #[command(flatten)]
    tls: TlsArgs,
    /// Write every change and every refused request to FILE, one JSON line
    /// each (docs/acl.md).
    #[arg(long, value_name = "FILE")]
    audit_log: Option<std::path::PathBuf>,
    /// Rotate the audit log past this size (MB); five old files are kept.
    #[arg(long, default_value_t = 100, value_name = "MB")]
    audit_log_max_mb: u64,
    /// The HOST:PORT this server is reached at, as the catalog lists it
    /// (the `drover` service). Default: --http-addr, or the hostname with
    /// its port when --http-addr listens on every interface.
    #[arg(long, value_name = "HOST:PORT")]
    advertise_http_addr: Option<String>,
    /// Where to serve DNS for the service catalog, UDP and TCP (`off` or
    /// an empty value: no DNS).
    #[arg(long, default_value = "127.0.0.1:8600", value_parser = parse_dns_addr)]
    dns_addr: DnsAddr,
    /// A domain DNS answers under (repeatable; default: consul and drover).
    #[arg(long = "dns-domain", value_name = "DOMAIN", default_values_t = DnsConfig::DEFAULT_DOMAINS.map(String::from))]
    dns_domains: Vec<String>,
    /// The TTL of DNS answers (0s: clients always ask again, as Consul's default).
    #[arg(long, default_value = "0s", value_parser = parse_duration)]
    dns_ttl: Duration,
    /// Workers of the job controller.
    #[arg(long, default_value_t = 4)]
    job_workers: usize,
    /// Finished children kept per periodic or parameterized job; older
    /// ones are deleted (running ones never are).
    #[arg(long, default_value_t = 5)]
    periodic_children_kept: usize,
    /// The largest `count` of one task group a job may ask for.
    #[arg(long, default_value_t = JobLimits::DEFAULT_MAX_GROUP_COUNT)]
    max_group_count: u64,
    /// The largest number of allocations (its groups' counts added up)
    /// one job may ask for.
    #[arg(long, default_value_t = JobLimits::DEFAULT_MAX_JOB_ALLOCATIONS)]
    max_job_allocations: u64,
    /// The most bytes the Consul-compatible KV may hold (values as
    /// stored); a write past it is refused with 413.
    #[arg(long, default_value_t = KvLimits::DEFAULT_MAX_BYTES)]
    kv_max_bytes: u64,
    /// The most keys the KV may hold.
    #[arg(long, default_value_t = KvLimits::DEFAULT_MAX_KEYS)]
    kv_max_keys: u64,
}

/// `--dns-addr`: an address, or off.
#[derive(Debug, Clone, Copy)]
struct DnsAddr(Option<SocketAddr>);

fn parse_dns_addr(s: &str) -> Result<DnsAddr, String> {
    match s.trim() {
        "" | "off" => Ok(DnsAddr(None)),
        addr => addr
            .parse()
            .map(|a| DnsAddr(Some(a)))
            .map_err(|e| format!("{e} (want host:port, or `off`)")),
    }
}

impl Args {
    fn enabled(&self) -> anyhow::Result<Enabled> {
        let mut enabled = Enabled::default();
        for name in &self.disable {
            if !enabled.disable(name) {
                anyhow::bail!(
                    "--disable-controller {name:?}: no such controller (one of: {})",
                    manager::names().collect::<Vec<_>>().join(", ")
                );
            }
        }
        Ok(enabled)
    }

    /// Where clients reach this server: an address listening on every
    /// interface is no address to give out, so the hostname stands in.
    /// `bound` is where the listener is (its port, should --http-addr
    /// ask for any free one).
    fn advertised_http_addr(&self, bound: SocketAddr) -> String {
        if let Some(addr) = &self.advertise_http_addr {
            return addr.clone();
        }
        if bound.ip().is_unspecified() {
            return format!("{}:{}", hostname(), bound.port());
        }
        bound.to_string()
    }

    fn options(&self) -> ServerOptions {
        let mut options = ServerOptions::default();
        options.placement.algorithm = match self.scheduler_algorithm.as_str() {
            "spread" => Algorithm::Spread,
            _ => Algorithm::BinPack,
        };
        options.placement.memory_oversubscription = self.memory_oversubscription;
        options.lifecycle.heartbeat_ttl = self.heartbeat_ttl;
        options.lifecycle.heartbeat_grace = self.heartbeat_grace;
        options.lifecycle.max_down_per_interval = self.max_nodes_down_per_minute;
        options.lifecycle.down_interval = Duration::from_secs(60);
        options.job_workers = self.job_workers.max(1);
        options.gc = self.gc.options();
        options.periodic_children_kept = self.periodic_children_kept;
        options.limits = self.limits();
        options
    }

    fn limits(&self) -> JobLimits {
        JobLimits {
            max_group_count: self.max_group_count,
            max_job_allocations: self.max_job_allocations,
        }
    }
}

pub fn run(args: &Args) -> anyhow::Result<std::process::ExitCode> {
    args.log.init()?;
    let enabled = args.enabled()?;
    let dns = DnsConfig::new(&args.dns_domains, args.dns_ttl).context("--dns-domain/--dns-ttl")?;
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(serve(args, enabled, dns))?;
    Ok(std::process::ExitCode::SUCCESS)
}

/// What agents need of the servers besides their assignments: the scrape
/// token's digest they check Prometheus against, and, on nodes that joined
/// before a release added a key to their grants, that grant. In the
/// background: neither holds the server's start up, and both are retried
/// at the next start.
async fn prepare_node_access(store: Store) {
    if let Err(e) = drover_apiserver::api::scrape_token::ensure(&store).await {
        tracing::warn!(error = %e, "could not make the metrics scrape token; agents refuse scrapers until a server does");
    }
    match store.refresh_node_grants().await {
        Ok(0) => {}
        Ok(added) => tracing::info!(added, "granted joined nodes' etcd roles their new keys"),
        Err(e) => {
            tracing::warn!(error = %e, "could not check the joined nodes' etcd roles (servers need etcd's root role); the next start tries again")
        }
    }
}

async fn serve(args: &Args, enabled: Enabled, dns: DnsConfig) -> anyhow::Result<()> {
    let config = args.etcd.config();
    let store = Store::connect(config.clone())
        .await
        .with_context(|| format!("connecting to etcd at {}", config.endpoints.join(",")))?;
    match store.migrate_status_layout().await {
        Ok(0) => {}
        Ok(moved) => tracing::info!(moved, "moved allocation statuses to the per-node layout"),
        Err(e) => {
            tracing::warn!(error = %e, "could not move old-layout allocation statuses; the next start tries again")
        }
    }
    tokio::spawn(prepare_node_access(store.clone()));
    let name = args.name.clone().unwrap_or_else(hostname);
    let registry = super::metrics::process_registry()?;
    let metrics = ControllerMetrics::register(&registry).context("registering metrics")?;
    tracing::info!(%name, etcd = %config.endpoints.join(","), prefix = %config.prefix, ?enabled, "drover server starting");
    let listener = drover_apiserver::http::bind(args.http_addr)
        .await
        .with_context(|| format!("--http-addr {}: cannot listen", args.http_addr))?;
    let advertised = args.advertised_http_addr(listener.local_addr().unwrap_or(args.http_addr));
    let dns_sockets = match args.dns_addr.0 {
        Some(addr) => Some(
            dns::bind(addr)
                .await
                .with_context(|| format!("--dns-addr {addr}: cannot listen (UDP and TCP)"))?,
        ),
        None => None,
    };
    let shutdown = shutdown_on_signal();
    let (leading, leading_rx) = tokio::sync::watch::channel(false);
    let mut api = drover_apiserver::api::ApiState::new(store.clone())
        .with_limits(args.limits())
        .with_kv_limits(KvLimits {
            max_bytes: args.kv_max_bytes,
            max_keys: args.kv_max_keys,
        });
    if let Some(path) = &args.audit_log {
        let log =
            drover_apiserver::audit::AuditLog::open(path, args.audit_log_max_mb * 1024 * 1024)
                .await
                .with_context(|| format!("--audit-log {}: cannot open", path.display()))?;
        api = api.with_audit(log);
    }
    if args.tls.tls_cert.is_some() {
        api = api.with_agent_tls(&args.tls.agent_client_files()).context(
            "the client for agents that serve TLS (--tls-cert, --tls-key, --tls-client-ca)",
        )?;
    }
    if args.acl {
        api = api.with_acl();
        tracing::info!("ACLs on: requests need a token that allows them");
    } else if !args.http_addr.ip().is_loopback() {
        tracing::warn!(
            addr = %args.http_addr,
            "ACLs are OFF and the API listens beyond loopback: anyone who reaches it may \
             register jobs, read their secrets, drain nodes and wipe the KV store; \
             start the servers with --acl (docs/acl.md)"
        );
    }
    // DNS reads the same catalog view as the API: one set of watches.
    let catalog = api.catalog.clone();
    let router = drover_apiserver::http::router(
        drover_apiserver::http::HttpState {
            registry: registry.clone(),
            leading: leading_rx,
            metrics_public: !args.acl || args.acl_metrics_public,
            loopback: args.http_addr.ip().is_loopback(),
        },
        Some(api),
    );
    let tls = args.tls.server_config()?;
    if tls.is_some() {
        tracing::info!(
            mutual = args.tls.tls_client_ca.is_some(),
            "the API speaks TLS only"
        );
    }
    let http = tokio::spawn(drover_apiserver::http::serve(
        listener,
        router,
        tls,
        shutdown.clone(),
    ));
    tracing::info!(addr = %args.http_addr, "serving the API and /metrics");
    let dns_task = match dns_sockets {
        Some(sockets) => {
            let metrics =
                dns::DnsMetrics::register(&registry).context("registering DNS metrics")?;
            let domains: Vec<String> = dns.domains.iter().map(|d| d.to_ascii()).collect();
            tracing::info!(addr = ?args.dns_addr.0, ?domains, ttl = dns.ttl, "serving DNS (UDP and TCP)");
            Some(tokio::spawn(dns::run(
                catalog,
                sockets,
                dns,
                metrics,
                shutdown.clone(),
            )))
        }
        None => None,
    };
    let registration = tokio::spawn(registration::keep_registered(
        store.clone(),
        name.clone(),
        advertised,
        args.election_ttl,
        shutdown.clone(),
    ));
    let config = ServerConfig {
        options: args.options(),
        enabled,
        metrics,
        candidate: name,
        election_ttl: args.election_ttl,
        leading,
    };
    manager::run_server(store, config, shutdown).await;
    // It revokes the record's lease on shutdown: wait for that.
    if let Err(e) = registration.await {
        tracing::warn!(error = %e, "server registration task failed");
    }
    if let Some(task) = dns_task {
        if let Err(e) = task.await {
            tracing::warn!(error = %e, "dns task failed");
        }
    }
    match http.await {
        Ok(Err(e)) => tracing::warn!(error = %e, "http listener failed"),
        Err(e) => tracing::warn!(error = %e, "http listener task failed"),
        Ok(Ok(())) => {}
    }
    tracing::info!("drover server stopped");
    Ok(())
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| format!("server-{}", std::process::id()))
}
