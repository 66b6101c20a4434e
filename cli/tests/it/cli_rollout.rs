//! The rollout commands end to end: a real etcd, the API served
//! in-process (no controllers, so the deployments written here stay as
//! written), and the `drover` binary run as a user would run it —
//! history, revert, scale, get/describe deployments and the levers.

use std::process::{Command, Output, Stdio};

use drover_api_types::deployment::{
    DeploymentAdmin, DeploymentGroupSpec, DeploymentGroupStatus, DeploymentState, VersionStability,
};
use drover_api_types::jobspec::{load_str, ParseOptions};
use drover_api_types::Deployment;
use drover_apiserver::api::ApiState;
use drover_apiserver::http::InProcessApi;
use drover_store::{Store, StoreConfig, Versioned};
use drover_test_support::TestEtcd;
use serde_json::Value;

const DROVER: &str = env!("CARGO_BIN_EXE_drover");

fn job(count: i64, image: &str) -> Value {
    let src = format!(
        "job \"web\" {{\n datacenters = [\"dc1\"]\n group \"front\" {{\n count = {count}\n \
         task \"nginx\" {{\n driver = \"docker\"\n config {{ image = \"{image}\" }}\n }}\n }}\n}}\n"
    );
    let job = load_str("web.nomad", &src, &ParseOptions::default())
        .expect("valid job")
        .jobs
        .remove(0);
    serde_json::to_value(job).expect("json")
}

async fn serve(store: Store) -> InProcessApi {
    InProcessApi::start(ApiState::new(store))
        .await
        .expect("serving the API")
}

/// An etcd (kept while the first value lives), a store on it and the API
/// served in process.
async fn started() -> (TestEtcd, Store, InProcessApi) {
    let etcd = TestEtcd::shared_or_spawn().await.expect("etcd");
    let mut config = StoreConfig::new(etcd.endpoints.clone(), &etcd.prefix);
    config.request_timeout_ms = 3_000;
    let store = Store::connect(config).await.expect("connect");
    let api = serve(store.clone()).await;
    (etcd, store, api)
}

fn cli(addr: &str, args: &[&str]) -> Output {
    Command::new(DROVER)
        .args(args)
        .env("DROVER_ADDR", addr)
        .env_remove("DROVER_NAMESPACE")
        .stdin(Stdio::null())
        .output()
        .expect("run drover")
}

/// Runs `args` off the runtime's threads; (success, stdout, stderr).
async fn run(addr: &str, args: &[&str]) -> (bool, String, String) {
    let addr = addr.to_string();
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = cli(&addr, &refs);
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    })
    .await
    .expect("join")
}

async fn ok(addr: &str, args: &[&str]) -> String {
    let (success, out, err) = run(addr, args).await;
    assert!(success, "drover {args:?} failed: {err}\n{out}");
    out
}

async fn fails(addr: &str, args: &[&str]) -> String {
    let (success, out, err) = run(addr, args).await;
    assert!(!success, "drover {args:?} succeeded: {out}");
    err
}

fn deployment(id: &str, version: u64, state: DeploymentState) -> Deployment {
    let mut d = Deployment::default();
    d.metadata.name = id.into();
    d.metadata.uid = id.into();
    d.metadata.namespace = "default".into();
    d.spec.job_id = "web".into();
    d.spec.job_version = version;
    d.spec.created_at = chrono::DateTime::from_timestamp(1_700_000_000 + version as i64, 0);
    d.spec.groups.insert(
        "front".into(),
        DeploymentGroupSpec {
            desired_total: 2,
            auto_revert: true,
            ..Default::default()
        },
    );
    d.status.state = state;
    d.status.description = format!("Deployment is {}", state.as_str());
    d.status.groups.insert(
        "front".into(),
        DeploymentGroupStatus {
            placed: 2,
            healthy: 1,
            ..Default::default()
        },
    );
    d
}

#[tokio::test(flavor = "multi_thread")]
async fn history_revert_scale_and_deployments_from_the_cli() {
    let (_etcd, store, api) = started().await;
    let addr = api.base.clone();
    let http = reqwest::Client::new();
    for (count, image) in [(1, "nginx:1"), (1, "nginx:2")] {
        let r = http
            .post(format!("{addr}/v1/jobs"))
            .json(&serde_json::json!({ "job": job(count, image) }))
            .send()
            .await
            .expect("register");
        assert!(r.status().is_success(), "{r:?}");
    }
    let mark = VersionStability {
        version: 0,
        deployment_id: "aaaa".into(),
        at: None,
    };
    let key = store.keys().job_stable("default", "web", 0);
    store
        .put_at(&key, &Versioned::new(mark))
        .await
        .expect("stable");

    let history = ok(&addr, &["history", "web", "-p"]).await;
    assert!(
        history.starts_with("Version     = 1\nStable      = false\n"),
        "{history}"
    );
    assert!(history.contains("nginx:1\" => \"nginx:2\""), "{history}");
    assert!(
        history.contains("Version     = 0\nStable      = true\n"),
        "{history}"
    );
    let json: Value = serde_json::from_str(&ok(&addr, &["history", "web", "-o", "json"]).await)
        .expect("history json");
    assert_eq!(json["versions"][1]["stable"], true, "{json}");

    let err = fails(&addr, &["revert", "web", "1"]).await;
    assert!(err.contains("already at version 1"), "{err}");
    let out = ok(&addr, &["revert", "web", "0", "--prior-version", "1"]).await;
    assert!(out.contains("it is now version 2"), "{out}");
    let out = ok(&addr, &["scale", "web", "front", "3"]).await;
    assert!(out.contains("scaled to 3: version 3"), "{out}");
    let err = fails(&addr, &["scale", "web", "back", "3"]).await;
    assert!(err.contains("no group \"back\""), "{err}");

    // Deployments, as the controller writes them.
    for d in [
        deployment("aaaa1111-0000", 0, DeploymentState::Successful),
        deployment("bbbb2222-0000", 2, DeploymentState::Running),
    ] {
        let key = store.keys().deployment("default", &d.metadata.name);
        store.put_at(&key, &d).await.expect("deployment");
    }
    let table = ok(&addr, &["get", "deployments"]).await;
    let lines: Vec<&str> = table.lines().collect();
    assert!(
        lines[0].starts_with("ID ") && lines[0].ends_with("AGE"),
        "{table}"
    );
    assert!(
        lines[1].starts_with("bbbb2222 ") && lines[1].contains("running"),
        "{table}"
    );
    assert!(lines[1].contains("front 1/2"), "{table}");
    assert!(
        lines[2].starts_with("aaaa1111 ") && lines[2].contains("successful"),
        "{table}"
    );
    let list: Value = serde_json::from_str(&ok(&addr, &["get", "deployments", "-o", "json"]).await)
        .expect("list json");
    assert_eq!(list.as_array().map(Vec::len), Some(2), "{list}");
    let one: Value =
        serde_json::from_str(&ok(&addr, &["get", "deploy", "bbbb", "-o", "json"]).await)
            .expect("one json");
    assert_eq!(one["spec"]["job_version"], 2, "{one}");

    let page = ok(&addr, &["describe", "deployment", "bbbb"]).await;
    assert!(page.starts_with("ID          = bbbb2222-0000\n"), "{page}");
    assert!(
        page.contains("Task Group   Auto Revert   Desired   Placed   Healthy"),
        "{page}"
    );
    let job_page = ok(&addr, &["describe", "job", "web"]).await;
    assert!(
        job_page.contains("Latest Deployment\nID          = bbbb2222\n"),
        "{job_page}"
    );

    let out = ok(&addr, &["deployment", "pause", "bbbb"]).await;
    assert!(
        out.contains("deployment bbbb2222 in namespace \"default\": paused"),
        "{out}"
    );
    let err = fails(&addr, &["deployment", "pause", "bbbb"]).await;
    assert!(err.contains("already paused"), "{err}");
    ok(&addr, &["deployment", "resume", "bbbb"]).await;
    let err = fails(&addr, &["deployment", "promote", "bbbb"]).await;
    assert!(err.contains("no canaries to promote"), "{err}");
    let err = fails(&addr, &["deployment", "fail", "aaaa"]).await;
    assert!(err.contains("successful"), "{err}");
    ok(&addr, &["deployment", "fail", "bbbb"]).await;
    let key = store.keys().deployment_admin("default", "bbbb2222-0000");
    let admin: Versioned<DeploymentAdmin> = store.get_at(&key).await.expect("read").expect("admin");
    assert!(admin.value.fail && !admin.value.paused, "{:?}", admin.value);
    let status = ok(&addr, &["deployment", "status", "bbbb"]).await;
    assert!(status.contains("Requested   = fail"), "{status}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_applied_file_reads_back_as_written() {
    let (_etcd, _store, api) = started().await;
    let addr = api.base.clone();
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("web.nomad");
    let text = "# the web tier\nvariable \"image\" {\n  type = string\n}\n\njob \"web\" {\n  \
                datacenters = [\"dc1\"]\n  group \"front\" {\n    task \"nginx\" {\n      \
                driver = \"docker\"\n      config { image = var.image }\n    }\n  }\n}\n";
    std::fs::write(&file, text).expect("write");
    let path = file.to_string_lossy().to_string();
    ok(
        &addr,
        &["apply", "-f", &path, "--var", "image=nginx:1", "--detach"],
    )
    .await;
    ok(
        &addr,
        &["apply", "-f", &path, "--var", "image=nginx:2", "--detach"],
    )
    .await;

    let (success, out, err) = run(&addr, &["history", "web", "--submitted"]).await;
    assert!(success, "{err}");
    assert_eq!(out, text, "the file exactly as applied, comments kept");
    assert!(err.contains("applied with --var image=nginx:2"), "{err}");
    let (_, _, err) = run(
        &addr,
        &["history", "web", "--submitted", "--job-version", "0"],
    )
    .await;
    assert!(err.contains("image=nginx:1"), "{err}");
    let json: Value =
        serde_json::from_str(&ok(&addr, &["history", "web", "--submitted", "-o", "json"]).await)
            .expect("json");
    assert_eq!(json["submission"]["format"], "hcl2", "{json}");
    assert_eq!(json["version"], 1, "{json}");
    let err = fails(
        &addr,
        &["history", "web", "--submitted", "--job-version", "7"],
    )
    .await;
    assert!(err.contains("no file as submitted"), "{err}");
}
