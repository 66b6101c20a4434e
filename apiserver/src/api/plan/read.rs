//! What a plan reads from the store: a job's allocations, the nodes, what
//! the live bindings reserve on each node and against the job's namespace
//! quota — whole objects joined back from their split keys, as the
//! controllers' view joins them.

use std::collections::{HashMap, HashSet};

use drover_api_types::alloc::{Allocation, AllocationStatus, Binding};
use drover_api_types::namespace::{Namespace, Quota, QuotaUse};
use drover_api_types::node::{NodeScheduling, NodeStatus};
use drover_api_types::Node;
use drover_controllers::placement::{add_binding, quota_share, NodeUsage};
use drover_store::keys::collections as c;
use drover_store::{Store, Versioned};
use serde::de::DeserializeOwned;

use crate::api::error::ApiResult;

/// The values under `prefix` by the last segment of their key (the
/// allocation or node id). Undecodable values are skipped: a plan is
/// advice, and the controllers report bad data themselves.
async fn by_id<V>(store: &Store, prefix: &str) -> ApiResult<HashMap<String, V>>
where
    V: DeserializeOwned + Send + Sync + 'static + serde::Serialize,
{
    let list = store.list_raw(prefix).await?;
    let mut out = HashMap::with_capacity(list.items.len());
    for kv in &list.items {
        let Some(id) = kv.key.rsplit('/').next() else {
            continue;
        };
        if let Ok(v) = kv.decode::<Versioned<V>>() {
            out.insert(id.to_string(), v.value);
        }
    }
    Ok(out)
}

/// The allocations of one job, with their bindings and statuses.
pub async fn job_allocations(store: &Store, ns: &str, job: &str) -> ApiResult<Vec<Allocation>> {
    let keys = store.keys();
    let specs = store
        .list_at::<Allocation>(&keys.collection_prefix(c::ALLOCATIONS, &[ns]))
        .await?;
    let mut allocs: Vec<Allocation> = specs
        .items
        .into_iter()
        .filter(|a| a.spec.job_id == job)
        .collect();
    if allocs.is_empty() {
        return Ok(allocs);
    }
    let mut bindings: HashMap<String, Binding> = by_id(
        store,
        &keys.collection_prefix(c::ALLOCATIONS_BINDING, &[ns]),
    )
    .await?;
    // Statuses sit under their node (`<node>/<ns>/<id>`): read them all,
    // keyed by the (unique) allocation id.
    let mut statuses: HashMap<String, AllocationStatus> =
        by_id(store, &keys.collection(c::ALLOCATIONS_STATUS)).await?;
    for a in &mut allocs {
        a.binding = bindings.remove(&a.metadata.uid);
        if let Some(status) = statuses.remove(&a.metadata.uid) {
            a.status = status;
        }
    }
    Ok(allocs)
}

/// Every node, with its status and scheduling, in key order.
pub async fn nodes(store: &Store) -> ApiResult<Vec<Node>> {
    let keys = store.keys();
    let mut nodes = store.list::<Node>(None).await?.items;
    let mut status: HashMap<String, NodeStatus> =
        by_id(store, &keys.collection(c::NODES_STATUS)).await?;
    let mut admin: HashMap<String, NodeScheduling> =
        by_id(store, &keys.collection(c::NODES_ADMIN)).await?;
    for node in &mut nodes {
        if let Some(s) = status.remove(&node.metadata.uid) {
            node.status = s;
        }
        if let Some(a) = admin.remove(&node.metadata.uid) {
            node.scheduling = a;
        }
    }
    Ok(nodes)
}

/// Per node id, what live bindings reserve, and the terminal ones in
/// `held` (kept for their replacement), leaving out the allocations in
/// `freed` (the plan stops or replaces them); and what those of
/// namespace `ns` hold against its quota.
pub async fn base_usage(
    store: &Store,
    ns: &str,
    freed: &HashSet<String>,
    held: &HashSet<String>,
) -> ApiResult<(HashMap<String, NodeUsage>, QuotaUse)> {
    let keys = store.keys();
    let statuses: HashMap<String, AllocationStatus> =
        by_id(store, &keys.collection(c::ALLOCATIONS_STATUS)).await?;
    let bindings = store
        .list_raw(&keys.collection(c::ALLOCATIONS_BINDING))
        .await?;
    let mut usage: HashMap<String, NodeUsage> = HashMap::new();
    let mut in_namespace = QuotaUse::default();
    for kv in &bindings.items {
        let mut segments = kv.key.rsplit('/');
        let (Some(id), Some(of)) = (segments.next(), segments.next()) else {
            continue;
        };
        let Ok(binding) = kv.decode::<Versioned<Binding>>().map(|v| v.value) else {
            continue;
        };
        let terminal = statuses
            .get(id)
            .is_some_and(|s| s.client_status.is_terminal());
        if (!terminal || held.contains(id)) && !freed.contains(id) {
            add_binding(usage.entry(binding.node_id.clone()).or_default(), &binding);
            if of == ns {
                in_namespace.add(quota_share(&binding));
            }
        }
    }
    Ok((usage, in_namespace))
}

/// The quota of namespace `ns`, when it has one.
pub async fn quota(store: &Store, ns: &str) -> ApiResult<Option<Quota>> {
    let namespace: Option<Versioned<Namespace>> = store.get_at(&store.keys().namespace(ns)).await?;
    Ok(namespace
        .and_then(|n| n.value.quota)
        .filter(|q| !q.is_empty()))
}
