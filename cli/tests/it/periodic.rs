//! Periodic and parameterized jobs end to end: a real etcd, a server, an
//! agent on Docker and the busybox test image. A periodic job launching
//! every 2 s whose task sleeps 3 s never has two children running at once
//! (prohibit_overlap) and keeps only the configured number of finished
//! children; a dispatched job's task reads its payload under local/ and its
//! meta as NOMAD_META_*; bad dispatches and forcing a non-periodic job are
//! refused with the reason.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::{job_of, shell_task, Cluster, DROVER};
use chrono::{DateTime, Utc};
use drover_api_types::alloc::{Allocation, AllocationStatus, ClientStatus};
use drover_api_types::job::{Parameterized, Periodic};
use drover_api_types::task::DispatchPayload;
use drover_api_types::{Job, JobType};
use drover_store::{Store, Versioned};
use drover_test_support::wait::eventually;

async fn children(store: &Store, parent: &str) -> Vec<Job> {
    let jobs: Vec<Job> = store
        .list_at(&store.keys().collection("jobs"))
        .await
        .map(|l| l.items)
        .unwrap_or_default();
    jobs.into_iter()
        .filter(|j| j.spec.parent_id.as_deref() == Some(parent))
        .collect()
}

async fn allocs_with_status(store: &Store) -> Vec<(Allocation, AllocationStatus)> {
    let keys = store.keys();
    let allocs: Vec<Allocation> = store
        .list_at(&keys.collection("allocations"))
        .await
        .map(|l| l.items)
        .unwrap_or_default();
    let mut out = Vec::new();
    for a in allocs {
        let status: Option<Versioned<AllocationStatus>> = store
            .alloc_status_of(&a.metadata.namespace, &a.metadata.uid)
            .await
            .ok()
            .flatten();
        out.push((a, status.map(|s| s.value).unwrap_or_default()));
    }
    out
}

/// A task's run: (started, finished) as the agent reported them.
type Run = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_periodic_job_with_prohibit_overlap_never_overlaps_and_keeps_n_children() {
    let cluster =
        Cluster::start_full("127.0.0.51", &["--periodic-children-kept=2"], &[], |_| {}).await;
    let store = &cluster.store;
    let mut job = job_of("tick", vec![shell_task("t", "sleep 3")]);
    job.spec.job_type = JobType::Batch;
    job.spec.periodic = Some(Periodic {
        // Every 2 seconds (7 fields: seconds first, year last).
        crons: vec!["*/2 * * * * * *".into()],
        prohibit_overlap: true,
        time_zone: String::new(),
        enabled: true,
    });
    cluster.submit(&job).await;

    let mut runs: BTreeMap<String, Run> = BTreeMap::new();
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        seen.extend(
            children(store, "tick")
                .await
                .into_iter()
                .map(|j| j.metadata.name),
        );
        for (a, s) in allocs_with_status(store).await {
            assert_ne!(a.spec.job_id, "tick", "the parent itself never runs");
            if let Some(t) = s.task_states.get("t") {
                runs.insert(a.spec.job_id.clone(), (t.started_at, t.finished_at));
            }
        }
        let finished = runs.values().filter(|(_, f)| f.is_some()).count();
        if finished >= 5 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "only {finished} runs finished in time: {runs:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Never two at once: each run starts after the one before finished.
    let mut ordered: Vec<Run> = runs
        .values()
        .copied()
        .filter(|(s, _)| s.is_some())
        .collect();
    ordered.sort();
    for pair in ordered.windows(2) {
        let (previous_end, next_start) = (pair[0].1, pair[1].0);
        assert!(
            previous_end.is_some_and(|end| next_start.is_some_and(|start| start >= end)),
            "runs overlap: {pair:?} (all: {ordered:?})"
        );
    }
    // Only the newest finished children are kept (2, plus one that may be
    // running), so older ones were collected, allocations included.
    let kept = eventually(30, "old children collected", || async {
        let left = children(store, "tick").await;
        (left.len() <= 3).then_some(left)
    })
    .await;
    assert!(seen.len() > kept.len(), "seen {seen:?}, kept {kept:?}");
    let gone: Vec<&String> = seen
        .iter()
        .filter(|n| !kept.iter().any(|k| &k.metadata.name == *n))
        .collect();
    eventually(30, "collected children's allocations deleted", || async {
        let allocs = allocs_with_status(store).await;
        allocs
            .iter()
            .all(|(a, _)| !gone.contains(&&a.spec.job_id))
            .then_some(())
    })
    .await;
}

fn run_cli(args: &[&str], addr: &str) -> std::process::Output {
    Command::new(DROVER)
        .args(args)
        .arg(format!("--addr=http://{addr}"))
        .output()
        .expect("run drover")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dispatched_job_gets_its_payload_and_meta_and_bad_dispatches_are_refused() {
    let cluster = Cluster::start("127.0.0.52").await;
    let script = "cat /local/input.txt > /alloc/out.txt; echo \" scene=$NOMAD_META_scene\" >> /alloc/out.txt";
    let mut job = job_of("render", vec![shell_task("t", script)]);
    job.spec.job_type = JobType::Batch;
    job.spec.parameterized = Some(Parameterized {
        payload: "required".into(),
        meta_required: vec!["scene".into()],
        meta_optional: vec!["quality".into()],
    });
    job.spec.groups[0].tasks[0].dispatch_payload = Some(DispatchPayload {
        file: "input.txt".into(),
    });
    cluster.submit(&job).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let payload = dir.path().join("payload.txt");
    std::fs::write(&payload, "hello payload").expect("payload");
    let payload = payload.to_string_lossy().to_string();
    let addr = cluster.server_addr.clone();

    let child = eventually(30, "the server dispatches", || {
        let (payload, addr) = (payload.clone(), addr.clone());
        async move {
            let out = run_cli(
                &["dispatch", "render", "--meta", "scene=intro", &payload],
                &addr,
            );
            let stdout = String::from_utf8_lossy(&out.stdout).to_string();
            out.status
                .success()
                .then(|| stdout.split('"').nth(1).map(String::from))?
        }
    })
    .await;
    assert!(child.starts_with("render/dispatch-"), "{child}");
    // Named as in Nomad, and addressed by that name.
    let described = run_cli(&["describe", "job", &child], &addr);
    let text = String::from_utf8_lossy(&described.stdout);
    assert!(
        described.status.success() && text.contains(&child),
        "{text}{}",
        String::from_utf8_lossy(&described.stderr)
    );
    let (alloc, _) = cluster
        .alloc_when(&child, "front", "the dispatched child completes", |s| {
            s.client_status == ClientStatus::Complete
        })
        .await;
    let out = std::fs::read_to_string(cluster.alloc_dir(&alloc).join("out.txt")).expect("out.txt");
    assert_eq!(out.trim(), "hello payload scene=intro");

    let refused = [
        (
            vec!["dispatch", "render", payload.as_str()],
            "requires meta scene",
        ),
        (
            vec!["dispatch", "render", "--meta", "scene=x"],
            "requires a payload",
        ),
        (
            vec![
                "dispatch",
                "render",
                "--meta",
                "scene=x",
                "--meta",
                "who=me",
                payload.as_str(),
            ],
            "allowed: scene, quality",
        ),
        (vec!["periodic", "force", "render"], "not periodic"),
        (vec!["dispatch", "nope"], "not found"),
    ];
    for (args, text) in refused {
        let out = run_cli(&args, &addr);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(stderr.contains(text), "{args:?}: {stderr}");
    }
}
