//! History, revert, scale, plan's update kinds and the deployments API
//! against a real etcd: the router is served in-process; deployments and
//! stability marks are written straight into the store, as the
//! deployments controller writes them.

use crate::common::{start, Server};
use drover_api_types::alloc::{AllocationStatus, DeploymentHealth};
use drover_api_types::deployment::{
    DeploymentAdmin, DeploymentGroupSpec, DeploymentGroupStatus, DeploymentState, VersionStability,
};
use drover_api_types::jobspec::{parse_str, ParseOptions};
use drover_api_types::{Deployment, Job};
use drover_store::Versioned;
use serde_json::{json, Value};

/// Requests as these tests make them.
trait Calls {
    async fn get(&self, path: &str) -> (u16, Value);
    async fn post(&self, path: &str, body: Value) -> (u16, Value);
    async fn job_versions(&self) -> usize;
}

impl Calls for Server {
    async fn get(&self, path: &str) -> (u16, Value) {
        self.send(self.http.get(self.url(path))).await.pair()
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.send(self.http.post(self.url(path)).json(&body))
            .await
            .pair()
    }

    async fn job_versions(&self) -> usize {
        let prefix = self.store.keys().job_versions_prefix("default", "web");
        self.store
            .list_raw(&prefix)
            .await
            .expect("list")
            .items
            .len()
    }
}

/// The job's HCL with a count, an image, a tag and an env value.
fn job(count: i64, image: &str, tag: &str, env: &str) -> Value {
    let src = format!(
        r#"
job "web" {{
  datacenters = ["dc1"]
  group "front" {{
    count = {count}
    network {{
      port "http" {{}}
    }}
    service {{
      name = "web"
      port = "http"
      tags = ["{tag}"]
    }}
    task "nginx" {{
      driver = "docker"
      config {{ image = "{image}" }}
      env {{ MODE = "{env}" }}
    }}
  }}
}}
"#
    );
    let loaded = parse_str("job.nomad", &src, &ParseOptions::default()).expect("parse");
    let job = loaded.jobs.into_iter().next().expect("one job");
    serde_json::to_value(job).expect("json")
}

async fn register(s: &Server, job: Value) -> Value {
    let (status, body) = s.post("/v1/jobs", json!({ "job": job })).await;
    assert_eq!(status, 200, "{body}");
    body
}

#[tokio::test]
async fn history_revert_and_scale() {
    let s = start().await;
    register(&s, job(1, "nginx:1", "v1", "a")).await;
    register(&s, job(2, "nginx:1", "v1", "a")).await;
    register(&s, job(2, "nginx:2", "v1", "a")).await;
    let mark = VersionStability {
        version: 1,
        deployment_id: "d1".into(),
        at: None,
    };
    let key = s.store.keys().job_stable("default", "web", 1);
    s.store
        .put_at(&key, &Versioned::new(mark))
        .await
        .expect("stable");

    let (status, body) = s.get("/v1/job/web/versions?diffs=true").await;
    assert_eq!(status, 200, "{body}");
    let versions = body["versions"].as_array().expect("versions");
    let summary: Vec<(u64, bool)> = versions
        .iter()
        .map(|v| (v["version"].as_u64().unwrap_or(0), v["stable"] == true))
        .collect();
    assert_eq!(summary, vec![(2, false), (1, true), (0, false)]);
    assert!(versions[0]["job"]["metadata"]["submit_time"].is_string());
    let diff = serde_json::to_string(&versions[0]["diff"]).expect("diff");
    assert!(diff.contains("nginx:2"), "{diff}");
    assert!(versions[2].get("diff").is_none(), "the first has no diff");

    // Refusals write nothing.
    let before = s.job_versions().await;
    for (body, status, words) in [
        (json!({"job_version": 2}), 400, "already at version 2"),
        (json!({"job_version": 9}), 404, "no version 9"),
        (
            json!({"job_version": 1, "enforce_prior_version": 1}),
            409,
            "at version 2, not 1",
        ),
    ] {
        let (got, answer) = s.post("/v1/job/web/revert", body).await;
        assert_eq!(got, status, "{answer}");
        assert!(
            answer["error"].as_str().unwrap_or("").contains(words),
            "{answer}"
        );
    }
    assert_eq!(s.job_versions().await, before);

    let (status, body) = s
        .post(
            "/v1/job/web/revert",
            json!({"job_version": 1, "enforce_prior_version": 2}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["version"], 3);
    let current: Job = s
        .store
        .get("default", "web")
        .await
        .expect("get")
        .expect("job");
    let v1: Job = s
        .store
        .get_at(&s.store.keys().job_version("default", "web", 1))
        .await
        .expect("get")
        .expect("v1");
    assert_eq!(current.spec, v1.spec, "version 3 is version 1's spec");
    // Version 2 ran nginx:2 too, but 1 is now current's twin.
    let (status, body) = s
        .post("/v1/job/web/revert", json!({"job_version": 1}))
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"].as_str().unwrap_or("").contains("identical"),
        "{body}"
    );

    let (status, body) = s
        .post(
            "/v1/job/web/scale",
            json!({"group": "front", "count": 5, "message": "load"}),
        )
        .await;
    assert_eq!((status, body["version"].as_u64()), (200, Some(4)), "{body}");
    let (status, body) = s
        .post(
            "/v1/job/web/scale",
            json!({"group": "front", "count": 5, "check_index": 1}),
        )
        .await;
    assert_eq!(status, 409, "{body}");
}

#[tokio::test]
async fn plan_says_which_changes_update_in_place() {
    let s = start().await;
    register(&s, job(2, "nginx:1", "v1", "a")).await;
    for (changed, destructive, field) in [
        (job(3, "nginx:1", "v1", "a"), false, None),
        (job(2, "nginx:1", "v2", "a"), false, None),
        (
            job(2, "nginx:2", "v1", "a"),
            true,
            Some("tasks[nginx].config.image"),
        ),
        (
            job(2, "nginx:1", "v1", "b"),
            true,
            Some("tasks[nginx].env.MODE"),
        ),
    ] {
        let (status, body) = s.post("/v1/job/web/plan", json!({ "job": changed })).await;
        assert_eq!(status, 200, "{body}");
        let kind = &body["update_kinds"]["front"];
        assert_eq!(kind["destructive"], destructive, "{body}");
        assert_eq!(kind["field"].as_str(), field, "{body}");
    }
    // A meta change is in place too.
    let mut meta = job(2, "nginx:1", "v1", "a");
    meta["spec"]["groups"][0]["meta"] = json!({"owner": "ops"});
    let (_, body) = s.post("/v1/job/web/plan", json!({ "job": meta })).await;
    assert_eq!(
        body["update_kinds"]["front"]["destructive"], false,
        "{body}"
    );
}

async fn put_deployment(s: &Server, id: &str, version: u64, state: DeploymentState) {
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
            desired_canaries: 1,
            health_check: "checks".into(),
            ..Default::default()
        },
    );
    d.status.state = state;
    d.status.groups.insert(
        "front".into(),
        DeploymentGroupStatus {
            placed_canaries: vec![format!("canary-{id}")],
            ..Default::default()
        },
    );
    let key = s.store.keys().deployment("default", id);
    s.store.put_at(&key, &d).await.expect("deployment");
}

async fn admin(s: &Server, id: &str) -> Option<DeploymentAdmin> {
    let key = s.store.keys().deployment_admin("default", id);
    let v: Option<Versioned<DeploymentAdmin>> = s.store.get_at(&key).await.expect("admin");
    v.map(|v| v.value)
}

#[tokio::test]
async fn deployments_are_listed_read_and_steered() {
    let s = start().await;
    put_deployment(&s, "aaaa1111-old", 0, DeploymentState::Successful).await;
    put_deployment(&s, "bbbb2222-new", 1, DeploymentState::Running).await;

    let (status, list) = s.get("/v1/deployments").await;
    assert_eq!(status, 200, "{list}");
    let ids: Vec<&str> = list
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|d| d["metadata"]["uid"].as_str())
        .collect();
    assert_eq!(ids, vec!["bbbb2222-new", "aaaa1111-old"], "newest first");
    let (status, one) = s.get("/v1/deployment/bbbb").await;
    assert_eq!(
        (status, one["spec"]["job_version"].as_u64()),
        (200, Some(1))
    );
    let (_, latest) = s.get("/v1/job/web/deployment").await;
    assert_eq!(latest["metadata"]["uid"], "bbbb2222-new");
    let (_, none) = s.get("/v1/job/other/deployment").await;
    assert!(none.is_null());
    let (_, of_job) = s.get("/v1/job/web/deployments").await;
    assert_eq!(of_job.as_array().map(Vec::len), Some(2));

    // Terminal: refused, nothing written.
    let (status, body) = s.post("/v1/deployment/aaaa/fail", json!({})).await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["error"].as_str().unwrap_or("").contains("successful"),
        "{body}"
    );
    assert_eq!(admin(&s, "aaaa1111-old").await, None);

    // The canary is not healthy yet.
    let (status, body) = s.post("/v1/deployment/bbbb/promote", json!({})).await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap_or("")
            .contains("0 of 1 canaries healthy"),
        "{body}"
    );
    let health = AllocationStatus {
        deployment_health: Some(DeploymentHealth {
            deployment_id: "bbbb2222-new".into(),
            healthy: true,
            ..Default::default()
        }),
        ..Default::default()
    };
    let key = s
        .store
        .keys()
        .alloc_status(None, "default", "canary-bbbb2222-new");
    s.store
        .put_at(&key, &Versioned::new(health))
        .await
        .expect("health");
    let (status, body) = s
        .post("/v1/deployment/bbbb/promote", json!({"groups": ["front"]}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        admin(&s, "bbbb2222-new").await.map(|a| a.promote),
        Some(vec!["front".to_string()])
    );
    let (status, _) = s.post("/v1/deployment/bbbb/promote", json!({})).await;
    assert_eq!(status, 409, "promoting twice");

    let (status, body) = s
        .post("/v1/deployment/bbbb/pause", json!({"pause": true}))
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = s
        .post("/v1/deployment/bbbb/pause", json!({"pause": true}))
        .await;
    assert_eq!(status, 409, "{body}");
    let (status, _) = s
        .post("/v1/deployment/bbbb/pause", json!({"pause": false}))
        .await;
    assert_eq!(status, 200);
    let (status, _) = s.post("/v1/deployment/bbbb/fail", json!({})).await;
    assert_eq!(status, 200);
    let written = admin(&s, "bbbb2222-new").await.expect("admin");
    assert!(written.fail && !written.paused, "{written:?}");
    assert_eq!(
        written.promote,
        vec!["front".to_string()],
        "kept across levers"
    );

    // The intent shows on reads.
    let (_, one) = s.get("/v1/deployment/bbbb2222-new").await;
    assert_eq!(one["admin"]["fail"], true, "{one}");
}
