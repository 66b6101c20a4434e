//! Health as Consul reports it, shared by the catalog API and DNS: a
//! service instance is as healthy as the worst of its own checks and its
//! node's `serfHealth` check (passing only while the node is ready).
//! Pure: callers pass the registration and the node status they hold.

use drover_api_types::node::{NodeState, NodeStatus};
use drover_api_types::service::ServiceRegistration;

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

/// The worst of the instance's checks and its node's health.
pub fn service_health(reg: &ServiceRegistration, node_status: Option<&NodeStatus>) -> Health {
    reg.spec
        .checks
        .iter()
        .map(|c| Health::parse(&c.status))
        .chain(std::iter::once(node_health(node_status)))
        .max()
        .unwrap_or(Health::Passing)
}

#[cfg(test)]
mod tests {
    use super::*;
    use drover_api_types::service::CheckStatus;

    fn reg(statuses: &[&str]) -> ServiceRegistration {
        let mut reg = ServiceRegistration::default();
        reg.spec.checks = statuses
            .iter()
            .map(|s| CheckStatus {
                status: s.to_string(),
                ..Default::default()
            })
            .collect();
        reg
    }

    fn node(state: NodeState) -> NodeStatus {
        NodeStatus {
            state,
            ..Default::default()
        }
    }

    #[test]
    fn the_worst_check_wins_and_the_node_counts() {
        let ready = node(NodeState::Ready);
        let cases = [
            (vec![], Some(&ready), Health::Passing),
            (vec!["passing", "passing"], Some(&ready), Health::Passing),
            (vec!["passing", "warning"], Some(&ready), Health::Warning),
            (vec!["warning", "critical"], Some(&ready), Health::Critical),
            (vec!["bogus"], Some(&ready), Health::Critical),
            (vec!["passing"], None, Health::Critical),
        ];
        for (checks, status, want) in cases {
            assert_eq!(service_health(&reg(&checks), status), want, "{checks:?}");
        }
        let down = node(NodeState::Down);
        assert_eq!(service_health(&reg(&[]), Some(&down)), Health::Critical);
        let init = node(NodeState::Initializing);
        assert_eq!(node_health(Some(&init)), Health::Critical);
    }
}
