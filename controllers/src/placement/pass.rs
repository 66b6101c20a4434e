//! One placement pass over one job: which of its queued allocations go to
//! which node. Pure: nodes, usage, time and the seed are arguments.
//!
//! The search is Nomad's: nodes are walked from a seeded offset (and the
//! walk continues where the previous allocation's stopped, so consecutive
//! allocations look at different nodes); the walk stops after
//! [`search_limit`] feasible candidates, which are scored, and the best one
//! wins. Groups with affinities or spreads are scored on every feasible node,
//! as in Nomad, since a good node may be anywhere. Only when no node is
//! feasible has every node been evaluated: the reasons are then recorded as
//! the group's [`PlacementFailure`], and the rest of that group is only
//! counted as queued (usage only grows within a pass, so a second search
//! would fail the same way).
//!
//! **Namespace quotas.** When the job's namespace has a quota
//! ([`QuotaBudget`]), every allocation is checked against what the
//! namespace's live allocations already reserve before any node is
//! tried, and again with its exact cpu once a node is chosen (whole
//! cores count at that node's MHz per core). One that does not fit stays
//! queued with the reason in [`PlacementFailure::quota_exhausted`]. A
//! replacement is charged only what it asks beyond its predecessor, whose
//! share passes to it (the predecessor is on its way out), so a rolling
//! update of a namespace at its quota still rolls; a canary is charged
//! in full.
//!
//! Every binding is added to the pass's usage (cpu, memory, ports, the job's
//! allocations per node, property counts) before the next allocation is
//! placed, so nothing is double-booked within a pass.
//!
//! **Replacements on a full cluster.** A replacement (destructive update,
//! migration) is created together with the stop of the allocation it
//! replaces, its *predecessor*, which keeps its reservation (ports, cpu,
//! memory) on its node until its agent reports it terminal — and, from
//! then on, until its replacement is bound: the room is *held* for the
//! replacement (see [`plan_pass`] on `base`), so no other allocation, of
//! this job or another, takes it in between. When no node has room for
//! the replacement, the predecessor's room is lent to it alone: if it fits
//! there and the predecessor is terminal, it is bound there; if the
//! predecessor still runs, it *waits* ([`PassPlan::waiting`], not a
//! failure) and the pass that follows the predecessor's end binds it. So a
//! job whose allocations hold static port 80 on every node (or fill every
//! node's memory) still rolls out, `max_parallel` at a time, and no two
//! live allocations ever hold the same port on one node: the replacement
//! is bound only once the old one is terminal, so its agent starts it
//! after the old container is gone. A canary (no predecessor) needs room
//! of its own; without it, it fails with the exhausted dimensions, as in
//! Nomad.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};
use drover_api_types::alloc::{Allocation, Binding, DesiredStatus};
use drover_api_types::job::{ConstraintOperator, PlacementFailure};
use drover_api_types::namespace::{Quota, QuotaUse};
use drover_api_types::{Job, Node, TaskGroup};

use super::{
    assign_cores, assign_ports, feasible, resolve, score, GroupAsk, NodeUsage, PlacementOptions,
    Reason,
};
use crate::cluster::PlacementFailures;

/// Property → value on the allocation's node → allocations.
type PropertyCounts = BTreeMap<String, BTreeMap<String, u32>>;

/// What one pass reads.
#[derive(Debug, Clone, Copy)]
pub struct PassInput<'a> {
    pub job: &'a Job,
    /// The allocations to place (see [`needs_placement`]); placed in
    /// (group, index) order whatever order they come in.
    pub pending: &'a [Allocation],
    /// The job's other allocations, whole. Those that count (see
    /// [`counts_for_job`]) feed `distinct_hosts`, `distinct_property`,
    /// spreads and job anti-affinity.
    pub existing: &'a [Allocation],
    /// Every node, whole.
    pub nodes: &'a [Node],
    pub options: PlacementOptions,
    pub now: DateTime<Utc>,
    /// Where the node walk starts.
    pub seed: u64,
    /// The job's namespace quota, when it has one.
    pub quota: Option<QuotaBudget<'a>>,
}

/// A namespace's quota and what its allocations hold against it when the
/// pass starts: every binding that still reserves room ([`holds_room`]).
#[derive(Debug, Clone, Copy)]
pub struct QuotaBudget<'a> {
    pub namespace: &'a str,
    pub limit: Quota,
    pub used: QuotaUse,
}

/// What `binding` counts against its namespace's quota.
pub fn quota_share(binding: &Binding) -> QuotaUse {
    QuotaUse {
        cpu: binding.cpu,
        memory: binding.memory,
        allocations: 1,
    }
}

/// What one pass decided.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PassPlan {
    /// Allocation id → its binding, in placement order.
    pub bindings: Vec<(String, Binding)>,
    /// Per group, why allocations stay queued; empty when none do.
    pub failures: PlacementFailures,
    /// The earliest `not_before` still in the future: run again then.
    pub deferred: Option<DateTime<Utc>>,
    /// Replacements that fit only in the room their predecessor, being
    /// stopped, still holds: not failures; a later pass binds them once it
    /// is terminal (the caller must run again then).
    pub waiting: Vec<String>,
}

/// Whether placement should bind `alloc`: desired `run`, not bound, not
/// terminal. (The caller also checks that its job exists.)
pub fn needs_placement(alloc: &Allocation) -> bool {
    alloc.spec.desired_status == DesiredStatus::Run
        && alloc.binding.is_none()
        && !alloc.status.client_status.is_terminal()
}

/// Whether an allocation of the job counts against `distinct_hosts`,
/// `distinct_property` and spreads: bound, desired `run`, not terminal.
pub fn counts_for_job(alloc: &Allocation) -> bool {
    alloc.spec.desired_status == DesiredStatus::Run
        && alloc.binding.is_some()
        && !alloc.status.client_status.is_terminal()
}

/// Adds what `binding` reserves (cpu, memory, ports) to its node's usage.
/// The caller does this for every live (not terminal) binding on the node.
pub fn add_binding(usage: &mut NodeUsage, binding: &Binding) {
    usage.cpu += binding.cpu;
    usage.memory += binding.memory;
    usage
        .used_ports
        .extend(binding.ports.values().map(|p| p.value));
    usage
        .used_cores
        .extend(binding.cores.values().flatten().copied());
}

/// Takes back what `binding` reserved on its node: the inverse of
/// [`add_binding`] (a port is held by one binding only on a node).
pub fn release_binding(usage: &mut NodeUsage, binding: &Binding) {
    usage.cpu -= binding.cpu;
    usage.memory -= binding.memory;
    for port in binding.ports.values() {
        usage.used_ports.remove(&port.value);
    }
}

/// Whether the binding of `alloc` still reserves room on its node, given
/// whether an unbound allocation names it as its `previous_allocation`: a
/// live (not terminal) allocation's does; so does a terminal one's that was
/// told to stop and whose replacement is not bound yet (held for it).
pub fn holds_room(alloc: &Allocation, replacement_unbound: bool) -> bool {
    !alloc.status.client_status.is_terminal()
        || (replacement_unbound && alloc.spec.desired_status != DesiredStatus::Run)
}

/// How many feasible nodes are scored per allocation: `max(2,
/// ceil(log2(nodes)))`, as in Nomad.
pub fn search_limit(nodes: usize) -> usize {
    let log2 = if nodes <= 1 {
        0
    } else {
        (usize::BITS - (nodes - 1).leading_zeros()) as usize
    };
    log2.max(2)
}

/// Runs one pass. `base` holds, per node id, the cpu, memory and ports of
/// the bindings on that node that still reserve room ([`holds_room`]:
/// live ones, and those held for a replacement not bound yet; missing
/// nodes are empty); its job and property fields are ignored and
/// recomputed from `input.existing`.
pub fn plan_pass(input: &PassInput<'_>, mut base: HashMap<String, NodeUsage>) -> PassPlan {
    let usages = input
        .nodes
        .iter()
        .map(|node| {
            let mut usage = base.remove(&node.metadata.uid).unwrap_or_default();
            usage.job_allocs.clear();
            usage.job_property_counts.clear();
            usage.group_property_counts.clear();
            usage
        })
        .collect();
    let mut pass = Pass::new(input, usages);
    for alloc in input.existing.iter().filter(|a| counts_for_job(a)) {
        let node_id = alloc.binding.as_ref().map(|b| b.node_id.as_str());
        if let Some(&index) = node_id.and_then(|id| pass.by_id.get(id)) {
            pass.record(&alloc.spec.task_group, index);
        }
    }
    let mut pending: Vec<&Allocation> = input.pending.iter().collect();
    pending.sort_by(|a, b| {
        (&a.spec.task_group, a.spec.index).cmp(&(&b.spec.task_group, b.spec.index))
    });
    for alloc in pending {
        pass.place(alloc);
    }
    pass.plan
}

struct Pass<'a> {
    input: &'a PassInput<'a>,
    /// Parallel to `input.nodes`.
    usages: Vec<NodeUsage>,
    by_id: HashMap<&'a str, usize>,
    /// Job-level `distinct_property` attributes.
    job_props: Vec<String>,
    /// Per group: its `distinct_property` attributes and every spread's.
    group_props: HashMap<&'a str, Vec<String>>,
    job_counts: PropertyCounts,
    group_counts: HashMap<String, PropertyCounts>,
    /// Where the next walk starts.
    cursor: usize,
    limit: usize,
    /// Groups no node could take in this pass.
    exhausted: HashSet<String>,
    /// The job's bound allocations told to stop or being replaced, by id:
    /// the predecessors whose room a replacement may be lent.
    predecessors: HashMap<&'a str, &'a Allocation>,
    /// The namespace's quota use, grown by every binding of the pass.
    quota_used: QuotaUse,
    plan: PassPlan,
}

impl<'a> Pass<'a> {
    fn new(input: &'a PassInput<'a>, usages: Vec<NodeUsage>) -> Self {
        let job = input.job;
        let by_id = input
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.metadata.uid.as_str(), i))
            .collect();
        let distinct_props = |constraints: &[drover_api_types::job::Constraint]| {
            constraints
                .iter()
                .filter(|c| c.operator() == Some(ConstraintOperator::DistinctProperty))
                .map(|c| c.attribute.clone())
                .collect::<Vec<_>>()
        };
        let group_props = job
            .spec
            .groups
            .iter()
            .map(|g| {
                let mut props = distinct_props(&g.constraints);
                let spreads = job.spec.spreads.iter().chain(&g.spreads);
                props.extend(spreads.map(|s| s.attribute.clone()));
                props.sort();
                props.dedup();
                (g.name.as_str(), props)
            })
            .collect();
        let nodes = input.nodes.len();
        Pass {
            input,
            usages,
            by_id,
            job_props: distinct_props(&job.spec.constraints),
            group_props,
            job_counts: PropertyCounts::new(),
            group_counts: HashMap::new(),
            cursor: usize::try_from(input.seed % nodes.max(1) as u64).unwrap_or(0),
            limit: search_limit(nodes),
            exhausted: HashSet::new(),
            predecessors: predecessors(input),
            quota_used: input.quota.map(|q| q.used).unwrap_or_default(),
            plan: PassPlan::default(),
        }
    }

    fn place(&mut self, alloc: &Allocation) {
        if let Some(not_before) = alloc.spec.not_before {
            if not_before > self.input.now {
                let earliest = self.plan.deferred.map_or(not_before, |d| d.min(not_before));
                self.plan.deferred = Some(earliest);
                return;
            }
        }
        let job = self.input.job;
        let Some(group) = job
            .spec
            .groups
            .iter()
            .find(|g| g.name == alloc.spec.task_group)
        else {
            // The group is gone from the job: the job controller stops it.
            return;
        };
        let ask = GroupAsk::of(group);
        let least = QuotaUse {
            cpu: ask.cpu,
            memory: ask.memory,
            allocations: 1,
        };
        if let Some(reason) = self.quota_refuses(alloc, least) {
            return self.fail_on_quota(&group.name, reason);
        }
        if let Some(target) = &alloc.spec.target_node {
            return self.place_on_target(alloc, group, target);
        }
        if self.exhausted.contains(&group.name) {
            if !self.place_in_predecessors_room(alloc, group) {
                self.failure(&group.name).queued += 1;
            }
            return;
        }
        let nodes = self.input.nodes.len();
        let limit = if scores_everywhere(job, group) {
            nodes
        } else {
            self.limit
        };
        let (mut examined, mut found) = (0, 0);
        let mut best: Option<(usize, f64)> = None;
        let mut reasons = Vec::new();
        while examined < nodes && found < limit {
            let index = (self.cursor + examined) % nodes;
            examined += 1;
            match self.evaluate(group, index) {
                Ok(s) => {
                    found += 1;
                    if best.is_none_or(|(_, b)| s > b) {
                        best = Some((index, s));
                    }
                }
                Err(reason) => reasons.push(reason),
            }
        }
        self.cursor = (self.cursor + examined) % nodes.max(1);
        match best {
            Some((index, score)) => self.bind(alloc, group, index, score),
            None => {
                // No node has room now: usage only grows within a pass, so
                // the rest of the group can only wait or fail.
                self.exhausted.insert(group.name.clone());
                if !self.place_in_predecessors_room(alloc, group) {
                    self.fail(&group.name, examined, reasons);
                }
            }
        }
    }

    /// Why the namespace quota cannot take `ask` for `alloc` (less its
    /// predecessor's share, which passes to it), if it cannot.
    fn quota_refuses(&self, alloc: &Allocation, mut ask: QuotaUse) -> Option<String> {
        let quota = self.input.quota?;
        ask.sub(self.predecessors_share(alloc));
        quota
            .limit
            .exceeded(quota.namespace, &self.quota_used, &ask)
    }

    /// What `alloc`'s predecessor holds against the quota and passes to
    /// it: its binding's share while that still reserves room.
    fn predecessors_share(&self, alloc: &Allocation) -> QuotaUse {
        alloc
            .spec
            .previous_allocation
            .as_deref()
            .and_then(|id| self.predecessors.get(id))
            .filter(|previous| holds_room(previous, true))
            .and_then(|previous| previous.binding.as_ref())
            .map(quota_share)
            .unwrap_or_default()
    }

    fn fail_on_quota(&mut self, group: &str, reason: String) {
        let failure = self.failure(group);
        failure.queued += 1;
        failure.quota_exhausted.get_or_insert(reason);
    }

    /// Lends `alloc` the room its predecessor holds, when it has one (a
    /// bound allocation told to stop): if the group fits on that node with
    /// it, `alloc` is bound there (the predecessor is terminal) or waits for
    /// it (it still runs). Returns whether either happened.
    fn place_in_predecessors_room(&mut self, alloc: &Allocation, group: &TaskGroup) -> bool {
        let Some(previous) = alloc
            .spec
            .previous_allocation
            .as_deref()
            .and_then(|id| self.predecessors.get(id).copied())
        else {
            return false;
        };
        let Some(held) = previous.binding.as_ref() else {
            return false;
        };
        let Some(&index) = self.by_id.get(held.node_id.as_str()) else {
            return false;
        };
        release_binding(&mut self.usages[index], held);
        let score = self.evaluate(group, index).ok();
        let fits = score.is_some();
        if let Some(score) = score.filter(|_| previous.status.client_status.is_terminal()) {
            // The room passes to the replacement, once (after `bind`, which
            // charges the quota only beyond the predecessor's share).
            self.bind(alloc, group, index, score);
            self.predecessors.remove(previous.metadata.uid.as_str());
            return true;
        }
        add_binding(&mut self.usages[index], held);
        if fits {
            self.plan.waiting.push(alloc.metadata.uid.clone());
        }
        fits
    }

    /// System jobs: the allocation's own node or nothing.
    fn place_on_target(&mut self, alloc: &Allocation, group: &TaskGroup, target: &str) {
        let Some(&index) = self.by_id.get(target) else {
            // The node is gone; the job controller stops this allocation.
            self.failure(&group.name).queued += 1;
            return;
        };
        match self.evaluate(group, index) {
            Ok(score) => self.bind(alloc, group, index, score),
            Err(reason) => self.fail(&group.name, 1, vec![reason]),
        }
    }

    /// Feasibility then score of one node, with the pass's property counts.
    fn evaluate(&mut self, group: &TaskGroup, index: usize) -> Result<f64, Reason> {
        let node = &self.input.nodes[index];
        let usage = &mut self.usages[index];
        let group_counts = self.group_counts.entry(group.name.clone()).or_default();
        // The counts are cluster-wide: lend them to this node's usage rather
        // than keep a copy per node.
        std::mem::swap(&mut usage.job_property_counts, &mut self.job_counts);
        std::mem::swap(&mut usage.group_property_counts, group_counts);
        let (job, options) = (self.input.job, &self.input.options);
        let result = feasible(node, job, group, usage, options)
            .map(|()| score(node, job, group, usage, options));
        std::mem::swap(&mut usage.job_property_counts, &mut self.job_counts);
        std::mem::swap(&mut usage.group_property_counts, group_counts);
        result
    }

    fn bind(&mut self, alloc: &Allocation, group: &TaskGroup, index: usize, score: f64) {
        let node = &self.input.nodes[index];
        let seed = alloc_seed(&alloc.metadata.uid);
        let ports = match assign_ports(node, group, &self.usages[index], seed) {
            Ok(ports) => ports,
            Err(reason) => return self.fail(&group.name, 1, vec![reason]),
        };
        let ask = GroupAsk::of(group);
        let Some(cores) = assign_cores(node, group, &self.usages[index]) else {
            return self.fail(&group.name, 1, vec![Reason::Exhausted("cores".into())]);
        };
        let cpu = ask.cpu_on(node);
        let exact = QuotaUse {
            cpu,
            memory: ask.memory,
            allocations: 1,
        };
        if let Some(reason) = self.quota_refuses(alloc, exact) {
            return self.fail_on_quota(&group.name, reason);
        }
        let mut charge = exact;
        charge.sub(self.predecessors_share(alloc));
        let binding = Binding {
            node_id: node.metadata.uid.clone(),
            node_name: node.metadata.name.clone(),
            ports,
            cores,
            cpu,
            memory: ask.memory,
            memory_max: ask.memory_max,
            bound_at: Some(self.input.now),
            score: score.is_finite().then_some(score),
        };
        add_binding(&mut self.usages[index], &binding);
        self.quota_used.add(charge);
        self.record(&group.name, index);
        self.plan
            .bindings
            .push((alloc.metadata.uid.clone(), binding));
    }

    /// Counts one allocation of `group` on node `index`: per node and, for
    /// every tracked property, per value.
    fn record(&mut self, group: &str, index: usize) {
        let node = &self.input.nodes[index];
        *self.usages[index]
            .job_allocs
            .entry(group.to_string())
            .or_default() += 1;
        for prop in &self.job_props {
            if let Some(value) = resolve(node, prop) {
                bump(&mut self.job_counts, prop, value);
            }
        }
        let Some(props) = self.group_props.get(group) else {
            return;
        };
        let counts = self.group_counts.entry(group.to_string()).or_default();
        for prop in props {
            if let Some(value) = resolve(node, prop) {
                bump(counts, prop, value);
            }
        }
    }

    fn failure(&mut self, group: &str) -> &mut PlacementFailure {
        self.plan.failures.entry(group.to_string()).or_default()
    }

    fn fail(&mut self, group: &str, evaluated: usize, reasons: Vec<Reason>) {
        let failure = self.failure(group);
        failure.queued += 1;
        failure.nodes_evaluated += evaluated as u64;
        for reason in reasons {
            let counts = match &reason {
                Reason::Filtered(_) => &mut failure.nodes_filtered,
                Reason::Exhausted(_) => &mut failure.dimensions_exhausted,
            };
            *counts.entry(reason.text().to_string()).or_default() += 1;
        }
    }
}

fn bump(counts: &mut PropertyCounts, prop: &str, value: String) {
    *counts
        .entry(prop.to_string())
        .or_default()
        .entry(value)
        .or_default() += 1;
}

/// Affinities and spreads can favour any node, so (as in Nomad) every
/// feasible node is scored for such groups.
/// The job's bound allocations whose room a pending one may take: those
/// told to stop, and those a pending allocation replaces. The job
/// controller writes a replacement and its predecessor's stop in one
/// transaction, but the view may apply the two events apart; a pass that
/// reads between them must still see the predecessor's room (or it records
/// a placement failure that `drover apply` takes as final).
fn predecessors<'a>(input: &PassInput<'a>) -> HashMap<&'a str, &'a Allocation> {
    let replaced: HashSet<&str> = input
        .pending
        .iter()
        .filter_map(|a| a.spec.previous_allocation.as_deref())
        .collect();
    input
        .existing
        .iter()
        .filter(|a| a.binding.is_some())
        .filter(|a| {
            a.spec.desired_status != DesiredStatus::Run
                || replaced.contains(a.metadata.uid.as_str())
        })
        .map(|a| (a.metadata.uid.as_str(), a))
        .collect()
}

fn scores_everywhere(job: &Job, group: &TaskGroup) -> bool {
    !job.spec.affinities.is_empty()
        || !job.spec.spreads.is_empty()
        || !group.affinities.is_empty()
        || !group.spreads.is_empty()
        || group.tasks.iter().any(|t| !t.affinities.is_empty())
}

/// FNV-1a of the allocation id: the same allocation gets the same dynamic
/// ports whichever pass binds it.
fn alloc_seed(id: &str) -> u64 {
    id.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod full_cluster_tests;
#[cfg(test)]
mod quota_tests;
#[cfg(test)]
mod tests;
