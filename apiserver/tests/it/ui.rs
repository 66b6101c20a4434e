//! The web UI through the real router on a real etcd, ACLs on: a visitor
//! without a token is sent to the token page; a bad token is refused; a
//! good one is kept in an HttpOnly, SameSite=Strict cookie, and every page
//! then shows what that token may read and nothing more.

use reqwest::header;
use serde_json::json;

use crate::acl::{bootstrap, call, namespace, register, token_with};
use crate::common::{start_with_acl, Server};

/// A client that does not follow redirects, so they can be checked.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// `GET path` with the UI cookie `token`; (status, body).
async fn page(s: &Server, path: &str, token: Option<&str>) -> (u16, String) {
    let mut request = browser().get(s.url(path));
    if let Some(token) = token {
        request = request.header(header::COOKIE, format!("drover_token={token}"));
    }
    let response = request.send().await.expect("GET");
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
}

/// The next chunk of an open stream, within 5 s.
async fn next_chunk(stream: &mut reqwest::Response) -> String {
    let chunk = tokio::time::timeout(std::time::Duration::from_secs(5), stream.chunk()).await;
    let bytes = chunk.expect("within 5 s").expect("a chunk").expect("open");
    String::from_utf8_lossy(&bytes).into_owned()
}

async fn sign_in(s: &Server, token: &str) -> reqwest::Response {
    browser()
        .post(s.url("/ui/token"))
        .json(&json!({ "token": token }))
        .send()
        .await
        .expect("POST /ui/token")
}

#[tokio::test]
async fn pages_show_what_the_visitors_token_may_read() {
    let s = start_with_acl().await;
    let root = bootstrap(&s).await;
    let web = token_with(
        &s,
        &root,
        "web-reader",
        "namespace \"web\" { policy = \"read\" }",
    )
    .await;
    namespace(&s, &root, "web").await;
    register(&s, &root, "default", "api").await;
    register(&s, &root, "web", "site").await;

    // No token yet: to the token page.
    let response = browser().get(s.url("/ui/jobs")).send().await.expect("GET");
    assert_eq!(response.status().as_u16(), 303);
    assert_eq!(
        response
            .headers()
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok()),
        Some("/ui/token")
    );
    let (status, form) = page(&s, "/ui/token", None).await;
    assert_eq!(status, 200);
    assert!(form.contains("type=\"password\""), "{form}");

    // A token the cluster does not know is refused; nothing is kept.
    let refused = sign_in(&s, "00000000-0000-0000-0000-000000000000").await;
    assert_eq!(refused.status().as_u16(), 403);
    assert!(refused.headers().get(header::SET_COOKIE).is_none());
    // A form post (what another site's page could send) is refused.
    let form_post = browser()
        .post(s.url("/ui/token"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(format!("token={web}"))
        .send()
        .await
        .expect("POST");
    assert_eq!(form_post.status().as_u16(), 415);

    // The team's token: kept HttpOnly and strict, and its jobs only.
    let accepted = sign_in(&s, &web).await;
    assert_eq!(accepted.status().as_u16(), 204);
    let cookie = accepted
        .headers()
        .get(header::SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .expect("a cookie")
        .to_string();
    for part in ["HttpOnly", "SameSite=Strict", "Path=/ui"] {
        assert!(cookie.contains(part), "{cookie}");
    }
    let (status, jobs) = page(&s, "/ui/jobs", Some(&web)).await;
    assert_eq!(status, 200, "{jobs}");
    assert!(jobs.contains(">site</a>"), "{jobs}");
    assert!(!jobs.contains(">api</a>"), "{jobs}");
    let (_, overview) = page(&s, "/ui", Some(&web)).await;
    assert!(overview.contains("Cluster overview"), "{overview}");
    assert!(
        overview.contains("not shown"),
        "nodes need node read: {overview}"
    );
    let (_, who) = page(&s, "/ui/token", Some(&web)).await;
    assert!(who.contains("web-reader"), "{who}");

    // One job's page, for a token that may read it; not for one that may not.
    let (status, site) = page(&s, "/ui/job/web/site", Some(&web)).await;
    assert_eq!(status, 200, "{site}");
    assert!(
        site.contains("Job site") && site.contains("<td>app</td>"),
        "{site}"
    );
    assert!(
        !site.contains("Stop job") && !site.contains("class=\"scale\""),
        "read only: {site}"
    );
    let (status, _) = page(&s, "/ui/job/default/api", Some(&web)).await;
    assert_eq!(status, 403);
    let (_, api) = page(&s, "/ui/job/default/api", Some(&root)).await;
    assert!(
        api.contains("Stop job") && api.contains("class=\"scale\""),
        "{api}"
    );

    // Buttons: sent as the visitor, refused when the token may not.
    let act = |token: &str, body: serde_json::Value| {
        browser()
            .post(s.url("/ui/act"))
            .header(header::COOKIE, format!("drover_token={token}"))
            .json(&body)
            .send()
    };
    let scale = json!({"method": "POST", "path": "/v1/job/site/scale?namespace=web",
                       "body": {"group": "app", "count": 3}});
    let refused = act(&web, scale.clone()).await.expect("act");
    assert_eq!(refused.status().as_u16(), 403);
    let scaled = act(&root, scale).await.expect("act");
    assert_eq!(scaled.status().as_u16(), 200);
    let (_, job) = call(&s, "get", "/v1/job/site?namespace=web", Some(&root), None).await;
    let job: serde_json::Value = serde_json::from_str(&job).expect("json");
    assert_eq!(job["spec"]["groups"][0]["count"], 3, "{job}");
    let (status, deployments) = page(&s, "/ui/deployments", Some(&root)).await;
    assert_eq!(status, 200, "{deployments}");
    assert!(deployments.contains("No deployments"), "{deployments}");
    let missing = act(
        &root,
        json!({"method": "POST", "path": "/v1/deployment/nope/pause?namespace=*", "body": {"pause": true}}),
    )
    .await
    .expect("act");
    assert_eq!(missing.status().as_u16(), 404, "the API's own answer");
    let outside = act(&root, json!({"method": "POST", "path": "/metrics"}))
        .await
        .expect("act");
    assert_eq!(outside.status().as_u16(), 400);
    let (status, _) = page(&s, "/ui/nodes", Some(&web)).await;
    assert_eq!(status, 403, "nodes need node read");
    s.catalog_node(
        "n1",
        "alpha",
        "dc1",
        "127.0.0.1",
        drover_api_types::node::NodeState::Ready,
    )
    .await;
    let (status, nodes) = page(&s, "/ui/nodes", Some(&root)).await;
    assert_eq!(status, 200, "{nodes}");
    assert!(nodes.contains("href=\"/ui/node/n1\""), "{nodes}");
    let (status, node) = page(&s, "/ui/node/n1", Some(&root)).await;
    assert_eq!(status, 200, "{node}");
    assert!(
        node.contains("Node alpha") && node.contains(">Drain<"),
        "{node}"
    );
    assert_eq!(page(&s, "/ui/node/n1", Some(&web)).await.0, 403);
    let drained = browser()
        .post(s.url("/ui/act"))
        .header(header::COOKIE, format!("drover_token={root}"))
        .json(&json!({"method": "POST", "path": "/v1/node/n1/drain", "body": {"enable": true}}))
        .send()
        .await
        .expect("drain");
    assert_eq!(drained.status().as_u16(), 200);
    let (_, node) = page(&s, "/ui/node/n1", Some(&root)).await;
    assert!(node.contains("Stop draining"), "{node}");

    // Management sees both.
    let (_, all) = page(&s, "/ui/jobs", Some(&root)).await;
    assert!(
        all.contains(">site</a>") && all.contains(">api</a>"),
        "{all}"
    );

    // A refresh asks for <main> alone.
    let fragment = browser()
        .get(s.url("/ui/jobs"))
        .header(header::COOKIE, format!("drover_token={root}"))
        .header("X-Drover-Fragment", "main")
        .send()
        .await
        .expect("GET")
        .text()
        .await
        .expect("text");
    assert!(
        fragment.contains(">site</a>") && !fragment.contains("<html"),
        "{fragment}"
    );
    assert!(all.contains("data-live=\"jobs\""), "{all}");

    // Live: the stream opens at once and says `changed` when a job comes.
    assert_eq!(page(&s, "/ui/live?page=jobs", None).await.0, 403);
    assert_eq!(page(&s, "/ui/live?page=nothing", Some(&root)).await.0, 404);
    let mut stream = browser()
        .get(s.url("/ui/live?page=jobs"))
        .header(header::COOKIE, format!("drover_token={root}"))
        .send()
        .await
        .expect("live");
    assert_eq!(
        stream
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok()),
        Some("text/event-stream")
    );
    assert!(next_chunk(&mut stream).await.starts_with("retry:"));
    register(&s, &root, "default", "later").await;
    assert!(next_chunk(&mut stream).await.starts_with("event: changed"));

    // The embedded assets and an unknown page.
    let css = browser()
        .get(s.url("/ui/static/app.css"))
        .send()
        .await
        .expect("css");
    assert_eq!(
        css.headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok()),
        Some("text/css; charset=utf-8")
    );
    assert!(css
        .text()
        .await
        .expect("text")
        .contains("prefers-color-scheme: dark"));
    assert_eq!(page(&s, "/ui/nowhere", Some(&root)).await.0, 404);
}
