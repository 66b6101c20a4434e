//! `GET /v1/allocation/{id}/logs/{task}?follow&stderr&tail=N`: a task's
//! output, proxied from the agent of the node the allocation is bound to
//! (`node.spec.http_addr`, `GET /v1/client/logs/{alloc}/{task}`), so users
//! need to reach only the server. `/v1/allocation/{id}/logs` picks the
//! group's only task.
//!
//! The agent's answer streams through as it comes (status and content
//! type included); its JSON errors come back as this API's errors, naming
//! the node. An agent that cannot be reached is a 502 naming the node and
//! the address tried.

use drover_api::agent_logs::{agent_url, LogQuery};
use drover_api_types::acl::Capability;
use drover_api_types::alloc::MAX_LOG_TAIL;
use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use drover_api_types::resolve::resolve_task;
use drover_api_types::{Job, Node};
use drover_store::Store;

use super::acl::Caller;
use super::allocs::{self, Joined};
use super::error::{ApiError, ApiResult};
use super::route::{Need, Produces, Route, Routes};
use super::ApiState;

pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

const LOG_QUERY: &[&str] = &["namespace", "follow", "stderr", "tail"];

pub(crate) fn routes() -> Routes {
    Routes::new("allocations")
        .add(
            Route::get(
                "/v1/allocation/{id}/logs",
                "Stream the logs of the group's only task",
            )
            .query(LOG_QUERY)
            .produces(Produces::Text)
            .needs(Need::Namespace(Capability::ReadLogs))
            .across_namespaces(),
            logs_only_task,
        )
        .add(
            Route::get(
                "/v1/allocation/{id}/logs/{task}",
                "Stream a task's logs from its node's agent",
            )
            .query(LOG_QUERY)
            .produces(Produces::Text)
            .needs(Need::Namespace(Capability::ReadLogs))
            .across_namespaces(),
            logs,
        )
}

/// Parses the query (pure); `namespace` limits the allocation lookup.
pub fn parse_query(query: &HashMap<String, String>) -> ApiResult<LogQuery> {
    let flag = |key: &str| -> ApiResult<bool> {
        match query.get(key).map(String::as_str) {
            None | Some("false") | Some("0") => Ok(false),
            Some("" | "true" | "1") => Ok(true),
            Some(v) => {
                Err(ApiError::bad_request(format!("must be true or false, got {v:?}")).at(key))
            }
        }
    };
    let tail = query
        .get("tail")
        .map(|v| {
            let lines = v.parse::<u64>().map_err(|_| {
                ApiError::bad_request(format!("must be a number of lines, got {v:?}")).at("tail")
            })?;
            if lines > MAX_LOG_TAIL {
                return Err(ApiError::bad_request(format!(
                    "is at most {MAX_LOG_TAIL} lines, got {lines}"
                ))
                .at("tail"));
            }
            Ok(lines)
        })
        .transpose()?;
    if let Some(k) = query
        .keys()
        .find(|k| !["follow", "stderr", "tail", "namespace"].contains(&k.as_str()))
    {
        return Err(ApiError::bad_request(format!(
            "unknown parameter {k:?} (expected follow, stderr, tail, namespace)"
        ))
        .at(k.as_str()));
    }
    Ok(LogQuery {
        follow: flag("follow")?,
        stderr: flag("stderr")?,
        tail,
    })
}

/// A token for asking node `node_id`'s agent for `path`, signed with the
/// agent API key (made here when no server has made it yet).
pub(crate) async fn agent_token(
    store: &drover_store::Store,
    node_id: &str,
    path: &str,
) -> ApiResult<String> {
    let key = master_key(store).await?;
    let now = chrono::Utc::now().timestamp().max(0) as u64;
    Ok(drover_serve::agent_token::issue(&key, node_id, path, now))
}

/// The servers' master key for agent tokens, made (randomly) by the first
/// server that needs it.
pub(crate) async fn master_key(store: &drover_store::Store) -> ApiResult<String> {
    let made = store
        .agent_api_key_or_make(|| drover_serve::agent_token::new_key().ok())
        .await?;
    made.ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the agent API key could not be made (the system's random source failed); try again",
        )
    })
}

/// The client the server reaches agents with: the one `drover server`
/// built from its TLS settings, else a plain one.
pub(crate) fn client(state: &ApiState) -> ApiResult<reqwest::Client> {
    if let Some(client) = &state.agents {
        return Ok(client.clone());
    }
    static PLAIN: OnceLock<reqwest::Client> = OnceLock::new();
    if let Some(c) = PLAIN.get() {
        return Ok(c.clone());
    }
    let built = reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .build()
        .map_err(|e| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("HTTP client: {e}"),
            )
        })?;
    Ok(PLAIN.get_or_init(|| built).clone())
}

/// The task names of the allocation's group, from the job version it runs
/// (else the current job; empty when neither is left).
pub(crate) async fn group_tasks(store: &Store, joined: &Joined) -> ApiResult<Vec<String>> {
    let keys = store.keys();
    let a = &joined.alloc;
    let (ns, job_id) = (&a.metadata.namespace, &a.spec.job_id);
    let mut job: Option<Job> = store
        .get_at(&keys.job_version(ns, job_id, a.spec.job_version))
        .await?;
    if job.is_none() {
        job = store.get_at(&keys.job(ns, job_id)).await?;
    }
    Ok(job
        .and_then(|j| {
            j.spec
                .groups
                .into_iter()
                .find(|g| g.name == a.spec.task_group)
        })
        .map(|g| g.tasks.into_iter().map(|t| t.name).collect())
        .unwrap_or_default())
}

async fn logs_only_task(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    proxy(&state, &caller, &id, None, &query).await
}

async fn logs(
    State(state): State<ApiState>,
    caller: Caller,
    Path((id, task)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    proxy(&state, &caller, &id, Some(&task), &query).await
}

pub(crate) fn bad_gateway(message: String) -> ApiError {
    ApiError::new(StatusCode::BAD_GATEWAY, message)
}

async fn proxy(
    state: &ApiState,
    caller: &Caller,
    reference: &str,
    task: Option<&str>,
    query: &HashMap<String, String>,
) -> ApiResult<Response> {
    let q = parse_query(query)?;
    let store = &state.store;
    let (joined, _) = allocs::find(store, reference, query).await?;
    caller.require(&joined.alloc.metadata.namespace, Capability::ReadLogs)?;
    let id = joined.alloc.metadata.uid.clone();
    let tasks = group_tasks(store, &joined).await?;
    let task = resolve_task(task, &tasks, &id).map_err(|m| ApiError::not_found(m).at("task"))?;
    let response = open_output(state, &joined, &task, q).await?;
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("text/plain; charset=utf-8")
        .to_string();
    Ok((
        [(header::CONTENT_TYPE, content_type)],
        Body::from_stream(response.bytes_stream()),
    )
        .into_response())
}

/// The node `node_id` that allocation `alloc` is bound to, as long as its
/// agent advertises an address to reach it at.
pub(crate) async fn agent_node(store: &Store, node_id: &str, alloc: &str) -> ApiResult<Node> {
    let node: Node = store
        .get_at(&store.keys().node(node_id))
        .await?
        .ok_or_else(|| {
            bad_gateway(format!(
                "node {node_id} (allocation {alloc}) is not registered"
            ))
        })?;
    if node.spec.http_addr.is_empty() {
        return Err(bad_gateway(format!(
            "node {} ({node_id}) does not advertise an HTTP address (an older or simulated agent)",
            node.metadata.name
        )));
    }
    Ok(node)
}

/// What to add when an agent serving TLS cannot be reached.
pub(crate) fn tls_hint(tls: bool) -> &'static str {
    if tls {
        " (it serves TLS: the server needs --tls-cert, --tls-key and --tls-client-ca from the agents' CA)"
    } else {
        ""
    }
}

/// The largest refusal read from an agent (its JSON error is a line).
const MAX_REFUSAL: usize = 64 << 10;

/// The agent of the node an allocation is bound to, as the server names
/// it in errors.
pub(crate) struct AgentAt {
    pub name: String,
    pub addr: String,
    pub tls: bool,
}

impl AgentAt {
    /// The agent could not be reached, or stopped answering (a timeout:
    /// 504, else 502).
    pub(crate) fn unreachable(&self, e: reqwest::Error) -> ApiError {
        let message = format!(
            "cannot reach the agent of node {} at {}: {e:#}{}",
            self.name,
            self.addr,
            tls_hint(self.tls)
        );
        match e.is_timeout() {
            true => ApiError::new(StatusCode::GATEWAY_TIMEOUT, message),
            false => bad_gateway(message),
        }
    }

    /// What the agent said, naming the node.
    pub(crate) fn said(&self, what: impl std::fmt::Display) -> String {
        format!("the agent of node {} at {}: {what}", self.name, self.addr)
    }
}

/// Asks the agent of `joined`'s node for `url_of(http_addr, tls, alloc id)`
/// with a token the server signs for that path, within `timeout` when one
/// is given. A success is the agent's answer; its refusal is this API's
/// error, with the agent's status, naming the node. The caller has
/// checked the visitor may read the allocation.
pub(crate) async fn ask_agent(
    state: &ApiState,
    joined: &Joined,
    url_of: impl FnOnce(&str, bool, &str) -> Option<reqwest::Url>,
    timeout: Option<Duration>,
) -> ApiResult<(reqwest::Response, AgentAt)> {
    let store = &state.store;
    let id = &joined.alloc.metadata.uid;
    let binding = joined.binding.as_ref().ok_or_else(|| {
        ApiError::conflict(format!("allocation {id} is not placed on a node yet"))
    })?;
    let node = agent_node(store, &binding.node_id, id).await?;
    let agent = AgentAt {
        name: node.metadata.name.clone(),
        addr: node.spec.http_addr.clone(),
        tls: node.spec.http_tls,
    };
    let url = url_of(&agent.addr, agent.tls, id).ok_or_else(|| {
        bad_gateway(format!(
            "node {} advertises a bad HTTP address {:?}",
            agent.name, agent.addr
        ))
    })?;
    let token = agent_token(store, &node.metadata.uid, url.path()).await?;
    let mut request = client(state)?.get(url).bearer_auth(token);
    if let Some(timeout) = timeout {
        request = request.timeout(timeout);
    }
    let response = request.send().await.map_err(|e| agent.unreachable(e))?;
    let status = response.status();
    if !status.is_success() {
        let body = read_bounded(response, MAX_REFUSAL)
            .await
            .unwrap_or_default();
        let message = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v.get("error")?.as_str().map(str::to_string))
            .unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned());
        let status = StatusCode::from_u16(status.as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
        return Err(ApiError::new(status, agent.said(message)));
    }
    Ok((response, agent))
}

/// An answer's body, at most `max` bytes (more is cut off).
pub(crate) async fn read_bounded(
    mut response: reqwest::Response,
    max: usize,
) -> Result<Vec<u8>, reqwest::Error> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        let room = max.saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if room < chunk.len() {
            break;
        }
    }
    Ok(body)
}

/// The agent's answer streaming `task`'s output of the allocation.
pub(crate) async fn open_output(
    state: &ApiState,
    joined: &Joined,
    task: &str,
    q: LogQuery,
) -> ApiResult<reqwest::Response> {
    let url_of = |addr: &str, tls: bool, id: &str| agent_url(addr, tls, id, task, q);
    let (response, _) = ask_agent(state, joined, url_of, None).await?;
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_query_is_checked_and_bare_flags_mean_true() {
        let p = parse_query(&q(&[("follow", ""), ("tail", "20")])).expect("ok");
        assert_eq!(
            p,
            LogQuery {
                follow: true,
                stderr: false,
                tail: Some(20)
            }
        );
        assert_eq!(parse_query(&q(&[])).expect("ok"), LogQuery::default());
        let e = parse_query(&q(&[("tail", "x")])).expect_err("bad tail");
        assert_eq!(e.field.as_deref(), Some("tail"));
        let e = parse_query(&q(&[("tail", "100001")])).expect_err("too many lines");
        assert_eq!(e.field.as_deref(), Some("tail"));
        assert!(parse_query(&q(&[("tail", "100000")])).is_ok());
        let e = parse_query(&q(&[("follw", "1")])).expect_err("typo");
        assert_eq!(e.field.as_deref(), Some("follw"));
    }
}
