//! The deployments controller alone against a real etcd: a deployment
//! whose job is gone or superseded is cancelled, one whose allocations are
//! all healthy succeeds and marks its version stable. Every status write
//! is guarded by the job as read, so these also show the guard holds for
//! the job the controller really saw.

use std::collections::BTreeMap;

use drover_api_types::alloc::{Allocation, AllocationStatus, ClientStatus, DeploymentHealth};
use drover_api_types::deployment::{
    DeploymentGroupSpec, DeploymentSpec, DeploymentState, VersionStability,
};
use drover_api_types::{Deployment, Job, ObjectMeta};
use drover_controllers::deployments;
use drover_store::{Store, Stored, Versioned};
use drover_test_support::wait::eventually;
use drover_test_support::TestEtcd;
use term::Term;

use crate::common::term;

struct Harness {
    _etcd: TestEtcd,
    store: Store,
    _term: Term,
}

async fn start() -> Harness {
    let (etcd, store) = term::store().await;
    let term = Term::start(&store, &[deployments::controller::NAME]);
    Harness {
        _etcd: etcd,
        store,
        _term: term,
    }
}

fn job(name: &str, version: u64) -> Job {
    let mut job = Job::named(name);
    job.metadata.namespace = "default".into();
    job.metadata.version = version;
    job
}

fn deployment(id: &str, job: &str, version: u64, total: u64) -> Deployment {
    let mut groups = BTreeMap::new();
    groups.insert(
        "front".to_string(),
        DeploymentGroupSpec {
            desired_total: total,
            max_parallel: 1,
            health_check: "task_states".into(),
            ..Default::default()
        },
    );
    Deployment {
        metadata: ObjectMeta {
            name: id.into(),
            uid: id.into(),
            namespace: "default".into(),
            ..Default::default()
        },
        spec: DeploymentSpec {
            job_id: job.into(),
            job_version: version,
            groups,
            ..Default::default()
        },
        ..Default::default()
    }
}

impl Harness {
    async fn put<T: Stored>(&self, key: String, value: &T) {
        self.store.put_at(&key, value).await.expect("put");
    }

    async fn state_when(&self, id: &str, want: DeploymentState) -> Deployment {
        let key = self.store.keys().deployment("default", id);
        eventually(
            20,
            &format!("deployment {id} {}", want.as_str()),
            || async {
                self.store
                    .get_at::<Deployment>(&key)
                    .await
                    .ok()
                    .flatten()
                    .filter(|d| d.status.state == want)
            },
        )
        .await
    }

    /// A running allocation the deployment placed, judged healthy.
    async fn healthy_alloc(&self, id: &str, job: &str, deployment: &str) {
        let mut a = Allocation::default();
        a.metadata.uid = id.into();
        a.metadata.name = format!("{job}.front[0]");
        a.metadata.namespace = "default".into();
        a.spec.job_id = job.into();
        a.spec.task_group = "front".into();
        a.spec.deployment_id = Some(deployment.into());
        let keys = self.store.keys();
        self.put(keys.alloc("default", id), &a).await;
        let status = AllocationStatus {
            client_status: ClientStatus::Running,
            deployment_health: Some(DeploymentHealth {
                deployment_id: deployment.into(),
                healthy: true,
                ..Default::default()
            }),
            ..Default::default()
        };
        self.put(
            keys.alloc_status(None, "default", id),
            &Versioned::new(status),
        )
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gone_or_superseded_jobs_cancel_and_healthy_allocations_succeed() {
    let h = start().await;
    let keys = h.store.keys();

    // No job at all: cancelled (the write is guarded by its absence).
    h.put(
        keys.deployment("default", "d-ghost"),
        &deployment("d-ghost", "ghost", 0, 1),
    )
    .await;
    let ghost = h.state_when("d-ghost", DeploymentState::Cancelled).await;
    assert_eq!(ghost.status.description, "Cancelled because job is stopped");

    // A newer version is registered: the old deployment is cancelled.
    h.put(keys.job("default", "old"), &job("old", 1)).await;
    h.put(
        keys.deployment("default", "d-old"),
        &deployment("d-old", "old", 0, 1),
    )
    .await;
    let old = h.state_when("d-old", DeploymentState::Cancelled).await;
    assert_eq!(
        old.status.description,
        "Cancelled due to newer version of job"
    );

    // The job was purged and registered again (another uid) at the same
    // version: the old job's deployment is not the new job's rollout.
    let mut again = job("again", 0);
    again.metadata.uid = "uid-new".into();
    h.put(keys.job("default", "again"), &again).await;
    let mut purged = deployment("d-purged", "again", 0, 1);
    purged.spec.job_uid = "uid-old".into();
    h.put(keys.deployment("default", "d-purged"), &purged).await;
    let purged = h.state_when("d-purged", DeploymentState::Cancelled).await;
    assert_eq!(
        purged.status.description,
        "Cancelled because job was purged"
    );

    // The job is there at this version and its allocation is healthy:
    // successful (guarded by the job's revision as read), version stable.
    h.put(keys.job("default", "web"), &job("web", 0)).await;
    h.healthy_alloc("a-web", "web", "d-web").await;
    h.put(
        keys.deployment("default", "d-web"),
        &deployment("d-web", "web", 0, 1),
    )
    .await;
    h.state_when("d-web", DeploymentState::Successful).await;
    let marks = h
        .store
        .list_raw(&keys.job_stable("default", "web", 0))
        .await
        .expect("read the stability mark");
    let mark: VersionStability =
        serde_json::from_slice(&marks.items[0].value).expect("a stability mark");
    assert_eq!(mark.deployment_id, "d-web");
}
