//! `/v1/jobs` and `/v1/job/{name}`: register, list, read.
//!
//! Registration validates, enforces `check_index`, and writes the job and
//! its version snapshot (`jobs-versions/`) in one transaction guarded by
//! the revision it read, so concurrent writers never lose an update.

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use chrono::Utc;
use drover_api_types::job::JobStatus;
use drover_api_types::Job;
use drover_store::keys::collections as c;
use drover_store::{Atomic, Guard, Store, Stored, Versioned};
use serde::{Deserialize, Serialize};

use super::error::{ApiError, ApiResult};
use super::extract::{ApiJson, ApiQuery};
use super::query::{Indexed, ReadOptions};
use super::register::{self, Registration};
use super::ApiState;

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/v1/jobs", get(list).post(register_job))
        .route(
            "/v1/job/{name}",
            get(read).delete(super::job_actions::delete),
        )
}

async fn list(
    State(state): State<ApiState>,
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
    if let Some(prefix) = query.get("prefix") {
        items.retain(|j| j.metadata.name.starts_with(prefix.as_str()));
    }
    for job in &mut items {
        let key = (job.metadata.namespace.clone(), job.metadata.name.clone());
        job.status = by_job.remove(&key);
    }
    Ok(Indexed(jobs.revision.max(statuses.revision), items))
}

async fn read(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    ApiQuery(query): ApiQuery<HashMap<String, String>>,
) -> ApiResult<Indexed<Job>> {
    let options = ReadOptions::parse(&query)?;
    options.block(&state.feed, &[c::JOBS, c::JOBS_STATUS]).await;
    let ns = options.namespace_or_default();
    let store = &state.store;
    let revision = store.current_revision().await?;
    let mut job = store.get::<Job>(ns, &name).await?.ok_or_else(|| {
        ApiError::not_found(format!("job {name:?} not found in namespace {ns:?}"))
    })?;
    let status: Option<Versioned<JobStatus>> =
        store.get_at(&store.keys().job_status(ns, &name)).await?;
    job.status = status.map(|s| s.value);
    Ok(Indexed(revision, job))
}

/// `POST /v1/jobs` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    pub job: Job,
    /// 0: the job must not exist; N: it must still be at index N.
    #[serde(default)]
    pub check_index: Option<i64>,
}

/// `POST /v1/jobs` answer.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct RegisterResponse {
    /// The job's index after the call (pass it as `check_index`).
    pub index: i64,
    pub version: u64,
    /// Whether anything was written.
    pub changed: bool,
}

async fn register_job(
    State(state): State<ApiState>,
    ApiQuery(query): ApiQuery<HashMap<String, String>>,
    ApiJson(request): ApiJson<RegisterRequest>,
) -> ApiResult<Json<RegisterResponse>> {
    let options = ReadOptions::parse(&query)?;
    let ns = match request.job.metadata.namespace.as_str() {
        "" => options.namespace_or_default().to_string(),
        ns => ns.to_string(),
    };
    let name = request.job.metadata.name.clone();
    drover_store::keys::validate_segment(&name)
        .map_err(|e| ApiError::bad_request(e.to_string()).at("metadata.name"))?;
    let existing = state.store.get::<Job>(&ns, &name).await?;
    let response = write_job(
        &state.store,
        &ns,
        existing,
        request.job,
        request.check_index,
    )
    .await?;
    Ok(Json(response))
}

/// Registers `submitted` against `existing` as read (validation,
/// `check_index`, version): every change of a job goes through here, so
/// the job and its version snapshot are written in one transaction
/// guarded by the revision `existing` was read at.
pub async fn write_job(
    store: &Store,
    ns: &str,
    existing: Option<Job>,
    submitted: Job,
    check_index: Option<i64>,
) -> ApiResult<RegisterResponse> {
    let name = submitted.metadata.name.clone();
    let decision = register::decide(existing.as_ref(), submitted, ns, check_index, Utc::now())?;
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
    let keys = store.keys();
    let key = keys.job(ns, &name);
    let guard = match job.metadata.resource_version {
        0 => Guard::Absent,
        rev => Guard::Revision(rev),
    };
    let mut snapshot = job.clone();
    snapshot.metadata.resource_version = 0;
    let bytes = snapshot
        .encode()
        .map_err(|e| ApiError::bad_request(format!("encoding the job: {e}")))?;
    let mut unit = Atomic::new().guard(key.clone(), guard);
    if existing.is_none() {
        for stale in stale_history(store, ns, &name).await? {
            unit = unit.delete(stale);
        }
    }
    let unit = unit
        .put(key, bytes.clone())
        .put(keys.job_version(ns, &name, job.metadata.version), bytes);
    let mut batch = store.batch();
    batch.push(unit);
    let index = batch.commit_atomic(store).await.map_err(|e| match e {
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

/// How many snapshots of a purged job are deleted in the transaction that
/// registers its name again; older ones go first, outside it.
const STALE_IN_TXN: usize = 64;

/// The snapshots a purged job left (the job controller deletes the job,
/// not its history): a job registered again under the name starts a new
/// history at version 0, so they go in the same transaction — guarded by
/// the job's absence, so a concurrent registration that wins keeps its
/// own snapshot. Version 0 is left out: the new snapshot overwrites it
/// (and etcd refuses a key twice in one transaction). Beyond
/// [`STALE_IN_TXN`], the oldest are deleted first, one by one; no new
/// history reaches their version numbers meanwhile.
async fn stale_history(store: &Store, ns: &str, name: &str) -> ApiResult<Vec<String>> {
    let keys = store.keys();
    let first = keys.job_version(ns, name, 0);
    let list = store.list_raw(&keys.job_versions_prefix(ns, name)).await?;
    let mut stale: Vec<String> = list
        .items
        .into_iter()
        .map(|kv| kv.key)
        .filter(|k| *k != first)
        .collect();
    stale.sort();
    let in_txn = stale.split_off(stale.len().saturating_sub(STALE_IN_TXN));
    for key in &stale {
        store.delete_raw(key, Guard::None).await?;
    }
    Ok(in_txn)
}
