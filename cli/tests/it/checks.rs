//! Service checks on a real agent: an http and a tcp check against the
//! published port and a script check in the container pass; the http check failing turns critical in the
//! allocation status, and `check_restart` restarts the task, after which
//! it passes again.

use std::time::Duration;

use drover_api_types::alloc::AllocationStatus;
use drover_api_types::group::{Check, CheckRestart, Service};

use crate::common::*;

fn check(kind: &str, name: &str) -> Check {
    Check {
        name: name.into(),
        check_type: kind.into(),
        interval: Duration::from_secs(1).into(),
        timeout: Duration::from_secs(1).into(),
        ..Default::default()
    }
}

fn status_of<'a>(s: &'a AllocationStatus, id: &str) -> Option<&'a str> {
    s.checks
        .iter()
        .find(|c| c.check_id == id)
        .map(|c| c.status.as_str())
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
    // Exit 1 when the file is gone: a warning, as Consul reads it.
    let mut file = check("script", "file");
    file.command = "/bin/sh".into();
    file.args = vec!["-c".into(), "test -f /alloc/env.txt".into()];
    job.spec.groups[0].tasks[0].services = vec![Service {
        name: "web".into(),
        port: "http".into(),
        provider: "nomad".into(),
        checks: vec![alive, check("tcp", "port"), file],
        ..Default::default()
    }];
    cluster.submit(&job).await;

    let passing = |s: &AllocationStatus| {
        s.checks.len() == 3 && s.checks.iter().all(|c| c.status == "passing")
    };
    let (alloc, status) = cluster
        .alloc_when("checked", "front", "both checks passing", passing)
        .await;
    let ids: Vec<&str> = status.checks.iter().map(|c| c.check_id.as_str()).collect();
    assert_eq!(ids, ["web/alive", "web/file", "web/port"]);
    let alive = &status.checks[0];
    assert!(alive.output.contains("200 OK"), "{alive:?}");

    // The file the http check reads goes away: 404, critical, and after two
    // failures past the grace the task is restarted — which writes the file
    // again, so the check passes once more.
    std::fs::remove_file(cluster.alloc_dir(&alloc).join("env.txt")).expect("remove the file");
    let (_, status) = cluster
        .alloc_when("checked", "front", "http critical, script warning", |s| {
            status_of(s, "web/alive") == Some("critical")
                && status_of(s, "web/file") == Some("warning")
        })
        .await;
    let alive = &status.checks[0];
    assert!(alive.output.contains("404"), "{alive:?}");
    assert_eq!(
        status_of(&status, "web/port"),
        Some("passing"),
        "the port still answers: {:?}",
        status.checks
    );
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
