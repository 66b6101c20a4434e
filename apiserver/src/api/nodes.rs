//! `/v1/nodes`, `/v1/node/{id}`, and the operator's two levers on a node:
//! `POST /v1/node/{id}/drain` and `POST /v1/node/{id}/eligibility`.
//!
//! A node is read from its registration (`nodes/`, the agent's), status
//! (`nodes-status/`, the lifecycle controller's), scheduling
//! (`nodes-admin/`) and heartbeat key, plus the bindings of its
//! allocations. The levers write only `nodes-admin/<id>`, each write
//! guarded by the revision it read (the drainer writes the same key when a
//! drain completes), re-read and retried when it loses a race.

use drover_api_types::acl::{Capability, Level};
use std::collections::{HashMap, HashSet};

use axum::extract::{Path, Query, State};
use axum::Json;
use chrono::{DateTime, Utc};
use drover_api_types::node::{DrainStrategy, NodeScheduling, NodeState, NodeStatus};
use drover_api_types::resolve::{resolve, Candidate};
use drover_api_types::Node;
use drover_store::keys::collections as c;
use drover_store::{Guard, Store, StoreError, Versioned};

use super::acl::Caller;
use super::allocs::{self, Joined};
use super::error::{resolved, ApiError, ApiResult};
use super::openapi as schema;
use super::query::{Indexed, ReadOptions};
use super::route::{Need, Route, Routes};
use super::views::{usage, AllocationView, NodeDetail, NodeParts, NodeView};
use super::ApiState;
pub use drover_api::nodes::{DrainRequest, EligibilityRequest, SchedulingResponse};

/// The collections a node read depends on.
pub const COLLECTIONS: &[&str] = &[
    c::NODES,
    c::NODES_STATUS,
    c::NODES_ADMIN,
    c::NODES_HEARTBEAT,
    c::ALLOCATIONS,
    c::ALLOCATIONS_BINDING,
    c::ALLOCATIONS_STATUS,
];

/// Nomad's default drain deadline.
const DEFAULT_DEADLINE: &str = "1h";
const WRITE_ATTEMPTS: usize = 5;

pub(crate) fn routes() -> Routes {
    Routes::new("nodes")
        .add(
            Route::get("/v1/nodes", "List nodes")
                .blocking()
                .answers(schema::list::<NodeView>)
                .needs(Need::Node(Level::Read)),
            list,
        )
        .add(
            Route::get(
                "/v1/node/{id}",
                "Read a node by id, unique id prefix or name",
            )
            .blocking()
            .answers(schema::one::<NodeDetail>)
            .needs(Need::Node(Level::Read)),
            read,
        )
        .add(
            Route::post("/v1/node/{id}/drain", "Start or stop draining a node")
                .body(
                    "{enable, deadline?, ignore_system_jobs?, force?, keep_ineligible?}",
                    schema::one::<DrainRequest>,
                )
                .answers(schema::one::<SchedulingResponse>)
                .needs(Need::Node(Level::Write)),
            drain,
        )
        .add(
            Route::post(
                "/v1/node/{id}/eligibility",
                "Mark a node (in)eligible for placements",
            )
            .body("{eligible}", schema::one::<EligibilityRequest>)
            .answers(schema::one::<SchedulingResponse>)
            .needs(Need::Node(Level::Write)),
            eligibility,
        )
}

/// Everything the node views are built from.
struct Fleet {
    nodes: Vec<Node>,
    status: HashMap<String, NodeStatus>,
    admin: HashMap<String, NodeScheduling>,
    heartbeats: HashSet<String>,
    allocs: Vec<Joined>,
    revision: i64,
}

/// Values of a cluster-scoped split collection by node id.
async fn by_node<T: serde::de::DeserializeOwned>(
    store: &Store,
    collection: &str,
) -> ApiResult<(HashMap<String, T>, i64)> {
    let keys = store.keys();
    let list = store.list_raw(&keys.collection(collection)).await?;
    let mut out = HashMap::new();
    for kv in &list.items {
        let Some(parsed) = keys.parse(&kv.key) else {
            continue;
        };
        let ([id], Ok(v)) = (
            parsed.segments.as_slice(),
            serde_json::from_slice::<T>(&kv.value),
        ) else {
            continue;
        };
        out.insert(id.to_string(), v);
    }
    Ok((out, list.revision))
}

impl Fleet {
    async fn load(store: &Store) -> ApiResult<Fleet> {
        let nodes = store.list::<Node>(None).await?;
        let (status, r1) = by_node::<NodeStatus>(store, c::NODES_STATUS).await?;
        let (admin, r2) = by_node::<NodeScheduling>(store, c::NODES_ADMIN).await?;
        let (beats, r3) = by_node::<serde_json::Value>(store, c::NODES_HEARTBEAT).await?;
        let (allocs, r4) = allocs::load(store, None).await?;
        Ok(Fleet {
            nodes: nodes.items,
            status,
            admin,
            heartbeats: beats.into_keys().collect(),
            allocs,
            revision: nodes.revision.max(r1).max(r2).max(r3).max(r4),
        })
    }

    fn on(&self, node_id: &str) -> Vec<&Joined> {
        self.allocs
            .iter()
            .filter(|j| j.binding.as_ref().is_some_and(|b| b.node_id == node_id))
            .collect()
    }

    fn view(&self, node: &Node) -> (NodeView, Vec<AllocationView>) {
        let id = &node.metadata.uid;
        let bound = self.on(id);
        let views: Vec<AllocationView> = bound.iter().map(|j| j.view()).collect();
        let used = usage(bound.iter().filter_map(|j| {
            let status = j
                .status
                .as_ref()
                .map(|s| s.client_status)
                .unwrap_or_default();
            j.binding.as_ref().map(|b| (b, status))
        }));
        let parts = NodeParts {
            node,
            status: self.status.get(id),
            scheduling: self.admin.get(id),
            heartbeat: self.heartbeats.contains(id),
        };
        let refs: Vec<&AllocationView> = views.iter().collect();
        (NodeView::build(&parts, &refs, used), views)
    }

    /// The node `reference` means: an id, a unique id prefix, or a name.
    fn find(&self, reference: &str) -> ApiResult<&Node> {
        let candidates: Vec<Candidate> = self
            .nodes
            .iter()
            .map(|n| Candidate {
                id: n.metadata.uid.clone(),
                name: n.metadata.name.clone(),
                live: self
                    .status
                    .get(&n.metadata.uid)
                    .is_none_or(|s| s.state != NodeState::Down),
            })
            .collect();
        let i = resolved(resolve("node", reference, &candidates), "id")?;
        self.nodes
            .get(i)
            .ok_or_else(|| ApiError::not_found("node vanished"))
    }
}

async fn list(
    State(state): State<ApiState>,
    Query(query): Query<HashMap<String, String>>,
) -> ApiResult<Indexed<Vec<NodeView>>> {
    let options = ReadOptions::parse(&query)?;
    options.block(&state.feed, COLLECTIONS).await;
    let fleet = Fleet::load(&state.store).await?;
    let mut views: Vec<NodeView> = fleet.nodes.iter().map(|n| fleet.view(n).0).collect();
    views.sort_by(|a, b| (&a.name, &a.id).cmp(&(&b.name, &b.id)));
    Ok(Indexed(fleet.revision, views))
}

async fn read(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> ApiResult<Indexed<NodeDetail>> {
    let options = ReadOptions::parse(&query)?;
    options.block(&state.feed, COLLECTIONS).await;
    let fleet = Fleet::load(&state.store).await?;
    let node = fleet.find(&id)?;
    let (view, mut allocation_list) = fleet.view(node);
    // Node read shows the node; its allocations, only where the caller
    // may read jobs.
    allocation_list.retain(|a| caller.may(&a.namespace, Capability::ReadJob));
    let status = fleet.status.get(&node.metadata.uid);
    Ok(Indexed(
        fleet.revision,
        NodeDetail {
            node: view,
            attributes: node.spec.attributes.clone(),
            meta: node.spec.meta.clone(),
            host_volumes: node.spec.host_volumes.clone(),
            events: status.map(|s| s.events.clone()).unwrap_or_default(),
            allocation_list,
        },
    ))
}

/// What a drain request makes of the node's scheduling (pure). A draining
/// node takes no new placements, as in Nomad.
pub fn apply_drain(
    current: &NodeScheduling,
    request: &DrainRequest,
    now: DateTime<Utc>,
) -> ApiResult<NodeScheduling> {
    if !request.enable {
        return Ok(NodeScheduling {
            drain: None,
            ineligible: current.ineligible && (current.drain.is_none() || request.keep_ineligible),
        });
    }
    let deadline = if request.force {
        drover_api_types::Duration::from_millis(1)
    } else {
        let text = request.deadline.as_deref().unwrap_or(DEFAULT_DEADLINE);
        drover_api_types::Duration::parse(text)
            .map_err(|e| ApiError::bad_request(e.to_string()).at("deadline"))?
    };
    Ok(NodeScheduling {
        ineligible: true,
        drain: Some(DrainStrategy {
            deadline,
            ignore_system_jobs: request.ignore_system_jobs,
            started_at: Some(now),
        }),
    })
}

/// What an eligibility request makes of it (pure).
pub fn apply_eligibility(current: &NodeScheduling, eligible: bool) -> ApiResult<NodeScheduling> {
    if eligible && current.drain.is_some() {
        return Err(ApiError::conflict(
            "the node is draining; disable the drain to make it eligible",
        )
        .at("eligible"));
    }
    Ok(NodeScheduling {
        ineligible: !eligible,
        drain: current.drain.clone(),
    })
}

/// Reads, changes and writes `nodes-admin/<id>` under a revision guard.
async fn update_scheduling(
    store: &Store,
    reference: &str,
    change: impl Fn(&NodeScheduling) -> ApiResult<NodeScheduling>,
) -> ApiResult<SchedulingResponse> {
    let nodes = Fleet {
        nodes: store.list::<Node>(None).await?.items,
        status: HashMap::new(),
        admin: HashMap::new(),
        heartbeats: HashSet::new(),
        allocs: Vec::new(),
        revision: 0,
    };
    let node_id = nodes.find(reference)?.metadata.uid.clone();
    let key = store.keys().node_admin(&node_id);
    for _ in 0..WRITE_ATTEMPTS {
        let current: Option<Versioned<NodeScheduling>> = store.get_at(&key).await?;
        let (old, guard) = match current {
            Some(v) => (v.value, Guard::Revision(v.revision)),
            None => (NodeScheduling::default(), Guard::Absent),
        };
        let new = change(&old)?;
        if new == old {
            let index = store.get_raw(&key).await?.map_or(0, |kv| kv.mod_revision);
            return Ok(SchedulingResponse {
                node_id,
                index,
                changed: false,
                scheduling: new,
            });
        }
        let bytes = serde_json::to_vec(&new)
            .map_err(|e| ApiError::bad_request(format!("encoding the scheduling: {e}")))?;
        match store.put_raw(&key, bytes, guard, None).await {
            Ok(index) => {
                return Ok(SchedulingResponse {
                    node_id,
                    index,
                    changed: true,
                    scheduling: new,
                })
            }
            Err(StoreError::Conflict { .. } | StoreError::AlreadyExists { .. }) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::conflict(format!(
        "node {node_id}'s scheduling kept changing; try again"
    )))
}

async fn drain(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    Json(request): Json<DrainRequest>,
) -> ApiResult<Json<SchedulingResponse>> {
    let now = Utc::now();
    let r = update_scheduling(&state.store, &id, |cur| apply_drain(cur, &request, now)).await?;
    Ok(Json(r))
}

async fn eligibility(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    Json(request): Json<EligibilityRequest>,
) -> ApiResult<Json<SchedulingResponse>> {
    let r = update_scheduling(&state.store, &id, |cur| {
        apply_eligibility(cur, request.eligible)
    })
    .await?;
    Ok(Json(r))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_000, 0).expect("time")
    }

    #[test]
    fn enabling_a_drain_makes_the_node_ineligible_with_a_deadline() {
        let req = DrainRequest {
            enable: true,
            deadline: Some("30m".into()),
            ignore_system_jobs: true,
            ..Default::default()
        };
        let s = apply_drain(&NodeScheduling::default(), &req, now()).expect("ok");
        assert!(s.ineligible);
        let d = s.drain.expect("draining");
        assert_eq!(d.deadline.as_std().as_secs(), 1800);
        assert!(d.ignore_system_jobs);
        assert_eq!(d.started_at, Some(now()));
        let default = apply_drain(
            &NodeScheduling::default(),
            &DrainRequest {
                enable: true,
                ..Default::default()
            },
            now(),
        )
        .expect("ok");
        assert_eq!(
            default.drain.expect("draining").deadline.as_std().as_secs(),
            3600
        );
    }

    #[test]
    fn a_bad_deadline_names_the_field() {
        let req = DrainRequest {
            enable: true,
            deadline: Some("soon".into()),
            ..Default::default()
        };
        let e = apply_drain(&NodeScheduling::default(), &req, now()).expect_err("bad");
        assert_eq!(e.field.as_deref(), Some("deadline"));
    }

    #[test]
    fn disabling_a_drain_restores_eligibility_unless_asked_to_keep_it() {
        let draining = apply_drain(
            &NodeScheduling::default(),
            &DrainRequest {
                enable: true,
                ..Default::default()
            },
            now(),
        )
        .expect("ok");
        let off = DrainRequest::default();
        assert_eq!(
            apply_drain(&draining, &off, now()).expect("ok"),
            NodeScheduling::default()
        );
        let keep = DrainRequest {
            keep_ineligible: true,
            ..Default::default()
        };
        let s = apply_drain(&draining, &keep, now()).expect("ok");
        assert!(s.ineligible && s.drain.is_none());
        // Ineligible without a drain (set by hand, or a completed drain) stays so.
        let marked = NodeScheduling {
            ineligible: true,
            drain: None,
        };
        assert!(apply_drain(&marked, &off, now()).expect("ok").ineligible);
    }

    #[test]
    fn eligibility_toggles_but_not_while_draining() {
        let s = apply_eligibility(&NodeScheduling::default(), false).expect("ok");
        assert!(s.ineligible);
        assert!(!apply_eligibility(&s, true).expect("ok").ineligible);
        let draining = apply_drain(
            &NodeScheduling::default(),
            &DrainRequest {
                enable: true,
                ..Default::default()
            },
            now(),
        )
        .expect("ok");
        let e = apply_eligibility(&draining, true).expect_err("draining");
        assert_eq!(e.status, axum::http::StatusCode::CONFLICT);
    }
}
