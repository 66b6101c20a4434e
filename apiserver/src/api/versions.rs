//! `GET /v1/job/{name}/versions`: every stored version of a job
//! (`jobs-versions/` snapshots), newest first. `?diffs=true` adds, to each
//! version, its difference from the version before it.

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::routing::get;
use axum::Router;
use drover_api_types::diff::{diff_jobs, JobDiff};
use drover_api_types::Job;
use drover_store::keys::collections as c;
use serde::{Deserialize, Serialize};

use super::error::{ApiError, ApiResult};
use super::extract::ApiQuery;
use super::query::{Indexed, ReadOptions};
use super::ApiState;

pub fn routes() -> Router<ApiState> {
    Router::new().route("/v1/job/{name}/versions", get(versions))
}

/// `GET /v1/job/{name}/versions` answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobVersions {
    /// Newest first.
    pub versions: Vec<JobVersion>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobVersion {
    pub version: u64,
    pub job: Job,
    /// From the previous version (with `?diffs=true`; absent for the first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diff: Option<JobDiff>,
}

/// Orders snapshots newest first and, if asked, diffs each against the
/// one before it.
pub fn arrange(mut jobs: Vec<Job>, diffs: bool) -> Vec<JobVersion> {
    jobs.sort_by_key(|j| std::cmp::Reverse(j.metadata.version));
    let mut out: Vec<JobVersion> = Vec::with_capacity(jobs.len());
    for (i, job) in jobs.iter().enumerate() {
        let diff = match (diffs, jobs.get(i + 1)) {
            (true, Some(previous)) => Some(diff_jobs(Some(previous), job)),
            _ => None,
        };
        out.push(JobVersion {
            version: job.metadata.version,
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
    options.block(&state.feed, &[c::JOBS_VERSIONS]).await;
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
    let mut items = list.items;
    for job in &mut items {
        // A snapshot's revision is when it was written, not the job's index.
        job.metadata.resource_version = 0;
    }
    Ok(Indexed(
        list.revision,
        JobVersions {
            versions: arrange(items, diffs),
        },
    ))
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
        let out = arrange(vec![version(0, 1), version(2, 3), version(1, 2)], true);
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
        assert!(arrange(vec![version(0, 1), version(1, 2)], false)
            .iter()
            .all(|v| v.diff.is_none()));
    }
}
