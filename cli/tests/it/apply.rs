//! `drover apply`, `drover plan` and `drover dev` end to end: a real etcd,
//! a `drover server` child serving the API and a `drover agent --simulate 2`
//! child, driven through the CLI as a user would.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::common::{drover, get_json as get, until_ready, Proc, DROVER};
use drover_test_support::wait::eventually;
use drover_test_support::TestEtcd;

use crate::common;

/// A server (API on a free port) and two simulated nodes.
struct Api {
    addr: String,
    _server: Proc,
    _agent: Proc,
    _etcd: TestEtcd,
}

async fn start() -> Api {
    let etcd = TestEtcd::shared_or_spawn().await.expect("etcd");
    let port = free_port();
    let server = drover(&etcd, &["server", &format!("--http-addr=127.0.0.1:{port}")]);
    let agent = drover(&etcd, &["agent", "--simulate=2", "--name-prefix=apply"]);
    let addr = format!("http://127.0.0.1:{port}");
    until_ready(&addr, 2).await;
    Api {
        addr,
        _server: server,
        _agent: agent,
        _etcd: etcd,
    }
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// Runs the CLI against `addr` (off the runtime: it blocks).
async fn cli(addr: &str, args: &[&str]) -> Output {
    let mut command = Command::new(DROVER);
    command
        .args(args)
        .env("DROVER_ADDR", addr)
        .stdin(Stdio::null());
    tokio::task::spawn_blocking(move || command.output().expect("run drover"))
        .await
        .expect("join")
}

fn text(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn job_file(dir: &Path, name: &str, count: u32, extra: &str) -> String {
    let text = format!(
        r#"job "{name}" {{
  datacenters = ["dc1"]
{extra}
  group "front" {{
    count = {count}
    task "web" {{
      driver = "docker"
      config {{
        image = "nginx:1.25"
      }}
      resources {{
        cpu    = 100
        memory = 64
      }}
    }}
  }}
}}
"#
    );
    let path = dir.join(format!("{name}.nomad"));
    std::fs::write(&path, text).expect("write the job");
    path.display().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_waits_until_running_and_plan_shows_a_count_change() {
    let api = start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = job_file(dir.path(), "web", 2, "");
    let out = cli(&api.addr, &["apply", "-f", &file, "--timeout=60s"]).await;
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("job \"web\" registered (version"),
        "{stdout}"
    );
    assert!(stdout.contains("front: 2/2 running"), "{stdout}");
    assert!(
        stdout.contains("job \"web\" is running as asked"),
        "{stdout}"
    );

    let out = cli(&api.addr, &["apply", "-f", &file, "--timeout=30s"]).await;
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("job \"web\" unchanged"), "{stdout}");

    let out = cli(&api.addr, &["plan", "-f", &file]).await;
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));

    let file = job_file(dir.path(), "web", 3, "");
    let out = cli(&api.addr, &["plan", "-f", &file]).await;
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stdout.contains("~ count: \"2\" => \"3\""), "{stdout}");
    assert!(stdout.contains("Job Modify Index: "), "{stdout}");
    let index = stdout
        .lines()
        .find_map(|l| l.strip_prefix("Job Modify Index: "))
        .expect("the index")
        .to_string();
    let out = cli(
        &api.addr,
        &[
            "apply",
            "-f",
            &file,
            "--check-index",
            &index,
            "--timeout=60s",
        ],
    )
    .await;
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("front: 3/3 running"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_file_registers_nothing() {
    let api = start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    job_file(dir.path(), "good", 1, "");
    std::fs::write(
        dir.path().join("bad.nomad"),
        "job \"bad\" {\n  datacentres = [\"dc1\"]\n}\n",
    )
    .expect("write");
    let dir_arg = dir.path().display().to_string();
    let out = cli(&api.addr, &["apply", "-f", &dir_arg]).await;
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    let bad = dir.path().join("bad.nomad").display().to_string();
    assert!(stderr.contains(&format!("{bad}:2:")), "{stderr}");
    assert!(stderr.contains("nothing was registered"), "{stderr}");
    let jobs = get(&api.addr, "/v1/jobs").await.expect("jobs");
    assert_eq!(jobs, serde_json::json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_check_index_changes_nothing() {
    let api = start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = job_file(dir.path(), "web", 1, "");
    let out = cli(&api.addr, &["apply", "-f", &file, "--detach"]).await;
    assert!(out.status.success(), "{:?}", text(&out));
    let before = get(&api.addr, "/v1/job/web").await.expect("the job");

    let file = job_file(dir.path(), "web", 4, "");
    let out = cli(&api.addr, &["apply", "-f", &file, "--check-index=1"]).await;
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("check-index 1 is stale: the job is at index"),
        "{stderr}"
    );
    let after = get(&api.addr, "/v1/job/web").await.expect("the job");
    assert_eq!(after["spec"], before["spec"]);
    assert_eq!(after["spec"]["groups"][0]["count"], 1);
}

/// A periodic or parameterized parent runs nothing of its own: apply
/// returns at once (as `nomad job run` does) and says how children come.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn applying_a_periodic_or_parameterized_parent_returns_at_once() {
    let api = start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let periodic = job_file(
        dir.path(),
        "nightly",
        1,
        "  type = \"batch\"\n  periodic {\n    crons = [\"0 3 * * *\"]\n  }",
    );
    let dispatched = job_file(
        dir.path(),
        "render",
        1,
        "  type = \"batch\"\n  parameterized {\n    payload = \"optional\"\n  }",
    );
    let started = Instant::now();
    let out = cli(
        &api.addr,
        &["apply", "-f", &periodic, "-f", &dispatched, "--timeout=60s"],
    )
    .await;
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "apply followed a parent: {:?}",
        started.elapsed()
    );
    assert!(stdout.contains("drover periodic force nightly"), "{stdout}");
    assert!(stdout.contains("drover dispatch render"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_no_node_can_take_fails_with_the_reason() {
    let api = start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let constraint = r#"  constraint {
    attribute = "${attr.kernel.name}"
    value     = "windows"
  }"#;
    let file = job_file(dir.path(), "win", 1, constraint);
    let out = cli(&api.addr, &["apply", "-f", &file, "--timeout=60s"]).await;
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stderr.contains("job \"win\" failed"), "{stderr}");
    assert!(stderr.contains("1 allocation not placed"), "{stderr}");
    assert!(stderr.contains("windows"), "{stderr}");
}

/// `drover dev` as `make dev` runs it — a relative `--data-dir`, from the
/// directory it names — starts etcd, a server and an agent on the local
/// Docker; a batch job applied with the global `--addr` before the
/// subcommand runs its container to completion; SIGINT stops every child.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_runs_a_container_from_a_relative_data_dir_and_stops_cleanly_on_sigint() {
    drover_test_support::docker::busybox_image(common::IMAGE).expect("test image");
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let addr = format!("http://127.0.0.1:{port}");
    let child = Command::new(DROVER)
        .current_dir(dir.path())
        .args(["dev", "--log-level=warn", "--data-dir=./drover-data"])
        .arg(format!("--http-addr=127.0.0.1:{port}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start drover dev");
    let mut dev = Proc(child);
    eventually(60, "the dev server answering", || async {
        get(&addr, "/v1/status/leader").await.map(|_| ())
    })
    .await;
    until_ready(&addr, 1).await;
    let data = dir.path().join("drover-data");
    let _containers = common::cleanup_when_registered(&data.join("agent")).await;
    let job = dir.path().join("hello.nomad");
    std::fs::write(&job, HELLO_BATCH_JOB).expect("write the job file");
    let job = job.display().to_string();
    let out = tokio::task::spawn_blocking({
        let addr = addr.clone();
        move || {
            Command::new(DROVER)
                .args(["--addr", &addr, "apply", "-f", &job, "--timeout=90s"])
                .env_remove("DROVER_ADDR")
                .stdin(Stdio::null())
                .output()
                .expect("run drover apply")
        }
    })
    .await
    .expect("join");
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("1/1 complete"), "{stdout}");
    let pid = dev.0.id().to_string();
    let children = eventually(30, "etcd, the server and the agent", || async {
        let found = descendants(&pid);
        (found.len() >= 3).then_some(found)
    })
    .await;

    let sent = Command::new("kill").args(["-INT", &pid]).status();
    assert!(sent.expect("kill").success());
    let started = Instant::now();
    let status = loop {
        if let Some(status) = dev.0.try_wait().expect("wait") {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "drover dev did not stop"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(status.success(), "{status}");
    for child in &children {
        assert!(
            !Path::new(&format!("/proc/{child}")).exists() || is_zombie(child),
            "child {child} still runs"
        );
    }
    assert!(data.join("etcd/member-data").is_dir());
}

/// A real-world batch job: one container that writes to its shared
/// `alloc/` directory (a bind mount under the agent's data dir).
const HELLO_BATCH_JOB: &str = r#"job "hello" {
  datacenters = ["dc1"]
  type        = "batch"

  group "once" {
    task "say" {
      driver = "docker"
      config {
        image   = "drover-test/busybox:agent"
        command = "sh"
        args    = ["-c", "echo hello > /alloc/hello.txt"]
      }
      resources {
        cpu    = 50
        memory = 32
      }
    }
  }
}
"#;

/// Process ids whose parent is `pid` (from /proc).
fn descendants(pid: &str) -> Vec<String> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return found;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.chars().all(|c| c.is_ascii_digit()) {
            continue;
        }
        let stat = std::fs::read_to_string(format!("/proc/{name}/stat")).unwrap_or_default();
        // The parent id is the second field after the parenthesised name.
        let after = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
        if after.split_whitespace().nth(1) == Some(pid) {
            found.push(name);
        }
    }
    found
}

fn is_zombie(pid: &str) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
    after.split_whitespace().next() == Some("Z")
}
