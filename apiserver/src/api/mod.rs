//! The REST API under `/v1`. Every handler validates its input with
//! api-types before anything is written, answers errors as JSON
//! (`{"error", "field"}`), and every read carries `X-Drover-Index` and
//! supports blocking queries (see [`query`]).
//!
//! # Layout
//! - [`error`]: [`error::ApiError`], and how store errors map to statuses.
//! - [`feed`]: one shared watch of the key space — per-collection change
//!   revisions for blocking queries, a broadcast for the event stream.
//! - [`query`]: `namespace`, `index`, `wait`, and the index header.
//! - [`register`]: what registering a job means (pure).
//! - [`jobs`]: `/v1/jobs`, `/v1/job/{name}`.

pub mod error;
pub mod feed;
pub mod jobs;
pub mod query;
pub mod register;

use axum::Router;
use drover_store::Store;

/// What every handler reads.
#[derive(Clone)]
pub struct ApiState {
    pub store: Store,
    pub feed: feed::Feed,
}

impl ApiState {
    /// Starts the shared watch; call inside the runtime.
    pub fn new(store: Store) -> ApiState {
        let feed = feed::Feed::start(&store);
        ApiState { store, feed }
    }
}

/// Every `/v1` route.
pub fn routes(state: ApiState) -> Router {
    Router::new().merge(jobs::routes()).with_state(state)
}
