//! A destructive update of a job that fills the cluster, against a real
//! etcd with the job, placement and deployments controllers running: three
//! nodes, three allocations holding static port 80, one per node. A small
//! in-test agent reports what a node would (a bound allocation starts and
//! is judged healthy; one told to stop ends a little later). The update
//! must replace all three, one at a time, with no placement failure and
//! never two live allocations on port 80 of one node.

use crate::common::placement_fixtures as fixtures;
use crate::common::term;

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use drover_api_types::alloc::{
    Allocation, AllocationStatus, Binding, ClientStatus, DeploymentHealth, DesiredStatus,
};
use drover_api_types::deployment::DeploymentState;
use drover_api_types::job::UpdateStrategy;
use drover_api_types::{Deployment, Job, JobType};
use drover_controllers::{deployments, job, placement};
use drover_store::keys::collections as c;
use drover_store::{Store, Versioned};
use fixtures::{group, job, node, static_port, Harness, NS};
use term::Term;

/// How long an agent takes to stop a container.
const STOP_TIME: Duration = Duration::from_millis(150);

fn web(version: u64, image: &str) -> Job {
    let mut g = static_port(group("web", 3), 80);
    g.tasks[0].config.insert("image".into(), image.into());
    g.update = Some(UpdateStrategy {
        max_parallel: Some(1),
        health_check: Some("task_states".into()),
        ..Default::default()
    });
    let mut j = job("web", vec![g]);
    j.spec.job_type = JobType::Service;
    j.metadata.uid = "web-uid".into();
    j.metadata.version = version;
    j
}

async fn register(store: &Store, j: &Job) {
    let keys = store.keys();
    let version = keys.job_version(NS, &j.metadata.name, j.metadata.version);
    store.put_at(&version, j).await.expect("put version");
    store
        .put_at(&keys.job(NS, &j.metadata.name), j)
        .await
        .expect("put job");
}

/// Every allocation of the cluster with its binding and status joined.
async fn allocations(store: &Store) -> Vec<Allocation> {
    let keys = store.keys();
    let tail = |key: &str| key.rsplit('/').next().unwrap_or_default().to_string();
    let specs: Vec<Allocation> = store
        .list_at(&keys.collection(c::ALLOCATIONS))
        .await
        .expect("list allocations")
        .items;
    let mut bindings: HashMap<String, Binding> = HashMap::new();
    for kv in store
        .list_raw(&keys.collection(c::ALLOCATIONS_BINDING))
        .await
        .expect("list bindings")
        .items
    {
        let b: Versioned<Binding> = kv.decode().expect("binding");
        bindings.insert(tail(&kv.key), b.value);
    }
    let mut statuses: HashMap<String, AllocationStatus> = HashMap::new();
    for kv in store
        .list_raw(&keys.collection(c::ALLOCATIONS_STATUS))
        .await
        .expect("list statuses")
        .items
    {
        let s: Versioned<AllocationStatus> = kv.decode().expect("status");
        statuses.insert(tail(&kv.key), s.value);
    }
    specs
        .into_iter()
        .map(|mut a| {
            a.binding = bindings.remove(&a.metadata.uid);
            a.status = statuses.remove(&a.metadata.uid).unwrap_or_default();
            a
        })
        .collect()
}

/// One round of the in-test agent: bound allocations meant to run start
/// healthy; those told to stop end `STOP_TIME` after it first saw them.
async fn agent_round(
    store: &Store,
    allocs: &[Allocation],
    stopping: &mut HashMap<String, Instant>,
) {
    let keys = store.keys();
    for a in allocs.iter().filter(|a| a.binding.is_some()) {
        let id = &a.metadata.uid;
        let terminal = a.status.client_status.is_terminal();
        let status = if a.spec.desired_status != DesiredStatus::Run && !terminal {
            let since = *stopping.entry(id.clone()).or_insert_with(Instant::now);
            if since.elapsed() < STOP_TIME {
                continue;
            }
            AllocationStatus {
                client_status: ClientStatus::Complete,
                ..a.status.clone()
            }
        } else if a.spec.desired_status == DesiredStatus::Run
            && a.status.client_status == ClientStatus::Pending
        {
            AllocationStatus {
                client_status: ClientStatus::Running,
                deployment_health: a.spec.deployment_id.clone().map(|d| DeploymentHealth {
                    deployment_id: d,
                    healthy: true,
                    ..Default::default()
                }),
                ..Default::default()
            }
        } else {
            continue;
        };
        store
            .put_at(
                &keys.alloc_status(a.binding.as_ref().map(|b| b.node_id.as_str()), NS, id),
                &Versioned::new(status),
            )
            .await
            .expect("put status");
    }
}

/// What must hold at every moment; returns a description of the breach.
fn breach(allocs: &[Allocation]) -> Option<String> {
    let live = |a: &&Allocation| !a.status.client_status.is_terminal();
    let desired_running = allocs
        .iter()
        .filter(live)
        .filter(|a| a.spec.desired_status == DesiredStatus::Run)
        .count();
    if desired_running > 3 {
        return Some(format!("{desired_running} allocations desired running"));
    }
    let mut port_80: BTreeMap<&str, usize> = BTreeMap::new();
    for b in allocs
        .iter()
        .filter(live)
        .filter_map(|a| a.binding.as_ref())
    {
        if b.ports.values().any(|p| p.value == 80) {
            *port_80.entry(b.node_id.as_str()).or_default() += 1;
        }
    }
    if let Some((node, n)) = port_80.iter().find(|(_, n)| **n > 1) {
        return Some(format!("{n} live allocations hold port 80 on {node}"));
    }
    let in_flight = allocs
        .iter()
        .filter(live)
        .filter(|a| a.spec.job_version == 1 && a.status.client_status != ClientStatus::Running)
        .count();
    let stopping_old = allocs
        .iter()
        .filter(live)
        .filter(|a| a.spec.job_version == 0 && a.spec.desired_status != DesiredStatus::Run)
        .count();
    if in_flight > 1 || stopping_old > 1 {
        return Some(format!(
            "{in_flight} replacements in flight, {stopping_old} old ones stopping (max_parallel 1)"
        ));
    }
    None
}

fn running_at(allocs: &[Allocation], version: u64) -> usize {
    allocs
        .iter()
        .filter(|a| a.spec.desired_status == DesiredStatus::Run)
        .filter(|a| a.spec.job_version == version)
        .filter(|a| a.status.client_status == ClientStatus::Running)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_cluster_is_updated_one_allocation_at_a_time_without_placement_failures() {
    let (_etcd, store) = term::store().await;
    for name in ["a", "b", "c"] {
        let n = node(name, "dc1");
        let keys = store.keys();
        store
            .put_at(&keys.node(&n.metadata.uid), &n)
            .await
            .expect("put node");
        let status = Versioned::new(drover_api_types::node::NodeStatus {
            state: drover_api_types::node::NodeState::Ready,
            ..Default::default()
        });
        store
            .put_at(&keys.node_status(&n.metadata.uid), &status)
            .await
            .expect("put node status");
    }
    let controllers = Term::start(
        &store,
        &[
            job::controller::NAME,
            placement::controller::NAME,
            deployments::controller::NAME,
        ],
    );
    register(&store, &web(0, "nginx:1")).await;
    let mut stopping = HashMap::new();
    let placement_key = store.keys().job_placement(NS, "web");
    let started = Instant::now();
    loop {
        let allocs = allocations(&store).await;
        if running_at(&allocs, 0) == 3 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "version 0 runs: {allocs:#?}"
        );
        agent_round(&store, &allocs, &mut stopping).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    register(&store, &web(1, "nginx:2")).await;
    let started = Instant::now();
    let mut samples = 0;
    let mut replaced_in_order = Vec::new();
    loop {
        let allocs = allocations(&store).await;
        samples += 1;
        if let Some(what) = breach(&allocs) {
            panic!("{what}: {allocs:#?}");
        }
        let record: Option<Versioned<drover_controllers::cluster::PlacementFailures>> =
            store.get_at(&placement_key).await.expect("read placement");
        assert_eq!(record.map(|r| r.value), None, "no placement failure");
        for a in allocs.iter().filter(|a| a.spec.job_version == 1) {
            if a.binding.is_some() && !replaced_in_order.contains(&a.spec.index) {
                replaced_in_order.push(a.spec.index);
            }
        }
        let old_left = allocs
            .iter()
            .filter(|a| a.spec.job_version == 0 && !a.status.client_status.is_terminal())
            .count();
        if running_at(&allocs, 1) == 3 && old_left == 0 {
            // Each replacement runs on the node its predecessor left.
            for a in allocs.iter().filter(|a| a.spec.job_version == 1) {
                let previous = allocs
                    .iter()
                    .find(|p| Some(&p.metadata.uid) == a.spec.previous_allocation.as_ref());
                assert_eq!(
                    previous
                        .and_then(|p| p.binding.as_ref())
                        .map(|b| &b.node_id),
                    a.binding.as_ref().map(|b| &b.node_id)
                );
            }
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the update did not finish: {allocs:#?}"
        );
        agent_round(&store, &allocs, &mut stopping).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    eprintln!(
        "updated in {:?}, {samples} samples, replaced indexes in order {replaced_in_order:?}",
        started.elapsed()
    );
    assert_eq!(replaced_in_order.len(), 3);

    // The deployment succeeds.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let deployments: Vec<Deployment> = store
            .list_at(&store.keys().collection(c::DEPLOYMENTS))
            .await
            .expect("list deployments")
            .items;
        let latest = deployments.iter().find(|d| d.spec.job_version == 1);
        if latest.is_some_and(|d| d.status.state == DeploymentState::Successful) {
            break;
        }
        assert!(Instant::now() < deadline, "deployment: {latest:#?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = Harness::job_key("web");
    fixtures::within("controllers to stop", controllers.end()).await;
}
