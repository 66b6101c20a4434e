//! Operators' levers on a deployment: `POST /v1/deployment/{id}/promote`,
//! `/fail`, `/pause` and `/allocation-health`.
//!
//! Each writes only `deployments-admin/<ns>/<id>` (the deployments
//! controller owns `deployments/` and acts on the intent), read-modify-
//! written under a revision guard and retried when it loses a race. What
//! cannot happen is refused before anything is written — a finished
//! deployment, nothing to promote, unhealthy canaries, pausing a paused
//! one — as [`decide`] spells out.

use drover_api_types::acl::Capability;
use std::collections::{BTreeMap, BTreeSet};

use axum::extract::{Path, State};
use axum::Json;
use chrono::Utc;
use drover_api_types::deployment::{DeploymentAdmin, DeploymentState};
use drover_api_types::Allocation;
use drover_store::{Guard, Store, StoreError, Versioned};

use super::acl::Caller;
use super::deployments::{find, DeploymentView};
use super::error::{ApiError, ApiResult};
use super::extract::{ApiJson, ApiQuery};
use super::openapi as schema;
use super::route::{Need, Route, Routes};
use super::ApiState;
pub use drover_api::deployment_actions::{
    AllocHealthRequest, DeploymentUpdateResponse, PauseRequest, PromoteRequest,
};

#[cfg(test)]
mod tests;

/// How often a guarded write is retried after losing a race.
const WRITE_ATTEMPTS: usize = 5;

pub(crate) fn routes() -> Routes {
    Routes::new("deployments")
        .add(
            Route::post(
                "/v1/deployment/{id}/promote",
                "Promote the canaries of some groups (none named: all)",
            )
            .in_namespace()
            .body("{groups?}", schema::one::<PromoteRequest>)
            .answers(schema::one::<DeploymentUpdateResponse>)
            .needs(Need::Namespace(Capability::SubmitJob))
            .across_namespaces(),
            promote,
        )
        .add(
            Route::post(
                "/v1/deployment/{id}/fail",
                "Fail a deployment (auto-revert applies)",
            )
            .in_namespace()
            .body("{}", schema::empty)
            .answers(schema::one::<DeploymentUpdateResponse>)
            .needs(Need::Namespace(Capability::SubmitJob))
            .across_namespaces(),
            fail,
        )
        .add(
            Route::post(
                "/v1/deployment/{id}/pause",
                "Pause (pause: true) or resume (pause: false) a deployment",
            )
            .in_namespace()
            .body("{pause}", schema::one::<PauseRequest>)
            .answers(schema::one::<DeploymentUpdateResponse>)
            .needs(Need::Namespace(Capability::SubmitJob))
            .across_namespaces(),
            pause,
        )
        .add(
            Route::post(
                "/v1/deployment/{id}/allocation-health",
                "Mark allocations of health_check = manual groups healthy or unhealthy",
            )
            .in_namespace()
            .body("{healthy?, unhealthy?}", schema::one::<AllocHealthRequest>)
            .answers(schema::one::<DeploymentUpdateResponse>)
            .needs(Need::Namespace(Capability::SubmitJob))
            .across_namespaces(),
            alloc_health,
        )
}

/// One lever, with what [`decide`] needs to judge it.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Promote {
        groups: Vec<String>,
    },
    Fail,
    Pause(bool),
    /// Resolved allocation id → healthy.
    Health(BTreeMap<String, bool>),
}

/// What the levers know of the deployment's allocations: per canary id,
/// whether it is healthy (agent verdict or manual mark).
pub type CanaryHealth = BTreeMap<String, bool>;

/// The admin record after `action` (pure), or why it cannot be done.
pub fn decide(
    d: &DeploymentView,
    admin: &DeploymentAdmin,
    action: &Action,
    canaries: &CanaryHealth,
) -> ApiResult<DeploymentAdmin> {
    let id = d.id();
    let state = d.state();
    if state.is_terminal() {
        return Err(ApiError::conflict(format!(
            "deployment {id} is {}: it can no longer be changed",
            state.as_str()
        ))
        .at("id"));
    }
    let mut out = admin.clone();
    match action {
        Action::Promote { groups } => out.promote = promoted(d, admin, groups, canaries)?,
        Action::Fail if admin.fail => {
            return Err(ApiError::conflict(format!(
                "deployment {id} is already being failed"
            )))
        }
        Action::Fail => out.fail = true,
        Action::Pause(pause) => {
            let paused = admin.paused || state == DeploymentState::Paused;
            if *pause == paused {
                let word = if paused {
                    "already paused"
                } else {
                    "not paused"
                };
                return Err(ApiError::conflict(format!("deployment {id} is {word}")).at("pause"));
            }
            out.paused = *pause;
        }
        Action::Health(marks) => {
            out.alloc_health
                .extend(marks.iter().map(|(k, v)| (k.clone(), *v)));
        }
    }
    out.updated_at = Some(Utc::now());
    Ok(out)
}

/// The `promote` list after promoting `groups` (all when empty): only
/// groups with canaries, all of them placed and healthy, not yet promoted.
fn promoted(
    d: &DeploymentView,
    admin: &DeploymentAdmin,
    groups: &[String],
    canaries: &CanaryHealth,
) -> ApiResult<Vec<String>> {
    let id = d.id();
    let with_canaries: BTreeSet<&String> = d
        .spec
        .groups
        .iter()
        .filter(|(_, g)| g.desired_canaries > 0)
        .map(|(name, _)| name)
        .collect();
    check_groups(d, groups, &with_canaries)?;
    let targets: Vec<&String> = match groups {
        [] => with_canaries.iter().copied().collect(),
        _ => groups.iter().collect(),
    };
    if targets.is_empty() {
        return Err(ApiError::bad_request(format!(
            "deployment {id} has no canaries to promote"
        )));
    }
    let pending: Vec<&String> = targets
        .iter()
        .copied()
        .filter(|g| {
            let done = d.status.groups.get(*g).is_some_and(|s| s.promoted);
            !done && !admin.promotes(g)
        })
        .collect();
    if pending.is_empty() {
        return Err(ApiError::conflict(format!(
            "deployment {id} is already promoted"
        )));
    }
    for g in &pending {
        unhealthy_canaries(d, g, canaries)?;
    }
    let mut out = admin.promote.clone();
    if groups.is_empty() {
        out = vec!["*".to_string()];
    } else {
        out.extend(pending.into_iter().cloned());
        out.sort();
        out.dedup();
    }
    Ok(out)
}

/// Refuses named groups the deployment lacks or that have no canaries.
fn check_groups(
    d: &DeploymentView,
    groups: &[String],
    with_canaries: &BTreeSet<&String>,
) -> ApiResult<()> {
    let id = d.id();
    for g in groups {
        if !d.spec.groups.contains_key(g) {
            let known: Vec<&String> = d.spec.groups.keys().collect();
            return Err(ApiError::bad_request(format!(
                "deployment {id} has no group {g:?}; its groups are {known:?}"
            ))
            .at("groups"));
        }
        if !with_canaries.contains(g) {
            return Err(ApiError::bad_request(format!(
                "group {g:?} of deployment {id} has no canaries to promote"
            ))
            .at("groups"));
        }
    }
    Ok(())
}

/// Refuses when group `g` has fewer healthy canaries than it wants.
fn unhealthy_canaries(d: &DeploymentView, g: &str, canaries: &CanaryHealth) -> ApiResult<()> {
    let want = d.spec.groups.get(g).map_or(0, |s| s.desired_canaries);
    let placed = d
        .status
        .groups
        .get(g)
        .map(|s| s.placed_canaries.as_slice())
        .unwrap_or_default();
    let healthy = placed
        .iter()
        .filter(|a| canaries.get(*a).copied().unwrap_or(false))
        .count() as u64;
    if healthy < want {
        return Err(ApiError::conflict(format!(
            "group {g:?} of deployment {}: {healthy} of {want} canaries healthy; \
             promote once they all are (or fail the deployment)",
            d.id()
        ))
        .at("groups"));
    }
    Ok(())
}

/// Health of each placed canary: the manual mark, else the agent's verdict.
async fn canary_health(
    store: &Store,
    d: &DeploymentView,
    admin: &DeploymentAdmin,
) -> ApiResult<CanaryHealth> {
    let ns = &d.metadata.namespace;
    let mut out = CanaryHealth::new();
    for id in d.status.groups.values().flat_map(|g| &g.placed_canaries) {
        let healthy = match admin.alloc_health.get(id) {
            Some(h) => *h,
            None => {
                let status = store.alloc_status_of(ns, id).await?;
                status
                    .and_then(|s| s.value.health_for(d.id()))
                    .unwrap_or(false)
            }
        };
        out.insert(id.clone(), healthy);
    }
    Ok(out)
}

/// Reads the deployment and its admin record, applies `action`, writes
/// under the admin key's revision; on a lost race, all again.
async fn update(
    state: &ApiState,
    caller: &Caller,
    reference: &str,
    query: &std::collections::HashMap<String, String>,
    action: impl Fn(&DeploymentView) -> ApiResult<Action>,
) -> ApiResult<DeploymentUpdateResponse> {
    let store = &state.store;
    for _ in 0..WRITE_ATTEMPTS {
        let (d, _) = find(store, reference, query).await?;
        caller.require(&d.metadata.namespace, Capability::SubmitJob)?;
        let (ns, id) = (d.metadata.namespace.clone(), d.metadata.name.clone());
        let key = store.keys().deployment_admin(&ns, &id);
        let current: Option<Versioned<DeploymentAdmin>> = store.get_at(&key).await?;
        let (old, guard) = match current {
            Some(v) => (v.value, Guard::Revision(v.revision)),
            None => (DeploymentAdmin::default(), Guard::Absent),
        };
        let action = action(&d)?;
        let canaries = match action {
            Action::Promote { .. } => canary_health(store, &d, &old).await?,
            _ => CanaryHealth::new(),
        };
        let new = decide(&d, &old, &action, &canaries)?;
        let bytes = serde_json::to_vec(&new)
            .map_err(|e| ApiError::bad_request(format!("encoding the deployment intent: {e}")))?;
        match store.put_raw(&key, bytes, guard, None).await {
            Ok(index) => {
                return Ok(DeploymentUpdateResponse {
                    id,
                    namespace: ns,
                    index,
                    admin: new,
                })
            }
            Err(StoreError::Conflict { .. } | StoreError::AlreadyExists { .. }) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::conflict(format!(
        "deployment {reference} kept changing; try again"
    )))
}

type Query = ApiQuery<std::collections::HashMap<String, String>>;

async fn promote(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(query): Query,
    body: axum::body::Bytes,
) -> ApiResult<Json<DeploymentUpdateResponse>> {
    // No body promotes every group, as `{}` does.
    let request: PromoteRequest = if body.iter().all(u8::is_ascii_whitespace) {
        PromoteRequest::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::bad_request(format!("the promote request: {e}")).at("body"))?
    };
    let groups = request.groups;
    let response = update(&state, &caller, &id, &query, |_| {
        Ok(Action::Promote {
            groups: groups.clone(),
        })
    })
    .await?;
    Ok(Json(response))
}

async fn fail(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(query): Query,
) -> ApiResult<Json<DeploymentUpdateResponse>> {
    Ok(Json(
        update(&state, &caller, &id, &query, |_| Ok(Action::Fail)).await?,
    ))
}

async fn pause(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(query): Query,
    ApiJson(request): ApiJson<PauseRequest>,
) -> ApiResult<Json<DeploymentUpdateResponse>> {
    let action = |_: &DeploymentView| Ok(Action::Pause(request.pause));
    Ok(Json(update(&state, &caller, &id, &query, action).await?))
}

async fn alloc_health(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(query): Query,
    ApiJson(request): ApiJson<AllocHealthRequest>,
) -> ApiResult<Json<DeploymentUpdateResponse>> {
    if request.healthy.is_empty() && request.unhealthy.is_empty() {
        return Err(
            ApiError::bad_request("name at least one allocation as healthy or unhealthy")
                .at("healthy"),
        );
    }
    let ns_allocs = {
        let (d, _) = find(&state.store, &id, &query).await?;
        caller.require(&d.metadata.namespace, Capability::SubmitJob)?;
        let ns = d.metadata.namespace.clone();
        let prefix = state
            .store
            .keys()
            .collection_prefix(drover_store::keys::collections::ALLOCATIONS, &[&ns]);
        state.store.list_at::<Allocation>(&prefix).await?.items
    };
    let action = |d: &DeploymentView| marks(d, &ns_allocs, &request).map(Action::Health);
    Ok(Json(update(&state, &caller, &id, &query, action).await?))
}

/// Resolves the request's allocation references among the deployment's
/// allocations in groups with `health_check = "manual"` (pure).
pub fn marks(
    d: &DeploymentView,
    allocs: &[Allocation],
    request: &AllocHealthRequest,
) -> ApiResult<BTreeMap<String, bool>> {
    let mine: Vec<&Allocation> = allocs
        .iter()
        .filter(|a| a.spec.deployment_id.as_deref() == Some(d.id()))
        .collect();
    let mut out = BTreeMap::new();
    let requested = request
        .healthy
        .iter()
        .map(|r| (r, true, "healthy"))
        .chain(request.unhealthy.iter().map(|r| (r, false, "unhealthy")));
    for (reference, healthy, field) in requested {
        let found: Vec<&&Allocation> = mine
            .iter()
            .filter(|a| {
                a.metadata.uid == *reference || a.metadata.uid.starts_with(reference.as_str())
            })
            .collect();
        let alloc = match found.as_slice() {
            [one] => *one,
            [] => {
                return Err(ApiError::bad_request(format!(
                    "allocation {reference:?} is not part of deployment {}",
                    d.id()
                ))
                .at(field))
            }
            _ => {
                return Err(ApiError::bad_request(format!(
                "allocation prefix {reference:?} matches several allocations; give more of the id"
            ))
                .at(field))
            }
        };
        let group = &alloc.spec.task_group;
        let manual = d
            .spec
            .groups
            .get(group)
            .is_some_and(|g| g.health_check == "manual");
        if !manual {
            return Err(ApiError::bad_request(format!(
                "group {group:?} of deployment {} checks health itself (health_check is not \"manual\"); \
                 only manual groups take health from operators",
                d.id()
            ))
            .at(field));
        }
        if out.insert(alloc.metadata.uid.clone(), healthy) == Some(!healthy) {
            return Err(ApiError::bad_request(format!(
                "allocation {} is named both healthy and unhealthy",
                alloc.metadata.uid
            ))
            .at(field));
        }
    }
    Ok(out)
}
