//! Per-node etcd credentials (NodeRestriction in etcd's RBAC): on a
//! 3-member etcd with auth on, a server holding `root` makes a join token,
//! an agent trades it for its own user, runs a job with nothing more, and
//! that user cannot touch any other node's state or any job.

use std::os::unix::fs::PermissionsExt as _;
use std::process::{Command, Stdio};

use drover_store::{Store, StoreConfig};
use drover_test_support::etcd::EtcdCluster;
use drover_test_support::wait::eventually;

use crate::common::*;

const ROOT_PASSWORD: &str = "root-pw-for-tests";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A child with the etcd flags of `cluster` (and `user`, when given).
fn drover_on(cluster: &EtcdCluster, prefix: &str, user: Option<&str>, args: &[&str]) -> Proc {
    let mut cmd = Command::new(DROVER);
    cmd.args(args)
        .arg(format!("--etcd={}", cluster.endpoints().join(",")))
        .arg(format!("--etcd-prefix={prefix}"))
        .arg("--log-level=warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    if let Some(user) = user {
        cmd.arg(format!("--etcd-user={user}"))
            .arg(format!("--etcd-password={ROOT_PASSWORD}"));
    }
    Proc(cmd.spawn().expect("start drover"))
}

/// `etcdctl` as `user:password` against member 0; its stderr on failure.
fn etcdctl_as(cluster: &EtcdCluster, user: &str, args: &[&str]) -> Result<String, String> {
    let mut all = vec!["--user", user];
    all.extend_from_slice(args);
    cluster.member(0).etcdctl(&all).map_err(|e| e.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_joined_node_reaches_its_own_keys_and_nothing_else() {
    drover_test_support::docker::busybox_image(IMAGE).expect("test image");
    let cluster = EtcdCluster::start(3).await.expect("a 3-member etcd");
    let root = format!("root:{ROOT_PASSWORD}");
    let member = cluster.member(0);
    member.etcdctl(&["user", "add", &root]).expect("root user");
    member
        .etcdctl(&["user", "grant-role", "root", "root"])
        .expect("root role");
    member.etcdctl(&["auth", "enable"]).expect("auth on");
    let prefix = drover_test_support::etcd::unique_prefix();

    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let http = format!("--http-addr=127.0.0.1:{port}");
    let _server = drover_on(
        &cluster,
        &prefix,
        Some("root"),
        &[
            "server",
            &http,
            "--dns-addr=127.0.0.1:0",
            "--heartbeat-ttl=3s",
        ],
    );
    eventually(30, "the server leading", || async {
        let leader = get_json(&base, "/v1/status/leader").await?;
        (leader["leading"] == true).then_some(())
    })
    .await;

    let made = Command::new(DROVER)
        .args(["node", "join-token", "create", "--uses=1", "--addr", &base])
        .output()
        .expect("drover node join-token create");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let token = String::from_utf8_lossy(&made.stdout).trim().to_string();
    assert_eq!(token.len(), 64, "one secret on stdout: {token:?}");

    let data = tempfile::tempdir().expect("tempdir");
    let data_dir = data.path().join("agent");
    let data_arg = format!("--data-dir={}", data_dir.display());
    let token_arg = format!("--join-token={token}");
    let _agent = drover_on(
        &cluster,
        &prefix,
        None,
        &[
            "agent",
            &token_arg,
            "--addr",
            &base,
            "--address=127.0.0.31",
            "--http-addr=127.0.0.31:0",
            "--heartbeat-ttl=3s",
            &data_arg,
        ],
    );
    let cleanup = cleanup_when_registered(&data_dir).await;
    let node_id = cleanup.0.clone();

    let credentials_file = data_dir.join("etcd-credentials.json");
    let credentials: serde_json::Value = eventually(30, "the node's credentials", || async {
        serde_json::from_slice(&std::fs::read(&credentials_file).ok()?).ok()
    })
    .await;
    let mode = std::fs::metadata(&credentials_file)
        .expect("stat")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "credentials are the node's alone");
    let user = credentials["username"].as_str().expect("username");
    assert_eq!(user, format!("drover-node-{node_id}"));
    let node_user = format!(
        "{user}:{}",
        credentials["password"].as_str().expect("password")
    );

    // The node runs a job with nothing but its own rights: it read its
    // assignment and the job's copy, wrote its record, heartbeat and the
    // allocation's status.
    let mut root_config = StoreConfig::new(cluster.endpoints(), &prefix);
    root_config.username = Some("root".into());
    root_config.password = Some(ROOT_PASSWORD.into());
    let store = Store::connect(root_config).await.expect("root store");
    // A second group with nothing to run: its env must not reach the node.
    let mut job = web_job();
    let mut back = job.spec.groups[0].clone();
    back.name = "back".into();
    back.count = 0;
    back.tasks[0]
        .env
        .insert("BACK_SECRET".into(), "only-for-back".into());
    job.spec.groups.push(back);
    store
        .put_at(&store.keys().job("default", "web"), &job)
        .await
        .expect("put job");
    let (alloc, binding) = running_alloc(&store).await;
    assert_eq!(binding.node_id, node_id);

    // What the node's user may do, and what it may not.
    let keys = store.keys();
    let own = keys.node_allocs_prefix(&node_id);
    let listed = etcdctl_as(
        &cluster,
        &node_user,
        &["get", &own, "--prefix", "--keys-only"],
    )
    .expect("the node reads its own assignments");
    assert!(listed.contains(&alloc.metadata.uid), "{listed}");
    // Its copy of the job holds the group it runs, nothing of the other.
    let copies = etcdctl_as(
        &cluster,
        &node_user,
        &["get", &keys.node_jobs_prefix(&node_id), "--prefix"],
    )
    .expect("the node reads its job copies");
    let copy_key = keys.node_job(
        &node_id,
        "default",
        "web",
        alloc.spec.job_version,
        Some("front"),
    );
    assert!(copies.contains(&copy_key), "{copies}");
    assert!(copies.contains("GREETING"), "{copies}");
    assert!(!copies.contains("only-for-back"), "{copies}");
    let other = "00000000-0000-4000-8000-000000000001".to_string();
    let denied = [
        (
            "write another node's allocation status",
            vec![
                "put",
                &keys.alloc_status(Some(&other), "default", "x"),
                "{}",
            ],
        ),
        (
            "write a job",
            vec!["put", &keys.job("default", "evil"), "{}"],
        ),
        (
            "read another node's allocations",
            vec!["get", &keys.node_allocs_prefix(&other), "--prefix"],
        ),
        (
            "read the jobs",
            vec!["get", &keys.collection("jobs"), "--prefix"],
        ),
        (
            "read the servers' agent API key",
            vec!["get", &keys.agent_api_key()],
        ),
        (
            "write another node's record",
            vec!["put", &keys.node(&other), "{}"],
        ),
    ]
    .into_iter()
    .map(|(what, args)| (what, args.into_iter().map(String::from).collect::<Vec<_>>()))
    .collect::<Vec<_>>();
    for (what, args) in &denied {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        match etcdctl_as(&cluster, &node_user, &args) {
            Ok(out) => panic!("the node could {what}: {out}"),
            Err(e) => assert!(e.contains("permission denied"), "{what}: {e}"),
        }
    }

    // Its agent answers /metrics to the scrape token, whose digest it reads
    // with its own rights, and to nothing else.
    let scrape: serde_json::Value = eventually(30, "the scrape token", || async {
        get_json(&base, "/v1/operator/scrape-token").await
    })
    .await;
    let scrape = scrape["token"].as_str().expect("a scrape token");
    let node: drover_api_types::Node = store
        .get_at::<drover_api_types::Node>(&keys.node(&node_id))
        .await
        .expect("read node")
        .expect("the node");
    let agent = node.spec.http_addr;
    let bearer = format!("Authorization: Bearer {scrape}\r\n");
    let status = eventually(30, "the agent's metrics to the scrape token", || async {
        let status = status_of(&agent, "/metrics", &bearer).await?;
        (status == 200).then_some(status)
    })
    .await;
    assert_eq!(status, 200);
    assert_eq!(status_of(&agent, "/metrics", "").await, Some(401));

    // A role that lacks a grant (a node joined before a release added one)
    // gets it back from the servers' refresh.
    let root_user = format!("root:{ROOT_PASSWORD}");
    let role = format!("drover-node-{node_id}");
    let digest_key = keys.scrape_token_digest();
    etcdctl_as(
        &cluster,
        &root_user,
        &["role", "revoke-permission", &role, &digest_key],
    )
    .expect("revoke");
    let refused = etcdctl_as(&cluster, &node_user, &["get", &digest_key]);
    assert!(refused.is_err(), "revoked: {refused:?}");
    assert_eq!(store.refresh_node_grants().await.expect("refresh"), 1);
    assert_eq!(store.refresh_node_grants().await.expect("again"), 0);
    let read = etcdctl_as(&cluster, &node_user, &["get", &digest_key]).expect("granted again");
    assert!(read.contains(&digest_key), "{read}");

    // The token was good for one node: a second join is refused, and so
    // is this node's id joining again.
    let client = reqwest::Client::new();
    for (node, wanted) in [(other.as_str(), 403), (node_id.as_str(), 403)] {
        let answer = client
            .post(format!("{base}/v1/node/join"))
            .json(&serde_json::json!({ "token": token, "node_id": node }))
            .send()
            .await
            .expect("join");
        assert_eq!(answer.status().as_u16(), wanted, "{node}");
    }
}
