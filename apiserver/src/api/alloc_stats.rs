//! `GET /v1/client/allocation/{id}/stats`: an allocation's CPU and memory,
//! asked of the agent of the node it is bound to (`GET
//! /v1/client/stats/{alloc}` on `node.spec.http_addr`, with a token the
//! server signs for that path, over TLS when the agent serves it) — as
//! the logs proxy does — and answered in Nomad's `AllocResourceUsage`
//! shape with each task's recent samples under `History`
//! ([`drover_api::stats`]).
//!
//! The agent answers from memory, so the whole exchange is bounded by
//! [`AGENT_TIMEOUT`]: an unreachable or slow agent is a 502 (504 past the
//! timeout) naming the node, never a hung request.

use std::collections::HashMap;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use drover_api::stats::{agent_url, resource_usage, AgentAllocStats, AllocResourceUsage};
use drover_api_types::acl::Capability;

use super::acl::Caller;
use super::allocs;
use super::error::{ApiError, ApiResult};
use super::logs::{agent_node, agent_token, bad_gateway, client, tls_hint};
use super::openapi as schema;
use super::route::{Need, Route, Routes};
use super::ApiState;

/// The longest the server waits for an agent's answer, connection included.
pub(crate) const AGENT_TIMEOUT: Duration = Duration::from_secs(5);

/// The largest answer read from an agent: a few tasks' 30 samples are
/// kilobytes.
const MAX_ANSWER: usize = 1 << 20;

pub(crate) fn routes() -> Routes {
    Routes::new("allocations").add(
        Route::get(
            "/v1/client/allocation/{id}/stats",
            "An allocation's CPU and memory: the latest, and the last minutes under History",
        )
        .in_namespace()
        .answers(schema::one::<AllocResourceUsage>)
        .needs(Need::Namespace(Capability::ReadJob))
        .across_namespaces(),
        stats,
    )
}

async fn stats(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> ApiResult<Json<AllocResourceUsage>> {
    if let Some(k) = query.keys().find(|k| k.as_str() != "namespace") {
        return Err(
            ApiError::bad_request(format!("unknown parameter {k:?} (expected namespace)"))
                .at(k.as_str()),
        );
    }
    let store = &state.store;
    let (joined, _) = allocs::find(store, &id, &query).await?;
    caller.require(&joined.alloc.metadata.namespace, Capability::ReadJob)?;
    let id = &joined.alloc.metadata.uid;
    let binding = joined.binding.as_ref().ok_or_else(|| {
        ApiError::conflict(format!("allocation {id} is not placed on a node yet"))
    })?;
    let node = agent_node(store, &binding.node_id, id).await?;
    let (name, addr, tls) = (
        &node.metadata.name,
        &node.spec.http_addr,
        node.spec.http_tls,
    );
    let url = agent_url(addr, tls, id).ok_or_else(|| {
        bad_gateway(format!(
            "node {name} advertises a bad HTTP address {addr:?}"
        ))
    })?;
    let token = agent_token(store, &node.metadata.uid, url.path()).await?;
    let unreachable = |e: reqwest::Error| {
        let message = format!(
            "cannot reach the agent of node {name} at {addr}: {e:#}{}",
            tls_hint(tls)
        );
        match e.is_timeout() {
            true => ApiError::new(StatusCode::GATEWAY_TIMEOUT, message),
            false => bad_gateway(message),
        }
    };
    let response = client(&state)?
        .get(url)
        .bearer_auth(token)
        .timeout(AGENT_TIMEOUT)
        .send()
        .await
        .map_err(unreachable)?;
    let status = response.status();
    let body = read_bounded(response).await.map_err(unreachable)?;
    if !status.is_success() {
        let message = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v.get("error")?.as_str().map(str::to_string))
            .unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned());
        let status = StatusCode::from_u16(status.as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
        return Err(ApiError::new(
            status,
            format!("the agent of node {name} at {addr}: {message}"),
        ));
    }
    let usage: AgentAllocStats = serde_json::from_slice(&body).map_err(|e| {
        bad_gateway(format!(
            "the agent of node {name} at {addr} answered what is not usage: {e}"
        ))
    })?;
    Ok(Json(resource_usage(usage)))
}

/// The answer's body, at most [`MAX_ANSWER`] bytes (more is cut off, and
/// then fails to decode as the error it is).
async fn read_bounded(mut response: reqwest::Response) -> Result<Vec<u8>, reqwest::Error> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        let room = MAX_ANSWER.saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if room < chunk.len() {
            break;
        }
    }
    Ok(body)
}
