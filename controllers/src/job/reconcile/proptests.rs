//! Property tests: after applying any plan for a service job with unlimited
//! reschedules, the group runs exactly `count` allocations with distinct
//! indexes, and a second reconcile has nothing left to place, stop or replace.

use std::collections::BTreeSet;

use drover_api_types::alloc::{Allocation, ClientStatus, DesiredStatus};
use drover_api_types::job::ReschedulePolicy;
use drover_api_types::{Duration, Job, JobType};
use proptest::prelude::*;

use super::tests::{alloc, job, t0};
use super::*;

fn client_status() -> impl Strategy<Value = ClientStatus> {
    prop_oneof![
        Just(ClientStatus::Pending),
        Just(ClientStatus::Running),
        Just(ClientStatus::Complete),
        Just(ClientStatus::Failed),
        Just(ClientStatus::Lost),
        Just(ClientStatus::Unknown),
    ]
}

fn allocs() -> impl Strategy<Value = Vec<Allocation>> {
    prop::collection::vec(
        (
            client_status(),
            0u32..12,
            0u64..4,
            prop::bool::weighted(0.2),
        ),
        0..16,
    )
    .prop_map(|specs| {
        specs
            .into_iter()
            .enumerate()
            .map(|(i, (status, index, version, stop))| {
                let mut a = alloc(&format!("a{i}"), index, version, status);
                if stop {
                    a.spec.desired_status = DesiredStatus::Stop;
                }
                a
            })
            .collect()
    })
}

fn service(count: i64, max_parallel: i64) -> Job {
    let mut j = job(JobType::Service, count, 3);
    let group = &mut j.spec.groups[0];
    group.reschedule = Some(ReschedulePolicy {
        attempts: Some(0),
        interval: Some(Duration::ZERO),
        delay: Some(Duration::ZERO),
        delay_function: Some("constant".into()),
        max_delay: Some(Duration::ZERO),
        unlimited: Some(true),
    });
    if let Some(u) = group.update.as_mut() {
        u.max_parallel = Some(max_parallel);
    }
    j
}

fn set_stop(allocs: &mut [Allocation], id: &str) {
    for a in allocs.iter_mut().filter(|a| a.metadata.uid == id) {
        a.spec.desired_status = DesiredStatus::Stop;
    }
}

/// Applies a plan the way the shell commits it: placements become running
/// allocations of the current version; stopped, lost and updated allocations
/// get desired stop.
fn apply(job: &Job, mut allocs: Vec<Allocation>, plan: &GroupPlan) -> Vec<Allocation> {
    for (id, _) in &plan.stop {
        set_stop(&mut allocs, id);
    }
    for p in plan.lost.iter().chain(&plan.destructive_update) {
        if let Some(prev) = &p.previous_allocation {
            set_stop(&mut allocs, prev);
        }
    }
    let new = plan
        .place
        .iter()
        .chain(&plan.reschedule)
        .chain(&plan.lost)
        .chain(&plan.disconnected)
        .chain(&plan.destructive_update);
    for (n, p) in new.enumerate() {
        let mut a = alloc(
            &format!("new{n}"),
            p.index,
            job.metadata.version,
            ClientStatus::Running,
        );
        a.spec.previous_allocation = p.previous_allocation.clone();
        allocs.push(a);
    }
    allocs
}

proptest! {
    #[test]
    fn applied_plan_runs_count_with_unique_indexes(
        observed in allocs(),
        count in 0i64..10,
        max_parallel in 1i64..4,
    ) {
        let job = service(count, max_parallel);
        let group = &job.spec.groups[0];
        let plan = reconcile_group(&job, group, &observed, t0());
        let after = apply(&job, observed, &plan);
        // An unknown original replaced while its node is away is not
        // counted: its replacement holds the index.
        let running: Vec<&Allocation> = after
            .iter()
            .filter(|a| a.spec.desired_status == DesiredStatus::Run)
            .filter(|a| !a.status.client_status.is_terminal())
            .filter(|a| a.status.client_status != ClientStatus::Unknown)
            .collect();
        prop_assert_eq!(running.len() as i64, count);
        let indexes: BTreeSet<u32> = running.iter().map(|a| a.spec.index).collect();
        prop_assert_eq!(indexes.len(), running.len());

        let again = reconcile_group(&job, group, &after, t0());
        prop_assert!(again.place.is_empty(), "{:?}", again);
        prop_assert!(again.stop.is_empty(), "{:?}", again);
        prop_assert!(again.reschedule.is_empty() && again.lost.is_empty(), "{:?}", again);
        prop_assert!(again.failed.is_empty());
        prop_assert!(plan.destructive_update.len() <= max_parallel as usize);
    }

    #[test]
    fn stopped_job_stops_every_live_alloc(observed in allocs(), count in 0i64..10) {
        let mut job = service(count, 1);
        job.spec.stop = true;
        let plan = reconcile_group(&job, &job.spec.groups[0], &observed, t0());
        let after = apply(&job, observed, &plan);
        prop_assert!(after.iter().all(|a| a.spec.desired_status != DesiredStatus::Run));
        let stops: Vec<u32> = plan
            .stop
            .iter()
            .filter_map(|(id, _)| after.iter().find(|a| &a.metadata.uid == id))
            .map(|a| a.spec.index)
            .collect();
        prop_assert!(stops.windows(2).all(|w| w[0] >= w[1]));
    }
}
