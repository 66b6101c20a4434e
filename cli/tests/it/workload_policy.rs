//! The workload policy on a real agent and Docker: a job asking for the
//! host (a host path such as `/` or the Docker socket, the host network,
//! the host pid namespace, privileged) is not placed on a node whose agent
//! does not allow it, and the reason shows; forced onto such a node
//! anyway, the agent refuses it; once the operator allows it, it runs.
//! And nothing escapes the allocation directory through templates.

use std::collections::BTreeMap;

use drover_api_types::alloc::{Allocation, AllocationStatus, Binding};
use drover_api_types::job::{PlacementFailure, RestartPolicy};
use drover_api_types::task::Template;
use drover_api_types::Job;
use drover_store::Versioned;
use drover_test_support::wait::eventually;

use crate::common::*;

const ADDRESS: &str = "127.0.0.81";

/// `(job name, config keys, the reason placement gives)`.
fn asking_jobs() -> Vec<(Job, &'static str)> {
    let cases: [(&str, serde_json::Value, &str); 9] = [
        (
            "rootfs",
            serde_json::json!({"volumes": ["/:/host:ro"]}),
            "driver.docker: volumes disabled",
        ),
        (
            "dockersock",
            serde_json::json!({"volumes": ["/var/run/docker.sock:/var/run/docker.sock"]}),
            "driver.docker: volumes disabled",
        ),
        (
            "hostnet",
            serde_json::json!({"network_mode": "host"}),
            "driver.docker: host network disabled",
        ),
        (
            "hostpid",
            serde_json::json!({"pid_mode": "host"}),
            "driver.docker: host pid namespace disabled",
        ),
        (
            "root",
            serde_json::json!({"privileged": true}),
            "driver.docker: privileged containers disabled",
        ),
        (
            "sysadmin",
            serde_json::json!({"cap_add": ["SYS_ADMIN"]}),
            "driver.docker: capability sys_admin not allowed",
        ),
        (
            "hostipc",
            serde_json::json!({"ipc_mode": "host"}),
            "driver.docker: host ipc namespace disabled",
        ),
        (
            "devices",
            serde_json::json!({"devices": [{"host_path": "/dev/null", "container_path": "/dev/xnull"}]}),
            "driver.docker: devices disabled",
        ),
        (
            "gvisor",
            serde_json::json!({"runtime": "runsc"}),
            "driver.docker: runtime runsc not allowed",
        ),
    ];
    cases
        .into_iter()
        .map(|(name, config, reason)| {
            let mut task = shell_task("main", "exec sleep 3600");
            if let serde_json::Value::Object(map) = config {
                task.config.extend(map);
            }
            (job_of(name, vec![task]), reason)
        })
        .collect()
}

async fn placement(cluster: &Cluster, job: &str) -> Option<BTreeMap<String, PlacementFailure>> {
    let store = &cluster.store;
    let record: Versioned<BTreeMap<String, PlacementFailure>> = store
        .get_at(&store.keys().job_placement("default", job))
        .await
        .ok()??;
    Some(record.value)
}

async fn the_allocation(cluster: &Cluster, job: &str) -> Allocation {
    let store = &cluster.store;
    eventually(30, "the job's allocation", || async {
        let all: Vec<Allocation> = store
            .list_at(&store.keys().collection("allocations"))
            .await
            .ok()?
            .items;
        all.into_iter().find(|a| a.spec.job_id == job)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_reaches_beyond_the_allocation_runs_only_where_the_operator_allows_it() {
    let mut cluster = Cluster::start(ADDRESS).await;
    cluster.until_ready().await;
    let jobs = asking_jobs();
    for (job, _) in &jobs {
        cluster.submit(job).await;
    }
    // Not placed on a default node, with the reason.
    for (job, reason) in &jobs {
        let name = &job.metadata.name;
        let record = eventually(30, &format!("{name}: why it waits"), || async {
            placement(&cluster, name).await.filter(|r| !r.is_empty())
        })
        .await;
        let failure = &record["front"];
        assert_eq!(
            failure.nodes_filtered.get(*reason),
            Some(&1),
            "{name}: {failure:?}"
        );
    }

    // Forced onto the node anyway (as a server that skipped the check
    // would), the agent refuses it with a clear task event.
    let mut forced_job = jobs[0].0.clone();
    forced_job.metadata.name = "forced".into();
    cluster.submit(&forced_job).await;
    let forced = the_allocation(&cluster, "forced").await;
    let node_id = std::fs::read_to_string(cluster.data.path().join("agent/node-id"))
        .expect("node id")
        .trim()
        .to_string();
    let mut bound = forced.clone();
    bound.binding = Some(Binding {
        node_id: node_id.clone(),
        node_name: "forced".into(),
        cpu: 100,
        memory: 64,
        ..Binding::default()
    });
    let store = &cluster.store;
    let keys = store.keys();
    // Bound as placement binds: the binding (which the node-jobs
    // controller copies the job for) and the node's copy of the allocation.
    let binding_key = keys.alloc_binding("default", &forced.metadata.uid);
    store
        .put_at(
            &binding_key,
            &Versioned::new(bound.binding.clone().expect("bound")),
        )
        .await
        .expect("the binding");
    store
        .put_at(
            &keys.node_alloc(&node_id, "default", &forced.metadata.uid),
            &bound,
        )
        .await
        .expect("force the allocation onto the node");
    let refused = eventually(30, "the agent's refusal", || async {
        let status: Versioned<AllocationStatus> = store
            .alloc_status_of("default", &forced.metadata.uid)
            .await
            .ok()??;
        let events = &status.value.task_states.get("main")?.events;
        events
            .iter()
            .find(|e| e.message.contains("is not allowed on this node"))
            .map(|e| e.message.clone())
    })
    .await;
    assert!(
        refused.contains("volumes disabled") && refused.contains("--docker-volumes-enabled"),
        "{refused}"
    );
    let container = format!("main-{}", forced.metadata.uid);
    let created = std::process::Command::new("docker")
        .args(["inspect", &container])
        .output()
        .expect("docker inspect");
    assert!(!created.status.success(), "no container was created");
    store
        .delete_raw(
            &keys.node_alloc(&node_id, "default", &forced.metadata.uid),
            drover_store::Guard::None,
        )
        .await
        .expect("unforce");
    store
        .delete_raw(&binding_key, drover_store::Guard::None)
        .await
        .expect("unbind");
    cluster.stop(&forced_job).await;

    // The operator allows each: the agent republishes its node, and every
    // waiting job is placed and runs.
    // Part through a Nomad client config file, part through flags.
    let config = cluster.data.path().join("client.hcl");
    std::fs::write(
        &config,
        "plugin \"docker\" {\n  config {\n    allow_privileged = true\n    allow_caps = [\"all\"]\n    allow_runtimes = [\"runc\", \"runsc\"]\n    volumes {\n      enabled = true\n    }\n  }\n}\n",
    )
    .expect("config file");
    cluster
        .agent_args
        .push(format!("--config={}", config.display()));
    cluster.agent_args.extend(
        [
            "--docker-allow-host-network",
            "--docker-allow-host-pid",
            "--docker-allow-host-ipc",
            "--docker-allow-devices",
        ]
        .map(String::from),
    );
    cluster.restart_agent();
    for (job, _) in &jobs {
        let name = &job.metadata.name;
        if name == "root" || name == "gvisor" {
            // This machine's Docker cannot start privileged containers at
            // all ("unable to apply caps") and has no runsc: placed, and
            // not refused by the agent, is what can be seen here.
            let (_, status) = cluster
                .alloc_when(name, "front", "root placed and tried", |s| {
                    s.task_states
                        .get("main")
                        .is_some_and(|t| !t.events.is_empty())
                })
                .await;
            let events = &status.task_states["main"].events;
            assert!(
                !events.iter().any(|e| e.message.contains("not allowed")),
                "{events:?}"
            );
            continue;
        }
        cluster
            .alloc_when(name, "front", &format!("{name} running"), |s| {
                s.client_status == drover_api_types::alloc::ClientStatus::Running
            })
            .await;
    }
    let hostnet = the_allocation(&cluster, "hostnet").await;
    assert_eq!(
        docker_inspect(
            &format!("main-{}", hostnet.metadata.uid),
            "{{.HostConfig.NetworkMode}}"
        ),
        "host"
    );
    let hostipc = the_allocation(&cluster, "hostipc").await;
    assert_eq!(
        docker_inspect(
            &format!("main-{}", hostipc.metadata.uid),
            "{{.HostConfig.IpcMode}}"
        ),
        "host"
    );
    let devices = the_allocation(&cluster, "devices").await;
    assert_eq!(
        docker_inspect(
            &format!("main-{}", devices.metadata.uid),
            "{{range .HostConfig.Devices}}{{.PathOnHost}}:{{.PathInContainer}}{{end}}"
        ),
        "/dev/null:/dev/xnull"
    );
    for (job, _) in &jobs {
        cluster.stop(job).await;
    }
}

/// Nothing escapes the allocation directory: a template cannot read the
/// node's files, and a link a container plants in `local/` is replaced,
/// not written through, when the agent renders the template again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn templates_stay_inside_the_allocation_whatever_a_container_plants() {
    let cluster = Cluster::start("127.0.0.82").await;
    cluster.until_ready().await;
    let outside = tempfile::tempdir().expect("tempdir");
    let victim = outside.path().join("victim");
    std::fs::write(&victim, "host\n").expect("victim");

    // A source outside the allocation: the task fails, saying why.
    let mut reader = shell_task("main", "exec sleep 3600");
    reader.templates = vec![Template {
        source: "/etc/shadow".into(),
        destination: "local/stolen".into(),
        ..Template::default()
    }];
    let reader = job_of("reader", vec![reader]);
    cluster.submit(&reader).await;
    let (alloc, status) = cluster
        .alloc_when("reader", "front", "the template refused", |s| {
            s.task_states.get("main").is_some_and(|t| {
                t.events
                    .iter()
                    .any(|e| e.message.contains("--template-source-dir"))
            })
        })
        .await;
    assert!(!cluster
        .alloc_dir(&alloc)
        .join("../main/local/stolen")
        .exists());
    assert!(status.task_states["main"].events.iter().any(|e| e
        .message
        .contains("source \"/etc/shadow\" is outside the task directory")));
    cluster.stop(&reader).await;

    // The first container swaps the rendered file (and the agent's
    // temporary beside it) for links to a host file.
    let script = format!(
        "if [ -f /local/app.conf ] && [ ! -L /local/app.conf ] && [ -e /alloc/planted ]; then \
           cat /local/app.conf > /alloc/done; exec sleep 3600; fi; \
         rm -f /local/app.conf; ln -s {victim} /local/app.conf; \
         ln -sf {victim} /local/.app.conf.drover-tmp; touch /alloc/planted; exec sleep 3600",
        victim = victim.display()
    );
    let mut planter = shell_task("main", &script);
    planter.templates = vec![Template {
        destination: "local/app.conf".into(),
        data: "rendered by drover\n".into(),
        ..Template::default()
    }];
    planter.restart = Some(RestartPolicy {
        attempts: Some(3),
        interval: Some(std::time::Duration::from_secs(300).into()),
        delay: Some(std::time::Duration::from_secs(1).into()),
        mode: Some("fail".into()),
        ..RestartPolicy::default()
    });
    let planter = job_of("planter", vec![planter]);
    cluster.submit(&planter).await;
    let (alloc, _) = cluster
        .alloc_when("planter", "front", "the planter running", |s| {
            s.client_status == drover_api_types::alloc::ClientStatus::Running
        })
        .await;
    let planted = cluster.alloc_dir(&alloc).join("planted");
    eventually(30, "the links planted", || async {
        planted.exists().then_some(())
    })
    .await;
    // The container goes (an operator, the OOM killer, a node reboot); the
    // agent makes it again and renders the template again first.
    let removed = std::process::Command::new("docker")
        .args(["rm", "-f", &format!("main-{}", alloc.metadata.uid)])
        .output()
        .expect("docker rm");
    assert!(removed.status.success());
    let done = cluster.alloc_dir(&alloc).join("done");
    let seen = eventually(30, "the second run's view", || async {
        std::fs::read_to_string(&done)
            .ok()
            .filter(|t| !t.is_empty())
    })
    .await;
    assert_eq!(seen, "rendered by drover\n");
    assert_eq!(
        std::fs::read_to_string(&victim).expect("victim"),
        "host\n",
        "the host file is untouched"
    );
    cluster.stop(&planter).await;
}

/// Containers are made with no-new-privileges and a pids limit: a fork
/// bomb in a task stops at its `pids_limit`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pids_limit_stops_a_fork_bomb() {
    let cluster = Cluster::start("127.0.0.83").await;
    cluster.until_ready().await;
    let script = "(i=0; while [ $i -lt 200 ]; do sleep 300 & i=$((i+1)); echo $i > /alloc/forks; done) 2>/dev/null; \
                  kill -9 -1; exec sleep 3600";
    let mut bomb = shell_task("main", script);
    bomb.config.insert("pids_limit".into(), 30.into());
    let bomb = job_of("bomb", vec![bomb]);
    cluster.submit(&bomb).await;
    let (alloc, _) = cluster
        .alloc_when("bomb", "front", "the bomb running", |s| {
            s.client_status == drover_api_types::alloc::ClientStatus::Running
        })
        .await;
    let container = format!("main-{}", alloc.metadata.uid);
    assert_eq!(
        docker_inspect(
            &container,
            "{{.HostConfig.PidsLimit}} {{.HostConfig.SecurityOpt}} {{.HostConfig.CapDrop}}"
        ),
        "30 [no-new-privileges] [NET_RAW]"
    );
    let forks = cluster.alloc_dir(&alloc).join("forks");
    let reached: u32 = eventually(30, "the bomb stopped", || async {
        let before = std::fs::read_to_string(&forks).ok()?;
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        let after = std::fs::read_to_string(&forks).ok()?;
        (before == after)
            .then(|| after.trim().parse().ok())
            .flatten()
    })
    .await;
    assert!(
        reached < 30,
        "{reached} processes forked past a limit of 30"
    );
    cluster.stop(&bomb).await;
}
