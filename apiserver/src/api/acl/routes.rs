//! `/v1/acl/…`: bootstrap once, then policies and tokens (management
//! only, but a token reading itself).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::Utc;
use drover_api::acl::{PolicyRequest, PolicyStub, PolicyWritten, TokenRequest, TokenView};
use drover_api_types::acl::{parse_policy, AclPolicy, AclToken, TokenType};
use drover_api_types::resolve::{resolve, Candidate};
use drover_store::{Guard, StoreError, Versioned};

use super::{secret_hash, AclState, Caller};
use crate::api::error::{resolved, ApiError, ApiResult};
use crate::api::extract::ApiJson;
use crate::api::openapi as schema;
use crate::api::route::{Need, Route, Routes};
use crate::api::ApiState;

/// The most policies one token may name, and the longest policy name.
const MAX_TOKEN_POLICIES: usize = 64;
const MAX_NAME_LEN: usize = 128;

pub(crate) fn routes() -> Routes {
    Routes::new("acl")
        .add(
            Route::post(
                "/v1/acl/bootstrap",
                "Create the first management token (once; the secret is shown only here)",
            )
            .body("{}", schema::empty)
            .answers(schema::one::<TokenView>)
            .needs(Need::Public),
            bootstrap,
        )
        .add(
            Route::get("/v1/acl/policies", "List ACL policies").answers(schema::list::<PolicyStub>),
            list_policies,
        )
        .add(
            Route::get("/v1/acl/policy/{name}", "Read an ACL policy")
                .answers(schema::one::<AclPolicy>),
            read_policy,
        )
        .add(
            Route::post(
                "/v1/acl/policy/{name}",
                "Create or replace an ACL policy (rules in Nomad's policy language)",
            )
            .body("{rules, description?}", schema::one::<PolicyRequest>)
            .answers(schema::one::<PolicyWritten>),
            write_policy,
        )
        .add(
            Route::delete("/v1/acl/policy/{name}", "Delete an ACL policy")
                .answers(schema::one::<PolicyStub>),
            delete_policy,
        )
        .add(
            Route::get("/v1/acl/tokens", "List ACL tokens (no secrets)")
                .answers(schema::list::<TokenView>),
            list_tokens,
        )
        .add(
            Route::post(
                "/v1/acl/token",
                "Create a token (the secret is shown only here)",
            )
            .body("{name, type?, policies, ttl?}", schema::one::<TokenRequest>)
            .answers(schema::one::<TokenView>),
            create_token,
        )
        .add(
            Route::get("/v1/acl/token/self", "The token the request carries")
                .answers(schema::one::<TokenView>)
                .needs(Need::Token),
            token_self,
        )
        .add(
            Route::get(
                "/v1/acl/token/{accessor}",
                "Read a token by accessor id or unique prefix",
            )
            .answers(schema::one::<TokenView>),
            read_token,
        )
        .add(
            Route::delete(
                "/v1/acl/token/{accessor}",
                "Delete a token by accessor id or unique prefix",
            )
            .answers(schema::one::<TokenView>),
            delete_token,
        )
}

fn enabled(state: &ApiState) -> ApiResult<&AclState> {
    state.acl.as_ref().ok_or_else(|| {
        ApiError::bad_request("ACLs are disabled; start the servers with --acl to use them")
    })
}

fn view(token: &AclToken, secret: Option<String>) -> TokenView {
    TokenView {
        accessor_id: token.accessor_id.clone(),
        secret_id: secret,
        name: token.name.clone(),
        token_type: token.token_type,
        policies: token.policies.clone(),
        create_time: token.create_time,
        expiration_time: token.expiration_time,
    }
}

/// A fresh secret: 128 random bits, as a UUID.
fn new_secret() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn check_name(name: &str, what: &str) -> ApiResult<()> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        return Ok(());
    }
    Err(ApiError::bad_request(format!(
        "{what} {name:?} must be 1 to {MAX_NAME_LEN} letters, digits, '-', '_' or '.'"
    ))
    .at("name"))
}

async fn bootstrap(State(state): State<ApiState>) -> ApiResult<Json<TokenView>> {
    let acl = enabled(&state)?;
    let store = &state.store;
    let secret = new_secret();
    let token = AclToken {
        accessor_id: uuid::Uuid::new_v4().to_string(),
        name: "Bootstrap Token".into(),
        token_type: TokenType::Management,
        policies: Vec::new(),
        secret_hash: secret_hash(&secret),
        create_time: Utc::now(),
        expiration_time: None,
    };
    let keys = store.keys();
    let marker = serde_json::to_vec(&serde_json::json!({
        "accessor_id": token.accessor_id,
        "at": token.create_time,
    }))
    .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let value = serde_json::to_vec(&token)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    // One transaction: the marker that makes a second bootstrap fail, and
    // the token.
    let mut batch = store.batch();
    batch.create(&keys.acl_bootstrap(), marker);
    batch.create(&keys.acl_token(&token.secret_hash), value);
    let revision = match batch.commit_atomic(store).await {
        Ok(revision) => revision,
        Err(e) if e.is_conflict() || matches!(e, StoreError::AlreadyExists { .. }) => {
            return Err(ApiError::bad_request(
                "ACL bootstrap already done; docs/acl.md says how to reset a lost bootstrap token",
            ))
        }
        Err(e) => return Err(e.into()),
    };
    acl.tokens_caught_up(revision).await;
    tracing::warn!(accessor = %token.accessor_id, "ACL bootstrap: management token created");
    Ok(Json(view(&token, Some(secret))))
}

async fn list_policies(State(state): State<ApiState>) -> ApiResult<Json<Vec<PolicyStub>>> {
    let acl = enabled(&state)?;
    let mut stubs: Vec<PolicyStub> = acl
        .policies()
        .into_iter()
        .map(|p| PolicyStub {
            name: p.name,
            description: p.description,
        })
        .collect();
    stubs.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Json(stubs))
}

async fn read_policy(
    State(state): State<ApiState>,
    Path(name): Path<String>,
) -> ApiResult<Json<AclPolicy>> {
    enabled(&state)?;
    let key = state.store.keys().acl_policy(&name);
    state
        .store
        .get_at::<Versioned<AclPolicy>>(&key)
        .await?
        .map(|v| Json(v.value))
        .ok_or_else(|| ApiError::not_found(format!("ACL policy {name:?} not found")).at("name"))
}

async fn write_policy(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    ApiJson(request): ApiJson<PolicyRequest>,
) -> ApiResult<Json<PolicyWritten>> {
    let acl = enabled(&state)?;
    check_name(&name, "a policy name")?;
    let (parsed, warnings) = parse_policy(&name, &request.rules).map_err(|errors| {
        let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
        ApiError::bad_request(text.join("\n")).at("rules")
    })?;
    let policy = AclPolicy {
        name: name.clone(),
        description: request.description,
        rules: request.rules,
        parsed,
        modify_time: Some(Utc::now()),
    };
    let key = state.store.keys().acl_policy(&name);
    let revision = state.store.put_at(&key, &Versioned::new(policy)).await?;
    acl.policies_caught_up(revision).await;
    Ok(Json(PolicyWritten {
        name,
        warnings: warnings.iter().map(ToString::to_string).collect(),
    }))
}

async fn delete_policy(
    State(state): State<ApiState>,
    Path(name): Path<String>,
) -> ApiResult<Json<PolicyStub>> {
    let acl = enabled(&state)?;
    let key = state.store.keys().acl_policy(&name);
    let Some(existing) = state.store.get_at::<Versioned<AclPolicy>>(&key).await? else {
        return Err(ApiError::not_found(format!("ACL policy {name:?} not found")).at("name"));
    };
    let deleted = state
        .store
        .delete_raw(&key, Guard::Revision(existing.revision))
        .await?;
    if let Some(revision) = deleted {
        acl.policies_caught_up(revision).await;
    }
    Ok(Json(PolicyStub {
        name,
        description: existing.value.description,
    }))
}

async fn list_tokens(State(state): State<ApiState>) -> ApiResult<Json<Vec<TokenView>>> {
    let acl = enabled(&state)?;
    let mut tokens: Vec<TokenView> = acl.tokens().iter().map(|t| view(t, None)).collect();
    tokens.sort_by_key(|t| t.create_time);
    Ok(Json(tokens))
}

async fn create_token(
    State(state): State<ApiState>,
    ApiJson(request): ApiJson<TokenRequest>,
) -> ApiResult<Json<TokenView>> {
    let acl = enabled(&state)?;
    if request.name.len() > MAX_NAME_LEN {
        return Err(
            ApiError::bad_request(format!("a token name is at most {MAX_NAME_LEN} bytes"))
                .at("name"),
        );
    }
    match request.token_type {
        TokenType::Client if request.policies.is_empty() => {
            return Err(ApiError::bad_request(
                "a client token needs at least one policy (--policy NAME)",
            )
            .at("policies"))
        }
        TokenType::Management if !request.policies.is_empty() => {
            return Err(ApiError::bad_request(
                "a management token may do anything; it takes no policies",
            )
            .at("policies"))
        }
        _ => {}
    }
    if request.policies.len() > MAX_TOKEN_POLICIES {
        return Err(ApiError::bad_request(format!(
            "a token names at most {MAX_TOKEN_POLICIES} policies"
        ))
        .at("policies"));
    }
    let known: Vec<String> = acl.policies().into_iter().map(|p| p.name).collect();
    if let Some(missing) = request.policies.iter().find(|p| !known.contains(p)) {
        return Err(ApiError::bad_request(format!(
            "no ACL policy {missing:?}; create it first with drover acl policy apply"
        ))
        .at("policies"));
    }
    let now = Utc::now();
    let expiration_time = match request.ttl {
        None => None,
        Some(ttl) => {
            let ttl = chrono::Duration::from_std(ttl.as_std())
                .ok()
                .filter(|d| *d > chrono::Duration::zero())
                .ok_or_else(|| ApiError::bad_request("ttl must be positive").at("ttl"))?;
            Some(now + ttl)
        }
    };
    let secret = new_secret();
    let token = AclToken {
        accessor_id: uuid::Uuid::new_v4().to_string(),
        name: request.name,
        token_type: request.token_type,
        policies: request.policies,
        secret_hash: secret_hash(&secret),
        create_time: now,
        expiration_time,
    };
    let key = state.store.keys().acl_token(&token.secret_hash);
    let revision = state
        .store
        .create_at(&key, &Versioned::new(token.clone()))
        .await?;
    acl.tokens_caught_up(revision).await;
    Ok(Json(view(&token, Some(secret))))
}

async fn token_self(caller: Caller) -> ApiResult<Json<TokenView>> {
    caller
        .token
        .as_ref()
        .map(|t| Json(view(t, None)))
        .ok_or_else(|| ApiError::not_found("the request carries no token"))
}

/// The token `reference` (an accessor id or its unique prefix) means.
fn find_token(acl: &AclState, reference: &str) -> ApiResult<AclToken> {
    let mut tokens = acl.tokens();
    let candidates: Vec<Candidate> = tokens
        .iter()
        .map(|t| Candidate {
            id: t.accessor_id.clone(),
            name: t.accessor_id.clone(),
            live: true,
        })
        .collect();
    let i = resolved(resolve("ACL token", reference, &candidates), "accessor")?;
    Ok(tokens.swap_remove(i))
}

async fn read_token(
    State(state): State<ApiState>,
    Path(accessor): Path<String>,
) -> ApiResult<Json<TokenView>> {
    let acl = enabled(&state)?;
    Ok(Json(view(&find_token(acl, &accessor)?, None)))
}

async fn delete_token(
    State(state): State<ApiState>,
    Path(accessor): Path<String>,
) -> ApiResult<Json<TokenView>> {
    let acl = enabled(&state)?;
    let token = find_token(acl, &accessor)?;
    let key = state.store.keys().acl_token(&token.secret_hash);
    if let Some(revision) = state.store.delete_raw(&key, Guard::None).await? {
        acl.tokens_caught_up(revision).await;
    }
    Ok(Json(view(&token, None)))
}
