//! `/v1/allocations`, `/v1/allocation/{id}`, `/v1/allocation/{id}/stop`
//! and `/v1/client/allocation/{id}/restart`.
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
//!
//! Restarting (Nomad's `alloc restart`) replaces nothing: the API raises
//! the spec's restart request ([`RestartRequest`]) and writes the node's
//! copy with it in the same transaction, guarded by the spec's and the
//! binding's revisions as the job controller rewrites both. No controller
//! reads the request; the agent restarts the tasks it names, once.

use drover_api_types::acl::Capability;
use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::Json;
use chrono::{DateTime, Utc};
use drover_api_types::alloc::{
    AllocationStatus, Binding, ClientStatus, DesiredStatus, RestartRequest, TaskRunState,
};
use drover_api_types::resolve::{resolve, Candidate};
use drover_api_types::Allocation;
use drover_store::keys::collections as c;
use drover_store::{Atomic, Guard, Store, StoreError, Stored, Versioned};
use serde::de::DeserializeOwned;

use super::acl::Caller;
use super::error::{resolved, ApiError, ApiResult};
use super::openapi as schema;
use super::query::{Indexed, ReadOptions};
use super::route::{Need, Route, Routes};
use super::views::AllocationView;
use super::ApiState;
pub use drover_api::allocs::{RestartRequestBody, RestartResponse, StopResponse};

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
        .add(
            Route::post(
                "/v1/client/allocation/{id}/restart",
                "Restart a running allocation's tasks in place (task=: one of them)",
            )
            .query(RESTART_QUERY)
            .body("{TaskName?, AllTasks?}", schema::one::<RestartRequestBody>)
            .answers(schema::one::<RestartResponse>)
            .needs(Need::Namespace(Capability::AllocLifecycle))
            .across_namespaces(),
            restart,
        )
}

/// What the restart route's query may hold.
const RESTART_QUERY: &[&str] = &["namespace", "task"];

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
/// A full id is read by its keys alone; a prefix or a name needs them all.
pub async fn find(
    store: &Store,
    reference: &str,
    query: &HashMap<String, String>,
) -> ApiResult<(Joined, i64)> {
    if is_full_id(reference) {
        if let Some(found) = find_by_id(store, reference, lookup_namespace(query)).await? {
            return Ok(found);
        }
    }
    let (joined, revision) = load(store, lookup_namespace(query)).await?;
    Ok((pick(reference, joined)?, revision))
}

/// An allocation id as ids are made (a UUID), not a prefix or a name (pure).
pub fn is_full_id(reference: &str) -> bool {
    reference.len() == 36
        && reference.chars().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// The allocation with id `id`, read by its three keys in each namespace
/// it may be in (`ns`, or `default` and every namespace object: jobs, and
/// so allocations, exist nowhere else). The revision is the store's before
/// the reads, as a list's is: a blocking query on it wakes for what
/// changed after, not for what it was shown.
async fn find_by_id(store: &Store, id: &str, ns: Option<&str>) -> ApiResult<Option<(Joined, i64)>> {
    let keys = store.keys();
    let revision = store.current_revision().await?;
    let namespaces: Vec<String> = match ns {
        Some(ns) => vec![ns.to_string()],
        None => {
            let listed = store.list_keys(&keys.collection(c::NAMESPACES)).await?;
            std::iter::once(drover_api_types::DEFAULT_NAMESPACE.to_string())
                .chain(listed.items.iter().filter_map(|kv| {
                    keys.parse(&kv.key)
                        .and_then(|p| p.segments.into_iter().next())
                        .map(|s| s.to_string())
                }))
                .collect()
        }
    };
    for ns in namespaces {
        let Some(alloc) = store.get::<Allocation>(&ns, id).await? else {
            continue;
        };
        let binding = store.get_raw(&keys.alloc_binding(&ns, id)).await?;
        let bound: Option<Binding> = binding
            .as_ref()
            .and_then(|kv| serde_json::from_slice(&kv.value).ok());
        let status_key = keys.alloc_status(bound.as_ref().map(|b| b.node_id.as_str()), &ns, id);
        let status = store.get_raw(&status_key).await?;
        let joined = Joined {
            status: status.and_then(|kv| serde_json::from_slice(&kv.value).ok()),
            binding: bound,
            alloc,
        };
        return Ok(Some((joined, revision)));
    }
    Ok(None)
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

/// The task a restart names (pure): the query's `task=` or the body's
/// `TaskName` (the same one if both), none for every running task. No
/// body is `{}`.
pub fn restart_target(query: &HashMap<String, String>, body: &[u8]) -> ApiResult<Option<String>> {
    if let Some(k) = query.keys().find(|k| !RESTART_QUERY.contains(&k.as_str())) {
        return Err(ApiError::bad_request(format!(
            "unknown parameter {k:?} (expected {})",
            RESTART_QUERY.join(", ")
        ))
        .at(k.as_str()));
    }
    let request: RestartRequestBody = if body.iter().all(u8::is_ascii_whitespace) {
        RestartRequestBody::default()
    } else {
        serde_json::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("the restart request: {e}")).at("body"))?
    };
    let from_query = query.get("task").filter(|t| !t.is_empty());
    let from_body = Some(&request.task_name).filter(|t| !t.is_empty());
    let task = match (from_query, from_body) {
        (Some(q), Some(b)) if q != b => {
            return Err(ApiError::bad_request(format!(
                "names task {q:?} but the body names {b:?}; name one"
            ))
            .at("task"))
        }
        (q, b) => q.or(b).cloned(),
    };
    if request.all_tasks && task.is_some() {
        return Err(
            ApiError::bad_request("AllTasks and a task name exclude each other").at("AllTasks"),
        );
    }
    Ok(task)
}

/// What restarting does to a spec (pure): the next restart request, for
/// `task` or every running task. Refused (409) unless the allocation
/// should run, is not being replaced, and runs — and so does `task`.
pub fn mark_restart(
    alloc: &Allocation,
    status: Option<&AllocationStatus>,
    task: Option<&str>,
    now: DateTime<Utc>,
) -> ApiResult<Allocation> {
    let id = &alloc.metadata.uid;
    let refuse = |why: String| Err(ApiError::conflict(why).at("id"));
    if alloc.spec.desired_status != DesiredStatus::Run {
        return refuse(format!(
            "allocation {id} is stopped or being stopped; nothing to restart"
        ));
    }
    if alloc.spec.migrate {
        return refuse(format!(
            "allocation {id} is being replaced (stopped by a user or a drain); nothing to restart"
        ));
    }
    let client = status.map_or(ClientStatus::Pending, |s| s.client_status);
    if client != ClientStatus::Running {
        return refuse(format!(
            "allocation {id} is {}: only a running allocation can be restarted",
            client.as_str()
        ));
    }
    if let Some(task) = task {
        let state = status
            .and_then(|s| s.task_states.get(task))
            .map_or(TaskRunState::Pending, |t| t.state);
        if state != TaskRunState::Running {
            return Err(ApiError::conflict(format!(
                "task {task} of allocation {id} is {state}: only a running task can be restarted"
            ))
            .at("task"));
        }
    }
    let mut out = alloc.clone();
    out.spec.restart = Some(RestartRequest::next(alloc.spec.restart.as_ref(), task, now));
    Ok(out)
}

async fn restart(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    body: Bytes,
) -> ApiResult<Json<RestartResponse>> {
    let task = restart_target(&query, &body)?;
    let store = &state.store;
    let (joined, _) = find(store, &id, &query).await?;
    caller.require(&joined.alloc.metadata.namespace, Capability::AllocLifecycle)?;
    if let Some(task) = &task {
        let tasks = super::logs::group_tasks(store, &joined).await?;
        if !tasks.contains(task) {
            return Err(ApiError::not_found(format!(
                "allocation {} has no task {task:?} (its tasks: {})",
                joined.alloc.metadata.uid,
                tasks.join(", ")
            ))
            .at("task"));
        }
    }
    let (ns, id) = (
        joined.alloc.metadata.namespace.clone(),
        joined.alloc.metadata.uid.clone(),
    );
    let keys = store.keys();
    let (spec_key, binding_key) = (keys.alloc(&ns, &id), keys.alloc_binding(&ns, &id));
    let mut current = joined.alloc;
    let mut status = joined.status;
    for _ in 0..WRITE_ATTEMPTS {
        let marked = mark_restart(&current, status.as_ref(), task.as_deref(), Utc::now())?;
        let binding: Versioned<Binding> = store.get_at(&binding_key).await?.ok_or_else(|| {
            ApiError::conflict(format!("allocation {id} is not placed on a node yet"))
        })?;
        // The node's copy is the spec with its binding, as placement and
        // the job controller write it: what the node's agent watches.
        let mut on_node = marked.clone();
        on_node.binding = Some(binding.value.clone());
        on_node.status = AllocationStatus::default();
        on_node.metadata.resource_version = 0;
        let encoded = on_node.encode().map_err(|e| {
            ApiError::new(
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                format!("encoding allocation {id}: {e}"),
            )
        })?;
        let unit = Atomic::new()
            .put_value(&spec_key, &marked)?
            .guard(&binding_key, Guard::Revision(binding.revision))
            .put(keys.node_alloc(&binding.value.node_id, &ns, &id), encoded);
        let mut batch = store.batch();
        batch.push(unit);
        match batch.commit_atomic(store).await {
            Ok(index) => {
                let generation = marked.spec.restart.as_ref().map_or(0, |r| r.generation);
                tracing::info!(alloc = %id, generation, task = ?task, "restart requested");
                return Ok(Json(RestartResponse {
                    id,
                    namespace: ns,
                    index,
                    generation,
                    task,
                }));
            }
            Err(StoreError::Conflict { .. }) => {
                current = store
                    .get_at::<Allocation>(&spec_key)
                    .await?
                    .ok_or_else(|| ApiError::not_found(format!("allocation {id} is gone")))?;
                status = store.alloc_status_of(&ns, &id).await?.map(|s| s.value);
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::conflict(format!(
        "allocation {id} kept changing while being restarted; try again"
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
    fn only_a_whole_uuid_is_read_by_its_keys() {
        assert!(is_full_id("facc41ea-7482-4e49-9cf2-3201b8981466"));
        assert!(!is_full_id("facc41ea"));
        assert!(!is_full_id("web.front[0]"));
        assert!(!is_full_id("facc41ea-7482-4e49-9cf2-3201b898146g"));
        assert!(!is_full_id("facc41ea-7482-4e49-9cf2-3201b89814666"));
        assert!(!is_full_id("facc41ea+7482-4e49-9cf2-3201b8981466"));
        // Multi-byte text of the same length is not an id either.
        assert!(!is_full_id(&"é".repeat(18)));
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

    fn running(task: &str) -> AllocationStatus {
        let mut status = AllocationStatus {
            client_status: ClientStatus::Running,
            ..Default::default()
        };
        status.task_states.insert(
            task.into(),
            drover_api_types::alloc::TaskState {
                state: TaskRunState::Running,
                ..Default::default()
            },
        );
        status
    }

    #[test]
    fn restart_raises_the_generation_of_a_running_allocation_only() {
        let now = Utc::now();
        let a = joined("a", "web.a[0]", DesiredStatus::Run).alloc;
        let web = running("web");
        let once = mark_restart(&a, Some(&web), None, now).expect("running");
        let request = once.spec.restart.clone().expect("a request");
        assert_eq!((request.generation, request.task.as_str()), (1, ""));
        let twice = mark_restart(&once, Some(&web), Some("web"), now).expect("again");
        let request = twice.spec.restart.clone().expect("a request");
        assert_eq!((request.generation, request.task.as_str()), (2, "web"));
        // Nothing else of the spec moves: no controller sees a change.
        let mut without = twice.clone();
        without.spec.restart = None;
        assert_eq!(without, a);

        let conflict = axum::http::StatusCode::CONFLICT;
        let mut done = web.clone();
        done.client_status = ClientStatus::Complete;
        let e = mark_restart(&a, Some(&done), None, now).expect_err("complete");
        assert_eq!(e.status, conflict);
        assert!(e.message.contains("is complete"), "{e}");
        let e = mark_restart(&a, None, None, now).expect_err("no status yet");
        assert!(e.message.contains("is pending"), "{e}");
        let stopped = joined("b", "web.a[0]", DesiredStatus::Stop).alloc;
        let e = mark_restart(&stopped, Some(&web), None, now).expect_err("stopped");
        assert_eq!(e.status, conflict);
        let mut migrating = a.clone();
        migrating.spec.migrate = true;
        assert!(mark_restart(&migrating, Some(&web), None, now).is_err());
        let e = mark_restart(&a, Some(&web), Some("sidecar"), now).expect_err("not running");
        assert_eq!((e.status, e.field.as_deref()), (conflict, Some("task")));
    }

    #[test]
    fn the_restarted_task_comes_from_the_query_or_the_body() {
        let q = |pairs: &[(&str, &str)]| -> HashMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        assert_eq!(restart_target(&q(&[]), b"").expect("no body"), None);
        assert_eq!(restart_target(&q(&[]), b"{}").expect("empty"), None);
        assert_eq!(
            restart_target(&q(&[("task", "web")]), b"").expect("query"),
            Some("web".into())
        );
        assert_eq!(
            restart_target(&q(&[("namespace", "*")]), br#"{"TaskName":"web"}"#).expect("body"),
            Some("web".into())
        );
        assert_eq!(
            restart_target(&q(&[("task", "web")]), br#"{"TaskName":"web"}"#).expect("both"),
            Some("web".into())
        );
        assert_eq!(
            restart_target(&q(&[]), br#"{"AllTasks":true}"#).expect("all"),
            None
        );
        let bad = axum::http::StatusCode::BAD_REQUEST;
        for (query, body) in [
            (q(&[("task", "web")]), br#"{"TaskName":"db"}"#.as_slice()),
            (q(&[]), br#"{"TaskName":"db","AllTasks":true}"#.as_slice()),
            (q(&[]), br#"{"Task":"db"}"#.as_slice()),
            (q(&[]), b"{not json".as_slice()),
            (q(&[("tsk", "web")]), b"".as_slice()),
        ] {
            let e = restart_target(&query, body).expect_err("refused");
            assert_eq!(e.status, bad, "{e}");
        }
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
