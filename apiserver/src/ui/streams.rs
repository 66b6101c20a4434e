//! What a page keeps open: a task's output as it is written, and a
//! command run in a task. Both are the API's own routes, passed through
//! as the visitor (`Ui::pass`): the UI adds no door of its own.
//!
//! - `GET /ui/logs/{alloc}/{task}?stderr&follow&tail=N` →
//!   `/v1/allocation/{alloc}/logs/{task}` (capability `read-logs`).
//! - `GET /ui/job-logs/{ns}/{job}?stderr&follow&tail=N` →
//!   `/v1/job/{job}/logs` (capability `read-logs`).
//! - `GET /ui/exec/{alloc}?task&command&tty` (a WebSocket) →
//!   `/v1/client/allocation/{alloc}/exec` (capability `alloc-exec`). The
//!   handshake must come from this origin: a WebSocket is not bound by the
//!   same-origin rules a `fetch` is, and a page elsewhere could otherwise
//!   open one in the visitor's name.

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, Request, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

use super::calls::{Ui, Visitor};
use super::pages::url_component;

pub async fn logs(
    State(ui): State<Ui>,
    visitor: Visitor,
    Path((alloc, task)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Response {
    let path = format!(
        "/v1/allocation/{}/logs/{}?namespace=*&{}",
        url_component(&alloc),
        url_component(&task),
        query.unwrap_or_default()
    );
    pass_get(&ui, &visitor, path).await
}

/// `GET path` on the API as the visitor, its answer streamed back.
async fn pass_get(ui: &Ui, visitor: &Visitor, path: String) -> Response {
    match Request::get(path).body(Body::empty()) {
        Ok(request) => ui.pass(request, visitor.0.as_deref()).await,
        Err(e) => (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    }
}

pub async fn job_logs(
    State(ui): State<Ui>,
    visitor: Visitor,
    Path((namespace, job)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Response {
    let path = format!(
        "/v1/job/{}/logs?namespace={}&{}",
        url_component(&job),
        url_component(&namespace),
        query.unwrap_or_default()
    );
    pass_get(&ui, &visitor, path).await
}

pub async fn exec(
    State(ui): State<Ui>,
    visitor: Visitor,
    Path(alloc): Path<String>,
    mut request: Request<Body>,
) -> Response {
    if let Err(why) = same_origin(request.headers()) {
        return (StatusCode::FORBIDDEN, why).into_response();
    }
    let query = request.uri().query().unwrap_or_default();
    let path = format!(
        "/v1/client/allocation/{}/exec?namespace=*&{query}",
        url_component(&alloc)
    );
    match path.parse::<Uri>() {
        Ok(uri) => *request.uri_mut() = uri,
        Err(e) => return (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    }
    ui.pass(request, visitor.0.as_deref()).await
}

/// Whether a handshake's `Origin` is this server as the browser reached
/// it (`Host`) (pure). A browser always sends `Origin` on a WebSocket
/// handshake; one without is not from a page.
pub fn same_origin(headers: &HeaderMap) -> Result<(), &'static str> {
    let origin = headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .ok_or("a command runs only from the UI's own pages (no Origin)")?;
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .ok_or("no Host")?;
    let origin_host = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .unwrap_or("");
    if origin_host.eq_ignore_ascii_case(host) {
        Ok(())
    } else {
        Err("a command runs only from the UI's own pages (Origin is another site)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            if let Ok(value) = value.parse() {
                map.insert(name.clone(), value);
            }
        }
        map
    }

    #[test]
    fn a_command_runs_only_from_a_page_of_this_server() {
        let host = (header::HOST, "127.0.0.1:4646");
        assert!(same_origin(&headers(&[
            host.clone(),
            (header::ORIGIN, "http://127.0.0.1:4646")
        ]))
        .is_ok());
        assert!(same_origin(&headers(&[
            host.clone(),
            (header::ORIGIN, "https://127.0.0.1:4646")
        ]))
        .is_ok());
        assert!(same_origin(&headers(&[
            host.clone(),
            (header::ORIGIN, "http://evil.example")
        ]))
        .is_err());
        assert!(same_origin(&headers(&[
            host.clone(),
            (header::ORIGIN, "http://127.0.0.1:4646.evil")
        ]))
        .is_err());
        assert!(same_origin(&headers(&[host.clone(), (header::ORIGIN, "null")])).is_err());
        assert!(same_origin(&headers(&[host])).is_err());
    }
}
