//! Service checks on a real agent: an http and a tcp check against the
//! published port pass; the http check failing turns critical in the
//! allocation status, and `check_restart` restarts the task, after which
//! it passes again.

mod common;

use std::time::Duration;

use drover_api_types::group::{Check, CheckRestart, Service};

use common::*;

fn check(kind: &str, name: &str) -> Check {
    Check {
        name: name.into(),
        check_type: kind.into(),
        interval: Duration::from_secs(1).into(),
        timeout: Duration::from_secs(1).into(),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checks_report_health_and_check_restart_restarts_the_task() {
    let cluster = Cluster::start("127.0.0.13").await;
    let mut job = web_job();
    job.metadata.name = "checked".into();
    let mut alive = check("http", "alive");
    alive.path = "/env.txt".into();
    alive.check_restart = Some(CheckRestart {
        limit: 2,
        grace: Duration::from_secs(1).into(),
        ignore_warnings: false,
    });
    job.spec.groups[0].tasks[0].services = vec![Service {
        name: "web".into(),
        port: "http".into(),
        provider: "nomad".into(),
        checks: vec![alive, check("tcp", "port")],
        ..Default::default()
    }];
    cluster.submit(&job).await;

    let passing = |s: &drover_api_types::alloc::AllocationStatus| {
        s.checks.len() == 2 && s.checks.iter().all(|c| c.status == "passing")
    };
    let (alloc, status) = cluster
        .alloc_when("checked", "front", "both checks passing", passing)
        .await;
    let ids: Vec<&str> = status.checks.iter().map(|c| c.check_id.as_str()).collect();
    assert_eq!(ids, ["web/alive", "web/port"]);
    let alive = &status.checks[0];
    assert!(alive.output.contains("200 OK"), "{alive:?}");

    // The file the http check reads goes away: 404, critical, and after two
    // failures past the grace the task is restarted — which writes the file
    // again, so the check passes once more.
    std::fs::remove_file(cluster.alloc_dir(&alloc).join("env.txt")).expect("remove the file");
    let (_, status) = cluster
        .alloc_when("checked", "front", "the http check critical", |s| {
            s.checks
                .iter()
                .any(|c| c.check_id == "web/alive" && c.status == "critical")
        })
        .await;
    let alive = &status.checks[0];
    assert!(alive.output.contains("404"), "{alive:?}");
    assert_eq!(status.checks[1].status, "passing", "the port still answers");
    let (_, status) = cluster
        .alloc_when("checked", "front", "the task restarted by its check", |s| {
            s.task_states.get("httpd").is_some_and(|t| t.restarts >= 1)
        })
        .await;
    let task = &status.task_states["httpd"];
    assert!(
        task.events
            .iter()
            .any(|e| e.event_type == "Restart Signaled"
                && e.message.contains("check \"alive\" unhealthy")),
        "{task:?}"
    );
    let (_, status) = cluster
        .alloc_when(
            "checked",
            "front",
            "passing again after the restart",
            passing,
        )
        .await;
    assert_eq!(status.task_states["httpd"].restarts, 1, "{status:?}");
    let container = format!("httpd-{}", alloc.metadata.uid);
    assert_eq!(docker_inspect(&container, "{{.State.Running}}"), "true");
}
