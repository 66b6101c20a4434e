//! A destructive update on a full cluster, simulated with the two pure
//! cores the controllers run: the job reconciler
//! ([`crate::job::reconcile::reconcile_rollout`]) decides replacements and
//! stops, the placement pass binds, and a simulated agent stops, starts and
//! judges allocations in an order proptest picks. After every step: no node
//! holds a static port twice or more memory than it has among its live
//! allocations, never more than `count` allocations are desired running,
//! never more than `max_parallel` replacements are in flight, and no
//! placement ever fails. Then every actor runs in turn until the rollout is
//! done, which it must be within a bounded number of rounds (no deadlock).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{TimeZone, Utc};
use drover_api_types::alloc::{Allocation, ClientStatus, DeploymentHealth, DesiredStatus};
use drover_api_types::group::{Network, Port};
use drover_api_types::job::UpdateStrategy;
use drover_api_types::{mock, Job, JobType, Node, TaskGroup};
use proptest::prelude::*;

use crate::job::reconcile::{reconcile_rollout, Placement, Rollout};
use crate::placement::tests::node;
use crate::placement::{
    add_binding, holds_room, needs_placement, plan_pass, NodeUsage, PassInput, PlacementOptions,
};

const DEPLOYMENT: &str = "d1";

/// What fills every node: static port 80, or all its memory.
#[derive(Debug, Clone, Copy)]
enum Full {
    Port,
    Memory,
}

fn group(count: usize, full: Full, max_parallel: i64) -> TaskGroup {
    let memory = match full {
        Full::Port => 64,
        Full::Memory => 8192,
    };
    let mut g = mock::group("web", count as i64);
    g.tasks[0].resources.memory = memory;
    g.network = matches!(full, Full::Port).then(|| Network {
        ports: vec![Port {
            label: "http".into(),
            static_port: Some(80),
            ..Default::default()
        }],
        ..Default::default()
    });
    g.update = Some(UpdateStrategy {
        max_parallel: Some(max_parallel),
        ..Default::default()
    });
    g
}

fn job(version: u64, group: TaskGroup) -> Job {
    let mut job = mock::job_of("web", JobType::Service, vec![group]);
    job.metadata.version = version;
    job
}

struct Sim {
    job: Job,
    nodes: Vec<Node>,
    allocs: Vec<Allocation>,
    /// `Some` when the version rolls out under a deployment.
    rollout: Option<Rollout>,
    next_id: usize,
    seed: u64,
}

impl Sim {
    /// `count` allocations of version 0 running, one per node, and version 1
    /// (a new image: every allocation must be replaced) registered.
    fn new(nodes: usize, full: Full, max_parallel: i64, deployment: bool, seed: u64) -> Sim {
        let g = group(nodes, full, max_parallel);
        let mut sim = Sim {
            job: job(0, g.clone()),
            nodes: (0..nodes).map(|i| node(&format!("n{i}"))).collect(),
            allocs: Vec::new(),
            rollout: None,
            next_id: 0,
            seed,
        };
        sim.job_controller();
        sim.placement().expect("version 0 places");
        let bound = sim.allocs.iter().filter(|a| a.binding.is_some()).count();
        assert_eq!(bound, nodes, "version 0 fills the cluster");
        for a in &mut sim.allocs {
            a.status.client_status = ClientStatus::Running;
        }
        sim.job = job(1, g);
        sim.rollout = deployment.then(|| Rollout {
            deployment_id: DEPLOYMENT.into(),
            active: true,
            ended: false,
            promoted: true,
            canaries: 0,
            max_parallel: usize::try_from(max_parallel).unwrap_or(1).max(1),
            in_place: BTreeSet::new(),
            manual_health: BTreeMap::new(),
        });
        sim
    }

    fn job_controller(&mut self) {
        let group = &self.job.spec.groups[0];
        let now = t0();
        let plan = reconcile_rollout(&self.job, group, &self.allocs, self.rollout.as_ref(), now);
        let mut stops: Vec<String> = plan.stop.iter().map(|(id, _)| id.clone()).collect();
        let replacing = plan.lost.iter().chain(&plan.destructive_update);
        stops.extend(replacing.filter_map(|p| p.previous_allocation.clone()));
        for a in self.allocs.iter_mut() {
            if stops.contains(&a.metadata.uid) && a.spec.desired_status == DesiredStatus::Run {
                a.spec.desired_status = DesiredStatus::Stop;
                // The shell ends an allocation stopped while unbound.
                if a.binding.is_none() {
                    a.status.client_status = ClientStatus::Complete;
                }
            }
        }
        let new: Vec<Placement> = plan
            .place
            .iter()
            .chain(&plan.reschedule)
            .chain(&plan.lost)
            .chain(&plan.destructive_update)
            .chain(&plan.migrate)
            .chain(&plan.canary)
            .cloned()
            .collect();
        for p in new {
            let mut a = Allocation::default();
            a.metadata.uid = format!("a{}", self.next_id);
            self.next_id += 1;
            a.metadata.name = p.name;
            a.metadata.namespace = "default".into();
            a.spec.job_id = "web".into();
            a.spec.job_version = self.job.metadata.version;
            a.spec.task_group = "web".into();
            a.spec.index = p.index;
            a.spec.previous_allocation = p.previous_allocation;
            a.spec.canary = p.canary;
            a.spec.deployment_id = self.rollout.as_ref().map(|r| r.deployment_id.clone());
            self.allocs.push(a);
        }
    }

    /// One pass, as the placement controller runs it: usage from the live
    /// bindings, the job's allocations split into pending and the rest.
    fn placement(&mut self) -> Result<(), TestCaseError> {
        let awaited: BTreeSet<&str> = self
            .allocs
            .iter()
            .filter(|a| needs_placement(a))
            .filter_map(|a| a.spec.previous_allocation.as_deref())
            .collect();
        let mut base: HashMap<String, NodeUsage> = HashMap::new();
        for a in &self.allocs {
            let held = holds_room(a, awaited.contains(a.metadata.uid.as_str()));
            if let Some(b) = a.binding.as_ref().filter(|_| held) {
                add_binding(base.entry(b.node_id.clone()).or_default(), b);
            }
        }
        let (pending, existing): (Vec<Allocation>, Vec<Allocation>) =
            self.allocs.iter().cloned().partition(needs_placement);
        self.seed = self.seed.wrapping_add(1);
        let input = PassInput {
            job: &self.job,
            pending: &pending,
            existing: &existing,
            nodes: &self.nodes,
            options: PlacementOptions::default(),
            now: t0(),
            seed: self.seed,
            quota: None,
        };
        let plan = plan_pass(&input, base);
        prop_assert!(
            plan.failures.is_empty(),
            "placement failed: {:?}",
            plan.failures
        );
        for (id, binding) in plan.bindings {
            if let Some(a) = self.allocs.iter_mut().find(|a| a.metadata.uid == id) {
                a.binding = Some(binding);
            }
        }
        Ok(())
    }

    /// The agent's `n`-th possible move of kind `kind`: stop an allocation
    /// told to stop, start a bound one, or judge a running one healthy.
    fn agent(&mut self, kind: u8, n: usize) {
        let candidates: Vec<usize> = (0..self.allocs.len())
            .filter(|&i| {
                let a = &self.allocs[i];
                let (bound, status) = (a.binding.is_some(), a.status.client_status);
                match kind % 3 {
                    0 => {
                        bound
                            && a.spec.desired_status != DesiredStatus::Run
                            && !status.is_terminal()
                    }
                    1 => {
                        bound
                            && a.spec.desired_status == DesiredStatus::Run
                            && status == ClientStatus::Pending
                    }
                    _ => {
                        status == ClientStatus::Running
                            && a.spec.deployment_id.is_some()
                            && a.status.deployment_health.is_none()
                    }
                }
            })
            .collect();
        if candidates.is_empty() {
            return;
        }
        let a = &mut self.allocs[candidates[n % candidates.len()]];
        match kind % 3 {
            0 => a.status.client_status = ClientStatus::Complete,
            1 => a.status.client_status = ClientStatus::Running,
            _ => {
                if let Some(d) = a.spec.deployment_id.clone() {
                    a.status.deployment_health = Some(DeploymentHealth {
                        deployment_id: d,
                        healthy: true,
                        ..Default::default()
                    });
                }
            }
        }
    }

    fn live_bound(&self) -> impl Iterator<Item = &Allocation> {
        self.allocs
            .iter()
            .filter(|a| a.binding.is_some() && !a.status.client_status.is_terminal())
    }

    fn check(&self, max_parallel: usize) -> Result<(), TestCaseError> {
        let count = self.nodes.len();
        for n in &self.nodes {
            let here: Vec<&Allocation> = self
                .live_bound()
                .filter(|a| {
                    a.binding
                        .as_ref()
                        .is_some_and(|b| b.node_id == n.metadata.uid)
                })
                .collect();
            let ports: Vec<u16> = here
                .iter()
                .filter_map(|a| a.binding.as_ref())
                .flat_map(|b| b.ports.values().map(|p| p.value))
                .collect();
            let distinct: BTreeSet<&u16> = ports.iter().collect();
            prop_assert_eq!(
                distinct.len(),
                ports.len(),
                "a port twice on {}",
                n.metadata.name
            );
            let memory: i64 = here
                .iter()
                .filter_map(|a| a.binding.as_ref())
                .map(|b| b.memory)
                .sum();
            prop_assert!(
                memory <= n.spec.resources.memory,
                "memory over on {}",
                n.metadata.name
            );
        }
        let desired_running = self
            .allocs
            .iter()
            .filter(|a| a.spec.desired_status == DesiredStatus::Run)
            .filter(|a| !a.status.client_status.is_terminal())
            .count();
        prop_assert!(
            desired_running <= count,
            "{desired_running} desired running"
        );
        let stopping_old = self
            .allocs
            .iter()
            .filter(|a| a.spec.job_version == 0 && a.spec.desired_status != DesiredStatus::Run)
            .filter(|a| !a.status.client_status.is_terminal())
            .count();
        prop_assert!(
            stopping_old <= max_parallel,
            "{stopping_old} old ones stopping"
        );
        if let Some(r) = &self.rollout {
            let in_flight = self
                .allocs
                .iter()
                .filter(|a| a.spec.deployment_id.as_deref() == Some(r.deployment_id.as_str()))
                .filter(|a| !a.status.client_status.is_terminal() && !r.healthy(a))
                .count();
            prop_assert!(in_flight <= max_parallel, "{in_flight} in flight");
        }
        Ok(())
    }

    /// Every allocation desired running is of the new version and running.
    fn done(&self) -> bool {
        let live: Vec<&Allocation> = self
            .allocs
            .iter()
            .filter(|a| a.spec.desired_status == DesiredStatus::Run)
            .collect();
        live.len() == self.nodes.len()
            && live
                .iter()
                .all(|a| a.spec.job_version == 1 && a.status.client_status == ClientStatus::Running)
            && self
                .allocs
                .iter()
                .filter(|a| a.spec.desired_status != DesiredStatus::Run)
                .all(|a| a.status.client_status.is_terminal())
    }
}

fn t0() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0)
        .single()
        .expect("a valid time")
}

/// Runs `steps` (actor, argument) then every actor in turn until done.
fn roll_out(
    nodes: usize,
    full: Full,
    max_parallel: i64,
    deployment: bool,
    seed: u64,
    steps: &[(u8, usize)],
) -> Result<(), TestCaseError> {
    let mut sim = Sim::new(nodes, full, max_parallel, deployment, seed);
    let limit = usize::try_from(max_parallel).unwrap_or(1);
    sim.check(limit)?;
    for &(actor, n) in steps {
        match actor % 5 {
            0 => sim.job_controller(),
            1 => sim.placement()?,
            kind => sim.agent(kind - 2, n),
        }
        sim.check(limit)?;
    }
    for _ in 0..4 * nodes + 8 {
        if sim.done() {
            return Ok(());
        }
        sim.job_controller();
        sim.check(limit)?;
        sim.placement()?;
        sim.check(limit)?;
        for kind in 0..3 {
            for _ in 0..sim.allocs.len() {
                sim.agent(kind, 0);
            }
            sim.check(limit)?;
        }
    }
    prop_assert!(sim.done(), "the rollout did not finish: {:#?}", sim.allocs);
    Ok(())
}

#[test]
fn static_port_80_on_three_full_nodes_rolls_out_one_at_a_time() {
    for full in [Full::Port, Full::Memory] {
        for deployment in [true, false] {
            roll_out(3, full, 1, deployment, 0, &[]).expect("rolls out");
        }
    }
}

proptest! {
    #[test]
    fn a_full_cluster_rolls_out_without_overbooking_or_deadlock(
        nodes in 1usize..6,
        port in any::<bool>(),
        max_parallel in 1i64..4,
        deployment in any::<bool>(),
        seed in any::<u64>(),
        steps in prop::collection::vec((0u8..5, 0usize..8), 0..60),
    ) {
        let full = if port { Full::Port } else { Full::Memory };
        roll_out(nodes, full, max_parallel, deployment, seed, &steps)?;
    }
}
