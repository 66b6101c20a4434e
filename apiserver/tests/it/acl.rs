//! ACLs on a real etcd through the real router: bootstrap once, every
//! documented route against no token, a token without its capability, a
//! token with exactly it and a management token (a denial is a 403 that
//! writes nothing), a team's token kept to its namespace, expiry.

use std::collections::BTreeMap;
use std::time::Duration;

use drover_api_types::node::NodeState;
use drover_test_support::wait::eventually;
use serde_json::{json, Value};

use crate::common::{start_with_acl, Server};

/// Every key under the test's prefix with its revision.
async fn snapshot(s: &Server) -> BTreeMap<String, i64> {
    let prefix = format!("{}/", s.store.keys().prefix());
    s.store
        .list_keys(&prefix)
        .await
        .expect("keys")
        .items
        .into_iter()
        .map(|kv| (kv.key, kv.mod_revision))
        .collect()
}

pub(crate) async fn call(
    s: &Server,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, String) {
    let url = s.url(path);
    let mut request = match method {
        "get" => s.http.get(url),
        "post" => s.http.post(url).json(&body.unwrap_or_else(|| json!({}))),
        "delete" => s.http.delete(url),
        "put" => s.http.put(url).body("value"),
        other => panic!("untested method {other}"),
    };
    if let Some(token) = token {
        request = request.header("X-Drover-Token", token);
    }
    let r = tokio::time::timeout(Duration::from_secs(10), request.send())
        .await
        .expect("answered in time")
        .expect("sent");
    let status = r.status().as_u16();
    // Streams (events, logs) would never end: the status is enough.
    let text = if path.contains("stream") {
        String::new()
    } else {
        r.text().await.unwrap_or_default()
    };
    (status, text)
}

pub(crate) async fn bootstrap(s: &Server) -> String {
    let (status, body) = call(s, "post", "/v1/acl/bootstrap", None, None).await;
    assert_eq!(status, 200, "{body}");
    let token: Value = serde_json::from_str(&body).expect("json");
    token["secret_id"].as_str().expect("secret").to_string()
}

/// A client token carrying one new policy with `rules`.
pub(crate) async fn token_with(s: &Server, root: &str, name: &str, rules: &str) -> String {
    let (status, body) = call(
        s,
        "post",
        &format!("/v1/acl/policy/{name}"),
        Some(root),
        Some(json!({"rules": rules})),
    )
    .await;
    assert_eq!(status, 200, "policy {name}: {body}");
    let (status, body) = call(
        s,
        "post",
        "/v1/acl/token",
        Some(root),
        Some(json!({"name": name, "policies": [name]})),
    )
    .await;
    assert_eq!(status, 200, "token {name}: {body}");
    let token: Value = serde_json::from_str(&body).expect("json");
    token["secret_id"].as_str().expect("secret").to_string()
}

/// Registers a mock job `name` in namespace `ns` as `token`.
pub(crate) async fn register(s: &Server, token: &str, ns: &str, name: &str) {
    let mut job = drover_api_types::mock::job(name, 1);
    job.metadata.namespace = ns.into();
    let (status, body) = call(
        s,
        "post",
        "/v1/jobs",
        Some(token),
        Some(json!({"job": job})),
    )
    .await;
    assert_eq!(status, 200, "register {ns}/{name}: {body}");
}

/// Creates namespace `name`.
pub(crate) async fn namespace(s: &Server, root: &str, name: &str) {
    let (status, body) = call(
        s,
        "post",
        &format!("/v1/namespace/{name}"),
        Some(root),
        Some(json!({})),
    )
    .await;
    assert_eq!(status, 200, "namespace {name}: {body}");
}

/// The policy that grants exactly the capability the document says a
/// route needs (in every namespace: which one is the other tests' matter).
fn rules_for(need: &str) -> Option<String> {
    let (kind, what) = need.split_once(':').unwrap_or((need, ""));
    match kind {
        "namespace" => Some(format!("namespace \"*\" {{ capabilities = [\"{what}\"] }}")),
        "node" | "agent" => Some(format!("{kind} {{ policy = \"{what}\" }}")),
        "key_prefix" => Some("key_prefix \"\" { policy = \"write\" }".into()),
        // Any token will do.
        "token" => Some("namespace \"elsewhere\" { policy = \"read\" }".into()),
        _ => None,
    }
}

fn concrete(path: &str) -> String {
    path.split('/')
        .map(|segment| match segment {
            "{state}" => "any",
            s if s.starts_with('{') => "nope",
            s => s,
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[tokio::test]
async fn every_route_refuses_what_the_token_does_not_allow_and_writes_nothing() {
    let s = start_with_acl().await;
    let root = bootstrap(&s).await;
    let (status, body) = call(&s, "post", "/v1/acl/bootstrap", None, None).await;
    assert_eq!(status, 400, "a second bootstrap: {body}");
    assert!(body.contains("already done"), "{body}");

    let (status, doc) = call(&s, "get", "/v1/openapi.json", Some(&root), None).await;
    assert_eq!(status, 200);
    let doc: Value = serde_json::from_str(&doc).expect("document");
    // A token that may do something, but nothing any route here needs.
    let unrelated = token_with(
        &s,
        &root,
        "unrelated",
        "namespace \"elsewhere\" { policy = \"read\" }",
    )
    .await;

    let mut tried = 0;
    let mut routes: Vec<(String, String, String)> = Vec::new();
    for (path, ops) in doc["paths"].as_object().expect("paths") {
        for (method, op) in ops.as_object().expect("ops") {
            let need = op["x-drover-acl"]
                .as_str()
                .expect("every route says")
                .to_string();
            routes.push((path.clone(), method.clone(), need));
        }
    }
    for (i, (path, method, need)) in routes.iter().enumerate() {
        // The bootstrap is done; a second one is tried above.
        if path == "/v1/acl/bootstrap" {
            continue;
        }
        let url = concrete(path);
        tried += 1;
        for (who, token) in [("no token", None), ("an unrelated token", Some(&unrelated))] {
            let expect_denied = match need.as_str() {
                "public" => false,
                "token" => token.is_none(),
                _ => true,
            };
            let before = snapshot(&s).await;
            let (status, body) = call(&s, method, &url, token.map(String::as_str), None).await;
            if expect_denied {
                assert_eq!(status, 403, "{method} {path} ({need}) with {who}: {body}");
                assert_eq!(
                    snapshot(&s).await,
                    before,
                    "{method} {path} with {who} was denied but wrote"
                );
            } else {
                assert_ne!(status, 403, "{method} {path} ({need}) with {who}: {body}");
            }
        }
        if let Some(rules) = rules_for(need) {
            let token = token_with(&s, &root, &format!("exact-{i}"), &rules).await;
            let (status, body) = call(&s, method, &url, Some(&token), None).await;
            assert_ne!(status, 403, "{method} {path} with exactly {need}: {body}");
        }
        let (status, body) = call(&s, method, &url, Some(&root), None).await;
        assert_ne!(status, 403, "{method} {path} with management: {body}");
    }
    assert!(tried > 45, "only {tried} routes tried");
}

#[tokio::test]
async fn a_team_token_is_kept_to_its_namespace() {
    let s = start_with_acl().await;
    let root = bootstrap(&s).await;
    let web = token_with(&s, &root, "web", "namespace \"web\" { policy = \"write\" }").await;
    for ns in ["web", "db"] {
        namespace(&s, &root, ns).await;
        register(&s, &root, ns, &format!("{ns}-app")).await;
    }
    s.catalog_node("n1", "alpha", "dc1", "127.0.0.1", NodeState::Ready)
        .await;
    s.service(
        "db",
        "db-1",
        "postgres",
        ("n1", "alpha"),
        5432,
        &[],
        &["passing"],
    )
    .await;
    s.service(
        "web",
        "web-1",
        "frontend",
        ("n1", "alpha"),
        80,
        &[],
        &["passing"],
    )
    .await;

    // Its own namespace: read and write.
    let (status, _) = call(&s, "get", "/v1/job/web-app?namespace=web", Some(&web), None).await;
    assert_eq!(status, 200);
    let (status, body) = call(&s, "get", "/v1/jobs?namespace=*", Some(&web), None).await;
    assert_eq!(status, 200);
    let names: Vec<String> = serde_json::from_str::<Vec<Value>>(&body)
        .expect("jobs")
        .iter()
        .filter_map(|j| j["metadata"]["name"].as_str().map(str::to_string))
        .collect();
    assert_eq!(
        names,
        ["web-app"],
        "namespace=* lists only what it may read"
    );

    // Another namespace: nothing, whichever way it is asked.
    let before = snapshot(&s).await;
    for (method, path) in [
        ("get", "/v1/job/db-app?namespace=db"),
        ("get", "/v1/job/db-app/versions?namespace=db"),
        ("post", "/v1/job/db-app/stop?namespace=db"),
        ("delete", "/v1/job/db-app?namespace=db&purge=true"),
        ("post", "/v1/job/db-app/dispatch?namespace=db"),
        ("get", "/v1/allocation/x/logs?namespace=db"),
        ("post", "/v1/client/allocation/x/restart?namespace=db"),
        ("get", "/v1/client/allocation/x/stats?namespace=db"),
        ("get", "/v1/health/service/postgres?ns=db"),
        ("get", "/v1/catalog/service/postgres?ns=db"),
    ] {
        let (status, body) = call(&s, method, path, Some(&web), None).await;
        assert_eq!(status, 403, "{method} {path}: {body}");
    }
    // The namespace spelled so a check and a handler might read it apart.
    for (method, path, status) in [
        (
            "post",
            "/v1/job/db-app/stop?namespace=web&namespace=db",
            400,
        ),
        (
            "delete",
            "/v1/job/db-app?ns=web&namespace=db&purge=true",
            400,
        ),
        ("get", "/v1/job/db-app?namespace=d%62", 403),
        ("post", "/v1/job/db-app/scale?namespace=%64b", 403),
    ] {
        let (got, body) = call(&s, method, path, Some(&web), None).await;
        assert_eq!(got, status, "{method} {path}: {body}");
    }
    // A job file naming another namespace, sent to its own.
    let mut sneaky = drover_api_types::mock::job("db-app", 5);
    sneaky.metadata.namespace = "db".into();
    let (status, body) = call(
        &s,
        "post",
        "/v1/jobs?namespace=web",
        Some(&web),
        Some(json!({"job": sneaky})),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    let error: Value = serde_json::from_str(&body).expect("error body");
    assert_eq!(
        error["error"], "token \"web\" lacks submit-job on namespace \"db\"",
        "the denial says what was missing"
    );
    assert_eq!(snapshot(&s).await, before, "denied requests wrote");

    // The catalog across namespaces shows only its own services (once the
    // catalog's view has both: it follows etcd by a watch).
    eventually(10, "both services in the catalog", || async {
        let (_, body) = call(&s, "get", "/v1/catalog/services?ns=*", Some(&root), None).await;
        (body.contains("frontend") && body.contains("postgres")).then_some(())
    })
    .await;
    let (_, body) = call(&s, "get", "/v1/catalog/services?ns=*", Some(&web), None).await;
    let services: Value = serde_json::from_str(&body).expect("services");
    assert!(services.get("frontend").is_some(), "{services}");
    assert!(services.get("postgres").is_none(), "{services}");
    let (_, body) = call(&s, "get", "/v1/services?namespace=*", Some(&web), None).await;
    assert!(!body.contains("postgres"), "{body}");
}

#[tokio::test]
async fn tokens_expire_and_unknown_ones_are_refused() {
    let s = start_with_acl().await;
    let root = bootstrap(&s).await;
    let (status, _) = call(&s, "get", "/v1/jobs", Some("not-a-token"), None).await;
    assert_eq!(status, 403);
    let (status, body) = call(
        &s,
        "post",
        "/v1/acl/policy/reader",
        Some(&root),
        Some(json!({"rules": "namespace \"*\" { policy = \"read\" }"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = call(
        &s,
        "post",
        "/v1/acl/token",
        Some(&root),
        Some(json!({"name": "brief", "policies": ["reader"], "ttl": "1s"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let brief: Value = serde_json::from_str(&body).expect("token");
    let secret = brief["secret_id"].as_str().expect("secret");
    let (status, _) = call(&s, "get", "/v1/jobs", Some(secret), None).await;
    assert_eq!(status, 200, "fresh");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (status, body) = call(&s, "get", "/v1/jobs", Some(secret), None).await;
    assert_eq!((status, body.contains("expired")), (403, true), "{body}");

    // A bad policy is refused where it is wrong; nothing is written.
    let (status, body) = call(
        &s,
        "post",
        "/v1/acl/policy/typo",
        Some(&root),
        Some(json!({"rules": "namespace \"x\" {\n  policy = \"writ\"\n}"})),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("typo:2:12"), "{body}");
    let (status, _) = call(&s, "get", "/v1/acl/policy/typo", Some(&root), None).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_page_on_another_site_cannot_drive_the_api() {
    // Without ACLs, as a laptop runs it: the browser is the only guard.
    let s = crate::common::start().await;
    let job = serde_json::to_string(&json!({"job": drover_api_types::mock::job("evil", 1)}))
        .expect("json");
    let before = snapshot(&s).await;
    // What a form or fetch() with no preflight sends from another site.
    let r = s
        .http
        .post(s.url("/v1/jobs"))
        .header("Origin", "http://evil.example")
        .header("Content-Type", "text/plain")
        .body(job.clone())
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status().as_u16(), 403);
    // The same without an Origin (an old browser, a redirect): not JSON.
    let r = s
        .http
        .post(s.url("/v1/jobs"))
        .header("Content-Type", "text/plain")
        .body(job.clone())
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status().as_u16(), 415);
    // A name rebound to 127.0.0.1 reaches a loopback server with its Host.
    let r = s
        .http
        .get(s.url("/v1/jobs"))
        .header("Host", "attacker.example")
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status().as_u16(), 403);
    assert_eq!(snapshot(&s).await, before, "nothing was written");
    // The server's own origin (a UI it serves) and the CLI still work.
    let r = s
        .http
        .post(s.url("/v1/jobs"))
        .header("Origin", s.base.as_str())
        .header("Content-Type", "application/json")
        .body(job)
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status().as_u16(), 200);
}

/// The exec route of allocation `id` with a command, as a URL.
fn exec_url(s: &Server, id: &str, query: &str) -> String {
    let command = "%5B%22id%22%5D";
    s.url(&format!(
        "/v1/client/allocation/{id}/exec?task=main&command={command}{query}"
    ))
}

#[tokio::test]
async fn exec_needs_alloc_exec_in_the_allocations_namespace() {
    use futures::StreamExt as _;
    let s = start_with_acl().await;
    let root = bootstrap(&s).await;
    namespace(&s, &root, "db").await;
    let mut job = drover_api_types::mock::job("db-app", 1);
    job.metadata.namespace = "db".into();
    let alloc = drover_api_types::mock::alloc(&job, "g", 0, "dbexec01");
    s.store
        .put_at(&s.store.keys().alloc("db", "dbexec01"), &alloc)
        .await
        .expect("alloc");
    // Everything a write policy gives but exec, everywhere; and exec in
    // another namespace only.
    let no_exec = token_with(
        &s,
        &root,
        "no-exec",
        "namespace \"*\" {\n  policy = \"read\"\n  capabilities = [\"read-logs\", \"alloc-lifecycle\", \"submit-job\"]\n}",
    )
    .await;
    let elsewhere = token_with(
        &s,
        &root,
        "exec-elsewhere",
        "namespace \"web\" { capabilities = [\"alloc-exec\"] }",
    )
    .await;
    let before = snapshot(&s).await;
    for (who, token) in [("no-exec", &no_exec), ("exec-elsewhere", &elsewhere)] {
        for query in ["&namespace=db", "&namespace=*", ""] {
            let url = exec_url(&s, "dbexec01", query);
            let r = s
                .http
                .get(&url)
                .header("X-Drover-Token", token.as_str())
                .send()
                .await
                .expect("sent");
            let status = r.status().as_u16();
            let body = r.text().await.unwrap_or_default();
            assert_eq!(status, 403, "{who} {query}: {body}");
            assert!(body.contains("lacks alloc-exec"), "{who} {query}: {body}");
        }
        // A real handshake is refused the same way, before any upgrade.
        let opened = drover_api::ws::connect(
            &exec_url(&s, "dbexec01", "&namespace=*"),
            &[("x-drover-token", token.as_str())],
            None,
            1 << 20,
        )
        .await;
        match opened {
            Err(drover_api::ws::ConnectError::Refused { status, body }) => {
                assert_eq!(status, 403, "{who}: {body}");
            }
            Err(e) => panic!("{who}: {e}"),
            Ok(_) => panic!("{who}: an exec session opened without alloc-exec"),
        }
    }
    assert_eq!(snapshot(&s).await, before, "refused execs wrote");

    // With alloc-exec in the allocation's namespace the session opens, and
    // says why nothing runs (no node: nothing placed it).
    let db = token_with(
        &s,
        &root,
        "exec-db",
        "namespace \"db\" { capabilities = [\"alloc-exec\"] }",
    )
    .await;
    let mut socket = drover_api::ws::connect(
        &exec_url(&s, "dbexec", "&namespace=*"),
        &[("x-drover-token", db.as_str())],
        None,
        1 << 20,
    )
    .await
    .expect("an exec session");
    let first = tokio::time::timeout(Duration::from_secs(10), socket.next())
        .await
        .expect("a frame in time")
        .expect("a frame")
        .expect("readable");
    let text = first.into_text().expect("text");
    assert_eq!(
        text.as_str(),
        r#"{"error":"allocation dbexec01 is not placed on a node yet"}"#
    );
}

#[tokio::test]
async fn registry_credentials_are_never_read_back_but_still_stored() {
    let s = crate::common::start().await;
    let mut job = drover_api_types::mock::job("private", 1);
    job.spec.groups[0].tasks[0].config.insert(
        "auth".into(),
        json!({"username": "ci", "password": "s3cret-pw", "server_address": "r.example"}),
    );
    let (status, body) = call(&s, "post", "/v1/jobs", None, Some(json!({"job": job}))).await;
    assert_eq!(status, 200, "{body}");
    let mut events = s
        .http
        .get(s.url("/v1/event/stream?topic=Job"))
        .send()
        .await
        .expect("stream");

    // Read it, change the count, send it back: the credentials stay.
    let (_, read) = call(&s, "get", "/v1/job/private", None, None).await;
    assert!(!read.contains("s3cret-pw"), "{read}");
    let mut changed: Value = serde_json::from_str(&read).expect("job");
    changed["spec"]["groups"][0]["count"] = json!(2);
    changed.as_object_mut().map(|o| o.remove("status"));
    let (_, plan) = call(
        &s,
        "post",
        "/v1/job/private/plan",
        None,
        Some(json!({"job": changed})),
    )
    .await;
    assert!(plan.contains("count"), "{plan}");
    assert!(!plan.contains("s3cret-pw"), "{plan}");
    let (status, body) = call(&s, "post", "/v1/jobs", None, Some(json!({"job": changed}))).await;
    assert_eq!(status, 200, "{body}");
    let stored: drover_api_types::Job = s
        .store
        .get("default", "private")
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(
        stored.spec.groups[0].tasks[0].config["auth"]["password"], "s3cret-pw",
        "the agent still pulls with it"
    );

    for path in [
        "/v1/jobs",
        "/v1/job/private/versions?diffs=true",
        "/v1/jobs?namespace=*",
    ] {
        let (_, body) = call(&s, "get", path, None, None).await;
        assert!(!body.contains("s3cret-pw"), "{path}: {body}");
        assert!(body.contains("<redacted>"), "{path}: {body}");
    }
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !seen.contains("\"count\":2") && tokio::time::Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_secs(1), events.chunk()).await {
            Ok(Ok(Some(chunk))) => seen.push_str(&String::from_utf8_lossy(&chunk)),
            _ => continue,
        }
    }
    assert!(
        seen.contains("\"count\":2"),
        "the update was streamed: {seen}"
    );
    assert!(!seen.contains("s3cret-pw"), "{seen}");
}

#[tokio::test]
async fn changes_and_refusals_are_audited_without_secrets() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("audit.log");
    let log = drover_apiserver::audit::AuditLog::open(&path, 10 * 1024 * 1024)
        .await
        .expect("audit log");
    let s = crate::common::start_with(true, Some(log)).await;
    let root = bootstrap(&s).await;
    let web = token_with(&s, &root, "web", "namespace \"web\" { policy = \"write\" }").await;
    namespace(&s, &root, "web").await;
    let mut job = drover_api_types::mock::job("api", 1);
    job.metadata.namespace = "web".into();
    let (status, _) = call(
        &s,
        "post",
        "/v1/jobs?namespace=web",
        Some(&web),
        Some(json!({"job": job})),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = call(&s, "delete", "/v1/job/api?namespace=db", Some(&web), None).await;
    assert_eq!(status, 403);
    let (status, _) = call(&s, "get", "/v1/job/api?namespace=web", Some(&web), None).await;
    assert_eq!(status, 200, "a read that is allowed is not audited");
    // What the browser guard refuses is a refusal too.
    let r = s
        .http
        .post(s.url("/v1/jobs?namespace=web"))
        .header("Origin", "http://evil.example")
        .header("Content-Type", "text/plain")
        .body("{}")
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status().as_u16(), 403);

    let lines = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            let text = tokio::fs::read_to_string(&path).await.unwrap_or_default();
            if text.lines().count() >= 6 {
                return text;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the lines were written");
    assert!(
        !lines.contains(&root) && !lines.contains(&web),
        "no secret in the log"
    );
    let entries: Vec<Value> = lines
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    let registered = entries
        .iter()
        .find(|e| e["route"] == "/v1/jobs" && e["method"] == "POST")
        .expect("the registration");
    assert_eq!(registered["token_name"], "web");
    assert_eq!(registered["namespace"], "web");
    assert_eq!(registered["outcome"], "ok");
    assert!(registered["accessor_id"]
        .as_str()
        .is_some_and(|a| a.len() == 36));
    let cross_origin = entries
        .iter()
        .find(|e| e["outcome"] == "denied" && e["route"] == "/v1/jobs")
        .expect("the browser guard's refusal");
    assert_eq!(
        (&cross_origin["method"], &cross_origin["accessor_id"]),
        (&json!("POST"), &json!("unknown"))
    );
    let denied = entries
        .iter()
        .find(|e| e["outcome"] == "denied" && e["route"] != "/v1/jobs")
        .expect("the refusal");
    assert_eq!(denied["route"], "/v1/job/{name}");
    assert_eq!(denied["path"], "/v1/job/api");
    assert_eq!(denied["namespace"], "db");
    assert!(!entries
        .iter()
        .any(|e| e["method"] == "GET" && e["status"] == 200));
    let metrics = s
        .http
        .get(s.url("/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains("drover_http_denied_total{route=\"/v1/job/{name}\"}"),
        "the refusal is counted"
    );
}

#[tokio::test]
async fn py_consul_with_a_token_keeps_to_its_key_prefix() {
    let s = start_with_acl().await;
    let root = bootstrap(&s).await;
    s.catalog_node("n1", "alpha", "dc1", "127.0.0.1", NodeState::Ready)
        .await;
    s.service(
        "default",
        "web-1",
        "web",
        ("n1", "alpha"),
        80,
        &[],
        &["passing"],
    )
    .await;
    eventually(10, "web in the catalog", || async {
        let (_, body) = call(&s, "get", "/v1/catalog/services", Some(&root), None).await;
        body.contains("\"web\"").then_some(())
    })
    .await;
    // Something outside the token's prefix, written by management.
    let r = s
        .http
        .put(s.url("/v1/kv/other/secret"))
        .header("X-Consul-Token", &root)
        .body("hush")
        .send()
        .await
        .expect("put");
    assert_eq!(r.status().as_u16(), 200);
    let token = token_with(
        &s,
        &root,
        "consul-app",
        "namespace \"default\" { capabilities = [\"read-job\"] }\nkey_prefix \"team/\" { policy = \"write\" }\nkey_prefix \"\" { policy = \"list\" }\n",
    )
    .await;
    let addr = s.addr;
    let stdout = crate::common::python_client(
        "py_consul_acl.py",
        vec![addr.ip().to_string(), addr.port().to_string(), token],
    )
    .await;
    assert!(stdout.contains("with a token: ok"), "{stdout}");
}
