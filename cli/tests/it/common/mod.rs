//! What the end-to-end tests of a real agent share: a server and agent
//! [`Cluster`] with shell-task jobs, the drover binary as a
//! child process, a store connection, the test image, a job that serves
//! HTTP, and clean-up of the containers a test's node created.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use drover_api_types::alloc::{Allocation, AllocationStatus, Binding, ClientStatus};
use drover_api_types::group::{Network, Port};
use drover_api_types::{mock, Job, JobType, Task};
use drover_store::{Store, StoreConfig, Versioned};
use drover_test_support::wait::eventually;
use drover_test_support::TestEtcd;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub const DROVER: &str = env!("CARGO_BIN_EXE_drover");
pub const IMAGE: &str = "drover-test/busybox:agent";

/// A child process killed (SIGKILL) on drop.
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A server started by a test answers DNS on a port of its own (many run
/// at once; the default 127.0.0.1:8600 would be taken by the first).
fn with_own_dns_port<'a>(args: &[&'a str]) -> Vec<&'a str> {
    let mut args = args.to_vec();
    if args.first() == Some(&"server") && !args.iter().any(|a| a.starts_with("--dns-addr")) {
        args.push("--dns-addr=127.0.0.1:0");
    }
    args
}

pub fn drover(etcd: &TestEtcd, args: &[&str]) -> Proc {
    let child = Command::new(DROVER)
        .args(with_own_dns_port(args))
        .arg(format!("--etcd={}", etcd.endpoints.join(",")))
        .arg(format!("--etcd-prefix={}", etcd.prefix))
        .arg(
            std::env::var("TEST_LOG")
                .map(|l| format!("--log-level={l}"))
                .unwrap_or_else(|_| "--log-level=warn".into()),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start drover");
    Proc(child)
}

/// Removes every container this test's node created, whatever happens.
pub struct Cleanup(pub String, pub PathBuf);

impl Drop for Cleanup {
    fn drop(&mut self) {
        unmount_under(&self.1);
        let ids = Command::new("docker")
            .args([
                "ps",
                "-aq",
                "--filter",
                &format!("label=io.drover.node_id={}", self.0),
            ])
            .output();
        if let Ok(out) = ids {
            for id in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                let _ = Command::new("docker").args(["rm", "-f", id]).output();
            }
        }
    }
}

/// Unmounts what the agent mounted under `dir` (tasks' secrets tmpfs), so
/// the test's temporary directory can go.
pub fn unmount_under(dir: &Path) {
    let Ok(mounts) = std::fs::read_to_string("/proc/self/mounts") else {
        return;
    };
    let dir = dir.to_string_lossy();
    for point in mounts.lines().filter_map(|l| l.split(' ').nth(1)) {
        if point.starts_with(dir.as_ref()) {
            let _ = Command::new("umount").args(["-l", point]).output();
        }
    }
}

/// A store on `endpoints` under `prefix`, with a short request timeout.
pub async fn connect(endpoints: Vec<String>, prefix: &str) -> Store {
    let mut config = StoreConfig::new(endpoints, prefix);
    config.request_timeout_ms = 3_000;
    Store::connect(config).await.expect("connect")
}

/// Waits for the agent on `data_dir` to write its node id; the guard then
/// removes that node's containers when the test ends.
pub async fn cleanup_when_registered(data_dir: &Path) -> Cleanup {
    let id = eventually(20, "the node id", || async {
        std::fs::read_to_string(data_dir.join("node-id"))
            .ok()
            .map(|s| s.trim().to_string())
    })
    .await;
    Cleanup(id, data_dir.to_path_buf())
}

/// `GET base+path` as JSON; `None` on any failure or non-2xx answer.
pub async fn get_json(base: &str, path: &str) -> Option<serde_json::Value> {
    reqwest::get(format!("{base}{path}"))
        .await
        .ok()?
        .error_for_status()
        .ok()?
        .json()
        .await
        .ok()
}

/// Waits until the server at `base` leads and lists `nodes` nodes as ready
/// (registered is not enough: placement uses only ready nodes).
pub async fn until_ready(base: &str, nodes: usize) {
    let what = format!("the server leading and {nodes} node(s) ready");
    eventually(30, &what, || async {
        let leader = get_json(base, "/v1/status/leader").await?;
        let listed = get_json(base, "/v1/nodes").await?;
        let ready = listed
            .as_array()?
            .iter()
            .filter(|n| n["status"] == "ready")
            .count();
        (leader["leading"] == true && ready == nodes).then_some(())
    })
    .await
}

/// `web`: one `front` allocation of busybox httpd on port `http` (to
/// 8080), which first writes its environment (with `GREETING`) to
/// `/alloc/env.txt`.
pub fn web_job() -> Job {
    let mut config = serde_json::Map::new();
    config.insert("image".into(), IMAGE.into());
    config.insert("command".into(), "sh".into());
    config.insert(
        "args".into(),
        serde_json::json!([
            "-c",
            "env > /alloc/env.txt; exec httpd -f -p 8080 -h /alloc"
        ]),
    );
    config.insert("ports".into(), serde_json::json!(["http"]));
    let mut httpd = mock::task("httpd");
    httpd.config = config;
    httpd.resources.memory_max = Some(96);
    httpd
        .env
        .insert("GREETING".into(), "hello from ${NOMAD_JOB_NAME}".into());
    let mut front = mock::group("front", 1);
    front.network = Some(Network {
        ports: vec![Port {
            label: "http".into(),
            to: Some(8080),
            ..Default::default()
        }],
        ..Default::default()
    });
    front.tasks = vec![httpd];
    mock::job_of("web", JobType::Service, vec![front])
}

pub async fn http_get(addr: &str, path: &str) -> Option<String> {
    http_get_with(addr, path, "").await
}

/// [`http_get`] with extra header lines (each ending in `\r\n`).
pub async fn http_get_with(addr: &str, path: &str, headers: &str) -> Option<String> {
    let mut stream = tokio::net::TcpStream::connect(addr).await.ok()?;
    let request = format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n{headers}\r\n");
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await.ok()?;
    Some(response)
}

/// The one allocation of the job, whole, once it is running.
pub async fn running_alloc(store: &Store) -> (Allocation, Binding) {
    eventually(60, "the allocation running", || async {
        let keys = store.keys();
        let allocs: Vec<Allocation> = store
            .list_at(&keys.collection("allocations"))
            .await
            .ok()?
            .items;
        let alloc = allocs.into_iter().next()?;
        let (ns, id) = (&alloc.metadata.namespace, &alloc.metadata.uid);
        let binding: Versioned<Binding> =
            store.get_at(&keys.alloc_binding(ns, id)).await.ok()??;
        let status: Versioned<AllocationStatus> = store.alloc_status_of(ns, id).await.ok()??;
        (status.value.client_status == ClientStatus::Running).then_some((alloc, binding.value))
    })
    .await
}

pub fn docker_inspect(container: &str, format: &str) -> String {
    let out = Command::new("docker")
        .args(["inspect", "-f", format, container])
        .output()
        .expect("docker inspect");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

pub fn drover_at(endpoint: &str, prefix: &str, args: &[&str]) -> Proc {
    let child = Command::new(DROVER)
        .args(with_own_dns_port(args))
        .arg(format!("--etcd={endpoint}"))
        .arg(format!("--etcd-prefix={prefix}"))
        .arg(
            std::env::var("TEST_LOG")
                .map(|l| format!("--log-level={l}"))
                .unwrap_or_else(|_| "--log-level=warn".into()),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start drover");
    Proc(child)
}

/// A server and one agent on `address`; the guard removes the node's
/// containers at the end.
pub struct Cluster {
    pub store: Store,
    pub etcd: TestEtcd,
    pub agent_args: Vec<String>,
    pub agent: Proc,
    /// The server's HTTP address (API and `/metrics`).
    pub server_addr: String,
    _server: Proc,
    // Dropped after the agent is killed and before `data`: it unmounts
    // what the agent mounted there.
    _cleanup: Cleanup,
    pub data: tempfile::TempDir,
}

impl Cluster {
    pub async fn start(address: &str) -> Cluster {
        Cluster::start_with(address, &[]).await
    }

    pub async fn start_with(address: &str, agent_flags: &[&str]) -> Cluster {
        Cluster::start_prepared(address, agent_flags, |_| {}).await
    }

    /// `prepare` gets the agent's data dir before the agent starts.
    pub async fn start_prepared(
        address: &str,
        agent_flags: &[&str],
        prepare: impl FnOnce(&Path),
    ) -> Cluster {
        Cluster::start_full(address, &[], agent_flags, prepare).await
    }

    /// With extra flags for the server too.
    pub async fn start_full(
        address: &str,
        server_flags: &[&str],
        agent_flags: &[&str],
        prepare: impl FnOnce(&Path),
    ) -> Cluster {
        drover_test_support::docker::busybox_image(IMAGE).expect("test image");
        let etcd = TestEtcd::shared_or_spawn().await.expect("etcd");
        let store = connect(etcd.endpoints.clone(), &etcd.prefix).await;
        let data = tempfile::tempdir().expect("tempdir");
        let data_dir = data.path().join("agent");
        prepare(&data_dir);
        // A free port, found by binding and letting go (as server.rs does),
        // so tests can call the API and scrape the server's /metrics.
        let server_addr = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .to_string();
        let http_addr = format!("--http-addr={server_addr}");
        let mut server_args = vec!["server", http_addr.as_str()];
        server_args.extend(server_flags);
        let server = drover(&etcd, &server_args);
        let mut agent_args = vec![
            "agent".to_string(),
            format!("--address={address}"),
            format!("--data-dir={}", data_dir.display()),
            // Any free port: other tests' agents may share the address.
            format!("--http-addr={address}:0"),
        ];
        agent_args.extend(agent_flags.iter().map(|f| f.to_string()));
        let agent = drover(&etcd, &as_strs(&agent_args));
        let cleanup = cleanup_when_registered(&data_dir).await;
        // The server binds its port only after it reached etcd; a test that
        // calls the API at once would otherwise meet a refused connection.
        let base = format!("http://{server_addr}");
        eventually(30, "the server answering HTTP", || async {
            get_json(&base, "/v1/status/leader").await.map(|_| ())
        })
        .await;
        Cluster {
            store,
            data,
            etcd,
            agent_args,
            agent,
            server_addr,
            _server: server,
            _cleanup: cleanup,
        }
    }

    /// Kills the agent and starts it again on the same data dir.
    pub fn restart_agent(&mut self) {
        let _ = self.agent.0.kill();
        let _ = self.agent.0.wait();
        self.agent = drover(&self.etcd, &as_strs(&self.agent_args));
    }

    pub async fn submit(&self, job: &Job) {
        let key = self.store.keys().job("default", &job.metadata.name);
        self.store.put_at(&key, job).await.expect("put job");
    }

    pub async fn stop(&self, job: &Job) {
        let mut stopped = job.clone();
        stopped.spec.stop = true;
        self.submit(&stopped).await;
    }

    /// An allocation of the job's `group` and its status, once `done` says
    /// so of one (a replacement may stand beside the one that got there).
    pub async fn alloc_when(
        &self,
        job: &str,
        group: &str,
        what: &str,
        done: impl Fn(&AllocationStatus) -> bool,
    ) -> (Allocation, AllocationStatus) {
        let store = &self.store;
        eventually(60, what, || async {
            let keys = store.keys();
            let allocs: Vec<Allocation> = store
                .list_at(&keys.collection("allocations"))
                .await
                .ok()?
                .items;
            for a in allocs
                .into_iter()
                .filter(|a| a.spec.job_id == job && a.spec.task_group == group)
            {
                let found = store
                    .alloc_status_of(&a.metadata.namespace, &a.metadata.uid)
                    .await;
                if let Ok(Some(s)) = found {
                    if done(&s.value) {
                        return Some((a, s.value));
                    }
                }
            }
            None
        })
        .await
    }

    /// Waits until the server leads and lists the node as ready: what a
    /// user's `drover apply` needs for its placement not to fail.
    pub async fn until_ready(&self) {
        until_ready(&format!("http://{}", self.server_addr), 1).await
    }

    /// The agent's HTTP address (its API and `/metrics`), as its node
    /// advertises it.
    pub async fn agent_addr(&self) -> String {
        let store = &self.store;
        eventually(30, "the node's http_addr", || async {
            let nodes: Vec<drover_api_types::Node> = store
                .list_at(&store.keys().collection("nodes"))
                .await
                .ok()?
                .items;
            let addr = nodes.into_iter().next()?.spec.http_addr;
            (!addr.is_empty()).then_some(addr)
        })
        .await
    }

    /// The cluster's metrics scrape token, as `drover operator
    /// scrape-token` prints it.
    pub async fn scrape_token(&self) -> String {
        let base = format!("http://{}", self.server_addr);
        eventually(30, "the scrape token", || async {
            let answer = get_json(&base, "/v1/operator/scrape-token").await?;
            answer["token"].as_str().map(str::to_string)
        })
        .await
    }

    /// The agent's metrics, scraped with the cluster's scrape token.
    pub async fn scrape_agent(&self) -> Option<String> {
        let token = self.scrape_token().await;
        let agent = self.agent_addr().await;
        scrape_with(&agent, &format!("Authorization: Bearer {token}\r\n")).await
    }

    /// The allocation's shared `alloc/` directory on the host.
    pub fn alloc_dir(&self, alloc: &Allocation) -> std::path::PathBuf {
        self.data
            .path()
            .join("agent/allocs")
            .join(&alloc.metadata.uid)
            .join("alloc")
    }
}

pub fn as_strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

/// A busybox task running `script` under `sh -c`.
pub fn shell_task(name: &str, script: &str) -> Task {
    let mut task = web_job().spec.groups[0].tasks[0].clone();
    task.name = name.into();
    task.env.clear();
    task.config.remove("ports");
    task.config
        .insert("args".into(), serde_json::json!(["-c", script]));
    task
}

/// A one-group service job with these tasks and no network.
pub fn job_of(name: &str, tasks: Vec<Task>) -> Job {
    let mut job = web_job();
    job.metadata.name = name.into();
    let group = &mut job.spec.groups[0];
    group.network = None;
    group.tasks = tasks;
    job
}

/// The body of a 200 from `GET /metrics` at `addr`.
pub async fn scrape(addr: &str) -> Option<String> {
    scrape_with(addr, "").await
}

/// [`scrape`] with extra header lines (each ending in `\r\n`).
pub async fn scrape_with(addr: &str, headers: &str) -> Option<String> {
    let response = http_get_with(addr, "/metrics", headers).await?;
    let ok = response.starts_with("HTTP/1.0 200") || response.starts_with("HTTP/1.1 200");
    let (_, body) = response.split_once("\r\n\r\n")?;
    ok.then(|| body.to_string())
}

/// The status line's code of a `GET path` at `addr`.
pub async fn status_of(addr: &str, path: &str, headers: &str) -> Option<u16> {
    let response = http_get_with(addr, path, headers).await?;
    response.split(' ').nth(1)?.parse().ok()
}

/// The value of the first series of metric `name` (in Prometheus' text
/// format) whose line contains every one of `labels` (`key="value"`).
pub fn metric_value(body: &str, name: &str, labels: &[&str]) -> Option<f64> {
    body.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")))
        .find(|l| labels.iter().all(|want| l.contains(want)))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

/// The CLI's stdout, asserting it succeeded (its output in the failure).
pub fn ok(output: &std::process::Output) -> String {
    assert!(
        output.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The secret of a token as `drover acl bootstrap` or `acl token create`
/// print it.
pub fn secret_of(printed: &str) -> String {
    printed
        .lines()
        .find_map(|l| l.strip_prefix("Secret ID"))
        .and_then(|l| l.split('=').nth(1))
        .map(|s| s.trim().to_string())
        .expect("a secret")
}
