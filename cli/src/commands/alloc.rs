//! `drover alloc exec ALLOC [TASK] -- CMD…`: run a command in a task,
//! through the server (`GET /v1/client/allocation/{id}/exec`, a WebSocket
//! in Nomad's exec protocol, [`drover_api::exec`]), which relays it to the
//! node's agent and Docker exec.
//!
//! `drover alloc restart ALLOC [TASK]`: restart the allocation's running
//! tasks (or one) where they run (`POST
//! /v1/client/allocation/{id}/restart`): the request is recorded on the
//! allocation and its node's agent carries it out once — a new container
//! of the same spec, not counted by the restart policy.
//!
//! With a terminal (`-t`, the default when stdin is one) the local
//! terminal is put in raw mode for the session and restored on every way
//! out, its size is sent at the start and on every `SIGWINCH`; stdin is
//! copied to the command (`-i=false`: its stdin is closed at once), its
//! stdout and stderr to ours, and the CLI exits with its exit code.

use std::io::{IsTerminal as _, Read as _};
use std::os::fd::AsFd as _;
use std::process::ExitCode;

use anyhow::{bail, Context as _};
use drover_api::exec::{check_command, encode_input, parse_output, Input, Output};
use futures::{SinkExt as _, StreamExt as _};
use tokio_tungstenite::tungstenite::Message;

use super::client::{segment, ApiArgs};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: AllocCommand,
}

#[derive(Debug, clap::Subcommand)]
enum AllocCommand {
    /// Run a command in a task: `drover alloc exec [-i] [-t] ALLOC [TASK] -- CMD...`.
    Exec(ExecArgs),
    /// Restart a running allocation's tasks in place: `drover alloc restart ALLOC [TASK]`.
    Restart(RestartArgs),
}

#[derive(Debug, clap::Args)]
pub struct RestartArgs {
    /// Allocation id, a unique prefix of one, or its name (`job.group[0]`).
    alloc: String,
    /// Only this task (default: every running task).
    task: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct ExecArgs {
    /// Pass this terminal's stdin to the command (`-i=false`: its stdin
    /// is closed at once).
    #[arg(
        short = 'i',
        long = "stdin",
        default_value_t = true,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        action = clap::ArgAction::Set
    )]
    stdin: bool,
    /// Give the command a terminal (default: when stdin is a terminal).
    #[arg(
        short = 't',
        long = "tty",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        action = clap::ArgAction::Set
    )]
    tty: Option<bool>,
    /// Allocation id, a unique prefix of one, or its name (`job.group[0]`).
    alloc: String,
    /// The task (optional when the group has one).
    task: Option<String>,
    /// The command and its arguments, after `--`.
    #[arg(last = true, required = true, value_name = "CMD")]
    command: Vec<String>,
}

pub fn run(args: &Args, api: &ApiArgs) -> anyhow::Result<ExitCode> {
    match &args.command {
        AllocCommand::Exec(exec) => run_exec(exec, api),
        AllocCommand::Restart(restart) => run_restart(restart, api),
    }
}

fn run_restart(args: &RestartArgs, api: &ApiArgs) -> anyhow::Result<ExitCode> {
    let client = api.client()?;
    let answer = super::client::runtime()?
        .block_on(client.restart_allocation(&args.alloc, args.task.as_deref()))?;
    println!("{}", restart_message(&answer));
    Ok(ExitCode::SUCCESS)
}

/// What `alloc restart` prints once the server took the request (pure).
pub fn restart_message(r: &drover_api::allocs::RestartResponse) -> String {
    let what = match &r.task {
        Some(task) => format!("task {task:?}"),
        None => "every running task".to_string(),
    };
    format!(
        "restart of allocation {} requested (restart #{}): its node's agent restarts {what} in place; \
         `drover describe alloc {}` shows the \"Restart Signaled\" and \"Started\" events",
        short(&r.id),
        r.generation,
        short(&r.id)
    )
}

fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

/// The largest message read from the server (its output frames).
const MAX_MESSAGE: usize = 16 * 1024 * 1024;
/// How much of stdin goes into one frame: base64 of it stays well under
/// the server's frame bound.
const STDIN_CHUNK: usize = 16 * 1024;

fn run_exec(args: &ExecArgs, api: &ApiArgs) -> anyhow::Result<ExitCode> {
    check_command(&args.command).map_err(|m| anyhow::anyhow!("the command {m}"))?;
    let tty = args
        .tty
        .unwrap_or(args.stdin && std::io::stdin().is_terminal());
    let client = api.client()?;
    let url = exec_url(
        client.base(),
        &args.alloc,
        args.task.as_deref(),
        &args.command,
        tty,
        client.namespace(),
    )?;
    let tls = if url.scheme() == "https" {
        Some(api.tls_files().rustls_config()?)
    } else {
        None
    };
    let runtime = super::client::runtime()?;
    let socket = runtime.block_on(async {
        let headers: Vec<(&str, &str)> = client
            .token()
            .map(|t| vec![("x-drover-token", t)])
            .unwrap_or_default();
        drover_api::ws::connect(url.as_str(), &headers, tls, MAX_MESSAGE).await
    });
    let socket = socket.map_err(|e| match e {
        drover_api::ws::ConnectError::Unreachable(cause) => anyhow::anyhow!(
            "cannot reach the drover server at {}: {cause}; is it running? (--addr or DROVER_ADDR)",
            client.base()
        ),
        other => anyhow::anyhow!("{other}"),
    })?;
    // Raw only while the session runs, and only a real terminal; restored
    // when the guard drops, whichever way this returns (or unwinds).
    let raw = if tty { RawTerminal::enter()? } else { None };
    let code = runtime.block_on(session(socket, args.stdin, tty, raw.is_some()))?;
    drop(raw);
    // Exit codes are 0-255; Docker reports -1 when it cannot tell.
    Ok(ExitCode::from(code.rem_euclid(256) as u8))
}

/// The server's exec URL (pure). An allocation id is found in every
/// namespace unless `-n` names one other than `default`.
pub fn exec_url(
    base: &str,
    alloc: &str,
    task: Option<&str>,
    command: &[String],
    tty: bool,
    namespace: &str,
) -> anyhow::Result<reqwest::Url> {
    let path = format!("{base}/v1/client/allocation/{}/exec", segment(alloc));
    let mut url = reqwest::Url::parse(&path).with_context(|| format!("{base:?} is not a URL"))?;
    {
        let mut q = url.query_pairs_mut();
        if let Some(task) = task {
            q.append_pair("task", task);
        }
        q.append_pair("command", &serde_json::to_string(command)?);
        q.append_pair("tty", if tty { "true" } else { "false" });
        let ns = if namespace == "default" || namespace.is_empty() {
            "*"
        } else {
            namespace
        };
        q.append_pair("namespace", ns);
    }
    Ok(url)
}

/// The terminal in raw mode, restored on drop.
struct RawTerminal {
    saved: rustix::termios::Termios,
}

impl RawTerminal {
    /// Raw mode on stdin when it is a terminal; `None` when it is not
    /// (piped input with `-t`: nothing to switch).
    fn enter() -> anyhow::Result<Option<RawTerminal>> {
        let stdin = std::io::stdin();
        if !stdin.is_terminal() {
            return Ok(None);
        }
        let saved =
            rustix::termios::tcgetattr(stdin.as_fd()).context("reading the terminal's settings")?;
        let mut raw = saved.clone();
        raw.make_raw();
        rustix::termios::tcsetattr(stdin.as_fd(), rustix::termios::OptionalActions::Now, &raw)
            .context("putting the terminal in raw mode")?;
        Ok(Some(RawTerminal { saved }))
    }
}

impl Drop for RawTerminal {
    fn drop(&mut self) {
        let _ = rustix::termios::tcsetattr(
            std::io::stdin().as_fd(),
            rustix::termios::OptionalActions::Now,
            &self.saved,
        );
    }
}

/// This terminal's size, `(rows, columns)`, when stdout or stdin is one.
fn terminal_size() -> Option<(u16, u16)> {
    let size = rustix::termios::tcgetwinsize(std::io::stdout().as_fd())
        .or_else(|_| rustix::termios::tcgetwinsize(std::io::stdin().as_fd()))
        .ok()?;
    let max = drover_api::exec::MAX_TTY_SIZE;
    (size.ws_row > 0 && size.ws_col > 0).then(|| (size.ws_row.min(max), size.ws_col.min(max)))
}

fn resize_frame(size: (u16, u16)) -> Message {
    Message::Text(
        encode_input(&Input {
            tty_size: Some(size),
            ..Input::default()
        })
        .into(),
    )
}

/// Reads stdin on a thread of its own (a blocking read cannot be
/// cancelled; the thread goes with the process): chunks, then `None` at
/// the end.
fn read_stdin() -> tokio::sync::mpsc::Receiver<Option<Vec<u8>>> {
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin();
        let mut buf = vec![0u8; STDIN_CHUNK];
        loop {
            let chunk = match stdin.read(&mut buf) {
                Ok(0) => None,
                Ok(n) => Some(buf[..n].to_vec()),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => None,
            };
            let end = chunk.is_none();
            if tx.blocking_send(chunk).is_err() || end {
                return;
            }
        }
    });
    rx
}

/// Writes output, flushed as it comes; a closed pipe (`| head`) drops the
/// rest rather than ending the session.
fn write_out(mut to: impl std::io::Write, bytes: &[u8]) -> anyhow::Result<()> {
    match to.write_all(bytes).and_then(|()| to.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(e).context("writing the command's output"),
    }
}

/// The signals that would otherwise end the CLI with the terminal left in
/// raw mode: while it is, they end the session instead, so the terminal
/// is restored on the way out.
fn stop_signals() -> anyhow::Result<Vec<(&'static str, tokio::signal::unix::Signal)>> {
    use tokio::signal::unix::{signal, SignalKind};
    [
        ("SIGTERM", SignalKind::terminate()),
        ("SIGHUP", SignalKind::hangup()),
        ("SIGINT", SignalKind::interrupt()),
        ("SIGQUIT", SignalKind::quit()),
    ]
    .into_iter()
    .map(|(name, kind)| {
        let listening = signal(kind).with_context(|| format!("listening for {name}"))?;
        Ok((name, listening))
    })
    .collect()
}

/// The name of the first of `signals` to arrive (never, when none).
async fn next_signal(signals: &mut [(&'static str, tokio::signal::unix::Signal)]) -> &'static str {
    if signals.is_empty() {
        return std::future::pending().await;
    }
    let waits = signals.iter_mut().map(|(name, signal)| {
        Box::pin(async move {
            signal.recv().await;
            *name
        })
    });
    futures::future::select_all(waits).await.0
}

/// Relays until the command exits; its exit code. `raw`: the terminal is
/// in raw mode, so signals end the session rather than the process.
async fn session(
    socket: drover_api::ws::Socket,
    stdin: bool,
    tty: bool,
    raw: bool,
) -> anyhow::Result<i64> {
    let (mut tx, mut rx) = socket.split();
    let send_failed = |e| anyhow::anyhow!("the session with the server broke: {e}");
    let mut winch = None;
    if tty {
        if let Some(size) = terminal_size() {
            tx.send(resize_frame(size)).await.map_err(send_failed)?;
            winch = Some(
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::window_change())
                    .context("listening for terminal size changes")?,
            );
        }
    }
    let mut stops = if raw { stop_signals()? } else { Vec::new() };
    let mut input = if stdin {
        Some(read_stdin())
    } else {
        let close = Input {
            close: true,
            ..Input::default()
        };
        tx.send(Message::Text(encode_input(&close).into()))
            .await
            .map_err(send_failed)?;
        None
    };
    loop {
        let resized = async {
            match &mut winch {
                Some(signal) => signal.recv().await,
                None => std::future::pending().await,
            }
        };
        let read = async {
            match &mut input {
                Some(rx) => rx.recv().await.flatten(),
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            message = rx.next() => {
                let text = match message {
                    Some(Ok(Message::Text(text))) => text,
                    Some(Ok(Message::Close(_))) | None => {
                        bail!("the server closed the session before the command exited")
                    }
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => bail!("the session with the server broke: {e}"),
                };
                match parse_output(text.as_str()).map_err(anyhow::Error::msg)? {
                    Some(Output::Stdout(bytes)) => write_out(std::io::stdout().lock(), &bytes)?,
                    Some(Output::Stderr(bytes)) => write_out(std::io::stderr().lock(), &bytes)?,
                    Some(Output::Exited(code)) => return Ok(code),
                    Some(Output::Error(message)) => bail!("{message}"),
                    None => {}
                }
            }
            chunk = read => {
                let frame = match chunk {
                    Some(bytes) => Input { stdin: Some(bytes), ..Input::default() },
                    None => {
                        input = None;
                        Input { close: true, ..Input::default() }
                    }
                };
                tx.send(Message::Text(encode_input(&frame).into())).await.map_err(send_failed)?;
            }
            _ = resized => {
                if let Some(size) = terminal_size() {
                    tx.send(resize_frame(size)).await.map_err(send_failed)?;
                }
            }
            name = next_signal(&mut stops) => bail!("stopped by {name}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser as _;

    fn parse(argv: &[&str]) -> ExecArgs {
        let cli = crate::commands::Cli::try_parse_from(argv).expect("parse");
        match cli.command {
            crate::commands::Command::Alloc(Args {
                command: AllocCommand::Exec(e),
            }) => e,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_command_follows_the_double_dash_and_flags_take_no_separate_value() {
        let e = parse(&["drover", "alloc", "exec", "a1", "--", "sh", "-c", "ls -l"]);
        assert_eq!((e.alloc.as_str(), e.task.as_deref()), ("a1", None));
        assert_eq!(e.command, ["sh", "-c", "ls -l"]);
        assert!(e.stdin);
        assert_eq!(e.tty, None);
        let e = parse(&[
            "drover", "alloc", "exec", "-t", "-i=false", "a1", "web", "--", "tty",
        ]);
        assert_eq!(e.task.as_deref(), Some("web"));
        assert_eq!(e.tty, Some(true));
        assert!(!e.stdin);
        let e = parse(&["drover", "alloc", "exec", "--tty=false", "a1", "--", "id"]);
        assert_eq!(e.tty, Some(false));
        assert!(crate::commands::Cli::try_parse_from(["drover", "alloc", "exec", "a1"]).is_err());
    }

    #[test]
    fn restart_takes_an_allocation_and_maybe_a_task() {
        let parse = |argv: &[&str]| match crate::commands::Cli::try_parse_from(argv)
            .expect("parse")
            .command
        {
            crate::commands::Command::Alloc(Args {
                command: AllocCommand::Restart(r),
            }) => r,
            other => panic!("{other:?}"),
        };
        let r = parse(&["drover", "alloc", "restart", "1a2b"]);
        assert_eq!((r.alloc.as_str(), r.task), ("1a2b", None));
        let r = parse(&["drover", "alloc", "restart", "web.front[0]", "web"]);
        assert_eq!(r.task.as_deref(), Some("web"));
        assert!(crate::commands::Cli::try_parse_from(["drover", "alloc", "restart"]).is_err());
        let printed = restart_message(&drover_api::allocs::RestartResponse {
            id: "1a2b3c4d5e6f".into(),
            namespace: "default".into(),
            index: 9,
            generation: 2,
            task: Some("web".into()),
        });
        assert!(
            printed.starts_with("restart of allocation 1a2b3c4d requested (restart #2)"),
            "{printed}"
        );
        assert!(printed.contains("task \"web\""), "{printed}");
    }

    #[test]
    fn the_url_carries_the_command_as_json() {
        let command = vec!["sh".to_string(), "-c".to_string(), "echo a&b".to_string()];
        let url = exec_url(
            "http://127.0.0.1:4646",
            "web.front[0]",
            Some("t"),
            &command,
            true,
            "default",
        )
        .expect("url");
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:4646/v1/client/allocation/web.front%5B0%5D/exec?task=t&command=%5B%22sh%22%2C%22-c%22%2C%22echo+a%26b%22%5D&tty=true&namespace=*"
        );
        let url = exec_url("https://h:1", "a", None, &command, false, "prod").expect("url");
        assert!(url.as_str().ends_with("&tty=false&namespace=prod"), "{url}");
        assert!(!url.as_str().contains("task="), "{url}");
    }
}
