//! `drover agent`: make this machine a drover node that runs allocations on
//! the local Docker. `--simulate N` instead runs N simulated nodes in this
//! process (no Docker) — for trying the scheduler out, tests and benchmarks.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use anyhow::{bail, Context as _};
use drover_api_types::agent_file::{self, AgentFile};
use drover_api_types::host_access::{
    cap_name, default_allow_caps, default_allow_runtimes, HostAccess, HostPolicy,
};
use drover_api_types::node::HostVolume;
use drover_node_agent::agent::{self, AgentConfig};
use drover_node_agent::fingerprint;
use drover_node_agent::gc::GcPolicy;
use drover_node_agent::heartbeat::{self, NodeAgentConfig};
use drover_node_agent::http::MetricsAccess;
use drover_node_agent::simulate::{Simulator, SimulatorConfig};
use drover_store::Store;

use super::client::ApiArgs;
use super::cluster_args::{parse_duration, shutdown_on_signal, EtcdArgs, LogArgs, TlsArgs};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    etcd: EtcdArgs,
    #[command(flatten)]
    log: LogArgs,
    /// Run N simulated nodes instead of a Docker node.
    #[arg(long, value_name = "N")]
    simulate: Option<usize>,
    /// Simulated node names are `<prefix>-<index>`.
    #[arg(long, default_value = "sim")]
    name_prefix: String,
    /// Datacenters, assigned to simulated nodes in turn.
    #[arg(long = "datacenter", value_delimiter = ',', default_value = "dc1")]
    datacenters: Vec<String>,
    /// MHz of CPU per simulated node.
    #[arg(long, default_value_t = 4000)]
    cpu: i64,
    /// MB of memory per simulated node.
    #[arg(long, default_value_t = 8192)]
    memory: i64,
    /// Heartbeat lease TTL; must match the servers' --heartbeat-ttl.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    heartbeat_ttl: Duration,
    /// This node's name (default: the hostname).
    #[arg(long)]
    node_name: Option<String>,
    #[arg(long)]
    node_class: Option<String>,
    #[arg(long, default_value = "default")]
    node_pool: String,
    /// Node metadata, `key=value` (repeatable).
    #[arg(long = "meta", value_name = "KEY=VALUE", value_parser = parse_pair)]
    meta: Vec<(String, String)>,
    /// The address ports are published on (each agent on one machine can
    /// have its own in 127.0.0.0/8).
    #[arg(long)]
    address: Option<std::net::IpAddr>,
    /// A join token (`drover node join-token create`), traded once with the
    /// server at --addr for this node's own etcd credentials (kept 0600 in
    /// the data dir and used from then on).
    #[arg(long, env = "DROVER_JOIN_TOKEN", hide_env_values = true)]
    join_token: Option<String>,
    /// Where the node id, allocation directories and state are kept.
    #[arg(long, default_value = "./drover-data/agent")]
    data_dir: std::path::PathBuf,
    /// A host volume jobs can mount by name, `name=/path[:ro]` (repeatable).
    #[arg(long = "host-volume", value_name = "NAME=PATH", value_parser = parse_pair)]
    host_volumes: Vec<(String, String)>,
    /// Dynamic port range, `MIN-MAX`.
    #[arg(long, default_value = "20000-32000", value_parser = parse_range)]
    port_range: (u16, u16),
    /// Let jobs run privileged containers (root on this node).
    #[arg(long)]
    allow_privileged: bool,
    /// Let jobs bind-mount host paths outside their allocation through
    /// docker `volumes` and `mount` (Nomad's `volumes.enabled`). Host
    /// volumes declared with --host-volume need no leave.
    #[arg(long)]
    docker_volumes_enabled: bool,
    /// Let jobs join this node's network namespace (`network_mode = "host"`).
    #[arg(long)]
    docker_allow_host_network: bool,
    /// Let jobs see this node's processes (`pid_mode = "host"`).
    #[arg(long)]
    docker_allow_host_pid: bool,
    /// Let jobs share this node's IPC namespace (`ipc_mode = "host"`).
    #[arg(long)]
    docker_allow_host_ipc: bool,
    /// Let jobs map this node's device files (`devices`).
    #[arg(long)]
    docker_allow_devices: bool,
    /// The container runtimes jobs may ask for with `runtime`
    /// (comma-separated, Nomad's `allow_runtimes`).
    #[arg(long, value_delimiter = ',', default_values_t = default_allow_runtimes())]
    docker_allow_runtimes: Vec<String>,
    /// A directory templates may read absolute `source` paths from
    /// (repeatable); without one, sources stay in the allocation.
    #[arg(long = "template-source-dir", value_name = "DIR")]
    template_source_dirs: Vec<std::path::PathBuf>,
    /// The most processes one container may run (a task's `pids_limit` may
    /// only lower it); 0 for no limit.
    #[arg(long, default_value_t = DEFAULT_PIDS_LIMIT)]
    docker_pids_limit: i64,
    /// A Nomad client configuration (HCL): its `plugin "docker"` policy and
    /// `client { host_volume }` blocks are applied; flags add to them.
    #[arg(long, value_name = "FILE")]
    config: Option<std::path::PathBuf>,
    /// The capabilities a task's container may have (comma-separated,
    /// Nomad's `allow_caps`; `all` for any). Docker's defaults outside it
    /// are dropped (by default: net_raw).
    #[arg(long, value_delimiter = ',', default_values_t = default_allow_caps())]
    docker_allow_caps: Vec<String>,
    /// How long a finished allocation's containers (for logs) and
    /// directory are kept on the node.
    #[arg(long, default_value = "1h", value_parser = parse_duration)]
    gc_retention: Duration,
    /// At most this many finished allocations keep their containers and
    /// directories; beyond it the oldest are collected first.
    #[arg(long, default_value_t = 50)]
    gc_max_allocs: usize,
    /// How often finished allocations are collected.
    #[arg(long, default_value = "1m", value_parser = parse_duration)]
    gc_interval: Duration,
    /// Where the agent's HTTP API (task logs) listens, `IP:PORT` (default:
    /// the node's address, port 4647). Port 0 picks a free one.
    #[arg(long, value_name = "IP:PORT")]
    http_addr: Option<SocketAddr>,
    /// The agent's HTTP API over TLS, as the server's API: with
    /// --tls-client-ca only callers with a certificate from that CA (the
    /// servers) get in.
    #[command(flatten)]
    tls: TlsArgs,
    /// Serve /metrics to anyone who reaches the agent's HTTP API, without
    /// the scrape token (drover operator scrape-token). Per-task usage and
    /// job names are then readable by every workload that reaches this
    /// node. Mutual TLS (--tls-client-ca) opens it to certificate holders.
    #[arg(long)]
    metrics_public: bool,
}

/// What the flags allow tasks to ask of this node (pure).
/// What the flags and the config file allow tasks to ask of this node
/// (pure): an access either allows is allowed; a capability list or pids
/// limit given as a flag wins over the file's, the file's over the default.
fn host_policy(args: &Args, file: &AgentFile) -> (HostPolicy, Option<i64>) {
    let on = |flag: bool, set: Option<bool>| flag || set == Some(true);
    let flags = [
        (
            on(args.allow_privileged, file.allow_privileged),
            HostAccess::Privileged,
        ),
        (
            on(args.docker_volumes_enabled, file.volumes_enabled),
            HostAccess::HostPaths,
        ),
        (
            on(args.docker_allow_host_network, file.allow_host_network),
            HostAccess::HostNetwork,
        ),
        (
            on(args.docker_allow_host_pid, file.allow_host_pid),
            HostAccess::HostPid,
        ),
        (
            on(args.docker_allow_host_ipc, file.allow_host_ipc),
            HostAccess::HostIpc,
        ),
        (
            on(args.docker_allow_devices, file.allow_devices),
            HostAccess::Devices,
        ),
    ];
    let runtimes = match &file.allow_runtimes {
        Some(listed) if args.docker_allow_runtimes == default_allow_runtimes() => listed,
        _ => &args.docker_allow_runtimes,
    };
    let caps = match &file.allow_caps {
        Some(listed) if args.docker_allow_caps == default_allow_caps() => listed,
        _ => &args.docker_allow_caps,
    };
    let pids = match file.pids_limit {
        Some(listed) if args.docker_pids_limit == DEFAULT_PIDS_LIMIT => listed,
        _ => args.docker_pids_limit,
    };
    let policy = HostPolicy {
        allowed: flags
            .into_iter()
            .filter(|(on, _)| *on)
            .map(|(_, access)| access)
            .collect(),
        caps: caps.iter().map(|c| cap_name(c)).collect(),
        runtimes: runtimes
            .iter()
            .map(|r| r.trim().to_string())
            .filter(|r| !r.is_empty())
            .collect(),
    };
    (policy, (pids > 0).then_some(pids))
}

/// `--config`'s file, parsed; its warnings logged. Empty without one.
fn config_file(args: &Args) -> anyhow::Result<AgentFile> {
    let Some(path) = &args.config else {
        return Ok(AgentFile::default());
    };
    use std::io::Read as _;
    let mut text = String::new();
    std::fs::File::open(path)
        .and_then(|f| {
            f.take(agent_file::MAX_FILE_BYTES as u64 + 1)
                .read_to_string(&mut text)
        })
        .with_context(|| format!("--config {}: cannot read it", path.display()))?;
    let file = agent_file::parse(&path.display().to_string(), &text).map_err(anyhow::Error::msg)?;
    for warning in &file.warnings {
        tracing::warn!(config = %path.display(), "{warning}");
    }
    Ok(file)
}

/// Who may read the agent's `/metrics` (pure): everyone with
/// `--metrics-public` or under mutual TLS, else scrape-token holders.
fn metrics_access(public: bool, mutual_tls: bool) -> MetricsAccess {
    if public || mutual_tls {
        MetricsAccess::Open
    } else {
        MetricsAccess::ScrapeToken
    }
}

/// `--docker-pids-limit`'s default.
const DEFAULT_PIDS_LIMIT: i64 = 4096;

/// Connections the agent's HTTP API serves at once.
const AGENT_HTTP_CONNECTIONS: usize = 256;

/// The agent HTTP API's port when `--http-addr` is not given.
const DEFAULT_HTTP_PORT: u16 = 4647;

/// Where the HTTP API listens: `--http-addr`, else the node's address on
/// the default port (pure).
fn http_bind_addr(flag: Option<SocketAddr>, node_address: IpAddr) -> SocketAddr {
    flag.unwrap_or(SocketAddr::new(node_address, DEFAULT_HTTP_PORT))
}

/// What the node advertises: the bound address, with the node's address in
/// place of a wildcard (a client cannot dial 0.0.0.0).
fn advertised_http_addr(bound: SocketAddr, node_address: IpAddr) -> String {
    if bound.ip().is_unspecified() {
        SocketAddr::new(node_address, bound.port()).to_string()
    } else {
        bound.to_string()
    }
}

fn parse_pair(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .filter(|(k, _)| !k.is_empty())
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("expected KEY=VALUE, got {s:?}"))
}

fn parse_range(s: &str) -> Result<(u16, u16), String> {
    let bad = || format!("expected MIN-MAX with 1 <= MIN <= MAX <= 65535, got {s:?}");
    let (a, b) = s.split_once('-').ok_or_else(bad)?;
    let (a, b): (u16, u16) = (
        a.trim().parse().map_err(|_| bad())?,
        b.trim().parse().map_err(|_| bad())?,
    );
    if a == 0 || a > b {
        return Err(bad());
    }
    Ok((a, b))
}

pub fn run(args: &Args, api: &ApiArgs) -> anyhow::Result<std::process::ExitCode> {
    args.log.init()?;
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    match args.simulate {
        Some(0) => bail!("--simulate needs at least one node"),
        Some(count) => runtime.block_on(simulate(args, count))?,
        None => runtime.block_on(docker_agent(args, api))?,
    }
    Ok(std::process::ExitCode::SUCCESS)
}

fn agent_config(args: &Args) -> anyhow::Result<AgentConfig> {
    let file = config_file(args)?;
    let (host, pids_limit) = host_policy(args, &file);
    // The file's volumes first: a flag of the same name replaces one.
    let mut host_volumes = file.host_volumes.clone();
    for (name, path) in &args.host_volumes {
        let (path, read_only) = match path.strip_suffix(":ro") {
            Some(p) => (p, true),
            None => (path.as_str(), false),
        };
        if !std::path::Path::new(path).is_absolute() {
            bail!("--host-volume {name}={path}: the path must be absolute");
        }
        host_volumes.insert(
            name.clone(),
            HostVolume {
                path: path.to_string(),
                read_only,
            },
        );
    }
    let node = NodeAgentConfig {
        name: args.node_name.clone().unwrap_or_default(),
        datacenter: args
            .datacenters
            .first()
            .cloned()
            .unwrap_or_else(|| "dc1".into()),
        node_class: args.node_class.clone().unwrap_or_default(),
        node_pool: args.node_pool.clone(),
        meta: args.meta.iter().cloned().collect(),
        address: args.address,
        host_volumes,
        port_range: args.port_range,
        heartbeat_ttl: args.heartbeat_ttl,
        ..NodeAgentConfig::default()
    };
    Ok(AgentConfig {
        node,
        data_dir: args.data_dir.clone(),
        host,
        pids_limit,
        template_source_dirs: args
            .template_source_dirs
            .iter()
            .map(std::path::absolute)
            .collect::<Result<_, _>>()
            .context("--template-source-dir")?,
        gc: GcPolicy {
            interval: args.gc_interval,
            retention: args.gc_retention,
            max_kept: args.gc_max_allocs,
        },
        http: None,
        // Servers and Prometheus call it: a few at a time.
        http_options: drover_serve::Options {
            max_connections: AGENT_HTTP_CONNECTIONS,
            ..drover_serve::Options::default()
        },
        registry: super::metrics::process_registry()?,
        metrics_access: metrics_access(args.metrics_public, args.tls.tls_client_ca.is_some()),
    })
}

async fn docker_agent(args: &Args, api: &ApiArgs) -> anyhow::Result<()> {
    let mut config = agent_config(args)?;
    let node_address = node_address(args)?;
    let bind = http_bind_addr(args.http_addr, node_address);
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .with_context(|| format!("--http-addr {bind}: cannot listen for the agent's HTTP API"))?;
    let bound = listener
        .local_addr()
        .with_context(|| format!("--http-addr {bind}: no local address"))?;
    config.node.http_addr = advertised_http_addr(bound, node_address);
    config.http = Some(listener);
    config.http_options.tls = args.tls.server_config()?;
    config.node.http_tls = config.http_options.tls.is_some();
    let etcd = super::agent_join::node_credentials(
        &args.data_dir,
        args.join_token.as_deref(),
        api,
        args.etcd.config(),
    )
    .await?;
    let store = Store::connect(etcd.clone())
        .await
        .with_context(|| format!("connecting to etcd at {}", etcd.endpoints.join(",")))?;
    let shutdown = shutdown_on_signal();
    agent::run(store, config, shutdown)
        .await
        .context("the agent could not start")?;
    Ok(())
}

/// The node's address as the agent will register it: `--address`, else
/// the fingerprinted one (read the same way the agent reads it).
fn node_address(args: &Args) -> anyhow::Result<IpAddr> {
    if let Some(address) = args.address {
        return Ok(address);
    }
    // The fingerprint measures the data dir's disk; the agent creates it
    // anyway.
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("creating the data dir {}", args.data_dir.display()))?;
    let fingerprint = fingerprint::read(&args.data_dir, None).context("fingerprinting")?;
    let address = heartbeat::node_address(None, &fingerprint.attributes);
    address
        .parse()
        .with_context(|| format!("the fingerprinted address {address:?} is not an IP address"))
}

async fn simulate(args: &Args, count: usize) -> anyhow::Result<()> {
    let config = args.etcd.config();
    let store = Store::connect(config.clone())
        .await
        .with_context(|| format!("connecting to etcd at {}", config.endpoints.join(",")))?;
    let mut shutdown = shutdown_on_signal();
    let simulator = Simulator::start(
        store,
        SimulatorConfig {
            count,
            name_prefix: args.name_prefix.clone(),
            datacenters: args.datacenters.clone(),
            cpu: args.cpu,
            memory: args.memory,
            heartbeat_ttl: args.heartbeat_ttl,
            ..SimulatorConfig::default()
        },
    )
    .await
    .context("starting the simulated nodes")?;
    tracing::info!(nodes = count, "simulated nodes running; Ctrl-C stops them");
    let _ = shutdown.wait_for(|stop| *stop).await;
    simulator.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(clap::Parser)]
    struct Agent {
        #[command(flatten)]
        args: Args,
    }

    fn args(argv: &[&str]) -> Args {
        use clap::Parser as _;
        let mut all = vec!["agent"];
        all.extend(argv);
        Agent::try_parse_from(all).expect("flags").args
    }

    #[test]
    fn flags_and_the_config_file_make_one_policy() {
        let file = AgentFile {
            volumes_enabled: Some(true),
            allow_privileged: Some(false),
            allow_caps: Some(vec!["chown".into()]),
            pids_limit: Some(100),
            ..AgentFile::default()
        };
        let (policy, pids) = host_policy(&args(&["--allow-privileged"]), &file);
        assert!(policy.allows(HostAccess::HostPaths), "from the file");
        assert!(
            policy.allows(HostAccess::Privileged),
            "a flag allows what the file does not"
        );
        assert!(!policy.allows(HostAccess::HostNetwork));
        assert_eq!(policy.caps, ["chown".to_string()].into());
        assert_eq!(pids, Some(100));
        // Flags given win over the file's lists and limits.
        let (policy, pids) = host_policy(
            &args(&["--docker-allow-caps=kill,setuid", "--docker-pids-limit=0"]),
            &file,
        );
        assert_eq!(
            policy.caps,
            ["kill".to_string(), "setuid".to_string()].into()
        );
        assert_eq!(pids, None);
        // Neither: the defaults.
        let (policy, pids) = host_policy(&args(&[]), &AgentFile::default());
        assert_eq!(policy, HostPolicy::default());
        assert_eq!(pids, Some(DEFAULT_PIDS_LIMIT));
    }

    #[test]
    fn the_http_api_defaults_to_the_node_address_on_4647() {
        let node: IpAddr = "10.0.0.21".parse().expect("ip");
        assert_eq!(http_bind_addr(None, node).to_string(), "10.0.0.21:4647");
        let flag: SocketAddr = "127.0.0.1:9000".parse().expect("addr");
        assert_eq!(http_bind_addr(Some(flag), node), flag);
    }

    #[test]
    fn a_wildcard_bind_advertises_the_node_address() {
        let node: IpAddr = "10.0.0.21".parse().expect("ip");
        let any: SocketAddr = "0.0.0.0:4647".parse().expect("addr");
        assert_eq!(advertised_http_addr(any, node), "10.0.0.21:4647");
        let one: SocketAddr = "127.0.0.3:31000".parse().expect("addr");
        assert_eq!(advertised_http_addr(one, node), "127.0.0.3:31000");
    }
}
