//! Namespaces: `GET /v1/namespaces`, `GET|POST|DELETE /v1/namespace/{name}`.
//! A namespace is an object (`namespaces/<name>`); `default` always
//! exists. A new job may be registered only into one that exists
//! ([`new_job_guard`]); deleting one is refused while jobs live in it. A
//! namespace may carry a quota, which placement enforces; reading one
//! namespace shows what its live allocations use against it.

use std::collections::{BTreeMap, HashMap, HashSet};

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::Utc;
use drover_api_types::acl::Capability;
use drover_api_types::alloc::{AllocationStatus, Binding};
use drover_api_types::namespace::{invalid_name, Namespace, Quota, QuotaUse};
use drover_controllers::placement::quota_share;
use drover_store::keys::collections as c;
use drover_store::{Guard, Store, StoreError, Versioned};

use super::acl::Caller;
use super::error::{ApiError, ApiResult};
use super::extract::ApiJson;
use super::openapi as schema;
use super::query::{Indexed, ReadOptions, DEFAULT_NAMESPACE};
use super::route::{Need, Route, Routes};
use super::ApiState;
pub use drover_api::namespaces::{NamespaceRequest, NamespaceView};

pub(crate) fn routes() -> Routes {
    Routes::new("namespaces")
        .add(
            Route::get(
                "/v1/namespaces",
                "The namespaces (those the token may list jobs in)",
            )
            .blocking()
            .answers(schema::list::<NamespaceView>)
            .needs(Need::Token),
            list,
        )
        .add(
            Route::get("/v1/namespace/{name}", "Read a namespace")
                .answers(schema::one::<NamespaceView>)
                .needs(Need::NamespaceInPath(Capability::ListJobs)),
            read,
        )
        .add(
            Route::post("/v1/namespace/{name}", "Create or update a namespace")
                .body("{description?, quota?}", schema::one::<NamespaceRequest>)
                .answers(schema::one::<NamespaceView>),
            apply,
        )
        .add(
            Route::delete(
                "/v1/namespace/{name}",
                "Delete a namespace (refused while jobs live in it)",
            )
            .answers(schema::one::<NamespaceView>),
            delete,
        )
}

/// Every namespace, declared or named by jobs, with its job count
/// (pure); `default` is always listed; sorted by name.
pub fn namespaces<'a>(
    declared: &[Namespace],
    job_namespaces: impl IntoIterator<Item = &'a str>,
) -> Vec<NamespaceView> {
    let mut views: BTreeMap<String, NamespaceView> = BTreeMap::new();
    let view = |name: &str, exists: bool| NamespaceView {
        name: name.to_string(),
        jobs: 0,
        description: String::new(),
        exists,
        quota: None,
        used: None,
    };
    views.insert(DEFAULT_NAMESPACE.into(), view(DEFAULT_NAMESPACE, true));
    for ns in declared {
        let mut v = view(&ns.name, true);
        v.description = ns.description.clone();
        v.quota = ns.quota;
        views.insert(ns.name.clone(), v);
    }
    for ns in job_namespaces {
        views
            .entry(ns.to_string())
            .or_insert_with(|| view(ns, false))
            .jobs += 1;
    }
    views.into_values().collect()
}

async fn declared(store: &Store) -> ApiResult<(Vec<Namespace>, i64)> {
    let list = store
        .list_at::<Versioned<Namespace>>(&store.keys().collection(c::NAMESPACES))
        .await?;
    Ok((
        list.items.into_iter().map(|v| v.value).collect(),
        list.revision,
    ))
}

/// The namespace of every job.
async fn job_namespaces(store: &Store) -> ApiResult<(Vec<String>, i64)> {
    let keys = store.keys();
    let jobs = store.list_keys(&keys.collection(c::JOBS)).await?;
    let names = jobs
        .items
        .iter()
        .filter_map(|kv| keys.parse(&kv.key))
        .filter_map(|p| match p.segments.as_slice() {
            [ns, _] => Some(ns.to_string()),
            _ => None,
        })
        .collect();
    Ok((names, jobs.revision))
}

async fn views(store: &Store) -> ApiResult<(Vec<NamespaceView>, i64)> {
    let (declared, r1) = declared(store).await?;
    let (in_use, r2) = job_namespaces(store).await?;
    Ok((
        namespaces(&declared, in_use.iter().map(String::as_str)),
        r1.max(r2),
    ))
}

async fn list(
    State(state): State<ApiState>,
    caller: Caller,
    Query(query): Query<HashMap<String, String>>,
) -> ApiResult<Indexed<Vec<NamespaceView>>> {
    let options = ReadOptions::parse(&query)?;
    options.block(&state.feed, &[c::JOBS, c::NAMESPACES]).await;
    let (mut listed, revision) = views(&state.store).await?;
    listed.retain(|n| caller.may(&n.name, Capability::ListJobs));
    Ok(Indexed(revision, listed))
}

/// What to say of a namespace that does not exist.
fn missing(name: &str) -> String {
    format!("namespace {name:?} does not exist; create it with: drover namespace apply {name}")
}

fn not_found(name: &str) -> ApiError {
    ApiError::not_found(missing(name)).at("name")
}

/// One namespace: its object (if any), how many jobs it holds and what
/// its live allocations reserve.
async fn view_of(store: &Store, name: &str) -> ApiResult<Option<NamespaceView>> {
    let keys = store.keys();
    let declared: Option<Versioned<Namespace>> = store.get_at(&keys.namespace(name)).await?;
    let jobs = store
        .list_keys(&keys.collection_prefix(c::JOBS, &[name]))
        .await?
        .items
        .len();
    let exists = declared.is_some() || name == DEFAULT_NAMESPACE;
    if !exists && jobs == 0 {
        return Ok(None);
    }
    let declared = declared.map(|d| d.value);
    Ok(Some(NamespaceView {
        name: name.to_string(),
        jobs,
        description: declared
            .as_ref()
            .map(|d| d.description.clone())
            .unwrap_or_default(),
        exists,
        quota: declared.and_then(|d| d.quota),
        used: Some(used_by(store, name).await?),
    }))
}

/// What the live (not terminal) allocations of namespace `ns` reserve.
async fn used_by(store: &Store, ns: &str) -> ApiResult<QuotaUse> {
    let keys = store.keys();
    // Statuses sit under their node: read them all, keep this namespace's.
    let statuses = store
        .list_raw(&keys.collection(c::ALLOCATIONS_STATUS))
        .await?;
    let terminal: HashSet<String> = statuses
        .items
        .iter()
        .filter(|kv| {
            kv.decode::<Versioned<AllocationStatus>>()
                .is_ok_and(|s| s.value.client_status.is_terminal())
        })
        .filter_map(|kv| keys.parse_alloc_status(&kv.key))
        .filter(|status| status.namespace == ns)
        .map(|status| status.id.into_owned())
        .collect();
    let bindings = store
        .list_raw(&keys.collection_prefix(c::ALLOCATIONS_BINDING, &[ns]))
        .await?;
    let mut used = QuotaUse::default();
    for kv in &bindings.items {
        let id = kv.key.rsplit('/').next().unwrap_or_default();
        if terminal.contains(id) {
            continue;
        }
        if let Ok(binding) = kv.decode::<Versioned<Binding>>() {
            used.add(quota_share(&binding.value));
        }
    }
    Ok(used)
}

async fn read(
    State(state): State<ApiState>,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult<Json<NamespaceView>> {
    caller.require(&name, Capability::ListJobs)?;
    view_of(&state.store, &name)
        .await?
        .map(Json)
        .ok_or_else(|| not_found(&name))
}

async fn apply(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    ApiJson(request): ApiJson<NamespaceRequest>,
) -> ApiResult<Json<NamespaceView>> {
    if let Some(problem) = invalid_name(&name) {
        return Err(ApiError::bad_request(problem).at("name"));
    }
    if request.description.as_ref().is_some_and(|d| d.len() > 1024) {
        return Err(ApiError::bad_request("a description is at most 1024 bytes").at("description"));
    }
    if let Some(problem) = request.quota.as_ref().and_then(Quota::invalid) {
        return Err(ApiError::bad_request(problem).at("quota"));
    }
    let store = &state.store;
    let key = store.keys().namespace(&name);
    let existing: Option<Versioned<Namespace>> = store.get_at(&key).await?;
    if existing.as_ref().is_some_and(|e| e.value.deleting) {
        return Err(ApiError::conflict(format!(
            "namespace {name:?} is being deleted"
        )));
    }
    let now = Utc::now();
    let before = existing
        .as_ref()
        .map(|e| e.value.clone())
        .unwrap_or_default();
    let namespace = Namespace {
        name: name.clone(),
        description: request.description.unwrap_or(before.description),
        quota: match request.quota {
            Some(quota) if quota.is_empty() => None,
            Some(quota) => Some(quota),
            None => before.quota,
        },
        deleting: false,
        create_time: before.create_time.or(Some(now)),
        modify_time: Some(now),
    };
    let guard = existing
        .as_ref()
        .map_or(Guard::Absent, |e| Guard::Revision(e.revision));
    let bytes = serde_json::to_vec(&namespace)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    match store.put_raw(&key, bytes, guard, None).await {
        Ok(_) => {}
        Err(StoreError::Conflict { .. } | StoreError::AlreadyExists { .. }) => {
            return Err(ApiError::conflict(format!(
                "namespace {name:?} changed meanwhile; apply again"
            )))
        }
        Err(e) => return Err(e.into()),
    }
    view_of(store, &name)
        .await?
        .map(Json)
        .ok_or_else(|| not_found(&name))
}

async fn delete(
    State(state): State<ApiState>,
    Path(name): Path<String>,
) -> ApiResult<Json<NamespaceView>> {
    if name == DEFAULT_NAMESPACE {
        return Err(ApiError::bad_request("the default namespace cannot be deleted").at("name"));
    }
    let store = &state.store;
    let key = store.keys().namespace(&name);
    let Some(existing) = store.get_at::<Versioned<Namespace>>(&key).await? else {
        return Err(not_found(&name));
    };
    // Marked first: a registration that read it before is refused by its
    // guard; one that landed before is seen by the listing below.
    let mut marked = existing.value.clone();
    marked.deleting = true;
    let bytes = serde_json::to_vec(&marked)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let revision = store
        .put_raw(&key, bytes, Guard::Revision(existing.revision), None)
        .await
        .map_err(|e| match e {
            StoreError::Conflict { .. } => {
                ApiError::conflict(format!("namespace {name:?} changed meanwhile; try again"))
            }
            other => other.into(),
        })?;
    let jobs = store
        .list_keys(&store.keys().collection_prefix(c::JOBS, &[&name]))
        .await?;
    if !jobs.items.is_empty() {
        // Unmark; a failure here leaves it marked, which `apply` clears.
        let bytes = serde_json::to_vec(&existing.value)
            .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
        let _ = store
            .put_raw(&key, bytes, Guard::Revision(revision), None)
            .await;
        return Err(ApiError::conflict(format!(
            "namespace {name:?} still holds {} job(s); stop and purge them first",
            jobs.items.len()
        )));
    }
    store.delete_raw(&key, Guard::Revision(revision)).await?;
    Ok(Json(NamespaceView {
        name,
        jobs: 0,
        description: existing.value.description,
        exists: false,
        quota: existing.value.quota,
        used: None,
    }))
}

/// Where a new job may go: `default`, or a namespace that exists and is
/// not being deleted. The guard (its key and revision) goes into the
/// registration's transaction.
pub async fn new_job_guard(store: &Store, ns: &str) -> ApiResult<Option<(String, i64)>> {
    if ns == DEFAULT_NAMESPACE {
        return Ok(None);
    }
    let key = store.keys().namespace(ns);
    match store.get_at::<Versioned<Namespace>>(&key).await? {
        None => Err(ApiError::bad_request(missing(ns)).at("namespace")),
        Some(v) if v.value.deleting => {
            Err(ApiError::conflict(format!("namespace {ns:?} is being deleted")).at("namespace"))
        }
        Some(v) => Ok(Some((key, v.revision))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_always_listed_and_jobs_are_counted() {
        let web = Namespace {
            name: "web".into(),
            description: "the web team".into(),
            ..Default::default()
        };
        let v = namespaces(&[web], ["prod", "dev", "prod"]);
        let names: Vec<(&str, usize, bool)> = v
            .iter()
            .map(|n| (n.name.as_str(), n.jobs, n.exists))
            .collect();
        assert_eq!(
            names,
            [
                ("default", 0, true),
                ("dev", 1, false),
                ("prod", 2, false),
                ("web", 0, true)
            ]
        );
        assert_eq!(namespaces(&[], []).len(), 1);
    }
}
