//! The jobs API against a real etcd: the router is served in-process and
//! driven over HTTP as the CLI drives it.

use std::time::{Duration, Instant};

use crate::common::{start, Answer, Server};
use drover_api_types::alloc::{AllocationStatus, Binding, ClientStatus};
use drover_api_types::jobspec::{parse_str, ParseOptions};
use drover_api_types::node::{NodeState, NodeStatus};
use drover_api_types::{Allocation, Node, ObjectMeta};
use drover_store::Versioned;
use serde_json::{json, Value};

/// Requests as these tests make them.
trait Calls {
    async fn get(&self, path: &str) -> Answer;
    async fn post(&self, path: &str, body: Value) -> Answer;
    async fn delete(&self, path: &str) -> Answer;
}

impl Calls for Server {
    async fn get(&self, path: &str) -> Answer {
        self.send(self.http.get(self.url(path))).await
    }

    async fn post(&self, path: &str, body: Value) -> Answer {
        self.send(self.http.post(self.url(path)).json(&body)).await
    }

    async fn delete(&self, path: &str) -> Answer {
        self.send(self.http.delete(self.url(path))).await
    }
}

/// A job as the CLI sends it: parsed from HCL, as JSON.
fn job(name: &str, count: i64) -> Value {
    let src = format!(
        r#"
job "{name}" {{
  datacenters = ["dc1"]
  group "front" {{
    count = {count}
    task "nginx" {{
      driver = "docker"
      config {{ image = "nginx:1.22.1" }}
    }}
  }}
}}
"#
    );
    let loaded = parse_str("job.nomad", &src, &ParseOptions::default()).expect("parse");
    let job = loaded.jobs.into_iter().next().expect("one job");
    serde_json::to_value(job).expect("json")
}

/// `metadata.version` (left out of the JSON when 0).
fn version_of(job: &Value) -> u64 {
    job["metadata"]["version"].as_u64().unwrap_or(0)
}

fn count_of(job: &Value) -> i64 {
    job["spec"]["groups"][0]["count"].as_i64().expect("count")
}

#[tokio::test]
async fn register_scale_stop_versions_and_plan() {
    let s = start().await;
    let first = s.post("/v1/jobs", json!({ "job": job("web", 2) })).await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(
        (
            first.body["version"].as_u64(),
            first.body["changed"].as_bool()
        ),
        (Some(0), Some(true))
    );
    let index = first.body["index"].as_i64().expect("index");

    let again = s.post("/v1/jobs", json!({ "job": job("web", 2) })).await;
    assert_eq!(
        again.body,
        json!({ "index": index, "version": 0, "changed": false })
    );

    let stale = s
        .post(
            "/v1/jobs",
            json!({ "job": job("web", 4), "check_index": index - 1 }),
        )
        .await;
    assert_eq!(stale.status, 409, "{}", stale.body);
    assert_eq!(stale.body["field"], "check_index");
    let read = s.get("/v1/job/web").await;
    assert_eq!(
        (count_of(&read.body), Some(version_of(&read.body))),
        (2, Some(0))
    );

    let scaled = s
        .post(
            "/v1/job/web/scale",
            json!({ "group": "front", "count": 3, "check_index": index }),
        )
        .await;
    assert_eq!(scaled.status, 200, "{}", scaled.body);
    assert_eq!(scaled.body["version"], 1);
    assert_eq!(count_of(&s.get("/v1/job/web").await.body), 3);
    let unknown = s
        .post("/v1/job/web/scale", json!({ "group": "back", "count": 1 }))
        .await;
    assert_eq!(unknown.status, 400);
    assert_eq!(unknown.body["field"], "group");
    assert!(unknown.body["error"]
        .as_str()
        .is_some_and(|e| e.contains("\"front\"")));
    let negative = s
        .post(
            "/v1/job/web/scale",
            json!({ "group": "front", "count": -1 }),
        )
        .await;
    assert_eq!(
        (negative.status, negative.body["field"].as_str()),
        (400, Some("count"))
    );

    // A poison count is refused by register, scale and plan alike, with
    // nothing written.
    let poison = s
        .post("/v1/jobs", json!({ "job": job("web", 1_000_000_000) }))
        .await;
    assert_eq!(poison.status, 400, "{}", poison.body);
    assert!(poison.body["error"]
        .as_str()
        .is_some_and(|e| e.contains("over the limit of 10000 per group")));
    let scaled_up = s
        .post(
            "/v1/job/web/scale",
            json!({ "group": "front", "count": 1_000_000_000 }),
        )
        .await;
    assert_eq!(scaled_up.status, 400, "{}", scaled_up.body);
    let planned = s
        .post(
            "/v1/job/web/plan",
            json!({ "job": job("web", 1_000_000_000) }),
        )
        .await;
    assert_eq!(planned.status, 400, "{}", planned.body);
    assert_eq!(count_of(&s.get("/v1/job/web").await.body), 3);

    let plan = s
        .post("/v1/job/web/plan", json!({ "job": job("web", 5) }))
        .await;
    assert_eq!(plan.status, 200, "{}", plan.body);
    let response: drover_api::plan::PlanResponse =
        serde_json::from_value(plan.body).expect("a PlanResponse");
    assert!(response.changed);
    assert_eq!(response.version, 2);
    assert_eq!(
        response.job_modify_index,
        scaled.body["index"].as_i64().expect("index")
    );
    assert!(
        response.diff.render().contains("~ count: \"3\" => \"5\""),
        "{}",
        response.diff.render()
    );
    assert_eq!(
        response.groups["front"].create, 5,
        "no allocations yet: all are new"
    );
    let same = s
        .post("/v1/job/web/plan", json!({ "job": job("web", 3) }))
        .await;
    assert_eq!(
        (
            same.body["changed"].as_bool(),
            same.body["diff"]["type"].as_str()
        ),
        (Some(false), Some("none"))
    );
    assert_eq!(
        count_of(&s.get("/v1/job/web").await.body),
        3,
        "a plan writes nothing"
    );

    let stopped = s.post("/v1/job/web/stop", Value::Null).await;
    assert_eq!(
        (stopped.status, stopped.body["version"].as_u64()),
        (200, Some(2))
    );
    assert_eq!(s.get("/v1/job/web").await.body["spec"]["stop"], true);
    let twice = s.post("/v1/job/web/stop", json!({})).await;
    assert_eq!(twice.body["changed"], false);
    let purged = s.delete("/v1/job/web?purge=true").await;
    assert_eq!(
        (purged.status, purged.body["version"].as_u64()),
        (200, Some(3))
    );
    let read = s.get("/v1/job/web").await;
    assert_eq!(
        read.body["metadata"]["annotations"]["drover.io/purge"],
        "true"
    );

    let versions = s.get("/v1/job/web/versions?diffs=true").await;
    assert_eq!(versions.status, 200, "{}", versions.body);
    assert!(versions.index.is_some_and(|i| i > 0));
    let list = versions.body["versions"].as_array().expect("versions");
    let numbers: Vec<u64> = list.iter().filter_map(|v| v["version"].as_u64()).collect();
    assert_eq!(numbers, vec![3, 2, 1, 0]);
    assert_eq!(count_of(&list[3]["job"]), 2);
    assert!(list[2]["diff"].is_object() && list[3]["diff"].is_null());
    assert_eq!(s.get("/v1/job/nope/versions").await.status, 404);
    assert_eq!(s.delete("/v1/job/nope").await.status, 404);

    let dispatch = s.post("/v1/job/web/dispatch", json!({})).await;
    assert_eq!(dispatch.status, 400);
    let error = dispatch.body["error"].as_str().unwrap_or_default();
    assert!(error.contains("not parameterized"), "{error}");
}

const RENDER: &str = r#"
job "render" {
  type = "batch"
  parameterized {
    payload       = "required"
    meta_required = ["scene"]
  }
  group "g" {
    task "t" {
      driver = "docker"
      config { image = "busybox" }
      dispatch_payload { file = "in.txt" }
    }
  }
}
"#;

const NIGHTLY: &str = r#"
job "nightly" {
  type = "batch"
  periodic { cron = "0 3 * * *" }
  group "g" {
    task "t" {
      driver = "docker"
      config { image = "busybox" }
    }
  }
}
"#;

#[tokio::test]
async fn dispatch_and_force_create_children_and_refuse_bad_requests() {
    let s = start().await;
    for src in [RENDER, NIGHTLY] {
        let loaded = parse_str("jobs.nomad", src, &ParseOptions::default()).expect("parse");
        let job = loaded.jobs.into_iter().next().expect("a job");
        let r = s.post("/v1/jobs", json!({ "job": job })).await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    // "hello" in base64.
    let ok = json!({"payload": "aGVsbG8=", "meta": {"scene": "intro"}, "idempotency_token": "t1"});
    let d = s.post("/v1/job/render/dispatch", ok.clone()).await;
    assert_eq!(d.status, 200, "{}", d.body);
    let child = d.body["job_id"].as_str().expect("job_id").to_string();
    assert!(child.starts_with("render/dispatch-"), "{child}");
    let again = s.post("/v1/job/render/dispatch", ok).await;
    assert_eq!(
        again.body["job_id"],
        child.as_str(),
        "same token, same child"
    );
    // The child's `/` travels as %2F in the path, as with Nomad's API.
    let read = s
        .get(&format!("/v1/job/{}", child.replace('/', "%2F")))
        .await;
    assert_eq!(read.status, 200, "{}", read.body);
    assert_eq!(read.body["metadata"]["name"], child.as_str());
    assert_eq!(read.body["spec"]["parent_id"], "render");
    assert_eq!(read.body["spec"]["meta"]["scene"], "intro");
    assert_eq!(read.body["spec"]["payload"], "aGVsbG8=");

    let bad = [
        (json!({"meta": {"scene": "x"}}), "requires a payload"),
        (json!({"payload": "aGVsbG8="}), "requires meta scene"),
        (
            json!({"payload": "aGVsbG8=", "meta": {"scene": "x", "who": "y"}}),
            "allowed: scene",
        ),
    ];
    for (body, text) in bad {
        let r = s.post("/v1/job/render/dispatch", body).await;
        assert_eq!(r.status, 400, "{}", r.body);
        let error = r.body["error"].as_str().unwrap_or_default();
        assert!(error.contains(text), "{error}");
    }

    let forced = s.post("/v1/job/nightly/periodic/force", json!({})).await;
    assert_eq!(forced.status, 200, "{}", forced.body);
    assert!(forced.body["job_id"]
        .as_str()
        .is_some_and(|id| id.starts_with("nightly/periodic-")));
    let refused = s.post("/v1/job/render/periodic/force", json!({})).await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert_eq!(
        s.post("/v1/job/nope/periodic/force", json!({}))
            .await
            .status,
        404
    );

    let children = s.get("/v1/job/render/children").await;
    assert_eq!(children.status, 200, "{}", children.body);
    assert!(children.body["periodic"].is_null());
    assert_eq!(children.body["children"][0]["job_id"], child.as_str());
    let nightly = s.get("/v1/job/nightly/children").await;
    assert!(nightly.body["periodic"].is_object(), "{}", nightly.body);
    assert_eq!(nightly.body["children"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn concurrent_registers_with_the_same_check_index_let_exactly_one_win() {
    let s = start().await;
    let first = s.post("/v1/jobs", json!({ "job": job("race", 1) })).await;
    let index = first.body["index"].as_i64().expect("index");
    let attempts = (2..8).map(|count| {
        let body = json!({ "job": job("race", count), "check_index": index });
        s.post("/v1/jobs", body)
    });
    let answers = futures::future::join_all(attempts).await;
    let won: Vec<&Answer> = answers.iter().filter(|a| a.status == 200).collect();
    assert_eq!(
        won.len(),
        1,
        "{:?}",
        answers.iter().map(|a| &a.body).collect::<Vec<_>>()
    );
    assert!(answers.iter().all(|a| a.status == 200 || a.status == 409));
    let read = s.get("/v1/job/race").await;
    assert_eq!(version_of(&read.body), 1);
    let versions = s.get("/v1/job/race/versions").await;
    assert_eq!(versions.body["versions"].as_array().map(Vec::len), Some(2));
}

#[tokio::test]
async fn malformed_and_oversized_bodies_are_json_errors() {
    let s = start().await;
    let url = format!("{}/v1/jobs", s.base);
    let bad = s
        .send(
            s.http
                .post(&url)
                .header("content-type", "application/json")
                .body("{\"job\": "),
        )
        .await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.body["field"], "body");
    let wrong_shape = s.post("/v1/jobs", json!({ "job": 1 })).await;
    assert_eq!(
        (wrong_shape.status, wrong_shape.body["field"].as_str()),
        (400, Some("body"))
    );
    let no_type = s.send(s.http.post(&url).body("{}")).await;
    assert_eq!(no_type.status, 415);
    assert!(no_type.body["error"].is_string());
    let huge = format!("{{\"job\": \"{}\"}}", "x".repeat(5 << 20));
    let big = s
        .send(
            s.http
                .post(&url)
                .header("content-type", "application/json")
                .body(huge),
        )
        .await;
    assert_eq!(big.status, 413);
    assert_eq!(big.body["field"], "body");
}

#[tokio::test]
async fn blocking_queries_return_on_a_change_or_after_the_wait() {
    let s = start().await;
    s.post("/v1/jobs", json!({ "job": job("blocky", 1) })).await;
    let read = s.get("/v1/job/blocky").await;
    let index = read.index.expect("index header");

    let started = Instant::now();
    let idle = s
        .get(&format!("/v1/job/blocky?index={index}&wait=1s"))
        .await;
    let waited = started.elapsed();
    assert_eq!(idle.status, 200);
    assert!(
        waited >= Duration::from_millis(900),
        "returned after {waited:?}"
    );

    let started = Instant::now();
    let path = format!("/v1/job/blocky?index={index}&wait=20s");
    let (blocked, _) = tokio::join!(s.get(&path), async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        s.post(
            "/v1/job/blocky/scale",
            json!({ "group": "front", "count": 2 }),
        )
        .await
    });
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "woken by the change"
    );
    assert_eq!(count_of(&blocked.body), 2);
    assert!(blocked.index.is_some_and(|i| i > index));
}

#[tokio::test]
async fn plan_counts_what_runs_and_explains_what_cannot_be_placed() {
    let s = start().await;
    let keys = s.store.keys().clone();
    // The only node is in another datacenter than the job asks for.
    let mut node = Node {
        metadata: ObjectMeta {
            name: "n1".into(),
            uid: "n1".into(),
            ..Default::default()
        },
        ..Default::default()
    };
    node.spec.datacenter = "dc2".into();
    node.spec.resources.cpu = 4000;
    node.spec.resources.memory = 8192;
    s.store.put_at(&keys.node("n1"), &node).await.expect("node");
    let ready = Versioned::new(NodeStatus {
        state: NodeState::Ready,
        ..Default::default()
    });
    s.store
        .put_at(&keys.node_status("n1"), &ready)
        .await
        .expect("node status");
    let registered = s
        .post("/v1/jobs", json!({ "job": job("planned", 1) }))
        .await;
    assert_eq!(registered.status, 200, "{}", registered.body);
    // Its one allocation runs (placed before the node moved, say).
    let alloc = Allocation {
        metadata: ObjectMeta {
            name: "planned.front[0]".into(),
            namespace: "default".into(),
            uid: "a0".into(),
            ..Default::default()
        },
        spec: drover_api_types::alloc::AllocationSpec {
            job_id: "planned".into(),
            task_group: "front".into(),
            ..Default::default()
        },
        ..Default::default()
    };
    s.store
        .put_at(&keys.alloc("default", "a0"), &alloc)
        .await
        .expect("alloc");
    let binding = Versioned::new(Binding {
        node_id: "n1".into(),
        node_name: "n1".into(),
        ..Default::default()
    });
    s.store
        .put_at(&keys.alloc_binding("default", "a0"), &binding)
        .await
        .expect("binding");
    let running = Versioned::new(AllocationStatus {
        client_status: ClientStatus::Running,
        ..Default::default()
    });
    s.store
        .put_at(&keys.alloc_status(Some("n1"), "default", "a0"), &running)
        .await
        .expect("status");

    let same = s
        .post("/v1/job/planned/plan", json!({ "job": job("planned", 1) }))
        .await;
    assert_eq!(same.status, 200, "{}", same.body);
    assert_eq!(same.body["groups"]["front"]["ignore"], 1, "{}", same.body);
    assert!(
        same.body.get("failed_placements").is_none(),
        "{}",
        same.body
    );

    let plan = s
        .post("/v1/job/planned/plan", json!({ "job": job("planned", 2) }))
        .await;
    let front = &plan.body["groups"]["front"];
    // A count change updates the running allocation in place.
    assert_eq!(
        (
            front["create"].as_u64(),
            front["in_place_update"].as_u64(),
            front["destructive_update"].as_u64()
        ),
        (Some(1), Some(1), Some(0)),
        "{}",
        plan.body
    );
    let failure = &plan.body["failed_placements"]["front"];
    assert_eq!(failure["nodes_evaluated"], 1, "{}", plan.body);
    let filtered = failure["nodes_filtered"].as_object().expect("reasons");
    assert!(
        filtered.keys().any(|k| k.contains("datacenter")),
        "{}",
        plan.body
    );
}

#[tokio::test]
async fn a_name_registered_again_after_a_purge_starts_a_new_history() {
    let s = start().await;
    s.post("/v1/jobs", json!({ "job": job("again", 1) })).await;
    s.post(
        "/v1/job/again/scale",
        json!({ "group": "front", "count": 2 }),
    )
    .await;
    s.delete("/v1/job/again?purge=true").await;
    // What the job controller does once the allocations are terminal.
    let key = s.store.keys().job("default", "again");
    s.store
        .delete_raw(&key, drover_store::Guard::None)
        .await
        .expect("purge");
    let fresh = s.post("/v1/jobs", json!({ "job": job("again", 3) })).await;
    assert_eq!(
        (fresh.status, fresh.body["version"].as_u64()),
        (200, Some(0))
    );
    let versions = s.get("/v1/job/again/versions").await;
    let list = versions.body["versions"].as_array().expect("versions");
    assert_eq!(list.len(), 1, "{}", versions.body);
    assert_eq!(count_of(&list[0]["job"]), 3);

    let listed = s.get("/v1/jobs?prefix=ag").await;
    let names: Vec<&str> = listed
        .body
        .as_array()
        .expect("jobs")
        .iter()
        .filter_map(|j| j["metadata"]["name"].as_str())
        .collect();
    assert_eq!(names, vec!["again"]);
}
