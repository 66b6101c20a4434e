//! The Consul-compatible catalog, health, agent and KV endpoints and
//! Nomad's service endpoints, against a real etcd: catalog objects are
//! written straight into the store (see `common`).

use std::time::{Duration, Instant};

use drover_api_types::node::NodeState;
use drover_test_support::wait::eventually;
use serde_json::Value;

use crate::common;

fn ids(entries: &Value, field: &[&str]) -> Vec<String> {
    let mut out: Vec<String> = entries
        .as_array()
        .expect("array")
        .iter()
        .map(|e| {
            let mut v = e;
            for f in field {
                v = &v[*f];
            }
            v.as_str().unwrap_or_default().to_string()
        })
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn catalog_endpoints_answer_in_consuls_shapes() {
    let s = common::start().await;
    s.scene().await;

    let services = s.json("/v1/catalog/services").await;
    assert_eq!(services["web"], serde_json::json!(["http", "v2"]));
    assert_eq!(services["db"], serde_json::json!(["sql"]));
    assert!(services.get("api").is_none(), "api lives in prod");
    let all_ns = s.json("/v1/catalog/services?ns=*").await;
    assert_eq!(all_ns["api"], serde_json::json!(["grpc"]));

    let web = s.json("/v1/catalog/service/web").await;
    assert_eq!(
        ids(&web, &["ServiceID"]),
        ["web-1", "web-2", "web-3", "web-4"]
    );
    let first = &web[0];
    assert_eq!(first["Node"], "alpha");
    assert_eq!(first["ID"], "n-alpha");
    assert_eq!(first["Address"], "10.0.0.1");
    assert_eq!(first["Datacenter"], "dc1");
    assert_eq!(first["TaggedAddresses"]["lan"], "10.0.0.1");
    assert_eq!(first["NodeMeta"]["rack"], "rack-alpha");
    assert_eq!(first["ServiceName"], "web");
    assert_eq!(first["ServiceAddress"], "127.0.0.1");
    assert_eq!(first["ServicePort"], 8001);
    assert_eq!(first["ServiceMeta"]["version"], "2");
    assert_eq!(first["ServiceEnableTagOverride"], false);
    assert_eq!(first["Namespace"], "default");
    assert!(first["ModifyIndex"].as_i64() > Some(0));
    let tagged = s.json("/v1/catalog/service/web?tag=v2").await;
    assert_eq!(ids(&tagged, &["ServiceID"]), ["web-1"]);
    let dc2 = s.json("/v1/catalog/service/web?dc=dc2").await;
    assert_eq!(ids(&dc2, &["ServiceID"]), ["web-4"]);
    let filtered = s
        .json("/v1/catalog/service/web?filter=ServicePort%20%3D%3D%208003")
        .await;
    assert_eq!(ids(&filtered, &["ServiceID"]), ["web-3"]);

    // Unknown services and nodes are empty answers, not errors.
    let (status, index, body) = s.consul_get("/v1/catalog/service/nope").await;
    assert_eq!((status, body.as_str()), (200, "[]"));
    assert!(index >= 1);
    assert_eq!(s.json("/v1/catalog/node/nope").await, Value::Null);

    let nodes = s.json("/v1/catalog/nodes").await;
    assert_eq!(ids(&nodes, &["Node"]), ["alpha", "beta", "gamma"]);
    assert_eq!(nodes[0]["Meta"]["rack"], "rack-alpha");
    let node = s.json("/v1/catalog/node/alpha").await;
    assert_eq!(node["Node"]["ID"], "n-alpha");
    let on_alpha: Vec<&String> = node["Services"].as_object().expect("map").keys().collect();
    assert_eq!(on_alpha, ["db-1", "web-1", "web-3"]);
    assert_eq!(node["Services"]["web-1"]["Service"], "web");
    assert_eq!(
        s.json("/v1/catalog/node/n-gamma").await["Node"]["Node"],
        "gamma"
    );
    assert_eq!(
        s.json("/v1/catalog/datacenters").await,
        serde_json::json!(["dc1", "dc2"])
    );

    let agent = s.json("/v1/agent/self").await;
    assert_eq!(
        agent["Config"]["Datacenter"], "dc1",
        "most nodes are in dc1"
    );
    assert!(agent["Config"]["NodeName"]
        .as_str()
        .is_some_and(|n| !n.is_empty()));
    assert!(agent["Config"]["Version"].is_string());
    assert!(agent["Member"].is_object());

    // Nomad's native service API reads the same registrations.
    let nomad = s.json("/v1/services?namespace=*").await;
    assert_eq!(nomad.as_array().map(Vec::len), Some(2), "{nomad}");
    assert_eq!(nomad[0]["Namespace"], "default");
    let r = s
        .http
        .get(format!("{}/v1/service/web", s.base))
        .send()
        .await
        .expect("GET");
    assert!(r.headers().contains_key("x-nomad-index"));
    let regs: Value = r.json().await.expect("json");
    assert_eq!(ids(&regs, &["ID"]), ["web-1", "web-2", "web-3", "web-4"]);
    assert_eq!(regs[0]["AllocID"], "alloc-web-1");
    assert_eq!(regs[0]["NodeID"], "n-alpha");
}

#[tokio::test]
async fn health_entries_filter_by_passing_tags_and_expressions() {
    let s = common::start().await;
    s.scene().await;

    let (status, index, body) = s.consul_get("/v1/health/service/web").await;
    assert_eq!(status, 200);
    assert!(index >= 1);
    let all: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(
        ids(&all, &["Service", "ID"]),
        ["web-1", "web-2", "web-3", "web-4"]
    );
    let e = &all[0];
    assert_eq!(e["Node"]["Node"], "alpha");
    assert_eq!(e["Node"]["Datacenter"], "dc1");
    assert_eq!(e["Service"]["Service"], "web");
    assert_eq!(e["Service"]["Tags"], serde_json::json!(["http", "v2"]));
    assert_eq!(e["Service"]["Port"], 8001);
    assert_eq!(e["Service"]["Namespace"], "default");
    assert_eq!(e["Checks"][0]["CheckID"], "serfHealth");
    assert_eq!(e["Checks"][0]["Status"], "passing");
    assert_eq!(e["Checks"][1]["ServiceID"], "web-1");
    assert_eq!(e["Checks"][1]["Output"], "passing output");

    // passing: web-3 warns, web-2's node is down; web-4 has no checks.
    let passing = s.json("/v1/health/service/web?passing").await;
    assert_eq!(ids(&passing, &["Service", "ID"]), ["web-1", "web-4"]);
    let passing = s
        .json("/v1/health/service/web?passing=true&tag=http&tag=v2")
        .await;
    assert_eq!(ids(&passing, &["Service", "ID"]), ["web-1"]);
    assert_eq!(
        s.json("/v1/health/service/web?tag=http&tag=nope").await,
        serde_json::json!([])
    );

    let cases = [
        (r#"Service.Tags contains "v2""#, vec!["web-1"]),
        (
            r#"Service.Meta.version == "2" and Node.Node == "beta""#,
            vec!["web-2"],
        ),
        (r#"Checks.Status == "warning""#, vec!["web-3"]),
        (
            r#"Service.ID != "web-1" and not Node.Node == "alpha""#,
            vec!["web-2", "web-4"],
        ),
        (
            r#""v2" in Service.Tags or Node.Datacenter == "dc2""#,
            vec!["web-1", "web-4"],
        ),
        (
            "Service.Meta.missing is empty and Service.Tags is not empty",
            vec!["web-1", "web-2", "web-3", "web-4"],
        ),
    ];
    for (filter, want) in cases {
        let url = reqwest::Url::parse_with_params(
            &format!("{}/v1/health/service/web", s.base),
            &[("filter", filter)],
        )
        .expect("url");
        let got: Value = s
            .http
            .get(url)
            .send()
            .await
            .expect("GET")
            .json()
            .await
            .expect("json");
        assert_eq!(ids(&got, &["Service", "ID"]), want, "{filter}");
    }
    let url = reqwest::Url::parse_with_params(
        &format!("{}/v1/health/service/web", s.base),
        &[("filter", "Service.Bogus == x")],
    )
    .expect("url");
    let r = s.http.get(url).send().await.expect("GET");
    assert_eq!(r.status().as_u16(), 400);
    let text = r.text().await.expect("body");
    assert!(
        text.contains("Failed to create boolean expression evaluator"),
        "{text}"
    );
    assert!(text.contains("Service.Bogus"), "{text}");
    let (status, _, _) = s
        .consul_get("/v1/health/service/web?filter=Service.ID%20%3D%3D")
        .await;
    assert_eq!(status, 400);

    let prod = s.json("/v1/health/service/api?ns=prod").await;
    assert_eq!(ids(&prod, &["Service", "ID"]), ["api-1"]);
    assert_eq!(
        s.json("/v1/health/service/api").await,
        serde_json::json!([])
    );

    let critical = s.json("/v1/health/state/critical").await;
    assert_eq!(ids(&critical, &["Node"]), ["beta"], "beta's serfHealth");
    assert_eq!(critical[0]["CheckID"], "serfHealth");
    let warning = s.json("/v1/health/state/warning").await;
    assert_eq!(ids(&warning, &["ServiceID"]), ["web-3"]);
    let any = s.json("/v1/health/state/any").await;
    // Three serfHealth checks, and web-1/2/3's checks (db-1 has none).
    assert_eq!(any.as_array().map(Vec::len), Some(6), "{any}");
    let (status, _, body) = s.consul_get("/v1/health/state/bogus").await;
    assert_eq!(status, 400, "{body}");

    let checks = s.json("/v1/health/checks/web").await;
    assert_eq!(ids(&checks, &["ServiceID"]), ["web-1", "web-2", "web-3"]);
    let node = s.json("/v1/health/node/beta").await;
    assert_eq!(ids(&node, &["CheckID"]), ["serfHealth", "web-2-check-0"]);
    assert_eq!(s.json("/v1/health/node/nope").await, serde_json::json!([]));

    // A node coming back makes its instances pass again.
    s.node_state("n-beta", NodeState::Ready).await;
    eventually(10, "web-2 to pass once beta is ready", || async {
        let passing = s.json("/v1/health/service/web?passing").await;
        (ids(&passing, &["Service", "ID"]) == ["web-1", "web-2", "web-4"]).then_some(())
    })
    .await;
}

#[tokio::test]
async fn blocking_queries_wait_for_a_change_or_time_out() {
    let s = common::start().await;
    s.scene().await;
    let (_, first, _) = s.consul_get("/v1/health/service/web").await;
    assert!(first >= 1);

    // Nothing changes: the wait runs out and the index stays.
    let started = Instant::now();
    let (status, index, _) = s
        .consul_get(&format!("/v1/health/service/web?index={first}&wait=1s"))
        .await;
    assert_eq!((status, index), (200, first));
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );

    // A change wakes it well before the wait.
    let writer = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        s.service(
            "default",
            "web-5",
            "web",
            ("n-alpha", "alpha"),
            8005,
            &[],
            &[],
        )
        .await;
    };
    let started = Instant::now();
    let path = format!("/v1/health/service/web?index={first}&wait=30s");
    let reader = s.consul_get(&path);
    let ((status, index, body), ()) = tokio::join!(reader, writer);
    assert_eq!(status, 200);
    assert!(index > first, "{index} > {first}");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(body.contains("web-5"), "{body}");

    // The index never goes back, deletes included.
    s.delete_service("default", "web-5").await;
    let (_, after_delete, body) = s
        .consul_get(&format!("/v1/catalog/service/web?index={index}&wait=10s"))
        .await;
    assert!(after_delete > index);
    assert!(!body.contains("web-5"));
    let (_, later, _) = s.consul_get("/v1/catalog/services").await;
    assert!(later >= after_delete);

    let (status, _, body) = s.consul_get("/v1/catalog/services?index=1&wait=soon").await;
    assert_eq!(status, 400, "{body}");
    let r = s
        .http
        .get(format!(
            "{}/v1/catalog/services?stale&consistent&cached",
            s.base
        ))
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status().as_u16(), 200);
    for header in [
        "x-consul-index",
        "x-consul-knownleader",
        "x-consul-lastcontact",
        "x-consul-effective-consistency",
    ] {
        assert!(r.headers().contains_key(header), "{header}");
    }
    assert_eq!(r.headers()["x-consul-knownleader"], "true");
}

async fn put(s: &common::Server, path: &str, body: &'static [u8]) -> (u16, String) {
    let r = s
        .http
        .put(format!("{}{path}", s.base))
        .body(body)
        .send()
        .await
        .expect("PUT");
    (r.status().as_u16(), r.text().await.expect("body"))
}

async fn delete(s: &common::Server, path: &str) -> String {
    let r = s
        .http
        .delete(format!("{}{path}", s.base))
        .send()
        .await
        .expect("DELETE");
    assert_eq!(r.status().as_u16(), 200);
    r.text().await.expect("body")
}

#[tokio::test]
async fn kv_reads_writes_cas_flags_and_listings() {
    let s = common::start().await;

    let (status, index, body) = s.consul_get("/v1/kv/app/config").await;
    assert_eq!((status, body.as_str()), (404, ""));
    assert!(index >= 1, "a 404 carries the index");

    assert_eq!(
        put(&s, "/v1/kv/app/config?flags=42", b"hello").await,
        (200, "true".into())
    );
    let entry = s.json("/v1/kv/app/config").await;
    assert_eq!(entry[0]["Key"], "app/config");
    assert_eq!(entry[0]["Value"], "aGVsbG8=");
    assert_eq!(entry[0]["Flags"], 42);
    assert_eq!(entry[0]["LockIndex"], 0);
    let modify = entry[0]["ModifyIndex"].as_i64().expect("ModifyIndex");
    assert_eq!(entry[0]["CreateIndex"].as_i64(), Some(modify));
    let (_, index, raw) = s.consul_get("/v1/kv/app/config?raw").await;
    assert_eq!(raw, "hello");
    assert!(index >= modify);

    // Exact bytes come back from raw.
    let binary: &'static [u8] = &[0, 1, 2, 255, b'\n'];
    assert_eq!(put(&s, "/v1/kv/bin", binary).await.1, "true");
    let r = s
        .http
        .get(format!("{}/v1/kv/bin?raw", s.base))
        .send()
        .await
        .expect("GET");
    assert_eq!(r.bytes().await.expect("bytes").as_ref(), binary);

    // cas=0 only creates; cas=N only if N is still the ModifyIndex.
    assert_eq!(put(&s, "/v1/kv/app/config?cas=0", b"x").await.1, "false");
    assert_eq!(put(&s, "/v1/kv/app/new?cas=0", b"x").await.1, "true");
    assert_eq!(
        put(
            &s,
            &format!("/v1/kv/app/config?cas={}", modify + 1000),
            b"x"
        )
        .await
        .1,
        "false"
    );
    assert_eq!(
        put(&s, &format!("/v1/kv/app/config?cas={modify}"), b"v2")
            .await
            .1,
        "true"
    );
    let entry = s.json("/v1/kv/app/config").await;
    assert_eq!(entry[0]["Value"], "djI=");
    assert_eq!(entry[0]["Flags"], 0, "flags are per write");
    assert_eq!(entry[0]["CreateIndex"].as_i64(), Some(modify));
    assert!(entry[0]["ModifyIndex"].as_i64() > Some(modify));
    assert_eq!(
        put(&s, &format!("/v1/kv/app/config?cas={modify}"), b"v3")
            .await
            .1,
        "false"
    );

    // An empty body is Consul's null value.
    put(&s, "/v1/kv/app/empty", b"").await;
    assert_eq!(s.json("/v1/kv/app/empty").await[0]["Value"], Value::Null);

    put(&s, "/v1/kv/app/sub/a", b"1").await;
    put(&s, "/v1/kv/app/sub/b", b"2").await;
    put(&s, "/v1/kv/apple", b"3").await;
    let recurse = s.json("/v1/kv/app/?recurse").await;
    assert_eq!(
        ids(&recurse, &["Key"]),
        [
            "app/config",
            "app/empty",
            "app/new",
            "app/sub/a",
            "app/sub/b"
        ]
    );
    let keys = s.json("/v1/kv/app/?keys&separator=/").await;
    assert_eq!(
        keys,
        serde_json::json!(["app/config", "app/empty", "app/new", "app/sub/"])
    );
    let keys = s.json("/v1/kv/app?keys&separator=/").await;
    assert_eq!(keys, serde_json::json!(["app/", "apple"]));
    let all = s.json("/v1/kv/?keys").await;
    assert_eq!(all.as_array().map(Vec::len), Some(7));
    let (status, _, _) = s.consul_get("/v1/kv/nothing/?recurse").await;
    assert_eq!(status, 404);

    // Deletes: cas guards them, recurse takes a prefix.
    let new = s.json("/v1/kv/app/new").await[0]["ModifyIndex"]
        .as_i64()
        .expect("index");
    assert_eq!(
        delete(&s, &format!("/v1/kv/app/new?cas={}", new + 1000)).await,
        "false"
    );
    assert_eq!(
        delete(&s, &format!("/v1/kv/app/new?cas={new}")).await,
        "true"
    );
    assert_eq!(s.consul_get("/v1/kv/app/new").await.0, 404);
    assert_eq!(
        delete(&s, "/v1/kv/app/new?cas=5").await,
        "true",
        "nothing to delete"
    );
    assert_eq!(delete(&s, "/v1/kv/app/sub?recurse").await, "true");
    assert_eq!(s.consul_get("/v1/kv/app/sub/a").await.0, 404);
    assert_eq!(delete(&s, "/v1/kv/bin").await, "true");
    assert_eq!(s.consul_get("/v1/kv/bin").await.0, 404);

    // Consul's limits and refusals, as plain text.
    let big = vec![b'x'; 512 * 1024 + 1];
    let r = s
        .http
        .put(format!("{}/v1/kv/big", s.base))
        .body(big)
        .send()
        .await
        .expect("PUT");
    assert_eq!(r.status().as_u16(), 413);
    assert!(r.text().await.expect("body").contains("too large"));
    assert_eq!(put(&s, "/v1/kv/lock?acquire=abc", b"x").await.0, 400);
    assert_eq!(put(&s, "/v1/kv/?cas=0", b"x").await.0, 400);
    assert_eq!(put(&s, "/v1/kv/x?flags=nope", b"x").await.0, 400);
}

#[tokio::test]
async fn kv_blocking_reads_return_on_a_write() {
    let s = common::start().await;
    put(&s, "/v1/kv/watched", b"one").await;
    let (_, index, _) = s.consul_get("/v1/kv/watched").await;

    let started = Instant::now();
    let (status, same, _) = s
        .consul_get(&format!("/v1/kv/watched?index={index}&wait=1s"))
        .await;
    assert_eq!((status, same), (200, index));
    assert!(started.elapsed() >= Duration::from_millis(900));

    let writer = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        put(&s, "/v1/kv/watched", b"two").await;
    };
    let path = format!("/v1/kv/watched?index={index}&wait=30s&raw");
    let reader = s.consul_get(&path);
    let started = Instant::now();
    let ((status, next, body), ()) = tokio::join!(reader, writer);
    assert_eq!((status, body.as_str()), (200, "two"));
    assert!(next > index);
    assert!(started.elapsed() < Duration::from_secs(10));
}
