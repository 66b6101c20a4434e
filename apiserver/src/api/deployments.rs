//! Reading deployments: `/v1/deployments`, `/v1/deployment/{id}`,
//! `/v1/job/{name}/deployments` and `/v1/job/{name}/deployment` (the
//! latest, or `null`).
//!
//! A deployment is answered with the operators' pending intent beside it
//! (`deployments-admin/`), so a promote the controller has not acted on
//! yet is visible. `{id}` is a full id or a unique id prefix, resolved
//! over every namespace unless the query names one: ids are unique
//! cluster-wide, as allocation ids are. Lists are newest first.

use drover_api_types::acl::Capability;
use std::collections::HashMap;

use axum::extract::{Path, State};
use drover_api_types::deployment::DeploymentAdmin;
use drover_api_types::resolve::{resolve, Candidate};
use drover_api_types::{Deployment, Job};
use drover_store::keys::collections as c;
use drover_store::Store;

use super::acl::Caller;
use super::error::{resolved, ApiResult};
use super::extract::ApiQuery;
use super::openapi as schema;
use super::query::{Indexed, ReadOptions};
use super::route::{Need, Route, Routes};
use super::ApiState;
pub use drover_api::deployments::{sort_newest_first, DeploymentView};

/// What a deployment read depends on.
pub const COLLECTIONS: &[&str] = &[c::DEPLOYMENTS, c::DEPLOYMENTS_ADMIN];

pub(crate) fn routes() -> Routes {
    Routes::new("deployments")
        .add(
            Route::get(
                "/v1/deployments",
                "List deployments, newest first (namespace=* for all)",
            )
            .blocking()
            .query(&["job", "prefix"])
            .answers(schema::list::<DeploymentView>)
            .needs(Need::Namespace(Capability::ReadJob))
            .across_namespaces(),
            list,
        )
        .add(
            Route::get(
                "/v1/deployment/{id}",
                "Read a deployment by id or unique id prefix",
            )
            .blocking()
            .answers(schema::one::<DeploymentView>)
            .needs(Need::Namespace(Capability::ReadJob))
            .across_namespaces(),
            read,
        )
        .add(
            Route::get(
                "/v1/job/{name}/deployments",
                "A job's deployments, newest first",
            )
            .blocking()
            .answers(schema::list::<DeploymentView>)
            .needs(Need::Namespace(Capability::ReadJob)),
            job_deployments,
        )
        .add(
            Route::get(
                "/v1/job/{name}/deployment",
                "A job's latest deployment (null when none)",
            )
            .blocking()
            .answers(schema::maybe::<DeploymentView>)
            .needs(Need::Namespace(Capability::ReadJob)),
            latest,
        )
}

/// Every deployment of `ns` (all when `None`) with its admin record,
/// newest first, and the revision they were read at.
pub async fn load(store: &Store, ns: Option<&str>) -> ApiResult<(Vec<DeploymentView>, i64)> {
    let keys = store.keys();
    let deployments = store.list::<Deployment>(ns).await?;
    let admin_prefix = match ns {
        Some(ns) => keys.collection_prefix(c::DEPLOYMENTS_ADMIN, &[ns]),
        None => keys.collection(c::DEPLOYMENTS_ADMIN),
    };
    let admins = store.list_raw(&admin_prefix).await?;
    let mut by_id: HashMap<(String, String), DeploymentAdmin> = HashMap::new();
    for kv in &admins.items {
        let Some(parsed) = keys.parse(&kv.key) else {
            continue;
        };
        let [ns, id] = parsed.segments.as_slice() else {
            continue;
        };
        match serde_json::from_slice::<DeploymentAdmin>(&kv.value) {
            Ok(admin) => {
                by_id.insert((ns.to_string(), id.to_string()), admin);
            }
            // One bad record must not hide every deployment.
            Err(e) => tracing::warn!(key = %kv.key, error = %e, "skipping an undecodable value"),
        }
    }
    let mut views: Vec<DeploymentView> = deployments
        .items
        .into_iter()
        .map(|d| {
            let key = (d.metadata.namespace.clone(), d.metadata.name.clone());
            let admin = by_id.remove(&key);
            DeploymentView::new(d, admin)
        })
        .collect();
    sort_newest_first(&mut views);
    Ok((views, deployments.revision.max(admins.revision)))
}

/// The deployment `reference` (an id or unique id prefix) means (pure).
pub fn pick(reference: &str, mut views: Vec<DeploymentView>) -> ApiResult<DeploymentView> {
    let candidates: Vec<Candidate> = views
        .iter()
        .map(|v| Candidate {
            id: v.id().to_string(),
            name: v.metadata.name.clone(),
            live: !v.state().is_terminal(),
        })
        .collect();
    let i = resolved(resolve("deployment", reference, &candidates), "id")?;
    Ok(views.swap_remove(i))
}

/// The namespace an `{id}` lookup is limited to: only one the query names.
fn lookup_namespace(query: &HashMap<String, String>) -> Option<&str> {
    query
        .get("namespace")
        .map(String::as_str)
        .filter(|ns| !ns.is_empty() && *ns != "*")
}

/// Resolves `{id}`; the revision is the one the deployments were read at.
pub async fn find(
    store: &Store,
    reference: &str,
    query: &HashMap<String, String>,
) -> ApiResult<(DeploymentView, i64)> {
    let (views, revision) = load(store, lookup_namespace(query)).await?;
    Ok((pick(reference, views)?, revision))
}

async fn list(
    State(state): State<ApiState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<HashMap<String, String>>,
) -> ApiResult<Indexed<Vec<DeploymentView>>> {
    let options = ReadOptions::parse(&query)?;
    options.block(&state.feed, COLLECTIONS).await;
    let (mut views, revision) = load(&state.store, options.namespace.as_deref()).await?;
    views.retain(|v| caller.may(&v.metadata.namespace, Capability::ReadJob));
    if let Some(job) = query.get("job") {
        views.retain(|v| &v.spec.job_id == job);
    }
    if let Some(prefix) = query.get("prefix") {
        views.retain(|v| v.id().starts_with(prefix.as_str()));
    }
    Ok(Indexed(revision, views))
}

async fn read(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<HashMap<String, String>>,
) -> ApiResult<Indexed<DeploymentView>> {
    let options = ReadOptions::parse(&query)?;
    options.block(&state.feed, COLLECTIONS).await;
    let (view, revision) = find(&state.store, &id, &query).await?;
    caller.require(&view.metadata.namespace, Capability::ReadJob)?;
    Ok(Indexed(revision, view))
}

/// One job's deployments, newest first: none a purged job of the same
/// name left.
async fn of_job(
    state: &ApiState,
    name: &str,
    options: &ReadOptions,
) -> ApiResult<(Vec<DeploymentView>, i64)> {
    options.block(&state.feed, COLLECTIONS).await;
    let ns = options.namespace_or_default();
    let (mut views, revision) = load(&state.store, Some(ns)).await?;
    let job = state.store.get::<Job>(ns, name).await?;
    views.retain(|v| {
        v.spec.job_id == name && job.as_ref().is_none_or(|job| v.spec.of_same_job(job))
    });
    Ok((views, revision))
}

async fn job_deployments(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    ApiQuery(query): ApiQuery<HashMap<String, String>>,
) -> ApiResult<Indexed<Vec<DeploymentView>>> {
    let options = ReadOptions::parse(&query)?;
    let (views, revision) = of_job(&state, &name, &options).await?;
    Ok(Indexed(revision, views))
}

/// The job's latest deployment, `null` when it has none (as Nomad).
async fn latest(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    ApiQuery(query): ApiQuery<HashMap<String, String>>,
) -> ApiResult<Indexed<Option<DeploymentView>>> {
    let options = ReadOptions::parse(&query)?;
    let (views, revision) = of_job(&state, &name, &options).await?;
    Ok(Indexed(revision, views.into_iter().next()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use drover_api_types::deployment::DeploymentState;

    fn view(id: &str, version: u64, minute: u32, state: DeploymentState) -> DeploymentView {
        let mut d = Deployment::default();
        d.metadata.name = id.into();
        d.metadata.uid = id.into();
        d.spec.job_version = version;
        d.spec.created_at = Utc.with_ymd_and_hms(2024, 1, 1, 0, minute, 0).single();
        d.status.state = state;
        DeploymentView::new(d, None)
    }

    #[test]
    fn newest_first() {
        let mut views = vec![
            view("a", 0, 1, DeploymentState::Successful),
            view("c", 2, 3, DeploymentState::Running),
            view("b", 1, 2, DeploymentState::Cancelled),
        ];
        sort_newest_first(&mut views);
        let ids: Vec<&str> = views.iter().map(DeploymentView::id).collect();
        assert_eq!(ids, vec!["c", "b", "a"]);
    }

    #[test]
    fn pick_by_prefix_and_reports_ambiguity() {
        let views = || {
            vec![
                view("4f1a-1", 0, 1, DeploymentState::Successful),
                view("4f2b-2", 1, 2, DeploymentState::Running),
            ]
        };
        assert_eq!(pick("4f2", views()).expect("unique").id(), "4f2b-2");
        let e = pick("4f", views()).expect_err("ambiguous");
        assert_eq!(e.status, axum::http::StatusCode::BAD_REQUEST);
        assert!(
            e.message.contains("4f1a-1") && e.message.contains("4f2b-2"),
            "{e}"
        );
        let e = pick("zz", views()).expect_err("unknown");
        assert_eq!(e.status, axum::http::StatusCode::NOT_FOUND);
    }
}
