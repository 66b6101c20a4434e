//! `/v1/health/*`: service instances with their checks, and checks by
//! state, service or node. Every node contributes its `serfHealth` check.

use axum::extract::{Path, Query, State};
use axum::response::Response;
use serde_json::Value;

use super::entries::{all_passing, CHECK_FIELDS, HEALTH_FIELDS};
use super::{apply_filter, catalog_snapshot, reply, ConsulError, ConsulQuery, ConsulResult};
use super::{node_read, service_read, CONSUL_SERVICE_FILTERS};
use crate::api::acl::Caller;
use crate::api::route::Routes;
use crate::api::ApiState;

type Pairs = Query<Vec<(String, String)>>;

pub(crate) fn routes() -> Routes {
    Routes::new("consul")
        .add(
            service_read(
                "/v1/health/service/{name}",
                "A service's instances with their checks",
            )
            .query(CONSUL_SERVICE_FILTERS),
            service,
        )
        .add(
            service_read(
                "/v1/health/state/{state}",
                "Checks in a state: any, passing, warning, critical",
            ),
            state,
        )
        .add(
            service_read("/v1/health/checks/{service}", "A service's checks"),
            checks,
        )
        .add(node_read("/v1/health/node/{node}", "A node's checks"), node)
}

async fn service(
    State(state): State<ApiState>,
    caller: Caller,
    Path(name): Path<String>,
    Query(pairs): Pairs,
) -> ConsulResult<Response> {
    let q = ConsulQuery::parse_for(&pairs, &caller)?;
    let expr = q.filter(&HEALTH_FIELDS)?;
    let (index, snapshot) = catalog_snapshot(&state, &q).await?;
    let entries: Vec<Value> = snapshot
        .select(&q.selection, Some(&name))
        .into_iter()
        .map(|r| snapshot.health_entry(r))
        .filter(|e| !q.passing || all_passing(e))
        .collect();
    Ok(reply(index, &apply_filter(entries, expr.as_ref())))
}

/// Which check statuses `/v1/health/state/<state>` asks for.
fn wanted_state(state: &str) -> ConsulResult<Option<&str>> {
    match state {
        "any" => Ok(None),
        "passing" | "warning" | "critical" => Ok(Some(state)),
        _ => Err(ConsulError::bad_request(format!(
            "Invalid state {state:?}: want any, passing, warning or critical"
        ))),
    }
}

async fn state(
    State(app): State<ApiState>,
    caller: Caller,
    Path(state): Path<String>,
    Query(pairs): Pairs,
) -> ConsulResult<Response> {
    let q = ConsulQuery::parse_for(&pairs, &caller)?;
    let wanted = wanted_state(&state)?;
    let expr = q.filter(&CHECK_FIELDS)?;
    let (index, snapshot) = catalog_snapshot(&app, &q).await?;
    let checks: Vec<Value> = snapshot
        .all_checks(&q.selection)
        .into_iter()
        .filter(|c| wanted.is_none_or(|w| c.get("Status").and_then(Value::as_str) == Some(w)))
        .collect();
    Ok(reply(index, &apply_filter(checks, expr.as_ref())))
}

async fn checks(
    State(state): State<ApiState>,
    caller: Caller,
    Path(service): Path<String>,
    Query(pairs): Pairs,
) -> ConsulResult<Response> {
    let q = ConsulQuery::parse_for(&pairs, &caller)?;
    let expr = q.filter(&CHECK_FIELDS)?;
    let (index, snapshot) = catalog_snapshot(&state, &q).await?;
    let checks = snapshot.service_checks(&service, &q.selection);
    Ok(reply(index, &apply_filter(checks, expr.as_ref())))
}

async fn node(
    State(state): State<ApiState>,
    caller: Caller,
    Path(node): Path<String>,
    Query(pairs): Pairs,
) -> ConsulResult<Response> {
    let q = ConsulQuery::parse_for(&pairs, &caller)?;
    let expr = q.filter(&CHECK_FIELDS)?;
    let (index, snapshot) = catalog_snapshot(&state, &q).await?;
    let checks = snapshot
        .find_node(&node)
        .map(|id| snapshot.node_checks(id, &q.selection))
        .unwrap_or_default();
    Ok(reply(index, &apply_filter(checks, expr.as_ref())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_are_consuls_four() {
        assert_eq!(wanted_state("any").expect("any"), None);
        assert_eq!(wanted_state("warning").expect("warning"), Some("warning"));
        assert!(wanted_state("maintenance").is_err());
    }
}
