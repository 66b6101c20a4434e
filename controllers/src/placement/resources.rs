//! Bin-packing feasibility: what a task group asks for, what a node has
//! free (its resources minus what it reserves for itself minus the bindings
//! already on it), and host ports.
//!
//! Ports are checked first, as Nomad's bin-pack iterator assigns the network
//! before fitting cpu and memory. Every static port must be free on the node
//! (`port 80`); the node's dynamic range must hold enough free ports for the
//! dynamic ones (`dynamic port`). Then `cpu`, then `memory`: with memory
//! oversubscription only the `memory` reservation must fit, otherwise
//! `memory_max` (when larger) must fit too. `resources.cores` must find
//! that many free core ids on the node ([`assign_cores`]), and their MHz
//! count against `cpu`.

use std::collections::{BTreeMap, BTreeSet};

use drover_api_types::alloc::AssignedPort;
use drover_api_types::{Node, TaskGroup};

use super::{NodeUsage, PlacementOptions, Reason};

/// What one allocation of a group reserves, summed over its tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GroupAsk {
    /// MHz.
    pub cpu: i64,
    /// MB reserved.
    pub memory: i64,
    /// MB the tasks may burst to (`memory_max`, else `memory`).
    pub memory_max: i64,
    /// Whole cores reserved (`resources.cores`); their MHz are added on
    /// each node by [`GroupAsk::cpu_on`].
    pub cores: i64,
}

impl GroupAsk {
    pub fn of(group: &TaskGroup) -> Self {
        group.tasks.iter().fold(GroupAsk::default(), |ask, task| {
            let r = &task.resources;
            GroupAsk {
                cpu: ask.cpu + r.cpu,
                memory: ask.memory + r.memory,
                memory_max: ask.memory_max + r.memory_max.unwrap_or(r.memory).max(r.memory),
                cores: ask.cores + r.cores.unwrap_or(0).max(0),
            }
        })
    }

    /// MHz on `node`: `cpu` plus each reserved core's share of the node's
    /// MHz (as Nomad counts cores against the node's compute).
    pub fn cpu_on(&self, node: &Node) -> i64 {
        let per_core = node.spec.resources.cpu / node.spec.resources.cores.max(1);
        self.cpu + self.cores * per_core
    }
}

/// The core ids placement may hand out on `node`: `0..cores` minus the
/// node's reserved count (taken from the top) minus those bound already.
fn free_cores(node: &Node, usage: &NodeUsage) -> Vec<u32> {
    let usable = (node.spec.resources.cores - node.spec.reserved.cores).max(0);
    (0..u32::try_from(usable).unwrap_or(0))
        .filter(|id| !usage.used_cores.contains(id))
        .collect()
}

/// Which cores each task of `group` gets on `node`: the lowest free ids,
/// in task order. `None` when they do not fit.
pub fn assign_cores(
    node: &Node,
    group: &TaskGroup,
    usage: &NodeUsage,
) -> Option<BTreeMap<String, Vec<u32>>> {
    let mut free = free_cores(node, usage).into_iter();
    let mut out = BTreeMap::new();
    for task in &group.tasks {
        let want = task.resources.cores.unwrap_or(0).max(0);
        if want == 0 {
            continue;
        }
        let ids: Vec<u32> = free.by_ref().take(usize::try_from(want).ok()?).collect();
        if ids.len() as i64 != want {
            return None;
        }
        out.insert(task.name.clone(), ids);
    }
    Some(out)
}

/// Schedulable capacity: resources minus reserved, as (cpu, memory).
pub(super) fn capacity(node: &Node) -> (i64, i64) {
    let spec = &node.spec;
    (
        spec.resources.cpu - spec.reserved.cpu,
        spec.resources.memory - spec.reserved.memory,
    )
}

/// Checks ports, then cpu, then memory.
pub(super) fn check_fit(
    node: &Node,
    group: &TaskGroup,
    usage: &NodeUsage,
    options: &PlacementOptions,
) -> Result<(), Reason> {
    check_ports(node, group, usage)?;
    let ask = GroupAsk::of(group);
    let (cpu, memory) = capacity(node);
    if ask.cores > 0 && assign_cores(node, group, usage).is_none() {
        return Err(Reason::Exhausted("cores".into()));
    }
    if usage.cpu + ask.cpu_on(node) > cpu {
        return Err(Reason::Exhausted("cpu".into()));
    }
    let memory_needed = if options.memory_oversubscription {
        ask.memory
    } else {
        ask.memory_max
    };
    if usage.memory + memory_needed > memory {
        return Err(Reason::Exhausted("memory".into()));
    }
    Ok(())
}

/// A port's static host port, when it has one.
fn static_port(port: &drover_api_types::group::Port) -> Option<u16> {
    port.static_port
        .filter(|p| *p > 0)
        .and_then(|p| u16::try_from(p).ok())
}

fn ports(group: &TaskGroup) -> &[drover_api_types::group::Port] {
    group.network.as_ref().map_or(&[], |n| n.ports.as_slice())
}

fn dynamic_range(node: &Node) -> (u16, u16) {
    (node.spec.min_dynamic_port, node.spec.max_dynamic_port)
}

fn check_ports(node: &Node, group: &TaskGroup, usage: &NodeUsage) -> Result<(), Reason> {
    // Cost in proportion to the ports asked for and used, never to the size
    // of the dynamic range: this runs once per node and allocation.
    let mut statics: BTreeSet<u16> = BTreeSet::new();
    let mut dynamic = 0usize;
    for port in ports(group) {
        match static_port(port) {
            Some(value) => {
                if usage.used_ports.contains(&value) || !statics.insert(value) {
                    return Err(Reason::Exhausted(format!("port {value}")));
                }
            }
            None => dynamic += 1,
        }
    }
    if dynamic > 0 {
        let (min, max) = dynamic_range(node);
        let free = if min > max {
            0
        } else {
            let span = usize::from(max - min) + 1;
            let used = usage.used_ports.range(min..=max).count();
            let own = statics.range(min..=max).count();
            span.saturating_sub(used + own)
        };
        if free < dynamic {
            return Err(Reason::Exhausted("dynamic port".into()));
        }
    }
    Ok(())
}

/// Host ports for every port label of `group` on `node`: static ports as
/// written, dynamic ones picked from the node's dynamic range, free and
/// distinct, by a splitmix64 sequence from `seed` (same inputs, same ports).
pub fn assign_ports(
    node: &Node,
    group: &TaskGroup,
    usage: &NodeUsage,
    seed: u64,
) -> Result<BTreeMap<String, AssignedPort>, Reason> {
    check_ports(node, group, usage)?;
    let mut taken: BTreeSet<u16> = usage.used_ports.clone();
    taken.extend(ports(group).iter().filter_map(static_port));
    let (min, max) = dynamic_range(node);
    let span = u64::from(max.saturating_sub(min)) + 1;
    let mut state = seed;
    let mut assigned = BTreeMap::new();
    for port in ports(group) {
        let value = match static_port(port) {
            Some(value) => value,
            None => {
                let start = splitmix64(&mut state) % span;
                // Probe from a random start; check_ports guaranteed a free one.
                let found = (0..span)
                    .filter_map(|i| u16::try_from(u64::from(min) + (start + i) % span).ok())
                    .find(|p| !taken.contains(p))
                    .ok_or_else(|| Reason::Exhausted("dynamic port".into()))?;
                taken.insert(found);
                found
            }
        };
        let to = port
            .to
            .filter(|t| *t > 0)
            .and_then(|t| u16::try_from(t).ok())
            .unwrap_or(0);
        assigned.insert(
            port.label.clone(),
            AssignedPort {
                host_ip: node.spec.address.clone(),
                value,
                to,
            },
        );
    }
    Ok(assigned)
}

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
