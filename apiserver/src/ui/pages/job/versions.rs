//! A job's versions, newest first: when each was submitted, whether its
//! deployment succeeded, what it changed from the one before, and a
//! button to run it again (revert) at the version now current.

use axum::extract::{Path, State};
use axum::response::Response;
use drover_api::versions::{JobVersion, JobVersions};
use drover_api_types::acl::Capability;
use maud::{html, Markup};

use super::super::parts::diff_block;
use super::super::{url_component, when, Viewer};
use super::header;
use crate::ui::calls::Ui;

/// The most versions the page shows (the store keeps a bounded history too).
const SHOWN: usize = 50;

pub async fn versions(
    State(ui): State<Ui>,
    viewer: Viewer,
    Path((namespace, name)): Path<(String, String)>,
) -> Response {
    let token = viewer.token();
    let path = format!(
        "/v1/job/{}/versions?diffs=true&namespace={}",
        url_component(&name),
        url_component(&namespace)
    );
    let list = match ui.get::<JobVersions>(token, &path).await {
        Ok(list) => list.versions,
        Err(e) => return viewer.error(&e),
    };
    let may_revert = ui
        .caller(token)
        .await
        .is_ok_and(|c| c.may(&namespace, Capability::SubmitJob));
    viewer.show(
        &format!("Versions of {name}"),
        "/ui/jobs",
        "versions",
        render_versions(&namespace, &name, &list, may_revert),
    )
}

/// The versions (pure), newest first; the first is the current one.
pub fn render_versions(
    namespace: &str,
    name: &str,
    list: &[JobVersion],
    may_revert: bool,
) -> Markup {
    let current = list.first().map(|v| v.version);
    let revert = format!(
        "/v1/job/{}/revert?namespace={}",
        url_component(name),
        url_component(namespace)
    );
    html! {
        (header(namespace, name, "/versions"))
        @for v in list.iter().take(SHOWN) {
            section.card aria-label=(format!("Version {}", v.version)) {
                h2 {
                    "Version " (v.version)
                    @if Some(v.version) == current { " " span.badge { "current" } }
                    @if v.stable { " " span.badge.stable { "stable" } }
                }
                p.muted { "submitted " (when(v.job.metadata.submit_time)) }
                @match &v.diff {
                    Some(diff) if diff.is_empty() => p.muted { "no change from the version before" },
                    Some(diff) => (diff_block(diff)),
                    None => p.muted { "the first version kept" },
                }
                @if may_revert && Some(v.version) != current {
                    @let body = serde_json::json!({ "job_version": v.version, "enforce_prior_version": current });
                    div.actions {
                        button type="button" data-method="POST" data-path=(revert)
                            data-body=(body.to_string())
                            data-confirm=(format!("Run version {} of {name} again?", v.version))
                            { "Revert to version " (v.version) }
                    }
                }
            }
        }
        @if list.len() > SHOWN {
            p.muted { (list.len() - SHOWN) " older versions not shown" }
        }
    }
}
