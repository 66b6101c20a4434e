//! The cluster endpoints (allocations, nodes, namespaces, logs, events,
//! OpenAPI) against a real etcd: the router is served in-process and the
//! state is written straight into the store, the way agents and
//! controllers write it.

use std::time::Duration;

use crate::common::{start, Server};
use drover_api_types::alloc::{AllocationStatus, Binding, ClientStatus};
use drover_api_types::node::{NodeScheduling, NodeState, NodeStatus};
use drover_api_types::{Allocation, Node, ObjectMeta};
use drover_store::Versioned;
use futures::StreamExt;
use serde_json::{json, Value};

/// Requests and fixtures as these tests make them.
trait Calls {
    async fn get(&self, path: &str) -> (u16, Value);
    async fn post(&self, path: &str, body: Value) -> (u16, Value);
    async fn delete(&self, path: &str) -> (u16, Value);
    async fn node(&self, id: &str, name: &str, http_addr: &str);
    async fn alloc(&self, id: &str, name: &str, job: &str, node: (&str, &str), cpu: i64);
    async fn status(&self, id: &str, client_status: ClientStatus);
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

    async fn delete(&self, path: &str) -> (u16, Value) {
        self.send(self.http.delete(self.url(path))).await.pair()
    }

    /// A node as its agent registers it, with a ready status.
    async fn node(&self, id: &str, name: &str, http_addr: &str) {
        let mut node = Node {
            metadata: ObjectMeta {
                name: name.into(),
                uid: id.into(),
                ..Default::default()
            },
            ..Default::default()
        };
        node.spec.datacenter = "dc1".into();
        node.spec.resources.cpu = 4000;
        node.spec.resources.memory = 8192;
        node.spec.http_addr = http_addr.into();
        let keys = self.store.keys();
        self.store
            .put_at(&keys.node(id), &node)
            .await
            .expect("node");
        let status = Versioned::new(NodeStatus {
            state: NodeState::Ready,
            ..Default::default()
        });
        self.store
            .put_at(&keys.node_status(id), &status)
            .await
            .expect("node status");
    }

    /// An allocation's spec, binding and status, each under its own key.
    async fn alloc(&self, id: &str, name: &str, job: &str, node: (&str, &str), cpu: i64) {
        let alloc = Allocation {
            metadata: ObjectMeta {
                name: name.into(),
                namespace: "default".into(),
                uid: id.into(),
                creation_timestamp: Some(chrono::Utc::now()),
                ..Default::default()
            },
            spec: drover_api_types::alloc::AllocationSpec {
                job_id: job.into(),
                task_group: "g".into(),
                ..Default::default()
            },
            ..Default::default()
        };
        let keys = self.store.keys();
        self.store
            .put_at(&keys.alloc("default", id), &alloc)
            .await
            .expect("alloc");
        let binding = Versioned::new(Binding {
            node_id: node.0.into(),
            node_name: node.1.into(),
            cpu,
            memory: 64,
            ..Default::default()
        });
        self.store
            .put_at(&keys.alloc_binding("default", id), &binding)
            .await
            .expect("binding");
        self.status(id, ClientStatus::Running).await;
    }

    async fn status(&self, id: &str, client_status: ClientStatus) {
        let status = Versioned::new(AllocationStatus {
            client_status,
            ..Default::default()
        });
        let keys = self.store.keys();
        let binding: Option<Versioned<Binding>> = self
            .store
            .get_at(&keys.alloc_binding("default", id))
            .await
            .expect("binding");
        let node = binding.as_ref().map(|b| b.value.node_id.as_str());
        self.store
            .put_at(&keys.alloc_status(node, "default", id), &status)
            .await
            .expect("status");
    }
}

fn ids(list: &Value) -> Vec<String> {
    let mut out: Vec<String> = list
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|v| v["id"].as_str().map(str::to_string))
        .collect();
    out.sort();
    out
}

async fn fixture() -> Server {
    let s = start().await;
    s.node("node-aaaa1", "alpha", "127.0.0.1:1").await;
    s.node("node-aaaa2", "beta", "").await;
    s.alloc("abc111", "web.g[0]", "web", ("node-aaaa1", "alpha"), 100)
        .await;
    s.alloc("abc222", "web.g[1]", "web", ("node-aaaa1", "alpha"), 250)
        .await;
    s.alloc("fff333", "api.g[0]", "api", ("node-aaaa2", "beta"), 500)
        .await;
    s
}

#[tokio::test]
async fn allocations_list_filter_and_resolve_prefixes() {
    let s = fixture().await;
    let (code, all) = s.get("/v1/allocations").await;
    assert_eq!(code, 200, "{all}");
    assert_eq!(ids(&all), ["abc111", "abc222", "fff333"]);
    let first = all
        .as_array()
        .and_then(|a| a.iter().find(|v| v["id"] == "abc111"))
        .expect("abc111");
    assert_eq!(first["node_name"], "alpha");
    assert_eq!(first["client_status"], "running");
    assert_eq!(first["job"], "web");
    let (_, on_alpha) = s.get("/v1/allocations?node=alpha").await;
    assert_eq!(ids(&on_alpha), ["abc111", "abc222"]);
    let (_, api) = s.get("/v1/allocations?job=api&namespace=*").await;
    assert_eq!(ids(&api), ["fff333"]);
    let (_, none) = s.get("/v1/allocations?namespace=prod").await;
    assert_eq!(ids(&none), Vec::<String>::new());

    let (code, one) = s.get("/v1/allocation/abc2").await;
    assert_eq!((code, one["id"].as_str()), (200, Some("abc222")));
    let (code, by_name) = s.get("/v1/allocation/api.g%5B0%5D").await;
    assert_eq!((code, by_name["id"].as_str()), (200, Some("fff333")));
    let (code, err) = s.get("/v1/allocation/abc").await;
    assert_eq!(code, 400, "{err}");
    let message = err["error"].as_str().expect("message");
    assert!(
        message.contains("abc111") && message.contains("abc222"),
        "{message}"
    );
    assert_eq!(err["field"], "id");
    let (code, _) = s.get("/v1/allocation/zzz").await;
    assert_eq!(code, 404);

    // A whole id is read by its keys: joined with its binding and status all the same.
    let uuid = "0123abcd-0000-4000-8000-00000000beef";
    s.alloc(uuid, "web.g[2]", "web", ("node-aaaa2", "beta"), 100)
        .await;
    let (code, one) = s.get(&format!("/v1/allocation/{uuid}")).await;
    assert_eq!(code, 200, "{one}");
    assert_eq!(
        (one["node_name"].as_str(), one["client_status"].as_str()),
        (Some("beta"), Some("running")),
        "{one}"
    );
    let (code, _) = s
        .get(&format!("/v1/allocation/{uuid}?namespace=prod"))
        .await;
    assert_eq!(code, 404, "not in the namespace asked");
    let (code, _) = s
        .get("/v1/allocation/0123abcd-0000-4000-8000-00000000dead")
        .await;
    assert_eq!(code, 404);
}

#[tokio::test]
async fn stopping_an_allocation_marks_it_for_replacement() {
    let s = fixture().await;
    let (code, r) = s.post("/v1/allocation/abc1/stop", json!({})).await;
    assert_eq!(code, 200, "{r}");
    assert_eq!(
        (r["id"].as_str(), r["changed"].as_bool()),
        (Some("abc111"), Some(true))
    );
    let spec: Allocation = s
        .store
        .get_at(&s.store.keys().alloc("default", "abc111"))
        .await
        .expect("read")
        .expect("present");
    assert!(spec.spec.migrate);
    let (_, again) = s.post("/v1/allocation/abc111/stop", json!({})).await;
    assert_eq!(again["changed"], false);
    s.status("fff333", ClientStatus::Complete).await;
    let (code, _) = s.post("/v1/allocation/fff333/stop", json!({})).await;
    assert_eq!(code, 409);
}

#[tokio::test]
async fn nodes_show_usage_and_resolve_by_name_or_prefix() {
    let s = fixture().await;
    s.status("abc222", ClientStatus::Complete).await;
    let (code, nodes) = s.get("/v1/nodes").await;
    assert_eq!(code, 200, "{nodes}");
    let alpha = &nodes[0];
    assert_eq!(alpha["name"], "alpha");
    assert_eq!(alpha["status"], "ready");
    assert_eq!(alpha["eligible"], true);
    assert_eq!(alpha["allocated"]["cpu"], 100);
    assert_eq!(alpha["allocations"], 1);

    let (code, detail) = s.get("/v1/node/beta").await;
    assert_eq!(code, 200, "{detail}");
    assert_eq!(detail["id"], "node-aaaa2");
    assert_eq!(ids(&detail["allocation_list"]), ["fff333"]);
    let (code, by_prefix) = s.get("/v1/node/node-aaaa1").await;
    assert_eq!((code, by_prefix["name"].as_str()), (200, Some("alpha")));
    let (code, err) = s.get("/v1/node/node-aaaa").await;
    assert_eq!(code, 400, "{err}");
}

async fn admin(s: &Server, id: &str) -> NodeScheduling {
    s.store
        .get_at::<Versioned<NodeScheduling>>(&s.store.keys().node_admin(id))
        .await
        .expect("read")
        .map(|v| v.value)
        .unwrap_or_default()
}

#[tokio::test]
async fn drain_and_eligibility_write_the_nodes_admin_key() {
    let s = fixture().await;
    let (code, r) = s
        .post(
            "/v1/node/alpha/drain",
            json!({"enable": true, "deadline": "30m", "ignore_system_jobs": true}),
        )
        .await;
    assert_eq!(code, 200, "{r}");
    let a = admin(&s, "node-aaaa1").await;
    let drain = a.drain.expect("draining");
    assert!(a.ineligible && drain.ignore_system_jobs);
    assert_eq!(drain.deadline.as_std(), Duration::from_secs(1800));
    let (_, nodes) = s.get("/v1/nodes").await;
    assert_eq!(nodes[0]["eligible"], false);
    assert!(nodes[0]["drain"].is_object());

    let (code, _) = s
        .post("/v1/node/alpha/eligibility", json!({"eligible": true}))
        .await;
    assert_eq!(code, 409);
    let (code, _) = s
        .post("/v1/node/alpha/drain", json!({"enable": false}))
        .await;
    assert_eq!(code, 200);
    assert_eq!(admin(&s, "node-aaaa1").await, NodeScheduling::default());
    let (code, r) = s
        .post(
            "/v1/node/node-aaaa2/eligibility",
            json!({"eligible": false}),
        )
        .await;
    assert_eq!((code, r["changed"].as_bool()), (200, Some(true)));
    assert!(admin(&s, "node-aaaa2").await.ineligible);
    let (code, err) = s
        .post(
            "/v1/node/alpha/drain",
            json!({"enable": true, "deadline": "soon"}),
        )
        .await;
    assert_eq!((code, err["field"].as_str()), (400, Some("deadline")));
}

#[tokio::test]
async fn namespaces_are_objects_jobs_need_and_deletion_waits_for() {
    let s = start().await;
    let job = |ns: &str| {
        let mut job = drover_api_types::mock::job("api", 1);
        job.metadata.namespace = ns.into();
        json!({ "job": job })
    };
    let (code, err) = s.post("/v1/jobs", job("web")).await;
    assert_eq!(code, 400, "{err}");
    assert_eq!(
        err["error"],
        "namespace \"web\" does not exist; create it with: drover namespace apply web"
    );
    let (code, _) = s.post("/v1/job/api/plan?namespace=web", job("web")).await;
    assert_eq!(code, 400, "plan says so too");
    let (code, v) = s
        .post("/v1/namespace/web", json!({"description": "the web team"}))
        .await;
    assert_eq!(code, 200, "{v}");
    let (code, _) = s.post("/v1/jobs", job("web")).await;
    assert_eq!(code, 200);
    let (code, v) = s.get("/v1/namespace/web").await;
    assert_eq!((code, v["jobs"].as_u64()), (200, Some(1)), "{v}");
    let (code, err) = s.delete("/v1/namespace/web").await;
    assert_eq!(code, 409, "{err}");
    assert!(err["error"]
        .as_str()
        .unwrap_or_default()
        .contains("still holds 1 job"));
    // Still there, not left marked: a new job may go in.
    let mut other = drover_api_types::mock::job("other", 1);
    other.metadata.namespace = "web".into();
    let (code, body) = s.post("/v1/jobs", json!({ "job": other })).await;
    assert_eq!(code, 200, "{body}");
    for name in ["api", "other"] {
        s.store
            .delete_raw(&s.store.keys().job("web", name), drover_store::Guard::None)
            .await
            .expect("job gone");
    }
    let (code, _) = s.delete("/v1/namespace/web").await;
    assert_eq!(code, 200);
    let (code, _) = s.get("/v1/namespace/web").await;
    assert_eq!(code, 404);
    let (code, _) = s.delete("/v1/namespace/default").await;
    assert_eq!(code, 400, "default stays");
    let (code, _) = s.post("/v1/namespace/a%2Fb", json!({})).await;
    assert_eq!(code, 400, "a name is plain");

    // A quota is checked, kept when left out, and removed by `{}`; a bad
    // one writes nothing.
    for bad in [
        json!({"memory": -1}),
        json!({"disk": 10}),
        json!({"cpu": "lots"}),
    ] {
        let (code, err) = s.post("/v1/namespace/db", json!({ "quota": bad })).await;
        assert_eq!(code, 400, "{bad}: {err}");
    }
    let (code, _) = s.get("/v1/namespace/db").await;
    assert_eq!(code, 404, "nothing written");
    let quota = json!({"cpu": 1000, "memory": 512, "allocations": 4});
    let (code, v) = s.post("/v1/namespace/db", json!({ "quota": quota })).await;
    assert_eq!((code, &v["quota"]), (200, &quota), "{v}");
    assert_eq!(v["used"], json!({"cpu": 0, "memory": 0, "allocations": 0}));
    let (_, v) = s
        .post("/v1/namespace/db", json!({"description": "databases"}))
        .await;
    assert_eq!(
        (&v["quota"], &v["description"]),
        (&quota, &json!("databases"))
    );
    let (_, v) = s.post("/v1/namespace/db", json!({"quota": {}})).await;
    assert!(v.get("quota").is_none(), "{v}");
    assert_eq!(v["description"], "databases");
}

#[tokio::test]
async fn namespaces_list_those_of_jobs_and_default() {
    let s = start().await;
    let keys = s.store.keys();
    for (ns, name) in [("prod", "web"), ("prod", "api"), ("dev", "web")] {
        // Only the keys matter to the namespace listing.
        s.store
            .put_raw(
                &keys.job(ns, name),
                b"{}".to_vec(),
                drover_store::Guard::None,
                None,
            )
            .await
            .expect("job");
    }
    let (code, v) = s.get("/v1/namespaces").await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(
        v,
        json!([
            {"name": "default", "jobs": 0, "exists": true},
            {"name": "dev", "jobs": 1, "exists": false},
            {"name": "prod", "jobs": 2, "exists": false}
        ])
    );
}

#[tokio::test]
async fn logs_are_proxied_from_the_agent_and_an_unreachable_agent_is_a_502() {
    let s = fixture().await;
    let (code, err) = s.get("/v1/allocation/abc111/logs/web").await;
    assert_eq!(code, 502, "{err}");
    let message = err["error"].as_str().expect("message");
    assert!(
        message.contains("alpha") && message.contains("127.0.0.1:1"),
        "{message}"
    );

    // A stand-in agent answering one task's logs.
    let agent = axum::Router::new().route(
        "/v1/client/logs/{alloc}/{task}",
        axum::routing::get(
            |axum::extract::Path((alloc, task)): axum::extract::Path<(String, String)>,
             axum::extract::RawQuery(q): axum::extract::RawQuery| async move {
                if task == "web" {
                    Ok(format!("{alloc} {task} {}\n", q.unwrap_or_default()))
                } else {
                    Err((
                        axum::http::StatusCode::NOT_FOUND,
                        axum::Json(json!({"error": "no container"})),
                    ))
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    tokio::spawn(async move { axum::serve(listener, agent).await });
    s.node("node-aaaa1", "alpha", &addr).await;

    let r = s
        .http
        .get(format!(
            "{}/v1/allocation/abc111/logs/web?tail=5&stderr",
            s.base
        ))
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status().as_u16(), 200);
    let body = r.text().await.expect("body");
    assert_eq!(body, "abc111 web follow=false&stderr=true&tail=5\n");
    let (code, err) = s.get("/v1/allocation/abc111/logs/db").await;
    assert_eq!(code, 404, "{err}");
    assert!(
        err["error"].as_str().expect("msg").contains("no container"),
        "{err}"
    );
    let (code, _) = s.get("/v1/allocation/fff333/logs/web").await;
    assert_eq!(code, 502, "beta advertises no address");
}

/// Reads NDJSON lines until one satisfies `want`.
async fn next_line(
    body: &mut (impl futures::Stream<Item = reqwest::Result<axum::body::Bytes>> + Unpin),
    buf: &mut String,
    want: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        while let Some(i) = buf.find('\n') {
            let line: String = buf.drain(..=i).collect();
            let v: Value = serde_json::from_str(line.trim()).expect("a JSON line");
            if want(&v) {
                return v;
            }
        }
        let chunk = tokio::time::timeout_at(deadline, body.next())
            .await
            .expect("an event in time")
            .expect("stream open")
            .expect("chunk");
        buf.push_str(std::str::from_utf8(&chunk).expect("utf-8"));
    }
}

#[tokio::test]
async fn the_event_stream_sends_changes_made_after_subscribing() {
    let s = fixture().await;
    let r = s
        .http
        .get(format!("{}/v1/event/stream?topic=Allocation", s.base))
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status().as_u16(), 200);
    let mut body = r.bytes_stream();
    let mut buf = String::new();
    // The first line is a heartbeat: once it arrives the subscription exists.
    next_line(&mut body, &mut buf, |v| v == &json!({})).await;
    s.node("node-aaaa2", "beta", "").await;
    s.status("abc111", ClientStatus::Failed).await;
    // Writes the feed had not yet passed on when the stream opened may come
    // first; every line must still be an Allocation event.
    let event = next_line(&mut body, &mut buf, |v| {
        if v["topic"].is_string() {
            assert_eq!(v["topic"], "Allocation", "nodes are filtered out: {v}");
        }
        v["collection"] == "allocations-status" && v["payload"]["client_status"] == "failed"
    })
    .await;
    assert_eq!(event["type"], "upsert");
    assert_eq!(event["key"], "abc111");
    assert_eq!(event["namespace"], "default");
    assert_eq!(event["collection"], "allocations-status");
    assert_eq!(event["payload"]["client_status"], "failed");
    assert!(event["revision"].as_i64().expect("revision") > 0);

    let (code, err) = s.get("/v1/event/stream?topic=Nope").await;
    assert_eq!((code, err["field"].as_str()), (400, Some("topic")));
}

#[tokio::test]
async fn every_documented_route_is_served() {
    let s = start().await;
    let (code, doc) = s.get("/v1/openapi.json").await;
    assert_eq!(code, 200);
    let paths = doc["paths"].as_object().expect("paths");
    let mut tried = 0;
    for (path, operations) in paths {
        for method in operations.as_object().expect("operations").keys() {
            tried += 1;
            // Every path parameter gets a value no object has, except the
            // health state, which must be one Consul knows.
            let concrete: String = path
                .split('/')
                .map(|segment| match segment {
                    "{state}" => "any",
                    s if s.starts_with('{') => "nope",
                    s => s,
                })
                .collect::<Vec<_>>()
                .join("/");
            let url = format!("{}{concrete}", s.base);
            let request = match method.as_str() {
                "get" => s.http.get(url),
                "post" => s.http.post(url).json(&json!({})),
                "delete" => s.http.delete(url),
                "put" => s.http.put(url).body("value"),
                other => panic!("untested method {other}"),
            };
            let r = tokio::time::timeout(Duration::from_secs(10), request.send())
                .await
                .expect("answered in time")
                .expect("sent");
            let status = r.status().as_u16();
            assert_ne!(status, 405, "{method} {path} is not served");
            if status == 404 && r.headers().contains_key("x-consul-index") {
                // Consul's KV answers a missing key with an empty 404.
                continue;
            }
            if status == 404 {
                // The router's own 404 names the route; a handler's names
                // what is missing.
                let body: Value = r.json().await.unwrap_or(Value::Null);
                let error = body["error"].as_str().unwrap_or_default();
                assert!(
                    !error.starts_with("no route"),
                    "{method} {path} is not served: {error}"
                );
            }
        }
    }
    assert!(tried > 40, "the document lists only {tried} operations");
}
