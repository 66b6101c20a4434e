//! Health as Consul reports it, shared by the catalog API and DNS: Consul's
//! three states, ordered so several checks aggregate to their worst, and a
//! node's `serfHealth` check (passing only while the node is ready). An
//! instance is as healthy as the worst of its checks and that one. Pure:
//! callers pass the node status they hold.

use drover_api_types::node::{NodeState, NodeStatus};

/// Consul's three check states, ordered from best to worst so the
/// aggregate of several checks is their maximum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Health {
    Passing,
    Warning,
    Critical,
}

impl Health {
    /// A check status as the services controller stores it; anything
    /// unknown counts as critical, so a typo never passes traffic.
    pub fn parse(status: &str) -> Health {
        match status {
            "passing" => Health::Passing,
            "warning" => Health::Warning,
            _ => Health::Critical,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Health::Passing => "passing",
            Health::Warning => "warning",
            Health::Critical => "critical",
        }
    }
}

/// The node's `serfHealth` check: passing only while the node is ready
/// (a missing status means the lifecycle controller has not vouched for it).
pub fn node_health(status: Option<&NodeStatus>) -> Health {
    match status.map(|s| s.state) {
        Some(NodeState::Ready) => Health::Passing,
        _ => Health::Critical,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(state: NodeState) -> NodeStatus {
        NodeStatus {
            state,
            ..Default::default()
        }
    }

    #[test]
    fn only_a_ready_node_passes() {
        assert_eq!(node_health(Some(&node(NodeState::Ready))), Health::Passing);
        for state in [
            NodeState::Down,
            NodeState::Initializing,
            NodeState::Disconnected,
        ] {
            assert_eq!(
                node_health(Some(&node(state))),
                Health::Critical,
                "{state:?}"
            );
        }
        assert_eq!(node_health(None), Health::Critical, "never vouched for");
    }
}
