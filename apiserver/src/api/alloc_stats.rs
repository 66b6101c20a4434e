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
use axum::Json;
use drover_api::stats::{agent_url, resource_usage, AgentAllocStats, AllocResourceUsage};
use drover_api_types::acl::Capability;

use super::acl::Caller;
use super::allocs;
use super::error::{ApiError, ApiResult};
use super::logs::{ask_agent, bad_gateway, read_bounded};
use super::openapi as schema;
use super::route::{Need, Route, Routes};
use super::ApiState;

/// The longest the server waits for an agent's answer, connection included.
pub(crate) const AGENT_TIMEOUT: Duration = Duration::from_secs(5);

/// The largest answer read from an agent: a few tasks' 30 samples are
/// kilobytes (more is cut off, and then fails to decode).
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
    let (joined, _) = allocs::find(&state.store, &id, &query).await?;
    caller.require(&joined.alloc.metadata.namespace, Capability::ReadJob)?;
    let (response, agent) = ask_agent(&state, &joined, agent_url, Some(AGENT_TIMEOUT)).await?;
    let body = read_bounded(response, MAX_ANSWER)
        .await
        .map_err(|e| agent.unreachable(e))?;
    let usage: AgentAllocStats = serde_json::from_slice(&body).map_err(|e| {
        bad_gateway(format!(
            "the agent of node {} at {} answered what is not usage: {e}",
            agent.name, agent.addr
        ))
    })?;
    Ok(Json(resource_usage(usage)))
}
