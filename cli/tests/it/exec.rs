//! `drover alloc exec` end to end: a real server relaying to a real agent
//! that runs Docker exec in a real container, on a real etcd — through the
//! CLI (output streams, exit codes, stdin, a terminal) and through a bare
//! WebSocket client speaking Nomad's exec frames (terminal size, bounds,
//! malformed frames, a foreign origin), and the agent's own route (only a
//! server's token for that very command).

use std::io::Write as _;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use base64::Engine as _;
use drover_api::exec::{encode_input, parse_output, Input, Output as Frame};
use drover_api_types::alloc::ClientStatus;
use drover_test_support::wait::eventually;
use futures::{SinkExt as _, StreamExt as _};
use tokio_tungstenite::tungstenite::Message;

use crate::common::*;

const ADDRESS: &str = "127.0.0.90";

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `drover --addr … alloc exec ARGS`, fed `stdin` (none: /dev/null).
async fn exec(server: &str, args: &[&str], stdin: Option<Vec<u8>>) -> Output {
    let mut cmd = Command::new(DROVER);
    cmd.arg(format!("--addr=http://{server}"))
        .args(["alloc", "exec"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
    tokio::task::spawn_blocking(move || {
        let mut child = cmd.spawn().expect("start drover alloc exec");
        if let Some(bytes) = stdin {
            let mut pipe = child.stdin.take().expect("piped stdin");
            std::thread::spawn(move || {
                let _ = pipe.write_all(&bytes);
            });
        }
        child.wait_with_output().expect("drover alloc exec")
    })
    .await
    .expect("join")
}

/// A WebSocket to the server's exec route with these query pairs.
async fn open(
    server: &str,
    alloc: &str,
    query: &[(&str, &str)],
    headers: &[(&str, &str)],
) -> Result<drover_api::ws::Socket, drover_api::ws::ConnectError> {
    let mut url = reqwest::Url::parse(&format!(
        "http://{server}/v1/client/allocation/{alloc}/exec"
    ))
    .expect("url");
    url.query_pairs_mut().extend_pairs(query);
    drover_api::ws::connect(url.as_str(), headers, None, 1 << 20).await
}

/// The status and body a handshake was refused with.
fn refused(
    opened: Result<drover_api::ws::Socket, drover_api::ws::ConnectError>,
    what: &str,
) -> (u16, String) {
    match opened {
        Err(drover_api::ws::ConnectError::Refused { status, body }) => (status, body),
        Err(other) => panic!("{what}: {other}"),
        Ok(_) => panic!("{what}: the session opened"),
    }
}

async fn send(socket: &mut drover_api::ws::Socket, input: Input) {
    socket
        .send(Message::Text(encode_input(&input).into()))
        .await
        .expect("send a frame");
}

/// What the session sent until its last frame: stdout, stderr, and the
/// exit code or error; and whether a close followed.
#[derive(Debug, Default)]
struct Transcript {
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    exited: Option<i64>,
    error: Option<String>,
    closed: bool,
}

async fn read_all(socket: &mut drover_api::ws::Socket) -> Transcript {
    let mut t = Transcript::default();
    let reading = async {
        while let Some(message) = socket.next().await {
            match message {
                Ok(Message::Text(frame)) => {
                    match parse_output(frame.as_str()).expect("a well-formed frame") {
                        Some(Frame::Stdout(b)) => t.stdout.extend(b),
                        Some(Frame::Stderr(b)) => t.stderr.extend(b),
                        Some(Frame::Exited(code)) => t.exited = Some(code),
                        Some(Frame::Error(m)) => t.error = Some(m),
                        None => {}
                    }
                }
                Ok(Message::Close(_)) => {
                    t.closed = true;
                    break;
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(30), reading)
        .await
        .expect("the session ended in time");
    t
}

/// The processes the container runs, as `ps` lists them.
fn processes(container: &str) -> String {
    let out = Command::new("docker")
        .args(["exec", container, "ps"])
        .output()
        .expect("docker exec ps");
    text(&out.stdout)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alloc_exec_runs_commands_in_a_task_through_the_server() {
    let cluster = Cluster::start(ADDRESS).await;
    let job = job_of("shell", vec![shell_task("sh", "exec sleep 3600")]);
    cluster.submit(&job).await;
    let (alloc, _) = cluster
        .alloc_when("shell", "front", "the shell running", |s| {
            s.client_status == ClientStatus::Running
        })
        .await;
    let id = alloc.metadata.uid.clone();
    let prefix = &id[..8];
    let server = cluster.server_addr.clone();
    let container = format!("sh-{id}");

    // Without a terminal: stdout and stderr apart, the exit code passed
    // on; the only task found without naming it, by an id prefix.
    let out = exec(
        &server,
        &[prefix, "--", "sh", "-c", "echo hi; echo err >&2; exit 3"],
        None,
    )
    .await;
    assert_eq!(text(&out.stdout), "hi\n", "{}", text(&out.stderr));
    assert_eq!(text(&out.stderr), "err\n");
    assert_eq!(out.status.code(), Some(3));

    // stdin copied to the end (larger than one frame), then closed; the
    // task named, the allocation by its name.
    let input: Vec<u8> = (0..200_000u32).map(|i| b'a' + (i % 26) as u8).collect();
    let out = exec(
        &server,
        &["shell.front[0]", "sh", "--", "cat"],
        Some(input.clone()),
    )
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(out.stdout.len(), input.len());
    assert!(out.stdout == input, "cat gave back something else");
    // -i=false: the command's stdin is closed at once.
    let out = exec(&server, &["-i=false", prefix, "--", "cat"], None).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "");

    // A terminal: -t gives one (stdin here is no terminal, so none by
    // default), and its output is the terminal's, stdout.
    let out = exec(&server, &["-t", prefix, "--", "/bin/busybox", "tty"], None).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).starts_with("/dev/pts/"),
        "{}",
        text(&out.stdout)
    );
    let out = exec(&server, &[prefix, "--", "/bin/busybox", "tty"], None).await;
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stdout), "not a tty\n");

    // Nomad's frames, spoken directly: the terminal takes the size the
    // client says, an interactive shell reads stdin and exits.
    let command = serde_json::to_string(&["/bin/sh"]).expect("json");
    let mut socket = open(
        &server,
        prefix,
        &[("command", &command), ("tty", "true"), ("namespace", "*")],
        &[],
    )
    .await
    .expect("an exec session");
    send(
        &mut socket,
        Input {
            tty_size: Some((33, 101)),
            ..Input::default()
        },
    )
    .await;
    send(
        &mut socket,
        Input {
            stdin: Some(b"/bin/busybox stty size; exit 7\n".to_vec()),
            ..Input::default()
        },
    )
    .await;
    let t = read_all(&mut socket).await;
    assert_eq!(t.exited, Some(7), "{t:?}");
    assert!(t.closed, "{t:?}");
    assert!(
        text(&t.stdout).contains("33 101\r\n"),
        "{:?}",
        text(&t.stdout)
    );

    // A client that goes away closes the command's stdin: `cat` ends, and
    // so does a shell on a terminal.
    for (command, tty) in [(r#"["cat"]"#, "false"), (r#"["/bin/sh"]"#, "true")] {
        let mut socket = open(&server, &id, &[("command", command), ("tty", tty)], &[])
            .await
            .expect("an exec session");
        send(
            &mut socket,
            Input {
                stdin: Some(b"echo still-here\n".to_vec()),
                ..Input::default()
            },
        )
        .await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let program = if tty == "true" { "/bin/sh" } else { "cat" };
        assert!(
            processes(&container).contains(program),
            "{program} should run"
        );
        drop(socket);
        eventually(20, &format!("{program} to end with its client"), || {
            let ps = processes(&container);
            async move {
                let left: Vec<&str> = ps
                    .lines()
                    .filter(|l| l.ends_with(" cat") || l.ends_with(" /bin/sh"))
                    .collect();
                left.is_empty().then_some(())
            }
        })
        .await;
    }

    // Bad paths, before the upgrade: the API's own errors.
    let out = exec(&server, &["00000000-nope", "--", "true"], None).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("no allocation with id, id prefix or name \"00000000-nope\""),
        "{}",
        text(&out.stderr)
    );
    let out = exec(&server, &[prefix, "nosuch", "--", "true"], None).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("has no task \"nosuch\"; its tasks: sh"),
        "{}",
        text(&out.stderr)
    );
    // Too many arguments: the CLI says so itself, and the server refuses
    // what a client sends anyway.
    let many: Vec<String> = (0..300).map(|i| i.to_string()).collect();
    let mut argv = vec![prefix, "--", "echo"];
    argv.extend(many.iter().map(String::as_str));
    let out = exec(&server, &argv, None).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("the command has 301 arguments; at most 256"),
        "{}",
        text(&out.stderr)
    );
    let too_many = serde_json::to_string(&many).expect("json");
    let opened = open(&server, prefix, &[("command", &too_many)], &[]).await;
    let (status, body) = refused(opened, "an oversized command");
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("300 arguments"), "{body}");
    assert!(body.contains("\"field\":\"command\""), "{body}");
    // A command that fits the bound but not a request line, once
    // escaped: the CLI says so rather than sending it.
    let quotes = "\"".repeat(30_000);
    let out = exec(&server, &[prefix, "--", "echo", &quotes], None).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("too long to send"),
        "{}",
        text(&out.stderr)
    );
    // A page of another site cannot open a session with its visitor's
    // credentials: the browser guard refuses the handshake.
    let origin = open(
        &server,
        prefix,
        &[("command", r#"["id"]"#)],
        &[("origin", "http://evil.example")],
    )
    .await;
    let (status, body) = refused(origin, "a foreign origin");
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("another origin"), "{body}");

    // A malformed frame after the upgrade: an error frame naming it, a
    // close, and the command's stdin closed.
    for bad in [
        Message::Text("not json".into()),
        Message::Text(r#"{"stdin":{"data":"%%%"}}"#.into()),
        Message::Text(r#"{"tty_size":{"height":0,"width":80}}"#.into()),
        Message::Binary(vec![1, 2, 3].into()),
    ] {
        let mut socket = open(&server, prefix, &[("command", r#"["cat"]"#)], &[])
            .await
            .expect("an exec session");
        socket.send(bad.clone()).await.expect("send");
        let t = read_all(&mut socket).await;
        let error = t.error.unwrap_or_default();
        assert!(
            error.contains("malformed frame") || error.contains("out of range"),
            "{bad:?}: {error}"
        );
        assert!(t.closed && t.exited.is_none(), "{bad:?}");
    }
    let oversized = format!(
        r#"{{"stdin":{{"data":"{}"}}}}"#,
        base64::engine::general_purpose::STANDARD.encode(vec![b'x'; 60_000])
    );
    let mut socket = open(&server, prefix, &[("command", r#"["cat"]"#)], &[])
        .await
        .expect("an exec session");
    socket
        .send(Message::Text(oversized.into()))
        .await
        .expect("send");
    let t = read_all(&mut socket).await;
    assert!(
        t.error
            .as_deref()
            .unwrap_or_default()
            .contains("over the limit of 65536"),
        "{t:?}"
    );

    // The agent's own route runs only what a server signed: no token, or
    // a token for another command, is a 401.
    let agent = cluster.agent_addr().await;
    let key = cluster
        .store
        .agent_api_key()
        .await
        .expect("read the key")
        .expect("a server made the key");
    let node_id = std::fs::read_to_string(cluster.data.path().join("agent/node-id"))
        .expect("node id")
        .trim()
        .to_string();
    let signed = |path: &str| {
        let now = chrono::Utc::now().timestamp() as u64;
        format!(
            "Authorization: Bearer {}\r\n",
            drover_serve::agent_token::issue(&key, &node_id, path, now)
        )
    };
    let id_path = format!("/v1/client/exec/{id}/sh?command=%5B%22id%22%5D&tty=false");
    let ls_path = format!("/v1/client/exec/{id}/sh?command=%5B%22ls%22%5D&tty=false");
    assert_eq!(status_of(&agent, &id_path, "").await, Some(401));
    assert_eq!(
        status_of(&agent, &id_path, &signed(&ls_path)).await,
        Some(401)
    );
    // Its own token passes every check up to the upgrade, which a plain
    // GET cannot make.
    let status = status_of(&agent, &id_path, &signed(&id_path)).await;
    assert!(matches!(status, Some(400 | 426)), "{status:?}");

    // Sessions are bounded: past 64 at once the server refuses more, and
    // a slot comes back when a session ends.
    let mut sessions = Vec::new();
    for _ in 0..drover_api::exec::MAX_SESSIONS {
        let session = open(&server, prefix, &[("command", r#"["cat"]"#)], &[])
            .await
            .expect("a session within the bound");
        sessions.push(session);
    }
    let opened = open(&server, prefix, &[("command", r#"["cat"]"#)], &[]).await;
    let (status, body) = refused(opened, "one session too many");
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("64 exec sessions already"), "{body}");
    drop(sessions);
    eventually(30, "a session running again once others ended", || {
        let server = server.clone();
        async move {
            let out = exec(&server, &[prefix, "--", "echo", "back"], None).await;
            (text(&out.stdout) == "back\n").then_some(())
        }
    })
    .await;
    eventually(30, "the agent's cats gone with their sessions", || {
        let ps = processes(&container);
        async move { (!ps.lines().any(|l| l.ends_with(" cat"))).then_some(()) }
    })
    .await;

    // A stopped allocation: the session opens, then says why nothing ran.
    cluster.stop(&job).await;
    cluster
        .alloc_when("shell", "front", "the allocation stopped", |s| {
            s.client_status.is_terminal()
        })
        .await;
    let out = exec(&server, &[&id, "--", "true"], None).await;
    assert_eq!(out.status.code(), Some(1));
    let said = text(&out.stderr);
    assert!(
        said.contains("is not running") || said.contains("no container for task sh"),
        "{said}"
    );
    assert!(said.contains("the agent of node"), "{said}");
}
