//! The job controller against a real etcd: allocations follow the job's
//! count, failures are rescheduled, lost allocations replaced, system jobs
//! follow the nodes, stop and purge clean up.

use std::time::Duration;

use drover_api_types::alloc::{Allocation, AllocationStatus, Binding, ClientStatus, DesiredStatus};
use drover_api_types::node::{NodeState, NodeStatus};
use drover_api_types::{mock, Job, JobType, Node};
use drover_controllers::job::controller::{self as job_controller, PURGE_ANNOTATION};
use drover_store::{Guard, Store, Versioned};
use drover_test_support::wait::within;
use drover_test_support::TestEtcd;
use term::Term;

use crate::common::term;

struct Harness {
    _etcd: TestEtcd,
    store: Store,
    term: Term,
}

impl Harness {
    /// A store under a fresh prefix and the job controller alone, running.
    async fn start() -> Self {
        let (etcd, store) = term::store().await;
        let term = Term::start(&store, &[job_controller::NAME]);
        Harness {
            _etcd: etcd,
            store,
            term,
        }
    }

    async fn shut_down(self) {
        within(10, "controllers to stop", self.term.end()).await;
    }

    async fn put_job(&self, job: &Job) {
        let key = self
            .store
            .keys()
            .job(&job.metadata.namespace, &job.metadata.name);
        self.store.put_at(&key, job).await.expect("put job");
    }

    async fn allocs(&self) -> Vec<Allocation> {
        let prefix = self.store.keys().collection("allocations");
        let mut allocs: Vec<Allocation> = self.store.list_at(&prefix).await.expect("list").items;
        allocs
            .sort_by(|a, b| (a.spec.index, &a.metadata.uid).cmp(&(b.spec.index, &b.metadata.uid)));
        allocs
    }

    /// Polls the allocations until `ok` holds; returns them.
    async fn wait_allocs(&self, what: &str, ok: impl Fn(&[Allocation]) -> bool) -> Vec<Allocation> {
        within(10, what, async {
            loop {
                let allocs = self.allocs().await;
                if ok(&allocs) {
                    return allocs;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await
    }

    async fn set_status(&self, alloc: &Allocation, status: ClientStatus) {
        let key = self
            .store
            .alloc_status_key(&alloc.metadata.namespace, &alloc.metadata.uid)
            .await
            .expect("binding");
        let value = Versioned::new(AllocationStatus {
            client_status: status,
            ..Default::default()
        });
        self.store.put_at(&key, &value).await.expect("put status");
    }

    /// Binds `alloc` to `node` the way placement does (binding and the
    /// node's copy).
    async fn bind(&self, alloc: &Allocation, node: &str) {
        let keys = self.store.keys().clone();
        let (ns, id) = (&alloc.metadata.namespace, &alloc.metadata.uid);
        let binding = Binding {
            node_id: node.into(),
            node_name: node.into(),
            ..Default::default()
        };
        self.store
            .put_at(
                &keys.alloc_binding(ns, id),
                &Versioned::new(binding.clone()),
            )
            .await
            .expect("binding");
        let mut on_node = alloc.clone();
        on_node.binding = Some(binding);
        on_node.metadata.resource_version = 0;
        self.store
            .put_at(&keys.node_alloc(node, ns, id), &on_node)
            .await
            .expect("node copy");
    }

    async fn status_of(&self, alloc: &Allocation) -> Option<AllocationStatus> {
        let found = self
            .store
            .alloc_status_of(&alloc.metadata.namespace, &alloc.metadata.uid)
            .await
            .expect("get status");
        found.map(|v| v.value)
    }

    async fn put_node(&self, id: &str) {
        let keys = self.store.keys();
        self.store
            .put_at(&keys.node(id), &node(id))
            .await
            .expect("put node");
        let status = Versioned::new(NodeStatus {
            state: NodeState::Ready,
            ..Default::default()
        });
        self.store
            .put_at(&keys.node_status(id), &status)
            .await
            .expect("put node status");
    }
}

fn job(name: &str, job_type: JobType, count: i64) -> Job {
    mock::job_of(name, job_type, vec![mock::group("app", count)])
}

fn node(id: &str) -> Node {
    mock::node(id)
}

fn live(allocs: &[Allocation]) -> Vec<&Allocation> {
    allocs
        .iter()
        .filter(|a| a.spec.desired_status == DesiredStatus::Run)
        .collect()
}

#[tokio::test]
async fn a_service_job_is_placed_scaled_down_and_rescheduled() {
    let h = Harness::start().await;
    let mut web = job("web", JobType::Service, 3);
    h.put_job(&web).await;
    let allocs = h.wait_allocs("3 allocations", |a| a.len() == 3).await;
    let names: Vec<&str> = allocs.iter().map(|a| a.metadata.name.as_str()).collect();
    assert_eq!(names, vec!["web.app[0]", "web.app[1]", "web.app[2]"]);

    // Scale down: the highest indexes stop first, nothing else changes.
    web.spec.groups[0].count = 1;
    h.put_job(&web).await;
    let allocs = h.wait_allocs("2 stopped", |a| live(a).len() == 1).await;
    assert_eq!(allocs.len(), 3, "scaling down creates nothing");
    let kept = live(&allocs)[0].clone();
    assert_eq!(kept.spec.index, 0);
    for a in allocs.iter().filter(|a| a.spec.index > 0) {
        assert_eq!(a.spec.desired_status, DesiredStatus::Stop);
        assert_eq!(
            a.spec.desired_description,
            "alloc not needed due to job count"
        );
    }

    // A failure is rescheduled at the same index, linked, with a delay.
    h.set_status(&kept, ClientStatus::Failed).await;
    let allocs = h
        .wait_allocs("a replacement", |a| {
            a.iter()
                .any(|x| x.spec.previous_allocation.as_deref() == Some(&kept.metadata.uid))
        })
        .await;
    let replacement = allocs
        .iter()
        .find(|a| a.spec.previous_allocation.as_deref() == Some(&kept.metadata.uid))
        .expect("replacement");
    assert_eq!(replacement.spec.index, 0);
    assert_eq!(replacement.spec.reschedule_events.len(), 1);
    assert!(replacement.spec.not_before.is_some());
    assert_eq!(allocs.len(), 4, "exactly one replacement");
    h.shut_down().await;
}

#[tokio::test]
async fn a_lost_allocation_is_replaced_and_its_node_copy_told_to_stop() {
    let h = Harness::start().await;
    h.put_job(&job("api", JobType::Service, 1)).await;
    let allocs = h.wait_allocs("1 allocation", |a| a.len() == 1).await;
    let first = allocs[0].clone();
    // Bind it the way placement does, then lose it.
    let keys = h.store.keys().clone();
    let (ns, id) = (&first.metadata.namespace, &first.metadata.uid);
    h.bind(&first, "n1").await;
    h.set_status(&first, ClientStatus::Lost).await;

    let allocs = h.wait_allocs("the replacement", |a| a.len() == 2).await;
    let old = allocs.iter().find(|a| &a.metadata.uid == id).expect("old");
    assert_eq!(old.spec.desired_status, DesiredStatus::Stop);
    let new = allocs.iter().find(|a| &a.metadata.uid != id).expect("new");
    assert_eq!(new.spec.previous_allocation.as_deref(), Some(id.as_str()));
    assert_eq!(new.spec.index, 0);
    let copy: Allocation = h
        .store
        .get_at(&keys.node_alloc("n1", ns, id))
        .await
        .expect("get")
        .expect("node copy present");
    assert_eq!(
        copy.spec.desired_status,
        DesiredStatus::Stop,
        "the agent is told"
    );
    h.shut_down().await;
}

#[tokio::test]
async fn a_system_job_follows_nodes_as_they_join_and_leave() {
    let h = Harness::start().await;
    h.put_node("n1").await;
    h.put_node("n2").await;
    h.put_job(&job("logs", JobType::System, 1)).await;
    let target = |a: &Allocation| a.spec.target_node.clone().unwrap_or_default();
    let allocs = h.wait_allocs("one per node", |a| a.len() == 2).await;
    let mut nodes: Vec<String> = allocs.iter().map(target).collect();
    nodes.sort();
    assert_eq!(nodes, vec!["n1", "n2"]);

    h.put_node("n3").await;
    let allocs = h.wait_allocs("the new node's", |a| a.len() == 3).await;
    assert!(allocs.iter().any(|a| target(a) == "n3"));

    // n2 leaves the cluster: its allocation stops and is not replaced.
    h.store
        .delete_raw(&h.store.keys().node("n2"), Guard::None)
        .await
        .expect("delete node");
    let allocs = h
        .wait_allocs("n2's allocation stopped", |a| live(a).len() == 2)
        .await;
    assert_eq!(allocs.len(), 3);
    let stopped = allocs
        .iter()
        .find(|a| a.spec.desired_status == DesiredStatus::Stop)
        .expect("one stopped");
    assert_eq!(target(stopped), "n2");
    h.shut_down().await;
}

#[tokio::test]
async fn stop_then_purge_removes_the_job_once_allocations_are_terminal() {
    let h = Harness::start().await;
    let mut batch = job("batch", JobType::Batch, 2);
    h.put_job(&batch).await;
    let allocs = h.wait_allocs("2 allocations", |a| a.len() == 2).await;
    // Placed: only their agent ends them.
    for a in &allocs {
        h.bind(a, "n1").await;
    }

    batch.spec.stop = true;
    batch
        .metadata
        .annotations
        .insert(PURGE_ANNOTATION.into(), "true".into());
    h.put_job(&batch).await;
    h.wait_allocs("both stopped", |a| live(a).is_empty()).await;
    let job_key = h.store.keys().job("default", "batch");
    // Not terminal yet: the job stays.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(h.store.get_raw(&job_key).await.expect("get").is_some());

    for a in &allocs {
        h.set_status(a, ClientStatus::Complete).await;
    }
    h.wait_allocs("allocations collected", |a| a.is_empty())
        .await;
    within(10, "job purged", async {
        while h.store.get_raw(&job_key).await.expect("get").is_some() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    h.shut_down().await;
}

#[tokio::test]
async fn a_deleted_job_has_its_allocations_stopped_then_collected() {
    let h = Harness::start().await;
    h.put_job(&job("gone", JobType::Service, 2)).await;
    let allocs = h.wait_allocs("2 allocations", |a| a.len() == 2).await;
    for a in &allocs {
        h.set_status(a, ClientStatus::Running).await;
    }
    let job_key = h.store.keys().job("default", "gone");
    h.store
        .delete_raw(&job_key, Guard::None)
        .await
        .expect("delete the job");
    // Stopped while the job stays absent (each stop is guarded by it).
    let stopped = h.wait_allocs("both stopped", |a| live(a).is_empty()).await;
    assert!(stopped
        .iter()
        .all(|a| a.spec.desired_description == "job stopped"));
    for a in &stopped {
        h.set_status(a, ClientStatus::Complete).await;
    }
    h.wait_allocs("allocations collected", |a| a.is_empty())
        .await;
    h.shut_down().await;
}

/// An allocation stopped before it was ever placed (a job fixed after
/// failed placements, scaled down while queued, or stopped) has no agent
/// to end it: it is complete at once, so the summary stops counting it as
/// queued and a purge does not wait for it forever.
#[tokio::test]
async fn allocations_stopped_before_placement_end_at_once_and_a_purge_completes() {
    let h = Harness::start().await;
    let mut queued = job("queued", JobType::Service, 3);
    h.put_job(&queued).await;
    let allocs = h.wait_allocs("3 allocations", |a| a.len() == 3).await;
    h.bind(&allocs[0], "n1").await;
    h.set_status(&allocs[0], ClientStatus::Running).await;

    queued.spec.groups[0].count = 1;
    h.put_job(&queued).await;
    let allocs = h.wait_allocs("2 stopped", |a| live(a).len() == 1).await;
    for a in allocs.iter().filter(|a| a.spec.index > 0) {
        let status = within(10, "the unplaced stop ended", async {
            loop {
                match h.status_of(a).await {
                    Some(s) if s.client_status.is_terminal() => return s,
                    _ => tokio::time::sleep(Duration::from_millis(50)).await,
                }
            }
        })
        .await;
        assert_eq!(status.client_status, ClientStatus::Complete);
        assert_eq!(
            status.client_description,
            job_controller::UNPLACED_STOP_DESCRIPTION
        );
    }
    let summary_key = h.store.keys().job_status("default", "queued");
    within(10, "the summary: 1 running, nothing queued", async {
        loop {
            let status: Option<Versioned<drover_api_types::job::JobStatus>> =
                h.store.get_at(&summary_key).await.expect("get");
            let group = status.and_then(|s| s.value.summary.get("app").cloned());
            if group.is_some_and(|g| g.running == 1 && g.queued == 0 && g.complete == 2) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    // The placed one is not ended by its stop: its agent does that.
    queued.spec.stop = true;
    queued
        .metadata
        .annotations
        .insert(PURGE_ANNOTATION.into(), "true".into());
    h.put_job(&queued).await;
    h.wait_allocs("all stopped", |a| live(a).is_empty()).await;
    assert_eq!(
        h.status_of(&allocs[0]).await.map(|s| s.client_status),
        Some(ClientStatus::Running)
    );
    h.set_status(&allocs[0], ClientStatus::Complete).await;
    let job_key = h.store.keys().job("default", "queued");
    within(10, "job purged", async {
        while h.store.get_raw(&job_key).await.expect("get").is_some() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;

    // A stopped allocation left pending by an older drover is ended by the
    // next pass of its job.
    let stuck = job("stuck", JobType::Service, 1);
    h.put_job(&stuck).await;
    let mut left = h
        .wait_allocs("1 allocation", |a| a.len() == 1)
        .await
        .remove(0);
    left.spec.desired_status = DesiredStatus::Stop;
    let key = h.store.keys().alloc("default", &left.metadata.uid);
    let mut written = left.clone();
    written.metadata.resource_version = 0;
    // Written while no controller runs, as an older drover left it.
    let Harness { _etcd, store, term } = h;
    within(10, "controllers to stop", term.end()).await;
    store.put_at(&key, &written).await.expect("stop by hand");
    let term = Term::start(&store, &[job_controller::NAME]);
    let h = Harness { _etcd, store, term };
    within(10, "the stuck stop ended", async {
        loop {
            if h.status_of(&left)
                .await
                .is_some_and(|s| s.client_status.is_terminal())
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    h.shut_down().await;
}

/// A job over the server's limits (written around the API, or stored before
/// the limits were lowered) is not planned: its status says why, it gets
/// no allocation, and the other jobs go on being placed.
#[tokio::test]
async fn a_job_over_the_limits_is_not_planned_and_the_others_go_on() {
    let h = Harness::start().await;
    let poison = job("poison", JobType::Service, 1_000_000_000);
    h.put_job(&poison).await;
    h.put_job(&job("fine", JobType::Service, 2)).await;
    let allocs = h
        .wait_allocs("the other job's 2 allocations", |a| a.len() == 2)
        .await;
    assert!(allocs.iter().all(|a| a.spec.job_id == "fine"));
    let key = h.store.keys().job_status("default", "poison");
    let status = within(10, "the poison job's status", async {
        loop {
            let found: Option<Versioned<drover_api_types::job::JobStatus>> =
                h.store.get_at(&key).await.expect("get");
            if let Some(found) = found {
                return found.value;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(
        status
            .status_description
            .contains("over the limit of 10000 per group"),
        "{status:?}"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        h.allocs().await.len(),
        2,
        "nothing placed for the poison job"
    );
    h.shut_down().await;
}
