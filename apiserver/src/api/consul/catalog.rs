//! `/v1/catalog/*` and `/v1/agent/self`, Consul's shapes from the catalog
//! view. An unknown service is `[]` and an unknown node `null`, both 200,
//! as Consul answers them.

use axum::extract::{Path, Query, State};
use axum::response::Response;
use drover_api_types::acl::Level;
use serde_json::{json, Value};

use super::entries::{Snapshot, CATALOG_SERVICE_FIELDS, NODE_FIELDS};
use super::filter::Expr;
use super::{apply_filter, catalog_snapshot, reply, ConsulQuery, ConsulResult};
use super::{node_read, service_read, CONSUL_READ, CONSUL_SERVICE_FILTERS};
use crate::api::acl::Caller;
use crate::api::route::{Need, Route, Routes};
use crate::api::ApiState;

type Pairs = Query<Vec<(String, String)>>;

pub(crate) fn routes() -> Routes {
    Routes::new("consul")
        .add(
            Route::get(
                "/v1/agent/self",
                "The agent's configuration (datacenter, node name, version)",
            )
            .query(CONSUL_READ)
            .needs(Need::Agent(Level::Read)),
            agent_self,
        )
        .add(
            Route::get("/v1/catalog/datacenters", "Known datacenters")
                .query(CONSUL_READ)
                .needs(Need::Token),
            datacenters,
        )
        .add(
            service_read(
                "/v1/catalog/services",
                "Service names with the union of their tags",
            ),
            services,
        )
        .add(
            service_read(
                "/v1/catalog/service/{name}",
                "A service's instances (CatalogService)",
            )
            .query(CONSUL_SERVICE_FILTERS),
            service,
        )
        .add(node_read("/v1/catalog/nodes", "Nodes"), nodes)
        .add(
            node_read("/v1/catalog/node/{node}", "A node and its services"),
            node,
        )
}

/// The version reported to clients that gate features on it: the Consul
/// API level these endpoints follow (drover's own is in `Revision`).
pub const CONSUL_API_VERSION: &str = "1.15.0";

async fn agent_self(
    State(state): State<ApiState>,
    caller: Caller,
    Query(pairs): Pairs,
) -> ConsulResult<Response> {
    let q = ConsulQuery::parse_for(&pairs, &caller)?;
    let (index, snapshot) = catalog_snapshot(&state, &q).await?;
    let dc = snapshot.local_datacenter();
    let name = hostname();
    Ok(reply(
        index,
        &json!({
            "Config": {
                "Datacenter": dc,
                "PrimaryDatacenter": dc,
                "NodeName": name,
                "NodeID": "",
                "Revision": format!("drover-{}", env!("CARGO_PKG_VERSION")),
                "Server": true,
                "Version": CONSUL_API_VERSION,
                "BuildDate": "",
            },
            "DebugConfig": {},
            "Coord": {},
            "Member": {
                "Name": name,
                "Addr": "127.0.0.1",
                "Port": 8301,
                "Tags": {"dc": dc, "role": "consul", "build": CONSUL_API_VERSION},
                "Status": 1,
            },
            "Stats": {},
            "Meta": {},
            "xDS": {},
        }),
    ))
}

/// The machine's name, as Consul names its agent after the host.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "drover".to_string())
}

async fn datacenters(
    State(state): State<ApiState>,
    caller: Caller,
    Query(pairs): Pairs,
) -> ConsulResult<Response> {
    let q = ConsulQuery::parse_for(&pairs, &caller)?;
    let (index, snapshot) = catalog_snapshot(&state, &q).await?;
    let mut dcs = snapshot.datacenters();
    if dcs.is_empty() {
        dcs.push(snapshot.local_datacenter());
    }
    Ok(reply(index, &dcs))
}

/// Catalog services that pass the query's selection and filter.
fn catalog_services(
    snapshot: &Snapshot,
    q: &ConsulQuery,
    expr: Option<&Expr>,
    name: Option<&str>,
) -> Vec<(Value, String, Vec<String>)> {
    snapshot
        .select(&q.selection, name)
        .into_iter()
        .map(|r| {
            (
                snapshot.catalog_service(r),
                r.spec.service_name.clone(),
                r.spec.tags.clone(),
            )
        })
        .filter(|(entry, _, _)| expr.is_none_or(|e| e.eval(entry)))
        .collect()
}

async fn services(
    State(state): State<ApiState>,
    caller: Caller,
    Query(pairs): Pairs,
) -> ConsulResult<Response> {
    let q = ConsulQuery::parse_for(&pairs, &caller)?;
    let expr = q.filter(&CATALOG_SERVICE_FIELDS)?;
    let (index, snapshot) = catalog_snapshot(&state, &q).await?;
    let mut out: std::collections::BTreeMap<String, std::collections::BTreeSet<String>> =
        Default::default();
    for (_, name, tags) in catalog_services(&snapshot, &q, expr.as_ref(), None) {
        out.entry(name).or_default().extend(tags);
    }
    Ok(reply(index, &out))
}

async fn service(
    State(state): State<ApiState>,
    caller: Caller,
    Path(name): Path<String>,
    Query(pairs): Pairs,
) -> ConsulResult<Response> {
    let q = ConsulQuery::parse_for(&pairs, &caller)?;
    let expr = q.filter(&CATALOG_SERVICE_FIELDS)?;
    let (index, snapshot) = catalog_snapshot(&state, &q).await?;
    let entries: Vec<Value> = catalog_services(&snapshot, &q, expr.as_ref(), Some(&name))
        .into_iter()
        .map(|(entry, _, _)| entry)
        .collect();
    Ok(reply(index, &entries))
}

async fn nodes(
    State(state): State<ApiState>,
    caller: Caller,
    Query(pairs): Pairs,
) -> ConsulResult<Response> {
    let q = ConsulQuery::parse_for(&pairs, &caller)?;
    let expr = q.filter(&NODE_FIELDS)?;
    let (index, snapshot) = catalog_snapshot(&state, &q).await?;
    let nodes = snapshot.nodes(q.selection.datacenter.as_deref());
    Ok(reply(index, &apply_filter(nodes, expr.as_ref())))
}

async fn node(
    State(state): State<ApiState>,
    caller: Caller,
    Path(node): Path<String>,
    Query(pairs): Pairs,
) -> ConsulResult<Response> {
    let q = ConsulQuery::parse_for(&pairs, &caller)?;
    let (index, snapshot) = catalog_snapshot(&state, &q).await?;
    let body = snapshot
        .find_node(&node)
        .and_then(|id| snapshot.node_services(id, &q.selection))
        .unwrap_or(Value::Null);
    Ok(reply(index, &body))
}
