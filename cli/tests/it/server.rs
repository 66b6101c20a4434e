//! `drover server` end to end: real server processes, a real etcd, and
//! simulated nodes in the test process. Covers what only the whole system
//! shows: node death and replacement with placement reasons, a leader killed
//! in the middle of placing, and a standby taking over.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use drover_api_types::alloc::{Allocation, AllocationStatus, Binding, ClientStatus, DesiredStatus};
use drover_api_types::group::{Network, Port};
use drover_api_types::job::JobStatus;
use drover_api_types::{mock, Job, JobType};
use drover_node_agent::simulate::{Simulator, SimulatorConfig};
use drover_store::{Store, StoreConfig, Versioned};
use drover_test_support::wait::{eventually, within};
use drover_test_support::TestEtcd;

const DROVER: &str = env!("CARGO_BIN_EXE_drover");

/// A `drover server` child process, killed (SIGKILL) on drop.
struct Server {
    name: String,
    child: Child,
}

impl Server {
    fn start(etcd: &TestEtcd, name: &str, extra: &[&str]) -> Server {
        let child = Command::new(DROVER)
            .arg("server")
            .arg(format!("--etcd={}", etcd.endpoints.join(",")))
            .arg(format!("--etcd-prefix={}", etcd.prefix))
            .arg(format!("--name={name}"))
            .args([
                "--dns-addr=127.0.0.1:0",
                "--election-ttl=2s",
                "--heartbeat-ttl=1s",
                "--heartbeat-grace=2s",
            ])
            .args(["--log-level=warn"])
            .args(if extra.iter().any(|a| a.starts_with("--http-addr")) {
                &[][..]
            } else {
                &["--http-addr=127.0.0.1:0"][..]
            })
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start drover server");
        Server {
            name: name.to_string(),
            child,
        }
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

async fn store_for(etcd: &TestEtcd) -> Store {
    let mut config = StoreConfig::new(etcd.endpoints.clone(), &etcd.prefix);
    config.request_timeout_ms = 3_000;
    Store::connect(config).await.expect("connect")
}

async fn simulate(store: &Store, count: usize, datacenters: &[&str]) -> Simulator {
    Simulator::start(
        store.clone(),
        SimulatorConfig {
            count,
            name_prefix: "node".into(),
            datacenters: datacenters.iter().map(|d| d.to_string()).collect(),
            heartbeat_ttl: Duration::from_secs(1),
            // Room for any test's whole load on one node: bin-packing fills
            // nodes one by one, and these tests are about ports, node deaths
            // and leaders, not about running out of cpu or memory.
            cpu: 200_000,
            memory: 200_000,
            ..SimulatorConfig::default()
        },
    )
    .await
    .expect("simulated nodes")
}

/// A service job of `count` allocations of a 50 MHz, 32 MB task `app`,
/// in any datacenter, on port `http` (static when asked).
fn job(name: &str, count: i64, static_port: Option<i64>) -> Job {
    let mut group = mock::group("app", count);
    group.network = Some(Network {
        ports: vec![Port {
            label: "http".into(),
            static_port,
            ..Default::default()
        }],
        ..Default::default()
    });
    let task = &mut group.tasks[0];
    task.name = "app".into();
    task.resources.cpu = 50;
    task.resources.memory = 32;
    let mut job = mock::job_of(name, JobType::Service, vec![group]);
    job.spec.datacenters = vec!["*".into()];
    job
}

async fn put_job(store: &Store, job: &Job) {
    let key = store
        .keys()
        .job(&job.metadata.namespace, &job.metadata.name);
    store.put_at(&key, job).await.expect("put job");
}

/// Every allocation, whole (spec, binding, status).
async fn allocations(store: &Store) -> Vec<Allocation> {
    let keys = store.keys();
    let specs: Vec<Allocation> = store
        .list_at(&keys.collection("allocations"))
        .await
        .expect("list allocations")
        .items;
    let bindings: HashMap<String, Binding> = by_alloc_id(store, "allocations-binding").await;
    let statuses: HashMap<String, AllocationStatus> =
        by_alloc_id(store, "allocations-status").await;
    specs
        .into_iter()
        .map(|mut a| {
            a.binding = bindings.get(&a.metadata.uid).cloned();
            if let Some(s) = statuses.get(&a.metadata.uid) {
                a.status = s.clone();
            }
            a
        })
        .collect()
}

/// A collection's values keyed by the last key segment (the allocation id).
async fn by_alloc_id<V>(store: &Store, collection: &str) -> HashMap<String, V>
where
    V: serde::de::DeserializeOwned + serde::Serialize + Send + Sync + 'static,
{
    store
        .list_raw(&store.keys().collection(collection))
        .await
        .expect("list")
        .items
        .into_iter()
        .map(|kv| {
            let value = kv.decode::<Versioned<V>>().expect("decode").value;
            let id = kv.key.rsplit('/').next().unwrap_or_default().to_string();
            (id, value)
        })
        .collect()
}

fn live(allocs: &[Allocation]) -> Vec<&Allocation> {
    allocs
        .iter()
        .filter(|a| a.spec.desired_status == DesiredStatus::Run)
        .filter(|a| !a.status.client_status.is_terminal())
        .collect()
}

fn running(allocs: &[Allocation]) -> usize {
    live(allocs)
        .iter()
        .filter(|a| a.status.client_status == ClientStatus::Running)
        .count()
}

async fn job_status(store: &Store, name: &str) -> Option<JobStatus> {
    store
        .get_at::<Versioned<JobStatus>>(&store.keys().job_status("default", name))
        .await
        .expect("get job status")
        .map(|s| s.value)
}

/// No (job, group, index) has two live allocations, and no node has a host
/// port booked twice among its live allocations.
fn assert_no_duplicates(allocs: &[Allocation]) {
    let mut slots: BTreeMap<(String, String, u32), usize> = BTreeMap::new();
    let mut ports: BTreeSet<(String, u16)> = BTreeSet::new();
    for a in live(allocs) {
        let slot = (
            a.spec.job_id.clone(),
            a.spec.task_group.clone(),
            a.spec.index,
        );
        *slots.entry(slot).or_default() += 1;
        if let Some(b) = &a.binding {
            for p in b.ports.values() {
                assert!(
                    ports.insert((b.node_id.clone(), p.value)),
                    "port {} double-booked on {}",
                    p.value,
                    b.node_id
                );
            }
        }
    }
    let dupes: Vec<_> = slots.iter().filter(|(_, n)| **n > 1).collect();
    assert!(dupes.is_empty(), "duplicate live allocations: {dupes:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_of_three_nodes_die_the_static_port_explains_the_queue_and_they_come_back() {
    let etcd = TestEtcd::shared_or_spawn().await.expect("etcd");
    let store = store_for(&etcd).await;
    let _server = Server::start(&etcd, "solo", &[]);
    let sim = simulate(&store, 3, &["dc1"]).await;
    put_job(&store, &job("web", 3, Some(80))).await;

    let allocs = eventually(20, "3 running", || async {
        let a = allocations(&store).await;
        (running(&a) == 3).then_some(a)
    })
    .await;
    let nodes: BTreeSet<String> = live(&allocs)
        .iter()
        .filter_map(|a| a.binding.as_ref().map(|b| b.node_id.clone()))
        .collect();
    assert_eq!(nodes.len(), 3, "one per node: port 80 fits once per node");

    let ids = sim.node_ids();
    let killed_at = Instant::now();
    sim.kill(&ids[0]).expect("kill");
    sim.kill(&ids[1]).expect("kill");

    // The summary and the placement explanation reach the job status in
    // separate passes: wait for both.
    let status = eventually(30, "1 running and 2 queued, with the reason", || async {
        let s = job_status(&store, "web").await?;
        let g = s.summary.get("app")?;
        let explained = s
            .placement_failures
            .get("app")
            .is_some_and(|f| f.queued == 2);
        (g.running == 1 && g.queued == 2 && explained).then_some(s)
    })
    .await;
    // ttl 1 s + grace 2 s: never sooner.
    assert!(
        killed_at.elapsed() >= Duration::from_secs(2),
        "replaced too early: {:?}",
        killed_at.elapsed()
    );
    let failure = status
        .placement_failures
        .get("app")
        .expect("a placement failure for the group");
    assert_eq!(failure.queued, 2);
    assert_eq!(
        failure.dimensions_exhausted.get("port 80"),
        Some(&1),
        "{failure:?}"
    );
    let allocs = allocations(&store).await;
    assert_no_duplicates(&allocs);

    // The nodes come back: their lost allocations were told to stop, so the
    // queued replacements take port 80 there and nothing runs twice.
    sim.revive(&ids[0]).await.expect("revive");
    sim.revive(&ids[1]).await.expect("revive");
    let allocs = eventually(30, "3 running again", || async {
        let a = allocations(&store).await;
        (running(&a) == 3 && live(&a).len() == 3).then_some(a)
    })
    .await;
    assert_no_duplicates(&allocs);
    let status = eventually(10, "the queue explanation cleared", || async {
        let s = job_status(&store, "web").await?;
        s.placement_failures.is_empty().then_some(s)
    })
    .await;
    assert_eq!(status.summary.get("app").map(|g| g.queued), Some(0));
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_killed_mid_placement_leaves_no_duplicates_and_no_double_booked_port() {
    let etcd = TestEtcd::shared_or_spawn().await.expect("etcd");
    let store = store_for(&etcd).await;
    let mut first = Server::start(&etcd, "first", &[]);
    let leader = eventually(10, "a leader", || async {
        store.leader("controllers").await.expect("leader")
    })
    .await;
    assert_eq!(leader, "first");
    let _second = Server::start(&etcd, "second", &[]);
    let sim = simulate(&store, 40, &["dc1"]).await;

    // 40 static-port allocations fit exactly once per node; 3,000 more with
    // dynamic ports; all applied at once, the leader killed while placing.
    const TOTAL: usize = 3040;
    put_job(&store, &job("pinned", 40, Some(8080))).await;
    for n in 0..3 {
        put_job(&store, &job(&format!("bulk-{n}"), 1000, None)).await;
    }
    let bindings = store.keys().collection("allocations-binding");
    let bound_at_kill = within(20, "placement under way", async {
        loop {
            let bound = store.list_raw(&bindings).await.expect("list").items.len();
            // Past the first job: the kill lands inside a bulk job's batch
            // of concurrent transactions, or between two jobs.
            if bound > 40 {
                return bound;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    first.kill();
    assert!(
        bound_at_kill < TOTAL,
        "placement finished before the kill ({bound_at_kill} bound): not a mid-placement kill"
    );
    eprintln!("leader killed with {bound_at_kill} of {TOTAL} allocations bound");

    eventually(10, "the standby to lead", || async {
        let leader = store.leader("controllers").await.expect("leader")?;
        (leader == "second").then_some(())
    })
    .await;
    let allocs = eventually(
        90,
        "every allocation running under the new leader",
        || async {
            let a = allocations(&store).await;
            (running(&a) == TOTAL).then_some(a)
        },
    )
    .await;
    assert_no_duplicates(&allocs);
    assert_eq!(live(&allocs).len(), TOTAL, "no extra allocations");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standby_takes_over_without_restarting_anything() {
    let etcd = TestEtcd::shared_or_spawn().await.expect("etcd");
    let store = store_for(&etcd).await;
    let mut servers = [
        Server::start(&etcd, "alpha", &[]),
        Server::start(&etcd, "beta", &[]),
    ];
    let leader = eventually(10, "a leader", || async {
        store.leader("controllers").await.expect("leader")
    })
    .await;
    let sim = simulate(&store, 5, &["dc1"]).await;
    put_job(&store, &job("steady", 10, None)).await;
    let before = eventually(20, "10 running", || async {
        let a = allocations(&store).await;
        (running(&a) == 10).then_some(a)
    })
    .await;

    let index = servers
        .iter()
        .position(|s| s.name == leader)
        .expect("the leader is one of ours");
    let standby = servers[1 - index].name.clone();
    let killed_at = Instant::now();
    servers[index].kill();
    eventually(10, "the standby to lead", || async {
        let now = store.leader("controllers").await.expect("leader")?;
        (now == standby).then_some(())
    })
    .await;
    // Election TTL is 2 s; allow scheduling slack.
    assert!(killed_at.elapsed() < Duration::from_secs(6));

    // The new leader must not touch what runs: same allocations, all running.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let after = allocations(&store).await;
    let ids = |a: &[Allocation]| -> BTreeSet<String> {
        live(a).iter().map(|a| a.metadata.uid.clone()).collect()
    };
    assert_eq!(
        ids(&after),
        ids(&before),
        "allocations replaced on failover"
    );
    assert_eq!(running(&after), 10);
    assert_eq!(after.len(), before.len(), "nothing created on failover");
    sim.shutdown().await;
}

/// A plain HTTP/1.0 GET, so the test needs no HTTP client crate.
async fn http_get(addr: &str, path: &str) -> Option<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.ok()?;
    let request = format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n");
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await.ok()?;
    Some(response)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_served_and_say_who_leads() {
    let etcd = TestEtcd::shared_or_spawn().await.expect("etcd");
    let store = store_for(&etcd).await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let addr = format!("127.0.0.1:{port}");
    let _server = Server::start(&etcd, "metered", &[&format!("--http-addr={addr}")]);
    let sim = simulate(&store, 2, &["dc1"]).await;
    put_job(&store, &job("counted", 2, None)).await;
    eventually(20, "2 running", || async {
        (running(&allocations(&store).await) == 2).then_some(())
    })
    .await;
    let body = eventually(10, "metrics of a leader", || async {
        let body = http_get(&addr, "/metrics").await?;
        body.contains("drover_server_leader 1").then_some(body)
    })
    .await;
    assert!(
        body.starts_with("HTTP/1.0 200") || body.starts_with("HTTP/1.1 200"),
        "{body}"
    );
    for name in [
        "drover_controller_reconcile_total{controller=\"job\",result=\"success\"}",
        "drover_controller_reconcile_total{controller=\"placement\",result=\"success\"}",
        "drover_workqueue_depth{controller=\"node-lifecycle\"}",
        "drover_controller_reconcile_duration_seconds_bucket{controller=\"drain\"",
        "drover_workqueue_depth{controller=\"services\"}",
    ] {
        assert!(body.contains(name), "missing {name} in\n{body}");
    }
    let status = http_get(&addr, "/v1/status/leader").await.expect("status");
    assert!(status.contains("{\"leading\":true}"), "{status}");
    sim.shutdown().await;
}

#[test]
fn an_unknown_controller_name_is_refused_before_anything_starts() {
    let output = Command::new(DROVER)
        .args([
            "server",
            "--etcd=http://127.0.0.1:1",
            "--disable-controller=placment",
        ])
        .output()
        .expect("run drover server");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--disable-controller \"placment\": no such controller")
            && stderr.contains("job, placement, node-jobs, node-lifecycle, drain"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_controller_does_not_run() {
    let etcd = TestEtcd::shared_or_spawn().await.expect("etcd");
    let store = store_for(&etcd).await;
    let _server = Server::start(&etcd, "partial", &["--disable-controller=placement"]);
    let sim = simulate(&store, 2, &["dc1"]).await;
    put_job(&store, &job("unplaced", 2, None)).await;
    eventually(20, "the job controller's 2 allocations", || async {
        (allocations(&store).await.len() == 2).then_some(())
    })
    .await;
    // Nodes are ready and have room; only the switched-off placement could bind.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let allocs = allocations(&store).await;
    assert_eq!(allocs.len(), 2);
    assert!(allocs.iter().all(|a| a.binding.is_none()), "{allocs:?}");
    sim.shutdown().await;
}
