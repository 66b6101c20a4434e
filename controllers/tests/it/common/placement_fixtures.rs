//! Fixtures for the placement controller's integration tests: a real etcd,
//! the controller running on a cluster view, object builders, and polling
//! reads of what it wrote.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use drover_api_types::alloc::{Allocation, Binding};
use drover_api_types::group::{Network, Port};
use drover_api_types::job::Constraint;
use drover_api_types::node::{NodeState, NodeStatus};
use drover_api_types::{mock, Job, JobType, Node, TaskGroup};
use drover_controllers::cluster::{ClusterView, Hooks, ObjectKey, PlacementFailures, ViewHandle};
use drover_controllers::context::{Context, Fence, ServerOptions};
use drover_controllers::placement::metrics::PlacementMetrics;
use drover_controllers::placement::{self, QueuedJobs};
use drover_controllers::runtime::{BackoffConfig, WorkQueue};
use drover_store::keys::collections as c;
use drover_store::{Store, StoreConfig, Versioned};
use drover_test_support::TestEtcd;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub const NS: &str = "default";

/// How long a condition may take before the test fails.
pub const WAIT: Duration = Duration::from_secs(10);

/// The placement controller running against its own key prefix.
pub struct Harness {
    pub store: Store,
    _etcd: TestEtcd,
    _informers: ViewHandle,
    /// The controller's metrics (on a registry of their own).
    pub metrics: PlacementMetrics,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl Harness {
    /// Starts the view and the controller (one worker; resync only after a
    /// minute, so tests see what the watches alone trigger).
    pub async fn start() -> Self {
        let etcd = TestEtcd::shared_or_spawn().await.expect("etcd for tests");
        let mut config = StoreConfig::new(etcd.endpoints.clone(), &etcd.prefix);
        config.request_timeout_ms = 3_000;
        config.connect_timeout_ms = 1_000;
        let store = Store::connect(config).await.expect("connect to etcd");

        let registry = prometheus::Registry::new();
        let queue = WorkQueue::new(
            placement::controller::NAME,
            BackoffConfig::default(),
            &registry,
        )
        .expect("work queue");
        let queued = QueuedJobs::default();
        let cell: Arc<OnceLock<ClusterView>> = Arc::new(OnceLock::new());
        let mut hooks = Hooks::default();
        placement::controller::register_hooks(&queue, cell.clone(), &mut hooks, &queued);
        let (view, informers) = ClusterView::start(&store, hooks);
        let _ = cell.set(view.clone());
        within("the view to be ready", view.ready()).await;
        for key in placement::controller::resync_keys(&view) {
            queue.add(key);
        }
        let ctx = Context {
            store: store.clone(),
            view: view.clone(),
            fence: Fence::unfenced(),
            options: Arc::new(ServerOptions::default()),
        };
        let (stop, stop_rx) = watch::channel(false);
        let metrics = PlacementMetrics::register(&prometheus::Registry::new())
            .expect("placement metrics on a fresh registry");
        let controller = placement::controller::controller(ctx, queue, queued, metrics.clone());
        let task = tokio::spawn(controller.run(stop_rx));
        Harness {
            store,
            _etcd: etcd,
            _informers: informers,
            metrics,
            stop,
            task: Some(task),
        }
    }

    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            within("the controller to stop", task)
                .await
                .expect("controller task");
        }
    }

    /// Registers a node and marks it ready.
    pub async fn put_node(&self, node: &Node) {
        let keys = self.store.keys();
        let id = &node.metadata.uid;
        self.store
            .put_at(&keys.node(id), node)
            .await
            .expect("put node");
        let status = Versioned::new(NodeStatus {
            state: NodeState::Ready,
            ..Default::default()
        });
        self.store
            .put_at(&keys.node_status(id), &status)
            .await
            .expect("put node status");
    }

    pub async fn put_job(&self, job: &Job) {
        let key = self.store.keys().job(NS, &job.metadata.name);
        self.store.put_at(&key, job).await.expect("put job");
    }

    /// Writes `count` allocation specs of `group` as the job controller
    /// would; returns their ids.
    pub async fn put_allocs(&self, job: &str, group: &str, from: u32, count: u32) -> Vec<String> {
        let mut ids = Vec::new();
        for index in from..from + count {
            let a = alloc(job, group, index);
            let key = self.store.keys().alloc(NS, &a.metadata.uid);
            self.store.put_at(&key, &a).await.expect("put allocation");
            ids.push(a.metadata.uid);
        }
        ids
    }

    /// Every binding in etcd, by allocation id.
    pub async fn bindings(&self) -> BTreeMap<String, Binding> {
        let prefix = self.store.keys().collection(c::ALLOCATIONS_BINDING);
        let raw = self.store.list_raw(&prefix).await.expect("list bindings");
        raw.items
            .iter()
            .map(|kv| {
                let id = kv.key.rsplit('/').next().unwrap_or_default().to_string();
                let b: Versioned<Binding> = kv.decode().expect("decode binding");
                (id, b.value)
            })
            .collect()
    }

    /// Every `node-allocs/` entry, as (node id, allocation).
    pub async fn node_index(&self) -> Vec<(String, Allocation)> {
        let prefix = self.store.keys().collection(c::NODE_ALLOCS);
        let raw = self
            .store
            .list_raw(&prefix)
            .await
            .expect("list node-allocs");
        raw.items
            .iter()
            .map(|kv| {
                let rest = kv.key.strip_prefix(&prefix).unwrap_or_default();
                let node = rest.split('/').next().unwrap_or_default().to_string();
                (node, kv.decode().expect("decode allocation"))
            })
            .collect()
    }

    pub async fn placement(&self, job: &str) -> Option<PlacementFailures> {
        let key = self.store.keys().job_placement(NS, job);
        self.store
            .get_at::<Versioned<PlacementFailures>>(&key)
            .await
            .expect("read jobs-placement")
            .map(|v| v.value)
    }

    /// Bindings of the given allocations, once all of them are bound.
    pub async fn wait_bound(&self, ids: &[String]) -> Vec<Binding> {
        let what = format!("{} allocation(s) to be bound", ids.len());
        poll(&what, || async {
            let all = self.bindings().await;
            ids.iter().map(|id| all.get(id).cloned()).collect()
        })
        .await
    }

    /// The job's placement record, once `check` accepts it.
    pub async fn wait_placement(
        &self,
        job: &str,
        check: impl Fn(&PlacementFailures) -> bool,
    ) -> PlacementFailures {
        poll(&format!("the placement record of {job}"), || async {
            self.placement(job).await.filter(|p| check(p))
        })
        .await
    }

    pub fn job_key(job: &str) -> ObjectKey {
        ObjectKey::new(NS, job)
    }
}

/// Polls `probe` every 50 ms until it returns `Some`, for at most [`WAIT`].
pub async fn poll<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    within(what, async {
        loop {
            if let Some(v) = probe().await {
                return v;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
}

/// Awaits `fut` or fails the test after [`WAIT`].
pub async fn within<T>(what: &str, fut: impl Future<Output = T>) -> T {
    match tokio::time::timeout(WAIT, fut).await {
        Ok(v) => v,
        Err(_) => panic!("timed out after {WAIT:?} waiting for {what}"),
    }
}

/// A ready-to-be node with docker, 4000 MHz, 8 GB and a small dynamic
/// port range.
pub fn node(name: &str, datacenter: &str) -> Node {
    let mut n = mock::node(name);
    n.metadata.uid = format!("id-{name}");
    let s = &mut n.spec;
    s.datacenter = datacenter.into();
    s.address = "10.0.0.1".into();
    s.attributes.insert("kernel.name".into(), "linux".into());
    s.max_dynamic_port = 20100;
    n
}

/// A group of one docker task asking 100 MHz and 64 MB.
pub fn group(name: &str, count: i64) -> TaskGroup {
    mock::group(name, count)
}

pub fn static_port(mut g: TaskGroup, port: i64) -> TaskGroup {
    g.network = Some(Network {
        ports: vec![Port {
            label: "http".into(),
            static_port: Some(port),
            ..Default::default()
        }],
        ..Default::default()
    });
    g
}

pub fn constraint(attribute: &str, operator: &str, value: &str) -> Constraint {
    Constraint {
        attribute: attribute.into(),
        operator: operator.into(),
        value: value.into(),
    }
}

/// A service job in [`NS`] that may run in any datacenter.
pub fn job(name: &str, groups: Vec<TaskGroup>) -> Job {
    let mut job = mock::job_of(name, JobType::Service, groups);
    job.metadata.namespace = NS.into();
    job.spec.datacenters = vec!["*".into()];
    job
}

/// An allocation spec as the job controller writes it.
pub fn alloc(job: &str, group: &str, index: u32) -> Allocation {
    let mut a = Allocation::default();
    a.metadata.name = format!("{job}.{group}[{index}]");
    a.metadata.namespace = NS.into();
    a.metadata.uid = format!("{job}-{group}-{index}");
    a.spec.job_id = job.into();
    a.spec.task_group = group.into();
    a.spec.index = index;
    a
}
