//! An informer: a watch on one key prefix that feeds a reflector cache and
//! tells hooks what changed, so controllers can queue the keys that matter.
//!
//! Hooks run on the informer's task after the cache has the change, so a
//! reconcile triggered by a hook always reads at least that state. They must
//! be quick and non-blocking (add keys to a work queue, bump a clock).

use std::sync::Arc;

use drover_store::{Cache, Store, Stored, WatchEvent, Writer};
use futures::StreamExt;
use tokio::task::JoinHandle;

/// What changed under the prefix.
pub enum Change<'a, T> {
    /// A full (re-)list: everything may have changed.
    Listed,
    /// `key` was created or updated; `old` is what the cache held before.
    Applied {
        key: &'a str,
        new: &'a T,
        old: Option<&'a T>,
    },
    /// `key` was deleted; `old` is what the cache held before.
    Deleted { key: &'a str, old: Option<&'a T> },
}

/// Called for every change, after the cache has it.
pub type Hook<T> = Arc<dyn Fn(Change<'_, T>) + Send + Sync>;

/// Starts watching `prefix` into `writer`'s cache, calling `hooks` on every
/// change. The returned task runs until aborted.
pub fn spawn<T: Stored + Clone>(
    store: &Store,
    prefix: String,
    writer: Writer<T>,
    hooks: Vec<Hook<T>>,
) -> (Cache<T>, JoinHandle<()>) {
    let cache = writer.cache();
    let mut watcher = store.watch_prefix::<T>(&prefix);
    let reader = cache.clone();
    let task = tokio::spawn(async move {
        while let Some(item) = watcher.next().await {
            let event = match item {
                Ok(event) => event,
                Err(e) => {
                    tracing::warn!(%prefix, error = %e, "informer: skipping a value that does not decode");
                    continue;
                }
            };
            dispatch(&reader, &writer, event, &hooks);
        }
    });
    (cache, task)
}

fn dispatch<T: Stored + Clone>(
    cache: &Cache<T>,
    writer: &Writer<T>,
    event: WatchEvent<T>,
    hooks: &[Hook<T>],
) {
    match event {
        // Releases waiters; nothing changed that a hook must hear about.
        WatchEvent::Synced { .. } => writer.apply(event),
        WatchEvent::Restarted { .. } => {
            writer.apply(event);
            for hook in hooks {
                hook(Change::Listed);
            }
        }
        WatchEvent::Applied { key, object } => {
            let old = if hooks.is_empty() {
                None
            } else {
                cache.get(&key)
            };
            let applied = WatchEvent::Applied {
                key: key.clone(),
                object: object.clone(),
            };
            writer.apply(applied);
            for hook in hooks {
                hook(Change::Applied {
                    key: &key,
                    new: &object,
                    old: old.as_ref(),
                });
            }
        }
        WatchEvent::Deleted { key, revision } => {
            let old = cache.get(&key);
            writer.apply(WatchEvent::Deleted {
                key: key.clone(),
                revision,
            });
            for hook in hooks {
                hook(Change::Deleted {
                    key: &key,
                    old: old.as_ref(),
                });
            }
        }
    }
}
