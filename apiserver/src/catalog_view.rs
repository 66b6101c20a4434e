//! The service catalog as the Consul-compatible API and the DNS server
//! read it: watch-fed in-memory copies of the service registrations, the
//! nodes and the servers' records, plus the catalog index — at least the
//! etcd revision of the latest change to any of them, and raised by every
//! change (see `advance`) — that blocking queries wait on and
//! `X-Consul-Index` reports.
//!
//! Both readers answer from memory, so a DNS query or a catalog read never
//! touches etcd; a change reaches them one watch event after it is written.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use drover_api_types::node::{Node, NodeStatus};
use drover_api_types::server::Server;
use drover_api_types::service::ServiceRegistration;
use drover_controllers::cluster::informer::{self, Hook};
use drover_store::keys::collections as c;
use drover_store::{Cache, Store, Stored, Versioned, Writer};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::catalog_synth;

/// The catalog caches; cheap to clone.
#[derive(Clone)]
pub struct CatalogView {
    pub services: Cache<ServiceRegistration>,
    pub nodes: Cache<Node>,
    /// By node id (the key's last segment).
    pub node_status: Cache<Versioned<NodeStatus>>,
    /// The servers' own records (`servers/<name>`).
    pub servers: Cache<Server>,
    index: watch::Receiver<i64>,
    _tasks: Arc<Tasks>,
}

/// See [`CatalogView::contents`].
pub struct Contents {
    pub services: Vec<ServiceRegistration>,
    /// `(node id, node, status)`.
    pub nodes: Vec<(String, Node, Option<NodeStatus>)>,
}

fn last_segment(key: &str) -> String {
    key.rsplit('/').next().unwrap_or(key).to_string()
}

/// Stops the informers when the last view is dropped.
struct Tasks(Vec<JoinHandle<()>>);

impl Drop for Tasks {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

impl CatalogView {
    /// Starts the informers; call inside the runtime. Reads before
    /// [`CatalogView::ready`] completes see an empty catalog.
    pub fn start(store: &Store) -> CatalogView {
        let keys = store.keys().clone();
        let (index_tx, index) = watch::channel(0i64);
        let index_tx = Arc::new(index_tx);
        let mut tasks = Vec::new();

        let (services, t) = watched(store, keys.collection(c::SERVICES), &index_tx);
        tasks.push(t);
        let (nodes, t) = watched(store, keys.collection(c::NODES), &index_tx);
        tasks.push(t);
        let (node_status, t) = watched(store, keys.collection(c::NODES_STATUS), &index_tx);
        tasks.push(t);
        let (servers, t) = watched(store, keys.collection(c::SERVERS), &index_tx);
        tasks.push(t);

        CatalogView {
            services,
            nodes,
            node_status,
            servers,
            index,
            _tasks: Arc::new(Tasks(tasks)),
        }
    }

    /// Completes once every cache holds its first full list.
    pub async fn ready(&self) {
        self.services.wait_ready().await;
        self.nodes.wait_ready().await;
        self.node_status.wait_ready().await;
        self.servers.wait_ready().await;
    }

    /// The catalog index: never below 1 (Consul clients treat 0 as "no
    /// index" and would spin), never decreasing.
    pub fn index(&self) -> i64 {
        (*self.index.borrow()).max(1)
    }

    /// Waits until the catalog changes after `index` or `wait` passes;
    /// returns the index then.
    pub async fn wait_past(&self, index: i64, wait: Duration) -> i64 {
        let mut rx = self.index.clone();
        let changed = async move {
            // An error means the view is gone; answer with what we have.
            let _ = rx.wait_for(|i| *i > index).await;
        };
        let _ = tokio::time::timeout(wait, changed).await;
        self.index()
    }

    /// What the catalog lists now: the registrations in etcd plus the
    /// ones drover makes up for its own processes, and the nodes (the
    /// servers among them) by id with their statuses. See
    /// [`crate::catalog_synth`]. What every catalog reader (Consul, Nomad,
    /// DNS) answers from.
    pub fn contents(&self) -> Contents {
        let mut nodes: Vec<(String, Node, Option<NodeStatus>)> = Vec::new();
        let mut statuses: HashMap<String, NodeStatus> = HashMap::new();
        self.node_status.for_each(|key, status| {
            statuses.insert(last_segment(key), status.value.clone());
        });
        self.nodes.for_each(|key, node| {
            let id = last_segment(key);
            let status = statuses.remove(&id);
            nodes.push((id, node.clone(), status));
        });
        let mut services = self.services.list();
        services.extend(catalog_synth::agent_services(
            nodes.iter().map(|(id, n, _)| (id.as_str(), n)),
        ));
        let dc = catalog_synth::majority_datacenter(nodes.iter().map(|(_, n, _)| n));
        let servers = catalog_synth::server_nodes(self.servers.list().iter(), &dc);
        services.extend(catalog_synth::server_services(
            servers.iter().map(|(id, n, _)| (id.as_str(), n)),
        ));
        nodes.extend(servers.into_iter().map(|(id, n, s)| (id, n, Some(s))));
        Contents { services, nodes }
    }

    /// A node's status, by node id.
    pub fn status_of(&self, node_id: &str, keys: &drover_store::Keys) -> Option<NodeStatus> {
        self.node_status
            .get(&keys.node_status(node_id))
            .map(|v| v.value)
    }
}

/// One informer whose every change raises the catalog index to the
/// cache's revision (hooks run after the cache has applied the change).
fn watched<T: Stored + Clone>(
    store: &Store,
    prefix: String,
    index: &Arc<watch::Sender<i64>>,
) -> (Cache<T>, JoinHandle<()>) {
    let writer = Writer::new();
    let cache = writer.cache();
    let hook_cache = cache.clone();
    let hook_index = Arc::clone(index);
    let hook: Hook<T> = Arc::new(move |_| {
        let revision = hook_cache.revision();
        hook_index.send_modify(|i| advance(i, revision));
    });
    informer::spawn(store, prefix, writer, vec![hook])
}

/// Raises the index for a change at `revision`. Every change must raise
/// it, or waiters miss the change: each collection has its own watch, so a
/// change to one (a node at revision 5) may arrive after another's later
/// change (a service at revision 8) has already moved the index to 8. Then
/// the index moves one past itself instead: it stays monotonic and at
/// least the latest revision seen, which is all Consul's clients ask of it.
fn advance(index: &mut i64, revision: i64) {
    *index = if revision > *index {
        revision
    } else {
        *index + 1
    };
}

#[cfg(test)]
mod tests {
    use super::advance;

    #[test]
    fn every_change_raises_the_index_even_one_from_a_lagging_watch() {
        let mut index = 0;
        advance(&mut index, 8);
        assert_eq!(index, 8);
        // The nodes watch delivers revision 5 after the services' 8.
        advance(&mut index, 5);
        assert_eq!(index, 9);
        // A later revision that the bump already reached still raises it.
        advance(&mut index, 9);
        assert_eq!(index, 10);
        advance(&mut index, 20);
        assert_eq!(index, 20);
    }
}
