//! Scoring a feasible node; higher is better. Like Nomad, each scorer that
//! applies yields a value in -1..=1 and the node's score is their mean:
//!
//! - fit (always): BestFit-v3 over cpu and memory after placing the group,
//!   `(20 - (10^free_cpu + 10^free_mem)) / 18` for bin-pack (fuller nodes
//!   score higher) or `(10^free_cpu + 10^free_mem - 2) / 18` for spread;
//! - job anti-affinity (when the group already has allocations here):
//!   `-(collisions + 1) / count`, so replicas avoid sharing a node;
//! - affinities (job, group and task level, when any): the sum of matching
//!   weights over the sum of absolute weights;
//! - spreads (when any): for the node's value of each spread attribute,
//!   how far that value is below its target share (targets as percents of the
//!   group count, else an even share across the values seen), weighted.

use drover_api_types::job::{Affinity, Spread};
use drover_api_types::{Job, Node, TaskGroup};

use super::attributes::resolve;
use super::operators::check_operator;
use super::resources::{capacity, GroupAsk};
use super::{Algorithm, NodeUsage, PlacementOptions};

/// The node's score for one more allocation of `group`; call it only on
/// feasible nodes.
pub fn score(
    node: &Node,
    job: &Job,
    group: &TaskGroup,
    usage: &NodeUsage,
    options: &PlacementOptions,
) -> f64 {
    let mut scores = vec![fit(node, group, usage, options.algorithm)];
    let collisions = usage.group_alloc_count(&group.name);
    if collisions > 0 {
        let count = group.count.max(1) as f64;
        scores.push((-(f64::from(collisions) + 1.0) / count).max(-1.0));
    }
    let affinities: Vec<&Affinity> = job
        .spec
        .affinities
        .iter()
        .chain(&group.affinities)
        .chain(group.tasks.iter().flat_map(|t| &t.affinities))
        .collect();
    if let Some(s) = affinity(node, &affinities) {
        scores.push(s);
    }
    let spreads: Vec<&Spread> = job.spec.spreads.iter().chain(&group.spreads).collect();
    if let Some(s) = spread(node, group, usage, &spreads) {
        scores.push(s);
    }
    scores.iter().sum::<f64>() / scores.len() as f64
}

fn fit(node: &Node, group: &TaskGroup, usage: &NodeUsage, algorithm: Algorithm) -> f64 {
    let ask = GroupAsk::of(group);
    let (cpu, memory) = capacity(node);
    let free = |used: i64, total: i64| {
        if total <= 0 {
            0.0
        } else {
            (1.0 - used as f64 / total as f64).clamp(0.0, 1.0)
        }
    };
    let total = 10f64.powf(free(usage.cpu + ask.cpu, cpu))
        + 10f64.powf(free(usage.memory + ask.memory, memory));
    let raw = match algorithm {
        Algorithm::BinPack => 20.0 - total,
        Algorithm::Spread => total - 2.0,
    };
    raw.clamp(0.0, 18.0) / 18.0
}

fn affinity(node: &Node, affinities: &[&Affinity]) -> Option<f64> {
    let total: i64 = affinities.iter().map(|a| a.weight.abs()).sum();
    if total == 0 {
        return None;
    }
    let matched: i64 = affinities
        .iter()
        .filter(|a| {
            let lhs = resolve(node, &a.attribute);
            let rhs = resolve(node, &a.value);
            check_operator(&a.operator, lhs.as_deref(), rhs.as_deref())
        })
        .map(|a| a.weight)
        .sum();
    Some(matched as f64 / total as f64)
}

fn spread(node: &Node, group: &TaskGroup, usage: &NodeUsage, spreads: &[&Spread]) -> Option<f64> {
    let total_weight: i64 = spreads.iter().map(|s| s.weight.abs()).sum();
    if total_weight == 0 {
        return None;
    }
    let mut sum = 0.0;
    for s in spreads {
        let counts = usage.group_property_counts.get(&s.attribute);
        let count_of = |v: &str| f64::from(counts.and_then(|c| c.get(v)).copied().unwrap_or(0));
        let Some(value) = resolve(node, &s.attribute) else {
            // A node lacking the attribute gets the worst spread score.
            sum -= s.weight as f64;
            continue;
        };
        let used = count_of(&value);
        let boost = if s.targets.is_empty() {
            // Even spread: values below the most-used one are preferred.
            let max = counts
                .and_then(|c| c.values().max().copied())
                .map_or(0.0, f64::from);
            if max == 0.0 {
                0.0
            } else {
                (max - used) / max
            }
        } else {
            let percent = s
                .targets
                .iter()
                .find(|t| t.value == value)
                .map_or(0, |t| t.percent);
            let desired = percent as f64 / 100.0 * group.count.max(1) as f64;
            if desired <= 0.0 {
                -1.0
            } else {
                ((desired - used) / desired).clamp(-1.0, 1.0)
            }
        };
        sum += boost * s.weight as f64;
    }
    Some(sum / total_weight as f64)
}
