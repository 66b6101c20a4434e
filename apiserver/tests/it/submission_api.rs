//! A job's file as submitted, against a real etcd: kept with the version
//! it registered, credentials taken out, carried by a revert, absent for
//! a version written without one, and gone with an earlier history of
//! the name.

use crate::common::{start, Server};
use drover_api_types::jobspec::{parse_str, ParseOptions};
use drover_store::Guard;
use serde_json::{json, Value};

/// A job file whose task pulls with registry credentials.
fn file(count: u32) -> String {
    format!(
        r#"job "web" {{
  datacenters = ["dc1"]
  group "front" {{
    count = {count}
    task "app" {{
      driver = "docker"
      config {{
        image = "registry.example/app:1"
        auth {{
          username = "ci"
          password = "pa55-w0rd"
        }}
      }}
    }}
  }}
}}
"#
    )
}

fn job_of(source: &str) -> Value {
    let loaded = parse_str("web.nomad", source, &ParseOptions::default()).expect("parse");
    let job = loaded.jobs.into_iter().next().expect("one job");
    serde_json::to_value(job).expect("json")
}

async fn post(s: &Server, path: &str, body: Value) -> (u16, Value) {
    s.send(s.http.post(s.url(path)).json(&body)).await.pair()
}

async fn get(s: &Server, path: &str) -> (u16, Value) {
    s.send(s.http.get(s.url(path))).await.pair()
}

async fn register_file(s: &Server, source: &str, vars: Value) -> Value {
    let body = json!({
        "job": job_of(source),
        "submission": {"source": source, "format": "hcl2", "variable_flags": vars},
    });
    let (status, answer) = post(s, "/v1/jobs", body).await;
    assert_eq!(status, 200, "{answer}");
    answer
}

#[tokio::test]
async fn a_version_keeps_its_file_and_gives_it_back_without_credentials() {
    let s = start().await;
    register_file(&s, &file(1), json!({"region": "eu", "token": "pa55-w0rd"})).await;

    let (status, body) = get(&s, "/v1/job/web/submission").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["version"], 0);
    let source = body["submission"]["source"].as_str().expect("source");
    assert!(source.contains("password = \"<redacted>\""), "{source}");
    assert!(source.contains("count = 1"), "{source}");
    assert!(!body.to_string().contains("pa55-w0rd"), "{body}");
    assert_eq!(body["submission"]["variable_flags"]["region"], "eu");
    assert_eq!(body["submission"]["format"], "hcl2");
    // The job itself still has the credential the agent pulls with.
    let stored: drover_api_types::Job = s
        .store
        .get("default", "web")
        .await
        .expect("get")
        .expect("job");
    assert!(serde_json::to_string(&stored)
        .expect("json")
        .contains("pa55-w0rd"));

    // Version 1 through the API without a file: it has none, version 0 keeps its own.
    let (status, answer) = post(&s, "/v1/jobs", json!({"job": job_of(&file(2))})).await;
    assert_eq!(
        (status, answer["version"].as_u64()),
        (200, Some(1)),
        "{answer}"
    );
    let (status, body) = get(&s, "/v1/job/web/submission").await;
    assert_eq!(status, 404, "{body}");
    assert!(
        body["error"].as_str().unwrap_or("").contains("without one"),
        "{body}"
    );
    let (status, body) = get(&s, "/v1/job/web/submission?version=0").await;
    assert_eq!(status, 200, "{body}");

    // A revert to version 0 brings its file along as version 2's.
    let (status, answer) = post(&s, "/v1/job/web/revert", json!({"job_version": 0})).await;
    assert_eq!(
        (status, answer["version"].as_u64()),
        (200, Some(2)),
        "{answer}"
    );
    let (status, body) = get(&s, "/v1/job/web/submission").await;
    assert_eq!((status, body["version"].as_u64()), (200, Some(2)), "{body}");
    assert!(body["submission"]["source"]
        .as_str()
        .unwrap_or("")
        .contains("count = 1"));

    // A scale makes a version the file no longer describes.
    let (status, answer) = post(
        &s,
        "/v1/job/web/scale",
        json!({"group": "front", "count": 4}),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let (status, _) = get(&s, "/v1/job/web/submission").await;
    assert_eq!(status, 404);

    // Bad asks.
    let (status, body) = get(&s, "/v1/job/web/submission?version=x").await;
    assert_eq!(status, 400, "{body}");
    let (status, _) = get(&s, "/v1/job/nope/submission").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_submission_past_its_bounds_registers_nothing() {
    let s = start().await;
    let huge = format!(
        "{}\n# {}\n",
        file(1),
        "x".repeat(drover_api::jobs::MAX_SUBMISSION_SOURCE)
    );
    let body = json!({
        "job": job_of(&file(1)),
        "submission": {"source": huge, "format": "hcl2"},
    });
    let (status, answer) = post(&s, "/v1/jobs", body).await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["field"], "submission", "{answer}");
    let body = json!({
        "job": job_of(&file(1)),
        "submission": {"source": file(1), "format": "toml"},
    });
    let (status, answer) = post(&s, "/v1/jobs", body).await;
    assert_eq!(status, 400, "{answer}");
    let stored: Option<drover_api_types::Job> = s.store.get("default", "web").await.expect("get");
    assert!(stored.is_none(), "a refused registration writes nothing");
}

#[tokio::test]
async fn a_name_registered_again_does_not_show_the_old_history_files() {
    let s = start().await;
    register_file(&s, &file(1), json!({})).await;
    register_file(&s, &file(2), json!({})).await;
    // The job is gone (as after a purge), its history left behind.
    let keys = s.store.keys();
    s.store
        .delete_raw(&keys.job("default", "web"), Guard::None)
        .await
        .expect("delete");
    let (status, answer) = post(&s, "/v1/jobs", json!({"job": job_of(&file(3))})).await;
    assert_eq!(
        (status, answer["version"].as_u64()),
        (200, Some(0)),
        "{answer}"
    );
    let (status, body) = get(&s, "/v1/job/web/submission").await;
    assert_eq!(status, 404, "the new version 0 has no file: {body}");
    let left = s
        .store
        .list_keys(&keys.job_sources_prefix("default", "web"))
        .await
        .expect("list");
    assert!(left.items.is_empty(), "{:?}", left.items);
}

#[tokio::test]
async fn the_ui_shows_the_file_and_the_editor_opens_it() {
    let s = start().await;
    let text = format!("# kept as written\n{}", file(1));
    register_file(&s, &text, json!({"region": "eu"})).await;
    let html = |path: &'static str| {
        let request = s.http.get(s.url(path));
        async move {
            let response = request.send().await.expect("GET");
            assert_eq!(response.status(), 200, "{path}");
            response.text().await.expect("body")
        }
    };
    let definition = html("/ui/job/default/web/definition").await;
    assert!(definition.contains("As submitted"), "{definition}");
    assert!(definition.contains("# kept as written"), "{definition}");
    assert!(definition.contains("region=eu"), "{definition}");
    assert!(!definition.contains("pa55-w0rd"), "{definition}");
    let editor = html("/ui/run?namespace=default&job=web").await;
    assert!(
        editor.contains("# kept as written"),
        "the editor opens the file: {editor}"
    );
    assert!(editor.contains("region=eu"), "with its variables: {editor}");

    // What the editor's Run button sends carries the file it planned.
    let planned = s
        .http
        .post(s.url("/ui/plan"))
        .json(&json!({
            "source": format!("variable \"region\" {{\n  default = \"eu\"\n}}\n{}", file(3)),
            "variables": "region=us",
        }))
        .send()
        .await
        .expect("plan");
    let status = planned.status();
    let plan = planned.text().await.expect("body");
    assert_eq!(status, 200, "{plan}");
    assert!(plan.contains("&quot;submission&quot;"), "{plan}");
    assert!(plan.contains("&quot;region&quot;:&quot;us&quot;"), "{plan}");
}
