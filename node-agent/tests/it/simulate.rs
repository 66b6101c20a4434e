//! The node simulator against a real etcd: registration, heartbeats,
//! allocation reports, kill and revive. Run with
//! `scripts/test-etcd.sh cargo test -p drover-node-agent --test it simulate::`.

use std::time::{Duration, Instant};

use drover_api_types::alloc::{
    AllocationStatus, Binding, ClientStatus, DesiredStatus, TaskRunState,
};
use drover_api_types::node::Heartbeat;
use drover_api_types::{mock, Allocation, Job, Node, ObjectMeta};
use drover_node_agent::simulate::{Simulator, SimulatorConfig};
use drover_store::{Store, StoreConfig, Versioned};
use drover_test_support::wait::eventually;
use drover_test_support::TestEtcd;

async fn store() -> (TestEtcd, Store) {
    let etcd = TestEtcd::shared_or_spawn().await.expect("etcd for tests");
    let mut config = StoreConfig::new(etcd.endpoints.clone(), &etcd.prefix);
    config.request_timeout_ms = 3_000;
    config.connect_timeout_ms = 1_000;
    config.keepalive_interval_ms = 1_000;
    let store = Store::connect(config).await.expect("connect");
    (etcd, store)
}

fn config_of(count: usize, ttl_secs: u64) -> SimulatorConfig {
    SimulatorConfig {
        count,
        name_prefix: "t".into(),
        datacenters: vec!["dc1".into(), "dc2".into()],
        heartbeat_ttl: Duration::from_secs(ttl_secs),
        ..Default::default()
    }
}

async fn heartbeat(store: &Store, node: &str) -> Option<Versioned<Heartbeat>> {
    store
        .get_at(&store.keys().node_heartbeat(node))
        .await
        .expect("read heartbeat")
}

/// The status of allocation `id`, under whichever node wrote it (these
/// tests assign without bindings).
async fn status(store: &Store, id: &str) -> Option<AllocationStatus> {
    let all = store
        .list_raw(&store.keys().collection("allocations-status"))
        .await
        .expect("read statuses");
    let suffix = format!("/default/{id}");
    let kv = all.items.iter().find(|kv| kv.key.ends_with(&suffix))?;
    let status: Versioned<AllocationStatus> = kv.decode().expect("decode status");
    Some(status.value)
}

fn job() -> Job {
    let mut group = mock::group("app", 1);
    group.tasks = vec![mock::task("server"), mock::task("sidecar")];
    mock::job_of("web", drover_api_types::JobType::Service, vec![group])
}

fn alloc(id: &str, node: &str, desired: DesiredStatus) -> Allocation {
    let mut a = Allocation {
        metadata: ObjectMeta {
            name: format!("web.app[{id}]"),
            namespace: "default".into(),
            uid: id.into(),
            ..Default::default()
        },
        binding: Some(Binding {
            node_id: node.into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    a.spec.job_id = "web".into();
    a.spec.task_group = "app".into();
    a.spec.desired_status = desired;
    a
}

async fn assign(store: &Store, a: &Allocation) {
    let node = &a.binding.as_ref().expect("bound").node_id;
    store
        .put_at(
            &store.keys().node_alloc(node, "default", &a.metadata.uid),
            a,
        )
        .await
        .expect("assign");
}

#[tokio::test]
async fn nodes_register_and_heartbeat() {
    let (_etcd, store) = store().await;
    let sim = Simulator::start(store.clone(), config_of(3, 2))
        .await
        .expect("start");
    let ids = sim.node_ids();
    assert_eq!(ids.len(), 3);
    for (i, id) in ids.iter().enumerate() {
        let node: Node = store
            .get_at(&store.keys().node(id))
            .await
            .expect("read node")
            .expect("node registered");
        assert_eq!(&node.metadata.uid, id);
        assert_eq!(node.metadata.name, format!("t-{i:05}"));
        assert_eq!(node.spec.datacenter, if i % 2 == 0 { "dc1" } else { "dc2" });
        assert!(node.spec.drivers["docker"].healthy);
        let hb = heartbeat(&store, id).await.expect("heartbeat key");
        assert_eq!(hb.value.ttl_seconds, 2);
    }
    // Past two TTLs the keys are still there: the leases are renewed.
    tokio::time::sleep(Duration::from_millis(4_500)).await;
    for id in &ids {
        assert!(
            heartbeat(&store, id).await.is_some(),
            "heartbeat of {id} kept alive"
        );
    }
    let stats = sim.stats();
    assert!(stats.keepalive_rounds >= 3, "{stats:?}");
    assert_eq!(stats.renew_failures, 0, "{stats:?}");
    sim.shutdown().await;
}

#[tokio::test]
async fn allocation_runs_then_completes() {
    let (_etcd, store) = store().await;
    store.create(&job()).await.expect("job");
    let sim = Simulator::start(store.clone(), config_of(2, 5))
        .await
        .expect("start");
    let node = sim.node_ids()[1].clone();
    assign(&store, &alloc("a1", &node, DesiredStatus::Run)).await;
    let running = eventually(10, "status running", || async {
        status(&store, "a1")
            .await
            .filter(|s| s.client_status == ClientStatus::Running)
    })
    .await;
    let tasks: Vec<&str> = running.task_states.keys().map(String::as_str).collect();
    assert_eq!(tasks, ["server", "sidecar"]);
    assert!(running
        .task_states
        .values()
        .all(|t| t.state == TaskRunState::Running));

    assign(&store, &alloc("a1", &node, DesiredStatus::Stop)).await;
    eventually(10, "status complete", || async {
        status(&store, "a1")
            .await
            .filter(|s| s.client_status == ClientStatus::Complete)
    })
    .await;

    // An allocation for a node that is not simulated here is not reported.
    assign(&store, &alloc("a2", "someone-else", DesiredStatus::Run)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(status(&store, "a2").await.is_none());
    sim.shutdown().await;
}

#[tokio::test]
async fn kill_expires_the_heartbeat_and_revive_restores_it() {
    let (_etcd, store) = store().await;
    let sim = Simulator::start(store.clone(), config_of(2, 2))
        .await
        .expect("start");
    let (dead, alive) = (sim.node_ids()[0].clone(), sim.node_ids()[1].clone());
    let killed_at = Instant::now();
    sim.kill(&dead).expect("kill");
    eventually(10, "heartbeat key to expire", || async {
        heartbeat(&store, &dead).await.is_none().then_some(())
    })
    .await;
    let gone_after = killed_at.elapsed();
    assert!(
        gone_after >= Duration::from_millis(1_000),
        "expired too early: {gone_after:?}"
    );
    assert!(
        heartbeat(&store, &alive).await.is_some(),
        "the other node is unaffected"
    );

    // A killed node does not report.
    assign(&store, &alloc("k1", &dead, DesiredStatus::Run)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        status(&store, "k1").await.is_none(),
        "a killed node reported"
    );

    sim.revive(&dead).await.expect("revive");
    assert!(
        heartbeat(&store, &dead).await.is_some(),
        "heartbeat back at once"
    );
    eventually(10, "the missed allocation reported", || async {
        status(&store, "k1")
            .await
            .filter(|s| s.client_status == ClientStatus::Running)
    })
    .await;
    // The new lease is renewed too.
    tokio::time::sleep(Duration::from_millis(3_000)).await;
    assert!(
        heartbeat(&store, &dead).await.is_some(),
        "revived heartbeat kept alive"
    );
    sim.shutdown().await;
}

/// A simulator cut off from etcd longer than its TTL loses its leases; once
/// it reaches etcd again it registers its heartbeats on new leases.
#[tokio::test]
async fn leases_lost_in_a_partition_are_granted_again() {
    let (etcd, observer) = store().await;
    let target = etcd.endpoints[0]
        .trim_start_matches("http://")
        .parse()
        .expect("etcd address");
    let proxy = drover_test_support::TcpProxy::start(target)
        .await
        .expect("proxy");
    let mut config = StoreConfig::new(vec![proxy.endpoint()], &etcd.prefix);
    config.request_timeout_ms = 1_000;
    config.connect_timeout_ms = 500;
    config.keepalive_interval_ms = 500;
    let behind = Store::connect(config).await.expect("connect");
    let sim = Simulator::start(behind, config_of(1, 2))
        .await
        .expect("start");
    let id = sim.node_ids()[0].clone();
    assert!(heartbeat(&observer, &id).await.is_some());

    proxy.cut();
    eventually(10, "heartbeat to expire in the partition", || async {
        heartbeat(&observer, &id).await.is_none().then_some(())
    })
    .await;
    proxy.restore();
    // The lease is counted once its heartbeat is written.
    eventually(20, "heartbeat registered again on a new lease", || async {
        let counted = sim.stats().leases_regranted >= 1;
        heartbeat(&observer, &id)
            .await
            .filter(|_| counted)
            .map(|_| ())
    })
    .await;
    sim.shutdown().await;
}

/// 5,000 nodes on their own leases stay alive. Measures registration time
/// and keepalive round time. `--ignored --nocapture` to run and see.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "scale measurement: 5,000 leases for 30 s"]
async fn five_thousand_leases_stay_alive() {
    let (_etcd, store) = store().await;
    let mut cfg = config_of(5_000, 10);
    cfg.name_prefix = "scale".into();
    let started = Instant::now();
    let sim = Simulator::start(store.clone(), cfg).await.expect("start");
    let registered = started.elapsed();
    tokio::time::sleep(Duration::from_secs(30)).await;
    let alive = store
        .list_raw(&store.keys().collection("nodes-heartbeat"))
        .await
        .expect("list heartbeats")
        .items
        .len();
    let stats = sim.stats();
    println!(
        "5000 nodes: registered in {registered:?}; after 30 s {alive} heartbeats alive; {stats:?}"
    );
    assert_eq!(alive, 5_000);
    assert_eq!(stats.leases_regranted, 0, "{stats:?}");
    sim.shutdown().await;
}

/// Allocation reporting throughput: 20,000 assignments over 100 nodes,
/// written in batches, until every status is `running`. `--ignored
/// --nocapture` to run and see.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "scale measurement: 20,000 allocation statuses"]
async fn twenty_thousand_allocations_are_reported() {
    const ALLOCS: usize = 20_000;
    let (_etcd, store) = store().await;
    let mut cfg = config_of(100, 10);
    cfg.name_prefix = "thr".into();
    let sim = Simulator::start(store.clone(), cfg).await.expect("start");
    let ids = sim.node_ids();
    let started = Instant::now();
    let mut batch = store.batch();
    for i in 0..ALLOCS {
        let a = alloc(&format!("x{i:06}"), &ids[i % ids.len()], DesiredStatus::Run);
        let key = store
            .keys()
            .node_alloc(&ids[i % ids.len()], "default", &a.metadata.uid);
        batch.put(key, drover_store::Stored::encode(&a).expect("encode"));
    }
    batch.commit(&store).await.expect("assign");
    let assigned = started.elapsed();
    let prefix = store.keys().collection("allocations-status");
    eventually(120, "every status written", || async {
        let n = store.list_raw(&prefix).await.expect("list").items.len();
        (n == ALLOCS).then_some(())
    })
    .await;
    let reported = started.elapsed();
    let stats = sim.stats();
    println!(
        "{ALLOCS} allocations: assigned in {assigned:?}, all reported {reported:?} after the first \
         assignment; {} batches",
        stats.status_batches
    );
    assert_eq!(stats.statuses_written, ALLOCS as u64);
    sim.shutdown().await;
}
