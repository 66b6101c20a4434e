//! `/v1/jobs` and `/v1/job/{name}`: register, list, read.
//!
//! Registration validates, enforces `check_index`, and writes the job and
//! its version snapshot (`jobs-versions/`), with the file it was submitted
//! as when one came (`jobs-sources/`, see [`super::submission`]), in one
//! transaction guarded by the revision it read, so concurrent writers
//! never lose an update.

use drover_api_types::acl::Capability;
use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::Json;
use chrono::Utc;
use drover_api_types::job::JobStatus;
use drover_api_types::validate::JobLimits;
use drover_api_types::Job;
use drover_store::keys::collections as c;
use drover_store::{Store, Versioned};

use super::acl::Caller;
use super::error::{ApiError, ApiResult};
use super::extract::{ApiJson, ApiQuery};
use super::openapi as schema;
use super::query::{Indexed, ReadOptions};
use super::register::{self, Registration};
use super::route::{Need, Route, Routes};
use super::ApiState;
pub use drover_api::jobs::{RegisterRequest, RegisterResponse, Submission};

pub(crate) fn routes() -> Routes {
    Routes::new("jobs")
        .add(
            Route::get("/v1/jobs", "List jobs with their status")
                .blocking()
                .query(&["prefix"])
                .answers(schema::list::<Job>)
                .needs(Need::Namespace(Capability::ListJobs))
                .across_namespaces(),
            list,
        )
        .add(
            Route::post("/v1/jobs", "Register a job")
                .in_namespace()
                .body("{job, check_index?}", schema::one::<RegisterRequest>)
                .answers(schema::one::<RegisterResponse>)
                .needs(Need::Namespace(Capability::SubmitJob)),
            register_job,
        )
        .add(
            Route::get("/v1/job/{name}", "Read a job with its status")
                .blocking()
                .answers(schema::one::<Job>)
                .needs(Need::Namespace(Capability::ReadJob)),
            read,
        )
}

async fn list(
    State(state): State<ApiState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<HashMap<String, String>>,
) -> ApiResult<Indexed<Vec<Job>>> {
    let options = ReadOptions::parse(&query)?;
    options.block(&state.feed, &[c::JOBS, c::JOBS_STATUS]).await;
    let store = &state.store;
    let jobs = store.list::<Job>(options.namespace.as_deref()).await?;
    let statuses = store
        .list_raw(&store.keys().collection(c::JOBS_STATUS))
        .await?;
    let mut by_job: HashMap<(String, String), JobStatus> = HashMap::new();
    for kv in &statuses.items {
        let Some(parsed) = store.keys().parse(&kv.key) else {
            continue;
        };
        if let ([ns, name], Ok(status)) = (
            parsed.segments.as_slice(),
            serde_json::from_slice::<JobStatus>(&kv.value),
        ) {
            by_job.insert((ns.to_string(), name.to_string()), status);
        }
    }
    let mut items = jobs.items;
    items.retain(|j| caller.may(&j.metadata.namespace, Capability::ListJobs));
    if let Some(prefix) = query.get("prefix") {
        items.retain(|j| j.metadata.name.starts_with(prefix.as_str()));
    }
    for job in &mut items {
        let key = (job.metadata.namespace.clone(), job.metadata.name.clone());
        job.status = by_job.remove(&key);
        drover_api_types::redact::job(job);
    }
    Ok(Indexed(jobs.revision.max(statuses.revision), items))
}

async fn read(
    State(state): State<ApiState>,
    caller: Caller,
    Path(name): Path<String>,
    ApiQuery(query): ApiQuery<HashMap<String, String>>,
) -> ApiResult<Indexed<Job>> {
    let options = ReadOptions::parse(&query)?;
    let ns = options.namespace_or_default();
    caller.require(ns, Capability::ReadJob)?;
    options.block(&state.feed, &[c::JOBS, c::JOBS_STATUS]).await;
    let store = &state.store;
    let revision = store.current_revision().await?;
    let mut job = store.get::<Job>(ns, &name).await?.ok_or_else(|| {
        ApiError::not_found(format!("job {name:?} not found in namespace {ns:?}"))
    })?;
    let status: Option<Versioned<JobStatus>> =
        store.get_at(&store.keys().job_status(ns, &name)).await?;
    job.status = status.map(|s| s.value);
    drover_api_types::redact::job(&mut job);
    Ok(Indexed(revision, job))
}

async fn register_job(
    State(state): State<ApiState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<HashMap<String, String>>,
    ApiJson(request): ApiJson<RegisterRequest>,
) -> ApiResult<Json<RegisterResponse>> {
    let options = ReadOptions::parse(&query)?;
    let ns = match request.job.metadata.namespace.as_str() {
        "" => options.namespace_or_default().to_string(),
        ns => ns.to_string(),
    };
    caller.require(&ns, Capability::SubmitJob)?;
    let name = request.job.metadata.name.clone();
    drover_store::keys::validate_segment(&name)
        .map_err(|e| ApiError::bad_request(e.to_string()).at("metadata.name"))?;
    let existing = state.store.get::<Job>(&ns, &name).await?;
    let namespace = match existing {
        None => super::namespaces::new_job_guard(&state.store, &ns).await?,
        Some(_) => None,
    };
    let mut submitted = request.job;
    if let Some(stored) = &existing {
        // A job read (credentials redacted), changed and sent back keeps
        // its stored credentials.
        drover_api_types::redact::restore(&mut submitted, stored);
    }
    let source = request
        .submission
        .map(|s| super::submission::kept(&s, &submitted))
        .transpose()?;
    let response = write_job(
        &state.store,
        &state.limits,
        &ns,
        existing,
        submitted,
        Writing {
            check_index: request.check_index,
            namespace,
            source,
        },
    )
    .await?;
    Ok(Json(response))
}

/// What a job write is guarded by beyond the job's own revision, and what
/// it carries beside the job.
#[derive(Debug, Default)]
pub struct Writing {
    /// 0: the job must not exist; N: it must still be at index N.
    pub check_index: Option<i64>,
    /// A new job's namespace and its revision
    /// ([`super::namespaces::new_job_guard`]).
    pub namespace: Option<(String, i64)>,
    /// The file the version was submitted as, already
    /// [`kept`](super::submission::kept).
    pub source: Option<Submission>,
}

/// Registers `submitted` against `existing` as read (validation,
/// `check_index`, version): every change of a job goes through here, so
/// the job and its version snapshot are written in one transaction
/// guarded by the revision `existing` was read at.
pub async fn write_job(
    store: &Store,
    limits: &JobLimits,
    ns: &str,
    existing: Option<Job>,
    submitted: Job,
    writing: Writing,
) -> ApiResult<RegisterResponse> {
    let Writing {
        check_index,
        namespace,
        source,
    } = writing;
    let name = submitted.metadata.name.clone();
    let decision = register::decide_within(
        existing.as_ref(),
        submitted,
        ns,
        check_index,
        Utc::now(),
        limits,
    )?;
    let job = match decision {
        Registration::Unchanged => {
            let old = existing.ok_or_else(|| ApiError::not_found("the job vanished"))?;
            return Ok(RegisterResponse {
                index: old.metadata.resource_version,
                version: old.metadata.version,
                changed: false,
            });
        }
        Registration::Write(job) => *job,
    };
    let stale = if existing.is_none() {
        drover_store::jobs::stale_history(store, ns, &name).await?
    } else {
        Vec::new()
    };
    let source = source
        .map(|s| serde_json::to_vec(&s))
        .transpose()
        .map_err(|e| {
            ApiError::new(
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                format!("encoding the job's source: {e}"),
            )
        })?;
    let index =
        drover_store::jobs::commit_job_version_submitted(store, &job, stale, namespace, source)
            .await
            .map_err(|e| match e {
                drover_store::StoreError::Conflict { .. }
                | drover_store::StoreError::AlreadyExists { .. } => ApiError::conflict(format!(
                    "job {name:?} changed while it was being registered; apply again"
                ))
                .at("check_index"),
                other => other.into(),
            })?;
    Ok(RegisterResponse {
        index,
        version: job.metadata.version,
        changed: true,
    })
}
