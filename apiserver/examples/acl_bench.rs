//! What ACLs cost a request: the same router (`drover server`'s, in this
//! process, no network) answering the same in-memory read
//! (`GET /v1/catalog/services`, which checks read-job in a namespace)
//! with ACLs off, with a management token and with a client token whose
//! policy has a dozen rules. Prints per-request p50/p99 and requests per
//! second, sequential and 32 at a time, and the difference ACLs make.
//!
//! `cargo run --release -p drover-apiserver --example acl_bench -- [--etcd URL]
//! [--requests N] [--json]`

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use drover_apiserver::api::ApiState;
use drover_apiserver::http::{router, HttpState};
use drover_store::{Store, StoreConfig};
use drover_test_support::EtcdProcess;
use serde_json::{json, Value};
use tower::ServiceExt as _;

const CONCURRENCY: usize = 32;

struct Args {
    etcd: Option<String>,
    requests: usize,
    json: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        etcd: None,
        requests: 50_000,
        json: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--etcd" => args.etcd = Some(it.next().ok_or("--etcd needs a URL")?),
            "--requests" => {
                args.requests = it
                    .next()
                    .and_then(|n| n.parse().ok())
                    .filter(|n| *n > 0)
                    .ok_or("--requests needs a positive count")?
            }
            "--json" => args.json = true,
            "--bench" => {}
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(args)
}

fn request(method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> Request<Body> {
    let mut builder = Request::builder()
        .method(method)
        .uri(path)
        .header("host", "127.0.0.1:4646");
    if let Some(token) = token {
        builder = builder.header("x-drover-token", token);
    }
    let body = match body {
        Some(v) => {
            builder = builder.header("content-type", "application/json");
            Body::from(v.to_string())
        }
        None => Body::empty(),
    };
    builder.body(body).unwrap_or_default()
}

async fn send(app: &axum::Router, req: Request<Body>) -> Result<(StatusCode, Value), String> {
    let response = app.clone().oneshot(req).await.map_err(|e| e.to_string())?;
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .map_err(|e| e.to_string())?;
    Ok((
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    ))
}

fn app(store: &Store, acl: bool) -> axum::Router {
    let (_leading_tx, leading) = tokio::sync::watch::channel(false);
    let mut api = ApiState::new(store.clone());
    if acl {
        api = api.with_acl();
    }
    router(
        HttpState {
            registry: prometheus::Registry::new(),
            leading,
            metrics_public: true,
            loopback: true,
        },
        Some(api),
    )
}

/// Per-request times of `n` sequential requests, and the rate of `n` sent
/// `CONCURRENCY` at a time.
async fn measure(app: &axum::Router, token: Option<&str>, n: usize) -> Result<Figures, String> {
    let path = "/v1/catalog/services?ns=web";
    // Warm up (the copies, the compiled ACL).
    for _ in 0..100 {
        let (status, _) = send(app, request("GET", path, token, None)).await?;
        if status != StatusCode::OK {
            return Err(format!("GET {path}: {status}"));
        }
    }
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        send(app, request("GET", path, token, None)).await?;
        times.push(started.elapsed());
    }
    times.sort();
    let at = |q: f64| times[((times.len() - 1) as f64 * q) as usize];
    let started = Instant::now();
    let per_task = n / CONCURRENCY;
    let mut tasks = Vec::new();
    for _ in 0..CONCURRENCY {
        let app = app.clone();
        let token = token.map(str::to_string);
        tasks.push(tokio::spawn(async move {
            for _ in 0..per_task {
                let _ = send(&app, request("GET", path, token.as_deref(), None)).await;
            }
        }));
    }
    for t in tasks {
        t.await.map_err(|e| e.to_string())?;
    }
    let rate = (per_task * CONCURRENCY) as f64 / started.elapsed().as_secs_f64();
    Ok(Figures {
        p50: at(0.50),
        p99: at(0.99),
        rate,
    })
}

struct Figures {
    p50: Duration,
    p99: Duration,
    rate: f64,
}

fn us(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e7).round() / 10.0
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), String> {
    let args = parse_args()?;
    let (_etcd, endpoint) = match &args.etcd {
        Some(url) => (None, url.clone()),
        None => {
            let etcd = EtcdProcess::start().await.map_err(|e| e.to_string())?;
            let endpoint = etcd.endpoint();
            (Some(etcd), endpoint)
        }
    };
    let prefix = format!("/drover-acl-bench-{}", std::process::id());
    let store = Store::connect(StoreConfig::new(vec![endpoint], prefix.as_str()))
        .await
        .map_err(|e| e.to_string())?;
    let open = app(&store, false);
    let guarded = app(&store, true);

    let (_, root) = send(
        &guarded,
        request("POST", "/v1/acl/bootstrap", None, Some(json!({}))),
    )
    .await?;
    let root = root["secret_id"]
        .as_str()
        .ok_or("bootstrap gave no secret")?
        .to_string();
    // A policy shaped like a real team's: globs, exact names, other blocks.
    let mut rules = String::new();
    for ns in [
        "web",
        "web-*",
        "api",
        "api-*",
        "batch",
        "*-staging",
        "ops",
        "db",
    ] {
        rules.push_str(&format!("namespace {ns:?} {{ policy = \"read\" }}\n"));
    }
    rules.push_str("node { policy = \"read\" }\nagent { policy = \"read\" }\n");
    rules.push_str(
        "key_prefix \"web/\" { policy = \"write\" }\nkey_prefix \"\" { policy = \"list\" }\n",
    );
    let (status, body) = send(
        &guarded,
        request(
            "POST",
            "/v1/acl/policy/team",
            Some(&root),
            Some(json!({"rules": rules})),
        ),
    )
    .await?;
    if status != StatusCode::OK {
        return Err(format!("policy: {status} {body}"));
    }
    let (_, token) = send(
        &guarded,
        request(
            "POST",
            "/v1/acl/token",
            Some(&root),
            Some(json!({"name": "team", "policies": ["team"]})),
        ),
    )
    .await?;
    let client = token["secret_id"]
        .as_str()
        .ok_or("no client secret")?
        .to_string();

    let off = measure(&open, None, args.requests).await?;
    let management = measure(&guarded, Some(&root), args.requests).await?;
    let team = measure(&guarded, Some(&client), args.requests).await?;
    store
        .delete_prefix(&format!("{prefix}/"))
        .await
        .map_err(|e| e.to_string())?;

    let added_p50 = us(team.p50) - us(off.p50);
    let added_p99 = us(team.p99) - us(off.p99);
    let rate_ratio = team.rate / off.rate;
    if args.json {
        println!(
            "{}",
            json!({
                "requests": args.requests,
                "acl_off": {"p50_us": us(off.p50), "p99_us": us(off.p99), "per_second": off.rate.round()},
                "management": {"p50_us": us(management.p50), "p99_us": us(management.p99), "per_second": management.rate.round()},
                "client_token": {"p50_us": us(team.p50), "p99_us": us(team.p99), "per_second": team.rate.round()},
                "acl_added_p50_us": added_p50,
                "acl_added_p99_us": added_p99,
                "throughput_with_acl": (rate_ratio * 1000.0).round() / 1000.0,
            })
        );
    } else {
        println!(
            "GET /v1/catalog/services, {} requests, in process:",
            args.requests
        );
        for (name, f) in [
            ("ACLs off", &off),
            ("management token", &management),
            ("client token", &team),
        ] {
            println!(
                "  {name:<18} p50 {:>7.1} µs  p99 {:>7.1} µs  {:>8.0} req/s ({CONCURRENCY} at a time)",
                us(f.p50),
                us(f.p99),
                f.rate
            );
        }
        println!("ACL check adds {added_p50:.1} µs at p50, {added_p99:.1} µs at p99; throughput with ACLs {:.1}% of without", rate_ratio * 100.0);
    }
    Ok(())
}
