//! The server's HTTP listener.

use std::net::SocketAddr;

use axum::extract::State;
use axum::http::{header, StatusCode};
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
}

/// `/metrics`, `/v1/status/leader` and, given the API state, the REST API.
pub fn router(state: HttpState, api: Option<crate::api::ApiState>) -> Router {
    let base = Router::new()
        .route("/metrics", get(metrics))
        .route("/v1/status/leader", get(leader))
        .with_state(state);
    match api {
        Some(api) => base.merge(crate::api::routes(api)),
        None => base,
    }
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
    mut shutdown: watch::Receiver<bool>,
) -> std::io::Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(async move {
            let _ = shutdown.wait_for(|stop| *stop).await;
        })
        .await
}
