//! `GET /v1/client/allocation/{id}/exec?task=&command=&tty=`: a command
//! run in a task, over a WebSocket in Nomad's exec protocol
//! ([`drover_api::exec`]), relayed to the agent of the allocation's node
//! (`GET /v1/client/exec/{alloc}/{task}`, with a token the server signs
//! for that path and query, over TLS when the agent serves it) — so users
//! need to reach only the server, as for logs.
//!
//! Before the upgrade, the API's usual JSON errors: a bad query (400), an
//! unknown allocation or task (404), a caller without `alloc-exec` in the
//! allocation's namespace (403), every session slot taken (503). After
//! it, what fails — the allocation not placed, the agent unreachable or
//! refusing, the task not running, Docker — is an `{"error": …}` frame
//! naming it, then a close. Client frames are checked here too (size,
//! shape) before the agent sees them. A foreign `Origin` never gets this
//! far: the browser guard refuses it before the upgrade, so a web page
//! cannot open an exec with its visitor's credentials.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use drover_api::exec::{
    agent_url, encode_input, encode_output, parse_command, parse_flag, parse_input, parse_output,
    signed_path, ExecRequest, Input, Output, MAX_MESSAGE_BYTES, MAX_SESSIONS, SERVER_QUERY,
};
use drover_api_types::acl::Capability;
use drover_api_types::resolve::resolve_task;
use futures::{SinkExt, StreamExt};
use tokio::sync::OwnedSemaphorePermit;
use tokio_tungstenite::tungstenite::Message as AgentMessage;

use super::acl::Caller;
use super::allocs;
use super::error::{ApiError, ApiResult};
use super::extract::ApiQuery;
use super::route::{Need, Produces, Route, Routes};
use super::ApiState;

/// The largest frame read from an agent: its output chunks, base64.
const MAX_AGENT_MESSAGE: usize = 16 * 1024 * 1024;

pub(crate) fn routes() -> Routes {
    Routes::new("allocations").add(
        Route::get(
            "/v1/client/allocation/{id}/exec",
            "Run a command in a task (WebSocket, Nomad's exec protocol)",
        )
        .query(SERVER_QUERY)
        .produces(Produces::WebSocket)
        .needs(Need::Namespace(Capability::AllocExec))
        .across_namespaces(),
        exec,
    )
}

/// What the query asks for (pure): the task (`None`: the group's only
/// one) and the command.
pub fn parse_query(query: &HashMap<String, String>) -> ApiResult<(Option<String>, ExecRequest)> {
    if let Some(k) = query.keys().find(|k| !SERVER_QUERY.contains(&k.as_str())) {
        return Err(ApiError::bad_request(format!(
            "unknown parameter {k:?} (expected {})",
            SERVER_QUERY.join(", ")
        ))
        .at(k.as_str()));
    }
    let command = query.get("command").ok_or_else(|| {
        ApiError::bad_request("is missing: a JSON array of strings, e.g. [\"/bin/sh\"]")
            .at("command")
    })?;
    let command = parse_command(command).map_err(|m| ApiError::bad_request(m).at("command"))?;
    let tty = parse_flag(query.get("tty").map(String::as_str))
        .map_err(|m| ApiError::bad_request(m).at("tty"))?;
    let task = query.get("task").filter(|t| !t.is_empty()).cloned();
    Ok((task, ExecRequest { command, tty }))
}

/// Where the session goes once upgraded.
struct Target {
    alloc: String,
    node_id: Option<String>,
    task: String,
    request: ExecRequest,
}

async fn exec(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<HashMap<String, String>>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> ApiResult<Response> {
    let (task, request) = parse_query(&query)?;
    let store = &state.store;
    let (joined, _) = allocs::find(store, &id, &query).await?;
    caller.require(&joined.alloc.metadata.namespace, Capability::AllocExec)?;
    let alloc = joined.alloc.metadata.uid.clone();
    let tasks = super::logs::group_tasks(store, &joined).await?;
    let task = resolve_task(task.as_deref(), &tasks, &alloc)
        .map_err(|m| ApiError::not_found(m).at("task"))?;
    let permit = state
        .exec_sessions
        .clone()
        .try_acquire_owned()
        .map_err(|_| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("this server relays {MAX_SESSIONS} exec sessions already, the most it relays at once; try again when one ends"),
            )
        })?;
    let upgrade = upgrade.map_err(|rejection| {
        ApiError::bad_request(format!(
            "this route speaks WebSocket only: {}",
            rejection.body_text()
        ))
    })?;
    tracing::info!(
        alloc = %alloc,
        task = %task,
        command = ?request.command,
        tty = request.tty,
        who = %caller.who(),
        "exec"
    );
    let target = Target {
        alloc,
        node_id: joined.binding.map(|b| b.node_id),
        task,
        request,
    };
    Ok(upgrade
        .max_message_size(MAX_MESSAGE_BYTES)
        .max_frame_size(MAX_MESSAGE_BYTES)
        .on_upgrade(move |socket| session(socket, state, target, permit))
        .into_response())
}

/// After the upgrade: reach the agent, then relay until one side ends.
async fn session(socket: WebSocket, state: ApiState, target: Target, permit: OwnedSemaphorePermit) {
    let (mut client_tx, client_rx) = socket.split();
    match open_agent(&state, &target).await {
        Ok((agent, node)) => relay(&mut client_tx, client_rx, agent, &node).await,
        Err(message) => finish(&mut client_tx, Some(Output::Error(message))).await,
    }
    drop(permit);
}

/// The agent's WebSocket for the target, and how to name its node; the
/// error says what failed.
async fn open_agent(
    state: &ApiState,
    target: &Target,
) -> Result<(drover_api::ws::Socket, String), String> {
    let alloc = &target.alloc;
    let node_id = target
        .node_id
        .as_deref()
        .ok_or_else(|| format!("allocation {alloc} is not placed on a node yet"))?;
    let store = &state.store;
    let node = super::logs::agent_node(store, node_id, alloc)
        .await
        .map_err(|e| e.message)?;
    let name = node.metadata.name.clone();
    let addr = &node.spec.http_addr;
    let tls = node.spec.http_tls;
    let url = agent_url(addr, tls, alloc, &target.task, &target.request)
        .ok_or_else(|| format!("node {name} advertises a bad HTTP address {addr:?}"))?;
    let token = super::logs::agent_token(store, &node.metadata.uid, &signed_path(&url))
        .await
        .map_err(|e| e.message)?;
    let tls_config = match (tls, &state.agent_tls) {
        (false, _) => None,
        (true, Some(config)) => Some(config.clone()),
        (true, None) => Some(
            drover_api::client::TlsFiles::default()
                .rustls_config()
                .map_err(|e| e.to_string())?,
        ),
    };
    let bearer = format!("Bearer {token}");
    let socket = drover_api::ws::connect(
        url.as_str(),
        &[("authorization", bearer.as_str())],
        tls_config,
        MAX_AGENT_MESSAGE,
    )
    .await
    .map_err(|e| match e {
        drover_api::ws::ConnectError::Refused { .. } => {
            format!("the agent of node {name} at {addr}: {e}")
        }
        _ => format!(
            "cannot reach the agent of node {name} at {addr}: {e}{}",
            super::logs::tls_hint(tls)
        ),
    })?;
    Ok((socket, format!("node {name} at {addr}")))
}

/// How the relay ended.
enum End {
    /// The exec's last frame (exit or error) reached the client.
    Done,
    /// The client closed or went away.
    ClientGone,
    /// Tell the client this, then close.
    Failed(String),
}

async fn relay(
    client_tx: &mut futures::stream::SplitSink<WebSocket, Message>,
    mut client_rx: futures::stream::SplitStream<WebSocket>,
    agent: drover_api::ws::Socket,
    node: &str,
) {
    let (mut agent_tx, mut agent_rx) = agent.split();
    // Client → agent, each frame checked and written anew.
    let up = async {
        while let Some(message) = client_rx.next().await {
            let text =
                match message {
                    Ok(Message::Text(text)) => text,
                    Ok(Message::Binary(_)) => return End::Failed(
                        "malformed frame: a binary frame; the exec protocol's frames are JSON text"
                            .into(),
                    ),
                    Ok(Message::Close(_)) | Err(_) => return End::ClientGone,
                    Ok(Message::Ping(_) | Message::Pong(_)) => continue,
                };
            let input = match parse_input(text.as_str()) {
                Ok(input) => input,
                Err(message) => return End::Failed(message),
            };
            if input == Input::default() {
                continue;
            }
            let frame = AgentMessage::Text(encode_input(&input).into());
            if agent_tx.send(frame).await.is_err() {
                return End::Failed(format!("lost the connection to the agent of {node}"));
            }
        }
        End::ClientGone
    };
    // Agent → client, until the exec's last frame.
    let down = async {
        while let Some(message) = agent_rx.next().await {
            let text = match message {
                Ok(AgentMessage::Text(text)) => text,
                Ok(AgentMessage::Close(_)) | Err(_) => break,
                Ok(_) => continue,
            };
            let output = match parse_output(text.as_str()) {
                Ok(Some(output)) => output,
                Ok(None) => continue,
                Err(message) => return End::Failed(format!("the agent of {node}: {message}")),
            };
            let last = matches!(output, Output::Exited(_) | Output::Error(_));
            let frame = Message::Text(encode_output(&output).into());
            if client_tx.send(frame).await.is_err() {
                return End::ClientGone;
            }
            if last {
                return End::Done;
            }
        }
        End::Failed(format!(
            "the agent of {node} ended the session without an exit code"
        ))
    };
    let end = tokio::select! {
        end = up => end,
        end = down => end,
    };
    // The agent closes the command's stdin when its side closes.
    let _ = agent_tx.close().await;
    match end {
        End::Done => finish(client_tx, None).await,
        End::ClientGone => {}
        End::Failed(message) => finish(client_tx, Some(Output::Error(message))).await,
    }
}

/// The last frame, if any, then a normal close.
async fn finish(
    client_tx: &mut futures::stream::SplitSink<WebSocket, Message>,
    last: Option<Output>,
) {
    if let Some(output) = &last {
        let _ = client_tx
            .send(Message::Text(encode_output(output).into()))
            .await;
    }
    let close = CloseFrame {
        code: axum::extract::ws::close_code::NORMAL,
        reason: "".into(),
    };
    let _ = client_tx.send(Message::Close(Some(close))).await;
    let _ = client_tx.close().await;
}

/// The session slots of one server.
pub(crate) fn slots() -> Arc<tokio::sync::Semaphore> {
    Arc::new(tokio::sync::Semaphore::new(MAX_SESSIONS))
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
    fn the_query_names_a_bounded_command() {
        let (task, r) = parse_query(&q(&[
            ("task", "web"),
            ("command", r#"["sh","-c","id"]"#),
            ("tty", "true"),
            ("namespace", "*"),
        ]))
        .expect("ok");
        assert_eq!(task.as_deref(), Some("web"));
        assert_eq!(r.command, ["sh", "-c", "id"]);
        assert!(r.tty);
        let (task, r) = parse_query(&q(&[("command", r#"["ls"]"#)])).expect("ok");
        assert_eq!(task, None);
        assert!(!r.tty);
        for (query, field) in [
            (q(&[]), "command"),
            (q(&[("command", "ls")]), "command"),
            (q(&[("command", "[]")]), "command"),
            (q(&[("command", r#"["ls"]"#), ("tty", "maybe")]), "tty"),
            (q(&[("command", r#"["ls"]"#), ("cmd", "x")]), "cmd"),
        ] {
            let e = parse_query(&query).expect_err("refused");
            assert_eq!(e.field.as_deref(), Some(field), "{query:?}: {e}");
            assert_eq!(e.status, StatusCode::BAD_REQUEST);
        }
        let many = serde_json::to_string(&vec!["x"; 300]).expect("json");
        let e = parse_query(&q(&[("command", &many)])).expect_err("too many");
        assert!(e.message.contains("300 arguments"), "{e}");
    }
}
