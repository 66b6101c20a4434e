//! An agent cut off from etcd by a TCP proxy: what its allocations become
//! (lost, or unknown under `disconnect.lost_after`), what a blip shorter
//! than ttl + grace does (nothing), and an agent stopping its allocations
//! itself (`disconnect.stop_on_client_after`).

use std::time::Duration;

use super::running_of;
use crate::common::*;
use drover_api_types::alloc::{Allocation, AllocationStatus, ClientStatus, TaskRunState};
use drover_api_types::Job;
use drover_store::{Store, Versioned};
use drover_test_support::wait::eventually;
use drover_test_support::TestEtcd;

/// A node marked down while its agent was cut off from etcd comes back: the
/// allocation the servers declared lost stays lost — its container is
/// stopped, its status is not turned into "complete" — and only its
/// replacement runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_allocation_lost_while_its_node_was_cut_off_stays_lost_when_it_returns() {
    let cut = CutOff::start("127.0.0.14", "2s", "2s").await;
    let (store, proxy) = (&cut.store, &cut.proxy);
    let (alloc, binding) = running_alloc(store).await;
    let status_key = store.keys().alloc_status(
        Some(&binding.node_id),
        &alloc.metadata.namespace,
        &alloc.metadata.uid,
    );
    let status_of = |store: Store, key: String| async move {
        store
            .get_at::<Versioned<AllocationStatus>>(&key)
            .await
            .ok()
            .flatten()
            .map(|s| s.value)
    };

    proxy.cut();
    eventually(30, "the allocation declared lost", || {
        let (store, key) = (store.clone(), status_key.clone());
        async move {
            status_of(store, key)
                .await
                .filter(|s| s.client_status == ClientStatus::Lost)
        }
    })
    .await;
    proxy.restore();

    let replacement = eventually(60, "the replacement running", || {
        let store = store.clone();
        let lost = alloc.metadata.uid.clone();
        async move {
            let running = running_of(&store, "web").await;
            running
                .into_iter()
                .find(|(a, _)| a.metadata.uid != lost)
                .map(|(a, _)| a)
        }
    })
    .await;
    assert_eq!(
        replacement.spec.previous_allocation.as_deref(),
        Some(alloc.metadata.uid.as_str())
    );
    let container = format!("httpd-{}", alloc.metadata.uid);
    eventually(30, "the lost allocation's container stopped", || async {
        (docker_inspect(&container, "{{.State.Running}}") != "true").then_some(())
    })
    .await;
    // The agent has reported since (its task states show the stop) and
    // the allocation is still lost.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let status = status_of(store.clone(), status_key.clone())
        .await
        .expect("the lost allocation's status");
    assert_eq!(status.client_status, ClientStatus::Lost, "{status:?}");
    assert!(
        status
            .task_states
            .values()
            .all(|t| t.state == TaskRunState::Dead),
        "{status:?}"
    );
}

/// A network blip between an agent and etcd of 0.8 × (ttl + grace) —
/// 8 s with ttl 5 s and grace 5 s, as users saw it restart their
/// workloads — leaves the node up and restarts nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blip_shorter_than_ttl_plus_grace_restarts_nothing() {
    let cut = CutOff::start("127.0.0.15", "5s", "5s").await;
    let (store, proxy) = (&cut.store, &cut.proxy);
    let (alloc, binding) = running_alloc(store).await;
    let container = format!("httpd-{}", alloc.metadata.uid);
    let started = docker_inspect(&container, "{{.State.StartedAt}}");
    let node_status_key = store.keys().node_status(&binding.node_id);
    let node_state = || {
        let (store, key) = (store.clone(), node_status_key.clone());
        async move {
            store
                .get_at::<Versioned<drover_api_types::node::NodeStatus>>(&key)
                .await
                .ok()
                .flatten()
                .map(|s| s.value.state)
        }
    };

    proxy.cut();
    let cut_at = std::time::Instant::now();
    while cut_at.elapsed() < Duration::from_secs(8) {
        assert_ne!(
            node_state().await,
            Some(drover_api_types::node::NodeState::Down),
            "marked down {:?} into the blip",
            cut_at.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    proxy.restore();
    // Past the point where the node would have been marked down (10 s
    // after its last renewal), and then some.
    let watch_until = std::time::Instant::now() + Duration::from_secs(6);
    while std::time::Instant::now() < watch_until {
        assert_ne!(
            node_state().await,
            Some(drover_api_types::node::NodeState::Down),
            "marked down {:?} after the blip began",
            cut_at.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        docker_inspect(&container, "{{.State.StartedAt}}"),
        started,
        "the container was restarted"
    );
    let allocs: Vec<Allocation> = store
        .list_at(&store.keys().collection("allocations"))
        .await
        .expect("list")
        .items;
    assert_eq!(allocs.len(), 1, "a replacement was made: {allocs:?}");
    let (again, _) = running_alloc(store).await;
    assert_eq!(again.metadata.uid, alloc.metadata.uid);
}

/// A server, and an agent on `address` that reaches etcd only through a
/// TCP proxy a test can cut, running the web job (or another); heartbeat
/// `ttl` and `grace` as given.
struct CutOff {
    store: Store,
    proxy: drover_test_support::TcpProxy,
    _etcd: TestEtcd,
    _data: tempfile::TempDir,
    _server: Proc,
    _agent: Proc,
    _cleanup: Cleanup,
}

impl CutOff {
    async fn start(address: &str, ttl: &str, grace: &str) -> CutOff {
        CutOff::start_with(address, ttl, grace, web_job()).await
    }

    /// As [`CutOff::start`], running `job` instead of the web job.
    async fn start_with(address: &str, ttl: &str, grace: &str, job: Job) -> CutOff {
        drover_test_support::docker::busybox_image(IMAGE).expect("test image");
        let etcd = TestEtcd::shared_or_spawn().await.expect("etcd");
        let target = etcd.endpoints[0]
            .trim_start_matches("http://")
            .parse()
            .expect("etcd's address");
        let proxy = drover_test_support::TcpProxy::start(target)
            .await
            .expect("proxy");
        let store = connect(etcd.endpoints.clone(), &etcd.prefix).await;
        let data = tempfile::tempdir().expect("tempdir");
        let data_dir = data.path().join("agent");
        let server = drover(
            &etcd,
            &[
                "server",
                "--http-addr=127.0.0.1:0",
                &format!("--heartbeat-ttl={ttl}"),
                &format!("--heartbeat-grace={grace}"),
            ],
        );
        let agent = drover_at(
            &proxy.endpoint(),
            &etcd.prefix,
            &[
                "agent",
                &format!("--address={address}"),
                &format!("--http-addr={address}:0"),
                &format!("--heartbeat-ttl={ttl}"),
                &format!("--data-dir={}", data_dir.display()),
            ],
        );
        let cleanup = cleanup_when_registered(&data_dir).await;
        let key = store.keys().job("default", &job.metadata.name);
        store.put_at(&key, &job).await.expect("put job");
        CutOff {
            store,
            proxy,
            _etcd: etcd,
            _data: data,
            _server: server,
            _agent: agent,
            _cleanup: cleanup,
        }
    }
}

/// The web job with `disconnect` set as given.
fn web_with(disconnect: drover_api_types::group::Disconnect) -> Job {
    let mut job = web_job();
    job.spec.groups[0].disconnect = Some(disconnect);
    job
}

async fn status_of(store: &Store, alloc: &Allocation) -> Option<AllocationStatus> {
    store
        .alloc_status_of(&alloc.metadata.namespace, &alloc.metadata.uid)
        .await
        .ok()
        .flatten()
        .map(|s| s.value)
}

/// Waits (up to 30 s) until `alloc`'s client status is `wanted`.
async fn status_when(store: &Store, alloc: &Allocation, wanted: ClientStatus) -> AllocationStatus {
    let what = format!("the allocation {wanted:?}");
    eventually(30, &what, || async {
        status_of(store, alloc)
            .await
            .filter(|s| s.client_status == wanted)
    })
    .await
}

async fn node_state(store: &Store, node_id: &str) -> Option<drover_api_types::node::NodeState> {
    store
        .get_at::<Versioned<drover_api_types::node::NodeStatus>>(&store.keys().node_status(node_id))
        .await
        .ok()
        .flatten()
        .map(|s| s.value.state)
}

async fn all_allocs(store: &Store) -> Vec<Allocation> {
    store
        .list_at(&store.keys().collection("allocations"))
        .await
        .expect("list allocations")
        .items
}

/// `disconnect { lost_after = "1h", reconcile = "keep_original" }`: cut
/// off past ttl + grace, the node is `disconnected` and its allocation
/// `unknown`, not lost; its container keeps running, and a replacement
/// waits (the only node is away). Back, the allocation is `running` again
/// in the same container, and the replacement gives way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_allocation_with_lost_after_waits_unknown_and_comes_back_as_it_was() {
    use drover_api_types::node::NodeState;
    let job = web_with(drover_api_types::group::Disconnect {
        lost_after: Some(drover_api_types::Duration::from_secs(3600)),
        reconcile: "keep_original".into(),
        ..Default::default()
    });
    let cut = CutOff::start_with("127.0.0.16", "2s", "2s", job).await;
    let (store, proxy) = (&cut.store, &cut.proxy);
    let (alloc, binding) = running_alloc(store).await;
    let container = format!("httpd-{}", alloc.metadata.uid);
    let started = docker_inspect(&container, "{{.State.StartedAt}}");

    proxy.cut();
    let cut_at = std::time::Instant::now();
    let unknown = status_when(store, &alloc, ClientStatus::Unknown).await;
    println!(
        "disconnect: unknown {:?} after the cut (ttl 2 s + grace 2 s)",
        cut_at.elapsed()
    );
    assert!(
        unknown.client_description.contains("lost_after"),
        "{unknown:?}"
    );
    assert_eq!(
        node_state(store, &binding.node_id).await,
        Some(NodeState::Disconnected)
    );
    let replacement = eventually(20, "a replacement made", || async {
        all_allocs(store)
            .await
            .into_iter()
            .find(|a| a.spec.previous_allocation.as_deref() == Some(alloc.metadata.uid.as_str()))
    })
    .await;
    assert_eq!(replacement.spec.index, alloc.spec.index);
    // Well past ttl + grace: still unknown, never lost, container untouched.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let still = status_of(store, &alloc).await.expect("status");
    assert_eq!(still.client_status, ClientStatus::Unknown, "{still:?}");
    assert_eq!(docker_inspect(&container, "{{.State.Running}}"), "true");
    proxy.restore();
    let restored_at = std::time::Instant::now();
    status_when(store, &alloc, ClientStatus::Running).await;
    println!(
        "disconnect: running again {:?} after the network came back",
        restored_at.elapsed()
    );
    eventually(30, "the replacement given way", || async {
        all_allocs(store)
            .await
            .into_iter()
            .find(|a| a.metadata.uid == replacement.metadata.uid)
            .filter(|a| a.spec.desired_status != drover_api_types::alloc::DesiredStatus::Run)
            .filter(|a| a.spec.desired_description.contains("came back"))
    })
    .await;
    assert_eq!(
        node_state(store, &binding.node_id).await,
        Some(NodeState::Ready)
    );
    // Settled: the original is the one allocation running, in the
    // container it had before the cut. (The replacement, if it started
    // before it was told to give way, takes its kill_timeout to stop:
    // busybox httpd is PID 1 and ignores SIGTERM.)
    eventually(30, "the original the one running", || async {
        let running = running_of(store, "web").await;
        let ids: Vec<String> = running
            .iter()
            .map(|(a, _)| a.metadata.uid.clone())
            .collect();
        (ids == vec![alloc.metadata.uid.clone()]).then_some(())
    })
    .await;
    assert_eq!(
        docker_inspect(&container, "{{.State.StartedAt}}"),
        started,
        "the original's container was restarted"
    );
}

/// `disconnect { stop_on_client_after = "3s" }`: an agent cut off from the
/// servers stops the allocation itself, before the servers (grace 60 s)
/// could even declare it lost; back in contact, it reports it lost and
/// does not start it again, and the job gets a replacement.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_out_of_contact_for_stop_on_client_after_stops_the_allocation() {
    let mut job = web_with(drover_api_types::group::Disconnect {
        stop_on_client_after: Some(drover_api_types::Duration::from_secs(3)),
        ..Default::default()
    });
    // httpd as PID 1 ignores SIGTERM: a short kill_timeout keeps the stop
    // itself from dominating the figure.
    job.spec.groups[0].tasks[0].kill_timeout = drover_api_types::Duration::from_millis(500);
    let cut = CutOff::start_with("127.0.0.17", "2s", "60s", job).await;
    let (store, proxy) = (&cut.store, &cut.proxy);
    let (alloc, _) = running_alloc(store).await;
    let container = format!("httpd-{}", alloc.metadata.uid);

    proxy.cut();
    let cut_at = std::time::Instant::now();
    eventually(20, "the container stopped by its agent", || async {
        (docker_inspect(&container, "{{.State.Running}}") != "true").then_some(())
    })
    .await;
    let stopped_after = cut_at.elapsed();
    println!("disconnect: stop_on_client_after = 3s stopped the container {stopped_after:?} after the cut");
    // Lease lost after ~ttl, then stop_on_client_after counted from the
    // last renewal: about 3 s after the cut (+ the kill), never before.
    assert!(
        stopped_after >= Duration::from_secs(2),
        "stopped {stopped_after:?} after the cut"
    );
    proxy.restore();

    let lost = status_when(store, &alloc, ClientStatus::Lost).await;
    assert!(
        lost.client_description.contains("stop_on_client_after"),
        "{lost:?}"
    );
    let replacement = eventually(60, "the replacement running", || async {
        running_of(store, "web")
            .await
            .into_iter()
            .find(|(a, _)| a.metadata.uid != alloc.metadata.uid)
            .map(|(a, _)| a)
    })
    .await;
    assert_eq!(
        replacement.spec.previous_allocation.as_deref(),
        Some(alloc.metadata.uid.as_str())
    );
    assert_ne!(
        docker_inspect(&container, "{{.State.Running}}"),
        "true",
        "the stopped allocation was started again"
    );
}
