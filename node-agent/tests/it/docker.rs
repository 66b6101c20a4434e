//! The Docker driver against the real daemon, with a busybox image made
//! locally (no registry is reachable). Every test labels its containers with
//! its own node id and removes them all when it ends, even on failure.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::time::Duration;

use drover_node_agent::driver::docker::{Docker, DriverError, LogOptions, LogStream, StopOutcome};
use drover_node_agent::driver::{labels, ContainerSpec, Mount, PortPublish};
use futures::TryStreamExt;
use tokio::time::Instant;

const IMAGE: &str = "drover-test/busybox:1";
const MIB: i64 = 1 << 20;

/// One test's containers: a unique node id for their labels, removed on drop.
struct Fixture {
    docker: Docker,
    node_id: String,
}

impl Fixture {
    fn new() -> Self {
        drover_test_support::busybox_image(IMAGE).expect("busybox test image");
        Self {
            docker: Docker::new().expect("docker client"),
            node_id: format!("test-{}", uuid::Uuid::new_v4()),
        }
    }

    /// A spec for `task` running `cmd` in the busybox image, labelled as
    /// this test's.
    fn spec(&self, task: &str, cmd: &[&str]) -> ContainerSpec {
        let alloc_id = uuid::Uuid::new_v4().to_string();
        ContainerSpec {
            name: format!("{task}-{alloc_id}"),
            image: IMAGE.into(),
            cmd: Some(cmd.iter().map(|s| s.to_string()).collect()),
            labels: BTreeMap::from([
                (labels::ALLOC_ID.to_string(), alloc_id),
                (labels::NODE_ID.to_string(), self.node_id.clone()),
                (labels::TASK.to_string(), task.to_string()),
                (labels::SPEC_HASH.to_string(), "h1".to_string()),
            ]),
            ..Default::default()
        }
    }

    async fn run(&self, spec: &ContainerSpec) -> String {
        let id = self.docker.create(spec).await.expect("create");
        self.docker.start(&id).await.expect("start");
        id
    }

    /// Waits until the container has exited.
    async fn wait_exit(&self, id: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.docker.inspect(id).await.expect("inspect").running {
            assert!(Instant::now() < deadline, "{id} did not exit");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the container's stdout contains `text`.
    async fn wait_output(&self, id: &str, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let out = stdout_of(&self.docker, id).await;
            if out.contains(text) {
                return out;
            }
            assert!(
                Instant::now() < deadline,
                "{id} never printed {text:?}: {out:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let filter = format!("label={}={}", labels::NODE_ID, self.node_id);
        let Ok(out) = Command::new("docker")
            .args(["ps", "-aq", "--filter", &filter])
            .output()
        else {
            return;
        };
        let ids: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .map(str::to_string)
            .collect();
        if !ids.is_empty() {
            let _ = Command::new("docker")
                .args(["rm", "-f", "-v"])
                .args(&ids)
                .output();
        }
    }
}

async fn stdout_of(docker: &Docker, id: &str) -> String {
    split_logs(docker, id, &LogOptions::default()).await.0
}

/// The container's (stdout, stderr) so far.
async fn split_logs(docker: &Docker, id: &str, opts: &LogOptions) -> (String, String) {
    let chunks: Vec<_> = docker
        .logs(id, opts)
        .await
        .expect("logs")
        .try_collect()
        .await
        .expect("log stream");
    let text = |stream| {
        chunks
            .iter()
            .filter(|c| c.stream == stream)
            .map(|c| String::from_utf8_lossy(&c.bytes).into_owned())
            .collect::<String>()
    };
    (text(LogStream::Stdout), text(LogStream::Stderr))
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// `GET /` over a plain TCP stream, retried until the server answers.
async fn http_get(port: u16) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let attempt = tokio::task::spawn_blocking(move || -> std::io::Result<String> {
            let mut s = TcpStream::connect(("127.0.0.1", port))?;
            s.set_read_timeout(Some(Duration::from_secs(5)))?;
            s.write_all(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")?;
            let mut body = String::new();
            s.read_to_string(&mut body)?;
            Ok(body)
        })
        .await
        .expect("join");
        match attempt {
            Ok(body) if body.starts_with("HTTP/") => return body,
            other => {
                assert!(
                    Instant::now() < deadline,
                    "no HTTP answer on {port}: {other:?}"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

#[test]
fn the_busybox_image_is_made_once_even_from_several_threads() {
    let threads: Vec<_> = (0..4)
        .map(|_| std::thread::spawn(|| drover_test_support::busybox_image(IMAGE)))
        .collect();
    for t in threads {
        t.join().expect("thread").expect("busybox image");
    }
    assert!(drover_test_support::docker::image_exists(IMAGE).expect("docker CLI"));
}

#[tokio::test]
async fn health_reports_the_daemon_or_why_it_is_unreachable() {
    let f = Fixture::new();
    let h = f.docker.health().await;
    assert!(h.healthy, "{h:?}");
    assert!(h.version.is_some(), "{h:?}");
    assert!(h.description.starts_with("Docker "), "{h:?}");

    let down = Docker::with_host("unix:///nonexistent/docker.sock").expect("client");
    let h = down.health().await;
    assert!(!h.healthy);
    assert!(h.description.contains("/nonexistent/docker.sock"), "{h:?}");
}

#[tokio::test]
async fn a_container_gets_every_spec_field() {
    let f = Fixture::new();
    let www = tempfile::tempdir().expect("tempdir");
    std::fs::write(www.path().join("index.html"), "hello from drover\n").expect("write");
    let out = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let mut spec = f.spec(
        "web",
        &[
            "sh",
            "-c",
            "echo \"$FOO\" > /out/env; pwd > /out/pwd; hostname > /out/hostname; \
             touch /www/x 2>/dev/null || echo read-only > /out/ro; \
             exec httpd -f -p 8080 -h /www",
        ],
    );
    spec.env = BTreeMap::from([("FOO".to_string(), "bar baz".to_string())]);
    spec.ports = vec![PortPublish {
        host_ip: "127.0.0.1".into(),
        host_port: port,
        container_port: 8080,
        protocol: "tcp".into(),
    }];
    spec.mounts = vec![
        Mount {
            source: www.path().display().to_string(),
            target: "/www".into(),
            read_only: true,
            options: Vec::new(),
        },
        Mount {
            source: out.path().display().to_string(),
            target: "/out".into(),
            read_only: false,
            options: Vec::new(),
        },
    ];
    spec.memory_limit = Some(64 * MIB);
    spec.memory_reservation = Some(32 * MIB);
    spec.cpu_shares = Some(256);
    spec.hostname = Some("drover-web".into());
    spec.working_dir = Some("/tmp".into());
    spec.stop_signal = Some("SIGINT".into());
    let id = f.run(&spec).await;

    let answer = http_get(port).await;
    assert!(
        answer.starts_with("HTTP/1.") && answer.contains(" 200 "),
        "{answer}"
    );
    assert!(answer.contains("hello from drover"), "{answer}");

    let o = f.docker.inspect(&id).await.expect("inspect");
    assert!(o.running);
    assert_eq!(o.name, spec.name);
    assert_eq!(o.labels, spec.labels);
    assert_eq!(o.exit_code, None);
    assert!(o.started_at.is_some());

    let raw = f.docker.inspect_raw(&id).await.expect("inspect");
    let hc = raw.host_config.expect("host config");
    assert_eq!(hc.memory, Some(64 * MIB));
    assert_eq!(hc.memory_reservation, Some(32 * MIB));
    assert_eq!(hc.cpu_shares, Some(256));
    let config = raw.config.expect("config");
    assert_eq!(config.stop_signal.as_deref(), Some("SIGINT"));

    let read = |name: &str| std::fs::read_to_string(out.path().join(name)).unwrap_or_default();
    assert_eq!(read("env"), "bar baz\n");
    assert_eq!(read("pwd"), "/tmp\n");
    assert_eq!(read("hostname"), "drover-web\n");
    assert_eq!(read("ro"), "read-only\n");

    let listed = f
        .docker
        .list((labels::NODE_ID, &f.node_id))
        .await
        .expect("list");
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0].id, id);
    assert!(listed[0].running);

    f.docker.remove(&id).await.expect("remove");
    assert!(matches!(
        f.docker.inspect(&id).await,
        Err(DriverError::NotFound { .. })
    ));
    let listed = f.docker.list((labels::NODE_ID, &f.node_id)).await;
    assert!(listed.expect("list").is_empty());
    f.docker.remove(&id).await.expect("removing twice is fine");
}

#[tokio::test]
async fn stop_kills_a_task_that_ignores_the_stop_signal() {
    let f = Fixture::new();
    let spec = f.spec(
        "stubborn",
        &["sh", "-c", "trap '' TERM; echo ready; sleep 1000"],
    );
    let id = f.run(&spec).await;
    f.wait_output(&id, "ready").await;

    let started = Instant::now();
    let outcome = f
        .docker
        .stop(&id, Some("SIGTERM"), Duration::from_secs(1))
        .await
        .expect("stop");
    let took = started.elapsed();
    assert_eq!(outcome, StopOutcome::Killed);
    assert!(took >= Duration::from_secs(1), "{took:?}");
    assert!(took < Duration::from_secs(10), "{took:?}");
    let o = f.docker.inspect(&id).await.expect("inspect");
    assert!(!o.running);
    assert_eq!(o.exit_code, Some(137), "{o:?}");

    let again = f.docker.stop(&id, None, Duration::from_secs(1)).await;
    assert_eq!(again.expect("stop again"), StopOutcome::NotRunning);
}

#[tokio::test]
async fn stop_sends_the_tasks_own_signal() {
    let f = Fixture::new();
    let spec = f.spec(
        "polite",
        &[
            "sh",
            "-c",
            "trap 'echo got-usr1; exit 7' USR1; echo ready; while true; do sleep 0.1; done",
        ],
    );
    let id = f.run(&spec).await;
    f.wait_output(&id, "ready").await;

    let outcome = f
        .docker
        .stop(&id, Some("SIGUSR1"), Duration::from_secs(10))
        .await
        .expect("stop");
    assert_eq!(outcome, StopOutcome::Exited);
    let o = f.docker.inspect(&id).await.expect("inspect");
    assert_eq!(o.exit_code, Some(7), "{o:?}");
    assert!(stdout_of(&f.docker, &id).await.contains("got-usr1"));
}

#[tokio::test]
async fn stop_without_a_signal_uses_the_containers_stop_signal() {
    let f = Fixture::new();
    let mut spec = f.spec(
        "interruptible",
        &[
            "sh",
            "-c",
            "trap 'exit 5' INT; echo ready; while true; do sleep 0.1; done",
        ],
    );
    spec.stop_signal = Some("SIGINT".into());
    let id = f.run(&spec).await;
    f.wait_output(&id, "ready").await;

    let outcome = f
        .docker
        .stop(&id, None, Duration::from_secs(10))
        .await
        .expect("stop");
    assert_eq!(outcome, StopOutcome::Exited);
    assert_eq!(
        f.docker.inspect(&id).await.expect("inspect").exit_code,
        Some(5)
    );
}

#[tokio::test]
async fn exit_codes_times_and_logs_are_reported() {
    let f = Fixture::new();
    let spec = f.spec(
        "batch",
        &[
            "sh",
            "-c",
            "echo out; echo err >&2; sleep 0.2; echo last; exit 3",
        ],
    );
    let id = f.run(&spec).await;
    f.wait_exit(&id).await;

    let o = f.docker.inspect(&id).await.expect("inspect");
    assert!(!o.running);
    assert_eq!(o.exit_code, Some(3));
    assert!(!o.oom_killed);
    let (started, finished) = (
        o.started_at.expect("started"),
        o.finished_at.expect("finished"),
    );
    assert!(finished >= started, "{o:?}");

    // The log copier may lag the exit by a moment.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (stdout, stderr) = split_logs(&f.docker, &id, &LogOptions::default()).await;
        if (stdout.as_str(), stderr.as_str()) == ("out\nlast\n", "err\n") {
            break;
        }
        assert!(Instant::now() < deadline, "logs: {stdout:?} / {stderr:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let last_line = LogOptions {
        tail: Some(1),
        ..LogOptions::default()
    };
    let logs = split_logs(&f.docker, &id, &last_line).await;
    assert_eq!((logs.0.as_str(), logs.1.as_str()), ("last\n", ""));
    let stderr_only = LogOptions {
        stdout: false,
        ..LogOptions::default()
    };
    let logs = split_logs(&f.docker, &id, &stderr_only).await;
    assert_eq!((logs.0.as_str(), logs.1.as_str()), ("", "err\n"));
}

#[tokio::test]
async fn a_followed_log_ends_when_the_container_stops() {
    let f = Fixture::new();
    let spec = f.spec(
        "ticker",
        &["sh", "-c", "for i in 1 2 3; do echo $i; sleep 0.2; done"],
    );
    let id = f.run(&spec).await;
    let follow = LogOptions {
        follow: true,
        ..LogOptions::default()
    };
    let stream = f.docker.logs(&id, &follow).await.expect("logs");
    let chunks: Vec<_> = tokio::time::timeout(Duration::from_secs(20), stream.try_collect())
        .await
        .expect("the stream ends")
        .expect("log stream");
    let text: String = chunks
        .iter()
        .map(|c| String::from_utf8_lossy(&c.bytes).into_owned())
        .collect();
    assert_eq!(text, "1\n2\n3\n");
}

#[tokio::test]
async fn a_missing_image_gives_a_clear_error() {
    let f = Fixture::new();
    let image = format!("drover-test/missing-{}:0", uuid::Uuid::new_v4().simple());
    assert!(!f.docker.image_present(&image).await.expect("inspect image"));
    assert!(f.docker.image_present(IMAGE).await.expect("inspect image"));

    let mut progress = Vec::new();
    let err = f
        .docker
        .pull(&image, false, |line| progress.push(line))
        .await
        .expect_err("no registry here");
    assert!(
        matches!(&err, DriverError::ImageUnavailable { image: i, .. } if *i == image),
        "{err:?}"
    );
    assert!(err.to_string().contains(&image), "{err}");

    let mut spec = f.spec("ghost", &["true"]);
    spec.image = image.clone();
    let err = f.docker.create(&spec).await.expect_err("no such image");
    assert!(
        matches!(&err, DriverError::ImageUnavailable { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains(&image), "{err}");
    assert!(!f.docker.image_present(&image).await.expect("inspect image"));
}

#[tokio::test]
async fn a_taken_name_and_a_missing_container_are_told_apart() {
    let f = Fixture::new();
    let spec = f.spec("twice", &["true"]);
    f.docker.create(&spec).await.expect("create");
    let err = f.docker.create(&spec).await.expect_err("name taken");
    assert!(matches!(err, DriverError::NameInUse { .. }), "{err:?}");

    let err = f
        .docker
        .start("drover-no-such-container")
        .await
        .expect_err("missing");
    assert!(matches!(err, DriverError::NotFound { .. }), "{err:?}");
    assert!(
        err.to_string().contains("drover-no-such-container"),
        "{err}"
    );
}
