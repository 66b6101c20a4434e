//! Writing a job version: the job, its snapshot under `jobs-versions/` and
//! the file it was submitted as under `jobs-sources/`, in one transaction. The apiserver (registration, revert), the
//! deployments controller (auto-revert) and the periodic and dispatch
//! launchers all write jobs through here, so a job never exists without its
//! version snapshot.

use drover_api_types::Job;

use crate::error::Result;
use crate::{Atomic, Guard, Store};

/// How many snapshots of a purged job are deleted in the transaction that
/// registers its name again; older ones go first, outside it.
const STALE_IN_TXN: usize = 64;

/// Writes `job` — its `metadata.version` already decided — and its version
/// snapshot, guarded by `job.metadata.resource_version` (0: the job must
/// not exist). `stale` keys are deleted in the same transaction. Returns
/// the revision of the write; a lost race is [`crate::StoreError::Conflict`]
/// or [`crate::StoreError::AlreadyExists`].
pub async fn commit_job_version(store: &Store, job: &Job, stale: Vec<String>) -> Result<i64> {
    commit_job_version_guarded(store, job, stale, None).await
}

/// [`commit_job_version`], also guarded by `extra` (a key and the
/// revision it must still be at): a new job's namespace, so a deletion
/// that marked it meanwhile makes the registration fail.
pub async fn commit_job_version_guarded(
    store: &Store,
    job: &Job,
    stale: Vec<String>,
    extra: Option<(String, i64)>,
) -> Result<i64> {
    commit_job_version_submitted(store, job, stale, extra, None).await
}

/// [`commit_job_version_guarded`], with the file the version was submitted
/// as (`jobs-sources/`, already encoded). Without one, that key is deleted
/// in the same transaction: a source left by an earlier history of the
/// name never describes this version.
pub async fn commit_job_version_submitted(
    store: &Store,
    job: &Job,
    stale: Vec<String>,
    extra: Option<(String, i64)>,
    source: Option<Vec<u8>>,
) -> Result<i64> {
    let keys = store.keys();
    let (ns, name) = (&job.metadata.namespace, &job.metadata.name);
    let key = keys.job(ns, name);
    let guard = match job.metadata.resource_version {
        0 => Guard::Absent,
        rev => Guard::Revision(rev),
    };
    let mut snapshot = job.clone();
    snapshot.metadata.resource_version = 0;
    let bytes = crate::codec::encode(&key, &snapshot)?;
    let mut unit = Atomic::new().guard(key.clone(), guard);
    if let Some((other, revision)) = extra {
        unit = unit.guard(other, Guard::Revision(revision));
    }
    for stale in stale {
        unit = unit.delete(stale);
    }
    let source_key = keys.job_source(ns, name, job.metadata.version);
    let unit = match source {
        Some(source) => unit.put(source_key, source),
        None => unit.delete(source_key),
    };
    let unit = unit
        .put(key, bytes.clone())
        .put(keys.job_version(ns, name, job.metadata.version), bytes);
    let mut batch = store.batch();
    batch.push(unit);
    batch.commit_atomic(store).await
}

/// The snapshots (and stability marks) a purged job left: a job registered
/// again under the name starts a new history at version 0, so they go in
/// the registering transaction — guarded by the job's absence, so a
/// concurrent registration that wins keeps its own snapshot. Version 0's
/// snapshot is left out: the new one overwrites it (etcd refuses a key
/// twice in one transaction), and so is its source (written or deleted
/// there). Beyond [`STALE_IN_TXN`], the oldest are
/// deleted first, one by one; no new history reaches their version
/// numbers meanwhile.
pub async fn stale_history(store: &Store, ns: &str, name: &str) -> Result<Vec<String>> {
    let keys = store.keys();
    let first = keys.job_version(ns, name, 0);
    let first_source = keys.job_source(ns, name, 0);
    let mut stale: Vec<String> = Vec::new();
    for prefix in [
        keys.job_versions_prefix(ns, name),
        keys.job_stable_prefix(ns, name),
        keys.job_sources_prefix(ns, name),
    ] {
        let list = store.list_keys(&prefix).await?;
        stale.extend(list.items.into_iter().map(|kv| kv.key));
    }
    stale.retain(|k| *k != first && *k != first_source);
    stale.sort();
    let in_txn = stale.split_off(stale.len().saturating_sub(STALE_IN_TXN));
    for key in &stale {
        store.delete_raw(key, Guard::None).await?;
    }
    Ok(in_txn)
}
