//! The agent's own HTTP API, served on `drover agent --http-addr`.
//!
//! - `GET /v1/agent/health` → `{"ok":true}`.
//! - `GET /v1/client/logs/{alloc_id}/{task}?follow=true&stderr=true&tail=N`
//!   streams one task's stdout (or its stderr) as chunked `text/plain`.
//!
//! Errors are JSON, `{"error": "..."}`: 404 when this node has no container
//! for the task, 400 for a bad query. Shutting the agent down ends every
//! follow stream, so the server stops promptly.
//!
//! The handlers are thin: the query parsing and the container's name are
//! the pure functions below.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use futures::{StreamExt, TryStreamExt};
use tokio::sync::watch;

use crate::driver::docker::{DriverError, LogOptions};
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
                out.tail = Some(
                    value
                        .parse()
                        .map_err(|_| format!("tail must be a number of lines, got {value:?}"))?,
                )
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

/// The API's routes over the agent's shared state.
pub fn router(shared: Arc<Shared>, shutdown: watch::Receiver<bool>) -> Router {
    Router::new()
        .route("/v1/agent/health", get(health))
        .route("/v1/client/logs/{alloc_id}/{task}", get(logs))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "no such endpoint".into()) })
        .with_state(Api { shared, shutdown })
}

/// Serves the agent's HTTP API until `shutdown`.
pub async fn serve(
    listener: tokio::net::TcpListener,
    shared: Arc<Shared>,
    shutdown: watch::Receiver<bool>,
) {
    let addr = listener
        .local_addr()
        .map_or_else(|_| "?".to_string(), |a| a.to_string());
    tracing::info!(%addr, "agent HTTP API listening");
    let app = router(shared, shutdown.clone());
    let result = axum::serve(listener, app)
        .with_graceful_shutdown(stopped(shutdown))
        .await;
    if let Err(e) = result {
        tracing::error!(%addr, error = %e, "agent HTTP API failed");
    }
}

#[derive(Clone)]
struct Api {
    shared: Arc<Shared>,
    shutdown: watch::Receiver<bool>,
}

async fn stopped(mut shutdown: watch::Receiver<bool>) {
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

async fn logs(
    State(api): State<Api>,
    Path((alloc_id, task)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Response {
    let query = match parse_log_query(query.as_deref()) {
        Ok(q) => q,
        Err(message) => return error(StatusCode::BAD_REQUEST, message),
    };
    let name = container_name(&task, &alloc_id);
    let node_id = api.shared.node.borrow().metadata.uid.clone();
    let missing = || {
        error(
            StatusCode::NOT_FOUND,
            format!("no container for task {task} of allocation {alloc_id} on this node"),
        )
    };
    // Several agents can share one Docker daemon: only this node's
    // containers are served.
    match api.shared.docker.inspect_raw(&name).await {
        Ok(c) => {
            let labels = c.config.and_then(|c| c.labels).unwrap_or_default();
            if labels.get(labels::NODE_ID) != Some(&node_id) {
                return missing();
            }
        }
        Err(DriverError::NotFound { .. }) => return missing(),
        Err(e) => return error(StatusCode::BAD_GATEWAY, e.to_string()),
    }
    let stream = match api.shared.docker.logs(&name, &query.options()).await {
        Ok(s) => s,
        Err(e) => return error(StatusCode::BAD_GATEWAY, e.to_string()),
    };
    let body = stream
        .map_ok(|chunk| chunk.bytes)
        .take_until(stopped(api.shutdown.clone()));
    (
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        Body::from_stream(body),
    )
        .into_response()
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
        let e = parse_log_query(Some("follow=yes")).expect_err("bad bool");
        assert!(e.contains("follow must be true or false"), "{e}");
        let e = parse_log_query(Some("folow=true")).expect_err("typo");
        assert!(e.contains("unknown query parameter \"folow\""), "{e}");
    }

    #[test]
    fn the_container_is_named_as_the_worker_names_it() {
        assert_eq!(container_name("web", "1234-abcd"), "web-1234-abcd");
    }
}
