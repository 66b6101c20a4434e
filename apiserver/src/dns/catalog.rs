//! What the DNS server answers from: an immutable snapshot of the healthy
//! service instances and the nodes, rebuilt from the [`CatalogView`]
//! whenever the catalog index moves and shared behind an `Arc`, so a query
//! costs a hash lookup and never a lock held against the watch writers.
//!
//! Health is applied when the snapshot is built, not per query: instances
//! with a critical check and instances on a node that is down never make
//! it in (see [`super::health`]).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use drover_api_types::node::{Node, NodeState, NodeStatus};
use drover_api_types::service::ServiceRegistration;
use hickory_proto::rr::Name;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::health;
use crate::catalog_view::CatalogView;

/// Where an instance or a node is reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    Ip(IpAddr),
    /// A DNS name (answered with a CNAME, as Consul does).
    Host(Name),
}

impl Address {
    /// `None` for an empty or unusable address.
    pub fn parse(s: &str) -> Option<Address> {
        let s = s.trim();
        if s.is_empty() {
            return None;
        }
        if let Ok(ip) = s.parse::<IpAddr>() {
            return Some(Address::Ip(ip));
        }
        // Bracketed IPv6, as some agents write it.
        if let Ok(ip) = s.trim_start_matches('[').trim_end_matches(']').parse() {
            return Some(Address::Ip(ip));
        }
        let mut name = Name::from_ascii(s).ok()?;
        name.set_fqdn(true);
        Some(Address::Host(name))
    }
}

/// One healthy instance of a service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    pub address: Address,
    pub port: u16,
    /// The node's name as registered (original case).
    pub node: String,
    /// Whether `address` is the node's own, so `<node>.node.<domain>`
    /// resolves to it and can be the SRV target.
    pub at_node_address: bool,
    /// Lowercase; empty when neither registration nor node names one.
    pub datacenter: String,
    /// Lowercase, for case-insensitive tag queries.
    pub tags: Vec<String>,
}

/// A node as `<node>.node.<domain>` answers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeEntry {
    pub name: String,
    /// Lowercase.
    pub datacenter: String,
    pub address: Option<Address>,
}

/// The catalog as DNS sees it; lookups by lowercase name.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// False until the caches hold their first full list: the server
    /// answers SERVFAIL then, rather than NXDOMAINs resolvers would cache.
    pub ready: bool,
    /// The catalog index this was built at (the SOA serial).
    pub serial: u32,
    /// By (namespace, service name), both lowercase: a service name is
    /// answered within its namespace only.
    pub services: HashMap<(String, String), Vec<Instance>>,
    pub nodes: HashMap<String, NodeEntry>,
}

/// A node with its status, keyed by node id.
pub struct NodeInput<'a> {
    pub id: &'a str,
    pub node: &'a Node,
    pub status: Option<&'a NodeStatus>,
}

impl Snapshot {
    /// Builds the snapshot: pure, for tests and the bench.
    pub fn build<'a>(
        services: impl IntoIterator<Item = &'a ServiceRegistration>,
        nodes: impl IntoIterator<Item = NodeInput<'a>>,
        serial: u32,
    ) -> Snapshot {
        let by_id: HashMap<&str, NodeInput<'a>> = nodes.into_iter().map(|n| (n.id, n)).collect();
        let mut snapshot = Snapshot {
            ready: true,
            serial,
            ..Default::default()
        };
        for input in by_id.values() {
            let name = &input.node.metadata.name;
            if name.is_empty() {
                continue;
            }
            snapshot.nodes.insert(
                name.to_lowercase(),
                NodeEntry {
                    name: name.clone(),
                    datacenter: input.node.spec.datacenter.to_lowercase(),
                    address: Address::parse(&input.node.spec.address),
                },
            );
        }
        for reg in services {
            if let Some(instance) = instance(reg, &by_id) {
                snapshot
                    .services
                    .entry((
                        namespace_of(reg).to_lowercase(),
                        reg.spec.service_name.to_lowercase(),
                    ))
                    .or_default()
                    .push(instance);
            }
        }
        snapshot
    }
}

fn namespace_of(reg: &ServiceRegistration) -> &str {
    match reg.metadata.namespace.as_str() {
        "" => drover_api_types::meta::DEFAULT_NAMESPACE,
        ns => ns,
    }
}

/// The instance a registration stands for, or `None` when it must not be
/// answered: a critical check, its node down, or no address at all.
fn instance(reg: &ServiceRegistration, nodes: &HashMap<&str, NodeInput<'_>>) -> Option<Instance> {
    let spec = &reg.spec;
    if spec.service_name.is_empty() || !health::serves_traffic(&spec.checks) {
        return None;
    }
    let node = nodes.get(spec.node_id.as_str());
    // Down only: a disconnected node's workloads may well still serve (the
    // agent keeps them running), and the servers cannot tell otherwise.
    if node
        .and_then(|n| n.status)
        .is_some_and(|s| s.state == NodeState::Down)
    {
        return None;
    }
    // Consul's rule: a service without an address of its own is reached at
    // its node's address.
    let node_address = node.and_then(|n| Address::parse(&n.node.spec.address));
    let address = Address::parse(&spec.address).or_else(|| node_address.clone())?;
    let at_node_address = node_address.as_ref() == Some(&address);
    let datacenter = if spec.datacenter.is_empty() {
        node.map(|n| n.node.spec.datacenter.to_lowercase())
            .unwrap_or_default()
    } else {
        spec.datacenter.to_lowercase()
    };
    let node_name = if spec.node_name.is_empty() {
        node.map(|n| n.node.metadata.name.clone())
            .unwrap_or_default()
    } else {
        spec.node_name.clone()
    };
    Some(Instance {
        address,
        port: spec.port,
        node: node_name,
        at_node_address,
        datacenter,
        tags: spec.tags.iter().map(|t| t.to_lowercase()).collect(),
    })
}

/// Snapshots of `view`, rebuilt after every catalog change. The task ends
/// when the last receiver is dropped.
pub fn follow(view: CatalogView) -> (watch::Receiver<Arc<Snapshot>>, JoinHandle<()>) {
    let (tx, rx) = watch::channel(Arc::new(Snapshot::default()));
    let task = tokio::spawn(async move {
        view.ready().await;
        loop {
            let index = view.index();
            if tx.send(Arc::new(from_view(&view, index))).is_err() {
                return;
            }
            // The timeout only bounds how long a closed channel goes
            // unnoticed; changes wake us at once.
            while view.wait_past(index, Duration::from_secs(30)).await == index {
                if tx.is_closed() {
                    return;
                }
            }
        }
    });
    (rx, task)
}

fn from_view(view: &CatalogView, index: i64) -> Snapshot {
    let contents = view.contents();
    let inputs = contents.nodes.iter().map(|(id, node, status)| NodeInput {
        id,
        node,
        status: status.as_ref(),
    });
    // The SOA serial is 32 bits; etcd revisions past that wrap, which is
    // what serial arithmetic (RFC 1982) expects anyway.
    Snapshot::build(&contents.services, inputs, index as u32)
}
