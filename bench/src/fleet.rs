//! A cluster to measure, started one way for every benchmark that needs
//! one: an etcd (given or started), a `drover server` child process under
//! a prefix of its own, and simulated nodes, ready before anything is
//! measured.

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use drover_api_types::node::{NodeState, NodeStatus};
use drover_node_agent::simulate::{Simulator, SimulatorConfig};
use drover_store::{Store, StoreConfig, Versioned};
use drover_test_support::EtcdProcess;

use super::measure::etcd_for;
use super::server_process::ServerProcess;

/// The etcd a benchmark writes to, under its own prefix.
pub struct Etcd {
    pub store: Store,
    endpoints: Vec<String>,
    prefix: String,
    /// The etcd started for this run (stopped when dropped); `None` when
    /// `--etcd` was given.
    _process: Option<EtcdProcess>,
}

impl Etcd {
    /// `given` endpoints, or a fresh local etcd; the prefix is
    /// `/drover-bench-<name>-<pid>`.
    pub async fn connect(given: &[String], name: &str) -> anyhow::Result<Etcd> {
        let (process, endpoints) = etcd_for(given).await?;
        let prefix = format!("/drover-bench-{name}-{}", std::process::id());
        let store = Store::connect(StoreConfig::new(endpoints.clone(), prefix.as_str()))
            .await
            .context("connecting to etcd")?;
        Ok(Etcd {
            store,
            endpoints,
            prefix,
            _process: process,
        })
    }
}

/// What the fleet runs.
pub struct FleetConfig<'a> {
    pub nodes: usize,
    /// Names the simulated nodes `<node_prefix>-<n>`.
    pub node_prefix: &'a str,
    /// More `drover server` flags.
    pub server_flags: Vec<String>,
    /// How long the nodes may take to be ready.
    pub ready_within: Duration,
}

/// A server and simulated nodes on an [`Etcd`].
pub struct Fleet {
    pub etcd: Etcd,
    pub server: ServerProcess,
    simulator: Simulator,
}

impl Fleet {
    /// Starts the server and the nodes, and waits until every node is
    /// ready (and, when the server serves its API at `api`, the API
    /// answers).
    pub async fn start(
        etcd: Etcd,
        scratch: &Path,
        config: FleetConfig<'_>,
        api: Option<SocketAddr>,
    ) -> anyhow::Result<Fleet> {
        eprintln!(
            "starting drover server{} and {} simulated nodes...",
            api.map(|a| format!(" (API {a})")).unwrap_or_default(),
            config.nodes
        );
        let mut flags = config.server_flags;
        if let Some(addr) = api {
            flags.push(format!("--http-addr={addr}"));
        }
        let server = ServerProcess::start(&etcd.endpoints, &etcd.prefix, scratch, &flags)?;
        let simulator = Simulator::start(
            etcd.store.clone(),
            SimulatorConfig {
                count: config.nodes,
                name_prefix: config.node_prefix.into(),
                datacenters: vec!["dc1".into()],
                ..SimulatorConfig::default()
            },
        )
        .await
        .context("starting the simulated nodes")?;
        let fleet = Fleet {
            etcd,
            server,
            simulator,
        };
        wait_nodes_ready(&fleet.etcd.store, config.nodes, config.ready_within).await?;
        if let Some(addr) = api {
            wait_api(&format!("http://{addr}"), Duration::from_secs(30)).await?;
        }
        Ok(fleet)
    }

    /// Stops the nodes, then the server, then the etcd it started.
    pub async fn stop(mut self) {
        self.simulator.shutdown().await;
        self.server.stop();
    }
}

async fn wait_nodes_ready(store: &Store, nodes: usize, limit: Duration) -> anyhow::Result<()> {
    let prefix = store.keys().collection("nodes-status");
    let started = Instant::now();
    loop {
        let statuses = store.list_at::<Versioned<NodeStatus>>(&prefix).await?;
        let ready = statuses
            .items
            .iter()
            .filter(|s| s.value.state == NodeState::Ready)
            .count();
        if ready >= nodes {
            return Ok(());
        }
        if started.elapsed() > limit {
            bail!("only {ready} of {nodes} nodes became ready within {limit:?}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn wait_api(base: &str, limit: Duration) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    let started = Instant::now();
    loop {
        if let Ok(r) = client.get(format!("{base}/v1/agent/self")).send().await {
            if r.status().is_success() {
                return Ok(());
            }
        }
        if started.elapsed() > limit {
            bail!("the server's API at {base} did not answer within {limit:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
