//! TLS and ACLs as an operator sets them up: `drover tls` makes a CA and
//! certificates, `drover server --acl --tls-cert … --tls-client-ca …`
//! serves the API over mutual TLS; curl and the CLI get in with a client
//! certificate and not without; `drover acl` bootstraps, writes a policy
//! and a token that works only within its namespace.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output};

use drover_test_support::wait::eventually;
use drover_test_support::TestEtcd;

use crate::common::{cleanup_when_registered, drover, ok, secret_of, DROVER, IMAGE};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// `drover ARGS` in `dir` with the TLS environment for `addr`.
fn cli(dir: &Path, addr: &str, token: Option<&str>, args: &[&str]) -> Output {
    let mut command = Command::new(DROVER);
    command
        .current_dir(dir)
        .args(args)
        .env("DROVER_ADDR", addr)
        .env("DROVER_CACERT", "drover-agent-ca.pem")
        .env("DROVER_CLIENT_CERT", "dc1-cli-drover.pem")
        .env("DROVER_CLIENT_KEY", "dc1-cli-drover-key.pem")
        .env_remove("DROVER_TOKEN")
        .env_remove("NOMAD_TOKEN");
    if let Some(token) = token {
        command.env("DROVER_TOKEN", token);
    }
    command.output().expect("run drover")
}

/// Runs each `drover tls …` of `commands` in `dir`.
fn make_certificates(dir: &Path, commands: &[&[&str]]) {
    for args in commands {
        ok(&Command::new(DROVER)
            .current_dir(dir)
            .args(*args)
            .output()
            .expect("drover tls"));
    }
}

fn curl(dir: &Path, args: &[&str]) -> Output {
    Command::new("curl")
        .current_dir(dir)
        .args(["-s", "-m", "5", "--cacert", "drover-agent-ca.pem"])
        .args(args)
        .output()
        .expect("curl")
}

#[tokio::test]
async fn mutual_tls_and_acls_from_the_cli() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    make_certificates(
        d,
        &[
            &["tls", "ca", "create"],
            &["tls", "cert", "create", "--server"],
            &["tls", "cert", "create", "--cli"],
        ],
    );
    // A second CA's certificate must not get in.
    let other = tempfile::tempdir().expect("tempdir");
    make_certificates(
        other.path(),
        &[
            &["tls", "ca", "create"],
            &["tls", "cert", "create", "--cli"],
        ],
    );

    let etcd = TestEtcd::shared_or_spawn().await.expect("etcd");
    let port = free_port();
    let addr = format!("https://127.0.0.1:{port}");
    let path = |f: &str| d.join(f).display().to_string();
    let (cert, key, ca) = (
        path("dc1-server-drover.pem"),
        path("dc1-server-drover-key.pem"),
        path("drover-agent-ca.pem"),
    );
    let _server = drover(
        &etcd,
        &[
            "server",
            &format!("--http-addr=127.0.0.1:{port}"),
            "--acl",
            &format!("--tls-cert={cert}"),
            &format!("--tls-key={key}"),
            &format!("--tls-client-ca={ca}"),
        ],
    );
    let leader = format!("{addr}/v1/status/leader");
    eventually(20, "the server answering over TLS", || async {
        let out = curl(
            d,
            &[
                "--cert",
                "dc1-cli-drover.pem",
                "--key",
                "dc1-cli-drover-key.pem",
                &leader,
            ],
        );
        String::from_utf8_lossy(&out.stdout)
            .contains("leading")
            .then_some(())
    })
    .await;

    // Without a client certificate, with another CA's, or in plain HTTP:
    // no answer at all.
    assert!(curl(d, &[&leader]).stdout.is_empty());
    let foreign = other
        .path()
        .join("dc1-cli-drover.pem")
        .display()
        .to_string();
    let foreign_key = other
        .path()
        .join("dc1-cli-drover-key.pem")
        .display()
        .to_string();
    assert!(
        curl(d, &["--cert", &foreign, "--key", &foreign_key, &leader])
            .stdout
            .is_empty()
    );
    let plain = curl(d, &[&format!("http://127.0.0.1:{port}/v1/status/leader")]);
    assert!(!String::from_utf8_lossy(&plain.stdout).contains("leading"));
    let bare = Command::new(DROVER)
        .current_dir(d)
        .args(["get", "jobs"])
        .env("DROVER_ADDR", &addr)
        .env("DROVER_CACERT", "drover-agent-ca.pem")
        .env_remove("DROVER_CLIENT_CERT")
        .env_remove("DROVER_CLIENT_KEY")
        .output()
        .expect("drover");
    assert!(
        !bare.status.success(),
        "the CLI without a client certificate"
    );

    // The CLI with its certificate: ACLs from bootstrap to a team's token.
    let root = secret_of(&ok(&cli(d, &addr, None, &["acl", "bootstrap"])));
    let refused = cli(d, &addr, None, &["acl", "bootstrap"]);
    assert!(!refused.status.success(), "a second bootstrap");
    std::fs::write(
        d.join("team.hcl"),
        "namespace \"web\" {\n  policy = \"write\"\n}\n",
    )
    .expect("policy");
    ok(&cli(
        d,
        &addr,
        Some(&root),
        &["acl", "policy", "apply", "web-team", "team.hcl"],
    ));
    let token = ok(&cli(
        d,
        &addr,
        Some(&root),
        &[
            "acl", "token", "create", "--name", "web-ci", "--policy", "web-team",
        ],
    ));
    let web = secret_of(&token);
    let listed = ok(&cli(d, &addr, Some(&root), &["acl", "token", "list"]));
    assert!(
        listed.contains("web-ci") && !listed.contains(&web),
        "{listed}"
    );
    let me = ok(&cli(d, &addr, Some(&web), &["acl", "token", "self"]));
    assert!(me.contains("web-team"), "{me}");

    std::fs::write(
        d.join("web.nomad"),
        r#"job "api" {
  namespace = "web"
  datacenters = ["dc1"]
  group "api" {
    task "api" {
      driver = "docker"
      config {
        image = "busybox:1"
      }
    }
  }
}
"#,
    )
    .expect("job");
    // The namespace first: a job goes only into one that exists.
    let missing = cli(
        d,
        &addr,
        Some(&web),
        &["apply", "-f", "web.nomad", "--detach"],
    );
    assert!(!missing.status.success());
    let said = String::from_utf8_lossy(&missing.stderr);
    assert!(said.contains("drover namespace apply web"), "{said}");
    let refused = cli(d, &addr, Some(&web), &["namespace", "apply", "web"]);
    assert!(
        !refused.status.success(),
        "only management creates namespaces"
    );
    ok(&cli(
        d,
        &addr,
        Some(&root),
        &["namespace", "apply", "web", "--description", "the web team"],
    ));
    let listed = ok(&cli(d, &addr, Some(&web), &["namespace", "list"]));
    assert!(listed.contains("the web team"), "{listed}");
    assert!(
        !listed.contains("default"),
        "only what the token may list: {listed}"
    );
    ok(&cli(
        d,
        &addr,
        Some(&web),
        &["apply", "-f", "web.nomad", "--detach"],
    ));
    let deleted = cli(d, &addr, Some(&root), &["namespace", "delete", "web"]);
    assert!(!deleted.status.success(), "a namespace with jobs stays");
    let jobs = ok(&cli(d, &addr, Some(&web), &["get", "jobs", "-A"]));
    assert!(jobs.contains("api"), "{jobs}");
    // The same file in another namespace, and any token-less request: refused.
    std::fs::write(
        d.join("db.nomad"),
        std::fs::read_to_string(d.join("web.nomad"))
            .expect("read")
            .replace("namespace = \"web\"", "namespace = \"db\""),
    )
    .expect("job");
    let denied = cli(
        d,
        &addr,
        Some(&web),
        &["apply", "-f", "db.nomad", "--detach"],
    );
    assert!(!denied.status.success());
    let said = String::from_utf8_lossy(&denied.stderr);
    assert!(
        said.contains("lacks submit-job on namespace \"db\""),
        "{said}"
    );
    let anonymous = cli(d, &addr, None, &["get", "jobs"]);
    assert!(!anonymous.status.success());
    assert!(
        String::from_utf8_lossy(&anonymous.stderr).contains("anonymous"),
        "{}",
        String::from_utf8_lossy(&anonymous.stderr)
    );

    // The scrape token: management only; it opens the server's /metrics as
    // operator read does, and nothing else.
    let refused = cli(d, &addr, Some(&web), &["operator", "scrape-token"]);
    assert!(!refused.status.success(), "a namespace token");
    let scrape = ok(&cli(d, &addr, Some(&root), &["operator", "scrape-token"]));
    let scrape = scrape.trim();
    assert_eq!(scrape.len(), 64, "{scrape}");
    let metrics_status = |bearer: &str| {
        let out = curl(
            d,
            &[
                "--cert",
                "dc1-cli-drover.pem",
                "--key",
                "dc1-cli-drover-key.pem",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "-H",
                &format!("Authorization: Bearer {bearer}"),
                &format!("{addr}/metrics"),
            ],
        );
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    assert_eq!(metrics_status(scrape), "200");
    assert_eq!(metrics_status(&root), "200");
    assert_eq!(metrics_status(&web), "403", "no operator read");
    let jobs_with_scrape = cli(d, &addr, Some(scrape), &["get", "jobs"]);
    assert!(
        !jobs_with_scrape.status.success(),
        "the scrape token is no ACL token"
    );
}

/// The agent's HTTP API takes the same TLS flags as the server's: with a
/// client CA, nothing without a certificate from it gets an answer, and
/// `drover logs` and `drover alloc exec` still flow, the server dialling
/// the agent over mutual TLS with its own certificate.
#[tokio::test(flavor = "multi_thread")]
async fn the_agents_api_serves_mutual_tls_and_logs_flow_through_the_server() {
    drover_test_support::docker::busybox_image(IMAGE).expect("test image");
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    make_certificates(
        d,
        &[
            &["tls", "ca", "create"],
            &["tls", "cert", "create", "--server"],
            // An agent's certificate names the address it is dialled on.
            &[
                "tls",
                "cert",
                "create",
                "--client",
                "--additional-ipaddress",
                "127.0.0.32",
            ],
            &["tls", "cert", "create", "--cli"],
        ],
    );
    let path = |f: &str| d.join(f).display().to_string();
    let ca = path("drover-agent-ca.pem");
    let etcd = TestEtcd::shared_or_spawn().await.expect("etcd");
    let port = free_port();
    let addr = format!("https://127.0.0.1:{port}");
    let _server = drover(
        &etcd,
        &[
            "server",
            &format!("--http-addr=127.0.0.1:{port}"),
            &format!("--tls-cert={}", path("dc1-server-drover.pem")),
            &format!("--tls-key={}", path("dc1-server-drover-key.pem")),
            &format!("--tls-client-ca={ca}"),
        ],
    );
    let agent_port = free_port();
    let agent_addr = format!("127.0.0.32:{agent_port}");
    let data = d.join("agent");
    let _agent = drover(
        &etcd,
        &[
            "agent",
            "--address=127.0.0.32",
            &format!("--http-addr={agent_addr}"),
            &format!("--data-dir={}", data.display()),
            &format!("--tls-cert={}", path("dc1-client-drover.pem")),
            &format!("--tls-key={}", path("dc1-client-drover-key.pem")),
            &format!("--tls-client-ca={ca}"),
        ],
    );
    let _cleanup = cleanup_when_registered(&data).await;

    // The agent answers the server's certificate over TLS, and nothing
    // without one, nor plain HTTP.
    let health = format!("https://{agent_addr}/v1/agent/health");
    let with_server_cert = [
        "--cert",
        "dc1-server-drover.pem",
        "--key",
        "dc1-server-drover-key.pem",
        health.as_str(),
    ];
    eventually(30, "the agent answering over TLS", || async {
        let out = curl(d, &with_server_cert);
        String::from_utf8_lossy(&out.stdout)
            .contains("\"ok\":true")
            .then_some(())
    })
    .await;
    assert!(curl(d, &[&health]).stdout.is_empty(), "no certificate");
    let plain = curl(d, &[&format!("http://{agent_addr}/v1/agent/health")]);
    assert!(!String::from_utf8_lossy(&plain.stdout).contains("ok"));
    // Under mutual TLS a certificate holder scrapes without the token.
    let metrics = curl(
        d,
        &[
            "--cert",
            "dc1-cli-drover.pem",
            "--key",
            "dc1-cli-drover-key.pem",
            &format!("https://{agent_addr}/metrics"),
        ],
    );
    let metrics = String::from_utf8_lossy(&metrics.stdout);
    assert!(metrics.contains("drover_agent_etcd_connected"), "{metrics}");

    std::fs::write(
        d.join("talker.nomad"),
        format!(
            r#"job "talker" {{
  datacenters = ["dc1"]
  group "front" {{
    task "talk" {{
      driver = "docker"
      config {{
        image   = "{IMAGE}"
        command = "sh"
        args    = ["-c", "echo hello over tls; exec sleep 3600"]
      }}
      resources {{
        memory = 32
      }}
    }}
  }}
}}
"#
        ),
    )
    .expect("job");
    let nodes = eventually(30, "the node ready", || async {
        let out = cli(d, &addr, None, &["get", "nodes"]);
        let listed = String::from_utf8_lossy(&out.stdout).into_owned();
        listed.contains(" ready ").then_some(listed)
    })
    .await;
    assert!(nodes.contains("ready"), "{nodes}");
    ok(&cli(d, &addr, None, &["apply", "-f", "talker.nomad"]));
    let logs = eventually(30, "the task's output through the server", || async {
        let out = cli(d, &addr, None, &["logs", "talker.front[0]", "talk"]);
        let said = String::from_utf8_lossy(&out.stdout).into_owned();
        said.contains("hello over tls").then_some(said)
    })
    .await;
    assert!(logs.contains("hello over tls"), "{logs}");
    // Without a server, straight from etcd to the agent: over TLS too, with
    // the CLI's certificate.
    let direct = Command::new(DROVER)
        .current_dir(d)
        .args(["logs", "talker.front[0]", "talk"])
        .arg(format!("--etcd={}", etcd.endpoints.join(",")))
        .arg(format!("--etcd-prefix={}", etcd.prefix))
        .env_remove("DROVER_ADDR")
        .env("DROVER_CACERT", "drover-agent-ca.pem")
        .env("DROVER_CLIENT_CERT", "dc1-cli-drover.pem")
        .env("DROVER_CLIENT_KEY", "dc1-cli-drover-key.pem")
        .output()
        .expect("drover logs");
    assert!(ok(&direct).contains("hello over tls"));
    // An exec goes the same way: the CLI to the server over TLS with its
    // certificate, the server to the agent's WebSocket over mutual TLS.
    let exec = cli(
        d,
        &addr,
        None,
        &[
            "alloc",
            "exec",
            "talker.front[0]",
            "--",
            "sh",
            "-c",
            "echo exec over tls; exit 4",
        ],
    );
    assert_eq!(
        String::from_utf8_lossy(&exec.stdout),
        "exec over tls\n",
        "{}",
        String::from_utf8_lossy(&exec.stderr)
    );
    assert_eq!(exec.status.code(), Some(4));
    let node_id = nodes
        .lines()
        .nth(1)
        .and_then(|row| row.split_whitespace().next())
        .expect("a node row");
    let node = ok(&cli(d, &addr, None, &["describe", "node", node_id]));
    assert!(node.contains(&format!("https://{agent_addr}")), "{node}");
    ok(&cli(
        d,
        &addr,
        None,
        &["delete", "job", "talker", "--purge"],
    ));
}
