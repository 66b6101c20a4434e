//! Unit tests of the simulator's pure parts.

use drover_api_types::alloc::{ClientStatus, DesiredStatus, TaskRunState};
use drover_api_types::Allocation;

use super::allocs::simulated_status;
use super::*;

#[test]
fn node_ids_are_stable_and_distinct() {
    assert_eq!(node_id_for("sim-00001"), node_id_for("sim-00001"));
    assert_ne!(node_id_for("sim-00001"), node_id_for("sim-00002"));
    assert!(uuid::Uuid::parse_str(&node_id_for("x")).is_ok());
}

#[test]
fn nodes_round_robin_datacenters_and_pass_fingerprints() {
    let config = SimulatorConfig {
        count: 3,
        datacenters: vec!["a".into(), "b".into()],
        ..Default::default()
    };
    let nodes: Vec<Node> = (0..3).map(|i| simulated_node(&config, i)).collect();
    let dcs: Vec<&str> = nodes.iter().map(|n| n.spec.datacenter.as_str()).collect();
    assert_eq!(dcs, ["a", "b", "a"]);
    let n = &nodes[1];
    assert_eq!(n.metadata.name, "sim-00001");
    assert_eq!(n.metadata.uid, node_id_for("sim-00001"));
    assert_eq!(n.spec.node_pool, "default");
    assert_eq!(n.spec.attributes["kernel.name"], "linux");
    assert_eq!(n.spec.attributes["unique.hostname"], "sim-00001");
    assert!(n.spec.drivers["docker"].healthy);
    assert_eq!(
        (n.spec.min_dynamic_port, n.spec.max_dynamic_port),
        (20000, 32000)
    );
    assert_eq!(n.spec.address, "127.0.0.2");
}

#[test]
fn status_follows_desired_status() {
    let mut alloc = Allocation::default();
    let tasks = vec!["web".to_string(), "sidecar".to_string()];
    let s = simulated_status(&alloc, &tasks);
    assert_eq!(s.client_status, ClientStatus::Running);
    assert_eq!(s.task_states.len(), 2);
    assert!(s
        .task_states
        .values()
        .all(|t| t.state == TaskRunState::Running));
    alloc.spec.desired_status = DesiredStatus::Evict;
    let s = simulated_status(&alloc, &tasks);
    assert_eq!(s.client_status, ClientStatus::Complete);
    assert!(s
        .task_states
        .values()
        .all(|t| t.state == TaskRunState::Dead));
}
