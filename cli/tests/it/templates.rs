//! `template` blocks on a real agent and Docker: a rendered file in the
//! task's `local/` and an `env = true` template's variables reach the
//! container; an unsupported function fails the task with its message.

use drover_api_types::alloc::{ClientStatus, TaskRunState};
use drover_api_types::task::Template;
use drover_test_support::wait::eventually;

use crate::common::*;

const ADDRESS: &str = "127.0.0.22";

fn template(destination: &str, data: &str) -> Template {
    Template {
        destination: destination.into(),
        data: data.into(),
        ..Template::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rendered_files_and_env_templates_reach_the_container() {
    let cluster = Cluster::start(ADDRESS).await;
    let mut task = shell_task(
        "main",
        "cat /local/app.conf > /alloc/out; echo \"greeting=$GREETING\" >> /alloc/out; exec sleep 3600",
    );
    task.templates = vec![
        template("local/app.conf", "port={{ env \"NOMAD_ALLOC_INDEX\" }}\n"),
        Template {
            env: true,
            perms: "0600".into(),
            ..template(
                "secrets/app.env",
                "# rendered by drover\nGREETING={{ \"hi\" }}\n",
            )
        },
    ];
    let job = job_of("tpl", vec![task]);
    cluster.submit(&job).await;
    let (alloc, _) = cluster
        .alloc_when("tpl", "front", "the allocation running", |s| {
            s.client_status == ClientStatus::Running
        })
        .await;
    let out = cluster.alloc_dir(&alloc).join("out");
    let text = eventually(30, "the task's output", || async {
        std::fs::read_to_string(&out)
            .ok()
            .filter(|t| t.contains("greeting="))
    })
    .await;
    assert_eq!(text, "port=0\ngreeting=hi\n");
    let task_dir = cluster
        .data
        .path()
        .join("agent/allocs")
        .join(&alloc.metadata.uid)
        .join("main");
    // secrets/ is a tmpfs: what is rendered there never reaches the disk.
    let secrets = task_dir.join("secrets");
    let mounts = std::fs::read_to_string("/proc/self/mounts").expect("mounts");
    assert!(
        mounts
            .lines()
            .any(|l| l.starts_with(&format!("tmpfs {} tmpfs ", secrets.display()))),
        "secrets/ is not a tmpfs:\n{mounts}"
    );
    let env_file = task_dir.join("secrets/app.env");
    let mode = std::fs::metadata(&env_file)
        .expect("env file")
        .permissions();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(mode.mode() & 0o7777, 0o600);
    cluster.stop(&job).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unsupported_function_fails_the_task_with_its_message() {
    let cluster = Cluster::start(ADDRESS).await;
    let mut task = shell_task("main", "exec sleep 3600");
    task.templates = vec![template(
        "local/app.conf",
        "upstream = {{ range service \"db\" }}{{ .Address }}{{ end }}\n",
    )];
    let mut job = job_of("badtpl", vec![task]);
    // The message is what is tested, not the policies: no restarts, so the
    // task fails on its first attempt (the default policy's two delayed
    // restarts made this wait ~30 s, past 60 s on a loaded host), and no
    // reschedule, so the failed allocation is the job's only one.
    job.spec.groups[0].restart = Some(drover_api_types::job::RestartPolicy {
        attempts: Some(0),
        mode: Some("fail".into()),
        ..Default::default()
    });
    job.spec.groups[0].reschedule = Some(drover_api_types::job::ReschedulePolicy {
        attempts: Some(0),
        unlimited: Some(false),
        ..Default::default()
    });
    cluster.submit(&job).await;
    let (_, status) = cluster
        .alloc_when("badtpl", "front", "the task failed", |s| {
            s.task_states.get("main").is_some_and(|t| t.failed)
        })
        .await;
    let state = &status.task_states["main"];
    let messages: Vec<(&str, &str)> = state
        .events
        .iter()
        .map(|e| (e.event_type.as_str(), e.message.as_str()))
        .collect();
    assert!(
        messages.contains(&(
            "Driver Failure",
            "task \"main\": template \"local/app.conf\": line 1, col 15: \"range\" is not supported yet (drover renders env, if/else and literals only)"
        )),
        "{messages:?}"
    );
    assert_eq!(state.state, TaskRunState::Dead);
    cluster.stop(&job).await;
}
