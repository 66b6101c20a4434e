//! Running a command in a task: Nomad's exec protocol, shared by the
//! server's `GET /v1/client/allocation/{id}/exec`, the agent's
//! `GET /v1/client/exec/{alloc}/{task}` and `drover alloc exec` (pure).
//!
//! Both are WebSockets carrying JSON text frames. The client sends
//! `{"stdin":{"data":"<base64>"}}`, `{"stdin":{"close":true}}` and
//! `{"tty_size":{"height":H,"width":W}}` (`{}` is a heartbeat); it
//! receives `{"stdout":{"data":"<base64>"}}`, `{"stderr":{"data":…}}`,
//! then `{"exited":true,"result":{"exit_code":N}}` — or, when something
//! fails after the upgrade, `{"error":"<message>"}` — and a close.
//!
//! Everything the caller controls is bounded here: the command's argument
//! count and length, a frame's size, the terminal's size.

use base64::Engine as _;
use serde::{Deserialize, Serialize};

/// The most arguments a command may have.
pub const MAX_ARGS: usize = 256;
/// The most bytes a command's arguments may add up to.
pub const MAX_COMMAND_BYTES: usize = 64 * 1024;
/// The largest frame a client may send (its JSON text).
pub const MAX_FRAME_BYTES: usize = 64 * 1024;
/// The largest message the WebSocket layer reads at all; a bigger one
/// ends the connection before it is parsed ([`MAX_FRAME_BYTES`] is the
/// bound a client is told about).
pub const MAX_MESSAGE_BYTES: usize = 1024 * 1024;
/// The most rows or columns a terminal may say it has.
pub const MAX_TTY_SIZE: u16 = 4096;
/// Exec sessions one server relays, or one agent runs, at once.
pub const MAX_SESSIONS: usize = 64;
/// The query parameters of the server's route.
pub const SERVER_QUERY: &[&str] = &["task", "command", "tty", "namespace"];

/// What a client asks to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecRequest {
    pub command: Vec<String>,
    pub tty: bool,
}

/// `command`: a JSON array of strings, as Nomad sends it, within the
/// bounds (pure).
pub fn parse_command(json: &str) -> Result<Vec<String>, String> {
    // JSON escapes (`\u0000`) take up to six bytes per byte: anything
    // longer cannot be within the bound, and is not parsed at all.
    if json.len() > MAX_COMMAND_BYTES * 8 {
        return Err(format!(
            "is {} bytes; a command may be at most {MAX_COMMAND_BYTES} bytes",
            json.len()
        ));
    }
    let args: Vec<String> = serde_json::from_str(json).map_err(|e| {
        format!("must be a JSON array of strings (e.g. [\"/bin/sh\",\"-c\",\"ls\"]): {e}")
    })?;
    check_command(&args)?;
    Ok(args)
}

/// The bounds of a command (pure): not empty, no empty program, at most
/// [`MAX_ARGS`] arguments of at most [`MAX_COMMAND_BYTES`] in all, no NUL
/// byte (no argv can carry one).
pub fn check_command(args: &[String]) -> Result<(), String> {
    if args.first().is_none_or(|program| program.is_empty()) {
        return Err("names no program: give at least one non-empty argument".into());
    }
    if args.len() > MAX_ARGS {
        return Err(format!(
            "has {} arguments; at most {MAX_ARGS} are allowed",
            args.len()
        ));
    }
    let total: usize = args.iter().map(String::len).sum();
    if total > MAX_COMMAND_BYTES {
        return Err(format!(
            "is {total} bytes long; a command may be at most {MAX_COMMAND_BYTES} bytes"
        ));
    }
    if args.iter().any(|a| a.contains('\0')) {
        return Err("holds a NUL byte, which no argument can carry".into());
    }
    Ok(())
}

/// `tty`: `true`/`false` (`1`/`0`; absent or bare `tty` as Nomad reads
/// them: absent is false).
pub fn parse_flag(value: Option<&str>) -> Result<bool, String> {
    match value {
        None | Some("false") | Some("0") => Ok(false),
        Some("" | "true" | "1") => Ok(true),
        Some(v) => Err(format!("must be true or false, got {v:?}")),
    }
}

/// One frame from the client, parsed and checked.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Input {
    /// Bytes for the command's stdin.
    pub stdin: Option<Vec<u8>>,
    /// Close the command's stdin (after `stdin`, when both are given).
    pub close: bool,
    /// The terminal's new size: `(height, width)`.
    pub tty_size: Option<(u16, u16)>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Io {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    data: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    close: bool,
}

#[derive(Debug, Serialize, Deserialize)]
struct TtySize {
    height: u32,
    width: u32,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct InputFrame {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    stdin: Option<Io>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tty_size: Option<TtySize>,
}

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

/// Parses a client's text frame (pure); the error says what is wrong with
/// it. Fields other than `stdin` and `tty_size` are ignored, so `{}` (the
/// heartbeat Nomad's client sends) is a frame that does nothing.
pub fn parse_input(text: &str) -> Result<Input, String> {
    if text.len() > MAX_FRAME_BYTES {
        return Err(format!(
            "a frame of {} bytes is over the limit of {MAX_FRAME_BYTES}",
            text.len()
        ));
    }
    let frame: InputFrame = serde_json::from_str(text).map_err(|e| {
        format!("malformed frame (expected {{\"stdin\":{{\"data\":\"<base64>\"}}}}, {{\"stdin\":{{\"close\":true}}}} or {{\"tty_size\":{{\"height\":H,\"width\":W}}}}): {e}")
    })?;
    let mut input = Input::default();
    if let Some(io) = frame.stdin {
        if let Some(data) = io.data {
            let bytes = b64()
                .decode(data.as_bytes())
                .map_err(|e| format!("malformed frame: stdin data is not base64: {e}"))?;
            input.stdin = Some(bytes);
        }
        input.close = io.close;
    }
    if let Some(size) = frame.tty_size {
        let range = 1..=u32::from(MAX_TTY_SIZE);
        if !range.contains(&size.height) || !range.contains(&size.width) {
            return Err(format!(
                "tty_size {}x{} is out of range: height and width are 1 to {MAX_TTY_SIZE}",
                size.height, size.width
            ));
        }
        // Within MAX_TTY_SIZE, so they fit.
        input.tty_size = Some((size.height as u16, size.width as u16));
    }
    Ok(input)
}

/// A client's frame as text (pure).
pub fn encode_input(input: &Input) -> String {
    let stdin = (input.stdin.is_some() || input.close).then(|| Io {
        data: input.stdin.as_ref().map(|b| b64().encode(b)),
        close: input.close,
    });
    let frame = InputFrame {
        stdin,
        tty_size: input.tty_size.map(|(h, w)| TtySize {
            height: u32::from(h),
            width: u32::from(w),
        }),
    };
    serde_json::to_string(&frame).unwrap_or_else(|_| "{}".into())
}

/// One frame to the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    Stdout(Vec<u8>),
    Stderr(Vec<u8>),
    /// The command exited with this code; the last frame.
    Exited(i64),
    /// Something failed; the last frame.
    Error(String),
}

#[derive(Debug, Serialize, Deserialize)]
struct ExitResult {
    exit_code: i64,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct OutputFrame {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    stdout: Option<Io>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    stderr: Option<Io>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    exited: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    result: Option<ExitResult>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

fn data(bytes: &[u8]) -> Option<Io> {
    Some(Io {
        data: Some(b64().encode(bytes)),
        close: false,
    })
}

/// A frame to the client as text (pure).
pub fn encode_output(output: &Output) -> String {
    let frame = match output {
        Output::Stdout(b) => OutputFrame {
            stdout: data(b),
            ..OutputFrame::default()
        },
        Output::Stderr(b) => OutputFrame {
            stderr: data(b),
            ..OutputFrame::default()
        },
        Output::Exited(code) => OutputFrame {
            exited: true,
            result: Some(ExitResult { exit_code: *code }),
            ..OutputFrame::default()
        },
        Output::Error(message) => OutputFrame {
            error: Some(message.clone()),
            ..OutputFrame::default()
        },
    };
    serde_json::to_string(&frame).unwrap_or_else(|_| r#"{"error":"encoding a frame"}"#.into())
}

/// Parses a frame to the client (pure): what `drover alloc exec` and the
/// server's relay read. `None` for a frame that carries nothing (Nomad's
/// `{"stdout":{"close":true}}`).
pub fn parse_output(text: &str) -> Result<Option<Output>, String> {
    let frame: OutputFrame =
        serde_json::from_str(text).map_err(|e| format!("malformed frame from the exec: {e}"))?;
    if let Some(message) = frame.error {
        return Ok(Some(Output::Error(message)));
    }
    if frame.exited {
        let code = frame.result.map_or(-1, |r| r.exit_code);
        return Ok(Some(Output::Exited(code)));
    }
    let decode = |io: Io| -> Result<Option<Vec<u8>>, String> {
        io.data
            .map(|d| {
                b64()
                    .decode(d.as_bytes())
                    .map_err(|e| format!("malformed frame from the exec: not base64: {e}"))
            })
            .transpose()
    };
    if let Some(io) = frame.stdout {
        return Ok(decode(io)?.map(Output::Stdout));
    }
    if let Some(io) = frame.stderr {
        return Ok(decode(io)?.map(Output::Stderr));
    }
    Ok(None)
}

/// The agent's URL for running `command` in one task (pure); `https`
/// when the agent serves TLS (a WebSocket client connects to it as
/// `ws`/`wss`).
pub fn agent_url(
    http_addr: &str,
    tls: bool,
    alloc: &str,
    task: &str,
    request: &ExecRequest,
) -> Option<reqwest::Url> {
    let scheme = if tls { "https" } else { "http" };
    let mut url = reqwest::Url::parse(&format!("{scheme}://{http_addr}/")).ok()?;
    url.path_segments_mut()
        .ok()?
        .clear()
        .extend(["v1", "client", "exec", alloc, task]);
    let command = serde_json::to_string(&request.command).ok()?;
    url.query_pairs_mut()
        .append_pair("command", &command)
        .append_pair("tty", if request.tty { "true" } else { "false" });
    Some(url)
}

/// What an agent token for `url` signs: its path and query, so a token
/// seen on the wire runs no other command.
pub fn signed_path(url: &reqwest::Url) -> String {
    match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_command_is_a_json_array_of_strings_within_bounds() {
        assert_eq!(
            parse_command(r#"["/bin/sh","-c","echo hi"]"#),
            Ok(args(&["/bin/sh", "-c", "echo hi"]))
        );
        for bad in ["", "sh", r#""sh""#, r#"[1]"#, r#"{"a":1}"#, "[]", r#"[""]"#] {
            assert!(parse_command(bad).is_err(), "{bad:?}");
        }
        let many = serde_json::to_string(&vec!["x"; MAX_ARGS + 1]).expect("json");
        let e = parse_command(&many).expect_err("too many");
        assert!(e.contains("257 arguments"), "{e}");
        assert!(parse_command(&serde_json::to_string(&vec!["x"; MAX_ARGS]).expect("json")).is_ok());
        let long = serde_json::to_string(&["a".repeat(MAX_COMMAND_BYTES + 1)]).expect("json");
        let e = parse_command(&long).expect_err("too long");
        assert!(e.contains("at most 65536 bytes"), "{e}");
        let huge = format!("[\"{}\"]", "a".repeat(MAX_COMMAND_BYTES * 9));
        assert!(parse_command(&huge).is_err());
        assert!(parse_command(r#"["a\u0000b"]"#).is_err());
    }

    #[test]
    fn flags_read_as_the_other_routes_read_them() {
        assert_eq!(parse_flag(None), Ok(false));
        assert_eq!(parse_flag(Some("")), Ok(true));
        assert_eq!(parse_flag(Some("true")), Ok(true));
        assert_eq!(parse_flag(Some("0")), Ok(false));
        assert!(parse_flag(Some("yes")).is_err());
    }

    #[test]
    fn client_frames_parse_and_round_trip() {
        let i = parse_input(r#"{"stdin":{"data":"aGkK"}}"#).expect("stdin");
        assert_eq!(i.stdin.as_deref(), Some(&b"hi\n"[..]));
        assert!(!i.close);
        let i = parse_input(r#"{"stdin":{"close":true}}"#).expect("close");
        assert_eq!(
            i,
            Input {
                close: true,
                ..Input::default()
            }
        );
        let i = parse_input(r#"{"tty_size":{"height":40,"width":120}}"#).expect("size");
        assert_eq!(i.tty_size, Some((40, 120)));
        assert_eq!(parse_input("{}"), Ok(Input::default()));
        // Nomad's client may send more than drover reads.
        assert_eq!(parse_input(r#"{"version":1}"#), Ok(Input::default()));
        for input in [
            Input {
                stdin: Some(vec![0, 255, 10]),
                close: true,
                tty_size: Some((1, MAX_TTY_SIZE)),
            },
            Input::default(),
        ] {
            assert_eq!(parse_input(&encode_input(&input)), Ok(input));
        }
        assert_eq!(encode_input(&Input::default()), "{}");
    }

    #[test]
    fn malformed_client_frames_say_what_is_wrong() {
        for (bad, says) in [
            ("not json", "malformed frame"),
            (r#"{"stdin":{"data":"%%%"}}"#, "not base64"),
            (r#"{"stdin":"x"}"#, "malformed frame"),
            (r#"{"tty_size":{"height":0,"width":80}}"#, "out of range"),
            (r#"{"tty_size":{"height":24,"width":5000}}"#, "out of range"),
            (
                r#"{"tty_size":{"height":-1,"width":80}}"#,
                "malformed frame",
            ),
        ] {
            let e = parse_input(bad).expect_err(bad);
            assert!(e.contains(says), "{bad}: {e}");
        }
        let big = format!(
            r#"{{"stdin":{{"data":"{}"}}}}"#,
            "A".repeat(MAX_FRAME_BYTES)
        );
        let e = parse_input(&big).expect_err("too big");
        assert!(e.contains("over the limit"), "{e}");
    }

    #[test]
    fn server_frames_are_nomads() {
        assert_eq!(
            encode_output(&Output::Stdout(b"hi\n".to_vec())),
            r#"{"stdout":{"data":"aGkK"}}"#
        );
        assert_eq!(
            encode_output(&Output::Stderr(b"x".to_vec())),
            r#"{"stderr":{"data":"eA=="}}"#
        );
        assert_eq!(
            encode_output(&Output::Exited(3)),
            r#"{"exited":true,"result":{"exit_code":3}}"#
        );
        assert_eq!(
            encode_output(&Output::Error("no \"x\"".into())),
            r#"{"error":"no \"x\""}"#
        );
        for output in [
            Output::Stdout(vec![1, 2, 3]),
            Output::Stderr(Vec::new()),
            Output::Exited(-1),
            Output::Error("e".into()),
        ] {
            assert_eq!(parse_output(&encode_output(&output)), Ok(Some(output)));
        }
        assert_eq!(parse_output(r#"{"stdout":{"close":true}}"#), Ok(None));
        assert!(parse_output("[").is_err());
    }

    #[test]
    fn the_agent_url_escapes_segments_and_carries_the_command() {
        let request = ExecRequest {
            command: args(&["sh", "-c", "echo a&b"]),
            tty: true,
        };
        let url = agent_url("10.0.0.5:4647", false, "a1", "my task", &request).expect("url");
        assert_eq!(
            url.as_str(),
            "http://10.0.0.5:4647/v1/client/exec/a1/my%20task?command=%5B%22sh%22%2C%22-c%22%2C%22echo+a%26b%22%5D&tty=true"
        );
        assert_eq!(
            signed_path(&url),
            "/v1/client/exec/a1/my%20task?command=%5B%22sh%22%2C%22-c%22%2C%22echo+a%26b%22%5D&tty=true"
        );
        let q: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
        assert_eq!(
            q.get("command").map(|c| parse_command(c)),
            Some(Ok(request.command))
        );
        assert!(agent_url(
            "not a host",
            false,
            "a",
            "t",
            &ExecRequest {
                command: args(&["x"]),
                tty: false
            }
        )
        .is_none());
    }
}
