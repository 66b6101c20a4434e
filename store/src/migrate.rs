//! One-time moves of keys whose layout changed, run by every server as it
//! starts (idempotent; racing servers agree through guarded writes).
//!
//! - Allocation statuses moved from `allocations-status/<ns>/<id>` to
//!   `allocations-status/<node>/<ns>/<id>` (the node from the binding;
//!   [`crate::keys::UNBOUND_NODE`] when there is none).

use drover_api_types::alloc::Binding;

use crate::batch::Atomic;
use crate::codec::Versioned;
use crate::error::Result;
use crate::keys::collections as c;
use crate::store::{Guard, Store};

impl Store {
    /// Moves statuses still in the old layout; returns how many moved.
    pub async fn migrate_status_layout(&self) -> Result<usize> {
        let keys = self.keys().clone();
        let listed = self
            .list_raw(&keys.collection(c::ALLOCATIONS_STATUS))
            .await?;
        let mut batch = self.batch();
        for kv in &listed.items {
            let Some(parsed) = keys.parse(&kv.key) else {
                continue;
            };
            let [ns, id] = parsed.segments.as_slice() else {
                continue;
            };
            let binding: Option<Versioned<Binding>> =
                self.get_at(&keys.alloc_binding(ns, id)).await?;
            let node = binding.as_ref().map(|b| b.value.node_id.as_str());
            let moved_to = keys.alloc_status(node, ns, id);
            let old = Atomic::new().guard(&kv.key, Guard::Revision(kv.mod_revision));
            // An agent already writing the new layout has the newer status.
            let unit = match self.get_raw(&moved_to).await? {
                Some(_) => old.delete(kv.key.clone()),
                None => old
                    .guard(&moved_to, Guard::Absent)
                    .put(&moved_to, kv.value.clone())
                    .delete(kv.key.clone()),
            };
            batch.push(unit);
        }
        if batch.is_empty() {
            return Ok(0);
        }
        let outcome = batch.commit(self).await?;
        Ok(outcome.applied)
    }
}
