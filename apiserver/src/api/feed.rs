//! One watch on drover's whole key prefix, shared by every request: the
//! latest revision at which each collection changed (what blocking queries
//! wait on) and a broadcast of changes (what the event stream sends).
//! Values are decoded by whoever subscribes; the feed keeps only counters.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use drover_store::watch::{Change, RawEvent};
use drover_store::{Keys, Store};
use futures::StreamExt;
use tokio::sync::{broadcast, watch};

/// How many changes a slow event-stream subscriber may fall behind before
/// it is told it missed some.
const BROADCAST_CAPACITY: usize = 4096;

/// One change as the event stream sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedChange {
    pub collection: String,
    /// The key's segments after the collection (namespace, name, …).
    pub segments: Vec<String>,
    pub revision: i64,
    /// The stored JSON; `None` for a delete.
    pub value: Option<Arc<Vec<u8>>>,
}

/// The shared watch.
#[derive(Clone)]
pub struct Feed {
    revisions: watch::Receiver<Revisions>,
    changes: broadcast::Sender<FeedChange>,
}

/// The latest change revision per collection, and the revision up to which
/// every change has been seen.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Revisions {
    pub by_collection: BTreeMap<String, i64>,
    pub synced: i64,
}

impl Revisions {
    /// The latest change of any of `collections`.
    pub fn latest(&self, collections: &[&str]) -> i64 {
        collections
            .iter()
            .filter_map(|c| self.by_collection.get(*c))
            .copied()
            .max()
            .unwrap_or(0)
    }

    fn apply(&mut self, keys: &Keys, key: &str, revision: i64) -> Option<(String, Vec<String>)> {
        let (collection, segments) = match keys.parse(key) {
            Some(parsed) => (parsed.collection, parsed.segments),
            // Consul KV keys may have empty segments (a "folder" ends in
            // `/`); they still count as changes to `kv`.
            None => {
                let rest = key.strip_prefix(keys.prefix())?.strip_prefix('/')?;
                let (collection, rest) = rest.split_once('/')?;
                if collection != drover_store::keys::collections::KV || rest.is_empty() {
                    return None;
                }
                (collection, rest.split('/').map(Cow::Borrowed).collect())
            }
        };
        let entry = self
            .by_collection
            .entry(collection.to_string())
            .or_default();
        *entry = (*entry).max(revision);
        Some((
            collection.to_string(),
            segments.iter().map(|s| s.to_string()).collect(),
        ))
    }
}

impl Feed {
    /// Starts the watch; it runs (and retries) until the runtime stops.
    pub fn start(store: &Store) -> Feed {
        let (revisions_tx, revisions) = watch::channel(Revisions::default());
        let (changes, _) = broadcast::channel(BROADCAST_CAPACITY);
        let feed = Feed { revisions, changes };
        let keys = store.keys().clone();
        let prefix = format!("{}/", keys.prefix());
        let mut watcher = store.watch_raw(&prefix);
        let changes = feed.changes.clone();
        tokio::spawn(async move {
            while let Some(event) = watcher.next().await {
                match event {
                    RawEvent::Restarted { kvs, revision } => {
                        revisions_tx.send_modify(|r| {
                            for kv in &kvs {
                                r.apply(&keys, &kv.key, kv.mod_revision);
                            }
                            r.synced = r.synced.max(revision);
                        });
                    }
                    RawEvent::Change(change) => {
                        let (key, revision, value) = match change {
                            Change::Put(kv) => (kv.key, kv.mod_revision, Some(Arc::new(kv.value))),
                            Change::Delete { key, revision } => (key, revision, None),
                        };
                        let mut parsed = None;
                        revisions_tx.send_modify(|r| parsed = r.apply(&keys, &key, revision));
                        if let Some((collection, segments)) = parsed {
                            // No subscriber is not an error.
                            let _ = changes.send(FeedChange {
                                collection,
                                segments,
                                revision,
                                value,
                            });
                        }
                    }
                    RawEvent::Synced { revision } => {
                        revisions_tx.send_modify(|r| r.synced = r.synced.max(revision));
                    }
                }
            }
        });
        feed
    }

    /// The revisions as of now.
    pub fn revisions(&self) -> Revisions {
        self.revisions.borrow().clone()
    }

    /// Waits until one of `collections` changes after `index`, or `wait`
    /// passes; returns whether it changed.
    pub async fn wait_past(&self, collections: &[&str], index: i64, wait: Duration) -> bool {
        let mut rx = self.revisions.clone();
        let changed = async move { rx.wait_for(|r| r.latest(collections) > index).await.is_ok() };
        tokio::time::timeout(wait, changed).await.unwrap_or(false)
    }

    /// Changes from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<FeedChange> {
        self.changes.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revisions_track_the_latest_change_per_collection() {
        let keys = Keys::new("/drover");
        let mut r = Revisions::default();
        assert_eq!(
            r.apply(&keys, "/drover/jobs/default/web", 7),
            Some(("jobs".into(), vec!["default".into(), "web".into()]))
        );
        r.apply(&keys, "/drover/jobs/default/api", 5);
        r.apply(&keys, "/drover/allocations/default/a1", 9);
        assert_eq!(r.apply(&keys, "/elsewhere/jobs/x/y", 11), None);
        assert_eq!(r.latest(&["jobs"]), 7);
        assert_eq!(r.latest(&["jobs", "allocations"]), 9);
        assert_eq!(r.latest(&["nodes"]), 0);
        // KV folders end in `/`.
        assert!(r.apply(&keys, "/drover/kv/app/", 12).is_some());
        assert_eq!(r.latest(&["kv"]), 12);
        assert_eq!(r.apply(&keys, "/drover/jobs/a/", 13), None);
    }
}
