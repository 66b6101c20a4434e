//! One job's pages, each with its own URL under `/ui/job/{ns}/{name}`:
//! the summary (groups, deployments, children, allocations, the levers),
//! what happened to it, its versions with their diffs, its logs and its
//! definition.
//!
//! - [`summary`]: the job now.
//! - [`versions`]: every stored version, each with its diff and a revert
//!   button.
//! - [`definition`]: the spec as a manifest to edit, and as JSON.
//! - [`logs`]: every running allocation's output, interleaved.
//! - [`timeline`]: what happened to the job, newest first, each linked.

pub(crate) mod definition;
pub(crate) mod logs;
pub(crate) mod summary;
pub(crate) mod timeline;
pub(crate) mod versions;

use maud::{html, Markup};

use drover_api_types::Job;

use super::url_component;
use crate::ui::calls::{CallError, Ui};

/// The job's pages, in tab order: (path suffix, label).
const TABS: [(&str, &str); 5] = [
    ("", "Summary"),
    ("/timeline", "What happened"),
    ("/versions", "Versions"),
    ("/logs", "Logs"),
    ("/definition", "Definition"),
];

/// The job as the visitor's token may read it.
pub async fn read_job(
    ui: &Ui,
    token: Option<&str>,
    namespace: &str,
    name: &str,
) -> Result<Job, CallError> {
    let path = format!(
        "/v1/job/{}?namespace={}",
        url_component(name),
        url_component(namespace)
    );
    ui.get::<Job>(token, &path).await
}

/// `/ui/job/{ns}/{name}`, the base of the job's pages.
pub fn job_url(namespace: &str, name: &str) -> String {
    format!(
        "/ui/job/{}/{}",
        url_component(namespace),
        url_component(name)
    )
}

/// The job's heading and its tabs, `current` (a path suffix) marked.
pub fn header(namespace: &str, name: &str, current: &str) -> Markup {
    let base = job_url(namespace, name);
    html! {
        h1 { "Job " (name) @if namespace != "default" { " " span.muted { "in " (namespace) } } }
        nav.tabs aria-label="Job" {
            @for (suffix, label) in TABS {
                @if suffix == current {
                    a href=(format!("{base}{suffix}")) aria-current="page" { (label) }
                } @else {
                    a href=(format!("{base}{suffix}")) { (label) }
                }
            }
        }
    }
}
