//! The garbage collector and compaction against a real etcd: a stopped
//! job's keys all go while a live job's index-holding allocation and
//! needed versions stay; churn returns the key count to its baseline;
//! informers keep working across compactions.

use std::time::Duration;

use chrono::Utc;
use drover_api_types::alloc::{Allocation, AllocationStatus, Binding, ClientStatus, DesiredStatus};
use drover_api_types::deployment::{Deployment, DeploymentState, VersionStability};
use drover_api_types::{mock, Job};
use drover_controllers::cluster::{ClusterView, Hooks};
use drover_controllers::context::{GcOptions, ServerOptions};
use drover_controllers::gc::Thresholds;
use drover_controllers::{gc, job};
use drover_store::{Guard, Store, Versioned};
use drover_test_support::wait::eventually;
use term::{store, Term};

use crate::common::term;

/// Zero thresholds, two versions kept, fast passes.
fn options(compaction: Duration) -> ServerOptions {
    ServerOptions {
        gc: GcOptions {
            interval: Duration::from_millis(200),
            thresholds: Thresholds {
                alloc: Duration::ZERO,
                job: Duration::ZERO,
                deployment: Duration::ZERO,
                versions_kept: 2,
                max_per_pass: 1_000,
            },
            compaction_interval: compaction,
        },
        ..Default::default()
    }
}

fn start(store: &Store, job: bool, options: ServerOptions) -> Term {
    let controllers: &[&str] = if job {
        &[gc::controller::NAME, job::controller::NAME]
    } else {
        &[gc::controller::NAME]
    };
    Term::start_with(store, options, controllers)
}

fn job(name: &str, version: u64) -> Job {
    let mut job = mock::job(name, 1);
    job.api_version.clear();
    job.metadata.version = version;
    job
}

fn alloc(id: &str, job: &str, version: u64, desired: DesiredStatus) -> Allocation {
    let mut a = Allocation::default();
    a.metadata.uid = id.into();
    a.metadata.name = format!("{job}.app[0]");
    a.metadata.namespace = "default".into();
    a.spec.job_id = job.into();
    a.spec.job_version = version;
    a.spec.task_group = "app".into();
    a.spec.desired_status = desired;
    a
}

async fn put_alloc(store: &Store, a: &Allocation, status: ClientStatus, node: Option<&str>) {
    let keys = store.keys();
    let (ns, id) = (&a.metadata.namespace, &a.metadata.uid);
    store.put_at(&keys.alloc(ns, id), a).await.expect("alloc");
    let status = Versioned::new(AllocationStatus {
        client_status: status,
        updated_at: Some(Utc::now()),
        ..Default::default()
    });
    store
        .put_at(&keys.alloc_status(node, ns, id), &status)
        .await
        .expect("status");
    if let Some(node) = node {
        let binding = Binding {
            node_id: node.into(),
            ..Default::default()
        };
        store
            .put_at(&keys.alloc_binding(ns, id), &Versioned::new(binding))
            .await
            .expect("binding");
        store
            .put_at(&keys.node_alloc(node, ns, id), a)
            .await
            .expect("node copy");
    }
}

/// Every key under the store's prefix.
async fn all_keys(store: &Store) -> Vec<String> {
    let prefix = format!("{}/", store.keys().prefix());
    let list = store.list_keys(&prefix).await.expect("list");
    list.items.into_iter().map(|kv| kv.key).collect()
}

/// Writes `job` at each version up to its own (snapshots and the files
/// they were submitted as included).
async fn put_history(store: &Store, job: &Job) {
    let keys = store.keys();
    let (ns, name) = (&job.metadata.namespace, &job.metadata.name);
    for v in 0..=job.metadata.version {
        let mut snapshot = job.clone();
        snapshot.metadata.version = v;
        store
            .put_at(&keys.job_version(ns, name, v), &snapshot)
            .await
            .expect("version");
        let source = serde_json::json!({"source": format!("job {name:?} {{}}"), "format": "hcl2"});
        store
            .put_raw(
                &keys.job_source(ns, name, v),
                source.to_string().into_bytes(),
                Guard::None,
                None,
            )
            .await
            .expect("source");
    }
    store.put_at(&keys.job(ns, name), job).await.expect("job");
}

#[tokio::test]
async fn a_stopped_job_is_collected_whole_and_live_state_survives() {
    let (_etcd, store) = store().await;
    let keys = store.keys().clone();
    // A live job at version 9: v5 still runs, v3 is the newest stable.
    let web = job("web", 9);
    put_history(&store, &web).await;
    let stable = VersionStability {
        version: 3,
        ..Default::default()
    };
    for v in [1, 3] {
        store
            .put_at(
                &keys.job_stable("default", "web", v),
                &Versioned::new(stable.clone()),
            )
            .await
            .expect("stable");
    }
    let running = alloc("w-run", "web", 5, DesiredStatus::Run);
    put_alloc(&store, &running, ClientStatus::Running, Some("n1")).await;
    let failed = alloc("w-failed", "web", 9, DesiredStatus::Run);
    put_alloc(&store, &failed, ClientStatus::Failed, Some("n1")).await;
    let old = alloc("w-old", "web", 4, DesiredStatus::Stop);
    put_alloc(&store, &old, ClientStatus::Complete, Some("n1")).await;

    // A stopped job with its records, allocations and a deployment.
    let mut done = job("done", 1);
    done.spec.stop = true;
    put_history(&store, &done).await;
    let status = Versioned::new(serde_json::json!({"status": "dead"}));
    store
        .put_at(&keys.job_status("default", "done"), &status)
        .await
        .expect("status");
    store
        .put_at(&keys.job_periodic("default", "done"), &status)
        .await
        .expect("periodic");
    let d1 = alloc("d-1", "done", 1, DesiredStatus::Stop);
    put_alloc(&store, &d1, ClientStatus::Complete, Some("n2")).await;
    let d2 = alloc("d-2", "done", 0, DesiredStatus::Run);
    put_alloc(&store, &d2, ClientStatus::Failed, None).await;
    let mut deployment = Deployment::default();
    deployment.metadata.name = "dep-1".into();
    deployment.metadata.uid = "dep-1".into();
    deployment.metadata.namespace = "default".into();
    deployment.spec.job_id = "done".into();
    deployment.status.state = DeploymentState::Successful;
    store.create(&deployment).await.expect("deployment");
    store
        .put_at(
            &keys.deployment_admin("default", "dep-1"),
            &Versioned::new(serde_json::json!({})),
        )
        .await
        .expect("admin");

    let term = start(&store, false, options(Duration::ZERO));
    let left = eventually(20, "the stopped job collected", || async {
        let keys = all_keys(&store).await;
        (!keys
            .iter()
            .any(|k| k.contains("/done") || k.contains("/d-") || k.contains("dep-1")))
        .then_some(keys)
    })
    .await;
    let versions = eventually(10, "web's versions trimmed", || async {
        let prefix = keys.job_versions_prefix("default", "web");
        let list = store.list_keys(&prefix).await.expect("list");
        let vs: Vec<String> = list
            .items
            .iter()
            .map(|kv| kv.key[prefix.len()..].to_string())
            .collect();
        (vs.len() == 4).then_some(vs)
    })
    .await;
    let numbers: Vec<u64> = versions
        .iter()
        .map(|v| v.parse().expect("a number"))
        .collect();
    assert_eq!(numbers, vec![3, 5, 8, 9], "stable, in use, newest two");
    let prefix = keys.job_sources_prefix("default", "web");
    let sources: Vec<String> = store
        .list_keys(&prefix)
        .await
        .expect("list")
        .items
        .iter()
        .map(|kv| kv.key[prefix.len()..].to_string())
        .collect();
    assert_eq!(sources, versions, "a version's file goes with it");
    let stable_left = store
        .list_keys(&keys.job_stable_prefix("default", "web"))
        .await
        .expect("list");
    assert_eq!(
        stable_left.items.len(),
        1,
        "only the newest stable mark stays"
    );
    assert!(left.contains(&keys.alloc("default", "w-run")));
    assert!(
        left.contains(&keys.alloc("default", "w-failed")),
        "a failed allocation that holds its index stays"
    );
    assert!(!left.contains(&keys.alloc("default", "w-old")));
    assert!(!left.contains(&keys.node_alloc("n1", "default", "w-old")));
    assert!(left.contains(&keys.job("default", "web")));
    term.end().await;
}

#[tokio::test]
async fn churn_returns_the_key_count_to_its_baseline() {
    let (_etcd, store) = store().await;
    let baseline = all_keys(&store).await.len();
    let term = start(&store, true, options(Duration::ZERO));
    let settle = |store: Store| async move {
        // What agents would report: runs run, stops complete.
        let prefix = store.keys().collection("allocations");
        let allocs: Vec<Allocation> = store.list_at(&prefix).await.expect("list").items;
        for a in allocs {
            let status = match a.spec.desired_status {
                DesiredStatus::Run => ClientStatus::Running,
                _ => ClientStatus::Complete,
            };
            let key = store
                .alloc_status_key(&a.metadata.namespace, &a.metadata.uid)
                .await
                .expect("binding");
            let current: Option<Versioned<AllocationStatus>> =
                store.get_at(&key).await.expect("get");
            if current.is_none_or(|c| c.value.client_status != status) {
                let value = Versioned::new(AllocationStatus {
                    client_status: status,
                    updated_at: Some(Utc::now()),
                    ..Default::default()
                });
                store.put_at(&key, &value).await.expect("status");
            }
        }
    };
    for round in 0..3 {
        let names: Vec<String> = (0..5).map(|i| format!("churn-{round}-{i}")).collect();
        for (generation, stop) in [(0u64, false), (1, false), (2, true)] {
            for name in &names {
                let mut j = job(name, generation);
                j.spec
                    .meta
                    .insert("generation".into(), generation.to_string());
                j.spec.stop = stop;
                let current: Option<Job> = store.get("default", name).await.expect("get");
                j.metadata.resource_version = current.map_or(0, |c| c.metadata.resource_version);
                drover_store::jobs::commit_job_version(&store, &j, Vec::new())
                    .await
                    .expect("register");
            }
            for _ in 0..20 {
                settle(store.clone()).await;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    eventually(30, "the key count back at its baseline", || async {
        let n = all_keys(&store).await.len();
        settle(store.clone()).await;
        (n == baseline).then_some(())
    })
    .await;
    term.end().await;
}

#[tokio::test]
async fn compaction_runs_on_the_leader_and_informers_keep_working() {
    let (_etcd, store) = store().await;
    let (view, _handle) = ClusterView::start(&store, Hooks::default());
    view.ready().await;
    let first = store.current_revision().await.expect("revision");
    let term = start(&store, false, options(Duration::from_millis(300)));
    for v in 0..5 {
        store
            .put_at(&store.keys().job("default", "c"), &job("c", v))
            .await
            .expect("put");
    }
    // Compacted past `first`: reading at it now fails.
    eventually(10, "a compaction past the first revision", || async {
        let mut kv = store.client().kv_client();
        let opts = etcd_client_get_at(first);
        kv.get(store.keys().job("default", "c"), Some(opts))
            .await
            .is_err()
            .then_some(())
    })
    .await;
    store
        .put_at(&store.keys().job("default", "after"), &job("after", 0))
        .await
        .expect("put");
    eventually(
        10,
        "the informer to see a write after compaction",
        || async {
            view.job(&drover_controllers::cluster::ObjectKey::new(
                "default", "after",
            ))
            .map(|_| ())
        },
    )
    .await;
    // A fresh view lists from scratch after compaction too.
    let (fresh, _fresh_handle) = ClusterView::start(&store, Hooks::default());
    fresh.ready().await;
    assert_eq!(fresh.jobs.len(), 2);
    term.end().await;
}

fn etcd_client_get_at(revision: i64) -> etcd_client::GetOptions {
    etcd_client::GetOptions::new().with_revision(revision)
}
