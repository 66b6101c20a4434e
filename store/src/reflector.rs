//! Reflector: an in-memory copy of one key prefix, fed by a watch.
//!
//! [`Writer`] applies [`WatchEvent`]s; [`Cache`] is the cheap, cloneable read
//! side. A cache is *ready* once the first `Restarted` (full list) has been
//! applied; before that it is empty and must not be trusted, so consumers
//! `wait_ready().await` first. A `Restarted` replaces the contents wholesale,
//! which is how deletions missed during a compaction gap disappear.
//!
//! Controllers that also need the events themselves drive a [`Writer`] from
//! their own [`Watcher`](crate::watch::Watcher); others let
//! [`Store::reflector`] run one in the background.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, PoisonError, RwLock};

use futures::StreamExt;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::codec::Stored;
use crate::store::Store;
use crate::watch::WatchEvent;

struct Inner<T> {
    objects: RwLock<State<T>>,
    ready: watch::Sender<bool>,
    /// The revision of the last event applied, for [`Cache::wait_revision`].
    applied: watch::Sender<i64>,
}

/// Maps an object to its secondary-index value (e.g. an allocation to its
/// job), or `None` to leave it out of the index.
pub type IndexFn<T> = Arc<dyn Fn(&T) -> Option<String> + Send + Sync>;

struct State<T> {
    map: BTreeMap<String, T>,
    revision: i64,
    index: Option<Index<T>>,
}

/// A secondary index: index value → keys, kept in step with the map.
struct Index<T> {
    of: IndexFn<T>,
    keys: HashMap<String, BTreeSet<String>>,
}

impl<T> Index<T> {
    fn insert(&mut self, key: &str, object: &T) {
        if let Some(value) = (self.of)(object) {
            self.keys.entry(value).or_default().insert(key.to_string());
        }
    }

    fn remove(&mut self, key: &str, object: &T) {
        if let Some(value) = (self.of)(object) {
            if let Some(set) = self.keys.get_mut(&value) {
                set.remove(key);
                if set.is_empty() {
                    self.keys.remove(&value);
                }
            }
        }
    }

    fn rebuild(&mut self, map: &BTreeMap<String, T>) {
        self.keys.clear();
        for (key, object) in map {
            self.insert(key, object);
        }
    }
}

/// Read side of a reflector, keyed by etcd key. Clones share the data.
pub struct Cache<T> {
    inner: Arc<Inner<T>>,
}

impl<T> Clone for Cache<T> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

impl<T: Clone> Cache<T> {
    /// The object at `key`, if present.
    pub fn get(&self, key: &str) -> Option<T> {
        self.read(|s| s.map.get(key).cloned())
    }

    /// Every object, in key order.
    pub fn list(&self) -> Vec<T> {
        self.read(|s| s.map.values().cloned().collect())
    }

    /// The objects whose index value is `value`, in key order. Empty when the
    /// cache has no index (see [`Writer::with_index`]).
    pub fn by_index(&self, value: &str) -> Vec<T> {
        self.read(|s| {
            let Some(index) = &s.index else {
                return Vec::new();
            };
            index
                .keys
                .get(value)
                .map(|keys| keys.iter().filter_map(|k| s.map.get(k).cloned()).collect())
                .unwrap_or_default()
        })
    }

    /// The keys whose index value is `value`, in key order.
    pub fn keys_by_index(&self, value: &str) -> Vec<String> {
        self.read(|s| {
            s.index
                .as_ref()
                .and_then(|index| index.keys.get(value))
                .map(|keys| keys.iter().cloned().collect())
                .unwrap_or_default()
        })
    }

    /// Every `(key, object)` whose key starts with `prefix`, in key order.
    pub fn list_prefix(&self, prefix: &str) -> Vec<(String, T)> {
        self.read(|s| {
            s.map
                .range(prefix.to_string()..)
                .take_while(|(k, _)| k.starts_with(prefix))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
    }
}

impl<T> Cache<T> {
    /// All keys, in order.
    pub fn keys(&self) -> Vec<String> {
        self.read(|s| s.map.keys().cloned().collect())
    }

    pub fn len(&self) -> usize {
        self.read(|s| s.map.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The revision of the last event applied (0 before the first list).
    pub fn revision(&self) -> i64 {
        self.read(|s| s.revision)
    }

    /// Completes once every change up to `revision` has been applied (a
    /// whole transaction, not just its first change). Use it after a write
    /// under this cache's prefix, so the next read sees all of it.
    pub async fn wait_revision(&self, revision: i64) {
        let mut rx = self.inner.applied.subscribe();
        // As in `wait_ready`: the sender lives as long as we do.
        let _ = rx.wait_for(|applied| *applied >= revision).await;
    }

    /// Calls `f` on every object under the read lock, without cloning. Keep
    /// `f` short: the writer waits for it.
    pub fn for_each(&self, mut f: impl FnMut(&str, &T)) {
        self.read(|s| {
            for (k, v) in &s.map {
                f(k, v);
            }
        })
    }

    /// Index values present, in no particular order.
    pub fn index_values(&self) -> Vec<String> {
        self.read(|s| {
            s.index
                .as_ref()
                .map(|i| i.keys.keys().cloned().collect())
                .unwrap_or_default()
        })
    }

    /// Whether the first full list has been applied.
    pub fn is_ready(&self) -> bool {
        *self.inner.ready.borrow()
    }

    /// Completes once the first full list has been applied.
    pub async fn wait_ready(&self) {
        let mut rx = self.inner.ready.subscribe();
        // The sender lives in `inner`, which we hold: the channel cannot
        // close while we wait, so the error arm is unreachable.
        let _ = rx.wait_for(|ready| *ready).await;
    }

    fn read<R>(&self, f: impl FnOnce(&State<T>) -> R) -> R {
        // A panic while holding the lock leaves a map that is still a valid
        // (if stale) cache; keep serving it.
        let guard = self
            .inner
            .objects
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        f(&guard)
    }
}

/// Write side of a reflector.
pub struct Writer<T> {
    cache: Cache<T>,
}

impl<T: Stored> Writer<T> {
    pub fn new() -> Self {
        Self {
            cache: Cache {
                inner: Arc::new(Inner {
                    objects: RwLock::new(State {
                        map: BTreeMap::new(),
                        revision: 0,
                        index: None,
                    }),
                    ready: watch::channel(false).0,
                    applied: watch::channel(0).0,
                }),
            },
        }
    }

    /// A writer whose cache keeps a secondary index by `of`, read with
    /// [`Cache::by_index`].
    pub fn with_index(of: IndexFn<T>) -> Self {
        let writer = Self::new();
        {
            let mut state = writer
                .cache
                .inner
                .objects
                .write()
                .unwrap_or_else(PoisonError::into_inner);
            state.index = Some(Index {
                of,
                keys: HashMap::new(),
            });
        }
        writer
    }

    /// A reader of this writer's cache.
    pub fn cache(&self) -> Cache<T> {
        self.cache.clone()
    }

    /// Folds one event into the cache.
    pub fn apply(&self, event: WatchEvent<T>) {
        // Readers waiting for a revision are released only once the whole
        // revision is in (a list, or a `Synced` after a transaction's
        // changes), never after its first change.
        let synced = {
            let mut state = self
                .cache
                .inner
                .objects
                .write()
                .unwrap_or_else(PoisonError::into_inner);
            match event {
                WatchEvent::Restarted { objects, revision } => {
                    let State { map, index, .. } = &mut *state;
                    *map = objects.into_iter().collect();
                    if let Some(index) = index {
                        index.rebuild(map);
                    }
                    state.revision = revision;
                    Some(revision)
                }
                WatchEvent::Applied { key, object } => {
                    state.revision = state.revision.max(object.revision());
                    let State { map, index, .. } = &mut *state;
                    if let Some(index) = index {
                        if let Some(old) = map.get(&key) {
                            index.remove(&key, old);
                        }
                        index.insert(&key, &object);
                    }
                    map.insert(key, object);
                    None
                }
                WatchEvent::Deleted { key, revision } => {
                    if let Some(old) = state.map.remove(&key) {
                        if let Some(index) = &mut state.index {
                            index.remove(&key, &old);
                        }
                    }
                    state.revision = state.revision.max(revision);
                    None
                }
                WatchEvent::Synced { revision } => {
                    state.revision = state.revision.max(revision);
                    Some(state.revision)
                }
            }
        };
        let Some(revision) = synced else { return };
        self.cache.inner.applied.send_if_modified(|applied| {
            let newer = revision > *applied;
            if newer {
                *applied = revision;
            }
            newer
        });
        self.cache
            .inner
            .ready
            .send_if_modified(|ready| !std::mem::replace(ready, true));
    }
}

impl<T: Stored> Default for Writer<T> {
    fn default() -> Self {
        Self::new()
    }
}

/// A cache kept up to date by a background watch. Stops on drop.
pub struct Reflector<T> {
    cache: Cache<T>,
    task: JoinHandle<()>,
}

impl<T> Reflector<T> {
    pub fn cache(&self) -> Cache<T> {
        self.cache.clone()
    }
}

impl<T> std::ops::Deref for Reflector<T> {
    type Target = Cache<T>;

    fn deref(&self) -> &Cache<T> {
        &self.cache
    }
}

impl<T> Drop for Reflector<T> {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Store {
    /// Mirrors every key under `prefix` into a [`Cache`].
    pub fn reflector<T: Stored>(&self, prefix: &str) -> Reflector<T> {
        self.reflector_with(prefix, Writer::<T>::new())
    }

    /// Like [`Store::reflector`], into the cache of `writer` (e.g. one made
    /// with [`Writer::with_index`]).
    pub fn reflector_with<T: Stored>(&self, prefix: &str, writer: Writer<T>) -> Reflector<T> {
        let cache = writer.cache();
        let mut watcher = self.watch_prefix::<T>(prefix);
        let prefix = prefix.to_string();
        let task = tokio::spawn(async move {
            while let Some(item) = watcher.next().await {
                match item {
                    Ok(event) => writer.apply(event),
                    Err(e) => tracing::warn!(%prefix, error = %e, "reflector: skipping value"),
                }
            }
        });
        Reflector { cache, task }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::Versioned;

    fn v(n: u32, rev: i64) -> Versioned<u32> {
        Versioned {
            value: n,
            revision: rev,
        }
    }

    #[tokio::test]
    async fn becomes_ready_on_first_restart_and_tracks_changes() {
        let writer = Writer::<Versioned<u32>>::new();
        let cache = writer.cache();
        assert!(!cache.is_ready());
        writer.apply(WatchEvent::Restarted {
            objects: vec![("/a".into(), v(1, 3)), ("/b".into(), v(2, 4))],
            revision: 5,
        });
        cache.wait_ready().await;
        assert_eq!(cache.keys(), vec!["/a", "/b"]);
        writer.apply(WatchEvent::Applied {
            key: "/c".into(),
            object: v(3, 6),
        });
        writer.apply(WatchEvent::Deleted {
            key: "/a".into(),
            revision: 7,
        });
        assert_eq!(cache.get("/c"), Some(v(3, 6)));
        assert_eq!(cache.get("/a"), None);
        assert_eq!(cache.revision(), 7);
        // A re-list replaces everything, dropping keys deleted meanwhile.
        writer.apply(WatchEvent::Restarted {
            objects: vec![("/z".into(), v(9, 8))],
            revision: 9,
        });
        assert_eq!(cache.list(), vec![v(9, 8)]);
        assert_eq!(cache.list_prefix("/z"), vec![("/z".to_string(), v(9, 8))]);
        assert_eq!(cache.revision(), 9);
    }

    #[tokio::test]
    async fn a_revision_is_waited_for_until_all_of_it_is_in() {
        use futures::FutureExt;
        let writer = Writer::<Versioned<u32>>::new();
        let cache = writer.cache();
        writer.apply(WatchEvent::Restarted {
            objects: vec![],
            revision: 5,
        });
        // A transaction at revision 6 wrote /a and /b; /a has arrived.
        writer.apply(WatchEvent::Applied {
            key: "/a".into(),
            object: v(1, 6),
        });
        assert!(cache.wait_revision(6).now_or_never().is_none());
        writer.apply(WatchEvent::Applied {
            key: "/b".into(),
            object: v(2, 6),
        });
        writer.apply(WatchEvent::Synced { revision: 6 });
        assert!(cache.wait_revision(6).now_or_never().is_some());
        assert_eq!(cache.len(), 2);
    }

    #[tokio::test]
    async fn index_follows_updates_deletes_and_relists() {
        let parity: IndexFn<Versioned<u32>> =
            Arc::new(|v| Some(if v.value % 2 == 0 { "even" } else { "odd" }.to_string()));
        let writer = Writer::with_index(parity);
        let cache = writer.cache();
        writer.apply(WatchEvent::Restarted {
            objects: vec![("/a".into(), v(1, 3)), ("/b".into(), v(2, 4))],
            revision: 5,
        });
        assert_eq!(cache.by_index("odd"), vec![v(1, 3)]);
        // An update that changes the index value moves the key.
        writer.apply(WatchEvent::Applied {
            key: "/a".into(),
            object: v(4, 6),
        });
        assert_eq!(cache.by_index("odd"), vec![]);
        assert_eq!(cache.by_index("even"), vec![v(4, 6), v(2, 4)]);
        writer.apply(WatchEvent::Deleted {
            key: "/b".into(),
            revision: 7,
        });
        assert_eq!(cache.by_index("even"), vec![v(4, 6)]);
        writer.apply(WatchEvent::Restarted {
            objects: vec![("/z".into(), v(7, 8))],
            revision: 9,
        });
        assert_eq!(cache.by_index("even"), vec![]);
        assert_eq!(cache.by_index("odd"), vec![v(7, 8)]);
        cache.wait_revision(9).await;
    }
}
