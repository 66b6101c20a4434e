//! From desired and existing registrations to the writes that converge them.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use drover_api_types::service::{CheckStatus, ServiceRegistration, ServiceRegistrationSpec};

/// A check whose only change is its output (or probe time) is rewritten at
/// most this often, as Consul's `check_update_interval` does: the agent
/// reports every probe, and a write per probe per instance would be a
/// storm for no reader's benefit. Status changes are written at once.
pub const CHECK_UPDATE_INTERVAL: Duration = Duration::from_secs(300);

/// What to write for one allocation.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// Creates (`resource_version` 0) and updates (the existing revision,
    /// for compare-and-swap; the existing creation time kept).
    pub put: Vec<ServiceRegistration>,
    /// Existing registrations no desired one matches, with the revision
    /// they were read at.
    pub delete: Vec<ServiceRegistration>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.put.is_empty() && self.delete.is_empty()
    }
}

/// Compares by `(namespace, name)`: a desired registration with no existing
/// one is created (stamped `now`), one that differs is updated, an existing
/// one nothing desires is deleted. Equal ones produce no write.
pub fn plan(
    desired: Vec<ServiceRegistration>,
    existing: &[ServiceRegistration],
    now: DateTime<Utc>,
) -> Plan {
    let id = |r: &ServiceRegistration| (r.metadata.namespace.clone(), r.metadata.name.clone());
    let mut have: BTreeMap<(String, String), &ServiceRegistration> =
        existing.iter().map(|r| (id(r), r)).collect();
    let mut out = Plan::default();
    for mut want in desired {
        let key = id(&want);
        match have.remove(&key) {
            Some(old) if !needs_write(&old.spec, &want.spec, now) => {}
            Some(old) => {
                want.metadata.resource_version = old.metadata.resource_version;
                want.metadata.creation_timestamp = old.metadata.creation_timestamp;
                out.put.push(want);
            }
            None => {
                want.metadata.resource_version = 0;
                want.metadata.creation_timestamp = Some(now);
                out.put.push(want);
            }
        }
    }
    out.delete = have.into_values().cloned().collect();
    out
}

/// Whether `old` must be rewritten as `new`: anything but the checks'
/// output and probe time differs, or those differ and the stored ones are
/// older than [`CHECK_UPDATE_INTERVAL`].
pub fn needs_write(
    old: &ServiceRegistrationSpec,
    new: &ServiceRegistrationSpec,
    now: DateTime<Utc>,
) -> bool {
    if old == new {
        return false;
    }
    let material = |spec: &ServiceRegistrationSpec| {
        let mut s = spec.clone();
        s.checks = spec.checks.iter().map(material_check).collect();
        s
    };
    if material(old) != material(new) {
        return true;
    }
    let interval = chrono::Duration::from_std(CHECK_UPDATE_INTERVAL).unwrap_or_default();
    old.checks
        .iter()
        .any(|c| c.updated_at.is_none_or(|t| now - t >= interval))
}

fn material_check(c: &CheckStatus) -> CheckStatus {
    CheckStatus {
        output: String::new(),
        updated_at: None,
        ..c.clone()
    }
}
