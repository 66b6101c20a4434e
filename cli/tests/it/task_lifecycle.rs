//! A task's life on a real agent and Docker: lifecycle hooks in order,
//! kill_signal and kill_timeout on stop, an OOM kill noticed and recorded,
//! finished allocations garbage-collected.

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use drover_api_types::alloc::{AllocationStatus, ClientStatus, TaskRunState};
use drover_api_types::task::Lifecycle;
use drover_api_types::Task;
use drover_test_support::wait::eventually;

use crate::common::*;

fn hook(mut task: Task, hook: &str, sidecar: bool) -> Task {
    task.lifecycle = Some(Lifecycle {
        hook: hook.into(),
        sidecar,
    });
    task
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

fn position(lines: &[String], line: &str) -> usize {
    lines
        .iter()
        .position(|l| l == line)
        .unwrap_or_else(|| panic!("{line:?} not in {lines:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_hooks_run_in_order_and_poststop_runs_after_the_stop() {
    let cluster = Cluster::start("127.0.0.8").await;
    let log = |word: &str| format!("echo {word} >> /alloc/order");
    let job = job_of(
        "hooks",
        vec![
            shell_task("main", &format!("{}; exec sleep 3600", log("main"))),
            hook(
                shell_task(
                    "init",
                    &format!("{}; sleep 1; {}", log("init"), log("init-done")),
                ),
                "prestart",
                false,
            ),
            hook(
                shell_task("proxy", &format!("{}; exec sleep 3600", log("proxy"))),
                "prestart",
                true,
            ),
            hook(shell_task("announce", &log("announce")), "poststart", false),
            hook(shell_task("cleanup", &log("cleanup")), "poststop", false),
        ],
    );
    cluster.submit(&job).await;

    let (alloc, status) = cluster
        .alloc_when("hooks", "front", "the poststart hook done", |s| {
            s.task_states
                .get("announce")
                .is_some_and(|t| t.state == TaskRunState::Dead)
        })
        .await;
    assert_eq!(status.client_status, ClientStatus::Running, "{status:?}");
    let order = lines(&cluster.alloc_dir(&alloc).join("order"));
    // The init task completed and the sidecar ran before main started;
    // poststart came after main; poststop has not run.
    assert!(
        position(&order, "init-done") < position(&order, "main"),
        "{order:?}"
    );
    assert!(
        position(&order, "proxy") < position(&order, "main"),
        "{order:?}"
    );
    assert!(
        position(&order, "main") < position(&order, "announce"),
        "{order:?}"
    );
    assert!(!order.contains(&"cleanup".to_string()), "{order:?}");
    let state = |name: &str| &status.task_states[name];
    assert!(!state("init").failed && state("init").state == TaskRunState::Dead);
    assert_eq!(state("proxy").state, TaskRunState::Running);
    assert_eq!(state("main").state, TaskRunState::Running);
    assert_eq!(state("cleanup").state, TaskRunState::Pending);

    cluster.stop(&job).await;
    let (_, status) = cluster
        .alloc_when("hooks", "front", "the allocation complete", |s| {
            s.client_status == ClientStatus::Complete
        })
        .await;
    let order = lines(&cluster.alloc_dir(&alloc).join("order"));
    assert_eq!(
        order.last().map(String::as_str),
        Some("cleanup"),
        "{order:?}"
    );
    assert_eq!(
        order.iter().filter(|l| *l == "cleanup").count(),
        1,
        "{order:?}"
    );
    // Main was killed before its sidecar; the poststop task ran after both.
    let killed = |name: &str| -> DateTime<Utc> {
        status.task_states[name]
            .finished_at
            .unwrap_or_else(|| panic!("{name} finished: {status:?}"))
    };
    assert!(killed("main") <= killed("proxy"), "{status:?}");
    assert!(killed("proxy") <= killed("cleanup"), "{status:?}");
    assert!(!status.task_states["cleanup"].failed, "{status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_sends_kill_signal_and_kills_after_kill_timeout() {
    let cluster = Cluster::start("127.0.0.9").await;
    // Ignores the default SIGTERM: only the kill after kill_timeout ends it.
    let mut stubborn = shell_task("stubborn", "trap '' TERM; while true; do sleep 1; done");
    stubborn.kill_timeout = Duration::from_secs(4).into();
    let mut polite = shell_task(
        "polite",
        "trap 'echo got USR1 > /alloc/signal; exit 0' USR1; while true; do sleep 1; done",
    );
    polite.kill_signal = "SIGUSR1".into();
    polite.kill_timeout = Duration::from_secs(30).into();
    let mut job = job_of("kills", vec![stubborn]);
    let mut second = job.spec.groups[0].clone();
    second.name = "second".into();
    second.tasks = vec![polite];
    job.spec.groups.push(second);
    cluster.submit(&job).await;
    let running = |s: &AllocationStatus| s.client_status == ClientStatus::Running;
    let (stubborn_alloc, _) = cluster
        .alloc_when("kills", "front", "stubborn running", running)
        .await;
    let (polite_alloc, _) = cluster
        .alloc_when("kills", "second", "polite running", running)
        .await;

    cluster.stop(&job).await;
    let complete = |s: &AllocationStatus| s.client_status == ClientStatus::Complete;
    let (_, polite_status) = cluster
        .alloc_when("kills", "second", "polite stopped", complete)
        .await;
    let (_, stubborn_status) = cluster
        .alloc_when("kills", "front", "stubborn stopped", complete)
        .await;

    // kill_signal reached the task, which exited on it (code 0, not killed).
    let signal = std::fs::read_to_string(cluster.alloc_dir(&polite_alloc).join("signal"))
        .expect("the task wrote the signal it got");
    assert_eq!(signal.trim(), "got USR1");
    let polite_container = format!("polite-{}", polite_alloc.metadata.uid);
    assert_eq!(
        docker_inspect(&polite_container, "{{.State.ExitCode}}"),
        "0"
    );

    // The stubborn task was killed only after its kill_timeout.
    let stubborn_container = format!("stubborn-{}", stubborn_alloc.metadata.uid);
    assert_eq!(
        docker_inspect(&stubborn_container, "{{.State.ExitCode}}"),
        "137",
        "SIGKILL"
    );
    let events = &stubborn_status.task_states["stubborn"].events;
    let at = |kind: &str| {
        events
            .iter()
            .find(|e| e.event_type == kind)
            .and_then(|e| e.time)
            .unwrap_or_else(|| panic!("no {kind} event: {events:?}"))
    };
    let waited = at("Killed") - at("Killing");
    assert!(
        waited >= chrono::Duration::milliseconds(3_500),
        "killed after {waited} (kill_timeout 4s)"
    );
    let _ = polite_status;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oom_kill_is_recorded_and_follows_the_restart_policy() {
    let cluster = Cluster::start("127.0.0.10").await;
    // Holds ~64 MB in a shell variable against a 16 MB hard limit.
    let mut hog = shell_task(
        "hog",
        "x=$(head -c 67108864 /dev/zero | tr '\\0' a); sleep 3600",
    );
    hog.resources.memory = 16;
    hog.resources.memory_max = Some(16);
    hog.restart = Some(drover_api_types::job::RestartPolicy {
        attempts: Some(1),
        interval: Some(Duration::from_secs(60).into()),
        delay: Some(Duration::from_secs(1).into()),
        mode: Some("fail".into()),
        render_templates: None,
    });
    let mut job = job_of("hog", vec![hog]);
    job.spec.groups[0].reschedule = Some(drover_api_types::job::ReschedulePolicy {
        attempts: Some(0),
        unlimited: Some(false),
        ..Default::default()
    });
    cluster.submit(&job).await;
    let (alloc, status) = cluster
        .alloc_when("hog", "front", "the allocation failed", |s| {
            s.client_status == ClientStatus::Failed
        })
        .await;
    let task = &status.task_states["hog"];
    let terminated: Vec<_> = task
        .events
        .iter()
        .filter(|e| e.event_type == "Terminated")
        .collect();
    assert_eq!(terminated.len(), 2, "one restart, then fail: {task:?}");
    assert!(
        terminated.iter().all(|e| e.message == "OOM Killed"),
        "{terminated:?}"
    );
    assert_eq!(task.restarts, 1, "{task:?}");
    let reason = task
        .events
        .last()
        .map(|e| e.message.clone())
        .unwrap_or_default();
    assert!(reason.starts_with("OOM killed"), "{reason}");
    let container = format!("hog-{}", alloc.metadata.uid);
    assert_eq!(docker_inspect(&container, "{{.State.OOMKilled}}"), "true");
    // The agent's counters saw it all: two starts, one restart, two OOM kills.
    let metrics = cluster.scrape_agent().await.expect("agent metrics");
    for (name, expected) in [
        ("drover_agent_container_starts_total", 2.0),
        ("drover_agent_task_restarts_total", 1.0),
        ("drover_agent_oom_kills_total", 2.0),
    ] {
        assert_eq!(
            metric_value(&metrics, name, &[]),
            Some(expected),
            "{name}\n{metrics}"
        );
    }
    // Docker's exit event woke the worker: it did not wait for its next
    // look (10 s apart).
    let died: DateTime<Utc> = docker_inspect(&container, "{{.State.FinishedAt}}")
        .parse()
        .expect("FinishedAt");
    let noticed = terminated
        .last()
        .and_then(|e| e.time)
        .expect("a time on the event");
    assert!(
        noticed - died < chrono::Duration::seconds(5),
        "exit at {died}, noticed at {noticed}"
    );
    assert_eq!(
        docker_inspect(&container, "{{.HostConfig.Memory}}"),
        (16 * 1024 * 1024).to_string()
    );
}

fn container_exists(name: &str) -> bool {
    std::process::Command::new("docker")
        .args(["inspect", "-f", "{{.Id}}", name])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finished_allocations_are_collected_after_the_retention() {
    let mut cluster =
        Cluster::start_with("127.0.0.11", &["--gc-retention=3s", "--gc-interval=1s"]).await;
    let mut job = job_of("once", vec![shell_task("work", "echo done > /alloc/out")]);
    job.spec.job_type = drover_api_types::JobType::Batch;
    drover_api_types::defaults::canonicalize(&mut job);
    cluster.submit(&job).await;
    let (alloc, _) = cluster
        .alloc_when("once", "front", "the batch allocation complete", |s| {
            s.client_status == ClientStatus::Complete
        })
        .await;
    let container = format!("work-{}", alloc.metadata.uid);
    let dir = cluster.alloc_dir(&alloc);
    // Kept for a while after it finished (logs, post-mortems)…
    assert!(container_exists(&container), "collected too early");
    assert_eq!(
        std::fs::read_to_string(dir.join("out"))
            .expect("output")
            .trim(),
        "done"
    );
    // …then both go; the record in etcd stays, still complete.
    eventually(30, "the container and directory collected", || async {
        (!container_exists(&container) && !dir.exists()).then_some(())
    })
    .await;
    let (_, status) = cluster
        .alloc_when("once", "front", "the status still there", |_| true)
        .await;
    assert_eq!(status.client_status, ClientStatus::Complete);
    // It is not run again, not even by a restarted agent that finds
    // neither container nor directory.
    cluster.restart_agent();
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(!container_exists(&container), "the batch task ran again");
    let (_, status) = cluster
        .alloc_when("once", "front", "the status still there", |_| true)
        .await;
    assert_eq!(status.client_status, ClientStatus::Complete);
    let kinds: Vec<&str> = status.task_states["work"]
        .events
        .iter()
        .map(|e| e.event_type.as_str())
        .collect();
    assert_eq!(kinds.first(), Some(&"Received"), "{kinds:?}");
    assert_eq!(
        kinds.iter().filter(|k| **k == "Received").count(),
        1,
        "the restarted agent carried on from the recorded status: {kinds:?}"
    );
}

/// Starts a container the way `docker run -d` does, with these labels.
fn run_container(name: &str, labels: &[String]) {
    let mut args = vec!["run", "-d", "--name", name];
    for l in labels {
        args.extend(["--label", l.as_str()]);
    }
    args.extend([IMAGE, "sleep", "3600"]);
    let out = std::process::Command::new("docker")
        .args(&args)
        .output()
        .expect("docker run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Removes a container by name when dropped.
struct RemoveContainer(&'static str);

impl Drop for RemoveContainer {
    fn drop(&mut self) {
        let _ = std::process::Command::new("docker")
            .args(["rm", "-f", self.0])
            .output();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_removes_its_orphans_and_leaves_other_containers_alone() {
    let foreign = RemoveContainer("drover-test-not-ours");
    let orphan = RemoveContainer("drover-test-orphan");
    let _ = std::process::Command::new("docker")
        .args(["rm", "-f", foreign.0, orphan.0])
        .output();
    drover_test_support::docker::busybox_image(IMAGE).expect("test image");
    run_container(foreign.0, &["team=someone-else".into()]);
    let cluster = Cluster::start_prepared("127.0.0.12", &["--gc-interval=1s"], |dir| {
        // Left by an earlier life of this node: a container for an
        // allocation that no longer exists, and its directory.
        let node_id = drover_node_agent::fingerprint::node_id(dir).expect("node id");
        run_container(
            orphan.0,
            &[
                format!("io.drover.node_id={node_id}"),
                "io.drover.alloc_id=00000000-dead-beef".into(),
                "io.drover.task=web".into(),
            ],
        );
        std::fs::create_dir_all(dir.join("allocs/00000000-dead-beef/alloc")).expect("mkdir");
    })
    .await;
    let allocs = cluster.data.path().join("agent/allocs");
    eventually(30, "the orphan container and directory removed", || async {
        let gone = !container_exists(orphan.0) && !allocs.join("00000000-dead-beef").exists();
        gone.then_some(())
    })
    .await;
    assert_eq!(
        docker_inspect(foreign.0, "{{.State.Running}}"),
        "true",
        "a container without drover's labels is not the agent's"
    );
}
