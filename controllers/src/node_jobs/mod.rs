//! Each node's copies of the job versions its allocations run, one per
//! group (`node-jobs/<node>/<ns>/<job>/<version>/<group>`, the job with that
//! group alone): what an agent whose etcd role reaches only its own keys
//! reads instead of `jobs-versions/`, and nothing of the groups it does not
//! run (their env, templates and registry passwords).
//!
//! The core compares the versions and groups a node's bound allocations
//! name with the copies it holds: a missing copy is written; one no
//! allocation names is deleted once it has gone unnamed for a grace period
//! (the caches are read at slightly different revisions, so a copy may look
//! unnamed for a moment while its binding is on its way). A whole-job copy
//! written before copies held one group stays while its version is named:
//! an agent not yet upgraded reads it.

pub mod controller;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

/// One group of one job version on one node.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct JobRef {
    pub namespace: String,
    pub job: String,
    pub version: u64,
    /// `None`: a whole-job copy of an older server.
    pub group: Option<String>,
}

impl JobRef {
    fn same_version(&self, other: &JobRef) -> bool {
        self.namespace == other.namespace && self.job == other.job && self.version == other.version
    }
}

/// What to do about one node's copies.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CopyPlan {
    pub put: Vec<JobRef>,
    pub delete: Vec<JobRef>,
    /// Since when each kept copy has been unnamed: the memory for the next
    /// call.
    pub unnamed_since: BTreeMap<JobRef, Instant>,
    /// When an unnamed copy's grace ends.
    pub recheck_in: Option<Duration>,
}

/// The copies `held` should become `wanted`; `unnamed_since` is what the
/// previous call returned for this node.
pub fn plan(
    wanted: &BTreeSet<JobRef>,
    held: &BTreeSet<JobRef>,
    unnamed_since: &BTreeMap<JobRef, Instant>,
    now: Instant,
    grace: Duration,
) -> CopyPlan {
    let mut out = CopyPlan {
        put: wanted.difference(held).cloned().collect(),
        ..CopyPlan::default()
    };
    let whole_still_read =
        |held: &JobRef| held.group.is_none() && wanted.iter().any(|w| w.same_version(held));
    for unnamed in held.difference(wanted).filter(|h| !whole_still_read(h)) {
        let since = unnamed_since.get(unnamed).copied().unwrap_or(now);
        let waited = now.saturating_duration_since(since);
        if waited >= grace {
            out.delete.push(unnamed.clone());
        } else {
            out.unnamed_since.insert(unnamed.clone(), since);
            let left = grace - waited;
            out.recheck_in = Some(out.recheck_in.map_or(left, |r| r.min(left)));
        }
    }
    out
}

#[cfg(test)]
mod tests;
