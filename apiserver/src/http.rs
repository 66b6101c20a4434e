//! The server's HTTP listener. Slow clients cannot hold it: request
//! headers must arrive within [`Limits::header_read`], and a response must
//! start within [`Limits::request`] (a blocking query gets its `wait` on
//! top) or the client gets 408; streams (logs, events) flow for as long as
//! they last once started.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use prometheus::{Encoder, Registry, TextEncoder};
use tokio::net::TcpListener;
use tokio::sync::watch;

/// What the handlers read.
#[derive(Clone)]
pub struct HttpState {
    pub registry: Registry,
    /// Whether this server leads, as the election reports it.
    pub leading: watch::Receiver<bool>,
    /// `/metrics` without a token even with ACLs on.
    pub metrics_public: bool,
    /// The listener is on loopback: only loopback names in `Host` (see
    /// [`crate::browser`]).
    pub loopback: bool,
}

/// How long a client may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// To send a request's headers.
    pub header_read: Duration,
    /// For the response to start (body reads included), besides a
    /// blocking query's `wait`.
    pub request: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_read: Duration::from_secs(10),
            request: Duration::from_secs(60),
        }
    }
}

/// `/metrics`, `/v1/status/leader` and, given the API state, the REST API.
pub fn router(state: HttpState, api: Option<crate::api::ApiState>) -> Router {
    router_with(state, api, Limits::default())
}

/// [`router`] with explicit limits.
pub fn router_with(state: HttpState, api: Option<crate::api::ApiState>, limits: Limits) -> Router {
    let registry = state.registry.clone();
    let loopback = state.loopback;
    let audit = api.as_ref().and_then(|a| a.audit.clone());
    let mut metrics_route = Router::new().route("/metrics", get(metrics));
    if let (false, Some(api)) = (state.metrics_public, &api) {
        metrics_route = metrics_route.route_layer(axum::middleware::from_fn_with_state(
            api.clone(),
            crate::api::scrape_token::metrics_access,
        ));
    }
    let base = Router::new()
        .merge(metrics_route)
        .route("/v1/status/leader", get(leader))
        .with_state(state);
    let all = match api {
        Some(api) => base
            .merge(crate::ui::routes(api.clone()))
            .merge(crate::api::routes(api)),
        None => base,
    };
    let limited = all
        .layer(axum::middleware::from_fn(
            move |req: Request, next: Next| request_deadline(limits.request, req, next),
        ))
        .layer(axum::middleware::from_fn(
            move |req: Request, next: Next| crate::browser::guard(loopback, req, next),
        ))
        // Outside the browser guard, so what it refuses is audited too.
        .layer(axum::middleware::from_fn(
            move |req: Request, next: Next| crate::audit::record(audit.clone(), req, next),
        ));
    // Outside the deadline, so requests that run out of time count (408).
    crate::metrics::instrument(limited, &registry)
}

async fn request_deadline(base: Duration, req: Request, next: Next) -> Response {
    let limit = deadline_for(base, req.uri().query());
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(response) => response,
        Err(_) => crate::api::error::ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            format!(
                "the request took longer than {}s; send the body promptly",
                limit.as_secs()
            ),
        )
        .into_response(),
    }
}

/// How long a request may take before its response starts: `base`, plus
/// the wait of a blocking query (`index` given).
pub fn deadline_for(base: Duration, query: Option<&str>) -> Duration {
    let params: std::collections::HashMap<String, String> = query
        .map(|q| {
            q.split('&')
                .filter_map(|pair| pair.split_once('=').or(Some((pair, ""))))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        })
        .unwrap_or_default();
    if !params.contains_key("index") {
        return base;
    }
    let wait = params
        .get("wait")
        .and_then(|w| drover_api_types::Duration::parse(w).ok())
        .map_or(crate::api::query::DEFAULT_WAIT, |d| d.as_std())
        .min(crate::api::query::MAX_WAIT);
    base + wait
}

async fn metrics(State(state): State<HttpState>) -> Response {
    let mut body = Vec::new();
    match TextEncoder::new().encode(&state.registry.gather(), &mut body) {
        Ok(()) => ([(header::CONTENT_TYPE, prometheus::TEXT_FORMAT)], body).into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("encoding metrics: {e}\n"),
        )
            .into_response(),
    }
}

async fn leader(State(state): State<HttpState>) -> Response {
    let leading = *state.leading.borrow();
    (
        [(header::CONTENT_TYPE, "application/json")],
        format!("{{\"leading\":{leading}}}\n"),
    )
        .into_response()
}

/// Binds `addr`; a clear error when the port is taken.
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}

/// Serves `router` on `listener` until `shutdown` becomes true.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    tls: Option<Arc<rustls::ServerConfig>>,
    shutdown: watch::Receiver<bool>,
) -> std::io::Result<()> {
    serve_with(listener, router, Limits::default(), tls, shutdown).await
}

/// [`serve`] with explicit limits (the header read timeout is the
/// connection's; the request deadline is [`router_with`]'s).
pub async fn serve_with(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    tls: Option<Arc<rustls::ServerConfig>>,
    shutdown: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let options = drover_serve::Options {
        header_read: limits.header_read,
        tls,
        ..drover_serve::Options::default()
    };
    drover_serve::serve(listener, router, options, shutdown).await
}

/// The API served on a free loopback port of this process, as `drover
/// server` serves it (the same router, limits and listener) but with no
/// election (never leading) and no controllers, so what a caller writes
/// stays as written: what the API's and the CLI's tests run against.
/// Dropping it stops the listener.
pub struct InProcessApi {
    pub addr: SocketAddr,
    /// `http://ADDR`.
    pub base: String,
    stop: watch::Sender<bool>,
    _leading: watch::Sender<bool>,
}

impl InProcessApi {
    pub async fn start(api: crate::api::ApiState) -> std::io::Result<Self> {
        Self::start_with(api, Limits::default()).await
    }

    pub async fn start_with(api: crate::api::ApiState, limits: Limits) -> std::io::Result<Self> {
        let (leading_tx, leading) = watch::channel(false);
        let state = HttpState {
            metrics_public: true,
            loopback: true,
            registry: Registry::new(),
            leading,
        };
        let router = router_with(state, Some(api), limits);
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = watch::channel(false);
        tokio::spawn(serve_with(listener, router, limits, None, stopped));
        Ok(InProcessApi {
            addr,
            base: format!("http://{addr}"),
            stop,
            _leading: leading_tx,
        })
    }
}

impl Drop for InProcessApi {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocking_queries_get_their_wait_on_top() {
        let base = Duration::from_secs(60);
        assert_eq!(deadline_for(base, None), base);
        assert_eq!(deadline_for(base, Some("namespace=x")), base);
        assert_eq!(
            deadline_for(base, Some("index=5&wait=30s")),
            Duration::from_secs(90)
        );
        assert_eq!(
            deadline_for(base, Some("index=5")),
            base + crate::api::query::DEFAULT_WAIT
        );
        assert_eq!(
            deadline_for(base, Some("wait=1h&index=5")),
            base + crate::api::query::MAX_WAIT
        );
    }
}
