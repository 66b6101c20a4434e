//! Placement: the pure core that decides which nodes can run a task group
//! and which of them is best. No I/O, no clock, no hidden randomness.
//!
//! It follows Nomad's scheduler shape:
//!
//! - [`feasible`] runs the feasibility checks in Nomad's order (node
//!   readiness, datacenter, node pool, job constraints, drivers, group and
//!   task constraints, host volumes, `distinct_hosts`, `distinct_property`,
//!   then bin-packing: ports, cpu, memory). The first check that fails
//!   rejects the node with a [`Reason`] whose text is the key the job status
//!   counts under (`nodes_filtered` or `dimensions_exhausted`), so a user can
//!   read "3 nodes filtered by constraint ${attr.kernel.name} = windows".
//! - [`assign_ports`] picks host ports for a feasible node, dynamic ones
//!   deterministically from a seed.
//! - [`score`] ranks feasible nodes: bin-pack or spread fit, job
//!   anti-affinity, affinities and spread targets, averaged like Nomad does.
//!
//! - A pass ([`plan_pass`]) also holds the job to its namespace's quota
//!   ([`QuotaBudget`]) before it tries any node.
//!
//! The caller (the placement controller shell) owns reading the cluster: it
//! builds one [`NodeUsage`] per node from the allocations bound there, and
//! must add the allocations it has already planned in the same pass; it
//! also sums what the job's namespace holds against its quota.

mod attributes;
pub mod controller;
mod feasibility;
pub mod metrics;
mod operators;
mod pass;
mod resources;
mod score;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

pub use attributes::resolve;
pub use controller::{PlacementController, QueuedJobs, DESCRIPTOR, NAME};
pub use feasibility::feasible;
pub use operators::{check_operator, version_matches};
pub use pass::{
    add_binding, counts_for_job, holds_room, needs_placement, plan_pass, quota_share,
    release_binding, search_limit, PassInput, PassPlan, QuotaBudget,
};
pub use resources::{assign_cores, assign_ports, GroupAsk};
pub use score::score;

/// Why a node was rejected. The text is used as a map key in the job status.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reason {
    /// The node can never run this group as it stands (constraint, driver,
    /// datacenter, …): counted in `nodes_filtered`.
    Filtered(String),
    /// The node lacks free capacity (`cpu`, `memory`, `port 80`, …):
    /// counted in `dimensions_exhausted`.
    Exhausted(String),
}

impl Reason {
    /// The human text, e.g. `constraint ${attr.kernel.name} = windows`.
    pub fn text(&self) -> &str {
        match self {
            Reason::Filtered(text) | Reason::Exhausted(text) => text,
        }
    }

    pub fn is_exhausted(&self) -> bool {
        matches!(self, Reason::Exhausted(_))
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text())
    }
}

/// How fit is scored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Algorithm {
    /// Prefer fuller nodes (Nomad's default, BestFit-v3).
    #[default]
    BinPack,
    /// Prefer emptier nodes.
    Spread,
}

/// Cluster-wide scheduler options.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PlacementOptions {
    pub algorithm: Algorithm,
    /// When on, a task's `memory_max` may exceed the node's free memory; only
    /// its `memory` reservation must fit. When off, `memory_max` (when set)
    /// must fit too.
    pub memory_oversubscription: bool,
}

/// What is already on one node, seen from the job being placed. The caller
/// counts only live allocations (desired `run`, not terminal), plus those
/// planned earlier in the same pass.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NodeUsage {
    /// MHz reserved by bindings on this node (sum of `Binding::cpu`).
    pub cpu: i64,
    /// MB reserved by bindings on this node (sum of `Binding::memory`).
    pub memory: i64,
    /// Host ports taken on this node, static and dynamic.
    pub used_ports: BTreeSet<u16>,
    /// Core ids reserved by bindings on this node (`resources.cores`).
    pub used_cores: BTreeSet<u32>,
    /// Allocations of the job being placed on this node, by task group name
    /// (`distinct_hosts`, job anti-affinity).
    pub job_allocs: BTreeMap<String, u32>,
    /// Cluster-wide allocations of the job being placed, by property as
    /// written (`${meta.rack}`), then by the property's value on their node.
    /// Read by job-level `distinct_property`.
    pub job_property_counts: BTreeMap<String, BTreeMap<String, u32>>,
    /// The same, counting only the task group being placed. Read by
    /// group-level `distinct_property` and by spreads.
    pub group_property_counts: BTreeMap<String, BTreeMap<String, u32>>,
}

impl NodeUsage {
    /// Allocations of the job on this node, all groups.
    pub fn job_alloc_count(&self) -> u32 {
        self.job_allocs.values().sum()
    }

    /// Allocations of `group` of the job on this node.
    pub fn group_alloc_count(&self, group: &str) -> u32 {
        self.job_allocs.get(group).copied().unwrap_or(0)
    }
}
