//! `GET /v1/namespaces`: the namespaces in use. drover has no namespace
//! objects yet: a namespace exists while a job lives in it, and `default`
//! always does.

use std::collections::BTreeMap;
use std::collections::HashMap;

use axum::extract::{Query, State};
use drover_api_types::acl::Capability;
use drover_store::keys::collections as c;

use super::acl::Caller;
use super::error::ApiResult;
use super::openapi as schema;
use super::query::{Indexed, ReadOptions, DEFAULT_NAMESPACE};
use super::route::{Need, Route, Routes};
use super::ApiState;
pub use drover_api::namespaces::NamespaceView;

pub(crate) fn routes() -> Routes {
    Routes::new("namespaces").add(
        Route::get("/v1/namespaces", "The namespaces in use")
            .blocking()
            .answers(schema::list::<NamespaceView>)
            .needs(Need::Token),
        list,
    )
}

/// Counts jobs per namespace from their namespaces (pure); `default` is
/// always listed; sorted by name.
pub fn namespaces<'a>(job_namespaces: impl IntoIterator<Item = &'a str>) -> Vec<NamespaceView> {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::from([(DEFAULT_NAMESPACE, 0)]);
    for ns in job_namespaces {
        *counts.entry(ns).or_default() += 1;
    }
    counts
        .into_iter()
        .map(|(name, jobs)| NamespaceView {
            name: name.to_string(),
            jobs,
        })
        .collect()
}

async fn list(
    State(state): State<ApiState>,
    caller: Caller,
    Query(query): Query<HashMap<String, String>>,
) -> ApiResult<Indexed<Vec<NamespaceView>>> {
    let options = ReadOptions::parse(&query)?;
    options.block(&state.feed, &[c::JOBS]).await;
    let store = &state.store;
    let keys = store.keys();
    let jobs = store.list_raw(&keys.collection(c::JOBS)).await?;
    let parsed: Vec<_> = jobs
        .items
        .iter()
        .filter_map(|kv| keys.parse(&kv.key))
        .collect();
    let in_use = parsed.iter().filter_map(|p| match p.segments.as_slice() {
        [ns, _] => Some(ns.as_ref()),
        _ => None,
    });
    let mut listed = namespaces(in_use);
    listed.retain(|n| caller.may(&n.name, Capability::ListJobs));
    Ok(Indexed(jobs.revision, listed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_always_listed_and_jobs_are_counted() {
        let v = namespaces(["prod", "dev", "prod"]);
        let names: Vec<(&str, usize)> = v.iter().map(|n| (n.name.as_str(), n.jobs)).collect();
        assert_eq!(names, [("default", 0), ("dev", 1), ("prod", 2)]);
        assert_eq!(namespaces([]).len(), 1);
    }
}
