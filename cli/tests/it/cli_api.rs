//! The user commands end to end: a real etcd, a `drover server` serving
//! the API, three simulated nodes (`drover agent --simulate 3`), and the
//! `drover` binary run as a user would run it — get, describe, node
//! eligibility, delete — checking what it prints and its exit codes.

use std::net::TcpListener;
use std::process::{Child, Command, Output, Stdio};

use drover_api_types::jobspec::{load_str, ParseOptions};
use drover_test_support::wait::eventually;
use drover_test_support::TestEtcd;

const DROVER: &str = env!("CARGO_BIN_EXE_drover");

const JOB: &str = r#"
job "web" {
  datacenters = ["dc1"]
  group "front" {
    count = 2
    network {
      port "http" { to = 80 }
    }
    task "server" {
      driver = "docker"
      config {
        image = "nginx:1.25-alpine"
        ports = ["http"]
      }
      service {
        name = "web-front"
        port = "http"
        tags = ["http", "v1"]
      }
      resources {
        cpu    = 100
        memory = 64
      }
    }
  }
}
"#;

/// A child process killed (SIGKILL) on drop.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(etcd: &TestEtcd, args: &[&str]) -> Proc {
    let child = Command::new(DROVER)
        .args(args)
        .arg(format!("--etcd={}", etcd.endpoints.join(",")))
        .arg(format!("--etcd-prefix={}", etcd.prefix))
        .arg("--log-level=warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start drover");
    Proc(child)
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// `drover ARGS --addr ADDR`, with no terminal (so no colour, no prompt).
fn cli(addr: &str, args: &[&str]) -> Output {
    Command::new(DROVER)
        .args(args)
        .env("DROVER_ADDR", addr)
        .env_remove("DROVER_NAMESPACE")
        .stdin(Stdio::null())
        .output()
        .expect("run drover")
}

/// Runs `args`, expecting success; its stdout.
fn ok(addr: &str, args: &[&str]) -> String {
    let out = cli(addr, args);
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "drover {args:?} failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Runs `args`, expecting failure; its stderr.
fn fails(addr: &str, args: &[&str]) -> String {
    let out = cli(addr, args);
    assert!(!out.status.success(), "drover {args:?} succeeded");
    String::from_utf8_lossy(&out.stderr).to_string()
}

async fn ok_async(addr: String, args: &[&str]) -> String {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = cli(&addr, &refs);
        String::from_utf8_lossy(&out.stdout).to_string()
    })
    .await
    .expect("join")
}

/// A server on a free port and `drover agent --simulate 3`; the API's
/// address, and the processes (killed when dropped).
async fn server_and_three_simulated_nodes() -> (String, [Proc; 2]) {
    let etcd = TestEtcd::shared_or_spawn().await.expect("etcd");
    let port = free_port();
    let server = spawn(
        &etcd,
        &[
            "server",
            &format!("--http-addr=127.0.0.1:{port}"),
            "--dns-addr=127.0.0.1:0",
            "--election-ttl=2s",
        ],
    );
    let agent = spawn(&etcd, &["agent", "--simulate", "3"]);
    (format!("http://127.0.0.1:{port}"), [server, agent])
}

#[tokio::test(flavor = "multi_thread")]
async fn get_describe_node_and_delete_through_the_api() {
    let (addr, _procs) = server_and_three_simulated_nodes().await;

    // The three nodes show up ready.
    let nodes = eventually(30, "three ready nodes", || {
        let addr = addr.clone();
        async move {
            let out = ok_async(addr, &["get", "nodes"]).await;
            (out.matches(" ready ").count() == 3).then_some(out)
        }
    })
    .await;
    let header = nodes.lines().next().expect("header");
    assert!(
        header.starts_with("ID") && header.contains("ELIGIBILITY") && header.ends_with("AGE"),
        "{nodes}"
    );

    // Register through the API, as `drover apply` will.
    let job = load_str("web.nomad.hcl", JOB, &ParseOptions::default())
        .expect("valid job")
        .jobs
        .remove(0);
    let response = reqwest::Client::new()
        .post(format!("{addr}/v1/jobs"))
        .json(&serde_json::json!({ "job": job }))
        .send()
        .await
        .expect("register");
    assert!(response.status().is_success(), "{response:?}");

    let allocs = eventually(30, "two running allocations", || {
        let addr = addr.clone();
        async move {
            let out = ok_async(addr, &["get", "allocs"]).await;
            (out.matches(" running ").count() == 2).then_some(out)
        }
    })
    .await;
    assert!(
        allocs.contains("web.front[0]") && allocs.contains("web.front[1]"),
        "{allocs}"
    );
    let short = allocs.lines().nth(1).expect("a row")[..8].to_string();
    assert!(
        short.chars().all(|c| c.is_ascii_hexdigit() || c == '-'),
        "{allocs}"
    );

    let jobs = ok(&addr, &["get", "jobs"]);
    assert!(jobs.starts_with("NAME"), "{jobs}");
    let row = jobs
        .lines()
        .find(|l| l.starts_with("web "))
        .expect("web row");
    assert!(row.contains("service") && row.contains("2/2"), "{jobs}");

    let json: serde_json::Value =
        serde_json::from_str(&ok(&addr, &["get", "jobs", "-o", "json"])).expect("json");
    let list = json.as_array().expect("an array");
    assert_eq!(list[0]["metadata"]["name"], "web");
    let yaml = ok(&addr, &["get", "job", "web", "-o", "yaml"]);
    assert!(yaml.contains("name: web"), "{yaml}");
    assert!(!yaml.contains('\x1b'));

    // The service catalog: both instances registered and passing (the
    // simulated nodes run no checks), each with its address.
    let services = eventually(30, "web-front with two passing instances", || {
        let addr = addr.clone();
        async move {
            let out = ok_async(addr, &["get", "services"]).await;
            out.lines()
                .any(|l| l.starts_with("web-front") && l.contains(" 2/2 "))
                .then_some(out)
        }
    })
    .await;
    assert!(services.starts_with("NAME"), "{services}");
    assert!(services.contains("http,v1"), "{services}");
    let instances = ok(&addr, &["get", "svc", "web-front", "-o", "wide"]);
    assert!(instances.starts_with("ALLOC"), "{instances}");
    assert_eq!(
        instances.matches(" passing ").count(),
        2,
        "two passing instances:\n{instances}"
    );
    assert!(
        instances.contains("Serf Health Status=passing"),
        "{instances}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&ok(&addr, &["get", "svc", "web-front", "-o", "json"])).expect("json");
    let rows = json.as_array().expect("instances are an array");
    assert_eq!(rows.len(), 2);
    assert!(rows
        .iter()
        .all(|r| r["port"].as_u64().is_some_and(|p| p >= 20000)));
    assert!(ok(&addr, &["get", "svc", "nothing-here"]).is_empty());

    // The job's version rolls out under a deployment, listed as such.
    let deployments = eventually(30, "the job's deployment", || {
        let addr = addr.clone();
        async move {
            let out = ok_async(addr, &["get", "deployments"]).await;
            out.contains("web").then_some(out)
        }
    })
    .await;
    assert!(deployments.contains("ID"), "{deployments}");
    let described = ok(&addr, &["describe", "job", "web"]);
    for want in [
        "ID",
        "= web",
        "Task Group",
        "Running",
        "Allocations",
        "front",
    ] {
        assert!(described.contains(want), "no {want:?} in\n{described}");
    }

    // A short id is enough for an allocation.
    let alloc = ok(&addr, &["describe", "alloc", &short]);
    for want in ["Client Status", "running", "Task \"server\"", "100 MHz"] {
        assert!(alloc.contains(want), "no {want:?} in\n{alloc}");
    }

    let node_name = nodes
        .lines()
        .nth(1)
        .expect("node row")
        .split_whitespace()
        .nth(1)
        .expect("name");
    let node = ok(&addr, &["describe", "node", node_name]);
    for want in [
        "Eligibility",
        "eligible",
        "Allocated Resources",
        "Attributes",
    ] {
        assert!(node.contains(want), "no {want:?} in\n{node}");
    }

    let changed = ok(&addr, &["node", "eligibility", node_name, "--disable"]);
    assert!(changed.contains("ineligible"), "{changed}");
    let listed = ok(&addr, &["get", "node", node_name]);
    assert!(listed.contains("ineligible"), "{listed}");
    ok(&addr, &["node", "eligibility", node_name, "--enable"]);

    // Mistakes are told plainly, with a non-zero exit.
    let e = fails(&addr, &["describe", "job", "nope"]);
    assert!(e.contains("not found") && e.contains("nope"), "{e}");
    let e = fails(&addr, &["get", "alloc", "zzzzzz"]);
    assert!(e.contains("zzzzzz"), "{e}");
    let e = fails(&addr, &["get", "deployment", "zzzzzz"]);
    assert!(e.contains("zzzzzz"), "{e}");
    // Logs go through the server, which names why it cannot proxy them
    // (simulated nodes run no agent API).
    let e = fails(&addr, &["logs", &short, "server"]);
    assert!(!e.contains("etcd"), "{e}");
    assert!(e.contains("HTTP address") || e.contains("node"), "{e}");
    let e = fails("http://127.0.0.1:1", &["get", "jobs"]);
    assert!(e.contains("cannot reach the drover server"), "{e}");

    let deleted = ok(&addr, &["delete", "job", "web", "--purge"]);
    assert!(
        deleted.contains("job \"web\"") && deleted.contains("purged"),
        "{deleted}"
    );
    eventually(30, "the job purged", || {
        let addr = addr.clone();
        async move {
            let out = ok_async(addr, &["get", "jobs", "-o", "json"]).await;
            (out.trim() == "[]").then_some(())
        }
    })
    .await;
}

/// A job of three 64 MB allocations in namespace `web`.
const WEB_TEAM_JOB: &str = r#"
job "shop" {
  namespace   = "web"
  datacenters = ["dc1"]
  group "front" {
    count = 3
    task "server" {
      driver = "docker"
      config {
        image = "nginx:1.25-alpine"
      }
      resources {
        cpu    = 100
        memory = 64
      }
    }
  }
}
"#;

/// The allocations of `web` the CLI lists as running.
async fn running_in_web(addr: &str) -> usize {
    ok_async(addr.to_string(), &["get", "allocs", "--namespace", "web"])
        .await
        .matches(" running ")
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_namespace_quota_holds_placement_back_and_every_command_says_why() {
    let (addr, _procs) = server_and_three_simulated_nodes().await;
    eventually(30, "three ready nodes", || {
        let addr = addr.clone();
        async move {
            let out = ok_async(addr, &["get", "nodes"]).await;
            (out.matches(" ready ").count() == 3).then_some(())
        }
    })
    .await;

    let e = fails(&addr, &["namespace", "apply", "web", "--quota", "disk=10"]);
    assert!(e.contains("unknown limit \"disk\""), "{e}");
    ok(
        &addr,
        &[
            "namespace",
            "apply",
            "web",
            "--description",
            "the web team",
            "--quota",
            "allocs=2,memory=1024",
        ],
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("shop.nomad.hcl");
    std::fs::write(&file, WEB_TEAM_JOB).expect("write the job");
    let file = file.to_str().expect("a UTF-8 path");
    let held_back = "quota web exhausted: allocations 2/2 used, 1 asked";

    // The plan says so before anything is written.
    let planned = cli(&addr, &["plan", "-f", file]);
    let page = String::from_utf8_lossy(&planned.stdout);
    assert_eq!(planned.status.code(), Some(1), "{page}");
    assert!(page.contains(held_back), "{page}");

    // Applying places two, fails on the third and says why.
    let e = fails(&addr, &["apply", "-f", file]);
    assert!(
        e.contains(&format!("front: 1 allocation not placed: {held_back}")),
        "{e}"
    );
    eventually(30, "two running in web", || {
        let addr = addr.clone();
        async move { (running_in_web(&addr).await == 2).then_some(()) }
    })
    .await;
    let job = ok(&addr, &["describe", "job", "shop", "--namespace", "web"]);
    assert!(
        job.contains("Quota web exhausted: allocations 2/2 used, 1 asked"),
        "{job}"
    );
    let namespace = ok(&addr, &["namespace", "describe", "web"]);
    for want in [
        "allocations 2/2",
        "memory 128/1024 MB",
        "cpu 200 MHz (no limit)",
    ] {
        assert!(namespace.contains(want), "no {want:?} in\n{namespace}");
    }
    // Nothing beyond the quota: a resync later, still two bound.
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let allocs = ok(&addr, &["get", "allocs", "--namespace", "web"]);
    assert_eq!(allocs.matches(" running ").count(), 2, "{allocs}");
    assert_eq!(allocs.matches(" pending ").count(), 1, "{allocs}");

    // Raising the quota places the third at once; what was not given
    // (the description) is kept.
    ok(&addr, &["namespace", "apply", "web", "--quota", "allocs=3"]);
    eventually(30, "three running in web", || {
        let addr = addr.clone();
        async move { (running_in_web(&addr).await == 3).then_some(()) }
    })
    .await;
    let namespace = ok(&addr, &["namespace", "describe", "web"]);
    for want in [
        "the web team",
        "allocations 3/3",
        "memory 192 MB (no limit)",
    ] {
        assert!(namespace.contains(want), "no {want:?} in\n{namespace}");
    }
    let listed = ok(&addr, &["namespace", "list"]);
    assert!(listed.contains("allocs=3"), "{listed}");
    let job = ok(&addr, &["describe", "job", "shop", "--namespace", "web"]);
    assert!(!job.contains("Quota web"), "{job}");
}
