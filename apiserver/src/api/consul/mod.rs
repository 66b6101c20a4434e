//! The Consul-compatible HTTP API: enough of Consul's catalog, health,
//! agent and KV endpoints for Prometheus' `consul_sd_configs`, Traefik's
//! consulcatalog provider, consul-template and the Consul client libraries.
//!
//! These endpoints speak Consul, not drover: errors are Consul's plain-text
//! bodies (not drover's JSON), reads carry `X-Consul-Index` and block on
//! `?index=&wait=` the way Consul's do, and the answers use Consul's field
//! names. Catalog reads are answered from the in-memory catalog view, never
//! from etcd.
//!
//! # Layout
//! - [`filter`]: the `filter` expression language (pure).
//! - [`entries`]: catalog and health answers in Consul's shapes (pure).
//! - [`catalog`]: `/v1/catalog/*` and `/v1/agent/self`.
//! - [`health`]: the `/v1/health/*` endpoints.
//! - [`kv_core`] and [`kv`]: `/v1/kv/<key>`, kept in etcd under `kv/`;
//!   [`kv_usage`]: how much it holds, against the server's caps.

pub mod catalog;
pub mod entries;
pub mod filter;
pub mod health;
pub mod kv;
pub mod kv_core;
pub mod kv_usage;

use std::time::Duration;

use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::acl::Caller;
use super::route::{Need, Route, Routes};
use super::ApiState;
use drover_api_types::acl::{Capability, Level};
use entries::{Selection, Snapshot};

/// The parameters Consul's reads accept.
pub(crate) const CONSUL_READ: &[&str] = &[
    "dc",
    "ns",
    "index",
    "wait",
    "filter",
    "node-meta",
    "stale",
    "consistent",
    "cached",
];

/// A Consul read of services: Consul's parameters, and read-job in the
/// namespaces it covers — its handler selects through
/// [`ConsulQuery::parse_for`], which leaves the others out.
pub(crate) fn service_read(path: &'static str, summary: &'static str) -> Route {
    Route::get(path, summary)
        .query(CONSUL_READ)
        .needs(Need::Namespace(Capability::ReadJob))
        .across_namespaces()
}

/// A Consul read of nodes: Consul's parameters, node read.
pub(crate) fn node_read(path: &'static str, summary: &'static str) -> Route {
    Route::get(path, summary)
        .query(CONSUL_READ)
        .needs(Need::Node(Level::Read))
}

/// What a read of one service's instances accepts besides.
pub(crate) const CONSUL_SERVICE_FILTERS: &[&str] = &["tag", "passing"];

pub(crate) fn routes() -> Routes {
    Routes::new("consul")
        .merge(catalog::routes())
        .merge(health::routes())
        .merge(kv::routes())
}

/// A Consul error: a status and a plain-text body, as Consul's clients
/// expect (they print the body verbatim).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsulError(pub StatusCode, pub String);

impl ConsulError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        ConsulError(StatusCode::BAD_REQUEST, message.into())
    }
}

impl IntoResponse for ConsulError {
    fn into_response(self) -> Response {
        (
            self.0,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            self.1,
        )
            .into_response()
    }
}

impl From<drover_store::StoreError> for ConsulError {
    fn from(e: drover_store::StoreError) -> Self {
        ConsulError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
    }
}

pub type ConsulResult<T> = Result<T, ConsulError>;

/// The query parameters Consul's reads share. `stale`, `consistent`,
/// `cached` and `token` are accepted and ignored: every read is served
/// from one consistent source.
#[derive(Debug, Clone, Default)]
pub struct ConsulQuery {
    pub selection: Selection,
    /// `Some` (and non-zero) makes the read block.
    pub index: Option<i64>,
    pub wait: Duration,
    pub passing: bool,
    pub filter: Option<String>,
}

/// Consul's default and maximum blocking wait.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(300);
pub const MAX_WAIT: Duration = Duration::from_secs(600);

impl ConsulQuery {
    /// [`ConsulQuery::parse`], selecting only what `caller` may read.
    pub fn parse_for(pairs: &[(String, String)], caller: &Caller) -> ConsulResult<ConsulQuery> {
        let mut q = ConsulQuery::parse(pairs)?;
        q.selection.readable = Some(std::sync::Arc::clone(&caller.acl));
        Ok(q)
    }

    /// Parses the query pairs (repeated keys kept, as `tag` needs).
    pub fn parse(pairs: &[(String, String)]) -> ConsulResult<ConsulQuery> {
        let mut q = ConsulQuery {
            wait: DEFAULT_WAIT,
            selection: Selection {
                namespace: Some(drover_api_types::meta::DEFAULT_NAMESPACE.to_string()),
                ..Default::default()
            },
            ..Default::default()
        };
        for (key, value) in pairs {
            match key.as_str() {
                "ns" | "namespace" => {
                    q.selection.namespace = match value.as_str() {
                        "" => Some(drover_api_types::meta::DEFAULT_NAMESPACE.to_string()),
                        "*" => None,
                        ns => Some(ns.to_string()),
                    }
                }
                "dc" if !value.is_empty() => q.selection.datacenter = Some(value.clone()),
                "tag" => q.selection.tags.push(value.clone()),
                "node-meta" => {
                    let (k, v) = value.split_once(':').ok_or_else(|| {
                        ConsulError::bad_request(format!(
                            "Invalid node-meta {value:?}: want key:value"
                        ))
                    })?;
                    q.selection.node_meta.push((k.to_string(), v.to_string()));
                }
                "index" => {
                    let index = value.parse::<u64>().map_err(|_| {
                        ConsulError::bad_request(format!("Invalid index {value:?}"))
                    })?;
                    q.index = (index > 0).then(|| i64::try_from(index).unwrap_or(i64::MAX));
                }
                "wait" => {
                    let wait = drover_api_types::Duration::parse(value).map_err(|_| {
                        ConsulError::bad_request(format!("Invalid wait time {value:?}"))
                    })?;
                    q.wait = wait.as_std().min(MAX_WAIT);
                }
                "passing" => q.passing = !matches!(value.as_str(), "false" | "0"),
                "filter" if !value.is_empty() => q.filter = Some(value.clone()),
                _ => {}
            }
        }
        Ok(q)
    }

    /// The parsed filter, checked against `fields`; a bad one is a 400
    /// with Consul's message.
    pub fn filter(&self, fields: &filter::Fields) -> ConsulResult<Option<filter::Expr>> {
        self.filter
            .as_deref()
            .map(|f| filter::parse(f, fields).map_err(ConsulError::bad_request))
            .transpose()
    }
}

/// Keeps the entries the filter matches.
pub fn apply_filter(entries: Vec<Value>, expr: Option<&filter::Expr>) -> Vec<Value> {
    match expr {
        Some(expr) => entries.into_iter().filter(|e| expr.eval(e)).collect(),
        None => entries,
    }
}

/// How long a read waits for the catalog's first full listing.
const READY_WAIT: Duration = Duration::from_secs(10);

/// Blocks as the query asks, then snapshots the catalog; returns the
/// index the snapshot is at.
pub async fn catalog_snapshot(state: &ApiState, q: &ConsulQuery) -> ConsulResult<(i64, Snapshot)> {
    let view = &state.catalog;
    if tokio::time::timeout(READY_WAIT, view.ready())
        .await
        .is_err()
    {
        return Err(ConsulError(
            StatusCode::SERVICE_UNAVAILABLE,
            "the catalog has not synced with etcd yet".into(),
        ));
    }
    if let Some(index) = q.index {
        view.wait_past(index, q.wait).await;
    }
    // The index is read before the caches: a change landing in between
    // shows up in the data and again in the next index, never lost.
    let index = view.index();
    let contents = view.contents();
    let mut snapshot = Snapshot {
        services: contents.services,
        ..Default::default()
    };
    for (id, node, status) in contents.nodes {
        if let Some(status) = status {
            snapshot.node_status.insert(id.clone(), status);
        }
        snapshot.nodes.insert(id, node);
    }
    Ok((index, snapshot))
}

pub const CONSUL_INDEX: &str = "x-consul-index";

/// A JSON answer with Consul's query-meta headers.
pub fn reply(index: i64, body: &impl serde::Serialize) -> Response {
    let mut response = axum::Json(body).into_response();
    let headers = response.headers_mut();
    let pairs = [
        (CONSUL_INDEX, index.max(1).to_string()),
        ("x-consul-knownleader", "true".to_string()),
        ("x-consul-lastcontact", "0".to_string()),
        ("x-consul-effective-consistency", "leader".to_string()),
    ];
    for (name, value) in pairs {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> ConsulResult<ConsulQuery> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        ConsulQuery::parse(&pairs)
    }

    #[test]
    fn parses_consul_parameters() {
        let p = q(&[
            ("tag", "a"),
            ("tag", "b"),
            ("passing", ""),
            ("dc", "dc1"),
            ("index", "12"),
            ("wait", "120000ms"),
            ("node-meta", "rack:r1"),
            ("stale", ""),
        ])
        .expect("parse");
        assert_eq!(p.selection.tags, ["a", "b"]);
        assert!(p.passing);
        assert_eq!(p.selection.datacenter.as_deref(), Some("dc1"));
        assert_eq!(p.selection.namespace.as_deref(), Some("default"));
        assert_eq!((p.index, p.wait), (Some(12), Duration::from_secs(120)));
        assert_eq!(p.selection.node_meta, [("rack".into(), "r1".into())]);
        let p = q(&[("ns", "*"), ("wait", "1h"), ("index", "0")]).expect("parse");
        assert_eq!(p.selection.namespace, None);
        assert_eq!((p.index, p.wait), (None, MAX_WAIT));
        assert!(!q(&[("passing", "false")]).expect("parse").passing);
        assert!(q(&[("wait", "soon")]).is_err());
        assert!(q(&[("index", "-3")]).is_err());
        assert!(q(&[("node-meta", "norack")]).is_err());
    }
}
