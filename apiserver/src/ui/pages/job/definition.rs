//! A job's definition: its spec as a manifest `drover apply` and the
//! editor take back, and as the API's JSON.

use axum::extract::{Path, State};
use axum::response::Response;
use drover_api_types::Job;
use maud::{html, Markup};

use super::super::parts::manifest;
use super::super::{url_component, Viewer};
use super::{header, read_job};
use crate::ui::calls::Ui;

pub async fn definition(
    State(ui): State<Ui>,
    viewer: Viewer,
    Path((namespace, name)): Path<(String, String)>,
) -> Response {
    match read_job(&ui, viewer.token(), &namespace, &name).await {
        Ok(job) => viewer.show(
            &format!("Definition of {name}"),
            "/ui/jobs",
            "job",
            render_definition(&job),
        ),
        Err(e) => viewer.error(&e),
    }
}

/// The definition (pure): registry passwords are never shown.
pub fn render_definition(job: &Job) -> Markup {
    let mut shown = job.clone();
    drover_api_types::redact::job(&mut shown);
    let json = serde_json::to_string_pretty(&shown).unwrap_or_default();
    let ns = &job.metadata.namespace;
    let name = &job.metadata.name;
    html! {
        (header(ns, name, "/definition"))
        p {
            a.button href=(format!("/ui/run?namespace={}&job={}", url_component(ns), url_component(name))) { "Edit" }
        }
        h2 { "Manifest" }
        p.muted { "What " code { "drover apply -f" } " takes back (HCL files are applied as their spec, which this is)." }
        pre.code { (manifest(job)) }
        h2 { "JSON" }
        pre.code { (json) }
    }
}
