//! The UI's calls to the `/v1` API, in process: a request built as a
//! client would send it, with the visitor's token, answered by the very
//! routes (and ACL checks) the CLI reaches over HTTP.

use axum::body::Body;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, Method, Request, StatusCode};
use axum::response::Response;
use axum::Router;
use serde::de::DeserializeOwned;
use tower::ServiceExt as _;

use crate::api::acl::Caller;
use crate::api::ApiState;

/// The most of an API answer a page reads: lists are paged by the API
/// before they grow past it (the scale issue); a larger one is an error
/// rather than a server out of memory.
const MAX_ANSWER: usize = 64 << 20;

/// The name of the cookie holding the visitor's token.
pub const TOKEN_COOKIE: &str = "drover_token";

#[derive(Clone)]
pub struct Ui {
    api: Router,
    /// For what a token may do, asked of the same ACL code the API runs.
    state: ApiState,
    /// Whether the servers run with ACLs (a token is needed).
    pub acl: bool,
    /// The API's shared watch, for live pages.
    pub feed: crate::api::feed::Feed,
}

/// Why a call failed: the API's status and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallError {
    pub status: StatusCode,
    pub message: String,
}

impl Ui {
    pub fn new(state: ApiState) -> Ui {
        let acl = state.acl.is_some();
        let feed = state.feed.clone();
        Ui {
            api: crate::api::routes(state.clone()),
            state,
            acl,
            feed,
        }
    }

    /// Who `token` is and what it may do, resolved once by the API's own
    /// ACL code: which buttons a page shows (the API checks again when one
    /// is pressed). The 403 of a token the cluster does not know, or one
    /// that expired.
    pub async fn caller(&self, token: Option<&str>) -> Result<Caller, CallError> {
        crate::api::acl::caller_of(&self.state, token.map(str::to_string))
            .await
            .map_err(|e| CallError {
                status: e.status,
                message: e.message,
            })
    }

    /// `GET path` as `token`, the JSON answer decoded.
    pub async fn get<T: DeserializeOwned>(
        &self,
        token: Option<&str>,
        path: &str,
    ) -> Result<T, CallError> {
        self.call(Method::GET, token, path, None).await
    }

    /// `method path` with a JSON `body`, as `token`.
    pub async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        token: Option<&str>,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Result<T, CallError> {
        let (status, bytes) = self.send(method, token, path, body).await?;
        if !status.is_success() {
            return Err(error_of(status, &bytes));
        }
        serde_json::from_slice(&bytes).map_err(|e| internal(format!("decoding {path}: {e}")))
    }

    /// `request` sent to the API routes as `token`, the answer passed back
    /// as it comes: a log that streams, a WebSocket upgrade (the request's
    /// extensions carry the connection to upgrade). The visitor's cookies
    /// stay here: the API sees only the token.
    pub async fn pass(&self, request: Request<Body>, token: Option<&str>) -> Response {
        // A fresh request: the UI router's own extensions (its path
        // parameters) would be read by the API's extractors as theirs.
        // Only the connection to upgrade goes along.
        let (mut parts, body) = request.into_parts();
        let upgrade = parts.extensions.remove::<hyper::upgrade::OnUpgrade>();
        let mut request = Request::new(body);
        *request.method_mut() = parts.method;
        *request.uri_mut() = parts.uri;
        *request.version_mut() = parts.version;
        *request.headers_mut() = parts.headers;
        if let Some(upgrade) = upgrade {
            request.extensions_mut().insert(upgrade);
        }
        let headers = request.headers_mut();
        headers.remove(header::COOKIE);
        headers.remove("x-drover-token");
        headers.remove(header::AUTHORIZATION);
        if let Some(value) = token.and_then(|t| HeaderValue::from_str(t).ok()) {
            headers.insert("x-drover-token", value);
        }
        match self.api.clone().oneshot(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        }
    }

    /// One request to the API routes, its status and body (bounded).
    async fn send(
        &self,
        method: Method,
        token: Option<&str>,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Result<(StatusCode, axum::body::Bytes), CallError> {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(token) = token {
            request = request.header("X-Drover-Token", token);
        }
        let body = match body {
            Some(value) => {
                request = request.header(header::CONTENT_TYPE, "application/json");
                Body::from(value.to_string())
            }
            None => Body::empty(),
        };
        let request = request
            .body(body)
            .map_err(|e| internal(format!("building {path}: {e}")))?;
        let response = self
            .api
            .clone()
            .oneshot(request)
            .await
            .map_err(|e| internal(format!("calling {path}: {e}")))?;
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), MAX_ANSWER)
            .await
            .map_err(|e| internal(format!("reading {path}: {e}")))?;
        Ok((status, bytes))
    }
}

fn internal(message: String) -> CallError {
    CallError {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        message,
    }
}

/// The API's error: its JSON `error`, else the body as text.
fn error_of(status: StatusCode, bytes: &[u8]) -> CallError {
    let message = serde_json::from_slice::<serde_json::Value>(bytes)
        .ok()
        .and_then(|v| v["error"].as_str().map(str::to_string))
        .unwrap_or_else(|| String::from_utf8_lossy(bytes).into_owned());
    CallError { status, message }
}

/// The visitor's token, from the UI's cookie.
pub struct Visitor(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for Visitor {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Visitor(token_from_cookies(
            parts
                .headers
                .get_all(header::COOKIE)
                .iter()
                .filter_map(|v| v.to_str().ok()),
        )))
    }
}

/// The token in `Cookie` header values (pure).
pub fn token_from_cookies<'a>(values: impl Iterator<Item = &'a str>) -> Option<String> {
    values
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == TOKEN_COOKIE)
        .map(|(_, value)| value.to_string())
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_is_read_from_its_cookie_only() {
        let found = token_from_cookies(["a=1; drover_token=s3cr3t; b=2"].into_iter());
        assert_eq!(found.as_deref(), Some("s3cr3t"));
        assert_eq!(
            token_from_cookies(["a=1", "drover_token="].into_iter()),
            None
        );
        assert_eq!(
            token_from_cookies(["x=drover_token", "drover_token=t"].into_iter()).as_deref(),
            Some("t")
        );
        assert_eq!(token_from_cookies(std::iter::empty()), None);
    }
}
