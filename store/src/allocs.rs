//! Reading one allocation's status, which sits under the node it is bound
//! to (see [`crate::keys`]): the binding names the node.

use drover_api_types::alloc::{AllocationStatus, Binding};

use crate::codec::Versioned;
use crate::error::Result;
use crate::store::Store;

impl Store {
    /// The status of allocation `id` in `ns`, under its node when bound,
    /// else where the servers keep an unbound one's; `None` if neither.
    pub async fn alloc_status_of(
        &self,
        ns: &str,
        id: &str,
    ) -> Result<Option<Versioned<AllocationStatus>>> {
        let key = self.alloc_status_key(ns, id).await?;
        self.get_at(&key).await
    }

    /// Where the status of allocation `id` in `ns` lives, by its binding
    /// as read now.
    pub async fn alloc_status_key(&self, ns: &str, id: &str) -> Result<String> {
        let keys = self.keys();
        let binding: Option<Versioned<Binding>> = self.get_at(&keys.alloc_binding(ns, id)).await?;
        let node = binding.as_ref().map(|b| b.value.node_id.as_str());
        Ok(keys.alloc_status(node, ns, id))
    }
}
