//! The agent: makes this machine a node and runs its allocations.
//!
//! Start-up: the node id from the data dir, the fingerprint, Docker's
//! health, registration with a heartbeat lease; then one watch on this
//! node's assignments (`node-allocs/<node-id>/`, so its traffic is
//! proportional to its own allocations), one worker per allocation, a
//! Docker health loop that republishes the node when the driver's health
//! changes, and an orphan sweep.
//!
//! Containers are never stopped because etcd is away: the watch and the
//! lease retry forever, and workers act only on desired state and Docker.
//! Shutting the agent down leaves containers running; a restarted agent
//! adopts them.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use drover_api_types::alloc::Allocation;
use drover_api_types::host_access::HostPolicy;
use drover_api_types::node::DriverInfo;
use drover_api_types::Node;
use drover_store::{KeyOnly, Store, WatchEvent};
use futures::StreamExt;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::driver::docker::{Docker, DriverHealth};
use crate::driver::labels;
use crate::fingerprint;
use crate::gc::GcPolicy;
use crate::heartbeat::{node_object, NodeAgentConfig, Registration};
use crate::worker::{self, Shared};

/// How often Docker's health is checked.
const HEALTH_EVERY: Duration = Duration::from_secs(10);
/// How long to wait before following Docker's events again.
const EVENTS_RETRY: Duration = Duration::from_secs(2);
/// How often containers that match no allocation are looked for.
const SWEEP_EVERY: Duration = Duration::from_secs(30);

/// Everything `drover agent` is told.
#[derive(Debug)]
pub struct AgentConfig {
    pub node: NodeAgentConfig,
    pub data_dir: PathBuf,
    /// What tasks may ask of this node beyond their allocation
    /// (privileged, host paths, host network or pid); nothing by default.
    pub host: HostPolicy,
    /// Directories templates may read absolute `source` paths from
    /// (`--template-source-dir`).
    pub template_source_dirs: Vec<PathBuf>,
    /// The most processes a container may run (`--docker-pids-limit`).
    pub pids_limit: Option<i64>,
    pub gc: GcPolicy,
    /// Where the agent's own HTTP API (task logs) listens; advertised in
    /// the node as `http_addr`.
    pub http: Option<tokio::net::TcpListener>,
    /// How it serves: TLS (`--tls-cert`, `--tls-key`, `--tls-client-ca`,
    /// as the server's) and the header deadline.
    pub http_options: drover_serve::Options,
    /// Who may read `/metrics` (`--metrics-public`, mutual TLS).
    pub metrics_access: crate::http::MetricsAccess,
    /// Where the agent registers its metrics; its HTTP API serves this
    /// registry at `/metrics` (the binary may add its own, e.g. build info).
    pub registry: prometheus::Registry,
}

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error(transparent)]
    Fingerprint(#[from] fingerprint::FingerprintError),
    #[error(transparent)]
    Driver(#[from] crate::driver::docker::DriverError),
    #[error("registering the agent's metrics: {0}")]
    Metrics(#[from] prometheus::Error),
}

/// The docker driver as the node advertises it, with what its policy
/// allows tasks to ask of the host.
pub fn driver_info(health: &DriverHealth, host: &HostPolicy) -> DriverInfo {
    let mut attributes = BTreeMap::new();
    if let Some(version) = &health.version {
        attributes.insert("driver.docker.version".to_string(), version.clone());
        for (attribute, value) in host.attributes() {
            attributes.insert(attribute.to_string(), value);
        }
    }
    DriverInfo {
        detected: health.version.is_some() || health.healthy,
        healthy: health.healthy,
        health_description: health.description.clone(),
        attributes,
        update_time: Some(Utc::now()),
    }
}

/// Runs the agent until `shutdown`. Containers keep running afterwards.
pub async fn run(
    store: Store,
    mut config: AgentConfig,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), AgentError> {
    let given = config.data_dir.clone();
    let write_error = |source| fingerprint::FingerprintError::Write {
        path: given.clone(),
        source,
    };
    std::fs::create_dir_all(&config.data_dir).map_err(write_error)?;
    // Docker mounts only absolute paths, and every allocation directory is
    // a mount source: a relative `--data-dir` (`make dev`'s ./drover-data)
    // is resolved once, here, against the agent's working directory.
    let data_dir = std::path::absolute(&config.data_dir).map_err(write_error)?;
    config.data_dir = data_dir;
    let metrics = Arc::new(crate::metrics::AgentMetrics::register(&config.registry)?);
    let id = fingerprint::node_id(&config.data_dir)?;
    let fingerprint = fingerprint::read(&config.data_dir, config.node.address)?;
    let docker = Docker::new()?;
    let health = docker.health().await;
    let drivers = BTreeMap::from([("docker".to_string(), driver_info(&health, &config.host))]);
    let mut node = node_object(&id, &config.node, &fingerprint, drivers);
    // When this agent registered the node: what `drover get nodes` shows as
    // its age.
    node.metadata.creation_timestamp = Some(Utc::now());
    tracing::info!(node = %id, name = %node.metadata.name, address = %node.spec.address, docker = %health.description, "agent starting");
    let registration =
        Registration::start(store.clone(), node.clone(), config.node.heartbeat_ttl).await;
    let (node_tx, node_rx) = watch::channel(node);
    let shared = Arc::new(Shared {
        store: store.clone(),
        docker,
        node: node_rx,
        allocs_dir: config.data_dir.join("allocs"),
        host: config.host.clone(),
        template_source_dirs: config.template_source_dirs.clone(),
        pids_limit: config.pids_limit,
        finished: Default::default(),
        metrics: metrics.clone(),
        out_of_contact: registration.out_of_contact(),
    });

    let (updates, mut updated) = tokio::sync::mpsc::unbounded_channel();
    let mut tasks = JoinSet::new();
    tasks.spawn(health_loop(
        shared.clone(),
        health,
        node_tx,
        updates,
        shutdown.clone(),
    ));
    tasks.spawn(assignments(
        shared.clone(),
        id.clone(),
        config.gc,
        shutdown.clone(),
    ));
    tasks.spawn(crate::metrics::collect::run(
        shared.clone(),
        shutdown.clone(),
    ));
    tasks.spawn(mirror_heartbeat(
        metrics,
        registration.connection(),
        registration.failures(),
        shutdown.clone(),
    ));
    if let Some(listener) = config.http {
        tasks.spawn(crate::http::serve(
            listener,
            config.http_options.clone(),
            config.metrics_access,
            shared.clone(),
            shutdown.clone(),
        ));
    }
    loop {
        tokio::select! {
            _ = shutdown.wait_for(|s| *s) => break,
            Some(node) = updated.recv() => registration.update_node(node),
        }
    }
    while tasks.join_next().await.is_some() {}
    // A clean stop keeps the lease until it expires: allocations keep
    // running, and a quick restart finds the node still ready.
    registration.shutdown(false).await;
    tracing::info!(node = %id, "agent stopped; containers left running");
    Ok(())
}

/// Mirrors the registration's state into `drover_agent_etcd_connected`
/// and `drover_agent_heartbeat_failures_total`.
async fn mirror_heartbeat(
    metrics: Arc<crate::metrics::AgentMetrics>,
    mut connection: watch::Receiver<crate::heartbeat::ConnectionState>,
    mut failures: watch::Receiver<u64>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut counted = 0;
    loop {
        let connected =
            *connection.borrow_and_update() == crate::heartbeat::ConnectionState::Connected;
        metrics.etcd_connected.set(i64::from(connected));
        let total = *failures.borrow_and_update();
        metrics
            .heartbeat_failures
            .inc_by(total.saturating_sub(counted));
        counted = counted.max(total);
        tokio::select! {
            _ = shutdown.wait_for(|s| *s) => return,
            changed = connection.changed() => if changed.is_err() { return },
            changed = failures.changed() => if changed.is_err() { return },
        }
    }
}

/// Republishes the node when Docker's health changes.
async fn health_loop(
    shared: Arc<Shared>,
    mut last: DriverHealth,
    node_tx: watch::Sender<Node>,
    update: tokio::sync::mpsc::UnboundedSender<Node>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = shutdown.wait_for(|s| *s) => return,
            _ = tokio::time::sleep(HEALTH_EVERY) => {}
        }
        let health = shared.docker.health().await;
        if health.healthy == last.healthy && health.version == last.version {
            continue;
        }
        tracing::warn!(healthy = health.healthy, docker = %health.description, "docker driver health changed");
        let mut node = node_tx.borrow().clone();
        let info = driver_info(&health, &shared.host);
        node.spec.attributes.extend(info.attributes.clone());
        if info.detected && info.healthy {
            node.spec
                .attributes
                .insert("driver.docker".into(), "1".into());
        } else {
            node.spec.attributes.remove("driver.docker");
        }
        node.spec.drivers.insert("docker".into(), info);
        node_tx.send_replace(node.clone());
        let _ = update.send(node);
        last = health;
    }
}

/// Watches this node's assignments and keeps one worker per allocation.
async fn assignments(
    shared: Arc<Shared>,
    node_id: String,
    gc: GcPolicy,
    mut shutdown: watch::Receiver<bool>,
) {
    let prefix = shared.store.keys().node_allocs_prefix(&node_id);
    let mut watch = shared.store.watch_prefix::<Allocation>(&prefix);
    let copies_prefix = shared.store.keys().node_jobs_prefix(&node_id);
    let mut copies = shared.store.watch_prefix::<KeyOnly>(&copies_prefix);
    let mut senders: HashMap<String, watch::Sender<Option<Allocation>>> = HashMap::new();
    let mut workers = JoinSet::new();
    let mut sweep = tokio::time::interval(SWEEP_EVERY);
    let mut collect = tokio::time::interval(gc.interval);
    let (exited_tx, mut exited) = tokio::sync::mpsc::channel(256);
    let mut events = JoinSet::new();
    events.spawn(forward_exits(
        shared.clone(),
        node_id.clone(),
        exited_tx,
        shutdown.clone(),
    ));
    let mut listed = false;
    let for_workers = shutdown.clone();
    loop {
        if *shutdown.borrow() {
            break;
        }
        tokio::select! {
            // `changed`, not `wait_for`: its output holds no lock guard
            // across the other branches' awaits, so the future stays Send.
            changed = shutdown.changed() => if changed.is_err() { break } else { continue },
            _ = sweep.tick(), if listed => sweep_orphans(&shared, &node_id, &senders).await,
            _ = collect.tick(), if listed => collect_garbage(&shared, &gc, &senders).await,
            Some(_) = workers.join_next(), if !workers.is_empty() => {}
            Some(Ok(event)) = copies.next() => match event {
                WatchEvent::Applied { key, .. } => wake_for_copy(&shared, &senders, &key),
                WatchEvent::Restarted { objects, .. } => {
                    for (key, _) in objects {
                        wake_for_copy(&shared, &senders, &key);
                    }
                }
                _ => {}
            },
            Some(alloc) = exited.recv() => {
                // Wakes the worker without changing what it holds.
                if let Some(tx) = senders.get(&alloc) {
                    tx.send_modify(|_| {});
                }
            }
            event = watch.next() => {
                let Some(event) = event else { break };
                let event = match event {
                    Ok(e) => e,
                    Err(e) => {
                        tracing::warn!(error = %e, "skipping an assignment that does not decode");
                        continue;
                    }
                };
                match event {
                    WatchEvent::Restarted { objects, .. } => {
                        let keep: BTreeSet<String> = objects.iter().map(|(_, a)| a.metadata.uid.clone()).collect();
                        senders.retain(|id, tx| {
                            let keep_it = keep.contains(id);
                            if !keep_it {
                                tx.send_replace(None);
                                shared.finished.forget(id);
                            }
                            keep_it
                        });
                        for (_, alloc) in objects {
                            assign(&shared, &mut senders, &mut workers, alloc, &for_workers);
                        }
                        if !listed {
                            listed = true;
                            sweep_orphans(&shared, &node_id, &senders).await;
                        }
                    }
                    WatchEvent::Applied { object, .. } => {
                        assign(&shared, &mut senders, &mut workers, object, &for_workers);
                    }
                    WatchEvent::Deleted { key, .. } => {
                        if let Some(id) = key.rsplit('/').next() {
                            if let Some(tx) = senders.remove(id) {
                                tx.send_replace(None);
                            }
                            shared.finished.forget(id);
                        }
                    }
                    WatchEvent::Synced { .. } => {}
                }
            }
        }
    }
    drop(senders);
    while workers.join_next().await.is_some() {}
    events.shutdown().await;
}

/// Forwards Docker's exit events of this node's containers (as allocation
/// ids), reconnecting when the stream breaks (Docker restarted).
async fn forward_exits(
    shared: Arc<Shared>,
    node_id: String,
    to: tokio::sync::mpsc::Sender<String>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        match shared.docker.exits(&node_id).await {
            Ok(stream) => {
                let mut stream = std::pin::pin!(stream);
                loop {
                    tokio::select! {
                        changed = shutdown.changed() => if changed.is_err() || *shutdown.borrow() { return },
                        next = stream.next() => match next {
                            Some(Ok(alloc)) => {
                                if to.send(alloc).await.is_err() {
                                    return;
                                }
                            }
                            Some(Err(e)) => {
                                tracing::debug!(error = %e, "docker events broke off; reconnecting");
                                break;
                            }
                            None => break,
                        },
                    }
                }
            }
            Err(e) => tracing::debug!(error = %e, "cannot follow docker events; retrying"),
        }
        tokio::select! {
            _ = shutdown.wait_for(|s| *s) => return,
            _ = tokio::time::sleep(EVENTS_RETRY) => {}
        }
    }
}

/// Wakes the workers whose allocation runs the job version and group a
/// copy under `key` (`node-jobs/<node>/<ns>/<job>/<version>/<group>`) holds.
fn wake_for_copy(
    shared: &Shared,
    senders: &HashMap<String, watch::Sender<Option<Allocation>>>,
    key: &str,
) {
    let Some(copy) = shared.store.keys().parse_node_job(key) else {
        return;
    };
    for tx in senders.values() {
        let runs_it = tx.borrow().as_ref().is_some_and(|a| {
            a.metadata.namespace == copy.namespace
                && a.spec.job_id == copy.job
                && a.spec.job_version == copy.version
                && copy.group.as_deref() == Some(a.spec.task_group.as_str())
        });
        if runs_it {
            tx.send_modify(|_| {});
        }
    }
}

fn assign(
    shared: &Arc<Shared>,
    senders: &mut HashMap<String, watch::Sender<Option<Allocation>>>,
    workers: &mut JoinSet<()>,
    alloc: Allocation,
    shutdown: &watch::Receiver<bool>,
) {
    let id = alloc.metadata.uid.clone();
    match senders.get(&id) {
        Some(tx) => {
            tx.send_replace(Some(alloc));
        }
        None => {
            let (tx, rx) = watch::channel(Some(alloc));
            workers.spawn(worker::run(shared.clone(), rx, shutdown.clone()));
            senders.insert(id, tx);
        }
    }
}

/// Removes this node's containers whose allocation is no longer assigned
/// here (stopping them first).
async fn sweep_orphans(
    shared: &Shared,
    node_id: &str,
    senders: &HashMap<String, watch::Sender<Option<Allocation>>>,
) {
    let containers = match shared.docker.list((labels::NODE_ID, node_id)).await {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "orphan sweep: docker list failed");
            return;
        }
    };
    for c in containers {
        let Some(alloc) = c.labels.get(labels::ALLOC_ID) else {
            continue;
        };
        if senders.contains_key(alloc) {
            continue;
        }
        tracing::info!(container = %c.name, alloc = %alloc, "removing a container that matches no allocation");
        if c.running {
            let _ = shared
                .docker
                .stop(&c.id, None, crate::actions::ORPHAN_STOP_TIMEOUT)
                .await;
        }
        if let Err(e) = shared.docker.remove(&c.id).await {
            tracing::warn!(container = %c.name, error = %e, "orphan sweep: remove failed");
        }
    }
}

/// Removes the containers and directories of finished allocations that
/// are due (see [`crate::gc`]), and directories of allocations no longer
/// assigned here.
async fn collect_garbage(
    shared: &Shared,
    policy: &GcPolicy,
    senders: &HashMap<String, watch::Sender<Option<Allocation>>>,
) {
    for alloc in shared.finished.take_due(Utc::now(), policy) {
        tracing::info!(alloc = %alloc, "collecting a finished allocation's containers and directory");
        match shared.docker.list((labels::ALLOC_ID, alloc.as_str())).await {
            Ok(containers) => {
                for c in containers {
                    if c.running {
                        let _ = shared
                            .docker
                            .stop(&c.id, None, crate::actions::ORPHAN_STOP_TIMEOUT)
                            .await;
                    }
                    if let Err(e) = shared.docker.remove(&c.id).await {
                        tracing::warn!(container = %c.name, error = %e, "gc: remove failed");
                    }
                }
            }
            Err(e) => tracing::warn!(alloc = %alloc, error = %e, "gc: docker list failed"),
        }
        remove_alloc_dir(shared, &alloc);
    }
    let Ok(entries) = std::fs::read_dir(&shared.allocs_dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !senders.contains_key(&name) {
            tracing::info!(alloc = %name, "removing the directory of an allocation no longer assigned here");
            remove_alloc_dir(shared, &name);
        }
    }
}

fn remove_alloc_dir(shared: &Shared, alloc: &str) {
    let dir = shared.allocs_dir.join(alloc);
    crate::secrets_tmpfs::release(&dir);
    crate::pinned_mounts::release(&dir);
    match std::fs::remove_dir_all(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            tracing::warn!(dir = %dir.display(), error = %e, "gc: cannot remove the allocation directory")
        }
    }
}
