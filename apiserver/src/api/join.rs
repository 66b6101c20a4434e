//! Node join: an operator makes a join token (`POST /v1/node/join-tokens`,
//! management); an agent trades it, once, for its own etcd user
//! (`POST /v1/node/join`), whose role reaches only that node's keys
//! ([`drover_store::keys::Keys::node_grants`]). Only the token's hash is
//! kept; each join spends one of its uses under a compare-and-swap, so two
//! agents racing for its last use do not both get in.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::Utc;
use drover_api::nodes::{JoinRequest, JoinResponse, JoinTokenRequest, JoinTokenResponse};
use drover_api_types::join::{JoinToken, JoinUse, MAX_JOIN_TOKEN_TTL_SECS, MAX_JOIN_TOKEN_USES};
use drover_store::{Guard, StoreError, Versioned};

use super::acl::secret_hash;
use super::error::{ApiError, ApiResult};
use super::extract::ApiJson;
use super::openapi as schema;
use super::route::{Need, Route, Routes};
use super::ApiState;

const DEFAULT_TTL_SECS: u64 = 3600;

pub(crate) fn routes() -> Routes {
    Routes::new("join")
        .add(
            Route::post(
                "/v1/node/join-tokens",
                "Make a token nodes trade for their own etcd credentials",
            )
            .body(
                "{ttl_seconds?, uses?, description?}",
                schema::one::<JoinTokenRequest>,
            )
            .answers(schema::one::<JoinTokenResponse>)
            .needs(Need::Management),
            create_token,
        )
        .add(
            Route::post(
                "/v1/node/join",
                "Trade a join token for the node's own etcd credentials",
            )
            .body("{token, node_id}", schema::one::<JoinRequest>)
            .answers(schema::one::<JoinResponse>)
            .needs(Need::Public),
            join,
        )
}

fn random_secret() -> ApiResult<String> {
    drover_serve::agent_token::new_key()
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e))
}

async fn create_token(
    State(state): State<ApiState>,
    ApiJson(request): ApiJson<JoinTokenRequest>,
) -> ApiResult<Json<JoinTokenResponse>> {
    let ttl = request.ttl_seconds.unwrap_or(DEFAULT_TTL_SECS);
    if ttl == 0 || ttl > MAX_JOIN_TOKEN_TTL_SECS {
        return Err(ApiError::bad_request(format!(
            "ttl_seconds {ttl}: between 1 and {MAX_JOIN_TOKEN_TTL_SECS} (7 days)"
        )));
    }
    let uses = request.uses.unwrap_or(1);
    if uses == 0 || uses > MAX_JOIN_TOKEN_USES {
        return Err(ApiError::bad_request(format!(
            "uses {uses}: between 1 and {MAX_JOIN_TOKEN_USES}"
        )));
    }
    if request.description.len() > 256 {
        return Err(ApiError::bad_request("description: at most 256 bytes"));
    }
    let secret = random_secret()?;
    let expires_at = Utc::now() + chrono::Duration::seconds(ttl as i64);
    let token = JoinToken {
        expires_at,
        uses_left: uses,
        description: request.description,
    };
    let key = state.store.keys().join_token(&secret_hash(&secret));
    state.store.create_at(&key, &Versioned::new(token)).await?;
    Ok(Json(JoinTokenResponse {
        secret,
        expires_at,
        uses,
    }))
}

fn refused(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, message)
}

async fn join(
    State(state): State<ApiState>,
    ApiJson(request): ApiJson<JoinRequest>,
) -> ApiResult<Json<JoinResponse>> {
    if uuid::Uuid::parse_str(&request.node_id).is_err() {
        return Err(ApiError::bad_request(
            "node_id: a UUID (the one in the agent's data dir)",
        ));
    }
    let store = &state.store;
    let key = store.keys().join_token(&secret_hash(&request.token));
    let found: Option<Versioned<JoinToken>> = store.get_at(&key).await?;
    let Some(found) = found else {
        return Err(refused("no such join token"));
    };
    let spent = found
        .value
        .spend(Utc::now())
        .map_err(|why| refused(why.to_string()))?;
    // Refused before the token is spent: a node id that already has an
    // identity is someone else's (or a node to forget first).
    if store.node_user_exists(&request.node_id).await? {
        return Err(ApiError::conflict(format!(
            "node {} already has etcd credentials; remove its user ({}) to let it join again",
            request.node_id,
            drover_store::node_identity::node_user(&request.node_id)
        )));
    }
    let outcome = match spent {
        JoinUse::Keep(left) => {
            let next = Versioned {
                value: left,
                revision: found.revision,
            };
            store.update_at(&key, &next).await.map(|_| ())
        }
        JoinUse::Spent => store
            .delete_raw(&key, Guard::Revision(found.revision))
            .await
            .map(|_| ()),
    };
    match outcome {
        Ok(()) => {}
        Err(StoreError::Conflict { .. } | StoreError::NotFound { .. }) => {
            return Err(refused(
                "the join token was used at the same moment; try again",
            ));
        }
        Err(e) => return Err(e.into()),
    }
    let password = random_secret()?;
    let username = store
        .create_node_identity(&request.node_id, &password)
        .await?;
    let master = super::logs::master_key(store).await?;
    let node_key = drover_serve::agent_token::node_key(&master, &request.node_id);
    store.put_node_api_key(&request.node_id, &node_key).await?;
    tracing::info!(node = %request.node_id, user = %username, "a node joined with a join token");
    Ok(Json(JoinResponse { username, password }))
}
