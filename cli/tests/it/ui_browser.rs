//! The web UI in a real browser: headless Chromium driven over WebDriver
//! by `cli/tests/ui/browser.py` (selenium), against a real server, real
//! agents on the local Docker and a real etcd.
//!
//! - `click_through`: two nodes; run a job from the editor, scale it,
//!   promote a canary, revert to an old version, read a task's live logs,
//!   run a command in it, see its CPU and memory charts and restart it in
//!   place, drain a node and watch its allocations move.
//! - `a_read_only_token_sees_no_buttons`: ACLs on; a wrong token is
//!   refused, a read-only one sees every page and no button.
//!
//! Every page is checked for console errors and failed requests.
//! Screenshots of each view, light and dark, go to `$DROVER_UI_SCREENSHOTS`
//! (`make ui-screenshots` points it at docs/ui/) or else a temporary
//! directory.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common::{
    cleanup_when_registered, drover, get_json, ok, secret_of, until_ready, Cluster, DROVER, IMAGE,
};
use drover_test_support::wait::eventually;

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/ui/browser.py");

/// Where the screenshots go: `$DROVER_UI_SCREENSHOTS`, else `fallback`.
fn screenshots(fallback: &Path) -> PathBuf {
    std::env::var_os("DROVER_UI_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| fallback.to_path_buf())
}

/// Whether this machine lets the test give the browser a network
/// namespace of its own (root, or unprivileged user namespaces).
fn can_isolate() -> bool {
    Command::new("unshare")
        .args(["--net", "true"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Carries each connection to the Unix socket `path` on to `target` (the
/// server), for a browser in a network namespace of its own.
async fn forward(path: PathBuf, target: String) -> tokio::task::JoinHandle<()> {
    let listener = tokio::net::UnixListener::bind(&path).expect("the forwarding socket");
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let target = target.clone();
            tokio::spawn(async move {
                if let Ok(mut server) = tokio::net::TcpStream::connect(&target).await {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                }
            });
        }
    })
}

/// Runs a scenario of the browser script against the server at `addr`;
/// its output is the test's. Where it can, the browser runs in a network
/// namespace of its own, reaching the server through a Unix socket:
/// Chromium drops every request in flight when the host's interfaces
/// change, which they do each time Docker starts a container.
async fn browse_isolated(scenario: &str, addr: &str, shots: &Path, env: &[(&str, &str)]) {
    let base = format!("http://{addr}");
    let mut env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let sockets = tempfile::tempdir().expect("tempdir");
    let mut relay = None;
    if can_isolate() {
        let path = sockets.path().join("server.sock");
        relay = Some(forward(path.clone(), addr.to_string()).await);
        let port = addr.rsplit(':').next().unwrap_or_default().to_string();
        env.push(("UI_FORWARD".into(), path.display().to_string()));
        env.push(("UI_PORT".into(), port));
    } else {
        println!(
            "browser: unshare --net is not permitted here; the browser shares the host's network"
        );
    }
    let isolated = relay.is_some();
    let (scenario, shots) = (scenario.to_string(), shots.to_path_buf());
    tokio::task::spawn_blocking(move || {
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        browse(&scenario, &base, &shots, &env, isolated)
    })
    .await
    .expect("the browser script");
    if let Some(relay) = relay {
        relay.abort();
    }
}

/// Runs a scenario of the browser script; its output is the test's.
fn browse(scenario: &str, base: &str, shots: &Path, env: &[(&str, &str)], isolated: bool) {
    let installed = Command::new("python3")
        .args(["-c", "import selenium"])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        installed
            && Path::new("/usr/bin/chromium").exists()
            && Path::new("/usr/bin/chromedriver").exists(),
        "the browser tests need chromium, chromium-driver and selenium: \
         run scripts/ensure-deps.sh --with-docker-tools (make test does)"
    );
    let mut command = if isolated {
        let mut c = Command::new("unshare");
        c.args(["--net", "python3"]);
        c
    } else {
        Command::new("python3")
    };
    command
        .arg(SCRIPT)
        .args([scenario, base])
        .arg(shots)
        .envs(env.iter().copied());
    let output: Output = command.output().expect("run the browser script");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    assert!(
        output.status.success(),
        "browser {scenario}:\n{stdout}\n{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn click_through() {
    let cluster = Cluster::start("127.0.0.1").await;
    // A second node, for the drain to move allocations to.
    let second_dir = cluster.data.path().join("agent-2");
    let second_args = [
        "agent".to_string(),
        "--address=127.0.0.31".to_string(),
        format!("--data-dir={}", second_dir.display()),
        "--http-addr=127.0.0.31:0".to_string(),
        // The first node is named after the host.
        "--node-name=ui-second".to_string(),
    ];
    let _second = drover(&cluster.etcd, &crate::common::as_strs(&second_args));
    let _second_cleanup = cleanup_when_registered(&second_dir).await;
    let base = format!("http://{}", cluster.server_addr);
    until_ready(&base, 2).await;
    let tmp = tempfile::tempdir().expect("tempdir");
    let shots = screenshots(tmp.path());
    browse_isolated(
        "click-through",
        &cluster.server_addr,
        &shots,
        &[("UI_IMAGE", IMAGE)],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_read_only_token_sees_no_buttons() {
    let etcd = drover_test_support::TestEtcd::shared_or_spawn()
        .await
        .expect("etcd");
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .to_string();
    let _server = drover(&etcd, &["server", &format!("--http-addr={addr}"), "--acl"]);
    let base = format!("http://{addr}");
    eventually(30, "the server leading", || async {
        let leader = get_json(&base, "/v1/status/leader").await?;
        (leader["leading"] == true).then_some(())
    })
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let root = secret_of(&ok(&cli(d, &addr, None, &["acl", "bootstrap"])));
    std::fs::write(
        d.join("reader.hcl"),
        "namespace \"default\" {\n  policy = \"read\"\n}\nnode {\n  policy = \"read\"\n}\n",
    )
    .expect("policy");
    ok(&cli(
        d,
        &addr,
        Some(&root),
        &["acl", "policy", "apply", "reader", "reader.hcl"],
    ));
    let reader = secret_of(&ok(&cli(
        d,
        &addr,
        Some(&root),
        &[
            "acl",
            "token",
            "create",
            "--name",
            "ui-reader",
            "--policy",
            "reader",
        ],
    )));
    std::fs::write(
        d.join("api.nomad"),
        "job \"api\" {\n  group \"api\" {\n    task \"api\" {\n      driver = \"docker\"\n      config {\n        image = \"busybox:stable\"\n      }\n    }\n  }\n}\n",
    )
    .expect("job file");
    // No node: the job is registered and waits, which the pages show.
    ok(&cli(
        d,
        &addr,
        Some(&root),
        &["apply", "-f", "api.nomad", "--detach"],
    ));
    let shots = screenshots(d);
    let env = [
        ("UI_READ_TOKEN", reader.as_str()),
        ("UI_BAD_TOKEN", "00000000-0000-0000-0000-000000000000"),
    ];
    browse_isolated("read-only", &addr, &shots, &env).await;
}

/// `drover ARGS` in `dir` against the server at `addr`.
fn cli(dir: &Path, addr: &str, token: Option<&str>, args: &[&str]) -> Output {
    let mut command = Command::new(DROVER);
    command
        .current_dir(dir)
        .args(args)
        .env("DROVER_ADDR", format!("http://{addr}"))
        .env_remove("DROVER_TOKEN")
        .env_remove("NOMAD_TOKEN");
    if let Some(token) = token {
        command.env("DROVER_TOKEN", token);
    }
    command.output().expect("run drover")
}
