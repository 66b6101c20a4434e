//! The CLI's side of the REST API: where the server is (`--addr`,
//! `DROVER_ADDR`, default `http://127.0.0.1:4646`), JSON requests, and
//! API errors (`{"error", "field"}`) turned into readable messages.

use std::time::Duration;

use anyhow::{anyhow, Context as _};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// The flags every API command takes.
#[derive(Debug, Clone, clap::Args)]
pub struct ApiArgs {
    /// The drover server's HTTP address.
    #[arg(
        long = "addr",
        env = "DROVER_ADDR",
        default_value = "http://127.0.0.1:4646",
        global = true
    )]
    pub addr: String,
    /// The namespace.
    #[arg(
        short = 'n',
        long = "namespace",
        env = "DROVER_NAMESPACE",
        default_value = "default",
        global = true
    )]
    pub namespace: String,
}

/// A connection to one server.
#[derive(Debug, Clone)]
pub struct Client {
    base: String,
    namespace: String,
    http: reqwest::Client,
}

/// An answer with the index it was read at (`X-Drover-Index`).
#[derive(Debug, Clone)]
pub struct Indexed<T> {
    pub index: i64,
    pub value: T,
}

impl Client {
    pub fn new(args: &ApiArgs) -> anyhow::Result<Client> {
        let base = normalize_addr(&args.addr)?;
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .build()
            .context("building the HTTP client")?;
        Ok(Client {
            base,
            namespace: args.namespace.clone(),
            http,
        })
    }

    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// `GET path` with `query` (the namespace is added unless given).
    pub async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> anyhow::Result<Indexed<T>> {
        self.send::<(), T>(Method::GET, path, query, None).await
    }

    /// `POST path` with a JSON body.
    pub async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
        body: &B,
    ) -> anyhow::Result<T> {
        Ok(self
            .send(Method::POST, path, query, Some(body))
            .await?
            .value)
    }

    /// `DELETE path`.
    pub async fn delete<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> anyhow::Result<T> {
        Ok(self
            .send::<(), T>(Method::DELETE, path, query, None)
            .await?
            .value)
    }

    /// A raw request, for streams (logs, events); errors already mapped.
    pub async fn stream(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> anyhow::Result<reqwest::Response> {
        let response = self
            .request(Method::GET, path, query)
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        check(response).await
    }

    /// A request with a raw body whose answer is returned as it came,
    /// errors included: the KV endpoints speak Consul (a 404 is "no such
    /// key", errors are plain text), so the caller reads the status.
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<Vec<u8>>,
    ) -> anyhow::Result<reqwest::Response> {
        let mut request = self.request(method, path, query);
        if let Some(body) = body {
            request = request.body(body);
        }
        request.send().await.map_err(|e| self.unreachable(e))
    }

    fn request(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
    ) -> reqwest::RequestBuilder {
        let mut params: Vec<(&str, String)> = query.to_vec();
        if !params.iter().any(|(k, _)| *k == "namespace") {
            params.push(("namespace", self.namespace.clone()));
        }
        self.http
            .request(method, format!("{}{path}", self.base))
            .query(&params)
    }

    async fn send<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&B>,
    ) -> anyhow::Result<Indexed<T>> {
        let mut request = self.request(method.clone(), path, query);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|e| self.unreachable(e))?;
        let response = check(response).await?;
        let index = response
            .headers()
            .get("x-drover-index")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let bytes = response
            .bytes()
            .await
            .with_context(|| format!("reading the answer to {method} {path}"))?;
        let value = serde_json::from_slice(&bytes)
            .with_context(|| format!("decoding the answer to {method} {path}"))?;
        Ok(Indexed { index, value })
    }

    fn unreachable(&self, e: reqwest::Error) -> anyhow::Error {
        anyhow!(
            "cannot reach the drover server at {} ({e}); is it running? (--addr or DROVER_ADDR)",
            self.base
        )
    }
}

/// The runtime the user commands run their requests on: one thread is
/// plenty for a handful of requests.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// `s` as one URL path segment (names may hold `[`, `]` or spaces).
pub fn segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Passes a success through; turns an API error into its message.
async fn check(response: reqwest::Response) -> anyhow::Result<reqwest::Response> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let body = response.text().await.unwrap_or_default();
    Err(anyhow!(api_error_message(status, &body)))
}

/// `{"error": "...", "field": "..."}` → "field: error"; anything else as
/// it came, with the status.
pub fn api_error_message(status: StatusCode, body: &str) -> String {
    #[derive(serde::Deserialize)]
    struct ApiError {
        error: String,
        #[serde(default)]
        field: Option<String>,
    }
    match serde_json::from_str::<ApiError>(body) {
        Ok(ApiError {
            error,
            field: Some(field),
        }) if !error.starts_with(&field) => format!("{field}: {error}"),
        Ok(ApiError { error, .. }) => error,
        Err(_) if body.trim().is_empty() => format!("the server answered {status}"),
        Err(_) => format!("the server answered {status}: {}", body.trim()),
    }
}

/// `host:port` → `http://host:port`; no trailing slash.
pub fn normalize_addr(addr: &str) -> anyhow::Result<String> {
    let addr = addr.trim().trim_end_matches('/');
    if addr.is_empty() {
        anyhow::bail!("--addr is empty");
    }
    if addr.starts_with("http://") || addr.starts_with("https://") {
        Ok(addr.to_string())
    } else if addr.contains("://") {
        anyhow::bail!("--addr {addr}: only http:// and https:// are supported")
    } else {
        Ok(format!("http://{addr}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_get_a_scheme_and_lose_the_slash() {
        assert_eq!(
            normalize_addr("127.0.0.1:4646/").expect("ok"),
            "http://127.0.0.1:4646"
        );
        assert_eq!(
            normalize_addr("https://drover.example.com").expect("ok"),
            "https://drover.example.com"
        );
        assert!(normalize_addr("ftp://x").is_err());
        assert!(normalize_addr(" ").is_err());
    }

    #[test]
    fn path_segments_are_escaped() {
        assert_eq!(segment("web"), "web");
        assert_eq!(segment("web.front[0]"), "web.front%5B0%5D");
        assert_eq!(segment("a/b c"), "a%2Fb%20c");
    }

    #[test]
    fn api_errors_read_as_field_then_message() {
        let body = r#"{"error":"must be 0 or more","field":"count"}"#;
        assert_eq!(
            api_error_message(StatusCode::BAD_REQUEST, body),
            "count: must be 0 or more"
        );
        assert_eq!(
            api_error_message(StatusCode::BAD_GATEWAY, "upstream down"),
            "the server answered 502 Bad Gateway: upstream down"
        );
    }
}
