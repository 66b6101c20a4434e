//! A job's definition: the file it was submitted as (HCL or YAML, with
//! its variables) when it came with one, its spec as a manifest `drover
//! apply` and the editor take back, and as the API's JSON.

use axum::extract::{Path, State};
use axum::response::Response;
use drover_api::jobs::{Submission, SubmissionResponse};
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
        Ok(job) => {
            let submitted = submitted(&ui, viewer.token(), &job).await;
            viewer.show(
                &format!("Definition of {name}"),
                "/ui/jobs",
                "job",
                render_definition(&job, submitted.as_ref()),
            )
        }
        Err(e) => viewer.error(&e),
    }
}

/// The file `job`'s current version was submitted as, if it came with one.
pub async fn submitted(ui: &Ui, token: Option<&str>, job: &Job) -> Option<Submission> {
    let path = format!(
        "/v1/job/{}/submission?namespace={}&version={}",
        url_component(&job.metadata.name),
        url_component(&job.metadata.namespace),
        job.metadata.version
    );
    ui.get::<SubmissionResponse>(token, &path)
        .await
        .ok()
        .map(|r| r.submission)
}

/// The `--var` flags of a submission as the editor's `name=value` lines.
pub fn variable_lines(submission: &Submission) -> String {
    submission
        .variable_flags
        .iter()
        .map(|(k, v)| format!("{k}={v}\n"))
        .collect()
}

/// The definition (pure): registry passwords are never shown.
pub fn render_definition(job: &Job, submitted: Option<&Submission>) -> Markup {
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
        @if let Some(file) = submitted {
            h2 { "As submitted" }
            p.muted {
                "Version " (job.metadata.version) "'s file (" (file.format) "), as "
                code { "drover apply" } " or the editor sent it; registry credentials read "
                code { "<redacted>" } "."
            }
            pre.code { (file.source) }
            @if !file.variable_flags.is_empty() {
                h3 { "Variables (" code { "--var" } ")" }
                pre.code { (variable_lines(file)) }
            }
            @if !file.variables.is_empty() {
                h3 { "Variable files (" code { "--var-file" } ")" }
                pre.code { (file.variables) }
            }
        } @else {
            p.muted { "Version " (job.metadata.version) " was registered without its file (through the API, a scale, a stop or a controller)." }
        }
        h2 { "Manifest" }
        p.muted { "What " code { "drover apply -f" } " takes back (HCL files are applied as their spec, which this is)." }
        pre.code { (manifest(job)) }
        h2 { "JSON" }
        pre.code { (json) }
    }
}
