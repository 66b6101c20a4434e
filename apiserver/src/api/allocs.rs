//! `/v1/allocations`, `/v1/allocation/{id}` and `/v1/allocation/{id}/stop`.
//!
//! An allocation is read from its three keys (spec, binding, status) and
//! answered as one [`AllocationView`]. `{id}` is a full id, a unique id
//! prefix or a name, resolved over every namespace unless the query names
//! one: ids are unique cluster-wide and users paste them from any listing.
//!
//! Stopping goes through the owners: the API sets `spec.migrate` (guarded
//! by the spec's revision), as the drainer does; the job controller then
//! places a replacement and gives this one desired status stop — Nomad's
//! `alloc stop`.

use drover_api_types::acl::Capability;
use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::Json;
use drover_api_types::alloc::{AllocationStatus, Binding, DesiredStatus};
use drover_api_types::resolve::{resolve, Candidate};
use drover_api_types::Allocation;
use drover_store::keys::collections as c;
use drover_store::{Store, StoreError};
use serde::de::DeserializeOwned;

use super::acl::Caller;
use super::error::{resolved, ApiError, ApiResult};
use super::openapi as schema;
use super::query::{Indexed, ReadOptions};
use super::route::{Need, Route, Routes};
use super::views::AllocationView;
use super::ApiState;
pub use drover_api::allocs::StopResponse;

/// The collections an allocation read depends on.
pub const COLLECTIONS: &[&str] = &[
    c::ALLOCATIONS,
    c::ALLOCATIONS_BINDING,
    c::ALLOCATIONS_STATUS,
];

/// How often a guarded write is retried after losing a race.
const WRITE_ATTEMPTS: usize = 5;

pub(crate) fn routes() -> Routes {
    Routes::new("allocations")
        .add(
            Route::get("/v1/allocations", "List allocations (namespace=* for all)")
                .blocking()
                .query(&["job", "node"])
                .answers(schema::list::<AllocationView>)
                .needs(Need::Namespace(Capability::ReadJob))
                .across_namespaces(),
            list,
        )
        .add(
            Route::get(
                "/v1/allocation/{id}",
                "Read an allocation by id, unique id prefix or name",
            )
            .blocking()
            .answers(schema::one::<AllocationView>)
            .needs(Need::Namespace(Capability::ReadJob))
            .across_namespaces(),
            read,
        )
        .add(
            Route::post(
                "/v1/allocation/{id}/stop",
                "Stop an allocation; its job replaces it",
            )
            .in_namespace()
            .answers(schema::one::<StopResponse>)
            .needs(Need::Namespace(Capability::AllocLifecycle))
            .across_namespaces(),
            stop,
        )
}

/// One allocation's stored pieces.
#[derive(Debug, Clone)]
pub struct Joined {
    pub alloc: Allocation,
    pub binding: Option<Binding>,
    pub status: Option<AllocationStatus>,
}

impl Joined {
    pub fn view(&self) -> AllocationView {
        AllocationView::build(&self.alloc, self.binding.as_ref(), self.status.as_ref())
    }
}

/// `(namespace, id)` → value, for one split collection, and its revision.
async fn by_id<T: DeserializeOwned>(
    store: &Store,
    collection: &str,
    ns: Option<&str>,
) -> ApiResult<(HashMap<(String, String), T>, i64)> {
    let keys = store.keys();
    // Statuses sit under their node (`<node>/<ns>/<id>`), so one
    // namespace's are found by reading them all.
    let by_node = collection == c::ALLOCATIONS_STATUS;
    let prefix = match ns {
        Some(ns) if !by_node => keys.collection_prefix(collection, &[ns]),
        _ => keys.collection(collection),
    };
    let list = store.list_raw(&prefix).await?;
    let mut out = HashMap::new();
    for kv in &list.items {
        let named = match by_node {
            true => keys
                .parse_alloc_status(&kv.key)
                .map(|status| (status.namespace, status.id)),
            false => keys
                .parse(&kv.key)
                .and_then(|p| <[_; 2]>::try_from(p.segments).ok())
                .map(|[ns, id]| (ns, id)),
        };
        let Some((key_ns, id)) = named else {
            continue;
        };
        if ns.is_some_and(|ns| ns != key_ns.as_ref()) {
            continue;
        }
        let ns = key_ns;
        match serde_json::from_slice::<T>(&kv.value) {
            Ok(v) => {
                out.insert((ns.to_string(), id.to_string()), v);
            }
            // One bad value must not hide every other allocation.
            Err(e) => tracing::warn!(key = %kv.key, error = %e, "skipping an undecodable value"),
        }
    }
    Ok((out, list.revision))
}

/// Every allocation of `ns` (all when `None`), joined, sorted by
/// namespace, job and name; and the revision they were read at.
pub async fn load(store: &Store, ns: Option<&str>) -> ApiResult<(Vec<Joined>, i64)> {
    let prefix = match ns {
        Some(ns) => store.keys().collection_prefix(c::ALLOCATIONS, &[ns]),
        None => store.keys().collection(c::ALLOCATIONS),
    };
    let specs = store.list_at::<Allocation>(&prefix).await?;
    let (mut bindings, rb) = by_id::<Binding>(store, c::ALLOCATIONS_BINDING, ns).await?;
    let (mut statuses, rs) = by_id::<AllocationStatus>(store, c::ALLOCATIONS_STATUS, ns).await?;
    let mut out: Vec<Joined> = specs
        .items
        .into_iter()
        .map(|alloc| {
            let key = (alloc.metadata.namespace.clone(), alloc.metadata.uid.clone());
            Joined {
                binding: bindings.remove(&key),
                status: statuses.remove(&key),
                alloc,
            }
        })
        .collect();
    out.sort_by(|a, b| {
        let key = |j: &Joined| {
            (
                j.alloc.metadata.namespace.clone(),
                j.alloc.spec.job_id.clone(),
                j.alloc.metadata.name.clone(),
                j.alloc.metadata.creation_timestamp,
            )
        };
        key(a).cmp(&key(b))
    });
    Ok((out, specs.revision.max(rb).max(rs)))
}

/// The list filters (pure): `job=` and `node=` (node id or name).
pub fn matches(view: &AllocationView, job: Option<&str>, node: Option<&str>) -> bool {
    job.is_none_or(|j| view.job == j)
        && node.is_none_or(|n| {
            view.node_id.as_deref() == Some(n) || view.node_name.as_deref() == Some(n)
        })
}

async fn list(
    State(state): State<ApiState>,
    caller: Caller,
    Query(query): Query<HashMap<String, String>>,
) -> ApiResult<Indexed<Vec<AllocationView>>> {
    let options = ReadOptions::parse(&query)?;
    options.block(&state.feed, COLLECTIONS).await;
    let (joined, revision) = load(&state.store, options.namespace.as_deref()).await?;
    let (job, node) = (query.get("job"), query.get("node"));
    let views = joined
        .iter()
        .filter(|j| caller.may(&j.alloc.metadata.namespace, Capability::ReadJob))
        .map(Joined::view)
        .filter(|v| matches(v, job.map(String::as_str), node.map(String::as_str)))
        .collect();
    Ok(Indexed(revision, views))
}

/// The namespace an `{id}` lookup is limited to: only one the query names.
fn lookup_namespace(query: &HashMap<String, String>) -> Option<&str> {
    query
        .get("namespace")
        .map(String::as_str)
        .filter(|ns| !ns.is_empty() && *ns != "*")
}

/// The allocation `reference` means, among `joined` (pure).
pub fn pick(reference: &str, mut joined: Vec<Joined>) -> ApiResult<Joined> {
    let candidates: Vec<Candidate> = joined
        .iter()
        .map(|j| Candidate {
            id: j.alloc.metadata.uid.clone(),
            name: j.alloc.metadata.name.clone(),
            live: j.alloc.spec.desired_status == DesiredStatus::Run,
        })
        .collect();
    let i = resolved(resolve("allocation", reference, &candidates), "id")?;
    Ok(joined.swap_remove(i))
}

/// Resolves `{id}`; the revision is the one the allocations were read at.
pub async fn find(
    store: &Store,
    reference: &str,
    query: &HashMap<String, String>,
) -> ApiResult<(Joined, i64)> {
    let (joined, revision) = load(store, lookup_namespace(query)).await?;
    Ok((pick(reference, joined)?, revision))
}

async fn read(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> ApiResult<Indexed<AllocationView>> {
    let options = ReadOptions::parse(&query)?;
    options.block(&state.feed, COLLECTIONS).await;
    let (joined, revision) = find(&state.store, &id, &query).await?;
    caller.require(&joined.alloc.metadata.namespace, Capability::ReadJob)?;
    Ok(Indexed(revision, joined.view()))
}

/// What stopping does to a spec (pure): `None` when already marked.
pub fn mark_stop(alloc: &Allocation, terminal: bool) -> ApiResult<Option<Allocation>> {
    let id = &alloc.metadata.uid;
    if alloc.spec.desired_status != DesiredStatus::Run || terminal {
        return Err(ApiError::conflict(format!(
            "allocation {id} is already stopped or finished; nothing to stop"
        ))
        .at("id"));
    }
    if alloc.spec.migrate {
        return Ok(None);
    }
    let mut out = alloc.clone();
    out.spec.migrate = true;
    Ok(Some(out))
}

async fn stop(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> ApiResult<Json<StopResponse>> {
    let (joined, _) = find(&state.store, &id, &query).await?;
    caller.require(&joined.alloc.metadata.namespace, Capability::AllocLifecycle)?;
    let terminal = joined
        .status
        .as_ref()
        .is_some_and(|s| s.client_status.is_terminal());
    let (ns, id) = (
        joined.alloc.metadata.namespace.clone(),
        joined.alloc.metadata.uid.clone(),
    );
    let store = &state.store;
    let key = store.keys().alloc(&ns, &id);
    let mut current = joined.alloc;
    for _ in 0..WRITE_ATTEMPTS {
        let Some(marked) = mark_stop(&current, terminal)? else {
            return Ok(Json(StopResponse {
                index: current.metadata.resource_version,
                id,
                namespace: ns,
                changed: false,
            }));
        };
        match store.update_at(&key, &marked).await {
            Ok(index) => {
                return Ok(Json(StopResponse {
                    id,
                    namespace: ns,
                    index,
                    changed: true,
                }))
            }
            Err(StoreError::Conflict { .. }) => {
                current = store
                    .get_at::<Allocation>(&key)
                    .await?
                    .ok_or_else(|| ApiError::not_found(format!("allocation {id} is gone")))?;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::conflict(format!(
        "allocation {id} kept changing while being stopped; try again"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn joined(id: &str, name: &str, desired: DesiredStatus) -> Joined {
        let mut alloc = Allocation::default();
        alloc.metadata.uid = id.into();
        alloc.metadata.name = name.into();
        alloc.spec.desired_status = desired;
        Joined {
            alloc,
            binding: None,
            status: None,
        }
    }

    #[test]
    fn pick_resolves_prefixes_and_reports_ambiguity_as_bad_request() {
        let all = || {
            vec![
                joined("ab12", "web.a[0]", DesiredStatus::Run),
                joined("ab34", "web.a[1]", DesiredStatus::Run),
            ]
        };
        assert_eq!(
            pick("ab3", all()).expect("unique").alloc.metadata.uid,
            "ab34"
        );
        let e = pick("ab", all()).expect_err("ambiguous");
        assert_eq!(e.status, axum::http::StatusCode::BAD_REQUEST);
        assert!(e.message.contains("ab12 web.a[0]"), "{e}");
        let e = pick("zz", all()).expect_err("unknown");
        assert_eq!(e.status, axum::http::StatusCode::NOT_FOUND);
    }

    #[test]
    fn stop_marks_migrate_once_and_refuses_stopped_allocations() {
        let a = joined("a", "web.a[0]", DesiredStatus::Run).alloc;
        let marked = mark_stop(&a, false).expect("ok").expect("changed");
        assert!(marked.spec.migrate);
        assert_eq!(mark_stop(&marked, false).expect("ok"), None);
        assert!(mark_stop(&a, true).is_err());
        let stopped = joined("b", "web.a[0]", DesiredStatus::Stop).alloc;
        assert_eq!(
            mark_stop(&stopped, false).expect_err("stopped").status,
            axum::http::StatusCode::CONFLICT
        );
    }

    #[test]
    fn filters_match_job_and_node_by_id_or_name() {
        let mut j = joined("a", "web.a[0]", DesiredStatus::Run);
        j.alloc.spec.job_id = "web".into();
        j.binding = Some(Binding {
            node_id: "n1".into(),
            node_name: "alpha".into(),
            ..Default::default()
        });
        let v = j.view();
        assert!(matches(&v, None, None));
        assert!(matches(&v, Some("web"), Some("n1")));
        assert!(matches(&v, None, Some("alpha")));
        assert!(!matches(&v, Some("api"), None));
        assert!(!matches(&v, None, Some("n2")));
    }
}
