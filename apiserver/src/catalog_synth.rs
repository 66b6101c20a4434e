//! Catalog services drover makes up from its own state rather than from a
//! job's `service` block, so that Prometheus' `consul_sd_configs` (and
//! anything else reading the catalog) finds drover's own processes the way
//! it finds workloads.
//!
//! - `drover-agent`: one instance per node whose agent advertises an HTTP
//!   address (`http_addr`), tagged `http` and `metrics`, with meta
//!   `scheme = https` when the agent serves TLS. It has no checks
//!   of its own: the node's `serfHealth` (passing only while the node is
//!   ready) is its health, so `?passing` drops the agents of nodes that are
//!   down, exactly as it drops their workloads.
//! - `drover`: one instance per server that has recorded itself under
//!   `servers/<name>` (on a lease it keeps alive, so the record is there
//!   exactly while the server runs). As Consul lists its servers as catalog
//!   nodes, each server is also a node (`_drover-server-<name>`, in the
//!   datacenter most nodes are in) whose `serfHealth` passes.
//!
//! Pure: built from nodes and server records on every snapshot, never
//! written to etcd as registrations, so no controller has to own them.

use std::net::{IpAddr, SocketAddr};

use drover_api_types::meta::DEFAULT_NAMESPACE;
use std::collections::BTreeMap;

use drover_api_types::node::{Node, NodeState, NodeStatus};
use drover_api_types::server::Server;
use drover_api_types::service::ServiceRegistration;

/// The service name of the agents' HTTP APIs.
pub const AGENT_SERVICE: &str = "drover-agent";
/// The agents' tags: what a scrape config keeps on (`metrics`).
pub const AGENT_TAGS: [&str; 2] = ["http", "metrics"];

/// The service name of the servers' HTTP APIs.
pub const SERVER_SERVICE: &str = "drover";

/// The catalog node id of a server.
pub fn server_node_id(name: &str) -> String {
    format!("_drover-server-{name}")
}

/// The servers as catalog nodes (by id), in `datacenter`, each with a
/// ready status: a record exists only while its server holds the lease.
pub fn server_nodes<'a>(
    servers: impl IntoIterator<Item = &'a Server>,
    datacenter: &str,
) -> Vec<(String, Node, NodeStatus)> {
    servers
        .into_iter()
        .filter_map(|server| {
            let (address, _) = advertised(&server.spec.http_addr, "")?;
            let mut node = Node::default();
            node.metadata.name = server.metadata.name.clone();
            node.metadata.resource_version = server.metadata.resource_version;
            node.spec.address = address;
            node.spec.datacenter = datacenter.to_string();
            node.spec.http_addr = server.spec.http_addr.clone();
            node.spec.agent_version = server.spec.version.clone();
            let status = NodeStatus {
                state: NodeState::Ready,
                ..Default::default()
            };
            Some((server_node_id(&server.metadata.name), node, status))
        })
        .collect()
}

/// One `drover` instance per server node (from [`server_nodes`]).
pub fn server_services<'a>(
    nodes: impl IntoIterator<Item = (&'a str, &'a Node)>,
) -> Vec<ServiceRegistration> {
    nodes
        .into_iter()
        .filter_map(|(id, node)| http_service(id, node, SERVER_SERVICE, id.to_string()))
        .collect()
}

/// The datacenter most nodes are in (ties: the first by name), `dc1`
/// (Nomad's default) without any: what the Consul agent reports as its
/// own, and where the servers are listed.
pub fn majority_datacenter<'a>(nodes: impl IntoIterator<Item = &'a Node>) -> String {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for node in nodes {
        if !node.spec.datacenter.is_empty() {
            *counts.entry(node.spec.datacenter.as_str()).or_default() += 1;
        }
    }
    let mut best: Option<(&str, usize)> = None;
    for (dc, n) in counts {
        if best.is_none_or(|(_, m)| n > m) {
            best = Some((dc, n));
        }
    }
    best.map_or_else(|| "dc1".to_string(), |(dc, _)| dc.to_string())
}

/// The registration id of a node's agent instance; the `_drover-` prefix
/// is the one real registrations use, so no job's service can collide.
pub fn agent_instance_id(node_id: &str) -> String {
    format!("_drover-agent-{node_id}")
}

/// One `drover-agent` instance per node (`(id, node)`) with a usable
/// `http_addr`.
pub fn agent_services<'a>(
    nodes: impl IntoIterator<Item = (&'a str, &'a Node)>,
) -> Vec<ServiceRegistration> {
    nodes
        .into_iter()
        .filter_map(|(id, node)| http_service(id, node, AGENT_SERVICE, agent_instance_id(id)))
        .collect()
}

/// An instance of `service` at the node's `http_addr`.
fn http_service(
    id: &str,
    node: &Node,
    service: &str,
    instance_id: String,
) -> Option<ServiceRegistration> {
    let (address, port) = advertised(&node.spec.http_addr, &node.spec.address)?;
    let mut reg = ServiceRegistration::default();
    reg.metadata.name = instance_id;
    reg.metadata.namespace = DEFAULT_NAMESPACE.to_string();
    // The node's revision: the instance changes exactly when the node does.
    reg.metadata.resource_version = node.metadata.resource_version;
    let s = &mut reg.spec;
    s.service_name = service.to_string();
    s.tags = AGENT_TAGS.iter().map(|t| t.to_string()).collect();
    s.address = address;
    s.port = port;
    s.node_id = id.to_string();
    s.node_name = node.metadata.name.clone();
    s.datacenter = node.spec.datacenter.clone();
    if !node.spec.agent_version.is_empty() {
        s.meta
            .insert("version".to_string(), node.spec.agent_version.clone());
    }
    // What a scrape config relabels `scheme` from.
    if node.spec.http_tls {
        s.meta.insert("scheme".to_string(), "https".to_string());
    }
    Some(reg)
}

/// The address and port to reach `http_addr` at. An agent listening on
/// every interface (`0.0.0.0:4647`) is reached at the node's address.
/// `None` when there is no usable address (empty or unparsable).
fn advertised(http_addr: &str, node_address: &str) -> Option<(String, u16)> {
    let (host, port) = match http_addr.parse::<SocketAddr>() {
        Ok(sa) => (sa.ip().to_string(), sa.port()),
        // A host name (`node-1.lan:4647`): split at the last colon.
        Err(_) => {
            let (host, port) = http_addr.rsplit_once(':')?;
            (host.to_string(), port.parse().ok()?)
        }
    };
    let unspecified = host.is_empty() || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_unspecified());
    if port == 0 {
        return None;
    }
    if unspecified {
        if node_address.is_empty() {
            return None;
        }
        return Some((node_address.to_string(), port));
    }
    Some((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str, address: &str, http_addr: &str) -> Node {
        let mut n = Node::default();
        n.metadata.name = name.into();
        n.metadata.resource_version = 4;
        n.spec.address = address.into();
        n.spec.http_addr = http_addr.into();
        n.spec.datacenter = "dc1".into();
        n.spec.agent_version = "0.1.0".into();
        n
    }

    #[test]
    fn one_agent_instance_per_node_with_an_http_address() {
        let a = node("alpha", "10.0.0.1", "10.0.0.1:4647");
        let b = node("beta", "10.0.0.2", "");
        let c = node("gamma", "10.0.0.3", "0.0.0.0:4650");
        let regs = agent_services([("n1", &a), ("n2", &b), ("n3", &c)]);
        assert_eq!(regs.len(), 2, "beta advertises no HTTP address");
        let r = &regs[0];
        assert_eq!(r.metadata.name, "_drover-agent-n1");
        assert_eq!(r.metadata.namespace, "default");
        assert_eq!(r.metadata.resource_version, 4);
        assert_eq!(r.spec.service_name, "drover-agent");
        assert_eq!(r.spec.tags, ["http", "metrics"]);
        assert_eq!((r.spec.address.as_str(), r.spec.port), ("10.0.0.1", 4647));
        assert_eq!(
            (r.spec.node_id.as_str(), r.spec.node_name.as_str()),
            ("n1", "alpha")
        );
        assert_eq!(r.spec.datacenter, "dc1");
        assert_eq!(
            r.spec.meta.get("version").map(String::as_str),
            Some("0.1.0")
        );
        assert!(
            r.spec.checks.is_empty(),
            "the node's serfHealth is its health"
        );
        // Listening on every interface: reached at the node's address.
        assert_eq!(
            (regs[1].spec.address.as_str(), regs[1].spec.port),
            ("10.0.0.3", 4650)
        );
    }

    #[test]
    fn servers_are_ready_nodes_with_a_drover_instance() {
        let mut server = Server::default();
        server.metadata.name = "s1".into();
        server.metadata.resource_version = 9;
        server.spec.http_addr = "10.0.0.5:4646".into();
        server.spec.version = "0.1.0".into();
        let mut unusable = server.clone();
        unusable.metadata.name = "s2".into();
        unusable.spec.http_addr = "0.0.0.0:4646".into();
        let nodes = server_nodes([&server, &unusable], "dc2");
        assert_eq!(nodes.len(), 1, "no address to give out for s2");
        let (id, node, status) = &nodes[0];
        assert_eq!(id, "_drover-server-s1");
        assert_eq!(node.spec.datacenter, "dc2");
        assert_eq!(node.spec.address, "10.0.0.5");
        assert_eq!(status.state, NodeState::Ready);
        let regs = server_services([(id.as_str(), node)]);
        assert_eq!(regs.len(), 1);
        let r = &regs[0];
        assert_eq!(r.metadata.name, "_drover-server-s1");
        assert_eq!(r.spec.service_name, "drover");
        assert_eq!((r.spec.address.as_str(), r.spec.port), ("10.0.0.5", 4646));
        assert_eq!(r.spec.node_id, "_drover-server-s1");
        assert_eq!(r.spec.tags, ["http", "metrics"]);
    }

    #[test]
    fn the_majority_datacenter() {
        let mut a = node("a", "", "");
        let mut b = a.clone();
        let mut c = a.clone();
        a.spec.datacenter = "dc2".into();
        b.spec.datacenter = "dc3".into();
        c.spec.datacenter = "dc3".into();
        assert_eq!(majority_datacenter([&a, &b, &c]), "dc3");
        assert_eq!(
            majority_datacenter([&a, &b]),
            "dc2",
            "ties: the first by name"
        );
        assert_eq!(majority_datacenter([]), "dc1");
    }

    #[test]
    fn advertised_addresses() {
        assert_eq!(advertised("[::1]:4647", ""), Some(("::1".into(), 4647)));
        assert_eq!(
            advertised("node-1.lan:4647", ""),
            Some(("node-1.lan".into(), 4647))
        );
        assert_eq!(
            advertised("[::]:4647", "10.0.0.9"),
            Some(("10.0.0.9".into(), 4647))
        );
        assert_eq!(advertised("0.0.0.0:4647", ""), None);
        assert_eq!(advertised("10.0.0.1", ""), None);
        assert_eq!(advertised("10.0.0.1:0", ""), None);
        assert_eq!(advertised("", "10.0.0.1"), None);
    }
}
