//! The API's error body, and what a [`crate::Client`] call can fail with.

use serde::{Deserialize, Serialize};

/// Every 4xx and 5xx answer of the drover API (not the Consul-compatible
/// endpoints, which answer as Consul does): what went wrong and, when one
/// input is to blame, which (`field`: `job "web" group "api"`, a query
/// parameter).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ApiErrorBody {
    pub error: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The address is not one the client can use.
    #[error("{0}")]
    Address(String),
    /// A TLS file (CA, client certificate or key) could not be used.
    #[error("TLS: {0}")]
    Tls(String),
    /// No answer at all: refused, timed out, a name that does not resolve.
    /// (The cause is the error's source: `{:#}` with anyhow prints it.)
    #[error("cannot reach the drover server at {base}; is it running? (--addr or DROVER_ADDR)")]
    Unreachable {
        base: String,
        #[source]
        source: reqwest::Error,
    },
    /// The server answered with an error.
    #[error("{}", api_error_message(*.status, body))]
    Api { status: u16, body: String },
    /// A success whose body is not what the endpoint answers.
    #[error("decoding the answer to {what}")]
    Decode {
        what: String,
        #[source]
        source: serde_json::Error,
    },
    /// The answer stopped arriving.
    #[error("reading the answer to {what}")]
    Read {
        what: String,
        #[source]
        source: reqwest::Error,
    },
}

/// `{"error": "...", "field": "..."}` → "field: error"; anything else as
/// it came, with the status.
pub fn api_error_message(status: u16, body: &str) -> String {
    match serde_json::from_str::<ApiErrorBody>(body) {
        Ok(ApiErrorBody {
            error,
            field: Some(field),
        }) if !error.starts_with(&field) => format!("{field}: {error}"),
        Ok(ApiErrorBody { error, .. }) => error,
        Err(_) if body.trim().is_empty() => format!("the server answered {}", status_text(status)),
        Err(_) => format!(
            "the server answered {}: {}",
            status_text(status),
            body.trim()
        ),
    }
}

fn status_text(status: u16) -> String {
    match reqwest::StatusCode::from_u16(status) {
        Ok(code) => code.to_string(),
        Err(_) => status.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_errors_read_as_field_then_message() {
        let body = r#"{"error":"must be 0 or more","field":"count"}"#;
        assert_eq!(api_error_message(400, body), "count: must be 0 or more");
        let body = r#"{"error":"count: must be 0 or more","field":"count"}"#;
        assert_eq!(api_error_message(400, body), "count: must be 0 or more");
        assert_eq!(
            api_error_message(502, "upstream down"),
            "the server answered 502 Bad Gateway: upstream down"
        );
        assert_eq!(
            api_error_message(503, " "),
            "the server answered 503 Service Unavailable"
        );
    }
}
