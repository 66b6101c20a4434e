//! `GET /v1/job/{name}/versions`: every stored version of a job
//! (`jobs-versions/` snapshots), newest first, each marked stable when its
//! deployment succeeded (`jobs-stable/`). `?diffs=true` adds, to each
//! version, its difference from the version before it.
//!
//! `POST /v1/job/{name}/revert` registers an older version's spec again,
//! as a new version, through the registration path ([`write_job`]).

use drover_api_types::acl::Capability;
use std::collections::{BTreeSet, HashMap};

use axum::extract::{Path, State};
use axum::Json;
use drover_api_types::deployment::VersionStability;
use drover_api_types::diff::diff_jobs;
use drover_api_types::Job;
use drover_store::keys::collections as c;
use drover_store::Store;

use super::error::{ApiError, ApiResult};
use super::extract::{ApiJson, ApiQuery};
use super::jobs::{write_job, RegisterResponse, Writing};
use super::openapi as schema;
use super::query::{Indexed, ReadOptions};
use super::route::{Need, Route, Routes};
use super::ApiState;
pub use drover_api::versions::{JobVersion, JobVersions, RevertRequest};

pub(crate) fn routes() -> Routes {
    Routes::new("jobs")
        .add(
            Route::get(
                "/v1/job/{name}/versions",
                "A job's stored versions, newest first, with stability (diffs: each against the one before)",
            )
            .blocking()
            .query(&["diffs"])
            .answers(schema::one::<JobVersions>)
            .needs(Need::Namespace(Capability::ReadJob)),
            versions,
        )
        .add(
            Route::post(
                "/v1/job/{name}/revert",
                "Register an older version's spec again as a new version",
            )
            .in_namespace()
            .body(
                "{job_version, enforce_prior_version?, check_index?}",
                schema::one::<RevertRequest>,
            )
            .answers(schema::one::<RegisterResponse>)
            .needs(Need::Namespace(Capability::SubmitJob)),
            revert,
        )
}

/// Orders snapshots newest first and, if asked, diffs each against the
/// one before it.
pub fn arrange(mut jobs: Vec<Job>, stable: &BTreeSet<u64>, diffs: bool) -> Vec<JobVersion> {
    jobs.sort_by_key(|j| std::cmp::Reverse(j.metadata.version));
    // Neither the versions nor their diffs show registry credentials.
    jobs.iter_mut().for_each(drover_api_types::redact::job);
    let mut out: Vec<JobVersion> = Vec::with_capacity(jobs.len());
    for (i, job) in jobs.iter().enumerate() {
        let diff = match (diffs, jobs.get(i + 1)) {
            (true, Some(previous)) => Some(diff_jobs(Some(previous), job)),
            _ => None,
        };
        out.push(JobVersion {
            version: job.metadata.version,
            stable: stable.contains(&job.metadata.version),
            job: job.clone(),
            diff,
        });
    }
    out
}

async fn versions(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    ApiQuery(query): ApiQuery<HashMap<String, String>>,
) -> ApiResult<Indexed<JobVersions>> {
    let options = ReadOptions::parse(&query)?;
    let diffs = matches!(query.get("diffs").map(String::as_str), Some("true" | ""));
    options
        .block(&state.feed, &[c::JOBS_VERSIONS, c::JOBS_STABLE])
        .await;
    let ns = options.namespace_or_default();
    let store = &state.store;
    let list = store
        .list_at::<Job>(&store.keys().job_versions_prefix(ns, &name))
        .await?;
    if list.items.is_empty() {
        return Err(ApiError::not_found(format!(
            "job {name:?} has no versions in namespace {ns:?}"
        )));
    }
    let (stable, stable_revision) = stable_versions(store, ns, &name).await?;
    let mut items = list.items;
    for job in &mut items {
        // A snapshot's revision is when it was written, not the job's index.
        job.metadata.resource_version = 0;
    }
    Ok(Indexed(
        list.revision.max(stable_revision),
        JobVersions {
            versions: arrange(items, &stable, diffs),
        },
    ))
}

/// The versions of a job marked stable, and the revision they were read at.
pub async fn stable_versions(
    store: &Store,
    ns: &str,
    name: &str,
) -> ApiResult<(BTreeSet<u64>, i64)> {
    let list = store
        .list_raw(&store.keys().job_stable_prefix(ns, name))
        .await?;
    let mut out = BTreeSet::new();
    for kv in &list.items {
        // The key names the version; the value says so too.
        let from_key = kv
            .key
            .rsplit('/')
            .next()
            .and_then(|v| v.parse::<u64>().ok());
        let from_value = serde_json::from_slice::<VersionStability>(&kv.value)
            .ok()
            .map(|s| s.version);
        if let Some(v) = from_key.or(from_value) {
            out.insert(v);
        }
    }
    Ok((out, list.revision))
}

/// The job to register for a revert of `current` to `target` (pure): the
/// target's spec, labels and annotations under the current identity.
pub fn reverted(current: &Job, target: Option<&Job>, request: &RevertRequest) -> ApiResult<Job> {
    let name = &current.metadata.name;
    let at = current.metadata.version;
    if let Some(prior) = request.enforce_prior_version {
        if prior != at {
            return Err(ApiError::conflict(format!(
                "job {name:?} is at version {at}, not {prior}; check its history and try again"
            ))
            .at("enforce_prior_version"));
        }
    }
    let wanted = request.job_version;
    if wanted == at {
        return Err(ApiError::bad_request(format!(
            "job {name:?} is already at version {wanted}; revert to an older version"
        ))
        .at("job_version"));
    }
    let Some(target) = target else {
        return Err(ApiError::not_found(format!(
            "job {name:?} has no version {wanted}; `drover history {name}` lists them"
        ))
        .at("job_version"));
    };
    let mut job = current.clone();
    job.spec = target.spec.clone();
    job.metadata.labels = target.metadata.labels.clone();
    job.metadata.annotations = target.metadata.annotations.clone();
    job.status = None;
    Ok(job)
}

async fn revert(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    ApiQuery(query): ApiQuery<HashMap<String, String>>,
    ApiJson(request): ApiJson<RevertRequest>,
) -> ApiResult<Json<RegisterResponse>> {
    let options = ReadOptions::parse(&query)?;
    let ns = options.namespace_or_default();
    let store = &state.store;
    let current = store.get::<Job>(ns, &name).await?.ok_or_else(|| {
        ApiError::not_found(format!("job {name:?} not found in namespace {ns:?}"))
    })?;
    let key = store.keys().job_version(ns, &name, request.job_version);
    let target: Option<Job> = store.get_at(&key).await?;
    let job = reverted(&current, target.as_ref(), &request)?;
    let unchanged = current.spec == job.spec
        && current.metadata.labels == job.metadata.labels
        && current.metadata.annotations == job.metadata.annotations;
    if unchanged {
        return Err(ApiError::bad_request(format!(
            "job version {} is identical to the current version {}; nothing to revert",
            request.job_version, current.metadata.version
        ))
        .at("job_version"));
    }
    let response = write_job(
        store,
        &state.limits,
        ns,
        Some(current),
        job,
        Writing {
            check_index: request.check_index,
            // The reverted-to version's spec, so its file describes this one.
            source: super::submission::stored(store, ns, &name, request.job_version).await?,
            ..Writing::default()
        },
    )
    .await?;
    Ok(Json(response))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(v: u64, count: i64) -> Job {
        let src = format!(
            "job \"web\" {{\n group \"front\" {{\n count = {count}\n task \"t\" {{\n driver = \"docker\"\n config {{ image = \"x\" }}\n }}\n }}\n}}\n"
        );
        let options = drover_api_types::jobspec::ParseOptions::default();
        let loaded =
            drover_api_types::jobspec::parse_str("web.nomad", &src, &options).expect("parse");
        let mut job = loaded.jobs.into_iter().next().expect("one job");
        job.metadata.version = v;
        job
    }

    #[test]
    fn newest_first_each_diffed_against_the_one_before() {
        let stable = BTreeSet::from([1]);
        let out = arrange(
            vec![version(0, 1), version(2, 3), version(1, 2)],
            &stable,
            true,
        );
        let marks: Vec<bool> = out.iter().map(|v| v.stable).collect();
        assert_eq!(marks, vec![false, true, false]);
        let order: Vec<u64> = out.iter().map(|v| v.version).collect();
        assert_eq!(order, vec![2, 1, 0]);
        let diff = out[0].diff.as_ref().expect("diff");
        assert!(
            diff.render().contains("~ count: \"2\" => \"3\""),
            "{}",
            diff.render()
        );
        assert!(
            out[2].diff.is_none(),
            "the first version has nothing before it"
        );
        assert!(arrange(vec![version(0, 1), version(1, 2)], &stable, false)
            .iter()
            .all(|v| v.diff.is_none()));
    }

    fn request(version: u64, prior: Option<u64>) -> RevertRequest {
        RevertRequest {
            job_version: version,
            enforce_prior_version: prior,
            check_index: None,
        }
    }

    #[test]
    fn revert_takes_the_old_spec_under_the_current_identity() {
        let mut current = version(3, 5);
        current.metadata.resource_version = 42;
        current.metadata.uid = "u".into();
        let old = version(1, 2);
        let job = reverted(&current, Some(&old), &request(1, Some(3))).expect("revert");
        assert_eq!(job.spec, old.spec);
        assert_eq!(job.metadata.version, 3, "write_job bumps it");
        assert_eq!(
            job.metadata.resource_version, 42,
            "guarded by what was read"
        );
        assert_eq!(job.metadata.uid, "u");
    }

    #[test]
    fn revert_refuses_stale_current_and_unknown_versions() {
        let current = version(3, 5);
        let old = version(1, 2);
        let e = reverted(&current, Some(&old), &request(1, Some(2))).expect_err("stale");
        assert_eq!(e.status, axum::http::StatusCode::CONFLICT);
        assert_eq!(e.field.as_deref(), Some("enforce_prior_version"));
        let e = reverted(&current, Some(&current), &request(3, None)).expect_err("current");
        assert!(e.message.contains("already at version 3"), "{e}");
        let e = reverted(&current, None, &request(7, None)).expect_err("unknown");
        assert_eq!(e.status, axum::http::StatusCode::NOT_FOUND);
        assert!(e.message.contains("no version 7"), "{e}");
    }
}
