//! The audit log (`drover server --audit-log FILE`): one JSON line per
//! request that changes something and per request refused (403), with the
//! time, the token's accessor id and name (never its secret), the route,
//! the namespace, the object and the outcome. Lines go through a bounded
//! queue to a writer task, so a slow disk never holds a request; the file
//! is rotated by size (`FILE.1` … `FILE.5`). Lines the queue could not take
//! are counted (`drover_audit_dropped_total`).

use std::path::{Path, PathBuf};

use axum::extract::{MatchedPath, Request};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use chrono::Utc;
use serde::Serialize;
use tokio::io::AsyncWriteExt as _;
use tokio::sync::mpsc;

use crate::api::acl::Caller;

/// Lines waiting for the writer at most.
const QUEUE: usize = 10_000;
/// Rotated files kept.
const KEPT: usize = 5;

/// One line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    pub time: String,
    /// `anonymous` without a token; `unknown` when the token was refused.
    pub accessor_id: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub token_name: String,
    pub method: String,
    /// The route template (`/v1/job/{name}`), `unmatched` for none.
    pub route: String,
    /// The path as asked: names the object.
    pub path: String,
    pub namespace: String,
    pub status: u16,
    /// `ok`, `denied` or `error`.
    pub outcome: &'static str,
}

/// Whether a request goes into the log (pure): changes, refusals, and
/// the exec sessions opened (a `GET` upgraded to a WebSocket).
pub fn audited(method: &Method, status: StatusCode) -> bool {
    status == StatusCode::FORBIDDEN
        || status == StatusCode::SWITCHING_PROTOCOLS
        || !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The outcome word of a status.
pub fn outcome(status: StatusCode) -> &'static str {
    if status == StatusCode::FORBIDDEN {
        "denied"
    } else if status.is_success() || status == StatusCode::SWITCHING_PROTOCOLS {
        "ok"
    } else {
        "error"
    }
}

/// The namespace a query names (`namespace` or Consul's `ns`), `default`
/// when none (or when the query names two, which is refused anyway).
fn namespace_of(query: Option<&str>) -> String {
    crate::api::route::query_namespace(query)
        .ok()
        .flatten()
        .unwrap_or_else(|| "default".to_string())
}

/// The sending side; cheap to clone.
#[derive(Debug, Clone)]
pub struct AuditLog {
    tx: mpsc::Sender<String>,
}

impl AuditLog {
    /// Opens (appends to) `path` and starts the writer; rotates past
    /// `max_bytes`. Call inside the runtime.
    pub async fn open(path: &Path, max_bytes: u64) -> std::io::Result<AuditLog> {
        let file = open_append(path).await?;
        let (tx, rx) = mpsc::channel(QUEUE);
        tokio::spawn(write_lines(path.to_path_buf(), file, max_bytes, rx));
        Ok(AuditLog { tx })
    }

    fn send(&self, entry: &Entry) {
        let Ok(mut line) = serde_json::to_string(entry) else {
            return;
        };
        line.push('\n');
        if self.tx.try_send(line).is_err() {
            crate::metrics::count_audit_drop();
        }
    }
}

async fn open_append(path: &Path) -> std::io::Result<tokio::fs::File> {
    tokio::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .await
}

/// `FILE.n` for `n` in 1..=KEPT.
fn rotated(path: &Path, n: usize) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{n}"));
    PathBuf::from(name)
}

async fn rotate(path: &Path) -> std::io::Result<tokio::fs::File> {
    for n in (1..KEPT).rev() {
        let from = rotated(path, n);
        if tokio::fs::try_exists(&from).await.unwrap_or(false) {
            tokio::fs::rename(&from, rotated(path, n + 1)).await?;
        }
    }
    tokio::fs::rename(path, rotated(path, 1)).await?;
    open_append(path).await
}

async fn write_lines(
    path: PathBuf,
    mut file: tokio::fs::File,
    max_bytes: u64,
    mut rx: mpsc::Receiver<String>,
) {
    let mut size = file.metadata().await.map(|m| m.len()).unwrap_or(0);
    while let Some(line) = rx.recv().await {
        if size > 0 && size + line.len() as u64 > max_bytes {
            match rotate(&path).await {
                Ok(fresh) => {
                    file = fresh;
                    size = 0;
                }
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "audit log: rotating failed; writing on")
                }
            }
        }
        match file.write_all(line.as_bytes()).await {
            Ok(()) => size += line.len() as u64,
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "audit log: writing failed");
                crate::metrics::count_audit_drop();
            }
        }
        let _ = file.flush().await;
    }
}

/// The layer over every route: after the answer, a line for changes and
/// refusals, and the refusal counted.
pub async fn record(log: Option<AuditLog>, req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let route = crate::metrics::route_label(
        req.extensions()
            .get::<MatchedPath>()
            .map(MatchedPath::as_str),
    );
    let path = req.uri().path().to_string();
    let namespace = namespace_of(req.uri().query());
    let response = next.run(req).await;
    let status = response.status();
    if status == StatusCode::FORBIDDEN {
        crate::metrics::count_denial(&route);
    }
    if let (Some(log), true) = (&log, audited(&method, status)) {
        let caller = response.extensions().get::<Caller>();
        let (accessor_id, token_name) = match caller.and_then(|c| c.token.as_ref()) {
            Some(t) => (t.accessor_id.clone(), t.name.clone()),
            None if caller.is_some() => ("anonymous".to_string(), String::new()),
            None => ("unknown".to_string(), String::new()),
        };
        log.send(&Entry {
            time: Utc::now().to_rfc3339(),
            accessor_id,
            token_name,
            method: method.to_string(),
            route,
            path,
            namespace,
            status: status.as_u16(),
            outcome: outcome(status),
        });
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_and_refusals_are_audited_reads_are_not() {
        assert!(audited(&Method::POST, StatusCode::OK));
        assert!(audited(&Method::DELETE, StatusCode::NOT_FOUND));
        assert!(audited(&Method::PUT, StatusCode::OK));
        assert!(audited(&Method::GET, StatusCode::FORBIDDEN));
        assert!(!audited(&Method::GET, StatusCode::OK));
        // An exec session opened.
        assert!(audited(&Method::GET, StatusCode::SWITCHING_PROTOCOLS));
        assert_eq!(outcome(StatusCode::SWITCHING_PROTOCOLS), "ok");
        assert_eq!(outcome(StatusCode::FORBIDDEN), "denied");
        assert_eq!(outcome(StatusCode::OK), "ok");
        assert_eq!(outcome(StatusCode::BAD_REQUEST), "error");
    }

    #[test]
    fn the_namespace_is_the_querys() {
        assert_eq!(namespace_of(Some("a=1&namespace=web")), "web");
        assert_eq!(namespace_of(Some("ns=db")), "db");
        assert_eq!(namespace_of(None), "default");
    }

    #[tokio::test]
    async fn the_file_is_rotated_by_size_and_keeps_five() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("audit.log");
        let log = AuditLog::open(&path, 300).await.expect("open");
        let entry = Entry {
            time: "t".into(),
            accessor_id: "a".into(),
            token_name: String::new(),
            method: "POST".into(),
            route: "/v1/jobs".into(),
            path: "/v1/jobs".into(),
            namespace: "default".into(),
            status: 200,
            outcome: "ok",
        };
        for _ in 0..40 {
            log.send(&entry);
        }
        drop(log);
        // The writer drains the queue, then ends: wait until it has
        // rotated five times and the current file has stopped changing (it
        // can be caught empty just after a rotation).
        let mut last = None;
        for _ in 0..100 {
            let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            let done = rotated(&path, KEPT).exists() && size > 0;
            if done && last == Some(size) {
                break;
            }
            last = Some(size);
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert!(rotated(&path, KEPT).exists(), "five rotations kept");
        assert!(!rotated(&path, KEPT + 1).exists(), "no sixth");
        let current = std::fs::read_to_string(&path).expect("current");
        assert!(current.len() <= 300, "{}", current.len());
        let line: serde_json::Value =
            serde_json::from_str(current.lines().next().expect("a line")).expect("json");
        assert_eq!(line["outcome"], "ok");
    }
}
