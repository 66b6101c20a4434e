//! Property: whatever the snapshot, nothing live is collected — no
//! non-terminal allocation, no index-holding allocation of a live job, no
//! job with work left, no version still needed, no live job's newest
//! deployment — and every deletion of a live job's history is guarded.

use std::collections::BTreeSet;

use drover_api_types::alloc::{Allocation, ClientStatus, DesiredStatus};
use drover_api_types::deployment::{Deployment, DeploymentState};
use drover_api_types::JobType;
use proptest::prelude::*;

use super::tests::{ago, alloc, job, t0, thresholds};
use super::*;

fn client_status() -> impl Strategy<Value = ClientStatus> {
    prop_oneof![
        Just(ClientStatus::Pending),
        Just(ClientStatus::Running),
        Just(ClientStatus::Complete),
        Just(ClientStatus::Failed),
        Just(ClientStatus::Lost),
    ]
}

fn state() -> impl Strategy<Value = DeploymentState> {
    prop_oneof![
        Just(DeploymentState::Running),
        Just(DeploymentState::Successful),
        Just(DeploymentState::Failed),
        Just(DeploymentState::Cancelled),
    ]
}

const JOBS: [&str; 3] = ["a", "b", "c"];

prop_compose! {
    fn an_alloc(n: usize)(
        job in 0..4usize, status in client_status(), stop in any::<bool>(),
        minutes in 0i64..600, version in 0u64..8, prev in proptest::option::of(0..20usize),
    ) -> Allocation {
        let name = JOBS.get(job).copied().unwrap_or("gone");
        let mut a = alloc(&format!("x{n}-{minutes}-{version}"), name, status, minutes);
        a.spec.job_version = version;
        if stop {
            a.spec.desired_status = DesiredStatus::Stop;
        }
        a.spec.previous_allocation = prev.map(|p| format!("p{p}"));
        a
    }
}

prop_compose! {
    fn snapshot()(
        types in prop::collection::vec((any::<bool>(), any::<bool>(), 0u64..8), 3),
        allocs in prop::collection::vec(an_alloc(0), 0..20),
        versions in prop::collection::btree_set(0u64..10, 0..10),
        stable in prop::collection::btree_set(0u64..10, 0..3),
        deployments in prop::collection::vec((0..3usize, 0u64..8, state(), 0i64..300), 0..6),
        finished_minutes in 0i64..600,
    ) -> Snapshot {
        let jobs: Vec<_> = JOBS.iter().zip(&types).map(|(name, (batch, stop, version))| {
            let t = if *batch { JobType::Batch } else { JobType::Service };
            let mut j = job(name, t, *version);
            j.spec.stop = *stop;
            j
        }).collect();
        let deployments: Vec<Deployment> = deployments.into_iter().enumerate().map(|(i, (j, v, s, m))| {
            let mut d = Deployment::default();
            d.metadata.name = format!("d{i}");
            d.metadata.uid = d.metadata.name.clone();
            d.metadata.namespace = "default".into();
            d.spec.job_id = JOBS[j].into();
            d.spec.job_version = v;
            d.spec.created_at = Some(ago(m + i as i64));
            d.status.state = s;
            d.status.updated_at = Some(ago(m));
            d
        }).collect();
        // Unique ids; a previous allocation may name one of them.
        let allocs: Vec<Allocation> = allocs.into_iter().enumerate().map(|(i, mut a)| {
            a.metadata.uid = format!("x{i}");
            a.spec.previous_allocation = a.spec.previous_allocation.map(|p| p.replace('p', "x"));
            a
        }).collect();
        let keys = JOBS.iter().map(|j| ObjectKey::new("default", *j));
        Snapshot {
            versions: keys.clone().map(|k| (k, versions.clone())).collect(),
            stable: keys.clone().map(|k| (k, stable.clone())).collect(),
            finished_since: keys.map(|k| (k, ago(finished_minutes))).collect(),
            jobs,
            allocs,
            deployments,
            ..Default::default()
        }
    }
}

proptest! {
    #[test]
    fn nothing_live_is_collected(snap in snapshot(), zero in any::<bool>()) {
        let mut t = thresholds();
        if zero {
            t.alloc = std::time::Duration::ZERO;
            t.job = std::time::Duration::ZERO;
            t.deployment = std::time::Duration::ZERO;
        }
        let plan = collect(&snap, t0(), &t);
        let collected_jobs: BTreeSet<&ObjectKey> = plan.jobs.iter().map(|j| &j.key).collect();
        let replaced: BTreeSet<&str> = snap.allocs.iter()
            .filter_map(|a| a.spec.previous_allocation.as_deref()).collect();
        for gc in &plan.allocs {
            let a = snap.allocs.iter().find(|a| a.metadata.uid == gc.key.name).expect("planned from the snapshot");
            prop_assert!(a.status.client_status.is_terminal(), "non-terminal {a:?}");
            let job = snap.jobs.iter().find(|j| j.metadata.name == a.spec.job_id);
            let live = job.is_some_and(|j| !j.spec.stop) && !collected_jobs.contains(&gc.job);
            if live {
                prop_assert!(
                    a.spec.desired_status != DesiredStatus::Run || replaced.contains(a.metadata.uid.as_str()),
                    "an index-holding allocation of a live job: {a:?}"
                );
            } else {
                prop_assert_ne!(gc.job_guard, JobGuard::None);
            }
        }
        for j in &plan.jobs {
            let job = snap.jobs.iter().find(|x| x.metadata.name == j.key.name).expect("a job");
            prop_assert!(job.spec.stop || job.spec.job_type == JobType::Batch);
            prop_assert!(snap.allocs.iter().filter(|a| a.spec.job_id == j.key.name)
                .all(|a| a.status.client_status.is_terminal()));
        }
        for v in &plan.versions {
            let job = snap.jobs.iter().find(|x| x.metadata.name == v.job.name).expect("a job");
            let doomed: BTreeSet<u64> = v.versions.iter().chain(&v.stable).copied().collect();
            prop_assert!(!doomed.contains(&job.metadata.version), "the current version");
            let stable = &snap.stable[&v.job];
            prop_assert!(stable.iter().next_back().is_none_or(|s| !doomed.contains(s)), "the newest stable");
            for a in snap.allocs.iter().filter(|a| a.spec.job_id == v.job.name) {
                prop_assert!(a.status.client_status.is_terminal() || !doomed.contains(&a.spec.job_version));
            }
            let newest: Vec<u64> = snap.versions[&v.job].iter().rev().take(t.versions_kept).copied().collect();
            prop_assert!(newest.iter().all(|n| !doomed.contains(n)));
        }
        for name in JOBS {
            let key = ObjectKey::new("default", name);
            if collected_jobs.contains(&key) {
                continue;
            }
            let newest = snap.deployments.iter().filter(|d| d.spec.job_id == name)
                .max_by_key(|d| (d.spec.job_version, d.spec.created_at, d.metadata.name.clone()));
            if let Some(newest) = newest {
                prop_assert!(plan.deployments.iter().all(|d| d.key.name != newest.metadata.name));
            }
            for d in &plan.deployments {
                let dep = snap.deployments.iter().find(|x| x.metadata.name == d.key.name).expect("a deployment");
                if dep.spec.job_id == name {
                    prop_assert!(dep.status.state.is_terminal());
                }
            }
        }
    }
}
