//! The web UI at `/ui`, served by every server on the API port.
//!
//! Pages are rendered on the server (maud) from the same API a CLI user
//! calls: each page asks the `/v1` routes in process, carrying the
//! visitor's token, so what a page shows is exactly what that token may
//! read, checked by the same code. The token lives in an `HttpOnly`,
//! `SameSite=Strict` cookie set by the token page; scripts never see it.
//!
//! # Layout
//! - [`calls`]: the in-process calls to the API, with the visitor's token.
//! - [`act`]: what a page's buttons send, passed on to the API as the
//!   visitor.
//! - [`layout`]: the page shell (navigation, embedded CSS and script).
//! - [`pages`]: the views (overview, jobs, a job, an allocation, nodes), each a pure
//!   render of what the API answered.
//! - [`session`]: the token page and cookie.
//! - [`live`]: the event stream that tells an open page to refresh its
//!   `<main>` when what it shows changes.
//! - [`streams`]: a task's output as it comes and a command run in a
//!   task, passed through to the API as the visitor.

pub(crate) mod act;
pub(crate) mod calls;
pub(crate) mod layout;
pub(crate) mod live;
pub(crate) mod pages;
pub(crate) mod session;
pub(crate) mod streams;

use axum::routing::get;
use axum::Router;

use crate::api::ApiState;

/// The UI's routes over `api` (the same state the `/v1` routes use).
pub fn routes(api: ApiState) -> Router {
    let ui = calls::Ui::new(api);
    Router::new()
        .route("/ui", get(pages::overview::overview))
        .route("/ui/", get(pages::overview::overview))
        .route("/ui/jobs", get(pages::jobs::jobs))
        .route("/ui/job/{namespace}/{name}", get(pages::job::summary::job))
        .route(
            "/ui/job/{namespace}/{name}/versions",
            get(pages::job::versions::versions),
        )
        .route(
            "/ui/job/{namespace}/{name}/timeline",
            get(pages::job::timeline::timeline),
        )
        .route(
            "/ui/job/{namespace}/{name}/logs",
            get(pages::job::logs::logs),
        )
        .route(
            "/ui/job/{namespace}/{name}/definition",
            get(pages::job::definition::definition),
        )
        .route("/ui/nodes", get(pages::nodes::nodes))
        .route("/ui/topology", get(pages::topology::topology))
        .route("/ui/node/{id}", get(pages::nodes::node))
        .route("/ui/deployments", get(pages::deployments::deployments))
        .route("/ui/services", get(pages::services::services))
        .route("/ui/service/{name}", get(pages::services::service))
        .route("/ui/alloc/{id}", get(pages::allocs::alloc))
        .route("/ui/alloc-usage/{namespace}/{id}", get(pages::usage::panel))
        .route("/ui/run", get(pages::run::editor))
        .route("/ui/search", get(pages::search::search))
        .route("/ui/plan", axum::routing::post(pages::run::plan))
        .route(
            "/ui/token",
            get(session::token_page)
                .post(session::sign_in)
                .delete(session::sign_out),
        )
        .route("/ui/live", get(live::live))
        .route("/ui/logs/{alloc}/{task}", get(streams::logs))
        .route("/ui/job-logs/{namespace}/{job}", get(streams::job_logs))
        .route("/ui/exec/{alloc}", get(streams::exec))
        .route("/ui/act", axum::routing::post(act::act))
        .route("/ui/static/app.css", get(layout::stylesheet))
        .route("/ui/static/app.js", get(layout::script))
        .route("/ui/{*rest}", get(pages::not_found))
        .with_state(ui)
}
