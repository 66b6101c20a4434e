//! `drover alloc restart` end to end, on a real etcd, a real server and a
//! real agent on the local Docker: a task's container is made anew where
//! it runs (a new container id and start time), the task's events say a
//! user asked, the restart policy's count stays at 0, the allocation is
//! neither replaced nor failed — and an agent restarted afterwards does
//! not restart anything again. Refusals: an unknown allocation or task
//! (404), a stopped allocation (409).

use std::process::Command;
use std::time::Duration;

use drover_api_types::alloc::{AllocationStatus, ClientStatus, TaskRunState};
use drover_api_types::Allocation;
use drover_test_support::wait::eventually;

use crate::common::*;

const ADDRESS: &str = "127.0.0.113";
const GENERATION_LABEL: &str = "io.drover.restart_generation";

/// What Docker says of a task's container: its id, start time and the
/// restart generation it carries.
fn container_of(task: &str, alloc: &str) -> (String, String, String) {
    let name = format!("{task}-{alloc}");
    (
        docker_inspect(&name, "{{.Id}}"),
        docker_inspect(&name, "{{.State.StartedAt}}"),
        docker_inspect(
            &name,
            &format!("{{{{index .Config.Labels \"{GENERATION_LABEL}\"}}}}"),
        ),
    )
}

fn running(name: &str) -> bool {
    docker_inspect(name, "{{.State.Running}}") == "true"
}

async fn status_of(cluster: &Cluster, alloc: &Allocation) -> AllocationStatus {
    cluster
        .store
        .alloc_status_of(&alloc.metadata.namespace, &alloc.metadata.uid)
        .await
        .expect("read the status")
        .expect("a status")
        .value
}

/// How many times the task's events say a user's restart was signalled.
fn user_restarts(status: &AllocationStatus, task: &str) -> usize {
    status.task_states.get(task).map_or(0, |t| {
        t.events
            .iter()
            .filter(|e| e.event_type == "Restart Signaled" && e.message == "User requested restart")
            .count()
    })
}

async fn post(server: &str, path: &str, body: &str) -> (u16, String) {
    let response = reqwest::Client::new()
        .post(format!("http://{server}{path}"))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("POST");
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alloc_restart_makes_new_containers_once_and_never_again() {
    let mut cluster = Cluster::start(ADDRESS).await;
    let job = job_of(
        "restarts",
        vec![
            shell_task("main", "exec sleep 3600"),
            shell_task("side", "exec sleep 3600"),
        ],
    );
    cluster.submit(&job).await;
    let (alloc, _) = cluster
        .alloc_when("restarts", "front", "both tasks running", |s| {
            s.client_status == ClientStatus::Running
                && ["main", "side"].iter().all(|t| {
                    s.task_states
                        .get(*t)
                        .is_some_and(|t| t.state == TaskRunState::Running)
                })
        })
        .await;
    let id = alloc.metadata.uid.clone();
    let server = cluster.server_addr.clone();
    let (main_before, main_started, label) = container_of("main", &id);
    let (side_before, _, _) = container_of("side", &id);
    assert_eq!(label, "", "no restart yet, no generation");

    // One task, through the CLI, the allocation named by an id prefix.
    let cli = {
        let (server, prefix) = (server.clone(), id[..8].to_string());
        tokio::task::spawn_blocking(move || {
            Command::new(DROVER)
                .arg(format!("--addr=http://{server}"))
                .args(["alloc", "restart", &prefix, "main"])
                .output()
                .expect("drover alloc restart")
        })
        .await
        .expect("join")
    };
    let printed = ok(&cli);
    assert!(printed.contains("restart #1"), "{printed}");
    let main_after = eventually(60, "a new container for main", || async {
        let (now, started, label) = container_of("main", &id);
        (now != main_before && !now.is_empty() && running(&format!("main-{id}")))
            .then_some((now, started, label))
    })
    .await;
    assert_ne!(main_after.1, main_started, "a new start time");
    assert_eq!(main_after.2, "1", "the new container carries the request");
    assert_eq!(container_of("side", &id).0, side_before, "side untouched");
    let status = eventually(30, "the restart's events", || async {
        let s = status_of(&cluster, &alloc).await;
        let started = s.task_states.get("main")?.events.last()?.message == "Task restarted by user";
        started.then_some(s)
    })
    .await;
    assert_eq!(user_restarts(&status, "main"), 1);
    assert_eq!(user_restarts(&status, "side"), 0);
    let main = &status.task_states["main"];
    assert_eq!(main.restarts, 0, "the restart policy counted nothing");
    assert_eq!(main.state, TaskRunState::Running);
    assert!(!main.failed);
    assert_eq!(status.client_status, ClientStatus::Running);

    // Every running task, through the API: an empty request.
    let (code, body) = post(
        &server,
        &format!("/v1/client/allocation/{id}/restart"),
        "{}",
    )
    .await;
    assert_eq!(code, 200, "{body}");
    let answer: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(answer["generation"], 2, "{answer}");
    let (main_2, side_2) = eventually(60, "new containers for both tasks", || async {
        let (main, _, main_label) = container_of("main", &id);
        let (side, _, side_label) = container_of("side", &id);
        let done = main != main_after.0
            && side != side_before
            && main_label == "2"
            && side_label == "2"
            && running(&format!("main-{id}"))
            && running(&format!("side-{id}"));
        done.then_some((main, side))
    })
    .await;
    let status = eventually(30, "both restarts recorded", || async {
        let s = status_of(&cluster, &alloc).await;
        let both = ["main", "side"].iter().all(|t| {
            s.task_states
                .get(*t)
                .and_then(|t| t.events.last())
                .is_some_and(|e| e.message == "Task restarted by user")
        });
        both.then_some(s)
    })
    .await;
    assert_eq!(user_restarts(&status, "main"), 2);
    assert_eq!(user_restarts(&status, "side"), 1);

    // Still the one allocation, at its version: nothing replaced it.
    let allocs: Vec<Allocation> = cluster
        .store
        .list_at(&cluster.store.keys().collection("allocations"))
        .await
        .expect("list")
        .items;
    let of_job: Vec<&Allocation> = allocs
        .iter()
        .filter(|a| a.spec.job_id == "restarts")
        .collect();
    assert_eq!(of_job.len(), 1, "{of_job:?}");
    assert_eq!(of_job[0].spec.job_version, alloc.spec.job_version);
    assert_eq!(
        of_job[0].spec.restart.as_ref().map(|r| r.generation),
        Some(2)
    );

    // An agent restarted now adopts what runs: the same containers, no
    // restart (a pass after re-registering, and a poll after that).
    let agent_before = cluster.agent_addr().await;
    cluster.restart_agent();
    eventually(60, "the agent back, on a new port", || async {
        let now = cluster.agent_addr().await;
        (now != agent_before).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(12)).await;
    assert_eq!(container_of("main", &id).0, main_2, "main restarted again");
    assert_eq!(container_of("side", &id).0, side_2, "side restarted again");
    let status = status_of(&cluster, &alloc).await;
    assert_eq!(user_restarts(&status, "main"), 2);
    assert_eq!(user_restarts(&status, "side"), 1);
    assert_eq!(status.task_states["main"].restarts, 0);

    // Refusals.
    let (code, body) = post(&server, "/v1/client/allocation/no-such-alloc/restart", "{}").await;
    assert_eq!(code, 404, "{body}");
    let (code, body) = post(
        &server,
        &format!("/v1/client/allocation/{id}/restart"),
        r#"{"TaskName":"nope"}"#,
    )
    .await;
    assert_eq!(code, 404, "{body}");
    assert!(body.contains("no task"), "{body}");
    cluster.stop(&job).await;
    eventually(60, "the allocation stopped", || async {
        let s = status_of(&cluster, &alloc).await;
        s.client_status.is_terminal().then_some(())
    })
    .await;
    let (code, body) = post(
        &server,
        &format!("/v1/client/allocation/{id}/restart"),
        "{}",
    )
    .await;
    assert_eq!(code, 409, "{body}");
    assert!(body.contains("nothing to restart"), "{body}");
}
