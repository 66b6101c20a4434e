//! The OpenAPI document against real tools and real answers: the API
//! served in-process on a real etcd answers a job's registration, reads,
//! plan, versions and an error; `openapi-spec-validator` checks the
//! document and `jsonschema` checks every answer against the schema the
//! document gives its route (tests/clients/openapi_check.py).

use std::process::Command;

use drover_api_types::node::NodeState;
use serde_json::{json, Value};

use crate::common::start;

#[tokio::test]
async fn answers_match_the_schemas_the_document_gives_them() {
    let server = start().await;
    server
        .catalog_node("n1", "alpha", "dc1", "127.0.0.1", NodeState::Ready)
        .await;
    let http = &server.http;
    let base = &server.base;
    let mut answers: Vec<Value> = Vec::new();
    let mut record = |method: &str, path: &str, status: u16, body: Value| {
        answers.push(json!({"method": method, "path": path, "status": status, "body": body}));
    };

    let job = serde_json::to_value(drover_api_types::mock::job("web", 2)).expect("job json");
    let mut bigger = job.clone();
    bigger["spec"]["groups"][0]["count"] = json!(3);
    for body in [&job, &bigger] {
        let r = http
            .post(format!("{base}/v1/jobs"))
            .json(&json!({"job": body}))
            .send()
            .await
            .expect("register");
        let status = r.status().as_u16();
        record("post", "/v1/jobs", status, r.json().await.expect("json"));
        assert_eq!(status, 200);
    }
    let r = http
        .post(format!("{base}/v1/job/web/plan"))
        .json(&json!({"job": job}))
        .send()
        .await
        .expect("plan");
    record(
        "post",
        "/v1/job/{name}/plan",
        r.status().as_u16(),
        r.json().await.expect("json"),
    );
    for (path, template) in [
        ("/v1/jobs", "/v1/jobs"),
        ("/v1/job/web", "/v1/job/{name}"),
        ("/v1/job/web/versions?diffs=true", "/v1/job/{name}/versions"),
        ("/v1/job/web/deployment", "/v1/job/{name}/deployment"),
        ("/v1/job/web/deployments", "/v1/job/{name}/deployments"),
        ("/v1/deployments", "/v1/deployments"),
        ("/v1/allocations", "/v1/allocations"),
        ("/v1/nodes", "/v1/nodes"),
        ("/v1/node/n1", "/v1/node/{id}"),
        ("/v1/namespaces", "/v1/namespaces"),
        ("/v1/job/no-such-job", "/v1/job/{name}"),
    ] {
        let r = http
            .get(format!("{base}{path}"))
            .send()
            .await
            .expect("read");
        record(
            "get",
            template,
            r.status().as_u16(),
            r.json().await.expect("json"),
        );
    }
    let last = answers.last().expect("answers");
    assert_eq!(last["status"], 404, "the error case: {last}");

    let doc: Value = http
        .get(format!("{base}/v1/openapi.json"))
        .send()
        .await
        .expect("document")
        .json()
        .await
        .expect("json");
    let dir = tempfile::tempdir().expect("tempdir");
    let doc_path = dir.path().join("openapi.json");
    let answers_path = dir.path().join("answers.json");
    std::fs::write(&doc_path, doc.to_string()).expect("write document");
    std::fs::write(&answers_path, Value::Array(answers).to_string()).expect("write answers");
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/clients/openapi_check.py"
    );
    let out = Command::new("python3")
        .arg(script)
        .arg(&doc_path)
        .arg(&answers_path)
        .output()
        .expect("python3 runs (make test installs openapi-spec-validator and jsonschema)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(out.status.success(), "openapi_check.py: {stdout}{stderr}");

    // And it can tell: an answer that is not what the route says is refused.
    let wrong = json!([{"method": "post", "path": "/v1/jobs", "status": 200,
                        "body": {"index": "seven", "version": 1, "changed": true}}]);
    std::fs::write(&answers_path, wrong.to_string()).expect("write answers");
    let out = Command::new("python3")
        .arg(script)
        .arg(&doc_path)
        .arg(&answers_path)
        .output()
        .expect("python3 runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "a string index passed the schema");
    assert!(stderr.contains("at index"), "{stderr}");
}
