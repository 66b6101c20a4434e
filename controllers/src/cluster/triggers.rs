//! Small mappers from a change in one collection to the keys a controller
//! queues (the way kube-runtime's `trigger_*` helpers do it), so each
//! controller's hooks say what maps to what and nothing else.
//!
//! A re-list (`Change::Listed`) maps to nothing here: a controller that
//! must react to one (placement, services) writes its own hook.

use std::hash::Hash;
use std::sync::{Arc, OnceLock};

use drover_api_types::Allocation;

use super::informer::{Change, Hook};
use super::{ClusterView, ObjectKey};
use crate::runtime::WorkQueue;

impl<'a, T> Change<'a, T> {
    /// The key a single change names; none for a re-list.
    pub fn key(&self) -> Option<&'a str> {
        match self {
            Change::Applied { key, .. } | Change::Deleted { key, .. } => Some(key),
            Change::Listed => None,
        }
    }

    /// The object as it is now, or as it was before it was deleted.
    pub fn object(&self) -> Option<&'a T> {
        match self {
            Change::Applied { new, .. } => Some(new),
            Change::Deleted { old, .. } => *old,
            Change::Listed => None,
        }
    }
}

/// Queues what `map` makes of each created, updated or deleted object.
pub fn on_object<T, K, I>(
    queue: &WorkQueue<K>,
    map: impl Fn(&T) -> I + Send + Sync + 'static,
) -> Hook<T>
where
    K: Clone + Eq + Hash + Send + Sync + 'static,
    I: IntoIterator<Item = K>,
{
    let queue = queue.clone();
    Arc::new(move |change: Change<'_, T>| {
        if let Some(object) = change.object() {
            map(object).into_iter().for_each(|k| queue.add(k));
        }
    })
}

/// Like [`on_object`], with the view at hand; nothing is queued before the
/// view is up (a term queues every key once it is).
pub fn on_object_in_view<T, K, I>(
    queue: &WorkQueue<K>,
    view: &Arc<OnceLock<ClusterView>>,
    map: impl Fn(&ClusterView, &T) -> I + Send + Sync + 'static,
) -> Hook<T>
where
    K: Clone + Eq + Hash + Send + Sync + 'static,
    I: IntoIterator<Item = K>,
{
    let (queue, view) = (queue.clone(), view.clone());
    Arc::new(move |change: Change<'_, T>| {
        if let (Some(view), Some(object)) = (view.get(), change.object()) {
            map(view, object).into_iter().for_each(|k| queue.add(k));
        }
    })
}

/// Queues what `map` makes of each changed key, with the view at hand: for
/// collections whose value does not say what it belongs to (a binding's or
/// a status's key names its allocation).
pub fn on_key<T, K, I>(
    queue: &WorkQueue<K>,
    view: &Arc<OnceLock<ClusterView>>,
    map: impl Fn(&ClusterView, &str) -> I + Send + Sync + 'static,
) -> Hook<T>
where
    K: Clone + Eq + Hash + Send + Sync + 'static,
    I: IntoIterator<Item = K>,
{
    let (queue, view) = (queue.clone(), view.clone());
    Arc::new(move |change: Change<'_, T>| {
        if let (Some(view), Some(key)) = (view.get(), change.key()) {
            map(view, key).into_iter().for_each(|k| queue.add(k));
        }
    })
}

impl ClusterView {
    /// The `(namespace, id)` a key names: an allocation's spec, binding or
    /// status key (after its node), a deployment's admin key, a job's
    /// placement key.
    pub fn object_key_at(&self, key: &str) -> Option<ObjectKey> {
        if let Some(status) = self.keys.parse_alloc_status(key) {
            return Some(ObjectKey::new(
                status.namespace.as_ref(),
                status.id.as_ref(),
            ));
        }
        let parsed = self.keys.parse(key)?;
        match parsed.segments.as_slice() {
            [ns, id] => Some(ObjectKey::new(ns.as_ref(), id.as_ref())),
            _ => None,
        }
    }

    /// The node a status key sits under; `None` for an unbound allocation's.
    pub fn status_node_at(&self, key: &str) -> Option<String> {
        let status = self.keys.parse_alloc_status(key)?;
        status.node.map(|n| n.into_owned())
    }

    /// The allocation a binding or status key belongs to, if the view has it.
    pub fn alloc_at(&self, key: &str) -> Option<Allocation> {
        let k = self.object_key_at(key)?;
        self.allocs.get(&self.keys.alloc(&k.namespace, &k.name))
    }
}
