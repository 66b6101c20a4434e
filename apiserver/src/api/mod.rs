//! The REST API under `/v1`. Every handler validates its input with
//! api-types before anything is written, answers errors as JSON
//! (`{"error", "field"}`), and every read carries `X-Drover-Index` and
//! supports blocking queries (see [`query`]).
//!
//! # Layout
//! - [`acl`]: who a request comes from ([`acl::Caller`]) and `/v1/acl/…`.
//! - [`error`]: [`error::ApiError`], and how store errors map to statuses.
//! - [`feed`]: one shared watch of the key space — per-collection change
//!   revisions for blocking queries, a broadcast for the event stream.
//! - [`query`]: `namespace`, `index`, `wait`, and the index header.
//! - [`register`]: what registering a job means (pure).
//! - [`jobs`]: `/v1/jobs`, `/v1/job/{name}`.
//! - [`job_actions`]: `/v1/job/{name}/stop`, `/scale`, `/dispatch`, `DELETE /v1/job/{name}`.
//! - [`versions`]: `/v1/job/{name}/versions`, newest first.
//! - [`submission`]: `/v1/job/{name}/submission`, a version's file as
//!   submitted (kept with the version, credentials taken out).
//! - [`plan`]: `/v1/job/{name}/plan`, a dry run with diff and scheduler counts.
//! - [`extract`]: JSON body and query extractors whose rejections are JSON errors.
//! - [`allocs`]: `/v1/allocations`, `/v1/allocation/{id}` (+ `/stop`),
//!   `/v1/client/allocation/{id}/restart`.
//! - [`alloc_stats`]: `/v1/client/allocation/{id}/stats`, CPU and memory
//!   asked of the agent (Nomad's shape, the last minutes under `History`).
//! - [`logs`]: `/v1/allocation/{id}/logs/{task}`, proxied from the agent.
//! - [`exec`]: `/v1/client/allocation/{id}/exec`, a command in a task over
//!   a WebSocket, relayed to the agent.
//! - [`job_logs`]: `/v1/job/{name}/logs`, every running allocation's
//!   output interleaved, each line named.
//! - [`nodes`]: `/v1/nodes`, `/v1/node/{id}` (+ `/drain`, `/eligibility`).
//! - [`join`]: `/v1/node/join-tokens` and `/v1/node/join`: a node trades a
//!   join token for its own etcd user.
//! - [`scrape_token`]: `/v1/operator/scrape-token` (+ `/rotate`): the token
//!   metrics scrapers present to agents; the gate of the server's `/metrics`.
//! - [`namespaces`]: namespaces as objects, `/v1/namespaces`,
//!   `/v1/namespace/{name}`; what a new job needs of its namespace.
//! - [`events`]: `/v1/event/stream`, newline-delimited JSON.
//! - [`route`]: how a module defines a route — served and described in
//!   one step.
//! - [`openapi`]: `/v1/openapi.json`, from those descriptions.
//! - [`consul`]: the Consul-compatible catalog, health, agent and KV
//!   endpoints (Consul's shapes, headers and plain-text errors).
//! - [`services`]: Nomad's native `/v1/services`, `/v1/service/{name}`.
//! - [`deployments`]: `/v1/deployments`, `/v1/deployment/{id}`,
//!   `/v1/job/{name}/deployments` and `/v1/job/{name}/deployment`.
//! - [`deployment_actions`]: `/v1/deployment/{id}/promote`, `/fail`,
//!   `/pause`, `/allocation-health` (operators' intent).
//! - `views`: the allocation and node views those answer with — like every
//!   request and answer body, defined in the `drover-api` crate (the wire
//!   contract and its typed client); the handler modules re-export theirs.
//!
//! Only [`ApiState`], [`routes`] and [`scrape_token::ensure`] are public:
//! `drover server` needs nothing else, and the handlers are the API's
//! business.

pub(crate) mod acl;
pub(crate) mod alloc_stats;
pub(crate) mod allocs;
pub(crate) mod children;
pub(crate) mod consul;
pub use consul::kv_usage::KvLimits;
pub(crate) mod deployment_actions;
pub(crate) mod deployments;
pub(crate) mod error;
pub(crate) mod events;
pub(crate) mod exec;
pub(crate) mod extract;
pub(crate) mod feed;
pub(crate) mod job_actions;
pub(crate) mod job_logs;
pub(crate) mod jobs;
pub(crate) mod join;
pub(crate) mod logs;
pub(crate) mod namespaces;
pub(crate) mod nodes;
pub(crate) mod openapi;
pub(crate) mod plan;
pub(crate) mod query;
pub(crate) mod register;
pub(crate) mod route;
pub mod scrape_token;
pub(crate) mod services;
pub(crate) mod submission;
pub(crate) mod versions;
pub use drover_api::views;

use axum::Router;
use drover_store::Store;

/// What every handler reads.
#[derive(Clone)]
pub struct ApiState {
    pub store: Store,
    pub feed: feed::Feed,
    /// Services and nodes in memory, for the catalog API and DNS.
    pub catalog: crate::catalog_view::CatalogView,
    /// How many allocations a job may ask for (`--max-group-count`,
    /// `--max-job-allocations`).
    pub limits: drover_api_types::validate::JobLimits,
    /// Tokens and policies when ACLs are on (`--acl`); `None`: everyone
    /// may do anything.
    pub acl: Option<acl::AclState>,
    /// Where changes and refusals are written (`--audit-log`).
    pub audit: Option<crate::audit::AuditLog>,
    /// How the server reaches agents (task logs): with the server's TLS
    /// settings when it has them; `None`, plain HTTP.
    pub agents: Option<reqwest::Client>,
    /// The same TLS settings for the exec WebSocket to agents; `None`: the
    /// system's roots only.
    pub agent_tls: Option<std::sync::Arc<rustls::ClientConfig>>,
    /// One permit per exec session this server relays.
    pub exec_sessions: std::sync::Arc<tokio::sync::Semaphore>,
    /// How much the KV holds, and its caps.
    pub kv_usage: consul::kv_usage::KvUsage,
    pub kv_limits: consul::kv_usage::KvLimits,
    /// The scrape token's digest as last read, for the server's `/metrics`.
    pub scrape_digest: std::sync::Arc<drover_serve::scrape_token::DigestCache>,
}

impl ApiState {
    /// Starts the shared watch and the catalog view; call inside the runtime.
    pub fn new(store: Store) -> ApiState {
        let feed = feed::Feed::start(&store);
        let catalog = crate::catalog_view::CatalogView::start(&store);
        let kv_usage = consul::kv_usage::KvUsage::start(&store);
        ApiState {
            kv_usage,
            kv_limits: Default::default(),
            store,
            feed,
            catalog,
            limits: Default::default(),
            acl: None,
            audit: None,
            agents: None,
            agent_tls: None,
            exec_sessions: exec::slots(),
            scrape_digest: Default::default(),
        }
    }

    /// The same state reaching agents that serve TLS with these files:
    /// trusting their CA and presenting the server's certificate.
    pub fn with_agent_tls(
        mut self,
        files: &drover_api::client::TlsFiles,
    ) -> Result<ApiState, drover_api::ClientError> {
        let client = files
            .client_builder()?
            .connect_timeout(logs::CONNECT_TIMEOUT)
            .build()
            .map_err(|e| drover_api::ClientError::Tls(e.to_string()))?;
        self.agents = Some(client);
        self.agent_tls = Some(files.rustls_config()?);
        Ok(self)
    }

    /// The same state writing an audit log.
    pub fn with_audit(mut self, log: crate::audit::AuditLog) -> ApiState {
        self.audit = Some(log);
        self
    }

    /// The same state with ACLs on; call inside the runtime.
    pub fn with_acl(mut self) -> ApiState {
        self.acl = Some(acl::AclState::start(&self.store));
        self
    }

    /// The same state under the server's own KV caps.
    pub fn with_kv_limits(mut self, limits: consul::kv_usage::KvLimits) -> ApiState {
        self.kv_limits = limits;
        self
    }

    /// The same state under the server's own job limits.
    pub fn with_limits(mut self, limits: drover_api_types::validate::JobLimits) -> ApiState {
        self.limits = limits;
        self
    }
}

/// Every `/v1` route, served.
pub fn routes(state: ApiState) -> Router {
    let (router, _) = all().into_parts();
    router
        .fallback(unknown_route)
        .method_not_allowed_fallback(wrong_method)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            acl::authenticate,
        ))
        .layer(axum::extract::DefaultBodyLimit::max(extract::MAX_BODY))
        .with_state(state)
}

/// Every `/v1` route, described.
pub(crate) fn described() -> Vec<route::Route> {
    all().into_parts().1
}

fn all() -> route::Routes {
    route::Routes::new("")
        .merge(jobs::routes())
        .merge(job_actions::routes())
        .merge(children::routes())
        .merge(versions::routes())
        .merge(submission::routes())
        .merge(plan::routes())
        .merge(allocs::routes())
        .merge(alloc_stats::routes())
        .merge(logs::routes())
        .merge(job_logs::routes())
        .merge(exec::routes())
        .merge(nodes::routes())
        .merge(join::routes())
        .merge(scrape_token::routes())
        .merge(namespaces::routes())
        .merge(events::routes())
        .merge(openapi::routes())
        .merge(consul::routes())
        .merge(services::routes())
        .merge(deployments::routes())
        .merge(deployment_actions::routes())
        .merge(acl::routes::routes())
}

async fn unknown_route(uri: axum::http::Uri) -> error::ApiError {
    error::ApiError::not_found(format!(
        "no route {}; /v1/openapi.json lists them",
        uri.path()
    ))
}

async fn wrong_method(method: axum::http::Method, uri: axum::http::Uri) -> error::ApiError {
    error::ApiError::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        format!(
            "{method} is not allowed on {}; /v1/openapi.json lists the methods",
            uri.path()
        ),
    )
}
