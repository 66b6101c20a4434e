//! `drover agent` end to end: a real server, a real agent on the local
//! Docker with its own loopback address, a real etcd, and a busybox image
//! built locally (no registry is reachable).

use std::path::Path;
use std::time::Duration;

use crate::common::*;
use drover_api_types::alloc::{Allocation, AllocationStatus, Binding, ClientStatus};
use drover_api_types::Job;
use drover_store::{Store, Versioned};
use drover_test_support::wait::eventually;
use drover_test_support::TestEtcd;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_runs_on_docker_and_survives_an_agent_restart() {
    drover_test_support::docker::busybox_image(IMAGE).expect("test image");
    let etcd = TestEtcd::shared_or_spawn().await.expect("etcd");
    let store = connect(etcd.endpoints.clone(), &etcd.prefix).await;
    let data = tempfile::tempdir().expect("tempdir");
    let data_dir = data.path().join("agent");
    let data_arg = format!("--data-dir={}", data_dir.display());
    let _server = drover(
        &etcd,
        &[
            "server",
            "--http-addr=127.0.0.1:0",
            "--heartbeat-ttl=2s",
            "--heartbeat-grace=2s",
        ],
    );
    let agent_args = [
        "agent",
        "--address=127.0.0.2",
        "--http-addr=127.0.0.2:0",
        "--heartbeat-ttl=2s",
        data_arg.as_str(),
    ];
    let mut agent = drover(&etcd, &agent_args);
    let _cleanup = cleanup_when_registered(&data_dir).await;

    let job = web_job();
    let key = store.keys().job("default", "web");
    store.put_at(&key, &job).await.expect("put job");
    let (alloc, binding) = running_alloc(&store).await;
    let port = binding.ports.get("http").expect("http port");
    assert_eq!(port.host_ip, "127.0.0.2");
    let addr = format!("127.0.0.2:{}", port.value);

    // The published port answers on the node's address, and the task saw
    // its runtime variables.
    let env = eventually(20, "the env file over HTTP", || async {
        let body = http_get(&addr, "/env.txt").await?;
        body.contains("NOMAD_ALLOC_ID").then_some(body)
    })
    .await;
    assert!(
        env.contains(&format!("NOMAD_ALLOC_ID={}", alloc.metadata.uid)),
        "{env}"
    );
    assert!(env.contains("NOMAD_PORT_http=8080"), "{env}");
    assert!(env.contains(&format!("NOMAD_ADDR_http={addr}")), "{env}");
    assert!(env.contains("GREETING=hello from web"), "{env}");
    assert!(env.contains("DROVER_TASK_NAME=httpd"), "{env}");

    // memory_max is the container's hard limit, memory its reservation.
    let container = format!("httpd-{}", alloc.metadata.uid);
    assert_eq!(
        docker_inspect(&container, "{{.HostConfig.Memory}}"),
        (96 * 1024 * 1024).to_string()
    );
    assert_eq!(
        docker_inspect(&container, "{{.HostConfig.MemoryReservation}}"),
        (64 * 1024 * 1024).to_string()
    );

    // An agent restart adopts the container: same start time, still serving.
    let started = docker_inspect(&container, "{{.State.StartedAt}}");
    let _ = agent.0.kill();
    let _ = agent.0.wait();
    agent = drover(&etcd, &agent_args);
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(
        docker_inspect(&container, "{{.State.StartedAt}}"),
        started,
        "restarted by the agent"
    );
    assert!(http_get(&addr, "/env.txt").await.is_some());

    // Stopping the job stops the container and completes the allocation.
    let mut stopped = job.clone();
    stopped.spec.stop = true;
    store.put_at(&key, &stopped).await.expect("stop job");
    eventually(30, "the allocation complete", || async {
        let status: Versioned<AllocationStatus> = store
            .alloc_status_of("default", &alloc.metadata.uid)
            .await
            .ok()??;
        (status.value.client_status == ClientStatus::Complete).then_some(())
    })
    .await;
    assert_eq!(docker_inspect(&container, "{{.State.Running}}"), "false");
    drop(agent);
}

const MONGO_NODE: &str = "44511e01-34b8-c1e6-7fe5-60be0ff35d0e";
const MONGO_DATA: &str = "/home/picodotdev/Software/nomad/mongodb";

/// Local stand-ins for the images the seed job files name: busybox serving
/// HTTP on the port the real image would listen on.
fn seed_images() {
    let web = [
        "sh",
        "-c",
        "mkdir -p /www && echo ok > /www/index.html && exec httpd -f -p 80 -h /www",
    ];
    for tag in ["nginx:1.22.1", "httpd:2.4.55"] {
        drover_test_support::docker::busybox_image_with_cmd(tag, &web).expect("web image");
    }
    drover_test_support::docker::busybox_image_with_cmd(
        "mongo:latest",
        &["httpd", "-f", "-p", "27017"],
    )
    .expect("mongo image");
}

fn seed_job(file: &str) -> Job {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../manifests/examples")
        .join(file);
    let loaded = drover_api_types::jobspec::load_file(&path, &Default::default())
        .unwrap_or_else(|e| panic!("{}: {e:?}", path.display()));
    loaded.jobs.into_iter().next().expect("one job")
}

/// The running allocations of a job with their bindings.
async fn running_of(store: &Store, job: &str) -> Vec<(Allocation, Binding)> {
    let keys = store.keys();
    let allocs: Vec<Allocation> = store
        .list_at(&keys.collection("allocations"))
        .await
        .map(|l| l.items)
        .unwrap_or_default();
    let mut out = Vec::new();
    for a in allocs.into_iter().filter(|a| a.spec.job_id == job) {
        let (ns, id) = (a.metadata.namespace.clone(), a.metadata.uid.clone());
        let Ok(Some(status)) = store.alloc_status_of(&ns, &id).await else {
            continue;
        };
        let Ok(Some(binding)) = store
            .get_at::<Versioned<Binding>>(&keys.alloc_binding(&ns, &id))
            .await
        else {
            continue;
        };
        if status.value.client_status == ClientStatus::Running {
            out.push((a, binding.value));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_jobs_run_unchanged_on_four_local_agents() {
    seed_images();
    // Docker creates the job's host path for its bind mount: remember the
    // first directory of it that does not exist yet, to remove it after.
    let created_by_test = Path::new(MONGO_DATA)
        .ancestors()
        .filter(|p| !p.exists())
        .last()
        .map(Path::to_path_buf);
    let etcd = TestEtcd::shared_or_spawn().await.expect("etcd");
    let store = connect(etcd.endpoints.clone(), &etcd.prefix).await;
    let data = tempfile::tempdir().expect("tempdir");
    let api = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .to_string();
    let _server = drover(&etcd, &["server", &format!("--http-addr={api}")]);

    // Three dc1 nodes for nginx (static port 80 on each address) and apache;
    // one "localhost" node with the id mongodb.nomad pins.
    let mut agents = Vec::new();
    let mut cleanups = Vec::new();
    for (ip, dc) in [
        ("127.0.0.2", "dc1"),
        ("127.0.0.3", "dc1"),
        ("127.0.0.4", "dc1"),
        ("127.0.0.5", "localhost"),
    ] {
        let dir = data.path().join(ip);
        std::fs::create_dir_all(&dir).expect("data dir");
        if dc == "localhost" {
            std::fs::write(dir.join("node-id"), MONGO_NODE).expect("node id");
        }
        let mut args = vec![
            "agent".to_string(),
            format!("--address={ip}"),
            format!("--http-addr={ip}:0"),
            format!("--datacenter={dc}"),
            format!("--node-name=node-{ip}"),
            format!("--data-dir={}", dir.display()),
        ];
        if dc == "localhost" {
            // mongodb.nomad mounts a host path: its operator lets it.
            args.push("--docker-volumes-enabled".to_string());
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        agents.push(drover(&etcd, &args));
        cleanups.push(cleanup_when_registered(&dir).await);
    }

    for file in ["nginx-static-80.nomad", "apache.nomad", "mongodb.nomad"] {
        let job = seed_job(file);
        let key = store
            .keys()
            .job(&job.metadata.namespace, &job.metadata.name);
        store.put_at(&key, &job).await.expect("put job");
    }

    let nginx = eventually(180, "3 nginx running", || async {
        let r = running_of(&store, "nginx").await;
        (r.len() == 3).then_some(r)
    })
    .await;
    let mut ips: Vec<String> = nginx
        .iter()
        .map(|(_, b)| b.ports["http"].host_ip.clone())
        .collect();
    ips.sort();
    assert_eq!(
        ips,
        vec!["127.0.0.2", "127.0.0.3", "127.0.0.4"],
        "one per dc1 node"
    );
    for ip in &ips {
        let body = eventually(20, "nginx answering on port 80", || async {
            let body = http_get(&format!("{ip}:80"), "/").await?;
            body.contains("ok").then_some(body)
        })
        .await;
        assert!(body.starts_with("HTTP/1."), "{body}");
    }

    // A new image on a full cluster (port 80 taken on every node): each
    // old allocation is stopped and its replacement placed in the room it
    // frees, one at a time, as Nomad does, and `drover apply` follows the
    // rollout to its end as a user runs it.
    drover_test_support::docker::busybox_image_with_cmd(
        "nginx:1.23.0",
        &[
            "sh",
            "-c",
            "mkdir -p /www && echo new > /www/index.html && exec httpd -f -p 80 -h /www",
        ],
    )
    .expect("the new nginx image");
    let source = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../manifests/examples/nginx-static-80.nomad"),
    )
    .expect("the seed job");
    let updated = data.path().join("nginx.nomad");
    std::fs::write(&updated, source.replace("nginx:1.22.1", "nginx:1.23.0")).expect("write");
    let running_max = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let sampler = {
        let (store, running_max) = (store.clone(), running_max.clone());
        tokio::spawn(async move {
            loop {
                let n = running_of(&store, "nginx").await.len();
                running_max.fetch_max(n, std::sync::atomic::Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
    };
    let started = std::time::Instant::now();
    let addr = format!("http://{api}");
    let applied = tokio::task::spawn_blocking(move || {
        std::process::Command::new(DROVER)
            .args(["--addr", &addr, "apply", "--timeout", "5m", "-f"])
            .arg(&updated)
            .env_remove("DROVER_NAMESPACE")
            .stdin(std::process::Stdio::null())
            .output()
            .expect("run drover apply")
    })
    .await
    .expect("join");
    sampler.abort();
    let (out, err) = (
        String::from_utf8_lossy(&applied.stdout),
        String::from_utf8_lossy(&applied.stderr),
    );
    assert!(
        applied.status.success(),
        "apply of the new image failed:\n{out}\n{err}"
    );
    println!(
        "full cluster: image update of 3 static-port allocations took {:?}",
        started.elapsed()
    );
    let renewed = running_of(&store, "nginx").await;
    assert_eq!(renewed.len(), 3, "{renewed:?}");
    assert!(
        renewed.iter().all(|(a, _)| a.spec.job_version == 1),
        "all on the new version: {renewed:?}"
    );
    assert!(
        running_max.load(std::sync::atomic::Ordering::Relaxed) <= 3,
        "more than count running at once"
    );
    for ip in &ips {
        eventually(20, "the new nginx answering on port 80", || async {
            http_get(&format!("{ip}:80"), "/")
                .await
                .filter(|b| b.contains("new"))
        })
        .await;
    }

    let apache = eventually(60, "apache running", || async {
        let r = running_of(&store, "apache").await;
        (r.len() == 1).then_some(r)
    })
    .await;
    let port = &apache[0].1.ports["http"];
    assert!(port.value >= 20000, "a dynamic port: {port:?}");
    let addr = format!("{}:{}", port.host_ip, port.value);
    eventually(20, "apache answering", || async {
        http_get(&addr, "/").await.filter(|b| b.contains("ok"))
    })
    .await;

    let mongo = eventually(60, "mongodb running", || async {
        let r = running_of(&store, "mongodb").await;
        (r.len() == 1).then_some(r)
    })
    .await;
    let (_, binding) = &mongo[0];
    assert_eq!(binding.node_id, MONGO_NODE, "pinned by its constraint");
    let port = &binding.ports["port"];
    assert_eq!(port.to, 27017, "the 0.x port_map, mapped");
    let addr = format!("{}:{}", port.host_ip, port.value);
    eventually(20, "mongodb's port answering", || async {
        tokio::net::TcpStream::connect(&addr).await.ok().map(|_| ())
    })
    .await;

    drop(agents);
    drop(cleanups);
    if let Some(dir) = created_by_test {
        let _ = std::fs::remove_dir_all(dir);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn containers_keep_running_while_etcd_is_away_and_status_catches_up() {
    drover_test_support::docker::busybox_image(IMAGE).expect("test image");
    let mut etcd = drover_test_support::EtcdProcess::start()
        .await
        .expect("etcd");
    let prefix = "/away";
    let store = connect(vec![etcd.endpoint()], prefix).await;
    let data = tempfile::tempdir().expect("tempdir");
    let data_dir = data.path().join("agent");
    let data_arg = format!("--data-dir={}", data_dir.display());
    let _server = drover_at(
        &etcd.endpoint(),
        prefix,
        &["server", "--http-addr=127.0.0.1:0"],
    );
    let _agent = drover_at(
        &etcd.endpoint(),
        prefix,
        &[
            "agent",
            "--address=127.0.0.6",
            "--http-addr=127.0.0.6:0",
            data_arg.as_str(),
        ],
    );
    let _cleanup = cleanup_when_registered(&data_dir).await;
    let job = web_job();
    store
        .put_at(&store.keys().job("default", "web"), &job)
        .await
        .expect("put job");
    let (alloc, binding) = running_alloc(&store).await;
    let addr = format!("127.0.0.6:{}", binding.ports["http"].value);
    let container = format!("httpd-{}", alloc.metadata.uid);
    let started = docker_inspect(&container, "{{.State.StartedAt}}");

    // The control plane goes away for 30 s: the workload must not notice.
    etcd.stop();
    for _ in 0..6 {
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert_eq!(docker_inspect(&container, "{{.State.Running}}"), "true");
        assert!(http_get(&addr, "/env.txt").await.is_some(), "still serving");
    }
    assert_eq!(docker_inspect(&container, "{{.State.StartedAt}}"), started);
    etcd.restart().await.expect("etcd back");

    // Afterwards the status is there and still running, nothing replaced.
    let store = connect(vec![etcd.endpoint()], prefix).await;
    let (again, _) = running_alloc(&store).await;
    assert_eq!(again.metadata.uid, alloc.metadata.uid);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        docker_inspect(&container, "{{.State.StartedAt}}"),
        started,
        "restarted after etcd returned"
    );
    let allocs: Vec<Allocation> = store
        .list_at(&store.keys().collection("allocations"))
        .await
        .expect("list")
        .items;
    assert_eq!(allocs.len(), 1, "no replacement was made");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashing_task_follows_its_restart_policy_then_fails() {
    drover_test_support::docker::busybox_image(IMAGE).expect("test image");
    let etcd = TestEtcd::shared_or_spawn().await.expect("etcd");
    let store = connect(etcd.endpoints.clone(), &etcd.prefix).await;
    let data = tempfile::tempdir().expect("tempdir");
    let data_dir = data.path().join("agent");
    let data_arg = format!("--data-dir={}", data_dir.display());
    let _server = drover(&etcd, &["server", "--http-addr=127.0.0.1:0"]);
    let _agent = drover(
        &etcd,
        &[
            "agent",
            "--address=127.0.0.7",
            "--http-addr=127.0.0.7:0",
            data_arg.as_str(),
        ],
    );
    let _cleanup = cleanup_when_registered(&data_dir).await;

    let mut job = web_job();
    job.metadata.name = "crash".into();
    let group = &mut job.spec.groups[0];
    group.network = None;
    // No replacement elsewhere: this test is about restarts on the node.
    group.reschedule = Some(drover_api_types::job::ReschedulePolicy {
        attempts: Some(0),
        unlimited: Some(false),
        ..Default::default()
    });
    let task = &mut group.tasks[0];
    task.config.remove("ports");
    task.config
        .insert("args".into(), serde_json::json!(["-c", "exit 3"]));
    task.restart = Some(drover_api_types::job::RestartPolicy {
        attempts: Some(2),
        interval: Some(Duration::from_secs(60).into()),
        delay: Some(Duration::from_secs(1).into()),
        mode: Some("fail".into()),
        render_templates: None,
    });
    store
        .put_at(&store.keys().job("default", "crash"), &job)
        .await
        .expect("put job");

    let status = eventually(60, "the allocation failed", || async {
        let keys = store.keys();
        let allocs: Vec<Allocation> = store
            .list_at(&keys.collection("allocations"))
            .await
            .ok()?
            .items;
        let a = allocs.into_iter().find(|a| a.spec.job_id == "crash")?;
        let s: Versioned<AllocationStatus> = store
            .alloc_status_of(&a.metadata.namespace, &a.metadata.uid)
            .await
            .ok()??;
        (s.value.client_status == ClientStatus::Failed).then_some(s.value)
    })
    .await;
    let task = &status.task_states["httpd"];
    assert!(task.failed);
    assert_eq!(task.restarts, 2, "{task:?}");
    let kinds: Vec<&str> = task.events.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(
        kinds.iter().filter(|k| **k == "Restarting").count(),
        2,
        "{kinds:?}"
    );
    assert_eq!(kinds.last(), Some(&"Not Restarting"), "{kinds:?}");
    let exit_codes: Vec<Option<i64>> = task
        .events
        .iter()
        .filter(|e| e.event_type == "Terminated")
        .map(|e| e.exit_code)
        .collect();
    assert_eq!(exit_codes, vec![Some(3); 3]);
}

mod cut_off;
