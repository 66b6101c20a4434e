//! Namespace quotas in the placement pass: nothing beyond the quota is
//! bound, the reason names the limit, a replacement takes over its
//! predecessor's share and a canary does not.

use drover_api_types::alloc::ClientStatus;
use proptest::prelude::*;

use super::tests::{alloc, allocs, full_cluster, group, job, nodes, replacement, run_under};
use super::*;

fn run_in_quota(
    job: &Job,
    pending: &[Allocation],
    existing: &[Allocation],
    nodes: &[Node],
    base: HashMap<String, NodeUsage>,
    limit: Quota,
    used: QuotaUse,
) -> PassPlan {
    let quota = QuotaBudget {
        namespace: "web",
        limit,
        used,
    };
    run_under(job, pending, existing, nodes, base, 5, Some(quota))
}

fn allocations(n: i64) -> Quota {
    Quota {
        allocations: Some(n),
        ..Default::default()
    }
}

#[test]
fn nothing_beyond_the_quota_is_bound_and_the_reason_says_which_limit() {
    let g = group(500, 256);
    let j = job(vec![g.clone()]);
    let plan = run_in_quota(
        &j,
        &allocs("web", 3),
        &[],
        &nodes(3),
        HashMap::new(),
        allocations(2),
        QuotaUse::default(),
    );
    assert_eq!(plan.bindings.len(), 2);
    let failure = &plan.failures["web"];
    assert_eq!(failure.queued, 1);
    assert_eq!(
        failure.nodes_evaluated, 0,
        "no node is tried past the quota"
    );
    assert_eq!(
        failure.quota_exhausted.as_deref(),
        Some("quota web exhausted: allocations 2/2 used, 1 asked")
    );

    // Memory, with what other jobs of the namespace already hold.
    let memory = Quota {
        memory: Some(4096),
        ..Default::default()
    };
    let used = QuotaUse {
        cpu: 0,
        memory: 3968,
        allocations: 9,
    };
    let plan = run_in_quota(
        &j,
        &allocs("web", 1),
        &[],
        &nodes(3),
        HashMap::new(),
        memory,
        used,
    );
    assert!(plan.bindings.is_empty());
    assert_eq!(
        plan.failures["web"].quota_exhausted.as_deref(),
        Some("quota web exhausted: memory 3968/4096 MB used, 256 MB asked")
    );
}

#[test]
fn whole_cores_count_at_their_nodes_mhz() {
    // One core of a 4000 MHz, 4-core node is 1000 MHz: the quota's 500
    // MHz cannot take it, though the task asks no `cpu`.
    let mut g = group(0, 64);
    g.tasks[0].resources.cores = Some(1);
    let j = job(vec![g]);
    let cpu = Quota {
        cpu: Some(500),
        ..Default::default()
    };
    let plan = run_in_quota(
        &j,
        &allocs("web", 1),
        &[],
        &nodes(1),
        HashMap::new(),
        cpu,
        QuotaUse::default(),
    );
    assert!(plan.bindings.is_empty());
    assert_eq!(
        plan.failures["web"].quota_exhausted.as_deref(),
        Some("quota web exhausted: cpu 0/500 MHz used, 1000 MHz asked")
    );
}

#[test]
fn a_replacement_takes_its_predecessors_share_and_a_canary_does_not() {
    let g = group(100, 256);
    let ns = nodes(3);
    let j = job(vec![g.clone()]);
    let (mut old, base) = full_cluster(&g, &ns, 1);
    // The namespace is at its quota: three allocations of 256 MB.
    let full = QuotaUse {
        cpu: 300,
        memory: 768,
        allocations: 3,
    };
    let limit = Quota {
        memory: Some(768),
        allocations: Some(3),
        ..Default::default()
    };
    old[0].status.client_status = ClientStatus::Complete;
    let new = replacement(&old[0]);
    let plan = run_in_quota(
        &j,
        std::slice::from_ref(&new),
        &old,
        &ns,
        base.clone(),
        limit,
        full,
    );
    assert!(plan.failures.is_empty(), "{:?}", plan.failures);
    assert_eq!(plan.bindings.len(), 1);

    // A canary has no predecessor: it needs quota of its own.
    let canary = alloc("web", 9);
    let plan = run_in_quota(&j, &[canary], &old, &ns, base.clone(), limit, full);
    assert!(plan.bindings.is_empty());
    assert!(plan.failures["web"].quota_exhausted.is_some());

    // A replacement asking more than its predecessor held is charged the
    // difference, which the quota does not have.
    let bigger = job(vec![group(100, 512)]);
    let plan = run_in_quota(
        &bigger,
        std::slice::from_ref(&new),
        &old,
        &ns,
        base,
        limit,
        full,
    );
    assert!(plan.bindings.is_empty());
    assert_eq!(
        plan.failures["web"].quota_exhausted.as_deref(),
        Some("quota web exhausted: memory 768/768 MB used, 256 MB asked")
    );
}

proptest! {
    /// Whatever the asks, counts and limits, what a pass binds never takes
    /// the namespace past any limit it was under.
    #[test]
    fn a_pass_never_takes_a_namespace_past_its_quota(
        cpu in 0i64..2000,
        memory in 1i64..2048,
        count in 1u32..12,
        limit_cpu in proptest::option::of(0i64..8000),
        limit_memory in proptest::option::of(0i64..8192),
        limit_allocs in proptest::option::of(0i64..10),
        used_allocs in 0i64..4,
    ) {
        let j = job(vec![group(cpu, memory)]);
        let limit = Quota { cpu: limit_cpu, memory: limit_memory, allocations: limit_allocs };
        let used = QuotaUse { cpu: 0, memory: 0, allocations: used_allocs };
        let plan = run_in_quota(&j, &allocs("web", count), &[], &nodes(4), HashMap::new(), limit, used);
        let mut total = used;
        for (_, binding) in &plan.bindings {
            total.add(quota_share(binding));
        }
        for (limit, total, start) in [
            (limit.cpu, total.cpu, used.cpu),
            (limit.memory, total.memory, used.memory),
            (limit.allocations, total.allocations, used.allocations),
        ] {
            if let Some(limit) = limit {
                // Already past it: nothing more was bound.
                prop_assert!(total <= limit.max(start), "{total} > {limit}");
            }
        }
        let queued: u64 = plan.failures.values().map(|f| f.queued).sum();
        prop_assert_eq!(plan.bindings.len() as u64 + queued, u64::from(count));
    }
}
