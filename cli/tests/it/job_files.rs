//! Job files that used to run wrong (issue 16 §7), on a real agent and
//! Docker: a template mounted as a file with `volumes`, volume options,
//! `pid_mode` and log rotation reaching the container, and a container
//! removed from outside restarted after the policy's delay.

use std::time::{Duration, Instant};

use drover_api_types::alloc::ClientStatus;
use drover_api_types::job::RestartPolicy;
use drover_api_types::task::Template;
use drover_test_support::wait::eventually;

use crate::common::*;

const ADDRESS: &str = "127.0.0.80";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_template_mounted_as_a_file_and_docker_options_reach_the_container() {
    // pid_mode = "host" only where the operator allows it.
    let cluster = Cluster::start_with(ADDRESS, &["--docker-allow-host-pid"]).await;
    let mut task = shell_task(
        "main",
        "echo shared > /shared/stamp; cat /etc/site.conf > /alloc/out; exec sleep 3600",
    );
    task.templates = vec![Template {
        destination: "local/site.conf".into(),
        data: "server { listen {{ env \"NOMAD_ALLOC_INDEX\" }}; }\n".into(),
        ..Template::default()
    }];
    task.config.insert(
        "volumes".into(),
        serde_json::json!([
            "local/site.conf:/etc/site.conf:ro,rprivate",
            // Nomad's way to mount part of the shared alloc/ dir: inside
            // the allocation, so no leave is needed.
            "../alloc/shared:/shared"
        ]),
    );
    task.config.insert("pid_mode".into(), "host".into());
    task.logs.max_files = 2;
    task.logs.max_file_size = 3;
    let job = job_of("mountfile", vec![task]);
    cluster.submit(&job).await;
    let (alloc, _) = cluster
        .alloc_when("mountfile", "front", "the allocation running", |s| {
            s.client_status == ClientStatus::Running
        })
        .await;
    let out = cluster.alloc_dir(&alloc).join("out");
    let text = eventually(30, "the task's output", || async {
        std::fs::read_to_string(&out).ok().filter(|t| !t.is_empty())
    })
    .await;
    assert_eq!(text, "server { listen 0; }\n");
    let container = format!("main-{}", alloc.metadata.uid);
    let mount = docker_inspect(
        &container,
        "{{range .Mounts}}{{if eq .Destination \"/etc/site.conf\"}}{{.RW}} {{.Propagation}}{{end}}{{end}}",
    );
    // rprivate, not rslave: rslave needs the host path on a shared or slave
    // mount, which Docker checks and this test cannot assume.
    assert_eq!(
        mount, "false rprivate",
        "read-only, the propagation asked for"
    );
    // Docker got the agent's pinned bind mount of the file, not the path
    // inside local/ a container could swap for a link.
    let source = docker_inspect(
        &container,
        "{{range .Mounts}}{{if eq .Destination \"/etc/site.conf\"}}{{.Source}}{{end}}{{end}}",
    );
    let pinned = cluster
        .data
        .path()
        .join("agent/allocs")
        .join(&alloc.metadata.uid)
        .join(".pinned/main/3");
    assert_eq!(source, pinned.display().to_string());
    let stamp = cluster.alloc_dir(&alloc).join("shared/stamp");
    assert_eq!(
        std::fs::read_to_string(&stamp).expect("the shared stamp"),
        "shared\n"
    );
    assert_eq!(
        docker_inspect(&container, "{{.HostConfig.PidMode}}"),
        "host"
    );
    assert_eq!(
        docker_inspect(
            &container,
            "{{.HostConfig.LogConfig.Type}} {{index .HostConfig.LogConfig.Config \"max-file\"}} {{index .HostConfig.LogConfig.Config \"max-size\"}}"
        ),
        "json-file 2 3m"
    );
    cluster.stop(&job).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_container_removed_from_outside_restarts_after_the_delay() {
    let cluster = Cluster::start(ADDRESS).await;
    let mut task = shell_task("main", "exec sleep 3600");
    task.restart = Some(RestartPolicy {
        attempts: Some(3),
        interval: Some(Duration::from_secs(300).into()),
        delay: Some(Duration::from_secs(5).into()),
        mode: Some("fail".into()),
        ..RestartPolicy::default()
    });
    let job = job_of("rmf", vec![task]);
    cluster.submit(&job).await;
    let (alloc, _) = cluster
        .alloc_when("rmf", "front", "the allocation running", |s| {
            s.client_status == ClientStatus::Running
        })
        .await;
    let container = format!("main-{}", alloc.metadata.uid);
    let first = docker_inspect(&container, "{{.Id}}");
    assert!(!first.is_empty());
    let removed = Instant::now();
    let rm = std::process::Command::new("docker")
        .args(["rm", "-f", &container])
        .output()
        .expect("docker rm -f");
    assert!(rm.status.success(), "{rm:?}");
    let second = eventually(60, "a new container running", || async {
        let id = docker_inspect(&container, "{{.Id}}");
        let running = docker_inspect(&container, "{{.State.Running}}") == "true";
        (running && !id.is_empty() && id != first).then_some(id)
    })
    .await;
    let waited = removed.elapsed();
    assert!(
        waited >= Duration::from_millis(4500),
        "restarted after {waited:?}, before the 5s delay"
    );
    assert_ne!(second, first);
    let (_, status) = cluster
        .alloc_when("rmf", "front", "the allocation running again", |s| {
            s.client_status == ClientStatus::Running
                && s.task_states.get("main").is_some_and(|t| t.restarts == 1)
        })
        .await;
    let state = &status.task_states["main"];
    assert!(!state.failed, "{state:?}");
    let kinds: Vec<&str> = state.events.iter().map(|e| e.event_type.as_str()).collect();
    assert!(kinds.contains(&"Restarting"), "{kinds:?}");
    cluster.stop(&job).await;
}

/// `logs { max_files = 2, max_file_size = 1 }`: a task writing megabytes
/// leaves at most two files of about a megabyte on the node.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_rotation_keeps_a_chatty_task_under_its_cap() {
    let cluster = Cluster::start(ADDRESS).await;
    let mut task = shell_task(
        "main",
        "yes 0123456789012345678901234567890123456789 | head -c 8000000; echo done > /alloc/out; exec sleep 3600",
    );
    task.logs.max_files = 2;
    task.logs.max_file_size = 1;
    let job = job_of("chatty", vec![task]);
    cluster.submit(&job).await;
    let (alloc, _) = cluster
        .alloc_when("chatty", "front", "the allocation running", |s| {
            s.client_status == ClientStatus::Running
        })
        .await;
    let out = cluster.alloc_dir(&alloc).join("out");
    eventually(60, "the task done writing", || async {
        std::fs::read_to_string(&out).ok().filter(|t| t == "done\n")
    })
    .await;
    let container = format!("main-{}", alloc.metadata.uid);
    let log_path = docker_inspect(&container, "{{.LogPath}}");
    let dir = std::path::Path::new(&log_path)
        .parent()
        .expect("the log's directory");
    let name = std::path::Path::new(&log_path)
        .file_name()
        .expect("the log's name")
        .to_string_lossy()
        .into_owned();
    let files: Vec<(String, u64)> = std::fs::read_dir(dir)
        .expect("the container's directory")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(&name))
        .map(|e| {
            let len = e.metadata().map(|m| m.len()).unwrap_or(0);
            (e.file_name().to_string_lossy().into_owned(), len)
        })
        .collect();
    let total: u64 = files.iter().map(|(_, len)| len).sum();
    // 8 MB of output is about 17 MB as Docker's JSON lines; two files of
    // 1 MiB (plus the line that crossed the size) remain.
    assert!(files.len() <= 2, "{files:?}");
    assert!(
        total <= 2 * 1024 * 1024 + 64 * 1024,
        "{total} bytes: {files:?}"
    );
    assert!(total > 1024 * 1024, "the log was written: {files:?}");
    cluster.stop(&job).await;
}
