//! Run a job: paste or edit a job file (HCL or YAML), see what `plan`
//! says registering it would do (the diff, each group's changes, what the
//! scheduler could not place), then run it with the plan's check-index so
//! nothing that changed in between is overwritten.
//!
//! The file is parsed here, on the server, by the same parser `drover
//! apply` runs, except that `file()` may not read this server's disk.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use drover_api::jobs::Submission;
use drover_api::plan::PlanResponse;
use drover_api_types::acl::Capability;
use drover_api_types::jobspec::{self, FileAccess, ParseOptions};
use drover_api_types::Job;
use maud::{html, Markup};

use super::job::definition::{submitted, variable_lines};
use super::parts::{diff_block, manifest, placement_failures};
use super::{url_component, Viewer};
use crate::ui::calls::{CallError, Ui, Visitor};
use crate::ui::layout::{html_response, table};

/// The largest job file the editor takes (Nomad's own examples are a few
/// KB; the API's body limit is larger, but a page is not a bulk loader).
pub const MAX_SOURCE: usize = 256 << 10;
/// The most `name=value` variables the editor passes.
pub const MAX_VARIABLES: usize = 256;

/// What the editor opens with when no job is named.
const EXAMPLE: &str = r#"job "example" {
  datacenters = ["*"]

  group "web" {
    count = 1

    network {
      port "http" {}
    }

    task "server" {
      driver = "docker"

      config {
        image = "busybox:stable"
        command = "httpd"
        args    = ["-f", "-p", "${NOMAD_PORT_http}"]
        ports   = ["http"]
      }

      resources {
        cpu    = 100
        memory = 64
      }
    }
  }
}
"#;

#[derive(Debug, Default, serde::Deserialize)]
pub struct EditQuery {
    pub namespace: Option<String>,
    /// A job to edit: the editor opens with its current spec.
    pub job: Option<String>,
}

pub async fn editor(
    State(ui): State<Ui>,
    viewer: Viewer,
    Query(query): Query<EditQuery>,
) -> Response {
    let opened = match &query.job {
        None => Ok((EXAMPLE.to_string(), String::new())),
        Some(name) => {
            let ns = url_component(query.namespace.as_deref().unwrap_or("default"));
            let path = format!("/v1/job/{}?namespace={ns}", url_component(name));
            match ui.get::<Job>(viewer.token(), &path).await {
                // The file as submitted when there is one, else the manifest.
                Ok(job) => Ok(match submitted(&ui, viewer.token(), &job).await {
                    Some(file) => (file.source.clone(), variable_lines(&file)),
                    None => (manifest(&job), String::new()),
                }),
                Err(e) => Err(e),
            }
        }
    };
    match opened {
        Ok((source, variables)) => {
            viewer.show_still("Run a job", "/ui/run", render_editor(&source, &variables))
        }
        Err(e) => viewer.error(&e),
    }
}

/// The editor (pure): the file, its variables, and where the plan goes.
pub fn render_editor(source: &str, variables: &str) -> Markup {
    html! {
        h1 { "Run a job" }
        form.editor {
            label for="source" { "Job file (Nomad HCL or drover YAML)" }
            textarea id="source" name="source" rows="24" spellcheck="false"
                autocomplete="off" maxlength=(MAX_SOURCE) { (source) }
            label for="variables" { "Variables, one " code { "name=value" } " per line (as " code { "--var" } ")" }
            textarea id="variables" name="variables" rows="2" spellcheck="false" autocomplete="off" { (variables) }
            div.actions { button type="submit" { "Plan" } }
        }
        section id="plan" aria-label="Plan" aria-live="polite" {}
    }
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanAsk {
    pub source: String,
    #[serde(default)]
    pub variables: String,
}

/// `POST /ui/plan`: the plan of the pasted file, as HTML for the editor.
pub async fn plan(State(ui): State<Ui>, visitor: Visitor, Json(ask): Json<PlanAsk>) -> Response {
    let job = match parse(&ask) {
        Ok(job) => job,
        Err(errors) => {
            return (
                StatusCode::UNPROCESSABLE_ENTITY,
                html_response(render_errors(&errors)),
            )
                .into_response()
        }
    };
    let token = visitor.0.as_deref();
    let ns = job.metadata.namespace.clone();
    let path = format!(
        "/v1/job/{}/plan?namespace={}",
        url_component(&job.metadata.name),
        url_component(&ns)
    );
    let body = serde_json::json!({ "job": &job });
    let planned: Result<PlanResponse, CallError> = ui
        .call(axum::http::Method::POST, token, &path, Some(body))
        .await;
    match planned {
        Ok(plan) => {
            let may_run = ui
                .caller(token)
                .await
                .is_ok_and(|c| c.may(&ns, Capability::SubmitJob));
            html_response(render_plan(&job, &submission(&ask), &plan, may_run)).into_response()
        }
        Err(e) => (e.status, html_response(render_errors(&[e.message]))).into_response(),
    }
}

/// The one job in `ask`, parsed and validated as `drover apply` would, or
/// every error with its `line:col`.
pub fn parse(ask: &PlanAsk) -> Result<Job, Vec<String>> {
    if ask.source.len() > MAX_SOURCE {
        return Err(vec![format!(
            "the job file is {} bytes; the editor takes at most {MAX_SOURCE} (use drover apply)",
            ask.source.len()
        )]);
    }
    let vars = variables(ask)?;
    let options = ParseOptions {
        vars,
        files: FileAccess::Refused,
        ..ParseOptions::default()
    };
    let loaded = jobspec::load_str("editor", &ask.source, &options)
        .map_err(|errors| errors.iter().map(ToString::to_string).collect::<Vec<_>>())?;
    let mut jobs = loaded.jobs.into_iter();
    match (jobs.next(), jobs.next()) {
        (Some(job), None) => Ok(job),
        (None, _) => Err(vec!["the file holds no job".into()]),
        (Some(_), Some(_)) => Err(vec![
            "the editor runs one job at a time; this file holds several (use drover apply)".into(),
        ]),
    }
}

/// The editor's `name=value` lines.
fn variables(ask: &PlanAsk) -> Result<Vec<(String, String)>, Vec<String>> {
    let mut vars = Vec::new();
    for (n, line) in ask.variables.lines().map(str::trim).enumerate() {
        if line.is_empty() {
            continue;
        }
        let Some((name, value)) = line.split_once('=') else {
            return Err(vec![format!("variables, line {}: write name=value", n + 1)]);
        };
        vars.push((name.trim().to_string(), value.to_string()));
    }
    if vars.len() > MAX_VARIABLES {
        return Err(vec![format!("at most {MAX_VARIABLES} variables")]);
    }
    Ok(vars)
}

/// The pasted file as kept with the version it registers (pure).
pub fn submission(ask: &PlanAsk) -> Submission {
    let format = match jobspec::Syntax::detect("editor", &ask.source) {
        jobspec::Syntax::Hcl => "hcl2",
        jobspec::Syntax::Yaml => "yaml",
    };
    Submission {
        source: ask.source.clone(),
        format: format.to_string(),
        variable_flags: variables(ask).unwrap_or_default().into_iter().collect(),
        variables: String::new(),
    }
}

/// Why the file cannot be planned (pure).
pub fn render_errors(errors: &[String]) -> Markup {
    html! {
        div.error role="alert" {
            p { strong { "Not planned:" } }
            ul { @for e in errors { li { code { (e) } } } }
        }
    }
}

/// What running `job` would do (pure), and the button that runs it at
/// the plan's index.
pub fn render_plan(
    job: &Job,
    submission: &Submission,
    plan: &PlanResponse,
    may_run: bool,
) -> Markup {
    let ns = &job.metadata.namespace;
    let name = &job.metadata.name;
    let register = serde_json::json!({
        "job": job,
        "check_index": plan.job_modify_index,
        "submission": submission,
    });
    html! {
        h2 { "Plan for " (name) " in " (ns) }
        @if !plan.changed {
            p { "No change: the job is registered exactly like this (version " (plan.version) ")." }
        } @else {
            (diff_block(&plan.diff))
        }
        (table(&["Group", "Create", "Destroy", "In place", "Replace", "Canary", "Migrate", "Unchanged"], html! {
            @for (group, u) in &plan.groups {
                tr {
                    td { (group) }
                    td.num { (u.create) } td.num { (u.destroy) } td.num { (u.in_place_update) }
                    td.num { (u.destructive_update) } td.num { (u.canary) } td.num { (u.migrate) }
                    td.num { (u.ignore) }
                }
            }
        }))
        @for (group, change) in &plan.update_kinds {
            @if change.destructive {
                p.muted { (group) ": replaces allocations" @if let Some(field) = &change.field { " (" code { (field) } " changed)" } }
            }
        }
        @if !plan.failed_placements.is_empty() {
            h3 { "The scheduler could not place" }
            (placement_failures(&plan.failed_placements))
        }
        @for warning in &plan.warnings { p.warning { "warning: " (warning) } }
        @if may_run && plan.changed {
            div.actions {
                button type="button" data-method="POST"
                    data-path=(format!("/v1/jobs?namespace={}", url_component(ns)))
                    data-body=(register.to_string())
                    data-then=(format!("/ui/job/{}/{}", url_component(ns), url_component(name)))
                    { "Run (check-index " (plan.job_modify_index) ")" }
            }
        } @else if !may_run {
            p.muted { "Your token may not submit jobs in " (ns) "." }
        }
    }
}
