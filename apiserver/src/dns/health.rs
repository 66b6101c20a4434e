//! Whether a service instance is fit to be handed out.
//!
//! Consul's default (`only_passing = false`): an instance is left out only
//! when one of its checks is critical; `warning` stays in, and so does an
//! instance with no checks. The Consul HTTP catalog (`apiserver/src/api/`)
//! aggregates the same way; this is the DNS server's copy, kept as one
//! small pure function so the two can be unified.

use drover_api_types::service::CheckStatus;

/// Consul's aggregate of a set of checks: the worst status wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Health {
    Passing,
    Warning,
    Critical,
}

/// The worst of `checks`; an unknown status counts as critical (a check
/// whose state nobody can read is not a reason to send traffic).
pub fn aggregate(checks: &[CheckStatus]) -> Health {
    checks
        .iter()
        .map(|c| match c.status.to_ascii_lowercase().as_str() {
            "passing" => Health::Passing,
            "warning" => Health::Warning,
            _ => Health::Critical,
        })
        .max()
        .unwrap_or(Health::Passing)
}

/// Whether DNS answers with this instance.
pub fn serves_traffic(checks: &[CheckStatus]) -> bool {
    aggregate(checks) != Health::Critical
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checks(statuses: &[&str]) -> Vec<CheckStatus> {
        statuses
            .iter()
            .map(|s| CheckStatus {
                status: (*s).to_string(),
                ..Default::default()
            })
            .collect()
    }

    #[test]
    fn the_worst_check_wins() {
        assert_eq!(aggregate(&checks(&[])), Health::Passing);
        assert_eq!(aggregate(&checks(&["passing"])), Health::Passing);
        assert_eq!(aggregate(&checks(&["passing", "warning"])), Health::Warning);
        assert_eq!(
            aggregate(&checks(&["warning", "critical", "passing"])),
            Health::Critical
        );
        assert_eq!(aggregate(&checks(&["Passing"])), Health::Passing);
        assert_eq!(aggregate(&checks(&["bogus"])), Health::Critical);
    }

    #[test]
    fn warning_still_serves_critical_does_not() {
        assert!(serves_traffic(&checks(&[])));
        assert!(serves_traffic(&checks(&["warning"])));
        assert!(!serves_traffic(&checks(&["passing", "critical"])));
    }
}
