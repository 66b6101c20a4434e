//! `drover logs` end to end: a real server, a real agent with its HTTP API
//! on the default port of its own loopback address, a real etcd, and a
//! task that prints known lines to stdout and stderr.

use std::io::BufRead;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;

use crate::common::*;
use drover_api_types::{Job, Node};
use drover_test_support::wait::eventually;
use drover_test_support::TestEtcd;

// Not shared with another test: the API takes the fixed default port.
const ADDRESS: &str = "127.0.0.20";

/// Prints three lines to stdout, then (a second later, so they are last in
/// Docker's log) two to stderr, then one more stdout line each time
/// `/alloc/go` appears (the test creates it with docker exec).
fn talker_job() -> Job {
    let mut job = web_job();
    job.metadata.name = "talker".into();
    let group = &mut job.spec.groups[0];
    group.network = None;
    let task = &mut group.tasks[0];
    task.name = "talk".into();
    task.config.remove("ports");
    task.config.insert(
        "args".into(),
        serde_json::json!([
            "-c",
            "echo out-1; echo out-2; echo out-3; sleep 1; echo err-1 >&2; echo err-2 >&2; \
             while true; do if [ -f /alloc/go ]; then rm /alloc/go; echo late-line; fi; sleep 1; done"
        ]),
    );
    job
}

fn logs_command(etcd: &TestEtcd, args: &[&str]) -> Command {
    let mut cmd = Command::new(DROVER);
    cmd.arg("logs")
        .args(args)
        .arg(format!("--etcd={}", etcd.endpoints.join(",")))
        .arg(format!("--etcd-prefix={}", etcd.prefix))
        .stdin(Stdio::null());
    cmd
}

async fn logs(etcd: &TestEtcd, args: &[&str]) -> Output {
    let mut cmd = logs_command(etcd, args);
    tokio::task::spawn_blocking(move || cmd.output().expect("run drover logs"))
        .await
        .expect("join")
}

/// Collects what the reader thread sent until `want` is among the lines.
async fn wait_for_line(rx: &mpsc::Receiver<String>, seen: &mut Vec<String>, want: &str) {
    eventually(20, want, || {
        seen.extend(rx.try_iter());
        let found = seen.iter().any(|l| l == want);
        async move { found.then_some(()) }
    })
    .await;
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_streams_a_tasks_stdout_stderr_tail_and_follow() {
    drover_test_support::docker::busybox_image(IMAGE).expect("test image");
    let etcd = TestEtcd::shared_or_spawn().await.expect("etcd");
    let store = connect(etcd.endpoints.clone(), &etcd.prefix).await;
    let data = tempfile::tempdir().expect("tempdir");
    let data_dir = data.path().join("agent");
    let data_arg = format!("--data-dir={}", data_dir.display());
    let _server = drover(&etcd, &["server", "--http-addr=127.0.0.1:0"]);
    let address_arg = format!("--address={ADDRESS}");
    let mut agent = drover(&etcd, &["agent", &address_arg, data_arg.as_str()]);
    let _cleanup = cleanup_when_registered(&data_dir).await;

    store
        .put_at(&store.keys().job("default", "talker"), &talker_job())
        .await
        .expect("put job");
    let (alloc, binding) = running_alloc(&store).await;
    let id = alloc.metadata.uid.clone();
    let prefix = &id[..8];

    // Without --http-addr the API is on the node's address, port 4647.
    let node: Node = store
        .get_at(&store.keys().node(&binding.node_id))
        .await
        .expect("read node")
        .expect("node");
    let http_addr = format!("{ADDRESS}:4647");
    assert_eq!(node.spec.http_addr, http_addr);

    // stdout only, by id prefix; the task has printed everything once the
    // third line is there.
    let out = eventually(20, "the task's three stdout lines", || async {
        let out = logs(&etcd, &[prefix]).await;
        (out.status.success() && text(&out.stdout).contains("out-3")).then_some(out)
    })
    .await;
    assert_eq!(text(&out.stdout), "out-1\nout-2\nout-3\n");

    // --stderr writes the task's stderr to stderr, nothing to stdout; the
    // allocation can be named too.
    let out = eventually(20, "the task's two stderr lines", || async {
        let out = logs(&etcd, &["talker.front[0]", "talk", "--stderr"]).await;
        (out.status.success() && text(&out.stderr).contains("err-2")).then_some(out)
    })
    .await;
    assert_eq!(text(&out.stderr), "err-1\nerr-2\n");
    assert_eq!(text(&out.stdout), "");

    // Docker counts its tail over both streams: the last two stdout lines
    // are further back than the last two lines of the log.
    let out = logs(&etcd, &[&id, "--tail", "2"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "out-2\nout-3\n");
    let out = logs(&etcd, &[&id, "--tail=1", "--stderr"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stderr), "err-2\n");

    // Bad paths: the CLI's own checks, and the agent's JSON errors.
    let out = logs(&etcd, &["00000000-nope"]).await;
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("no allocation with id, id prefix or name \"00000000-nope\""),
        "{}",
        text(&out.stderr)
    );
    let out = logs(&etcd, &[prefix, "nosuch"]).await;
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("has no task \"nosuch\"; its tasks: talk"),
        "{}",
        text(&out.stderr)
    );
    let health = http_get(&http_addr, "/v1/agent/health")
        .await
        .expect("health");
    assert!(
        health.starts_with("HTTP/1.0 200") && health.ends_with(r#"{"ok":true}"#),
        "{health}"
    );
    // The agent gives logs only to whoever holds a server-issued token:
    // none, one for another path or node, or a made-up one get a 401.
    let nosuch = format!("/v1/client/logs/{id}/nosuch");
    let bare = http_get(&http_addr, &nosuch).await.expect("401");
    assert!(bare.starts_with("HTTP/1.0 401"), "{bare}");
    assert!(bare.contains("only to drover servers"), "{bare}");
    let key = store
        .agent_api_key()
        .await
        .expect("read the key")
        .expect("a server made the key");
    let now = chrono::Utc::now().timestamp() as u64;
    let bearer = |node: &str, path: &str| {
        format!(
            "Authorization: Bearer {}\r\n",
            drover_serve::agent_token::issue(&key, node, path, now)
        )
    };
    let talk_path = format!("/v1/client/logs/{id}/talk");
    for (token, asked) in [
        (bearer(&binding.node_id, &talk_path), &nosuch),
        (bearer("another-node", &nosuch), &nosuch),
        (
            "Authorization: Bearer v1.99999999999.00\r\n".to_string(),
            &nosuch,
        ),
    ] {
        let refused = http_get_with(&http_addr, asked, &token).await.expect("401");
        assert!(refused.starts_with("HTTP/1.0 401"), "{refused}");
    }
    let missing = http_get_with(&http_addr, &nosuch, &bearer(&binding.node_id, &nosuch))
        .await
        .expect("404");
    assert!(missing.starts_with("HTTP/1.0 404"), "{missing}");
    assert!(
        missing.contains(&format!(
            "no container for task nosuch of allocation {id} on this node"
        )),
        "{missing}"
    );
    let bad = http_get_with(
        &http_addr,
        &format!("{talk_path}?tail=ten"),
        &bearer(&binding.node_id, &talk_path),
    )
    .await
    .expect("400");
    assert!(bad.starts_with("HTTP/1.0 400"), "{bad}");
    assert!(bad.contains("tail must be a number"), "{bad}");

    // -f: the lines so far, then a line printed after the command started.
    let mut follow = Proc(
        logs_command(&etcd, &[prefix, "-f"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start drover logs -f"),
    );
    let stdout = follow.0.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    wait_for_line(&rx, &mut seen, "out-3").await;
    let container = format!("talk-{id}");
    let touched = Command::new("docker")
        .args(["exec", &container, "touch", "/alloc/go"])
        .status()
        .expect("docker exec");
    assert!(touched.success());
    wait_for_line(&rx, &mut seen, "late-line").await;
    assert_eq!(seen, ["out-1", "out-2", "out-3", "late-line"]);

    // A clean agent stop ends follow streams (the server shuts down
    // gracefully), and then the agent is unreachable.
    let stopped = Command::new("kill")
        .args(["-TERM", &agent.0.id().to_string()])
        .status()
        .expect("kill -TERM");
    assert!(stopped.success());
    let status = eventually(20, "drover logs -f to end with the agent", || {
        let done = follow.0.try_wait().expect("try_wait");
        async move { done }
    })
    .await;
    assert!(status.success(), "{status}");
    eventually(20, "the agent to exit", || {
        let done = agent.0.try_wait().expect("try_wait");
        async move { done }
    })
    .await;
    let out = logs(&etcd, &[prefix]).await;
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains(&format!(
            "cannot reach the agent of node {} at {http_addr}",
            binding.node_name
        )),
        "{}",
        text(&out.stderr)
    );
}

/// `drover logs job/NAME ARGS` against the cluster's server.
async fn job_logs(cluster: &Cluster, args: &[&str]) -> Output {
    let mut cmd = Command::new(DROVER);
    cmd.arg("logs")
        .args(args)
        .arg(format!("--addr=http://{}", cluster.server_addr))
        .stdin(Stdio::null());
    tokio::task::spawn_blocking(move || cmd.output().expect("run drover logs"))
        .await
        .expect("join")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jobs_logs_interleave_every_running_allocation_each_line_named() {
    let cluster = Cluster::start("127.0.0.1").await;
    cluster.until_ready().await;
    let mut job = talker_job();
    job.spec.groups[0].count = 2;
    cluster.submit(&job).await;
    // Both allocations' three lines, each named by its allocation.
    let out = eventually(60, "both allocations' output", || async {
        let out = job_logs(&cluster, &["job/talker"]).await;
        let text = text(&out.stdout);
        (out.status.success() && text.matches("/talk: out-3").count() == 2).then_some(text)
    })
    .await;
    let mut names: Vec<&str> = out.lines().filter_map(|l| l.split(' ').nth(1)).collect();
    names.sort();
    names.dedup();
    assert_eq!(
        names,
        ["talker.front[0]/talk:", "talker.front[1]/talk:"],
        "{out}"
    );
    assert_eq!(out.lines().count(), 6, "{out}");
    // --stderr and --tail apply to each allocation (the task writes its
    // stderr a second after its stdout).
    let err = eventually(20, "both allocations' last stderr line", || async {
        let out = job_logs(&cluster, &["job/talker", "--stderr", "--tail=1"]).await;
        let text = text(&out.stderr);
        (out.status.success() && text.matches(": err-2").count() == 2).then_some(text)
    })
    .await;
    assert!(!err.contains("err-1"), "{err}");

    // Following: an allocation that starts later joins the stream.
    let mut follow = Command::new(DROVER)
        .args(["logs", "job/talker", "-f"])
        .arg(format!("--addr=http://{}", cluster.server_addr))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("drover logs -f");
    let stdout = follow.stdout.take().expect("stdout");
    let _follow = Proc(follow);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    eventually(20, "the two allocations' lines", || {
        seen.extend(rx.try_iter());
        let done = seen.iter().filter(|l| l.ends_with(": out-3")).count() == 2;
        async move { done.then_some(()) }
    })
    .await;
    job.spec.groups[0].count = 3;
    cluster.submit(&job).await;
    eventually(60, "the third allocation to join", || {
        seen.extend(rx.try_iter());
        let joined = seen
            .iter()
            .any(|l| l.contains("talker.front[2]/talk: out-1"));
        async move { joined.then_some(()) }
    })
    .await;

    // Bad paths: a job that does not exist; job/ through etcd only.
    let missing = job_logs(&cluster, &["job/nosuch"]).await;
    assert!(!missing.status.success());
    assert!(
        text(&missing.stderr).contains("job \"nosuch\" not found"),
        "{}",
        text(&missing.stderr)
    );
    let direct = logs(&cluster.etcd, &["job/talker"]).await;
    assert!(!direct.status.success());
    assert!(
        text(&direct.stderr).contains("read through a server"),
        "{}",
        text(&direct.stderr)
    );
}
