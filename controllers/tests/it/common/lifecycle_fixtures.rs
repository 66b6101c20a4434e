//! Fixtures of the node lifecycle and drain tests: a store on the test
//! etcd, controllers running on their own view, and fake agents (a node
//! registration and a heartbeat key on a lease of its own).

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use chrono::Utc;
use drover_api_types::alloc::{AllocationStatus, Binding, ClientStatus};
use drover_api_types::node::{Heartbeat, NodeScheduling, NodeStatus};
use drover_api_types::{Allocation, Node, ObjectMeta};
use drover_controllers::cluster::{ClusterView, Hooks, ViewHandle};
use drover_controllers::context::{Context, Fence, ServerOptions};
use drover_controllers::drain::{self, DrainController};
use drover_controllers::node_lifecycle::controller::{
    register_hooks, resync_keys, Fleet, LifecycleController, NAME,
};
use drover_controllers::node_lifecycle::LifecycleConfig;
use drover_controllers::runtime::{BackoffConfig, Controller, WorkQueue};
use drover_store::{Atomic, Lease, Store, StoreConfig, Stored, Versioned};
pub use drover_test_support::wait::{eventually, POLL};
use drover_test_support::TestEtcd;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Longer than any test: progress must come from hooks and requeues, not
/// from the safety-net resync.
const RESYNC: Duration = Duration::from_secs(300);

pub async fn store() -> (TestEtcd, Store) {
    let etcd = TestEtcd::shared_or_spawn().await.expect("etcd for tests");
    let mut config = StoreConfig::new(etcd.endpoints.clone(), &etcd.prefix);
    config.request_timeout_ms = 3_000;
    config.connect_timeout_ms = 1_000;
    config.keepalive_interval_ms = 1_000;
    let store = Store::connect(config).await.expect("connect");
    (etcd, store)
}

/// ttl 2 s, grace 2 s, no partition guard unless the fleet is huge.
pub fn config() -> LifecycleConfig {
    LifecycleConfig {
        heartbeat_ttl: Duration::from_secs(2),
        heartbeat_grace: Duration::from_secs(2),
        max_down_per_interval: 10,
        down_interval: Duration::from_secs(60),
        partition_fraction: 0.5,
        partition_min_fleet: 1_000,
    }
}

/// A controller running on its own view until stopped.
pub struct Running {
    shutdown: watch::Sender<bool>,
    task: JoinHandle<()>,
    _handle: ViewHandle,
}

impl Running {
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        let _ = self.task.await;
    }
}

async fn context(
    store: &Store,
    config: LifecycleConfig,
    hooks: Hooks,
    cell: Option<&OnceLock<ClusterView>>,
) -> (Context, ViewHandle) {
    let (view, handle) = ClusterView::start(store, hooks);
    if let Some(cell) = cell {
        let _ = cell.set(view.clone());
    }
    view.ready().await;
    let ctx = Context {
        store: store.clone(),
        view,
        fence: Fence::unfenced(),
        options: Arc::new(ServerOptions {
            lifecycle: config,
            ..Default::default()
        }),
    };
    (ctx, handle)
}

/// Starts the node lifecycle controller (a new "leader").
pub async fn start_lifecycle(store: &Store, config: LifecycleConfig) -> Running {
    let registry = prometheus::Registry::new();
    let queue = WorkQueue::new(NAME, BackoffConfig::default(), &registry).expect("queue");
    let mut hooks = Hooks::default();
    let tracker = register_hooks(store.keys().clone(), &config, &queue, &mut hooks);
    let (ctx, handle) = context(store, config, hooks, None).await;
    let reconciler = Arc::new(LifecycleController::new(ctx, tracker));
    queue.add(Fleet);
    let (shutdown, rx) = watch::channel(false);
    let controller =
        Controller::new(reconciler, queue, 1).with_resync(RESYNC, Arc::new(resync_keys));
    let task = tokio::spawn(controller.run(rx));
    Running {
        shutdown,
        task,
        _handle: handle,
    }
}

/// Starts the drainer.
pub async fn start_drain(store: &Store) -> Running {
    let registry = prometheus::Registry::new();
    let queue = WorkQueue::new(
        drover_controllers::drain::NAME,
        BackoffConfig::default(),
        &registry,
    )
    .expect("queue");
    let mut hooks = Hooks::default();
    let cell = Arc::new(OnceLock::new());
    drain::register_hooks(&queue, cell.clone(), &mut hooks);
    let (ctx, handle) = context(store, config(), hooks, Some(&cell)).await;
    let resync_view = ctx.view.clone();
    for node in drain::resync_keys(&ctx.view) {
        queue.add(node);
    }
    let reconciler = Arc::new(DrainController::new(ctx));
    let (shutdown, rx) = watch::channel(false);
    let controller = Controller::new(reconciler, queue, 2)
        .with_resync(RESYNC, Arc::new(move || drain::resync_keys(&resync_view)));
    let task = tokio::spawn(controller.run(rx));
    Running {
        shutdown,
        task,
        _handle: handle,
    }
}

/// A fake agent: a registered node whose heartbeat key lives on its lease.
pub struct Agent {
    pub id: String,
    store: Store,
    ttl: Duration,
    lease: Option<Lease>,
}

impl Agent {
    /// Registers node `id` and starts heartbeating.
    pub async fn register(store: &Store, id: &str, ttl: Duration) -> Agent {
        let node = Node {
            metadata: ObjectMeta {
                name: id.into(),
                uid: id.into(),
                ..Default::default()
            },
            ..Default::default()
        };
        store
            .put_at(&store.keys().node(id), &node)
            .await
            .expect("register node");
        let mut agent = Agent {
            id: id.into(),
            store: store.clone(),
            ttl,
            lease: None,
        };
        agent.revive().await;
        agent
    }

    /// Stops renewing: the lease (and heartbeat key) expires after the TTL.
    pub fn kill(&mut self) {
        self.lease = None;
    }

    /// Stops renewing, keeping the lease id to resume on it.
    pub fn pause(&mut self) -> i64 {
        self.lease.take().map(|l| l.id()).expect("heartbeating")
    }

    /// Resumes renewing lease `id` (before it expired).
    pub fn resume(&mut self, id: i64) {
        self.lease = Some(self.store.keep_alive(id, self.ttl));
    }

    /// A new lease and the heartbeat key on it.
    pub async fn revive(&mut self) {
        let lease = self.store.lease(self.ttl).await.expect("lease");
        let value = Versioned::new(Heartbeat {
            ttl_seconds: self.ttl.as_secs(),
        });
        let mut batch = self.store.batch();
        batch.push(Atomic::new().put_with_lease(
            self.store.keys().node_heartbeat(&self.id),
            value.encode().expect("encode"),
            lease.id(),
        ));
        batch.commit(&self.store).await.expect("heartbeat");
        self.lease = Some(lease);
    }

    pub async fn heartbeat_present(&self) -> bool {
        self.store
            .get_raw(&self.store.keys().node_heartbeat(&self.id))
            .await
            .expect("read heartbeat")
            .is_some()
    }
}

pub async fn node_status(store: &Store, id: &str) -> Option<NodeStatus> {
    store
        .get_at::<Versioned<NodeStatus>>(&store.keys().node_status(id))
        .await
        .expect("read node status")
        .map(|v| v.value)
}

pub async fn node_admin(store: &Store, id: &str) -> Option<Versioned<NodeScheduling>> {
    store
        .get_at(&store.keys().node_admin(id))
        .await
        .expect("read node admin")
}

pub async fn alloc_status(store: &Store, id: &str) -> Option<AllocationStatus> {
    store
        .alloc_status_of("default", id)
        .await
        .expect("read alloc status")
        .map(|v| v.value)
}

pub async fn alloc_spec(store: &Store, id: &str) -> Allocation {
    store
        .get_at(&store.keys().alloc("default", id))
        .await
        .expect("read alloc")
        .expect("alloc exists")
}

/// Writes an allocation of `job`/`group` as the job controller, placement
/// and the agent would: spec, binding to `node`, status `status`.
pub async fn put_alloc(store: &Store, id: &str, job: &str, node: &str, status: ClientStatus) {
    let keys = store.keys();
    let mut alloc = Allocation {
        metadata: ObjectMeta {
            name: format!("{job}.app[{id}]"),
            namespace: "default".into(),
            uid: id.into(),
            ..Default::default()
        },
        ..Default::default()
    };
    alloc.spec.job_id = job.into();
    alloc.spec.task_group = "app".into();
    store
        .put_at(&keys.alloc("default", id), &alloc)
        .await
        .expect("alloc spec");
    let binding = Versioned::new(Binding {
        node_id: node.into(),
        node_name: node.into(),
        bound_at: Some(Utc::now()),
        ..Default::default()
    });
    store
        .put_at(&keys.alloc_binding("default", id), &binding)
        .await
        .expect("binding");
    set_alloc_status(store, id, status).await;
}

/// Writes an allocation's client status, as its agent would.
pub async fn set_alloc_status(store: &Store, id: &str, client_status: ClientStatus) {
    let status = Versioned::new(AllocationStatus {
        client_status,
        updated_at: Some(Utc::now()),
        ..Default::default()
    });
    let key = store
        .alloc_status_key("default", id)
        .await
        .expect("binding");
    store.put_at(&key, &status).await.expect("alloc status");
}
