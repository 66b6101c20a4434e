//! `/v1/kv/<key>`: Consul's KV API over etcd keys `kv/<key>`.
//! CreateIndex and ModifyIndex are the etcd create and mod revisions, so a
//! `cas` is an etcd transaction comparing the mod revision (or the create
//! revision with 0 for "absent"): two writers can never both win.
//! `X-Consul-Index` is the latest change under `kv/` the shared feed saw
//! (or a newer revision of what was read); a blocking read returns when
//! anything under `kv/` changes after `index` — Consul allows such early
//! wake-ups, and clients compare the value and block again.
//! Sessions, locks (`acquire`/`release`) and transactions are not supported.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use drover_api_types::acl::KeyPolicy;
use drover_store::keys::collections as c;
use drover_store::{Guard, StoreError};
use serde_json::Value;

use super::kv_core::{self, Envelope, MAX_VALUE};
use super::{reply, ConsulError, ConsulQuery, ConsulResult, CONSUL_INDEX};
use crate::api::acl::Caller;
use crate::api::route::{Need, Produces, Route, Routes};
use crate::api::ApiState;

type Pairs = Query<Vec<(String, String)>>;

const KV_READ: &[&str] = &["recurse", "raw", "keys", "separator", "index", "wait"];
const KV_WRITE: &[&str] = &["cas", "flags"];

pub(crate) fn routes() -> Routes {
    Routes::new("consul")
        // `{*key}` needs at least one character; `/v1/kv/` is the root,
        // what `recurse` and `keys` list everything from.
        .add(
            Route::get("/v1/kv/", "List the whole KV (recurse or keys)")
                .query(KV_READ)
                .needs(Need::Key),
            get_root,
        )
        .add(
            Route::put("/v1/kv/", "Refused: a key is needed")
                .query(KV_WRITE)
                .produces(Produces::Text)
                .needs(Need::Key),
            put_root,
        )
        .add(
            Route::delete("/v1/kv/", "Delete the whole KV (recurse)")
                .query(&["recurse"])
                .needs(Need::Key),
            delete_root,
        )
        .add(
            Route::get("/v1/kv/{*key}", "Read a key (raw: its bytes) or a prefix")
                .query(KV_READ)
                .needs(Need::Key),
            get_key,
        )
        .add(
            Route::put(
                "/v1/kv/{*key}",
                "Write a key (body: the value); true or false",
            )
            .query(KV_WRITE)
            .needs(Need::Key),
            put_key,
        )
        .add(
            Route::delete("/v1/kv/{*key}", "Delete a key or a prefix; true or false")
                .query(&["recurse", "cas"])
                .needs(Need::Key),
            delete_key,
        )
}

/// The flags of a KV request besides the shared read parameters.
#[derive(Debug, Default)]
struct KvParams {
    recurse: bool,
    raw: bool,
    keys: bool,
    separator: String,
    cas: Option<u64>,
    flags: u64,
    session: bool,
}

fn present(value: &str) -> bool {
    !matches!(value, "false" | "0")
}

impl KvParams {
    fn parse(pairs: &[(String, String)]) -> ConsulResult<KvParams> {
        let mut p = KvParams::default();
        let number = |name: &str, v: &str| {
            v.parse::<u64>()
                .map_err(|_| ConsulError::bad_request(format!("Invalid {name} index {v:?}")))
        };
        for (key, value) in pairs {
            match key.as_str() {
                "recurse" => p.recurse = present(value),
                "raw" => p.raw = present(value),
                "keys" => p.keys = present(value),
                "separator" => p.separator = value.clone(),
                "cas" => p.cas = Some(number("cas", value)?),
                "flags" => {
                    p.flags = value
                        .parse()
                        .map_err(|_| ConsulError::bad_request(format!("Invalid flags {value:?}")))?
                }
                "acquire" | "release" => p.session = true,
                _ => {}
            }
        }
        Ok(p)
    }
}

fn etcd_key(state: &ApiState, key: &str) -> String {
    format!("{}{key}", state.store.keys().collection(c::KV))
}

fn missing_key() -> ConsulError {
    ConsulError::bad_request("Missing key name")
}

/// The index the KV answers carry: the feed's latest change under `kv/`,
/// or a newer revision read directly, never below 1.
fn kv_index(state: &ApiState, seen: i64) -> i64 {
    state.feed.revisions().latest(&[c::KV]).max(seen).max(1)
}

/// Whether the caller's `key_prefix` rules give at least `wanted` on `key`.
fn may(caller: &Caller, key: &str, wanted: KeyPolicy) -> bool {
    let granted = caller.acl.key(key);
    granted != KeyPolicy::Deny && granted >= wanted
}

/// Consul's denial: a plain-text 403.
fn permission_denied() -> ConsulError {
    ConsulError(StatusCode::FORBIDDEN, "Permission denied".to_string())
}

async fn get_root(state: State<ApiState>, caller: Caller, pairs: Pairs) -> ConsulResult<Response> {
    read(state, caller, String::new(), pairs).await
}

async fn get_key(
    state: State<ApiState>,
    caller: Caller,
    Path(key): Path<String>,
    pairs: Pairs,
) -> ConsulResult<Response> {
    read(state, caller, key, pairs).await
}

async fn read(
    State(state): State<ApiState>,
    caller: Caller,
    key: String,
    Query(pairs): Pairs,
) -> ConsulResult<Response> {
    let q = ConsulQuery::parse(&pairs)?;
    let p = KvParams::parse(&pairs)?;
    // A listing answers only the keys the caller may see; one key is all
    // or nothing.
    let listing = p.recurse || p.keys;
    let wanted = if p.keys {
        KeyPolicy::List
    } else {
        KeyPolicy::Read
    };
    if !listing && !may(&caller, &key, wanted) {
        return Err(permission_denied());
    }
    if let Some(index) = q.index {
        state.feed.wait_past(&[c::KV], index, q.wait).await;
    }
    let root = state.store.keys().collection(c::KV);
    if listing {
        let mut list = state.store.list_raw(&etcd_key(&state, &key)).await?;
        list.items.retain(|kv| {
            let user_key = kv.key.strip_prefix(root.as_str()).unwrap_or(&kv.key);
            may(&caller, user_key, wanted)
        });
        let newest = list
            .items
            .iter()
            .map(|kv| kv.mod_revision)
            .max()
            .unwrap_or(0);
        let index = kv_index(&state, newest);
        if list.items.is_empty() {
            return Ok(not_found(index));
        }
        let user_key = |k: &str| k.strip_prefix(root.as_str()).unwrap_or(k).to_string();
        let body: Value = if p.keys {
            let keys: Vec<String> = list.items.iter().map(|kv| user_key(&kv.key)).collect();
            kv_core::fold_keys(keys.iter().map(String::as_str), &key, &p.separator).into()
        } else {
            list.items
                .iter()
                .map(|kv| {
                    let envelope = Envelope::decode(&kv.value);
                    kv_core::entry(
                        &user_key(&kv.key),
                        &envelope,
                        kv.create_revision,
                        kv.mod_revision,
                    )
                })
                .collect::<Vec<Value>>()
                .into()
        };
        return Ok(reply(index, &body));
    }
    if key.is_empty() {
        return Err(missing_key());
    }
    let Some(kv) = state.store.get_raw(&etcd_key(&state, &key)).await? else {
        return Ok(not_found(kv_index(&state, 0)));
    };
    let index = kv_index(&state, kv.mod_revision);
    let envelope = Envelope::decode(&kv.value);
    if p.raw {
        let mut response = (
            [(header::CONTENT_TYPE, "application/octet-stream")],
            envelope.bytes(),
        )
            .into_response();
        set_index(&mut response, index);
        return Ok(response);
    }
    let entry = kv_core::entry(&key, &envelope, kv.create_revision, kv.mod_revision);
    Ok(reply(index, &vec![entry]))
}

/// Consul's 404 for a missing key: no body, the index headers.
fn not_found(index: i64) -> Response {
    let mut response = reply(index, &Value::Null);
    *response.status_mut() = StatusCode::NOT_FOUND;
    *response.body_mut() = axum::body::Body::empty();
    response.headers_mut().remove(header::CONTENT_TYPE);
    response
}

fn set_index(response: &mut Response, index: i64) {
    if let Ok(v) = index.to_string().parse() {
        response.headers_mut().insert(CONSUL_INDEX, v);
    }
}

async fn put_root(caller: Caller, Query(_pairs): Pairs) -> ConsulResult<Response> {
    if !may(&caller, "", KeyPolicy::Write) {
        return Err(permission_denied());
    }
    Err(missing_key())
}

async fn put_key(
    State(state): State<ApiState>,
    caller: Caller,
    Path(key): Path<String>,
    Query(pairs): Pairs,
    body: Bytes,
) -> ConsulResult<Response> {
    if !may(&caller, &key, KeyPolicy::Write) {
        return Err(permission_denied());
    }
    let p = KvParams::parse(&pairs)?;
    if p.session {
        return Err(ConsulError::bad_request(
            "sessions (acquire/release) are not supported by drover's KV",
        ));
    }
    if body.len() > MAX_VALUE {
        return Err(ConsulError(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "Request body({} bytes) too large, max size: {MAX_VALUE} bytes",
                body.len()
            ),
        ));
    }
    let envelope = Envelope::new(&body, p.flags).encode();
    let at = etcd_key(&state, &key);
    if let Some(full) = state
        .kv_usage
        .refuse(state.kv_limits, &at, envelope.len() as u64)
    {
        return Err(ConsulError(StatusCode::PAYLOAD_TOO_LARGE, full));
    }
    let guard = kv_core::put_guard(p.cas);
    let written = match state.store.put_raw(&at, envelope, guard, None).await {
        Ok(_) => true,
        Err(StoreError::AlreadyExists { .. } | StoreError::Conflict { .. }) => false,
        Err(e) => return Err(e.into()),
    };
    Ok(axum::Json(written).into_response())
}

async fn delete_root(
    state: State<ApiState>,
    caller: Caller,
    pairs: Pairs,
) -> ConsulResult<Response> {
    delete(state, caller, String::new(), pairs).await
}

async fn delete_key(
    state: State<ApiState>,
    caller: Caller,
    Path(key): Path<String>,
    pairs: Pairs,
) -> ConsulResult<Response> {
    delete(state, caller, key, pairs).await
}

async fn delete(
    State(state): State<ApiState>,
    caller: Caller,
    key: String,
    Query(pairs): Pairs,
) -> ConsulResult<Response> {
    let p = KvParams::parse(&pairs)?;
    // A recursive delete needs write on every key under the prefix.
    let allowed = if p.recurse {
        caller.acl.key_prefix(&key, KeyPolicy::Write)
    } else {
        may(&caller, &key, KeyPolicy::Write)
    };
    if !allowed {
        return Err(permission_denied());
    }
    let etcd = etcd_key(&state, &key);
    if p.recurse {
        if p.cas.is_some() {
            return Err(ConsulError::bad_request(
                "Conflicting flags: cas and recurse",
            ));
        }
        state.store.delete_prefix(&etcd).await?;
        return Ok(axum::Json(true).into_response());
    }
    if key.is_empty() {
        return Err(missing_key());
    }
    let deleted = match p.cas {
        None => {
            state.store.delete_raw(&etcd, Guard::None).await?;
            true
        }
        Some(cas) => match state
            .store
            .delete_raw(&etcd, kv_core::put_guard(Some(cas)))
            .await
        {
            Ok(_) => true,
            Err(StoreError::AlreadyExists { .. }) => kv_core::delete_cas_answer(false, true),
            Err(StoreError::Conflict { actual, .. }) => {
                kv_core::delete_cas_answer(false, actual.is_some())
            }
            Err(e) => return Err(e.into()),
        },
    };
    Ok(axum::Json(deleted).into_response())
}
