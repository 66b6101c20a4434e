//! Who a request comes from and what they may do.
//!
//! [`authenticate`] (a layer over every `/v1` route) reads the token from
//! the request, resolves it against an in-memory copy of the tokens and
//! policies (kept by watches) and puts a [`Caller`] into the request; each
//! route then checks the one thing it needs ([`super::route::Need`]), and
//! handlers that read or write objects of a namespace only the body or the
//! object itself names check it again there ([`Caller::require`]), or filter
//! what they answer with ([`Caller::may`]).
//!
//! # Layout
//! - this module: [`AclState`] (the copies, compiled ACLs memoized per
//!   token), [`Caller`], token extraction, the layer.
//! - [`routes`]: `/v1/acl/…`: bootstrap, policies, tokens.

pub(crate) mod routes;

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use drover_api_types::acl::{Acl, AclPolicy, AclToken, Capability, TokenType, ANONYMOUS_POLICY};
use drover_store::keys::collections as c;
use drover_store::reflector::Reflector;
use drover_store::{Store, Versioned};
use sha2::{Digest as _, Sha256};

use super::error::{ApiError, ApiResult};
use super::ApiState;

/// The most compiled ACLs kept; past it the memo starts over (a flood of
/// distinct valid tokens costs recompiling, never memory).
const MEMO_LIMIT: usize = 10_000;

/// How long a write waits for its own change to reach the copies before
/// answering anyway (the watch is late; the next request may miss it).
const CATCH_UP: std::time::Duration = std::time::Duration::from_secs(5);

/// The longest token secret read from a request.
const MAX_SECRET_LEN: usize = 256;

/// Tokens and policies, copied from etcd by watches, and the ACL each
/// token compiles to.
#[derive(Clone)]
pub struct AclState {
    tokens: Arc<Reflector<Versioned<AclToken>>>,
    policies: Arc<Reflector<Versioned<AclPolicy>>>,
    memo: Arc<RwLock<Memo>>,
}

#[derive(Default)]
struct Memo {
    /// The revisions of the copies the entries were compiled from.
    revisions: (i64, i64),
    acls: HashMap<String, Arc<Acl>>,
}

/// The hex SHA-256 of a token secret: how tokens are stored and found.
pub fn secret_hash(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    let mut out = String::with_capacity(64);
    for byte in digest.iter() {
        out.push_str(&format!("{byte:02x}"));
    }
    out
}

impl AclState {
    /// Starts the watches; call inside the runtime. Requests wait for the
    /// first full copy.
    pub fn start(store: &Store) -> AclState {
        let keys = store.keys();
        let tokens = Arc::new(store.reflector(&keys.collection(c::ACL_TOKENS)));
        let policies = Arc::new(store.reflector(&keys.collection(c::ACL_POLICIES)));
        AclState {
            tokens,
            policies,
            memo: Arc::new(RwLock::new(Memo::default())),
        }
    }

    async fn ready(&self) {
        self.tokens.wait_ready().await;
        self.policies.wait_ready().await;
    }

    /// Waits until the copy of the tokens holds what a write at
    /// `revision` wrote, so the writer's next request sees it.
    pub async fn tokens_caught_up(&self, revision: i64) {
        let _ = tokio::time::timeout(CATCH_UP, self.tokens.wait_revision(revision)).await;
    }

    /// The same for the policies.
    pub async fn policies_caught_up(&self, revision: i64) {
        let _ = tokio::time::timeout(CATCH_UP, self.policies.wait_revision(revision)).await;
    }

    fn policy(&self, store_key: &str) -> Option<AclPolicy> {
        self.policies.get(store_key).map(|v| v.value)
    }

    /// The token with this hash, if any.
    fn token(&self, keys: &drover_store::keys::Keys, hash: &str) -> Option<AclToken> {
        self.tokens.get(&keys.acl_token(hash)).map(|v| v.value)
    }

    fn compiled(
        &self,
        keys: &drover_store::keys::Keys,
        memo_key: &str,
        policy_names: &[String],
    ) -> Arc<Acl> {
        let revisions = (self.tokens.revision(), self.policies.revision());
        // Every request reads; only the first for a token (after a change)
        // writes: a read lock keeps concurrent requests apart.
        {
            let memo = self.memo.read().unwrap_or_else(PoisonError::into_inner);
            if memo.revisions == revisions {
                if let Some(acl) = memo.acls.get(memo_key) {
                    return Arc::clone(acl);
                }
            }
        }
        let policies: Vec<AclPolicy> = policy_names
            .iter()
            .filter_map(|name| self.policy(&keys.acl_policy(name)))
            .collect();
        let acl = Arc::new(Acl::from_rules(policies.iter().map(|p| &p.parsed)));
        let mut memo = self.memo.write().unwrap_or_else(PoisonError::into_inner);
        if memo.revisions != revisions || memo.acls.len() >= MEMO_LIMIT {
            memo.acls.clear();
            memo.revisions = revisions;
        }
        memo.acls.insert(memo_key.to_string(), Arc::clone(&acl));
        acl
    }

    /// The caller a request's secret (or its absence) stands for.
    pub async fn resolve(
        &self,
        keys: &drover_store::keys::Keys,
        secret: Option<&str>,
    ) -> ApiResult<Caller> {
        self.ready().await;
        let Some(secret) = secret else {
            let acl = self.compiled(keys, "", &[ANONYMOUS_POLICY.to_string()]);
            return Ok(Caller { token: None, acl });
        };
        let hash = secret_hash(secret);
        let token = self
            .token(keys, &hash)
            .ok_or_else(|| ApiError::new(StatusCode::FORBIDDEN, "ACL token not found"))?;
        if token.expired(Utc::now()) {
            return Err(ApiError::new(StatusCode::FORBIDDEN, "ACL token expired"));
        }
        let acl = match token.token_type {
            TokenType::Management => Arc::new(Acl::management()),
            TokenType::Client => self.compiled(keys, &hash, &token.policies),
        };
        Ok(Caller {
            token: Some(token),
            acl,
        })
    }

    pub fn policies(&self) -> Vec<AclPolicy> {
        self.policies.list().into_iter().map(|v| v.value).collect()
    }

    pub fn tokens(&self) -> Vec<AclToken> {
        self.tokens.list().into_iter().map(|v| v.value).collect()
    }
}

/// Who is asking and what they may do; every `/v1` handler can take it.
#[derive(Debug, Clone)]
pub struct Caller {
    /// `None` for anonymous requests (and for everyone when ACLs are off).
    pub token: Option<AclToken>,
    pub acl: Arc<Acl>,
}

impl Caller {
    /// Everyone, when ACLs are off.
    pub fn unrestricted() -> Caller {
        Caller {
            token: None,
            acl: Arc::new(Acl::management()),
        }
    }

    pub fn may(&self, namespace: &str, capability: Capability) -> bool {
        self.acl.allows(namespace, capability)
    }

    /// A 403 naming what was missing unless the caller may.
    pub fn require(&self, namespace: &str, capability: Capability) -> ApiResult<()> {
        if self.may(namespace, capability) {
            return Ok(());
        }
        Err(denied(format!(
            "{} lacks {} on namespace {namespace:?}",
            self.who(),
            capability.name()
        )))
    }

    /// How a denial names the caller.
    pub fn who(&self) -> String {
        match &self.token {
            Some(t) if !t.name.is_empty() => format!("token {:?}", t.name),
            Some(t) => format!("token {}", t.accessor_id),
            None => "an anonymous request (no token)".to_string(),
        }
    }
}

/// A 403 that says what was missing.
pub fn denied(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, message)
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Caller, ApiError> {
        parts.extensions.get::<Caller>().cloned().ok_or_else(|| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the request was not authenticated",
            )
        })
    }
}

/// The token a request carries: `X-Drover-Token`, `Authorization:
/// Bearer`, `X-Nomad-Token`, `X-Consul-Token`, or `?token=` (Consul's
/// clients), first found first.
pub fn token_of(headers: &HeaderMap, query: Option<&str>) -> Option<String> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    let bearer = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty());
    let from_query = query.and_then(|q| {
        q.split('&').find_map(|pair| {
            let value = pair.strip_prefix("token=")?;
            (!value.is_empty()).then(|| value.to_string())
        })
    });
    header("x-drover-token")
        .or(bearer)
        .or_else(|| header("x-nomad-token"))
        .or_else(|| header("x-consul-token"))
        .or(from_query)
}

/// The secret `req` carries, read only when ACLs are on.
fn secret_of(state: &ApiState, req: &Request) -> Option<String> {
    state
        .acl
        .as_ref()
        .and_then(|_| token_of(req.headers(), req.uri().query()))
}

/// Who a request carrying `secret` ([`token_of`]) comes from: everyone
/// may do anything with ACLs off; else the token resolved, or the 403 of
/// an unknown or expired one.
pub(crate) async fn caller_of(state: &ApiState, secret: Option<String>) -> ApiResult<Caller> {
    let Some(acl) = &state.acl else {
        return Ok(Caller::unrestricted());
    };
    if secret.as_ref().is_some_and(|s| s.len() > MAX_SECRET_LEN) {
        return Err(denied("ACL token not found"));
    }
    acl.resolve(state.store.keys(), secret.as_deref()).await
}

/// The layer over every `/v1` route: resolves the caller (or refuses an
/// unknown or expired token) and hands it on.
pub async fn authenticate(State(state): State<ApiState>, mut req: Request, next: Next) -> Response {
    let secret = secret_of(&state, &req);
    let caller = match caller_of(&state, secret).await {
        Ok(caller) => caller,
        Err(e) => return e.into_response(),
    };
    req.extensions_mut().insert(caller.clone());
    let mut response = next.run(req).await;
    // For the audit log, which writes who it was once the answer is known.
    response.extensions_mut().insert(caller);
    response
}

/// The layer over `/metrics` when it is not public: operator read.
pub async fn operator_read(State(state): State<ApiState>, req: Request, next: Next) -> Response {
    let secret = secret_of(&state, &req);
    match caller_of(&state, secret).await {
        Ok(caller) if caller.acl.operator(drover_api_types::acl::Level::Read) => {
            next.run(req).await
        }
        Ok(caller) => denied(format!("{} lacks operator read", caller.who())).into_response(),
        Err(e) => e.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_comes_from_any_of_the_usual_places() {
        let mut h = HeaderMap::new();
        assert_eq!(token_of(&h, None), None);
        assert_eq!(token_of(&h, Some("a=1&token=q")), Some("q".into()));
        h.insert("x-consul-token", "c".parse().expect("header"));
        assert_eq!(token_of(&h, Some("token=q")), Some("c".into()));
        h.insert("x-nomad-token", "n".parse().expect("header"));
        assert_eq!(token_of(&h, None), Some("n".into()));
        h.insert("authorization", "Bearer b".parse().expect("header"));
        assert_eq!(token_of(&h, None), Some("b".into()));
        h.insert("x-drover-token", "d".parse().expect("header"));
        assert_eq!(token_of(&h, None), Some("d".into()));
    }

    #[test]
    fn secrets_are_stored_as_their_sha256() {
        assert_eq!(
            secret_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
