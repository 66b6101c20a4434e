//! Node registration and the heartbeat lease that never gives up.
//!
//! [`node_object`] builds the node the agent registers (pure).
//! [`Registration::start`] runs one background task that
//! - puts `nodes/<id>` (a plain put: the agent owns that key) and puts it
//!   again whenever [`Registration::update_node`] changes it, e.g. when the
//!   Docker driver turns unhealthy;
//! - grants a lease of the heartbeat TTL, puts `nodes-heartbeat/<id>` on it
//!   and keeps it alive;
//! - when the lease is lost (it expired while etcd was unreachable, or was
//!   not renewed in time) grants a new one and puts the heartbeat key again,
//!   retrying forever with a capped exponential backoff.
//!
//! Nothing here returns an error to the agent: losing etcd must never make
//! it stop workloads. [`Registration::connection`] says whether the agent is
//! currently registered ([`ConnectionState::Connected`]) or retrying, for
//! logs and metrics. [`Registration::shutdown`] stops; it revokes the lease
//! only if asked (a clean agent stop keeps its allocations, as in Nomad; the
//! node then goes down after its TTL plus the server's grace).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use drover_api_types::job::Meta;
use drover_api_types::node::{DriverInfo, Heartbeat, HostVolume, NodeResources, NodeSpec};
use drover_api_types::{Node, ObjectMeta};
use drover_store::{Guard, Lease, Store, StoreError, Stored, Versioned};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::fingerprint::Fingerprint;

/// The operator's settings of the agent that go into its node.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeAgentConfig {
    /// Node name; empty means the hostname.
    pub name: String,
    pub datacenter: String,
    pub node_class: String,
    pub node_pool: String,
    pub meta: Meta,
    /// `--address`: where allocations' ports are published; `None` means
    /// the address the fingerprint found.
    pub address: Option<IpAddr>,
    /// The agent's own HTTP address (logs, exec).
    pub http_addr: String,
    /// Whether that API serves TLS.
    pub http_tls: bool,
    pub host_volumes: BTreeMap<String, HostVolume>,
    pub reserved: NodeResources,
    /// Inclusive range of dynamic ports.
    pub port_range: (u16, u16),
    pub heartbeat_ttl: Duration,
}

impl Default for NodeAgentConfig {
    fn default() -> Self {
        Self {
            name: String::new(),
            datacenter: "dc1".into(),
            node_class: String::new(),
            node_pool: "default".into(),
            meta: Meta::default(),
            address: None,
            http_addr: String::new(),
            http_tls: false,
            host_volumes: BTreeMap::new(),
            reserved: NodeResources::default(),
            port_range: (20000, 32000),
            heartbeat_ttl: Duration::from_secs(10),
        }
    }
}

/// The node's address (pure): `--address` if given, else the one the
/// fingerprint found (`unique.network.ip-address`), else loopback. The CLI
/// uses it too, to put the agent's HTTP API on the same address.
pub fn node_address(address: Option<IpAddr>, attributes: &BTreeMap<String, String>) -> String {
    match address {
        Some(a) => a.to_string(),
        None => attributes
            .get("unique.network.ip-address")
            .cloned()
            .unwrap_or_else(|| "127.0.0.1".into()),
    }
}

/// The node this agent registers (pure). Driver attributes are copied into
/// the node's attributes, and a detected, healthy driver sets
/// `driver.<name> = 1`, as Nomad does.
pub fn node_object(
    id: &str,
    config: &NodeAgentConfig,
    fingerprint: &Fingerprint,
    drivers: BTreeMap<String, DriverInfo>,
) -> Node {
    let mut attributes = fingerprint.attributes.clone();
    for (name, driver) in &drivers {
        attributes.extend(driver.attributes.clone());
        if driver.detected && driver.healthy {
            attributes.insert(format!("driver.{name}"), "1".into());
        }
    }
    let address = node_address(config.address, &attributes);
    let name = if config.name.is_empty() {
        attributes
            .get("unique.hostname")
            .cloned()
            .unwrap_or_else(|| id.to_string())
    } else {
        config.name.clone()
    };
    Node {
        metadata: ObjectMeta {
            uid: id.to_string(),
            name,
            ..Default::default()
        },
        spec: NodeSpec {
            datacenter: config.datacenter.clone(),
            node_class: config.node_class.clone(),
            node_pool: config.node_pool.clone(),
            address,
            attributes,
            meta: config.meta.clone(),
            resources: fingerprint.resources.clone(),
            reserved: config.reserved.clone(),
            drivers,
            host_volumes: config.host_volumes.clone(),
            min_dynamic_port: config.port_range.0,
            max_dynamic_port: config.port_range.1,
            http_addr: config.http_addr.clone(),
            http_tls: config.http_tls,
            agent_version: env!("CARGO_PKG_VERSION").into(),
        },
        ..Default::default()
    }
}

/// Why one registration attempt failed (logged, then retried).
#[derive(Debug, thiserror::Error)]
enum AttemptError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot encode {what}: {source}")]
    Encode {
        what: &'static str,
        source: serde_json::Error,
    },
    #[error("no answer from etcd within {0:?}")]
    TimedOut(Duration),
}

/// How long one registration attempt may take: a third of the TTL, within
/// 0.5–2 s (a healthy etcd answers in milliseconds).
fn attempt_timeout(ttl: Duration) -> Duration {
    (ttl / 3).clamp(Duration::from_millis(500), Duration::from_secs(2))
}

/// Whether the agent is registered with a live lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionState {
    /// The node is written and the heartbeat key is on a live lease.
    Connected,
    /// Not (yet, or no longer) registered: retrying.
    Reconnecting,
}

/// The backoff between failed attempts: 100 ms doubling, capped at 500 ms
/// whatever the TTL. A cut shorter than the server's ttl + grace must
/// leave the node up, so the agent has to be back within moments of the
/// network: a cap of half the TTL once brought it back 0.4 s after an
/// 8 s blip had already cost the node (ttl 5 s, grace 5 s). One attempt a
/// half-second is nothing to etcd.
#[derive(Debug, Clone)]
struct Backoff {
    next: Duration,
    cap: Duration,
}

impl Backoff {
    const FIRST: Duration = Duration::from_millis(100);
    const CAP: Duration = Duration::from_millis(500);

    fn new() -> Self {
        Self {
            next: Self::FIRST,
            cap: Self::CAP,
        }
    }

    fn next(&mut self) -> Duration {
        let now = self.next;
        self.next = (self.next * 2).min(self.cap);
        now
    }

    fn reset(&mut self) {
        self.next = Self::FIRST;
    }
}

/// A running registration; see the module docs.
pub struct Registration {
    node: watch::Sender<Node>,
    connection: watch::Receiver<ConnectionState>,
    out_of_contact: watch::Receiver<Option<Instant>>,
    lease_id: watch::Receiver<Option<i64>>,
    failures: watch::Receiver<u64>,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<Option<Lease>>>,
}

impl Registration {
    /// Starts registering `node` with a heartbeat lease of `ttl`. Returns at
    /// once; [`Registration::connection`] turns `Connected` when done.
    pub async fn start(store: Store, node: Node, ttl: Duration) -> Registration {
        let (node_tx, node_rx) = watch::channel(node);
        let (conn_tx, conn_rx) = watch::channel(ConnectionState::Reconnecting);
        let (contact_tx, contact_rx) = watch::channel(None);
        let (lease_tx, lease_rx) = watch::channel(None);
        let (stop_tx, stop_rx) = watch::channel(false);
        let (failures_tx, failures_rx) = watch::channel(0);
        let worker = Worker {
            store,
            ttl,
            node: node_rx,
            stop: stop_rx,
            connection: conn_tx,
            out_of_contact: contact_tx,
            lease_id: lease_tx,
            failures: failures_tx,
        };
        let task = tokio::spawn(worker.run());
        Registration {
            node: node_tx,
            connection: conn_rx,
            out_of_contact: contact_rx,
            lease_id: lease_rx,
            failures: failures_rx,
            stop: stop_tx,
            task: Some(task),
        }
    }

    /// Publishes a changed node (driver health, attributes). An unchanged
    /// node is not written again.
    pub fn update_node(&self, node: Node) {
        self.node.send_if_modified(|current| {
            let changed = *current != node;
            *current = node;
            changed
        });
    }

    /// Connected / Reconnecting, for logs and metrics.
    pub fn connection(&self) -> watch::Receiver<ConnectionState> {
        self.connection.clone()
    }

    /// `Some(since)` while the agent has lost its heartbeat lease: its last
    /// renewal reached the servers about then (one TTL before the lease
    /// ran out). `None` once it holds a lease again, and before it ever
    /// held one. `disconnect.stop_on_client_after` counts from `since`.
    pub fn out_of_contact(&self) -> watch::Receiver<Option<Instant>> {
        self.out_of_contact.clone()
    }

    /// How many heartbeat attempts failed so far (a node write or a
    /// registration that failed, a lease that was lost), for metrics.
    pub fn failures(&self) -> watch::Receiver<u64> {
        self.failures.clone()
    }

    /// The heartbeat lease currently held, if any.
    pub fn lease_id(&self) -> Option<i64> {
        *self.lease_id.borrow()
    }

    /// Stops renewing. With `revoke`, the lease is revoked so the heartbeat
    /// key goes at once (the node is then declared down after the server's
    /// grace); without, it expires after its TTL.
    pub async fn shutdown(mut self, revoke: bool) {
        self.stop.send_replace(true);
        let Some(task) = self.task.take() else {
            return;
        };
        match task.await {
            Ok(Some(lease)) if revoke => {
                let id = lease.id();
                if let Err(e) = lease.revoke().await {
                    tracing::warn!(lease = %format!("{id:x}"), error = %e,
                        "heartbeat: cannot revoke the lease; it expires after its TTL");
                }
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "heartbeat: registration task failed"),
        }
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// The background task's state.
struct Worker {
    store: Store,
    ttl: Duration,
    node: watch::Receiver<Node>,
    stop: watch::Receiver<bool>,
    connection: watch::Sender<ConnectionState>,
    out_of_contact: watch::Sender<Option<Instant>>,
    lease_id: watch::Sender<Option<i64>>,
    /// Failed attempts and lost leases, counted.
    failures: watch::Sender<u64>,
}

impl Worker {
    /// Registers until stopped; returns the lease held then.
    async fn run(mut self) -> Option<Lease> {
        let mut backoff = Backoff::new();
        let mut lease: Option<Lease> = None;
        let mut published: Option<Node> = None;
        loop {
            let mut failed = false;
            if lease.as_ref().is_some_and(|l| !l.is_alive()) {
                tracing::warn!("heartbeat: lease lost; registering again");
                self.failures.send_modify(|n| *n += 1);
                lease = None;
                // Write the node again too: whatever happened meanwhile.
                published = None;
                self.lease_id.send_replace(None);
                self.connection.send_replace(ConnectionState::Reconnecting);
                let now = Instant::now();
                let since = now.checked_sub(self.ttl).unwrap_or(now);
                self.out_of_contact.send_replace(Some(since));
            }
            let desired = self.node.borrow_and_update().clone();
            if published.as_ref() != Some(&desired) {
                match self.attempt(self.put_node(&desired)).await {
                    Ok(()) => published = Some(desired),
                    Err(e) => {
                        tracing::warn!(error = %e, "heartbeat: cannot write the node; retrying");
                        self.failures.send_modify(|n| *n += 1);
                        failed = true;
                    }
                }
            }
            if lease.is_none() {
                match self.attempt(self.register()).await {
                    Ok(l) => {
                        tracing::info!(lease = %format!("{:x}", l.id()), "heartbeat: registered");
                        self.lease_id.send_replace(Some(l.id()));
                        self.out_of_contact.send_if_modified(|c| c.take().is_some());
                        lease = Some(l);
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "heartbeat: cannot register; retrying");
                        self.failures.send_modify(|n| *n += 1);
                        failed = true;
                    }
                }
            }
            let state = if failed || lease.is_none() {
                ConnectionState::Reconnecting
            } else {
                backoff.reset();
                ConnectionState::Connected
            };
            self.connection
                .send_if_modified(|s| std::mem::replace(s, state) != state);
            let pause = failed.then(|| backoff.next());
            tokio::select! {
                _ = self.stop.wait_for(|s| *s) => return lease,
                changed = self.node.changed() => {
                    if changed.is_err() {
                        return lease;
                    }
                }
                () = lost(lease.as_ref()) => {}
                () = sleep(pause) => {}
            }
        }
    }

    /// Runs one attempt for at most [`attempt_timeout`]: on a network that
    /// drops packets a request waits out the store's whole request
    /// timeout, and the agent must be trying again when the network
    /// returns, not still waiting on a request sent into the void.
    async fn attempt<T>(
        &self,
        work: impl std::future::Future<Output = Result<T, AttemptError>>,
    ) -> Result<T, AttemptError> {
        let limit = attempt_timeout(self.ttl);
        tokio::time::timeout(limit, work)
            .await
            .unwrap_or(Err(AttemptError::TimedOut(limit)))
    }

    async fn put_node(&self, node: &Node) -> Result<(), AttemptError> {
        let key = self.store.keys().node(&node.metadata.uid);
        let bytes = node.encode().map_err(|source| AttemptError::Encode {
            what: "node",
            source,
        })?;
        self.store.put_raw(&key, bytes, Guard::None, None).await?;
        Ok(())
    }

    /// Grants a lease, keeps it alive and puts the heartbeat key on it.
    async fn register(&self) -> Result<Lease, AttemptError> {
        let id = self.node.borrow().metadata.uid.clone();
        let lease = self.store.lease(self.ttl).await?;
        let value = Versioned::new(Heartbeat {
            ttl_seconds: self.ttl.as_secs().max(1),
        });
        let bytes = value.encode().map_err(|source| AttemptError::Encode {
            what: "heartbeat",
            source,
        })?;
        let key = self.store.keys().node_heartbeat(&id);
        // On failure the lease is dropped: it stops renewing and expires.
        self.store
            .put_raw(&key, bytes, Guard::None, Some(lease.id()))
            .await?;
        Ok(lease)
    }
}

async fn lost(lease: Option<&Lease>) {
    match lease {
        Some(l) => l.lost().await,
        None => std::future::pending().await,
    }
}

async fn sleep(pause: Option<Duration>) {
    match pause {
        Some(p) => tokio::time::sleep(p).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests;
