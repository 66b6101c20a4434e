//! The agent's own HTTP API, served on `drover agent --http-addr`.
//!
//! - `GET /v1/agent/health` → `{"ok":true}`.
//! - `GET /metrics` → the agent's metrics (Prometheus text format; see
//!   [`crate::metrics`]), to callers presenting the cluster's scrape token
//!   (`Authorization: Bearer`, [`drover_serve::scrape_token`]) unless the
//!   agent serves them openly ([`MetricsAccess`]).
//! - `GET /v1/client/logs/{alloc_id}/{task}?follow=true&stderr=true&tail=N`
//!   streams one task's stdout (or its stderr) as chunked `text/plain`.
//! - `GET /v1/client/exec/{alloc_id}/{task}?command=<JSON array>&tty=true`
//!   upgrades to a WebSocket running the command in the task's container
//!   ([`crate::exec`]; at most [`drover_api::exec::MAX_SESSIONS`] at once).
//! - `GET /v1/client/stats/{alloc_id}` answers each task's recent CPU and
//!   memory samples and limits ([`drover_api::stats::AgentAllocStats`],
//!   kept by [`crate::metrics::history`]); 404 when no worker here runs
//!   the allocation.
//!
//! Logs, exec and stats are given only to a server-issued token for the
//! path (exec: the path and query, so the token runs that command only).
//! Errors are JSON, `{"error": "..."}`: 404 when this node has no container
//! for the task, 409 when it is not running (exec), 400 for a bad query,
//! 503 when every exec slot is taken. Shutting the agent down ends every
//! follow stream and exec session, so the server stops promptly.
//!
//! The handlers are thin: the query parsing and the container's name are
//! the pure functions below.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::ws::{rejection::WebSocketUpgradeRejection, WebSocketUpgrade};
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use futures::{StreamExt, TryStreamExt};
use tokio::sync::watch;

use bytes::Bytes;
use drover_api_types::alloc::MAX_LOG_TAIL;

use crate::driver::docker::{Docker, DriverError, LogOptions, LogStream};
use crate::driver::labels;
use crate::worker::Shared;

/// What a logs request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LogQuery {
    pub follow: bool,
    /// stderr instead of stdout.
    pub stderr: bool,
    pub tail: Option<u64>,
}

impl LogQuery {
    /// The stream asked for.
    pub fn stream(&self) -> LogStream {
        if self.stderr {
            LogStream::Stderr
        } else {
            LogStream::Stdout
        }
    }

    pub fn options(&self) -> LogOptions {
        LogOptions {
            follow: self.follow,
            tail: self.tail,
            stdout: !self.stderr,
            stderr: self.stderr,
        }
    }
}

/// Parses the query string of a logs request (pure). Unknown parameters
/// are refused rather than ignored, so a typo is not silently dropped.
pub fn parse_log_query(query: Option<&str>) -> Result<LogQuery, String> {
    let mut out = LogQuery::default();
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            "follow" => out.follow = parse_bool(key, value)?,
            "stderr" => out.stderr = parse_bool(key, value)?,
            "tail" => {
                let lines: u64 = value
                    .parse()
                    .map_err(|_| format!("tail must be a number of lines, got {value:?}"))?;
                if lines > MAX_LOG_TAIL {
                    return Err(format!("tail is at most {MAX_LOG_TAIL} lines, got {lines}"));
                }
                out.tail = Some(lines);
            }
            _ => {
                return Err(format!(
                    "unknown query parameter {key:?} (expected follow, stderr, tail)"
                ))
            }
        }
    }
    Ok(out)
}

/// `follow` alone means true, as in `?follow`.
fn parse_bool(key: &str, value: &str) -> Result<bool, String> {
    match value {
        "" | "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(format!("{key} must be true or false, got {value:?}")),
    }
}

/// The name of the container that runs `task` of allocation `alloc_id`,
/// as [`crate::container_spec`] names it.
pub fn container_name(task: &str, alloc_id: &str) -> String {
    format!("{task}-{alloc_id}")
}

/// Who may read the agent's `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MetricsAccess {
    /// Callers presenting the scrape token (the default).
    #[default]
    ScrapeToken,
    /// Anyone who connects: `--metrics-public`, or mutual TLS, where every
    /// connection already holds a certificate from the operator's CA.
    Open,
}

/// The API's routes over the agent's shared state.
pub fn router(
    shared: Arc<Shared>,
    metrics_access: MetricsAccess,
    shutdown: watch::Receiver<bool>,
) -> Router {
    Router::new()
        .route("/v1/agent/health", get(health))
        .route("/metrics", get(metrics))
        .route("/v1/client/logs/{alloc_id}/{task}", get(logs))
        .route("/v1/client/exec/{alloc_id}/{task}", get(exec))
        .route("/v1/client/stats/{alloc_id}", get(stats))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "no such endpoint".into()) })
        .with_state(Api {
            shared,
            shutdown,
            key: Default::default(),
            metrics_access,
            scrape_digest: Default::default(),
            exec_slots: Arc::new(tokio::sync::Semaphore::new(drover_api::exec::MAX_SESSIONS)),
        })
}

/// Whether the request may read the metrics.
async fn may_scrape(api: &Api, headers: &HeaderMap) -> Result<(), Response> {
    if api.metrics_access == MetricsAccess::Open {
        return Ok(());
    }
    let refused = |message: &str| {
        error(
            StatusCode::UNAUTHORIZED,
            format!("{message}: the agent's metrics need the cluster's scrape token as a bearer token (drover operator scrape-token)"),
        )
    };
    let presented = drover_serve::bearer_token(headers).ok_or_else(|| refused("no token"))?;
    let read = api.shared.store.scrape_token_digest();
    match api.scrape_digest.check(presented, read).await {
        Ok(true) => Ok(()),
        Ok(false) => Err(refused("not the scrape token")),
        Err(e) => Err(error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("reading the scrape token's digest: {e}"),
        )),
    }
}

/// The agent's metrics in Prometheus' text format.
async fn metrics(State(api): State<Api>, headers: HeaderMap) -> Response {
    use prometheus::Encoder as _;
    if let Err(refused) = may_scrape(&api, &headers).await {
        return refused;
    }
    let mut body = Vec::new();
    match prometheus::TextEncoder::new().encode(&api.shared.metrics.registry.gather(), &mut body) {
        Ok(()) => ([(header::CONTENT_TYPE, prometheus::TEXT_FORMAT)], body).into_response(),
        Err(e) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("encoding metrics: {e}"),
        ),
    }
}

/// Serves the agent's HTTP API until `shutdown`, over TLS when `options`
/// say so.
pub async fn serve(
    listener: tokio::net::TcpListener,
    options: drover_serve::Options,
    metrics_access: MetricsAccess,
    shared: Arc<Shared>,
    shutdown: watch::Receiver<bool>,
) {
    let addr = listener
        .local_addr()
        .map_or_else(|_| "?".to_string(), |a| a.to_string());
    let tls = options.tls.is_some();
    tracing::info!(%addr, tls, ?metrics_access, "agent HTTP API listening");
    let app = router(shared, metrics_access, shutdown.clone());
    if let Err(e) = drover_serve::serve(listener, app, options, shutdown).await {
        tracing::error!(%addr, error = %e, "agent HTTP API failed");
    }
}

#[derive(Clone)]
struct Api {
    shared: Arc<Shared>,
    shutdown: watch::Receiver<bool>,
    /// The agent API key, as last read from etcd.
    key: Arc<tokio::sync::RwLock<Option<String>>>,
    metrics_access: MetricsAccess,
    /// The scrape token's digest, as last read from etcd.
    scrape_digest: Arc<drover_serve::scrape_token::DigestCache>,
    /// One permit per exec session running.
    exec_slots: Arc<tokio::sync::Semaphore>,
}

/// Resolves once the agent is shutting down.
pub(crate) async fn stopped(mut shutdown: watch::Receiver<bool>) {
    // `changed` rather than `wait_for`: no lock guard is held by the future.
    while !*shutdown.borrow() {
        if shutdown.changed().await.is_err() {
            return;
        }
    }
}

async fn health() -> Response {
    json(StatusCode::OK, serde_json::json!({ "ok": true }))
}

fn unauthorized(message: &str) -> Response {
    error(
        StatusCode::UNAUTHORIZED,
        format!("{message}: task logs, exec and usage are given only to drover servers (ask through the server: drover logs, drover alloc exec)"),
    )
}

/// Whether the request carries a token a server issued for this node and
/// `path` ([`drover_serve::agent_token`]); the key is read from etcd
/// (and again once when a token does not match, should it have changed).
async fn authorized(
    api: &Api,
    node_id: &str,
    path: &str,
    headers: &HeaderMap,
) -> Result<(), Response> {
    let token = drover_serve::bearer_token(headers).ok_or_else(|| unauthorized("no token"))?;
    let now = chrono::Utc::now().timestamp().max(0) as u64;
    let cached = api.key.read().await.clone();
    if let Some(key) = &cached {
        if drover_serve::agent_token::verify(key, node_id, path, token, now).is_ok() {
            return Ok(());
        }
    }
    let fresh = node_key(&api.shared.store, node_id).await?;
    *api.key.write().await = Some(fresh.clone());
    drover_serve::agent_token::verify(&fresh, node_id, path, token, now).map_err(unauthorized)
}

/// This node's key for the servers' tokens: the one a server wrote at
/// its join, else (a node without its own etcd identity, which may read
/// the master key) derived from the master key.
async fn node_key(store: &drover_store::Store, node_id: &str) -> Result<String, Response> {
    let unavailable = |e: drover_store::StoreError| {
        error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("reading the agent API key: {e}"),
        )
    };
    if let Some(own) = store.node_api_key(node_id).await.map_err(unavailable)? {
        return Ok(own);
    }
    let master = store
        .agent_api_key()
        .await
        .map_err(unavailable)?
        .ok_or_else(|| unauthorized("no server has made the agent API key yet"))?;
    Ok(drover_serve::agent_token::node_key(&master, node_id))
}

async fn logs(
    State(api): State<Api>,
    Path((alloc_id, task)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let node_id = api.shared.node.borrow().metadata.uid.clone();
    if let Err(refused) = authorized(&api, &node_id, uri.path(), &headers).await {
        return refused;
    }
    let query = match parse_log_query(query.as_deref()) {
        Ok(q) => q,
        Err(message) => return error(StatusCode::BAD_REQUEST, message),
    };
    let name = container_name(&task, &alloc_id);
    if let Err(refused) = own_container(&api, &node_id, &alloc_id, &task).await {
        return refused;
    }
    let (options, skip) = match query.tail {
        Some(n) if n > 0 => match tail_window(&api.shared.docker, &name, query, n).await {
            Ok(w) => w,
            Err(e) => return error(StatusCode::BAD_GATEWAY, e.to_string()),
        },
        _ => (query.options(), 0),
    };
    let stream = match api.shared.docker.logs(&name, &options).await {
        Ok(s) => s,
        Err(e) => return error(StatusCode::BAD_GATEWAY, e.to_string()),
    };
    let wanted = query.stream();
    let mut skipper = SkipLines(skip);
    let body = stream
        .try_filter_map(move |chunk| {
            let keep = (chunk.stream == wanted)
                .then(|| skipper.feed(chunk.bytes))
                .flatten();
            async move { Ok(keep) }
        })
        .take_until(stopped(api.shutdown.clone()));
    (
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        Body::from_stream(body),
    )
        .into_response()
}

/// Parses the query of an exec request (pure): `command` (a JSON array of
/// strings, bounded) and `tty`; anything else is refused.
pub fn parse_exec_query(
    pairs: &[(String, String)],
) -> Result<drover_api::exec::ExecRequest, String> {
    let mut command = None;
    let mut tty = false;
    for (key, value) in pairs {
        match key.as_str() {
            "command" => {
                command = Some(
                    drover_api::exec::parse_command(value).map_err(|m| format!("command {m}"))?,
                )
            }
            "tty" => {
                tty = drover_api::exec::parse_flag(Some(value)).map_err(|m| format!("tty {m}"))?
            }
            _ => {
                return Err(format!(
                    "unknown query parameter {key:?} (expected command, tty)"
                ))
            }
        }
    }
    let command = command.ok_or("command is missing: a JSON array of strings")?;
    Ok(drover_api::exec::ExecRequest { command, tty })
}

/// `GET /v1/client/exec/{alloc_id}/{task}`: checks everything it can
/// before the upgrade (token, query, container, slot), then hands the
/// WebSocket to [`crate::exec::session`].
async fn exec(
    State(api): State<Api>,
    Path((alloc_id, task)): Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let node_id = api.shared.node.borrow().metadata.uid.clone();
    let signed = uri
        .path_and_query()
        .map_or_else(|| uri.path().to_string(), |p| p.as_str().to_string());
    if let Err(refused) = authorized(&api, &node_id, &signed, &headers).await {
        return refused;
    }
    let pairs = match Query::<Vec<(String, String)>>::try_from_uri(&uri) {
        Ok(Query(pairs)) => pairs,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("malformed query: {e}")),
    };
    let request = match parse_exec_query(&pairs) {
        Ok(r) => r,
        Err(message) => return error(StatusCode::BAD_REQUEST, message),
    };
    let name = container_name(&task, &alloc_id);
    let state = match own_container(&api, &node_id, &alloc_id, &task).await {
        Ok(c) => c.state.unwrap_or_default(),
        Err(refused) => return refused,
    };
    if state.running != Some(true) {
        let status = state
            .status
            .map_or_else(|| "not running".to_string(), |s| s.to_string());
        return error(
            StatusCode::CONFLICT,
            format!(
                "task {task} of allocation {alloc_id} is not running (its container is {status})"
            ),
        );
    }
    let Ok(permit) = api.exec_slots.clone().try_acquire_owned() else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "this node runs {} exec sessions already, the most it runs at once; try again when one ends",
                drover_api::exec::MAX_SESSIONS
            ),
        );
    };
    let upgrade = match upgrade {
        Ok(u) => u,
        Err(rejection) => return rejection.into_response(),
    };
    let (shared, shutdown) = (api.shared.clone(), api.shutdown.clone());
    upgrade
        .max_message_size(drover_api::exec::MAX_MESSAGE_BYTES)
        .max_frame_size(drover_api::exec::MAX_MESSAGE_BYTES)
        .on_upgrade(move |socket| {
            crate::exec::session(socket, shared, name, request, shutdown, permit)
        })
}

/// This node's container of `task` of allocation `alloc_id`, or the 404
/// (or Docker's error) to answer. Several agents can share one Docker
/// daemon, and Docker also matches a name as an id prefix: the labels
/// must name this node, this allocation and this task.
async fn own_container(
    api: &Api,
    node_id: &str,
    alloc_id: &str,
    task: &str,
) -> Result<bollard::models::ContainerInspectResponse, Response> {
    let missing = || {
        error(
            StatusCode::NOT_FOUND,
            format!("no container for task {task} of allocation {alloc_id} on this node"),
        )
    };
    match api
        .shared
        .docker
        .inspect_raw(&container_name(task, alloc_id))
        .await
    {
        Ok(c) => {
            let labels = c.config.as_ref().and_then(|c| c.labels.as_ref());
            let is = |key: &str, value: &str| {
                labels.and_then(|l| l.get(key)).map(String::as_str) == Some(value)
            };
            if is(labels::NODE_ID, node_id)
                && is(labels::ALLOC_ID, alloc_id)
                && is(labels::TASK, task)
            {
                Ok(c)
            } else {
                Err(missing())
            }
        }
        Err(DriverError::NotFound { .. }) => Err(missing()),
        Err(e) => Err(error(StatusCode::BAD_GATEWAY, e.to_string())),
    }
}

/// The most messages [`tail_window`] reads to find the last lines of one
/// stream.
const MAX_TAIL_WINDOW: u64 = 1 << 20;

/// Docker counts `tail` over stdout and stderr together, even when asked
/// for one: the last N lines of one stream are found by reading both over a
/// growing window. Returns the options for the real read (both streams,
/// filtered afterwards) and how many lines of the wanted stream to drop.
async fn tail_window(
    docker: &Docker,
    name: &str,
    query: LogQuery,
    wanted: u64,
) -> Result<(LogOptions, u64), DriverError> {
    let mut window = wanted;
    loop {
        let probe = LogOptions {
            follow: false,
            tail: Some(window),
            stdout: true,
            stderr: true,
        };
        // Counted as they stream by, not kept: a window may span a million
        // messages.
        let mut probed = std::pin::pin!(docker.logs(name, &probe).await?);
        let (mut messages, mut lines) = (0u64, 0u64);
        while let Some(chunk) = probed.try_next().await? {
            messages += 1;
            if chunk.stream == query.stream() {
                lines += newlines(&chunk.bytes);
            }
        }
        let plan = tail_plan(wanted, window, messages, lines);
        if plan.is_some() || window >= MAX_TAIL_WINDOW {
            let skip = plan.unwrap_or(lines.saturating_sub(wanted));
            let options = LogOptions {
                follow: query.follow,
                ..probe
            };
            return Ok((options, skip));
        }
        window = window.saturating_mul(4).min(MAX_TAIL_WINDOW);
    }
}

/// Whether a window of the last `window` messages (both streams; Docker
/// sent `messages`, `lines` of them in the wanted stream) holds the last
/// `wanted` lines (pure): `Some(lines to drop)`, or `None` to widen it.
pub fn tail_plan(wanted: u64, window: u64, messages: u64, lines: u64) -> Option<u64> {
    if lines >= wanted {
        Some(lines - wanted)
    } else if messages < window {
        // The whole log fits: there is nothing older to find.
        Some(0)
    } else {
        None
    }
}

fn newlines(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|b| **b == b'\n').count() as u64
}

/// Drops the first lines of a stream, chunk by chunk (pure).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SkipLines(pub u64);

impl SkipLines {
    /// What is left of `chunk` once the lines still to drop are dropped.
    pub fn feed(&mut self, chunk: Bytes) -> Option<Bytes> {
        let mut start = 0;
        while self.0 > 0 {
            let i = chunk[start..].iter().position(|b| *b == b'\n')?;
            start += i + 1;
            self.0 -= 1;
        }
        (start < chunk.len()).then(|| chunk.slice(start..))
    }
}

/// An allocation's recent usage, from memory: no Docker call.
async fn stats(
    State(api): State<Api>,
    Path(alloc_id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let node_id = api.shared.node.borrow().metadata.uid.clone();
    if let Err(refused) = authorized(&api, &node_id, uri.path(), &headers).await {
        return refused;
    }
    match api.shared.metrics.usage_of(&alloc_id) {
        Some(usage) => match serde_json::to_value(&usage) {
            Ok(value) => json(StatusCode::OK, value),
            Err(e) => error(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("encoding the usage: {e}"),
            ),
        },
        None => error(
            StatusCode::NOT_FOUND,
            format!("allocation {alloc_id} does not run on this node"),
        ),
    }
}

fn json(status: StatusCode, value: serde_json::Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        value.to_string(),
    )
        .into_response()
}

fn error(status: StatusCode, message: String) -> Response {
    json(status, serde_json::json!({ "error": message }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_query_is_stdout_from_the_start_without_following() {
        let q = parse_log_query(None).expect("parse");
        assert_eq!(q, LogQuery::default());
        let o = q.options();
        assert!(o.stdout && !o.stderr && !o.follow);
        assert_eq!(o.tail, None);
    }

    #[test]
    fn every_parameter_is_read() {
        let q = parse_log_query(Some("follow=true&stderr=1&tail=20")).expect("parse");
        assert_eq!(
            q,
            LogQuery {
                follow: true,
                stderr: true,
                tail: Some(20)
            }
        );
        let o = q.options();
        assert!(!o.stdout && o.stderr && o.follow);
        assert_eq!(
            parse_log_query(Some("follow&stderr=false")).expect("parse"),
            LogQuery {
                follow: true,
                ..LogQuery::default()
            }
        );
    }

    #[test]
    fn bad_queries_say_what_is_wrong() {
        let e = parse_log_query(Some("tail=ten")).expect_err("bad tail");
        assert!(e.contains("tail must be a number"), "{e}");
        let e = parse_log_query(Some("tail=-1")).expect_err("negative tail");
        assert!(e.contains("tail"), "{e}");
        let e = parse_log_query(Some("tail=1000000")).expect_err("too many lines");
        assert!(e.contains("at most 100000"), "{e}");
        let e = parse_log_query(Some("follow=yes")).expect_err("bad bool");
        assert!(e.contains("follow must be true or false"), "{e}");
        let e = parse_log_query(Some("folow=true")).expect_err("typo");
        assert!(e.contains("unknown query parameter \"folow\""), "{e}");
    }

    #[test]
    fn a_tail_window_widens_until_it_holds_enough_lines_or_the_whole_log() {
        // Enough lines of the wanted stream: drop the extra ones.
        assert_eq!(tail_plan(2, 2, 2, 2), Some(0));
        assert_eq!(tail_plan(2, 8, 8, 5), Some(3));
        // The other stream filled the window: look further back.
        assert_eq!(tail_plan(2, 2, 2, 0), None);
        assert_eq!(tail_plan(2, 8, 8, 1), None);
        // Fewer messages than asked: that is the whole log.
        assert_eq!(tail_plan(2, 8, 5, 1), Some(0));
    }

    #[test]
    fn skipping_lines_works_across_chunks() {
        let mut s = SkipLines(3);
        assert_eq!(s.feed(Bytes::from_static(b"a\nb")), None);
        assert_eq!(s.feed(Bytes::from_static(b"b\n")), None);
        assert_eq!(
            s.feed(Bytes::from_static(b"c\nd\ne\n")),
            Some(Bytes::from_static(b"d\ne\n"))
        );
        assert_eq!(s, SkipLines(0));
        assert_eq!(
            s.feed(Bytes::from_static(b"f\n")),
            Some(Bytes::from_static(b"f\n"))
        );
        let mut exact = SkipLines(1);
        assert_eq!(exact.feed(Bytes::from_static(b"a\n")), None);
        assert_eq!(
            exact.feed(Bytes::from_static(b"b\n")),
            Some(Bytes::from_static(b"b\n"))
        );
    }

    #[test]
    fn an_exec_query_is_a_bounded_command_and_a_tty_flag() {
        let pairs = |list: &[(&str, &str)]| -> Vec<(String, String)> {
            list.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let r = parse_exec_query(&pairs(&[
            ("command", r#"["sh","-c","ls"]"#),
            ("tty", "true"),
        ]))
        .expect("parse");
        assert_eq!(r.command, ["sh", "-c", "ls"]);
        assert!(r.tty);
        let r = parse_exec_query(&pairs(&[("command", r#"["id"]"#)])).expect("parse");
        assert!(!r.tty);
        for (bad, says) in [
            (pairs(&[]), "command is missing"),
            (pairs(&[("command", "id")]), "command must be a JSON array"),
            (
                pairs(&[("command", r#"["id"]"#), ("tty", "x")]),
                "tty must be true or false",
            ),
            (
                pairs(&[("command", r#"["id"]"#), ("user", "root")]),
                "unknown query parameter \"user\"",
            ),
        ] {
            let e = parse_exec_query(&bad).expect_err("refused");
            assert!(e.contains(says), "{bad:?}: {e}");
        }
        let many = serde_json::to_string(&vec!["x"; 257]).expect("json");
        let e = parse_exec_query(&pairs(&[("command", &many)])).expect_err("too many");
        assert!(e.contains("at most 256"), "{e}");
    }

    #[test]
    fn the_container_is_named_as_the_worker_names_it() {
        assert_eq!(container_name("web", "1234-abcd"), "web-1234-abcd");
    }
}
