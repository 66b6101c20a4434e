//! Deployments end to end: a real server and agent on the local Docker,
//! jobs registered through the HTTP API (so every change is a new version
//! with its snapshot). A rolling update never drops below count -
//! max_parallel running; a canary whose check fails fails the deployment
//! and auto-revert brings the old version back without touching its
//! allocations; promotion replaces the rest; a meta-only change updates in
//! place. `drover apply` follows the deployment: it fails with the
//! deployment's reason and ends as soon as healthy canaries wait for
//! promotion.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::common::{job_of, shell_task, Cluster};
use drover_api_types::alloc::{Allocation, ClientStatus, DesiredStatus};
use drover_api_types::deployment::{DeploymentAdmin, DeploymentState};
use drover_api_types::group::{Check, Service};
use drover_api_types::group::{Network, Port};
use drover_api_types::job::UpdateStrategy;
use drover_api_types::{Deployment, Job};
use drover_store::{Store, Versioned};
use drover_test_support::wait::eventually;

use crate::common;

/// Registers `job` through the API; returns the new version.
async fn register(server: &str, job: &Job) -> u64 {
    let response = reqwest::Client::new()
        .post(format!("http://{server}/v1/jobs"))
        .json(&serde_json::json!({ "job": job }))
        .send()
        .await
        .expect("register");
    let status = response.status();
    let body: serde_json::Value = response.json().await.expect("json");
    assert!(status.is_success(), "register: {status} {body}");
    body["version"].as_u64().expect("version")
}

/// `drover apply -f` of `job` written as a JSON manifest, followed as a
/// user runs it; (success, stdout, stderr).
async fn apply(server: &str, job: &Job) -> (bool, String, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join(format!("{}.json", job.metadata.name));
    std::fs::write(&file, serde_json::to_vec(job).expect("json")).expect("write job file");
    let addr = format!("http://{server}");
    tokio::task::spawn_blocking(move || {
        let out = std::process::Command::new(common::DROVER)
            .args(["apply", "--timeout", "2m", "-f"])
            .arg(&file)
            .env("DROVER_ADDR", addr)
            .env_remove("DROVER_NAMESPACE")
            .stdin(std::process::Stdio::null())
            .output()
            .expect("run drover apply");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    })
    .await
    .expect("join")
}

async fn allocs(store: &Store, job: &str) -> Vec<Allocation> {
    let keys = store.keys();
    let specs: Vec<Allocation> = store
        .list_at(&keys.collection("allocations"))
        .await
        .expect("list allocations")
        .items;
    let mut out = Vec::new();
    for mut a in specs.into_iter().filter(|a| a.spec.job_id == job) {
        if let Some(s) = store
            .alloc_status_of(&a.metadata.namespace, &a.metadata.uid)
            .await
            .expect("status")
        {
            a.status = s.value;
        }
        out.push(a);
    }
    out
}

async fn deployment_of(store: &Store, job: &str, version: u64) -> Option<Deployment> {
    let list: Vec<Deployment> = store
        .list_at(&store.keys().collection("deployments"))
        .await
        .expect("list deployments")
        .items;
    list.into_iter()
        .find(|d| d.spec.job_id == job && d.spec.job_version == version)
}

async fn deployment_when(
    store: &Store,
    job: &str,
    version: u64,
    what: &str,
    done: impl Fn(&Deployment) -> bool,
) -> Deployment {
    eventually(120, what, || async {
        deployment_of(store, job, version).await.filter(&done)
    })
    .await
}

fn running(a: &Allocation) -> bool {
    a.spec.desired_status == DesiredStatus::Run && a.status.client_status == ClientStatus::Running
}

fn update(canary: i64, health_check: &str, auto_revert: bool) -> UpdateStrategy {
    UpdateStrategy {
        max_parallel: Some(1),
        health_check: Some(health_check.into()),
        min_healthy_time: Some(drover_api_types::Duration::from_secs(2)),
        healthy_deadline: Some(drover_api_types::Duration::from_secs(12)),
        progress_deadline: Some(drover_api_types::Duration::from_secs(60)),
        auto_revert: Some(auto_revert),
        canary: Some(canary),
        auto_promote: Some(false),
        stagger: None,
    }
}

/// A long-running shell job of `count` with this update block.
fn sleeper(name: &str, count: i64, update: UpdateStrategy) -> Job {
    let mut job = job_of(
        name,
        vec![shell_task("main", "trap 'exit 0' TERM; sleep 3600 & wait")],
    );
    job.spec.groups[0].count = count;
    job.spec.groups[0].update = Some(update);
    job
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rolling_update_keeps_count_minus_max_parallel_running() {
    let cluster = Cluster::start("127.0.0.1").await;
    let (store, server) = (&cluster.store, cluster.server_addr.as_str());
    let mut job = sleeper("roll", 3, update(0, "task_states", false));
    assert_eq!(register(server, &job).await, 0);
    let first = deployment_when(store, "roll", 0, "version 0 deployed", |d| {
        d.status.state == DeploymentState::Successful
    })
    .await;
    assert_eq!(first.status.groups["front"].placed, 3);
    assert!(
        store
            .get_raw(&store.keys().job_stable("default", "roll", 0))
            .await
            .expect("read")
            .is_some(),
        "a successful deployment marks its version stable"
    );

    job.spec.groups[0].tasks[0]
        .env
        .insert("RELEASE".into(), "2".into());
    assert_eq!(register(server, &job).await, 1);
    // Sample the allocations until the rollout is done: at every moment at
    // least two run, and at most one new allocation is not yet healthy.
    let mut min_running = usize::MAX;
    let mut max_unhealthy_new = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let now = allocs(store, "roll").await;
        min_running = min_running.min(now.iter().filter(|a| running(a)).count());
        let unhealthy_new = now
            .iter()
            .filter(|a| a.spec.job_version == 1 && a.spec.desired_status == DesiredStatus::Run)
            .filter(|a| {
                let d = a.spec.deployment_id.as_deref().unwrap_or_default();
                a.status.health_for(d) != Some(true)
            })
            .count();
        max_unhealthy_new = max_unhealthy_new.max(unhealthy_new);
        let d = deployment_of(store, "roll", 1).await;
        if d.as_ref()
            .is_some_and(|d| d.status.state == DeploymentState::Successful)
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "rollout timed out: {d:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(min_running >= 2, "only {min_running} ran at one point");
    assert!(
        max_unhealthy_new <= 1,
        "{max_unhealthy_new} new allocations were in flight"
    );
    let done = allocs(store, "roll").await;
    let current: Vec<&Allocation> = done.iter().filter(|a| running(a)).collect();
    assert_eq!(current.len(), 3);
    assert!(current.iter().all(|a| a.spec.job_version == 1));

    // A meta-only change updates in place: same allocations, same containers.
    let started: BTreeMap<String, _> = current
        .iter()
        .map(|a| {
            (
                a.metadata.uid.clone(),
                a.status.task_states["main"].started_at,
            )
        })
        .collect();
    job.spec.meta.insert("owner".into(), "ops".into());
    assert_eq!(register(server, &job).await, 2);
    let deployed = deployment_when(store, "roll", 2, "meta-only version deployed", |d| {
        d.status.state == DeploymentState::Successful
    })
    .await;
    // The allocations moved in place joined the version's deployment and
    // were judged for it: it reports 3/3 healthy, not 0/3.
    let group = &deployed.status.groups[&job.spec.groups[0].name];
    assert_eq!((group.placed, group.healthy), (3, 3), "{group:?}");
    let after = allocs(store, "roll").await;
    let now_running: Vec<&Allocation> = after.iter().filter(|a| running(a)).collect();
    assert_eq!(now_running.len(), 3);
    for a in now_running {
        assert_eq!(a.spec.job_version, 2, "moved to the new version");
        assert_eq!(
            started.get(&a.metadata.uid),
            Some(&a.status.task_states["main"].started_at),
            "{} was replaced or restarted",
            a.metadata.uid
        );
    }
    cluster.stop(&job).await;
}

/// A job serving `/alloc/www` over HTTP with a check on `/health`; with
/// `healthy` false the page is missing and the check fails.
fn web(name: &str, count: i64, healthy: bool, update: UpdateStrategy) -> Job {
    let page = if healthy {
        "echo ok > /tmp/www/health; "
    } else {
        ""
    };
    let script =
        format!("mkdir -p /tmp/www; {page}trap 'exit 0' TERM; httpd -f -p 8080 -h /tmp/www & wait");
    let mut job = job_of(name, vec![shell_task("web", &script)]);
    let group = &mut job.spec.groups[0];
    group.count = count;
    group.update = Some(update);
    group.network = Some(Network {
        ports: vec![Port {
            label: "http".into(),
            to: Some(8080),
            ..Default::default()
        }],
        ..Default::default()
    });
    group.tasks[0]
        .config
        .insert("ports".into(), serde_json::json!(["http"]));
    group.services = vec![Service {
        name: name.into(),
        port: "http".into(),
        checks: vec![Check {
            name: "health".into(),
            check_type: "http".into(),
            path: "/health".into(),
            interval: drover_api_types::Duration::from_secs(1),
            timeout: drover_api_types::Duration::from_secs(1),
            ..Default::default()
        }],
        ..Default::default()
    }];
    drover_api_types::defaults::canonicalize(&mut job);
    job
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_canary_fails_the_deployment_and_auto_revert_restores_the_old_version() {
    let cluster = Cluster::start("127.0.0.1").await;
    let (store, server) = (&cluster.store, cluster.server_addr.as_str());
    let job = web("canary-bad", 2, true, update(1, "checks", true));
    register(server, &job).await;
    deployment_when(store, "canary-bad", 0, "version 0 deployed", |d| {
        d.status.state == DeploymentState::Successful
    })
    .await;
    let old: Vec<Allocation> = allocs(store, "canary-bad")
        .await
        .into_iter()
        .filter(running)
        .collect();
    assert_eq!(old.len(), 2);

    let broken = web("canary-bad", 2, false, update(1, "checks", true));
    let (applied, out, err) = apply(server, &broken).await;
    assert!(
        !applied,
        "apply of a failing rollout must fail: {out}\n{err}"
    );
    assert!(
        err.contains("failed: Failed due to unhealthy allocations - rolling back to job version 0"),
        "apply names the failed deployment and the revert: {err}"
    );
    assert!(out.contains("registered (version 1)"), "{out}");
    let failed = deployment_when(
        store,
        "canary-bad",
        1,
        "the canary's deployment fails",
        |d| d.status.state == DeploymentState::Failed,
    )
    .await;
    assert!(
        failed.status.description.contains("unhealthy")
            && failed
                .status
                .description
                .contains("rolling back to job version 0"),
        "{}",
        failed.status.description
    );
    assert_eq!(failed.status.reverted_to, Some(0));
    assert_eq!(failed.status.groups["front"].placed_canaries.len(), 1);

    // The revert is version 2, the spec of version 0; the old allocations
    // were never touched, and the canary is gone.
    deployment_when(
        store,
        "canary-bad",
        2,
        "the reverted version deployed",
        |d| d.status.state == DeploymentState::Successful,
    )
    .await;
    let current: Job = store
        .get_at(&store.keys().job("default", "canary-bad"))
        .await
        .expect("read job")
        .expect("job");
    assert_eq!(current.metadata.version, 2);
    assert_eq!(current.spec.groups[0].tasks, job.spec.groups[0].tasks);
    let canary = &failed.status.groups["front"].placed_canaries[0];
    let now = eventually(60, "the canary stopped", || async {
        let now = allocs(store, "canary-bad").await;
        now.iter()
            .find(|a| &a.metadata.uid == canary)
            .is_some_and(|a| a.spec.desired_status == DesiredStatus::Stop)
            .then_some(now)
    })
    .await;
    let running_now: Vec<&Allocation> = now.iter().filter(|a| running(a)).collect();
    assert_eq!(running_now.len(), 2);
    for a in running_now {
        let before = old
            .iter()
            .find(|o| o.metadata.uid == a.metadata.uid)
            .expect("an old allocation, not a replacement");
        assert_eq!(
            before.status.task_states["web"].started_at,
            a.status.task_states["web"].started_at
        );
        assert_eq!(a.spec.job_version, 2);
    }
    cluster.stop(&current).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promoting_healthy_canaries_replaces_the_rest() {
    let cluster = Cluster::start("127.0.0.1").await;
    let (store, server) = (&cluster.store, cluster.server_addr.as_str());
    cluster.until_ready().await;
    let mut job = web("canary-good", 2, true, update(1, "checks", false));
    // apply follows the first version's deployment to its success (the
    // allocations run before they have been healthy for min_healthy_time).
    let (applied, out, err) = apply(server, &job).await;
    assert!(applied, "{out}\n{err}");
    assert!(out.contains("is running as asked"), "{out}");
    let first = deployment_of(store, "canary-good", 0)
        .await
        .expect("deployment");
    assert_eq!(first.status.state, DeploymentState::Successful);
    job.spec.groups[0].tasks[0]
        .env
        .insert("RELEASE".into(), "2".into());
    // apply ends, successfully, when the canary is healthy and waits.
    let (applied, out, err) = apply(server, &job).await;
    assert!(applied, "{out}\n{err}");
    let blocked = deployment_of(store, "canary-good", 1)
        .await
        .expect("version 1's deployment");
    assert_eq!(blocked.status.state, DeploymentState::Blocked);
    let id = &blocked.metadata.name[..8];
    assert!(
        out.contains(&format!(
            "deployment {id} waits for promotion (drover deployment promote {id})"
        )),
        "{out}"
    );
    // Until promoted, the old allocations all run beside the canary.
    let waiting = allocs(store, "canary-good").await;
    let old_running = waiting
        .iter()
        .filter(|a| running(a) && a.spec.job_version == 0)
        .count();
    assert_eq!(old_running, 2);
    assert_eq!(
        waiting
            .iter()
            .filter(|a| running(a) && a.spec.canary)
            .count(),
        1
    );

    let admin_key = store
        .keys()
        .deployment_admin("default", &blocked.metadata.name);
    let promote = Versioned::new(DeploymentAdmin {
        promote: vec!["*".into()],
        ..Default::default()
    });
    store.put_at(&admin_key, &promote).await.expect("promote");
    let done = deployment_when(
        store,
        "canary-good",
        1,
        "promoted deployment succeeds",
        |d| d.status.state == DeploymentState::Successful,
    )
    .await;
    assert!(done.status.groups["front"].promoted);
    let now = allocs(store, "canary-good").await;
    let current: Vec<&Allocation> = now.iter().filter(|a| running(a)).collect();
    assert_eq!(current.len(), 2);
    assert!(current
        .iter()
        .all(|a| a.spec.job_version == 1 && !a.spec.canary));
    assert!(
        current
            .iter()
            .any(|a| a.metadata.uid == done.status.groups["front"].placed_canaries[0]),
        "the promoted canary stays"
    );
    cluster.stop(&job).await;
}

/// `healthy_deadline` counts from when a node received the allocation, as
/// in Nomad: one queued longer than the deadline for a node that fits is
/// judged on how it runs once placed, not failed on arrival.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn time_queued_for_a_node_does_not_count_against_the_healthy_deadline() {
    let mut cluster = Cluster::start("127.0.0.34").await;
    let (store, server) = (&cluster.store, cluster.server_addr.clone());
    let mut strategy = update(0, "task_states", false);
    strategy.healthy_deadline = Some(drover_api_types::Duration::from_secs(4));
    strategy.min_healthy_time = Some(drover_api_types::Duration::from_secs(1));
    let mut job = sleeper("late", 1, strategy);
    job.spec.groups[0]
        .constraints
        .push(drover_api_types::job::Constraint {
            attribute: "${meta.rack}".into(),
            operator: "=".into(),
            value: "r9".into(),
        });
    assert_eq!(register(&server, &job).await, 0);
    // Queued past the deadline: no node has the rack.
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert!(allocs(store, "late").await.iter().all(|a| !running(a)));
    // The node gains the rack (an agent restarted with new meta).
    cluster.agent_args.push("--meta=rack=r9".into());
    cluster.restart_agent();
    let store = &cluster.store;
    let deployed = deployment_when(store, "late", 0, "version 0 deployed", |d| {
        d.status.state != DeploymentState::Running
    })
    .await;
    assert_eq!(
        deployed.status.state,
        DeploymentState::Successful,
        "{deployed:?}"
    );
    cluster.stop(&job).await;
}
