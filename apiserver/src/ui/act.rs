//! What a page's buttons do: `POST /ui/act` with `{method, path, body}`
//! sends that request to the `/v1` API in process as the visitor's token,
//! and answers with the API's own answer. It can do only what the token
//! can (the API checks), only to `/v1` and only writes; the request must
//! be JSON from the UI's own origin (the browser guard) and the cookie is
//! `SameSite=Strict`, so another site's page cannot press a button.

use axum::extract::State;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::calls::{Ui, Visitor};

/// The longest path a button may name.
const MAX_PATH: usize = 2048;

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Act {
    pub method: String,
    pub path: String,
    #[serde(default)]
    pub body: Option<serde_json::Value>,
}

/// The method and path an action may send, or why not (pure).
pub fn allowed(act: &Act) -> Result<Method, String> {
    let method = match act.method.as_str() {
        "POST" => Method::POST,
        "DELETE" => Method::DELETE,
        other => return Err(format!("method {other:?}: buttons send POST or DELETE")),
    };
    if act.path.len() > MAX_PATH {
        return Err(format!("path: at most {MAX_PATH} bytes"));
    }
    let path_only = act.path.split('?').next().unwrap_or("");
    if !path_only.starts_with("/v1/") || path_only.split('/').any(|s| s == ".." || s == ".") {
        return Err(format!("path {:?}: only /v1/ routes", act.path));
    }
    Ok(method)
}

pub async fn act(State(ui): State<Ui>, visitor: Visitor, Json(act): Json<Act>) -> Response {
    let method = match allowed(&act) {
        Ok(method) => method,
        Err(why) => return (StatusCode::BAD_REQUEST, why).into_response(),
    };
    let token = visitor.0.as_deref();
    match ui
        .call::<serde_json::Value>(method, token, &act.path, act.body)
        .await
    {
        Ok(answer) => Json(answer).into_response(),
        Err(e) => (e.status, e.message).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn act(method: &str, path: &str) -> Act {
        Act {
            method: method.into(),
            path: path.into(),
            body: None,
        }
    }

    #[test]
    fn buttons_write_to_the_api_and_nowhere_else() {
        assert_eq!(
            allowed(&act("POST", "/v1/job/web/scale?namespace=default")),
            Ok(Method::POST)
        );
        assert_eq!(allowed(&act("DELETE", "/v1/job/web")), Ok(Method::DELETE));
        assert!(allowed(&act("GET", "/v1/jobs")).is_err());
        assert!(allowed(&act("POST", "/ui/act")).is_err());
        assert!(allowed(&act("POST", "/v1/../metrics")).is_err());
        assert!(allowed(&act("POST", "/metrics")).is_err());
        assert!(allowed(&act("POST", &format!("/v1/{}", "a".repeat(MAX_PATH)))).is_err());
    }
}
