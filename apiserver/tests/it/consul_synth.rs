//! The services drover lists for its own processes (`drover-agent` per
//! node with an HTTP address, `drover` per server record) through the
//! Consul-compatible endpoints, against a real etcd.

use std::time::Duration;

use drover_api_types::node::{Node, NodeState};
use drover_api_types::server::{Server, ServerSpec};
use drover_api_types::ObjectMeta;
use drover_store::{Guard, Stored};
use drover_test_support::wait::eventually;
use serde_json::{json, Value};

use crate::common;

/// A node whose agent serves HTTP at `http_addr` ("" for none).
async fn node(s: &common::Server, id: &str, address: &str, http_addr: &str, state: NodeState) {
    let mut node = Node {
        metadata: ObjectMeta {
            name: format!("node-{id}"),
            uid: id.into(),
            ..Default::default()
        },
        ..Default::default()
    };
    node.spec.datacenter = "dc7".into();
    node.spec.address = address.into();
    node.spec.http_addr = http_addr.into();
    s.store
        .put_at(&s.store.keys().node(id), &node)
        .await
        .expect("node");
    s.node_state(id, state).await;
}

fn names(entries: &Value, field: &str) -> Vec<String> {
    let mut out: Vec<String> = entries
        .as_array()
        .expect("array")
        .iter()
        .map(|e| e[field].as_str().unwrap_or_default().to_string())
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn agents_and_servers_are_catalog_services() {
    let s = common::start().await;
    node(&s, "a1", "10.1.0.1", "10.1.0.1:4647", NodeState::Ready).await;
    node(&s, "a2", "10.1.0.2", "0.0.0.0:4647", NodeState::Down).await;
    node(&s, "a3", "10.1.0.3", "", NodeState::Ready).await;
    let record = Server {
        metadata: ObjectMeta {
            name: "s1".into(),
            ..Default::default()
        },
        spec: ServerSpec {
            http_addr: "10.1.0.9:4646".into(),
            version: "9.9.9".into(),
        },
    };
    let lease = s.store.lease(Duration::from_secs(10)).await.expect("lease");
    let bytes = record.encode().expect("encode");
    s.store
        .put_raw(
            &s.store.keys().server("s1"),
            bytes,
            Guard::None,
            Some(lease.id()),
        )
        .await
        .expect("server record");

    let services = eventually(10, "both services listed", || async {
        let services = s.json("/v1/catalog/services").await;
        (services.get("drover").is_some() && services.get("drover-agent").is_some())
            .then_some(services)
    })
    .await;
    assert_eq!(services["drover-agent"], json!(["http", "metrics"]));
    assert_eq!(services["drover"], json!(["http", "metrics"]));

    // One agent per node with an HTTP address; one listening everywhere
    // is listed at its node's address.
    // The catalog view takes each node as its watch delivers it.
    let agents = eventually(10, "both agents listed", || async {
        let agents = s.json("/v1/catalog/service/drover-agent").await;
        (agents.as_array().map_or(0, Vec::len) == 2).then_some(agents)
    })
    .await;
    assert_eq!(names(&agents, "ServiceAddress"), ["10.1.0.1", "10.1.0.2"]);
    assert_eq!(
        names(&agents, "ServiceID"),
        ["_drover-agent-a1", "_drover-agent-a2"]
    );
    assert!(agents
        .as_array()
        .into_iter()
        .flatten()
        .all(|a| a["ServicePort"] == 4647));
    // A down node's agent fails its serfHealth, so ?passing leaves it out
    // (the node statuses reach the catalog's view a moment after the
    // nodes: wait for them, then it must be exactly the ready one).
    let passing_nodes = || async {
        let passing = s.json("/v1/health/service/drover-agent?passing").await;
        let mut nodes: Vec<String> = passing
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e["Node"]["Node"].as_str().map(String::from))
            .collect();
        nodes.sort();
        nodes
    };
    let nodes = eventually(10, "node-a1's agent passing", || async {
        let nodes = passing_nodes().await;
        (!nodes.is_empty()).then_some(nodes)
    })
    .await;
    assert_eq!(nodes, ["node-a1"]);

    // The server: an instance on a catalog node of its own, in the
    // datacenter the nodes are in, passing.
    let servers = s.json("/v1/health/service/drover?passing").await;
    let entry = &servers[0];
    assert_eq!(servers.as_array().map(Vec::len), Some(1), "{servers}");
    assert_eq!(entry["Node"]["Node"], "s1");
    assert_eq!(entry["Node"]["ID"], "_drover-server-s1");
    assert_eq!(entry["Node"]["Datacenter"], "dc7");
    assert_eq!(entry["Service"]["Address"], "10.1.0.9");
    assert_eq!(entry["Service"]["Port"], 4646);
    assert_eq!(entry["Service"]["Meta"]["version"], "9.9.9");
    assert_eq!(entry["Checks"][0]["Status"], "passing");
    let catalog_nodes = s.json("/v1/catalog/nodes").await;
    assert!(names(&catalog_nodes, "Node").contains(&"s1".to_string()));

    // The record goes with its lease, and the server with it.
    lease.revoke().await.expect("revoke");
    eventually(10, "the server gone from the catalog", || async {
        let servers = s.json("/v1/catalog/service/drover").await;
        servers.as_array().is_some_and(Vec::is_empty).then_some(())
    })
    .await;
}
