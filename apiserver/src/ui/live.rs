//! Live pages: `GET /ui/live?page=jobs` is a server-sent event stream that
//! says `changed` whenever a collection the page renders from changes; the
//! page's script then fetches its own URL again (`X-Drover-Fragment`: the
//! `<main>` part only) and swaps it in. The stream carries revisions, never
//! data, so it shows nothing a page would not.

use std::convert::Infallible;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use drover_store::keys::collections as c;

use super::calls::{Ui, Visitor};

/// Which collections each live page renders from.
pub fn collections_of(page: &str) -> Option<&'static [&'static str]> {
    const OVERVIEW: &[&str] = &[
        c::NODES,
        c::NODES_STATUS,
        c::ALLOCATIONS,
        c::ALLOCATIONS_STATUS,
        c::ALLOCATIONS_BINDING,
        c::JOBS,
        c::JOBS_STATUS,
    ];
    const JOBS: &[&str] = &[c::JOBS, c::JOBS_STATUS];
    const JOB: &[&str] = &[
        c::JOBS,
        c::JOBS_STATUS,
        c::ALLOCATIONS,
        c::ALLOCATIONS_STATUS,
        c::ALLOCATIONS_BINDING,
        c::DEPLOYMENTS,
        c::DEPLOYMENTS_ADMIN,
    ];
    const VERSIONS: &[&str] = &[c::JOBS, c::JOBS_VERSIONS, c::JOBS_STABLE];
    const TIMELINE: &[&str] = &[
        c::JOBS_VERSIONS,
        c::JOBS_STABLE,
        c::ALLOCATIONS,
        c::ALLOCATIONS_STATUS,
        c::ALLOCATIONS_BINDING,
        c::DEPLOYMENTS,
        c::DEPLOYMENTS_ADMIN,
    ];
    const NODES: &[&str] = &[
        c::NODES,
        c::NODES_STATUS,
        c::NODES_ADMIN,
        c::ALLOCATIONS_BINDING,
        c::ALLOCATIONS_STATUS,
    ];
    const DEPLOYMENTS: &[&str] = &[c::DEPLOYMENTS, c::DEPLOYMENTS_ADMIN];
    const SERVICES: &[&str] = &[c::SERVICES];
    match page {
        "overview" => Some(OVERVIEW),
        "jobs" => Some(JOBS),
        "job" | "alloc" => Some(JOB),
        "versions" => Some(VERSIONS),
        "timeline" => Some(TIMELINE),
        "nodes" => Some(NODES),
        "deployments" => Some(DEPLOYMENTS),
        "services" => Some(SERVICES),
        _ => None,
    }
}

/// A comment line, so proxies and the browser see the stream is alive.
const KEEPALIVE: Duration = Duration::from_secs(20);
/// Changes closer together than this are one refresh.
const COALESCE: Duration = Duration::from_millis(250);

#[derive(Debug, serde::Deserialize)]
pub struct LiveQuery {
    pub page: String,
}

pub async fn live(
    State(ui): State<Ui>,
    visitor: Visitor,
    Query(query): Query<LiveQuery>,
) -> Response {
    let Some(collections) = collections_of(&query.page) else {
        return (StatusCode::NOT_FOUND, "no such live page").into_response();
    };
    if ui.acl {
        let known = match visitor.0.as_deref() {
            Some(token) => ui.caller(Some(token)).await.is_ok(),
            None => false,
        };
        if !known {
            return (StatusCode::FORBIDDEN, "sign in at /ui/token").into_response();
        }
    }
    let feed = ui.feed.clone();
    let start = feed.revisions().latest(collections);
    // The first item opens the stream at once (and tells the script the
    // retry delay), then one `changed` per burst of changes.
    let opening = Bytes::from_static(b"retry: 2000\n\n");
    let body = futures::stream::unfold((Some(opening), start), move |(opening, seen)| {
        let feed = feed.clone();
        async move {
            if let Some(first) = opening {
                return Some((Ok::<_, Infallible>(first), (None, seen)));
            }
            if !feed.wait_past(collections, seen, KEEPALIVE).await {
                return Some((Ok(Bytes::from_static(b": alive\n\n")), (None, seen)));
            }
            tokio::time::sleep(COALESCE).await;
            let now = feed.revisions().latest(collections);
            let event = format!("event: changed\ndata: {now}\n\n");
            Some((Ok(Bytes::from(event)), (None, now)))
        }
    });
    (
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        Body::from_stream(body),
    )
        .into_response()
}
