//! Job versions as allocations run them: the current job when the version
//! matches, else the snapshot under `jobs-versions/` (immutable once
//! written, so remembered).

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use drover_api_types::Job;
use drover_store::{Store, StoreError};

use crate::cluster::{ClusterView, ObjectKey};

/// How many snapshots are remembered before the memo starts over.
const MEMO: usize = 256;

#[derive(Default)]
pub struct JobVersions {
    memo: Mutex<HashMap<(String, String, u64), Job>>,
}

impl JobVersions {
    /// Version `version` of job `key`: the current job when it is that
    /// version, else its snapshot; `None` when neither exists.
    pub async fn get(
        &self,
        store: &Store,
        view: &ClusterView,
        key: &ObjectKey,
        version: u64,
    ) -> Result<Option<Job>, StoreError> {
        let current = view.job(key);
        if let Some(job) = current.as_ref().filter(|j| j.metadata.version == version) {
            return Ok(Some(job.clone()));
        }
        let memo_key = (key.namespace.clone(), key.name.clone(), version);
        if let Some(job) = self.memo().get(&memo_key) {
            return Ok(Some(job.clone()));
        }
        let snapshot = view.keys.job_version(&key.namespace, &key.name, version);
        let Some(job) = store.get_at::<Job>(&snapshot).await? else {
            return Ok(None);
        };
        let mut memo = self.memo();
        if memo.len() >= MEMO {
            memo.clear();
        }
        memo.insert(memo_key, job.clone());
        Ok(Some(job))
    }

    fn memo(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String, u64), Job>> {
        self.memo.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
