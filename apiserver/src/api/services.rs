//! Nomad's native service discovery API, `/v1/services` and
//! `/v1/service/{name}`, from the catalog view: what Nomad's clients
//! (`nomad service list/info`, the Go SDK, Traefik's nomad provider) read.
//! Blocking and errors are as for the Consul endpoints, the index header
//! is `X-Nomad-Index` (and `X-Drover-Index`), the catalog index.

use drover_api_types::acl::Capability;
use std::collections::{BTreeMap, BTreeSet};

use axum::extract::{Path, Query, State};
use axum::http::{HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use drover_api_types::service::ServiceRegistration;
use serde_json::{json, Value};

use super::acl::Caller;
use super::consul::{catalog_snapshot, ConsulQuery, ConsulResult};
use super::route::{Need, Route, Routes};
use super::ApiState;

type Pairs = Query<Vec<(String, String)>>;

pub(crate) fn routes() -> Routes {
    Routes::new("services")
        .add(
            Route::get(
                "/v1/services",
                "Nomad: service names and tags per namespace",
            )
            .blocking()
            .needs(Need::Namespace(Capability::ReadJob))
            .across_namespaces(),
            list,
        )
        .add(
            Route::get("/v1/service/{name}", "Nomad: a service's registrations")
                .blocking()
                .needs(Need::Namespace(Capability::ReadJob))
                .across_namespaces(),
            read,
        )
}

/// `[{Namespace, Services: [{ServiceName, Tags}]}]`, by namespace then name.
pub fn service_list<'a>(regs: impl IntoIterator<Item = &'a ServiceRegistration>) -> Value {
    let mut by_ns: BTreeMap<&str, BTreeMap<&str, BTreeSet<&str>>> = BTreeMap::new();
    for reg in regs {
        by_ns
            .entry(namespace_of(reg))
            .or_default()
            .entry(reg.spec.service_name.as_str())
            .or_default()
            .extend(reg.spec.tags.iter().map(String::as_str));
    }
    by_ns
        .into_iter()
        .map(|(ns, services)| {
            let services: Vec<Value> = services
                .into_iter()
                .map(|(name, tags)| json!({"ServiceName": name, "Tags": tags}))
                .collect();
            json!({"Namespace": ns, "Services": services})
        })
        .collect::<Vec<Value>>()
        .into()
}

/// One registration as Nomad's `api.ServiceRegistration`.
pub fn registration(reg: &ServiceRegistration) -> Value {
    let s = &reg.spec;
    json!({
        "ID": reg.metadata.name,
        "ServiceName": s.service_name,
        "Namespace": namespace_of(reg),
        "NodeID": s.node_id,
        "Datacenter": s.datacenter,
        "JobID": s.job_id,
        "AllocID": s.alloc_id,
        "Tags": s.tags,
        "Address": s.address,
        "Port": s.port,
        "CreateIndex": reg.metadata.resource_version,
        "ModifyIndex": reg.metadata.resource_version,
    })
}

fn namespace_of(reg: &ServiceRegistration) -> &str {
    match reg.metadata.namespace.as_str() {
        "" => drover_api_types::meta::DEFAULT_NAMESPACE,
        ns => ns,
    }
}

fn nomad_reply(index: i64, body: &Value) -> Response {
    let mut response = axum::Json(body).into_response();
    let index = index.max(1).to_string();
    for (name, value) in [
        ("x-nomad-index", index.as_str()),
        (super::query::INDEX_HEADER, index.as_str()),
        ("x-nomad-knownleader", "true"),
        ("x-nomad-lastcontact", "0"),
    ] {
        if let Ok(value) = HeaderValue::from_str(value) {
            response
                .headers_mut()
                .insert(HeaderName::from_static(name), value);
        }
    }
    response
}

async fn list(
    State(state): State<ApiState>,
    caller: Caller,
    Query(pairs): Pairs,
) -> ConsulResult<Response> {
    let q = ConsulQuery::parse_for(&pairs, &caller)?;
    let (index, snapshot) = catalog_snapshot(&state, &q).await?;
    let regs = snapshot.select(&q.selection, None);
    Ok(nomad_reply(index, &service_list(regs)))
}

async fn read(
    State(state): State<ApiState>,
    caller: Caller,
    Path(name): Path<String>,
    Query(pairs): Pairs,
) -> ConsulResult<Response> {
    let q = ConsulQuery::parse_for(&pairs, &caller)?;
    let (index, snapshot) = catalog_snapshot(&state, &q).await?;
    let regs: Vec<Value> = snapshot
        .select(&q.selection, Some(&name))
        .into_iter()
        .map(registration)
        .collect();
    Ok(nomad_reply(index, &regs.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reg(ns: &str, name: &str, tags: &[&str]) -> ServiceRegistration {
        let mut r = ServiceRegistration::default();
        r.metadata.namespace = ns.into();
        r.metadata.name = format!("_drover-{name}");
        r.spec.service_name = name.into();
        r.spec.tags = tags.iter().map(|t| t.to_string()).collect();
        r
    }

    #[test]
    fn lists_group_by_namespace_with_tag_unions() {
        let regs = [
            reg("default", "web", &["a"]),
            reg("default", "web", &["b", "a"]),
            reg("prod", "db", &[]),
        ];
        let list = service_list(regs.iter());
        assert_eq!(
            list,
            json!([
                {"Namespace": "default", "Services": [{"ServiceName": "web", "Tags": ["a", "b"]}]},
                {"Namespace": "prod", "Services": [{"ServiceName": "db", "Tags": []}]}
            ])
        );
        let r = registration(&regs[0]);
        assert_eq!(
            (r["ServiceName"].as_str(), r["Namespace"].as_str()),
            (Some("web"), Some("default"))
        );
    }
}
