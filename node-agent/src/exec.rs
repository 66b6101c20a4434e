//! The agent's side of `drover alloc exec`: one Docker exec relayed over
//! a WebSocket in Nomad's exec frames ([`drover_api::exec`]). The HTTP
//! route that checks the request and upgrades is [`crate::http`]'s; this
//! is the session after the upgrade.
//!
//! Client frames go to the exec (stdin, its close, terminal resizes) while
//! its output goes to the client, each direction on its own so a command
//! that does not read its stdin cannot stall its output. The session ends
//! with `{"exited":true,"result":{"exit_code":N}}` once the command
//! exits, or `{"error":…}` when Docker fails, a frame is malformed or the
//! agent stops — then a close.
//!
//! Docker can neither kill an exec nor hang up its terminal, so what ends
//! a command early is its input. Without a terminal, the client's
//! `{"stdin":{"close":true}}` closes the command's stdin, and so does the
//! client going away. With a terminal, Docker would stop relaying its
//! output on a closed stdin while the command runs on, so a close is the
//! end-of-file key (Ctrl-D), as a user would type it; and when the client
//! goes away, the agent types what a user leaving would — Ctrl-C, then
//! Ctrl-D — which ends a foreground program and then the shell at its
//! prompt. A command that ignores all of that runs on until it exits or
//! its task stops.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use drover_api::exec::{encode_output, parse_input, ExecRequest, Output};
use futures::{SinkExt, StreamExt, TryStreamExt};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::{watch, OwnedSemaphorePermit};

use crate::driver::docker::{Docker, LogStream};
use crate::worker::Shared;

/// The end-of-file key of a terminal (Ctrl-D).
const EOF_KEY: u8 = 0x04;
/// The interrupt key (Ctrl-C).
const INTERRUPT_KEY: u8 = 0x03;
/// How long a shell gets to come back to its prompt after Ctrl-C before
/// Ctrl-D (sent at once, a shell taking the terminal back discards it).
const PROMPT_PAUSE: Duration = Duration::from_millis(200);

/// How a session ended, as far as the client is told.
enum End {
    /// The command exited.
    Exited(i64),
    /// Something failed: the client gets the message.
    Failed(String),
    /// The client closed or went away: nobody to tell.
    Gone,
}

/// Runs `request` in `container` and relays it over `socket` until one
/// side ends; `permit` holds the session's slot until then.
pub async fn session(
    socket: WebSocket,
    shared: Arc<Shared>,
    container: String,
    request: ExecRequest,
    shutdown: watch::Receiver<bool>,
    permit: OwnedSemaphorePermit,
) {
    let docker = &shared.docker;
    let (mut sink, mut stream) = socket.split();
    let started = docker
        .exec_attached(&container, &request.command, request.tty)
        .await;
    let mut exec = match started {
        Ok(exec) => exec,
        Err(e) => {
            finish(&mut sink, End::Failed(e.to_string())).await;
            return;
        }
    };
    let exec_id = exec.id.clone();
    let input = &mut exec.input;
    let output = &mut exec.output;
    // Client → exec.
    let from_client = async {
        let mut stdin_open = true;
        while let Some(message) = stream.next().await {
            let text =
                match message {
                    Ok(Message::Text(text)) => text,
                    Ok(Message::Binary(_)) => return End::Failed(
                        "malformed frame: a binary frame; the exec protocol's frames are JSON text"
                            .into(),
                    ),
                    Ok(Message::Close(_)) | Err(_) => return End::Gone,
                    Ok(Message::Ping(_) | Message::Pong(_)) => continue,
                };
            let frame = match parse_input(text.as_str()) {
                Ok(frame) => frame,
                Err(message) => return End::Failed(message),
            };
            if let (Some(bytes), true) = (frame.stdin, stdin_open) {
                let written = async {
                    input.write_all(&bytes).await?;
                    input.flush().await
                };
                if let Err(e) = written.await {
                    // The command closed its stdin: what follows is dropped,
                    // as a pipe would.
                    tracing::debug!(%container, error = %e, "writing an exec's stdin");
                    stdin_open = false;
                }
            }
            if frame.close && stdin_open {
                if request.tty {
                    let _ = type_keys(input, &[EOF_KEY]).await;
                } else {
                    let _ = input.shutdown().await;
                }
                stdin_open = false;
            }
            if let (Some((height, width)), true) = (frame.tty_size, request.tty) {
                if let Err(e) = docker
                    .exec_resize(&container, &exec_id, height, width)
                    .await
                {
                    return End::Failed(e.to_string());
                }
            }
        }
        End::Gone
    };
    // Exec → client.
    let to_client = async {
        loop {
            match output.try_next().await {
                Ok(Some(chunk)) => {
                    let frame = match chunk.stream {
                        LogStream::Stdout => Output::Stdout(chunk.bytes.to_vec()),
                        LogStream::Stderr => Output::Stderr(chunk.bytes.to_vec()),
                    };
                    let sent = sink.send(Message::Text(encode_output(&frame).into())).await;
                    if sent.is_err() {
                        return End::Gone;
                    }
                }
                Ok(None) => break,
                Err(e) => return End::Failed(e.to_string()),
            }
        }
        match exit_code(docker, &container, &exec_id).await {
            Ok(code) => End::Exited(code),
            Err(message) => End::Failed(message),
        }
    };
    let end = tokio::select! {
        end = from_client => end,
        end = to_client => end,
        _ = crate::http::stopped(shutdown) => End::Failed("the agent is stopping".into()),
    };
    if request.tty && !matches!(end, End::Exited(_)) {
        // A terminal left behind: what a user leaving would type.
        let _ = type_keys(&mut exec.input, &[INTERRUPT_KEY]).await;
        tokio::time::sleep(PROMPT_PAUSE).await;
        let _ = type_keys(&mut exec.input, &[EOF_KEY]).await;
    }
    // Without a terminal, the end of stdin: a command reading its input to
    // the end sees the end.
    let _ = exec.input.shutdown().await;
    finish(&mut sink, end).await;
    drop(permit);
}

/// Writes keys to the exec's terminal.
async fn type_keys(
    input: &mut Pin<Box<dyn AsyncWrite + Send>>,
    keys: &[u8],
) -> std::io::Result<()> {
    input.write_all(keys).await?;
    input.flush().await
}

/// The exec's exit code, once Docker says it has exited: its output
/// ends first, and a command may close its output and run on.
async fn exit_code(docker: &Docker, container: &str, id: &str) -> Result<i64, String> {
    let mut pause = Duration::from_millis(20);
    loop {
        match docker.exec_exit_code(container, id).await {
            Ok(Some(code)) => return Ok(code),
            Ok(None) => {}
            Err(e) => return Err(e.to_string()),
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(1));
    }
}

/// The last frame, if anyone is listening, then a close.
async fn finish(sink: &mut futures::stream::SplitSink<WebSocket, Message>, end: End) {
    let (frame, reason) = match end {
        End::Gone => return,
        End::Exited(code) => (Output::Exited(code), "exited"),
        End::Failed(message) => (Output::Error(message), "error"),
    };
    let _ = sink.send(Message::Text(encode_output(&frame).into())).await;
    let close = CloseFrame {
        code: axum::extract::ws::close_code::NORMAL,
        reason: reason.into(),
    };
    let _ = sink.send(Message::Close(Some(close))).await;
    let _ = sink.close().await;
}
