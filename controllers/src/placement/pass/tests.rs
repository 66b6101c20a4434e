//! Tables and a property test for the placement pass.

use std::collections::BTreeSet;

use chrono::{Duration, TimeZone};
use drover_api_types::group::{Network, Port};
use drover_api_types::job::{Constraint, Spread};
use drover_api_types::node::NodeState;
use drover_api_types::{mock, JobType};
use proptest::prelude::*;

use super::*;
use crate::placement::tests::node;

pub(super) fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0)
        .single()
        .expect("a valid time")
}

/// Group `web` of three allocations of one task of `cpu` MHz, `memory` MB.
pub(super) fn group(cpu: i64, memory: i64) -> TaskGroup {
    let mut g = mock::group("web", 3);
    g.tasks[0].resources.cpu = cpu;
    g.tasks[0].resources.memory = memory;
    g
}

fn with_ports(mut g: TaskGroup, ports: &[Option<i64>]) -> TaskGroup {
    g.network = Some(Network {
        ports: ports
            .iter()
            .enumerate()
            .map(|(i, p)| Port {
                label: format!("p{i}"),
                static_port: *p,
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    });
    g
}

pub(super) fn job(groups: Vec<TaskGroup>) -> Job {
    mock::job_of("web", JobType::Service, groups)
}

fn constraint(attribute: &str, operator: &str, value: &str) -> Constraint {
    Constraint {
        attribute: attribute.into(),
        operator: operator.into(),
        value: value.into(),
    }
}

pub(super) fn alloc(group: &str, index: u32) -> Allocation {
    let mut a = Allocation::default();
    a.metadata.uid = format!("{group}-{index}");
    a.metadata.namespace = "default".into();
    a.spec.job_id = "web".into();
    a.spec.task_group = group.into();
    a.spec.index = index;
    a
}

pub(super) fn allocs(group: &str, n: u32) -> Vec<Allocation> {
    (0..n).map(|i| alloc(group, i)).collect()
}

pub(super) fn nodes(n: usize) -> Vec<Node> {
    (0..n).map(|i| node(&format!("n{i}"))).collect()
}

fn run(job: &Job, pending: &[Allocation], existing: &[Allocation], nodes: &[Node]) -> PassPlan {
    run_with(job, pending, existing, nodes, HashMap::new(), 7)
}

fn run_with(
    job: &Job,
    pending: &[Allocation],
    existing: &[Allocation],
    nodes: &[Node],
    base: HashMap<String, NodeUsage>,
    seed: u64,
) -> PassPlan {
    run_under(job, pending, existing, nodes, base, seed, None)
}

/// [`run_with`] under a namespace quota, when given.
pub(super) fn run_under(
    job: &Job,
    pending: &[Allocation],
    existing: &[Allocation],
    nodes: &[Node],
    base: HashMap<String, NodeUsage>,
    seed: u64,
    quota: Option<QuotaBudget<'_>>,
) -> PassPlan {
    let input = PassInput {
        job,
        pending,
        existing,
        nodes,
        options: PlacementOptions::default(),
        now: now(),
        seed,
        quota,
    };
    plan_pass(&input, base)
}

fn node_ids(plan: &PassPlan) -> Vec<String> {
    plan.bindings
        .iter()
        .map(|(_, b)| b.node_id.clone())
        .collect()
}

fn distinct(ids: &[String]) -> usize {
    ids.iter().collect::<BTreeSet<_>>().len()
}

#[test]
fn search_limit_is_log2_with_a_floor_of_two() {
    for (nodes, limit) in [
        (0, 2),
        (1, 2),
        (2, 2),
        (4, 2),
        (5, 3),
        (8, 3),
        (9, 4),
        (5000, 13),
    ] {
        assert_eq!(search_limit(nodes), limit, "{nodes} nodes");
    }
}

#[test]
fn static_port_on_three_nodes_binds_three_and_queues_the_rest() {
    let j = job(vec![with_ports(group(100, 64), &[Some(80)])]);
    let plan = run(&j, &allocs("web", 5), &[], &nodes(3));
    let ids = node_ids(&plan);
    assert_eq!((ids.len(), distinct(&ids)), (3, 3));
    for (_, b) in &plan.bindings {
        assert_eq!(b.ports["p0"].value, 80);
        assert_eq!(b.bound_at, Some(now()));
        assert_eq!((b.cpu, b.memory), (100, 64));
    }
    let expected = PlacementFailure {
        queued: 2,
        nodes_evaluated: 3,
        nodes_filtered: BTreeMap::new(),
        dimensions_exhausted: BTreeMap::from([("port 80".to_string(), 3)]),
        quota_exhausted: None,
    };
    assert_eq!(
        plan.failures,
        BTreeMap::from([("web".to_string(), expected)])
    );
}

#[test]
fn deferred_allocations_are_not_failures() {
    let j = job(vec![group(100, 64)]);
    let mut pending = allocs("web", 3);
    pending[0].spec.not_before = Some(now() + Duration::seconds(30));
    pending[1].spec.not_before = Some(now() + Duration::seconds(10));
    pending[2].spec.not_before = Some(now() - Duration::seconds(10));
    let plan = run(&j, &pending, &[], &nodes(2));
    assert_eq!(plan.bindings.len(), 1);
    assert_eq!(plan.bindings[0].0, "web-2");
    assert!(plan.failures.is_empty());
    assert_eq!(plan.deferred, Some(now() + Duration::seconds(10)));
}

#[test]
fn target_node_is_the_only_candidate() {
    let j = job(vec![group(100, 64)]);
    let mut ns = nodes(3);
    let mut pending = allocs("web", 3);
    pending[0].spec.target_node = Some("uid-n1".into());
    pending[1].spec.target_node = Some("uid-n2".into());
    pending[2].spec.target_node = Some("uid-gone".into());
    ns[2].status.state = NodeState::Down;
    let plan = run(&j, &pending, &[], &ns);
    assert_eq!(plan.bindings.len(), 1);
    assert_eq!(
        plan.bindings[0],
        ("web-0".into(), plan.bindings[0].1.clone())
    );
    assert_eq!(plan.bindings[0].1.node_id, "uid-n1");
    let failure = &plan.failures["web"];
    assert_eq!((failure.queued, failure.nodes_evaluated), (2, 1));
    assert_eq!(failure.nodes_filtered["node not ready"], 1);
}

#[test]
fn distinct_hosts_counts_existing_and_planned_allocations() {
    let mut g = group(100, 64);
    g.constraints.push(constraint("", "distinct_hosts", "true"));
    let j = job(vec![g]);
    let mut existing = alloc("web", 9);
    existing.binding = Some(Binding {
        node_id: "uid-n0".into(),
        ..Default::default()
    });
    let plan = run(&j, &allocs("web", 4), &[existing], &nodes(3));
    let ids = node_ids(&plan);
    assert_eq!(distinct(&ids), 2);
    assert!(!ids.contains(&"uid-n0".to_string()));
    let failure = &plan.failures["web"];
    assert_eq!(failure.queued, 2);
    assert_eq!(failure.nodes_filtered["distinct_hosts"], 3);
}

#[test]
fn distinct_property_limits_allocations_per_value() {
    let mut g = group(100, 64);
    g.constraints
        .push(constraint("${meta.rack}", "distinct_property", "1"));
    let j = job(vec![g]);
    let mut ns = nodes(4);
    for (i, n) in ns.iter_mut().enumerate() {
        n.spec.meta.insert("rack".into(), format!("r{}", i % 2));
    }
    let plan = run(&j, &allocs("web", 3), &[], &ns);
    let racks: BTreeSet<_> = plan
        .bindings
        .iter()
        .map(|(_, b)| {
            b.node_id
                .trim_start_matches("uid-n")
                .parse::<usize>()
                .expect("node index")
                % 2
        })
        .collect();
    assert_eq!((plan.bindings.len(), racks.len()), (2, 2));
    assert_eq!(
        plan.failures["web"].nodes_filtered["distinct_property ${meta.rack}"],
        4
    );
}

#[test]
fn cpu_memory_and_base_usage_are_respected() {
    let j = job(vec![group(1500, 1024)]);
    let mut base = HashMap::new();
    base.insert(
        "uid-n0".to_string(),
        NodeUsage {
            cpu: 3000,
            ..Default::default()
        },
    );
    // n0 has room for none, n1 and n2 for two each (4000 MHz).
    let plan = run_with(&j, &allocs("web", 6), &[], &nodes(3), base, 1);
    let ids = node_ids(&plan);
    assert_eq!(ids.len(), 4);
    assert!(!ids.contains(&"uid-n0".to_string()));
    let failure = &plan.failures["web"];
    assert_eq!((failure.queued, failure.nodes_evaluated), (2, 3));
    assert_eq!(failure.dimensions_exhausted["cpu"], 3);
}

/// A full cluster: `old` allocations of `g`, one bound on each node, the
/// first `stopping` of them told to stop (still running); and the base
/// usage their bindings make.
pub(super) fn full_cluster(
    g: &TaskGroup,
    ns: &[Node],
    stopping: usize,
) -> (Vec<Allocation>, HashMap<String, NodeUsage>) {
    let j = job(vec![g.clone()]);
    let mut old = allocs(&g.name, ns.len() as u32);
    let bound = run(&j, &old, &[], ns);
    assert!(bound.failures.is_empty(), "{:?}", bound.failures);
    let mut base: HashMap<String, NodeUsage> = HashMap::new();
    for (a, (_, b)) in old.iter_mut().zip(&bound.bindings) {
        add_binding(base.entry(b.node_id.clone()).or_default(), b);
        a.binding = Some(b.clone());
        a.status.client_status = drover_api_types::alloc::ClientStatus::Running;
    }
    for a in old.iter_mut().take(stopping) {
        a.spec.desired_status = DesiredStatus::Stop;
    }
    (old, base)
}

/// The replacement of `old` (the job controller's destructive update).
pub(super) fn replacement(old: &Allocation) -> Allocation {
    let mut a = alloc(&old.spec.task_group, old.spec.index);
    a.metadata.uid = format!("{}-v1", old.metadata.uid);
    a.spec.job_version = 1;
    a.spec.previous_allocation = Some(old.metadata.uid.clone());
    a
}

#[test]
fn a_replacement_on_a_full_cluster_waits_for_its_predecessors_room() {
    // Every node's port 80 (first table) or memory (second) is taken.
    let by_port = with_ports(group(100, 64), &[Some(80)]);
    let by_memory = group(100, 8192);
    for g in [by_port, by_memory] {
        let ns = nodes(3);
        let j = job(vec![g.clone()]);
        let (mut old, base) = full_cluster(&g, &ns, 1);
        let new = replacement(&old[0]);
        let plan = run_with(&j, std::slice::from_ref(&new), &old, &ns, base.clone(), 3);
        assert_eq!(plan.bindings, Vec::new());
        assert!(plan.failures.is_empty(), "{:?}", plan.failures);
        assert_eq!(plan.waiting, vec![new.metadata.uid.clone()]);

        // The predecessor ends; its room stays held (base still counts it,
        // as `holds_room` says) and goes to the replacement.
        old[0].status.client_status = drover_api_types::alloc::ClientStatus::Complete;
        assert!(holds_room(&old[0], true) && !holds_room(&old[0], false));
        let prev = old[0].binding.clone().expect("bound");
        let plan = run_with(&j, std::slice::from_ref(&new), &old, &ns, base.clone(), 3);
        assert!(plan.failures.is_empty() && plan.waiting.is_empty());
        assert_eq!(plan.bindings.len(), 1);
        assert_eq!(plan.bindings[0].1.node_id, prev.node_id);
        assert_eq!(plan.bindings[0].1.ports, prev.ports);

        // A fresh allocation cannot take a held room, even with the
        // replacement placed first in the same pass: only one gets it.
        let fresh = alloc("web", 7);
        let plan = run_with(&j, &[fresh, new.clone()], &old, &ns, base, 3);
        assert_eq!(plan.bindings.len(), 1);
        assert_eq!(plan.bindings[0].0, new.metadata.uid);
        assert_eq!(plan.failures["web"].queued, 1);
    }
}

/// The job controller writes the replacement and its predecessor's stop in
/// one transaction, but a pass can read the view between the two events:
/// the predecessor still says `run`. Its room is still the replacement's to
/// wait for — not a placement failure, which `drover apply` takes as final.
#[test]
fn a_replacement_waits_even_before_its_predecessors_stop_is_seen() {
    let g = with_ports(group(100, 64), &[Some(80)]);
    let ns = nodes(3);
    let j = job(vec![g.clone()]);
    let (old, base) = full_cluster(&g, &ns, 0);
    let new = replacement(&old[0]);
    let plan = run_with(&j, std::slice::from_ref(&new), &old, &ns, base, 3);
    assert!(plan.failures.is_empty(), "{:?}", plan.failures);
    assert_eq!(plan.waiting, vec![new.metadata.uid.clone()]);
}

#[test]
fn a_held_room_goes_to_its_own_replacement_not_to_another() {
    // Two replacements; only the second's predecessor has ended. The first
    // (placed first, by index) must not take the second's room.
    let g = with_ports(group(100, 64), &[Some(80)]);
    let ns = nodes(3);
    let j = job(vec![g.clone()]);
    let (mut old, base) = full_cluster(&g, &ns, 2);
    old[1].status.client_status = drover_api_types::alloc::ClientStatus::Complete;
    let (first, second) = (replacement(&old[0]), replacement(&old[1]));
    let plan = run_with(&j, &[first.clone(), second.clone()], &old, &ns, base, 2);
    assert!(plan.failures.is_empty(), "{:?}", plan.failures);
    assert_eq!(plan.waiting, vec![first.metadata.uid]);
    assert_eq!(plan.bindings.len(), 1);
    assert_eq!(plan.bindings[0].0, second.metadata.uid);
    assert_eq!(
        Some(&plan.bindings[0].1.node_id),
        old[1].binding.as_ref().map(|b| &b.node_id)
    );
}

#[test]
fn the_predecessors_room_is_lent_to_its_replacement_only() {
    let g = with_ports(group(100, 64), &[Some(80)]);
    let ns = nodes(3);
    let j = job(vec![g.clone()]);
    let (old, base) = full_cluster(&g, &ns, 1);
    // A canary and a fresh allocation have no predecessor: they fail, with
    // the dimension that is exhausted, whatever order they come in; the
    // replacements wait, including one whose predecessor's stop the view
    // has not shown yet (it still says run).
    let mut canary = alloc("web", 0);
    canary.metadata.uid = "web-canary".into();
    canary.spec.canary = true;
    let fresh = alloc("web", 3);
    let waits = replacement(&old[0]);
    let mut not_stopped = replacement(&old[1]);
    not_stopped.spec.index = 1;
    let pending = [canary, fresh, waits.clone(), not_stopped.clone()];
    let plan = run_with(&j, &pending, &old, &ns, base, 5);
    assert_eq!(plan.bindings, Vec::new());
    assert_eq!(
        plan.waiting,
        vec![waits.metadata.uid, not_stopped.metadata.uid]
    );
    let expected = PlacementFailure {
        queued: 2,
        nodes_evaluated: 3,
        nodes_filtered: BTreeMap::new(),
        dimensions_exhausted: BTreeMap::from([("port 80".to_string(), 3)]),
        quota_exhausted: None,
    };
    assert_eq!(plan.failures["web"], expected);
}

#[test]
fn a_replacement_takes_room_elsewhere_when_there_is_some() {
    let g = with_ports(group(100, 64), &[Some(80)]);
    let ns = nodes(4);
    let j = job(vec![g.clone()]);
    let (mut old, base) = full_cluster(&g, &ns, 1);
    // Three of four nodes hold port 80; the fourth is free.
    let spare = old.pop().expect("four allocations");
    let mut base = base;
    if let Some(b) = &spare.binding {
        release_binding(base.entry(b.node_id.clone()).or_default(), b);
    }
    let new = replacement(&old[0]);
    let plan = run_with(&j, &[new], &old, &ns, base, 1);
    assert!(plan.failures.is_empty() && plan.waiting.is_empty());
    assert_eq!(plan.bindings.len(), 1);
    assert_eq!(
        Some(&plan.bindings[0].1.node_id),
        spare.binding.as_ref().map(|b| &b.node_id)
    );
}

#[test]
fn a_migration_cannot_wait_for_room_on_its_draining_node() {
    let g = with_ports(group(100, 64), &[Some(80)]);
    let mut ns = nodes(2);
    let j = job(vec![g.clone()]);
    let (old, base) = full_cluster(&g, &ns, 1);
    let node = old[0].binding.as_ref().map(|b| b.node_id.clone());
    for n in ns
        .iter_mut()
        .filter(|n| Some(&n.metadata.uid) == node.as_ref())
    {
        n.scheduling.ineligible = true;
    }
    let plan = run_with(&j, &[replacement(&old[0])], &old, &ns, base, 1);
    assert!(plan.waiting.is_empty());
    assert_eq!(plan.failures["web"].queued, 1);
}

#[test]
fn dynamic_ports_are_distinct_on_a_node_and_stable_per_allocation() {
    let j = job(vec![with_ports(group(10, 10), &[None, None])]);
    // One node with a 10-port range: five allocations of two ports fit.
    let plan = run(&j, &allocs("web", 6), &[], &nodes(1));
    assert_eq!(plan.bindings.len(), 5);
    let ports: Vec<u16> = plan
        .bindings
        .iter()
        .flat_map(|(_, b)| b.ports.values().map(|p| p.value))
        .collect();
    assert_eq!(ports.iter().collect::<BTreeSet<_>>().len(), 10);
    assert_eq!(plan.failures["web"].dimensions_exhausted["dynamic port"], 1);
    assert_eq!(plan, run(&j, &allocs("web", 6), &[], &nodes(1)));
}

#[test]
fn spread_over_datacenters_is_even() {
    let mut g = group(100, 64);
    g.count = 9;
    g.spreads.push(Spread {
        attribute: "${node.datacenter}".into(),
        weight: 100,
        targets: Vec::new(),
    });
    let mut j = job(vec![g]);
    j.spec.datacenters = vec!["dc0".into(), "dc1".into(), "dc2".into()];
    let mut ns = nodes(6);
    for (i, n) in ns.iter_mut().enumerate() {
        n.spec.datacenter = format!("dc{}", i / 2);
    }
    let plan = run(&j, &allocs("web", 9), &[], &ns);
    let mut per_dc = BTreeMap::new();
    for (_, b) in &plan.bindings {
        let index: usize = b
            .node_id
            .trim_start_matches("uid-n")
            .parse()
            .expect("node index");
        *per_dc.entry(index / 2).or_insert(0) += 1;
    }
    assert_eq!(per_dc, BTreeMap::from([(0, 3), (1, 3), (2, 3)]));
}

#[test]
fn groups_fail_independently_and_missing_groups_are_skipped() {
    let mut big = group(100_000, 64);
    big.name = "big".into();
    let j = job(vec![group(100, 64), big]);
    let mut pending = allocs("web", 2);
    pending.extend(allocs("big", 2));
    pending.extend(allocs("gone", 1));
    let plan = run(&j, &pending, &[], &nodes(2));
    assert_eq!(plan.bindings.len(), 2);
    assert_eq!(plan.failures.keys().collect::<Vec<_>>(), vec!["big"]);
    assert_eq!(plan.failures["big"].queued, 2);
    assert_eq!(plan.failures["big"].dimensions_exhausted["cpu"], 2);
}

#[test]
fn needs_placement_and_counts_for_job() {
    use drover_api_types::alloc::ClientStatus;
    let mut a = alloc("web", 0);
    assert!(needs_placement(&a) && !counts_for_job(&a));
    a.binding = Some(Binding::default());
    assert!(!needs_placement(&a) && counts_for_job(&a));
    a.status.client_status = ClientStatus::Failed;
    assert!(!counts_for_job(&a));
    a.binding = None;
    assert!(!needs_placement(&a));
    a.status.client_status = ClientStatus::Pending;
    a.spec.desired_status = DesiredStatus::Stop;
    assert!(!needs_placement(&a));
}

/// Nodes as (cpu, memory); groups as (cpu, memory, static port 80,
/// distinct_hosts); the seed.
type Case = (Vec<(i64, i64)>, Vec<(i64, i64, bool, bool)>, u64);

fn arb_case() -> impl Strategy<Value = Case> {
    let nodes = prop::collection::vec((500i64..4000, 256i64..4096), 1..8);
    // Per group: cpu, memory, a static port 80, distinct_hosts.
    let groups = prop::collection::vec(
        (100i64..2000, 64i64..2048, any::<bool>(), any::<bool>()),
        1..4,
    );
    (nodes, groups, any::<u64>())
}

proptest! {
    #[test]
    fn never_overbooks_a_node((node_specs, group_specs, seed) in arb_case()) {
        check_never_overbooks(&node_specs, &group_specs, seed)?;
    }
}

/// Every allocation is bound or counted queued; no node is over its cpu or
/// memory or has a host port twice; `distinct_hosts` groups have at most one
/// allocation per node.
fn check_never_overbooks(
    node_specs: &[(i64, i64)],
    group_specs: &[(i64, i64, bool, bool)],
    seed: u64,
) -> Result<(), TestCaseError> {
    let ns: Vec<Node> = node_specs
        .iter()
        .enumerate()
        .map(|(i, (cpu, mem))| {
            let mut n = node(&format!("n{i}"));
            n.spec.resources.cpu = *cpu;
            n.spec.resources.memory = *mem;
            n
        })
        .collect();
    let mut groups = Vec::new();
    let mut pending = Vec::new();
    for (i, (cpu, mem, port, distinct_hosts)) in group_specs.iter().enumerate() {
        let mut g = group(*cpu, *mem);
        g.name = format!("g{i}");
        if *port {
            g = with_ports(g, &[Some(80), None]);
        }
        if *distinct_hosts {
            g.constraints.push(constraint("", "distinct_hosts", ""));
        }
        pending.extend(allocs(&g.name, 6));
        groups.push(g);
    }
    let j = job(groups);
    let plan = run_with(&j, &pending, &[], &ns, HashMap::new(), seed);
    let queued: u64 = plan.failures.values().map(|f| f.queued).sum();
    prop_assert_eq!(plan.bindings.len() as u64 + queued, pending.len() as u64);
    for n in &ns {
        let on: Vec<&(String, Binding)> = plan
            .bindings
            .iter()
            .filter(|(_, b)| b.node_id == n.metadata.uid)
            .collect();
        let cpu: i64 = on.iter().map(|(_, b)| b.cpu).sum();
        let memory: i64 = on.iter().map(|(_, b)| b.memory).sum();
        prop_assert!(cpu <= n.spec.resources.cpu);
        prop_assert!(memory <= n.spec.resources.memory);
        let ports: Vec<u16> = on
            .iter()
            .flat_map(|(_, b)| b.ports.values().map(|p| p.value))
            .collect();
        prop_assert_eq!(ports.iter().collect::<BTreeSet<_>>().len(), ports.len());
        for g in j.spec.groups.iter().filter(|g| !g.constraints.is_empty()) {
            let prefix = format!("{}-", g.name);
            let here = on.iter().filter(|(id, _)| id.starts_with(&prefix)).count();
            prop_assert!(
                here <= 1,
                "{} allocations of {} on {}",
                here,
                g.name,
                n.metadata.name
            );
        }
    }
    Ok(())
}

/// `cargo test -p drover-controllers --release -- --ignored --nocapture
/// placement_speed`: 100,000 allocations over 5,000 nodes in one pass.
#[test]
#[ignore = "benchmark; run with --release"]
fn placement_speed() {
    for ports in [&[][..], &[None][..]] {
        let ns: Vec<Node> = (0..5000)
            .map(|i| {
                let mut n = node(&format!("n{i:05}"));
                n.spec.resources.cpu = 64_000;
                n.spec.resources.memory = 256_000;
                n.spec.min_dynamic_port = 20_000;
                n.spec.max_dynamic_port = 32_000;
                n
            })
            .collect();
        let j = job(vec![with_ports(group(100, 128), ports)]);
        let pending = allocs("web", 100_000);
        let started = std::time::Instant::now();
        let plan = run_with(&j, &pending, &[], &ns, HashMap::new(), 42);
        let elapsed = started.elapsed();
        println!(
            "{} dynamic port(s): placed {} allocations over {} nodes in {elapsed:?}",
            ports.len(),
            plan.bindings.len(),
            ns.len()
        );
        assert_eq!(plan.bindings.len(), 100_000);
    }
}
