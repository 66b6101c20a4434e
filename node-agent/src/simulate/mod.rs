//! Simulated nodes: N nodes in one process, without Docker, for tests and
//! the scheduling benchmark (`drover agent --simulate N`).
//!
//! What each simulated node does, as a real agent would:
//! - registers `nodes/<id>` (the id is derived from the name, so a
//!   restarted simulator is the same fleet) with a fingerprint that passes
//!   placement: datacenter (round-robin), pool `default`, a loopback
//!   address, Linux/amd64 attributes, a healthy `docker` driver, resources
//!   and the dynamic port range 20000–32000;
//! - keeps `nodes-heartbeat/<id>` alive on a lease of its own ([`leases`]);
//! - reports the allocations assigned to it ([`allocs`]): desired `run` →
//!   `running` (one running task state per task), `stop`/`evict` →
//!   `complete`.
//!
//! It scales to thousands of nodes by sharing work: one watch on
//! `node-allocs/` for the whole fleet (not one per node), status writes
//! batched into transactions every few milliseconds, and lease renewals
//! made in rounds with bounded concurrency (etcd-client binds a keepalive
//! stream to one lease id, so one stream cannot carry many leases; a
//! renewal is one short-lived stream instead).
//!
//! [`Simulator::kill`] makes a node go silent (no renewals, no reports: the
//! lease expires by itself); [`Simulator::revive`] brings it back on a new
//! lease and reports what it missed.

mod allocs;
mod leases;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use drover_api_types::node::{DriverInfo, NodeResources, NodeSpec};
use drover_api_types::{Node, ObjectMeta};
use drover_store::{Store, StoreError, Stored};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

/// Errors of the simulator.
#[derive(Debug, thiserror::Error)]
pub enum SimulateError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("encoding {what}: {source}")]
    Encode {
        what: String,
        source: serde_json::Error,
    },
    #[error("no simulated node {0}")]
    UnknownNode(String),
}

/// How many nodes, and what they look like.
#[derive(Debug, Clone)]
pub struct SimulatorConfig {
    pub count: usize,
    /// Node names are `<prefix>-<index:05>`.
    pub name_prefix: String,
    /// Assigned round-robin.
    pub datacenters: Vec<String>,
    /// MHz per node.
    pub cpu: i64,
    /// MB per node.
    pub memory: i64,
    /// TTL of each node's heartbeat lease (whole seconds, at least 1).
    pub heartbeat_ttl: Duration,
    /// Extra attributes (override the defaults).
    pub attributes: BTreeMap<String, String>,
    pub meta: BTreeMap<String, String>,
    /// Status writes are gathered this long before a batch is committed.
    pub flush_interval: Duration,
    /// Lease grants and renewals in flight at once.
    pub keepalive_concurrency: usize,
}

impl Default for SimulatorConfig {
    fn default() -> Self {
        SimulatorConfig {
            count: 1,
            name_prefix: "sim".into(),
            datacenters: vec!["dc1".into()],
            cpu: 4000,
            memory: 8192,
            heartbeat_ttl: Duration::from_secs(10),
            attributes: BTreeMap::new(),
            meta: BTreeMap::new(),
            flush_interval: Duration::from_millis(5),
            keepalive_concurrency: 64,
        }
    }
}

/// Counters, for tests and the benchmark.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SimulatorStats {
    /// Renewal rounds completed.
    pub keepalive_rounds: u64,
    /// How long the last round took (all live nodes renewed).
    pub last_round: Duration,
    /// The longest round so far.
    pub max_round: Duration,
    pub renewals: u64,
    /// Renewals that failed (transport errors, timeouts).
    pub renew_failures: u64,
    /// Leases found expired and granted again.
    pub leases_regranted: u64,
    /// Allocation statuses committed.
    pub statuses_written: u64,
    /// Batches (each one or more transactions) committed.
    pub status_batches: u64,
}

/// One simulated node's live state.
#[derive(Debug, Clone)]
struct SimNode {
    lease: i64,
    killed: bool,
}

/// What the background tasks share.
struct Shared {
    store: Store,
    config: SimulatorConfig,
    nodes: Mutex<HashMap<String, SimNode>>,
    stats: Mutex<SimulatorStats>,
    allocs: Mutex<allocs::AllocState>,
    writes: mpsc::UnboundedSender<(String, Vec<u8>)>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    fn node(&self, id: &str) -> Option<SimNode> {
        lock(&self.nodes).get(id).cloned()
    }

    fn stats(&self) -> MutexGuard<'_, SimulatorStats> {
        lock(&self.stats)
    }
}

/// A running fleet of simulated nodes. Dropping it stops the tasks; the
/// leases then expire by themselves.
pub struct Simulator {
    shared: Arc<Shared>,
    ids: Vec<String>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

/// A stable node id for a node name (a UUID-shaped hash of it).
pub fn node_id_for(name: &str) -> String {
    fn fnv(seed: u64, s: &str) -> u64 {
        s.bytes().fold(seed, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        })
    }
    let hi = fnv(0xcbf2_9ce4_8422_2325, name);
    let lo = fnv(0x8422_2325_cbf2_9ce4, &format!("{name}/drover-sim"));
    uuid::Uuid::from_u128((u128::from(hi) << 64) | u128::from(lo)).to_string()
}

/// The registration of simulated node `index`.
pub fn simulated_node(config: &SimulatorConfig, index: usize) -> Node {
    let name = format!("{}-{index:05}", config.name_prefix);
    let datacenter = match config.datacenters.len() {
        0 => "dc1".to_string(),
        n => config.datacenters[index % n].clone(),
    };
    let mut attributes: BTreeMap<String, String> = [
        ("kernel.name", "linux"),
        ("os.name", "ubuntu"),
        ("cpu.arch", "amd64"),
        ("driver.docker", "1"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    attributes.insert("unique.hostname".into(), name.clone());
    attributes.extend(config.attributes.clone());
    let driver = DriverInfo {
        detected: true,
        healthy: true,
        ..Default::default()
    };
    Node {
        metadata: ObjectMeta {
            uid: node_id_for(&name),
            name: name.clone(),
            ..Default::default()
        },
        spec: NodeSpec {
            datacenter,
            node_pool: "default".into(),
            address: format!("127.0.{}.{}", index / 250, index % 250 + 1),
            attributes,
            meta: config.meta.clone(),
            resources: NodeResources {
                cpu: config.cpu,
                cores: (config.cpu / 1000).max(1),
                memory: config.memory,
                disk: 100 * 1024,
            },
            drivers: [("docker".to_string(), driver)].into_iter().collect(),
            min_dynamic_port: 20000,
            max_dynamic_port: 32000,
            agent_version: env!("CARGO_PKG_VERSION").into(),
            ..Default::default()
        },
        ..Default::default()
    }
}

impl Simulator {
    /// Registers every node, starts their heartbeats, and starts reporting
    /// allocations. Returns once every node is registered and heartbeating.
    pub async fn start(store: Store, config: SimulatorConfig) -> Result<Simulator, SimulateError> {
        let nodes: Vec<Node> = (0..config.count)
            .map(|i| simulated_node(&config, i))
            .collect();
        let mut batch = store.batch();
        for node in &nodes {
            let bytes = node.encode().map_err(|source| SimulateError::Encode {
                what: format!("node {}", node.metadata.name),
                source,
            })?;
            batch.put(store.keys().node(&node.metadata.uid), bytes);
        }
        batch.commit(&store).await?;
        let ids: Vec<String> = nodes.iter().map(|n| n.metadata.uid.clone()).collect();
        let granted = leases::grant_all(&store, &config, &ids).await?;

        let (writes, rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            store,
            config,
            nodes: Mutex::new(
                granted
                    .into_iter()
                    .map(|(id, lease)| {
                        (
                            id,
                            SimNode {
                                lease,
                                killed: false,
                            },
                        )
                    })
                    .collect(),
            ),
            stats: Mutex::new(SimulatorStats::default()),
            allocs: Mutex::new(allocs::AllocState::default()),
            writes,
        });
        let (shutdown, stop) = watch::channel(false);
        let tasks = vec![
            tokio::spawn(leases::keepalive_loop(Arc::clone(&shared), stop.clone())),
            tokio::spawn(allocs::watch_loop(Arc::clone(&shared), stop.clone())),
            tokio::spawn(allocs::flush_loop(Arc::clone(&shared), rx, stop)),
        ];
        tracing::info!(
            nodes = ids.len(),
            "simulated nodes registered and heartbeating"
        );
        Ok(Simulator {
            shared,
            ids,
            shutdown,
            tasks,
        })
    }

    /// Node ids, in index order.
    pub fn node_ids(&self) -> Vec<String> {
        self.ids.clone()
    }

    /// The current lease of a node.
    pub fn lease_of(&self, node_id: &str) -> Option<i64> {
        self.shared.node(node_id).map(|n| n.lease)
    }

    pub fn stats(&self) -> SimulatorStats {
        self.shared.stats().clone()
    }

    /// The node goes silent: no more renewals, no more reports. Its lease
    /// (and so its heartbeat key) expires after the TTL.
    pub fn kill(&self, node_id: &str) -> Result<(), SimulateError> {
        let mut nodes = lock(&self.shared.nodes);
        let node = nodes
            .get_mut(node_id)
            .ok_or_else(|| SimulateError::UnknownNode(node_id.into()))?;
        node.killed = true;
        tracing::info!(node = node_id, "simulated node killed");
        Ok(())
    }

    /// The node comes back: a new lease, the heartbeat key again, and the
    /// allocations it missed reported.
    pub async fn revive(&self, node_id: &str) -> Result<(), SimulateError> {
        if self.shared.node(node_id).is_none() {
            return Err(SimulateError::UnknownNode(node_id.into()));
        }
        let lease =
            leases::register_heartbeat(&self.shared.store, &self.shared.config, node_id).await?;
        if let Some(node) = lock(&self.shared.nodes).get_mut(node_id) {
            node.lease = lease;
            node.killed = false;
        }
        allocs::report_node(&self.shared, node_id);
        tracing::info!(node = node_id, "simulated node revived");
        Ok(())
    }

    /// Stops every task (pending status writes are flushed first). Leases
    /// are left to expire.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        for task in self.tasks.drain(..) {
            let _ = task.await;
        }
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}
