//! Changes to a registered job: stop (`POST /v1/job/{name}/stop`,
//! `DELETE /v1/job/{name}[?purge=true]`), scale (`POST
//! /v1/job/{name}/scale`). Dispatch and forced launches are in
//! [`super::children`].
//!
//! Each one is a new version written through [`write_job`], so
//! `check_index`, versions and snapshots follow the same rules as a
//! registration, and doing it twice is a no-op (`changed: false`).

use drover_api_types::acl::Capability;
use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::Json;
use drover_api_types::{Job, JobType};
use drover_controllers::job::controller::PURGE_ANNOTATION;

use super::error::{ApiError, ApiResult};
use super::extract::{ApiJson, ApiQuery};
use super::jobs::{write_job, RegisterResponse, Writing};
use super::openapi as schema;
use super::query::ReadOptions;
use super::route::{Need, Route, Routes};
use super::ApiState;
pub use drover_api::job_actions::{ScaleRequest, StopRequest};

pub(crate) fn routes() -> Routes {
    Routes::new("jobs")
        .add(
            Route::delete("/v1/job/{name}", "Stop a job (purge: delete it)")
                .query(&["namespace", "purge"])
                .answers(schema::one::<RegisterResponse>)
                .needs(Need::Namespace(Capability::SubmitJob)),
            delete,
        )
        .add(
            Route::post("/v1/job/{name}/stop", "Stop a job")
                .in_namespace()
                .body("{}", schema::one::<StopRequest>)
                .answers(schema::one::<RegisterResponse>)
                .needs(Need::Namespace(Capability::SubmitJob)),
            stop,
        )
        .add(
            Route::post("/v1/job/{name}/scale", "Scale a group")
                .in_namespace()
                .body(
                    "{group, count, message?, check_index?}",
                    schema::one::<ScaleRequest>,
                )
                .answers(schema::one::<RegisterResponse>)
                .needs(Need::Namespace(Capability::ScaleJob)),
            scale,
        )
}

/// The job as stopped: `spec.stop`, and with `purge` the annotation the
/// job controller deletes it by once its allocations are terminal.
pub fn stopped(job: &Job, purge: bool) -> Job {
    let mut job = job.clone();
    job.spec.stop = true;
    if purge {
        job.metadata
            .annotations
            .insert(PURGE_ANNOTATION.to_string(), "true".to_string());
    }
    job
}

/// The job with `group` at `count`.
pub fn scaled(job: &Job, group: &str, count: i64) -> ApiResult<Job> {
    if count < 0 {
        return Err(
            ApiError::bad_request(format!("count must be at least 0, got {count}")).at("count"),
        );
    }
    if matches!(job.spec.job_type, JobType::System | JobType::Sysbatch) {
        return Err(ApiError::bad_request(format!(
            "job {:?} is a {} job: it runs one allocation per eligible node and cannot be scaled",
            job.metadata.name,
            format!("{:?}", job.spec.job_type).to_lowercase()
        ))
        .at("group"));
    }
    let mut job = job.clone();
    let known: Vec<String> = job
        .spec
        .groups
        .iter()
        .map(|g| format!("{:?}", g.name))
        .collect();
    let Some(target) = job.spec.groups.iter_mut().find(|g| g.name == group) else {
        return Err(ApiError::bad_request(format!(
            "job {:?} has no group {group:?}; its groups are {}",
            job.metadata.name,
            known.join(", ")
        ))
        .at("group"));
    };
    target.count = count;
    Ok(job)
}

async fn load(state: &ApiState, ns: &str, name: &str) -> ApiResult<Job> {
    state
        .store
        .get::<Job>(ns, name)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("job {name:?} not found in namespace {ns:?}")))
}

async fn stop(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    ApiQuery(query): ApiQuery<HashMap<String, String>>,
    body: Bytes,
) -> ApiResult<Json<RegisterResponse>> {
    // No body, or `null`, is a plain stop.
    let request: StopRequest = if body.iter().all(u8::is_ascii_whitespace) {
        StopRequest::default()
    } else {
        serde_json::from_slice::<Option<StopRequest>>(&body)
            .map_err(|e| ApiError::bad_request(format!("the stop request: {e}")).at("body"))?
            .unwrap_or_default()
    };
    let purge = request.purge || flag(&query, "purge")?;
    stop_job(&state, &name, &query, purge, request.check_index).await
}

/// `DELETE /v1/job/{name}`: stop; `?purge=true` also deletes it once its
/// allocations are terminal; `?check_index=N` as for a registration.
pub async fn delete(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    ApiQuery(query): ApiQuery<HashMap<String, String>>,
) -> ApiResult<Json<RegisterResponse>> {
    let purge = flag(&query, "purge")?;
    let check_index = query
        .get("check_index")
        .map(|v| {
            v.parse::<i64>().map_err(|_| {
                ApiError::bad_request(format!("check_index must be a whole number, got {v:?}"))
                    .at("check_index")
            })
        })
        .transpose()?;
    stop_job(&state, &name, &query, purge, check_index).await
}

async fn stop_job(
    state: &ApiState,
    name: &str,
    query: &HashMap<String, String>,
    purge: bool,
    check_index: Option<i64>,
) -> ApiResult<Json<RegisterResponse>> {
    let options = ReadOptions::parse(query)?;
    let ns = options.namespace_or_default();
    let existing = load(state, ns, name).await?;
    let job = stopped(&existing, purge);
    let response = write_job(
        &state.store,
        &state.limits,
        ns,
        Some(existing),
        job,
        Writing {
            check_index,
            // The file as submitted no longer describes the job.
            ..Writing::default()
        },
    )
    .await?;
    Ok(Json(response))
}

fn flag(query: &HashMap<String, String>, name: &str) -> ApiResult<bool> {
    match query.get(name).map(String::as_str) {
        None | Some("false") => Ok(false),
        Some("" | "true") => Ok(true),
        Some(other) => Err(ApiError::bad_request(format!(
            "{name} must be true or false, got {other:?}"
        ))
        .at(name.to_string())),
    }
}

async fn scale(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    ApiQuery(query): ApiQuery<HashMap<String, String>>,
    ApiJson(request): ApiJson<ScaleRequest>,
) -> ApiResult<Json<RegisterResponse>> {
    let options = ReadOptions::parse(&query)?;
    let ns = options.namespace_or_default();
    let existing = load(&state, ns, &name).await?;
    let job = scaled(&existing, &request.group, request.count)?;
    let response = write_job(
        &state.store,
        &state.limits,
        ns,
        Some(existing),
        job,
        Writing {
            check_index: request.check_index,
            // The file as submitted no longer describes the job.
            ..Writing::default()
        },
    )
    .await?;
    if response.changed {
        tracing::info!(
            job = %name, namespace = %ns, group = %request.group, count = request.count,
            version = response.version, message = request.message.as_deref().unwrap_or(""),
            "job scaled"
        );
    }
    Ok(Json(response))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;
    use drover_api_types::jobspec::{parse_str, ParseOptions};

    fn job(src: &str) -> Job {
        let loaded = parse_str("web.nomad", src, &ParseOptions::default()).expect("parse");
        loaded.jobs.into_iter().next().expect("one job")
    }

    const WEB: &str = r#"
job "web" {
  group "front" {
    count = 2
    task "nginx" {
      driver = "docker"
      config { image = "nginx" }
    }
  }
  group "back" {
    task "api" {
      driver = "docker"
      config { image = "api" }
    }
  }
}
"#;

    #[test]
    fn stop_sets_stop_and_purge_adds_the_annotation() {
        let web = job(WEB);
        let s = stopped(&web, false);
        assert!(s.spec.stop);
        assert!(!s.metadata.annotations.contains_key(PURGE_ANNOTATION));
        let p = stopped(&web, true);
        assert!(p.spec.stop);
        assert_eq!(p.metadata.annotations[PURGE_ANNOTATION], "true");
        assert_eq!(stopped(&p, true), p, "idempotent");
    }

    #[test]
    fn scale_sets_one_groups_count() {
        let web = job(WEB);
        let s = scaled(&web, "back", 5).expect("scaled");
        assert_eq!(s.spec.groups[1].count, 5);
        assert_eq!(s.spec.groups[0].count, 2, "other groups untouched");
        assert!(scaled(&web, "back", 0).is_ok(), "zero is allowed");
    }

    #[test]
    fn scale_refuses_unknown_groups_negative_counts_and_system_jobs() {
        let web = job(WEB);
        let e = scaled(&web, "middle", 1).expect_err("unknown");
        assert_eq!(
            (e.status, e.field.as_deref()),
            (StatusCode::BAD_REQUEST, Some("group"))
        );
        assert!(e.message.contains("no group \"middle\""), "{e}");
        assert!(e.message.contains("\"front\", \"back\""), "{e}");
        let e = scaled(&web, "front", -1).expect_err("negative");
        assert_eq!(e.field.as_deref(), Some("count"));
        let mut system = web.clone();
        system.spec.job_type = JobType::System;
        let e = scaled(&system, "front", 3).expect_err("system");
        assert!(e.message.contains("system job"), "{e}");
    }

    #[test]
    fn flags_parse_strictly() {
        let q = |v: &str| HashMap::from([("purge".to_string(), v.to_string())]);
        assert!(flag(&q("true"), "purge").expect("true"));
        assert!(flag(&q(""), "purge").expect("bare"));
        assert!(!flag(&q("false"), "purge").expect("false"));
        assert!(!flag(&HashMap::new(), "purge").expect("absent"));
        assert!(flag(&q("yes"), "purge").is_err());
    }
}
