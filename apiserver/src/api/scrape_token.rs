//! The metrics scrape token (`drover operator scrape-token`): what
//! Prometheus presents to the agents' `/metrics` (and may present to the
//! servers'). `GET /v1/operator/scrape-token` shows it, making it on first
//! use; `POST /v1/operator/scrape-token/rotate` replaces it. Both need a
//! management token: the token opens every node's metrics. See
//! [`drover_serve::scrape_token`] for how agents check it.

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;
use axum::Json;
use drover_api::operator::ScrapeTokenResponse;
use drover_serve::scrape_token;
use drover_store::secrets::ScrapeTokenWrite;
use drover_store::Store;

use super::error::{ApiError, ApiResult};
use super::openapi as schema;
use super::route::{Need, Route, Routes};
use super::ApiState;

pub(crate) fn routes() -> Routes {
    Routes::new("operator")
        .add(
            Route::get(
                "/v1/operator/scrape-token",
                "The token metrics scrapers present to agents (made on first use)",
            )
            .answers(schema::one::<ScrapeTokenResponse>)
            .needs(Need::Management),
            show,
        )
        .add(
            Route::post(
                "/v1/operator/scrape-token/rotate",
                "Replace the metrics scrape token; the old one is refused within 10 s",
            )
            .answers(schema::one::<ScrapeTokenResponse>)
            .needs(Need::Management),
            rotate,
        )
}

fn fresh_token() -> ApiResult<String> {
    scrape_token::new_token().map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e))
}

/// The scrape token, made and published (with its digest) when none is
/// there, and its digest published again should it be missing or stale.
/// Every server calls this at start, so agents can check scrapers before
/// anyone asked for the token.
pub async fn ensure(store: &Store) -> ApiResult<String> {
    let token = match store.scrape_token().await? {
        Some(token) => token,
        None => {
            let made = fresh_token()?;
            let digest = scrape_token::digest(&made);
            store
                .put_scrape_token(&made, &digest, ScrapeTokenWrite::IfAbsent)
                .await?;
            // Another server may have won the race: take what is stored.
            store.scrape_token().await?.unwrap_or(made)
        }
    };
    let digest = scrape_token::digest(&token);
    if store.scrape_token_digest().await?.as_deref() != Some(digest.as_str()) {
        store.put_scrape_token_digest(&digest).await?;
    }
    Ok(token)
}

async fn show(State(state): State<ApiState>) -> ApiResult<Json<ScrapeTokenResponse>> {
    let token = ensure(&state.store).await?;
    Ok(Json(ScrapeTokenResponse { token }))
}

async fn rotate(State(state): State<ApiState>) -> ApiResult<Json<ScrapeTokenResponse>> {
    let token = fresh_token()?;
    let digest = scrape_token::digest(&token);
    state
        .store
        .put_scrape_token(&token, &digest, ScrapeTokenWrite::Replace)
        .await?;
    tracing::info!("the metrics scrape token was rotated");
    Ok(Json(ScrapeTokenResponse { token }))
}

/// The gate of the server's `/metrics` when it is not public: the scrape
/// token, or an ACL token with operator read.
pub(crate) async fn metrics_access(
    State(state): State<ApiState>,
    req: Request,
    next: Next,
) -> Response {
    let presented = drover_serve::bearer_token(req.headers()).map(str::to_string);
    if let Some(presented) = presented {
        let read = state.store.scrape_token_digest();
        match state.scrape_digest.check(&presented, read).await {
            Ok(true) => return next.run(req).await,
            Ok(false) => {}
            Err(e) => {
                return axum::response::IntoResponse::into_response(ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!("reading the scrape token's digest: {e}"),
                ))
            }
        }
    }
    super::acl::operator_read(State(state), req, next).await
}
