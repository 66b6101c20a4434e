//! `GET /v1/event/stream`: every change to jobs, allocations, nodes,
//! deployments and services as newline-delimited JSON, from the shared
//! feed. One line per change:
//!
//! ```json
//! {"topic":"Allocation","type":"upsert","key":"<id>","namespace":"default",
//!  "collection":"allocations-status","revision":42,"payload":{...}}
//! ```
//!
//! `topic=Job` (repeatable; `Topic:key` narrows to one key, `*` is every
//! topic) chooses what is sent; no topic means all. `namespace` filters
//! namespaced topics as reads do (default `default`, `*` for all); nodes
//! have none. A `{}` line every [`HEARTBEAT`] keeps proxies from closing an
//! idle stream. A subscriber that falls too far behind is sent
//! `{"error": ...}` and the stream ends: it must re-read and resubscribe.

use std::convert::Infallible;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use drover_api_types::acl::{Acl, Capability, Level};
use drover_store::keys::collections as c;
use serde::Serialize;
use tokio::sync::broadcast::error::RecvError;

use super::acl::Caller;
use super::error::{ApiError, ApiResult};
use super::feed::FeedChange;
use super::openapi as schema;
use super::query::DEFAULT_NAMESPACE;
use super::route::{Need, Produces, Route, Routes};
use super::ApiState;

pub const HEARTBEAT: Duration = Duration::from_secs(10);

pub const TOPICS: &[&str] = &["Job", "Allocation", "Node", "Deployment", "Service"];

pub(crate) fn routes() -> Routes {
    Routes::new("events").add(
        Route::get(
            "/v1/event/stream",
            "Stream changes as newline-delimited JSON",
        )
        .query(&["topic", "namespace"])
        .produces(Produces::NdJson)
        .answers(schema::one::<Event>)
        .needs(Need::Token),
        stream,
    )
}

/// The topic of a collection (pure); `None` for what is not streamed
/// (job versions, indexes, leases of the election).
pub fn topic_of(collection: &str) -> Option<&'static str> {
    match collection {
        c::JOBS | c::JOBS_STATUS => Some("Job"),
        c::ALLOCATIONS | c::ALLOCATIONS_BINDING | c::ALLOCATIONS_STATUS => Some("Allocation"),
        c::NODES | c::NODES_STATUS | c::NODES_ADMIN | c::NODES_HEARTBEAT => Some("Node"),
        c::DEPLOYMENTS => Some("Deployment"),
        c::SERVICES => Some("Service"),
        _ => None,
    }
}

pub use drover_api::events::Event;

/// The event of a change (pure); `None` when no topic covers it.
pub fn event_of(change: &FeedChange) -> Option<Event> {
    let topic = topic_of(&change.collection)?;
    let (namespace, key) = match change.segments.as_slice() {
        [id] => (None, id.clone()),
        [ns, name] => (Some(ns.clone()), name.clone()),
        // A status sits under its node: `<node>/<ns>/<id>`.
        [_node, ns, name] if change.collection == c::ALLOCATIONS_STATUS => {
            (Some(ns.clone()), name.clone())
        }
        _ => return None,
    };
    let mut payload = match &change.value {
        Some(bytes) => serde_json::from_slice(bytes).unwrap_or(serde_json::Value::Null),
        None => serde_json::Value::Null,
    };
    if change.collection == c::JOBS {
        drover_api_types::redact::job_json(&mut payload);
    }
    Some(Event {
        topic: topic.into(),
        event_type: if change.value.is_some() {
            "upsert"
        } else {
            "delete"
        }
        .into(),
        key,
        namespace,
        collection: change.collection.clone(),
        revision: change.revision,
        payload,
    })
}

/// What a subscriber asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    /// `(topic, key)`; empty means every topic; a `None` key every key.
    pub topics: Vec<(String, Option<String>)>,
    /// `None`: every namespace.
    pub namespace: Option<String>,
}

impl Filter {
    /// Parses the query pairs (pure).
    pub fn parse(pairs: &[(String, String)]) -> ApiResult<Filter> {
        let mut filter = Filter {
            topics: Vec::new(),
            namespace: Some(DEFAULT_NAMESPACE.to_string()),
        };
        for (k, v) in pairs {
            match k.as_str() {
                "topic" => {
                    let (topic, key) = match v.split_once(':') {
                        Some((t, "*")) => (t, None),
                        Some((t, key)) => (t, Some(key.to_string())),
                        None => (v.as_str(), None),
                    };
                    if topic != "*" && !TOPICS.contains(&topic) {
                        return Err(ApiError::bad_request(format!(
                            "unknown topic {topic:?}; topics: {}",
                            TOPICS.join(", ")
                        ))
                        .at("topic"));
                    }
                    filter.topics.push((topic.to_string(), key));
                }
                "namespace" => {
                    filter.namespace = match v.as_str() {
                        "*" => None,
                        "" => Some(DEFAULT_NAMESPACE.to_string()),
                        ns => Some(ns.to_string()),
                    }
                }
                // Blocking-query parameters mean nothing to a stream.
                "index" | "wait" => {}
                other => {
                    return Err(ApiError::bad_request(format!(
                        "unknown parameter {other:?} (expected topic, namespace)"
                    ))
                    .at(other))
                }
            }
        }
        Ok(filter)
    }

    pub fn wants(&self, event: &Event) -> bool {
        let ns_ok = match (&self.namespace, &event.namespace) {
            (Some(want), Some(ns)) => want == ns,
            _ => true,
        };
        let topic_ok = self.topics.is_empty()
            || self.topics.iter().any(|(t, key)| {
                (t == "*" || *t == event.topic) && key.as_ref().is_none_or(|k| *k == event.key)
            });
        ns_ok && topic_ok
    }
}

fn line(value: &impl Serialize) -> Bytes {
    let mut bytes = serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec());
    bytes.push(b'\n');
    Bytes::from(bytes)
}

/// Whether `acl` may see `event` (pure): nodes need node read, the rest
/// read-job in their namespace.
pub fn visible(acl: &Acl, event: &Event) -> bool {
    match (event.topic.as_str(), event.namespace.as_deref()) {
        ("Node", _) => acl.node(Level::Read),
        (_, Some(ns)) => acl.allows(ns, Capability::ReadJob),
        (_, None) => acl.is_management(),
    }
}

async fn stream(
    State(state): State<ApiState>,
    caller: Caller,
    Query(pairs): Query<Vec<(String, String)>>,
) -> ApiResult<Response> {
    let filter = Filter::parse(&pairs)?;
    let acl = caller.acl;
    let rx = state.feed.subscribe();
    let mut ticker = tokio::time::interval(HEARTBEAT);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The first tick is immediate: it tells the client the stream is open.
    let body = futures::stream::unfold(Some((rx, ticker, filter, acl)), |st| async move {
        let (mut rx, mut ticker, filter, acl) = st?;
        loop {
            tokio::select! {
                _ = ticker.tick() => {
                    return Some((Ok::<_, Infallible>(Bytes::from_static(b"{}\n")), Some((rx, ticker, filter, acl))));
                }
                change = rx.recv() => match change {
                    Ok(change) => {
                        let wanted = event_of(&change).filter(|e| filter.wants(e) && visible(&acl, e));
                        if let Some(event) = wanted {
                            return Some((Ok(line(&event)), Some((rx, ticker, filter, acl))));
                        }
                    }
                    Err(RecvError::Lagged(missed)) => {
                        let error = serde_json::json!({
                            "error": format!("the stream fell {missed} events behind; re-read and subscribe again")
                        });
                        return Some((Ok(line(&error)), None));
                    }
                    Err(RecvError::Closed) => return None,
                }
            }
        }
    });
    Ok((
        [
            (header::CONTENT_TYPE, "application/x-ndjson"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        Body::from_stream(body),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn change(collection: &str, segments: &[&str], value: Option<&str>) -> FeedChange {
        FeedChange {
            collection: collection.into(),
            segments: segments.iter().map(|s| s.to_string()).collect(),
            revision: 9,
            value: value.map(|v| Arc::new(v.as_bytes().to_vec())),
        }
    }

    #[test]
    fn collections_map_to_topics() {
        assert_eq!(topic_of("jobs-status"), Some("Job"));
        assert_eq!(topic_of("allocations-binding"), Some("Allocation"));
        assert_eq!(topic_of("nodes-admin"), Some("Node"));
        assert_eq!(topic_of("services"), Some("Service"));
        assert_eq!(topic_of("deployments"), Some("Deployment"));
        assert_eq!(topic_of("node-allocs"), None);
        assert_eq!(topic_of("jobs-versions"), None);
        assert_eq!(topic_of("leaders"), None);
    }

    #[test]
    fn a_change_becomes_an_event_with_its_key_and_payload() {
        let e = event_of(&change(
            "allocations-status",
            &["prod", "a1"],
            Some(r#"{"x":1}"#),
        ))
        .expect("event");
        assert_eq!(
            (e.topic.as_str(), e.event_type.as_str(), e.key.as_str()),
            ("Allocation", "upsert", "a1")
        );
        assert_eq!(e.namespace.as_deref(), Some("prod"));
        assert_eq!(e.payload, serde_json::json!({"x": 1}));
        let d = event_of(&change("nodes", &["n1"], None)).expect("event");
        assert_eq!(
            (d.event_type.as_str(), d.namespace.as_deref()),
            ("delete", None)
        );
        assert_eq!(d.payload, serde_json::Value::Null);
        assert!(event_of(&change("node-allocs", &["n1", "ns", "a"], None)).is_none());
    }

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn filters_choose_topics_keys_and_namespaces() {
        let job = event_of(&change("jobs", &["default", "web"], Some("{}"))).expect("job");
        let other_ns = event_of(&change("jobs", &["prod", "web"], Some("{}"))).expect("job");
        let node = event_of(&change("nodes", &["n1"], Some("{}"))).expect("node");
        let all = Filter::parse(&[]).expect("ok");
        assert!(all.wants(&job) && all.wants(&node) && !all.wants(&other_ns));
        let f = Filter::parse(&pairs(&[("topic", "Job:web"), ("namespace", "*")])).expect("ok");
        assert!(f.wants(&job) && f.wants(&other_ns) && !f.wants(&node));
        let f = Filter::parse(&pairs(&[("topic", "Job:api")])).expect("ok");
        assert!(!f.wants(&job));
        let f = Filter::parse(&pairs(&[("topic", "Node"), ("namespace", "prod")])).expect("ok");
        assert!(f.wants(&node) && !f.wants(&job));
        let e = Filter::parse(&pairs(&[("topic", "Jobs")])).expect_err("unknown");
        assert_eq!(e.field.as_deref(), Some("topic"));
    }
}
