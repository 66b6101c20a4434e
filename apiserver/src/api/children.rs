//! Children of periodic and parameterized jobs:
//! `POST /v1/job/{name}/periodic/force` (launch a periodic job's child now),
//! `POST /v1/job/{name}/dispatch` (a parameterized job's child with a
//! payload and meta), and `GET /v1/job/{name}/children` (a parent's launch
//! record and children, for `drover describe job`).
//!
//! A child is a job like any other, written with its version snapshot by
//! [`commit_job_version`] and guarded by its absence; the periodic
//! controller keeps the newest finished ones.

use drover_api_types::acl::Capability;
use std::collections::{BTreeMap, HashMap};

use axum::extract::{Path, State};
use axum::Json;
use base64::Engine;
use chrono::{DateTime, Utc};
use drover_api_types::children::{
    child_launch_time, child_of, dispatch_child_name, periodic_child_name, PeriodicLaunch,
    IDEMPOTENCY_ANNOTATION, MAX_PAYLOAD_BYTES,
};
use drover_api_types::job::{JobStatus, Parameterized};
use drover_api_types::Job;
use drover_store::jobs::commit_job_version;
use drover_store::{StoreError, Versioned};

use super::error::{ApiError, ApiResult};
use super::extract::{ApiJson, ApiQuery};
use super::openapi as schema;
use super::query::ReadOptions;
use super::route::{Need, Route, Routes};
use super::ApiState;
pub use drover_api::children::{ChildResponse, ChildSummary, ChildrenResponse, DispatchRequest};

pub(crate) fn routes() -> Routes {
    Routes::new("jobs")
        .add(
            Route::post(
                "/v1/job/{name}/periodic/force",
                "Launch a periodic job's child now",
            )
            .in_namespace()
            .body("{}", schema::empty)
            .answers(schema::one::<ChildResponse>)
            .needs(Need::Namespace(Capability::SubmitJob)),
            force,
        )
        .add(
            Route::post(
                "/v1/job/{name}/dispatch",
                "Dispatch a parameterized job (a child job)",
            )
            .in_namespace()
            .body(
                "{meta?, payload? (base64), idempotency_token?}",
                schema::one::<DispatchRequest>,
            )
            .answers(schema::one::<ChildResponse>)
            .needs(Need::Namespace(Capability::DispatchJob)),
            dispatch,
        )
        .add(
            Route::get(
                "/v1/job/{name}/children",
                "A parent's launch record and child jobs",
            )
            .blocking()
            .answers(schema::one::<ChildrenResponse>)
            .needs(Need::Namespace(Capability::ReadJob)),
            children,
        )
}

async fn load(state: &ApiState, ns: &str, name: &str) -> ApiResult<Job> {
    state
        .store
        .get::<Job>(ns, name)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("job {name:?} not found in namespace {ns:?}")))
}

/// The child of a forced launch of `parent` at `now`.
pub fn forced_child(parent: &Job, now: DateTime<Utc>) -> ApiResult<Job> {
    let name = &parent.metadata.name;
    if parent.spec.periodic.is_none() || parent.spec.parent_id.is_some() {
        return Err(ApiError::bad_request(format!(
            "job {name:?} is not periodic: only a job with a periodic block can be forced; run it with `drover apply`"
        )));
    }
    if parent.spec.stop {
        return Err(ApiError::bad_request(format!(
            "job {name:?} is stopped; apply it again before forcing a launch"
        )));
    }
    let child_name = periodic_child_name(name, now);
    Ok(child_of(
        parent,
        child_name,
        now,
        uuid::Uuid::new_v4().to_string(),
    ))
}

/// The child a dispatch of `parent` creates, after checking the request
/// against the parent's `parameterized` block.
pub fn dispatch_child(
    parent: &Job,
    request: &DispatchRequest,
    now: DateTime<Utc>,
    suffix: &str,
) -> ApiResult<Job> {
    let name = &parent.metadata.name;
    let Some(params) = parent
        .spec
        .parameterized
        .as_ref()
        .filter(|_| parent.spec.parent_id.is_none())
    else {
        return Err(ApiError::bad_request(format!(
            "job {name:?} is not parameterized: only a job with a parameterized block can be dispatched"
        )));
    };
    if parent.spec.stop {
        return Err(ApiError::bad_request(format!(
            "job {name:?} is stopped; apply it again before dispatching"
        )));
    }
    let payload = decoded_payload(request)?;
    check_payload(name, params, payload.as_deref())?;
    check_meta(name, params, &request.meta)?;
    let mut child = child_of(
        parent,
        dispatch_child_name(name, now, suffix),
        now,
        uuid::Uuid::new_v4().to_string(),
    );
    child.spec.meta.extend(request.meta.clone());
    child.spec.payload = payload
        .filter(|p| !p.is_empty())
        .map(|p| base64::engine::general_purpose::STANDARD.encode(p));
    if let Some(token) = &request.idempotency_token {
        child
            .metadata
            .annotations
            .insert(IDEMPOTENCY_ANNOTATION.to_string(), token.clone());
    }
    Ok(child)
}

fn decoded_payload(request: &DispatchRequest) -> ApiResult<Option<Vec<u8>>> {
    let Some(text) = &request.payload else {
        return Ok(None);
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|e| ApiError::bad_request(format!("payload is not base64: {e}")).at("payload"))?;
    if bytes.len() > MAX_PAYLOAD_BYTES {
        return Err(ApiError::bad_request(format!(
            "payload is {} bytes; at most {MAX_PAYLOAD_BYTES} (16 KiB) can be dispatched",
            bytes.len()
        ))
        .at("payload"));
    }
    Ok(Some(bytes))
}

fn check_payload(name: &str, params: &Parameterized, payload: Option<&[u8]>) -> ApiResult<()> {
    let given = payload.is_some_and(|p| !p.is_empty());
    match params.payload.as_str() {
        "required" if !given => Err(ApiError::bad_request(format!(
            "job {name:?} requires a payload (parameterized payload = \"required\"); pass a file or - for stdin"
        ))
        .at("payload")),
        "forbidden" if given => Err(ApiError::bad_request(format!(
            "job {name:?} forbids a payload (parameterized payload = \"forbidden\"); dispatch without one"
        ))
        .at("payload")),
        _ => Ok(()),
    }
}

fn check_meta(
    name: &str,
    params: &Parameterized,
    meta: &BTreeMap<String, String>,
) -> ApiResult<()> {
    let missing: Vec<&str> = params
        .meta_required
        .iter()
        .filter(|k| !meta.contains_key(*k))
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        return Err(ApiError::bad_request(format!(
            "job {name:?} requires meta {}; pass --meta KEY=VALUE for each",
            missing.join(", ")
        ))
        .at("meta"));
    }
    let allowed: Vec<&str> = params
        .meta_required
        .iter()
        .chain(&params.meta_optional)
        .map(String::as_str)
        .collect();
    let unknown: Vec<&str> = meta
        .keys()
        .map(String::as_str)
        .filter(|k| !allowed.contains(k))
        .collect();
    if !unknown.is_empty() {
        let allowed = if allowed.is_empty() {
            "none are allowed (no meta_required or meta_optional)".to_string()
        } else {
            format!("allowed: {}", allowed.join(", "))
        };
        return Err(ApiError::bad_request(format!(
            "job {name:?} does not accept meta {}; {allowed}",
            unknown.join(", ")
        ))
        .at("meta"));
    }
    Ok(())
}

async fn create(state: &ApiState, child: &Job) -> ApiResult<Json<ChildResponse>> {
    let index = commit_job_version(&state.store, child, Vec::new())
        .await
        .map_err(|e| match e {
            StoreError::AlreadyExists { .. } | StoreError::Conflict { .. } => {
                ApiError::conflict(format!(
                    "job {:?} exists already (a launch in the same second); try again",
                    child.metadata.name
                ))
            }
            other => other.into(),
        })?;
    Ok(Json(ChildResponse {
        job_id: child.metadata.name.clone(),
        index,
    }))
}

async fn force(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    ApiQuery(query): ApiQuery<HashMap<String, String>>,
) -> ApiResult<Json<ChildResponse>> {
    let options = ReadOptions::parse(&query)?;
    let parent = load(&state, options.namespace_or_default(), &name).await?;
    let child = forced_child(&parent, Utc::now())?;
    create(&state, &child).await
}

async fn dispatch(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    ApiQuery(query): ApiQuery<HashMap<String, String>>,
    ApiJson(request): ApiJson<DispatchRequest>,
) -> ApiResult<Json<ChildResponse>> {
    let options = ReadOptions::parse(&query)?;
    let ns = options.namespace_or_default();
    let parent = load(&state, ns, &name).await?;
    if let Some(token) = &request.idempotency_token {
        let jobs = state.store.list::<Job>(Some(ns)).await?;
        let existing = jobs.items.into_iter().find(|j| {
            j.spec.parent_id.as_deref() == Some(name.as_str())
                && j.metadata.annotations.get(IDEMPOTENCY_ANNOTATION) == Some(token)
        });
        if let Some(existing) = existing {
            return Ok(Json(ChildResponse {
                job_id: existing.metadata.name,
                index: 0,
            }));
        }
    }
    let suffix = format!("{:08x}", rand::random::<u32>());
    let child = dispatch_child(&parent, &request, Utc::now(), &suffix)?;
    create(&state, &child).await
}

async fn children(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    ApiQuery(query): ApiQuery<HashMap<String, String>>,
) -> ApiResult<Json<ChildrenResponse>> {
    let options = ReadOptions::parse(&query)?;
    let ns = options.namespace_or_default();
    let store = &state.store;
    let parent = load(&state, ns, &name).await?;
    let periodic = match parent.spec.periodic {
        Some(_) => {
            let record: Option<Versioned<PeriodicLaunch>> =
                store.get_at(&store.keys().job_periodic(ns, &name)).await?;
            Some(record.map(|r| r.value).unwrap_or_default())
        }
        None => None,
    };
    let jobs = store.list::<Job>(Some(ns)).await?;
    let mut children = Vec::new();
    for job in jobs.items {
        if job.spec.parent_id.as_deref() != Some(name.as_str()) {
            continue;
        }
        let status: Option<Versioned<JobStatus>> = store
            .get_at(&store.keys().job_status(ns, &job.metadata.name))
            .await?;
        let status = status.map(|s| s.value).unwrap_or_default();
        children.push(summary_of(&job, &status));
    }
    children.sort_by(|a, b| (b.launched, &b.job_id).cmp(&(a.launched, &a.job_id)));
    Ok(Json(ChildrenResponse { periodic, children }))
}

fn summary_of(job: &Job, status: &JobStatus) -> ChildSummary {
    let result = if status.status == "dead" {
        let failed = status.summary.values().any(|g| g.failed > 0);
        let complete = status.summary.values().any(|g| g.complete > 0);
        match (failed, complete) {
            (true, _) => "failed",
            (false, true) => "complete",
            _ => "stopped",
        }
    } else {
        ""
    };
    ChildSummary {
        job_id: job.metadata.name.clone(),
        status: status.status.clone(),
        launched: child_launch_time(&job.metadata.name).or(job.metadata.creation_timestamp),
        result: result.to_string(),
    }
}

#[cfg(test)]
mod tests;
