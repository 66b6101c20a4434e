//! Slow or stalled clients cannot hold the server: headers that do not
//! arrive close the connection, a body that does not arrive gets 408, and
//! the server keeps answering everyone else.

use std::time::Duration;

use drover_apiserver::api::ApiState;
use drover_apiserver::http::{InProcessApi, Limits};
use drover_store::{Store, StoreConfig};
use drover_test_support::etcd::TestEtcd;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const LIMITS: Limits = Limits {
    header_read: Duration::from_secs(1),
    request: Duration::from_secs(1),
};

async fn start() -> (TestEtcd, String, InProcessApi) {
    let etcd = TestEtcd::shared_or_spawn().await.expect("etcd for tests");
    let mut config = StoreConfig::new(etcd.endpoints.clone(), &etcd.prefix);
    config.request_timeout_ms = 3_000;
    let store = Store::connect(config).await.expect("connect");
    let api = InProcessApi::start_with(ApiState::new(store), LIMITS)
        .await
        .expect("serving the API");
    (etcd, api.addr.to_string(), api)
}

/// Reads until the server closes the connection (or 10 s pass).
async fn read_all(stream: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

async fn healthy(addr: &str) -> bool {
    reqwest::get(format!("http://{addr}/v1/status/leader"))
        .await
        .is_ok_and(|r| r.status().is_success())
}

#[tokio::test]
async fn a_stalled_body_gets_408_and_stalled_headers_are_cut_off() {
    let (_etcd, addr, _api) = start().await;

    // Headers promise a body that never comes.
    let mut slow_body = TcpStream::connect(&addr).await.expect("connect");
    slow_body
        .write_all(
            b"POST /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"job\":",
        )
        .await
        .expect("write");
    let answer = read_all(&mut slow_body).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"error\""), "a JSON error: {answer}");
    // Counted under its route, though it ran out of time.
    let metrics = reqwest::get(format!("http://{addr}/metrics"))
        .await
        .expect("scrape")
        .text()
        .await
        .expect("metrics body");
    assert!(
        metrics
            .contains(r#"drover_http_requests_total{code="408",method="POST",route="/v1/jobs"}"#),
        "{metrics}"
    );

    // Headers that never finish: the connection is closed.
    let mut slow_headers = TcpStream::connect(&addr).await.expect("connect");
    slow_headers
        .write_all(b"GET /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .await
        .expect("write");
    let started = std::time::Instant::now();
    let _ = read_all(&mut slow_headers).await;
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "the connection was held for {:?}",
        started.elapsed()
    );

    // Everyone else is still served.
    assert!(healthy(&addr).await);
}

#[tokio::test]
async fn a_blocking_query_may_wait_past_the_request_deadline() {
    let (_etcd, addr, _api) = start().await;
    let started = std::time::Instant::now();
    let response = reqwest::get(format!("http://{addr}/v1/jobs?index=999999999&wait=2s"))
        .await
        .expect("request");
    assert_eq!(response.status(), 200, "not cut off at the 1 s deadline");
    assert!(started.elapsed() >= Duration::from_secs(2));
}
