//! The service registration controller against a real etcd, with a fake
//! agent (a node and a heartbeat key on a lease): registration, no rewrite
//! when nothing changed, orphans and changes made while no leader ran
//! cleaned up by the next leader's first pass, and deregistration when the
//! heartbeat goes. Run with
//! `scripts/test-etcd.sh cargo test -p drover-controllers --test it services::`.

// Shared with the lifecycle tests; not every re-export is used here.
#[allow(unused_imports)]
use crate::common::lifecycle_fixtures as fixtures;
use crate::common::term;

use std::time::Duration;

use drover_api_types::alloc::ClientStatus;
use drover_api_types::group::Service;
use drover_api_types::service::ServiceRegistration;
use drover_api_types::{mock, Job, Node};
use drover_controllers::services;
use drover_store::Store;
use fixtures::*;
use term::Term;

fn job() -> Job {
    let mut group = mock::group("app", 1);
    group.services = vec![Service {
        name: "web".into(),
        port: "8080".into(),
        tags: vec!["node-${node.unique.name}".into()],
        provider: "nomad".into(),
        ..Default::default()
    }];
    mock::job_of("shop", drover_api_types::JobType::Service, vec![group])
}

async fn registrations(store: &Store) -> Vec<ServiceRegistration> {
    let prefix = store.keys().collection("services");
    store.list_at(&prefix).await.expect("list services").items
}

async fn wait_registrations(
    store: &Store,
    what: &str,
    ok: impl Fn(&[ServiceRegistration]) -> bool,
) -> Vec<ServiceRegistration> {
    eventually(10, what, || async {
        let regs = registrations(store).await;
        ok(&regs).then_some(regs)
    })
    .await
}

fn of_alloc(regs: &[ServiceRegistration], alloc: &str) -> usize {
    regs.iter().filter(|r| r.spec.alloc_id == alloc).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registrations_follow_allocations_across_leaders_and_heartbeats() {
    let (_etcd, store) = store().await;
    let keys = store.keys().clone();
    let mut agent = Agent::register(&store, "n1", Duration::from_secs(2)).await;
    let mut node: Node = store
        .get_at(&keys.node("n1"))
        .await
        .expect("read")
        .expect("node");
    node.spec.address = "10.1.1.1".into();
    node.spec.datacenter = "dc1".into();
    store
        .put_at(&keys.node("n1"), &node)
        .await
        .expect("node address");
    let job = job();
    store
        .put_at(&keys.job("default", "shop"), &job)
        .await
        .expect("job");
    put_alloc(&store, "a1", "shop", "n1", ClientStatus::Running).await;
    // Left behind by an earlier leader: its allocation no longer exists.
    let mut orphan = ServiceRegistration::default();
    orphan.metadata.namespace = "default".into();
    orphan.metadata.name = "_drover-gone-group-web-8080".into();
    orphan.spec.alloc_id = "gone".into();
    orphan.spec.service_name = "web".into();
    store
        .put_at(&keys.service("default", &orphan.metadata.name), &orphan)
        .await
        .expect("orphan");

    let term = Term::start(&store, &[services::controller::NAME]);
    let regs = wait_registrations(&store, "a1 registered, the orphan gone", |r| {
        r.len() == 1 && of_alloc(r, "a1") == 1
    })
    .await;
    let web = &regs[0];
    assert_eq!(web.metadata.name, "_drover-a1-group-web-8080");
    assert_eq!(
        (web.spec.address.as_str(), web.spec.port),
        ("10.1.1.1", 8080)
    );
    assert_eq!(web.spec.tags, ["node-n1"]);
    assert_eq!(web.spec.datacenter, "dc1");

    // Nothing changes: nothing is written (a resync or an unrelated event
    // must not rewrite it).
    let revision = web.metadata.resource_version;
    put_alloc(&store, "other", "elsewhere", "n1", ClientStatus::Pending).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let again = registrations(&store).await;
    assert_eq!(again.len(), 1);
    assert_eq!(
        again[0].metadata.resource_version, revision,
        "rewritten without a change"
    );

    // No leader while the allocation completes: the next leader's first pass
    // deregisters it.
    term.end().await;
    set_alloc_status(&store, "a1", ClientStatus::Complete).await;
    let term = Term::start(&store, &[services::controller::NAME]);
    wait_registrations(&store, "a1 deregistered by the new leader", |r| {
        r.is_empty()
    })
    .await;

    // A new running allocation registers; its node's heartbeat expiring
    // deregisters it at once (no lifecycle controller runs here to mark the
    // node down: the heartbeat alone is enough).
    put_alloc(&store, "a2", "shop", "n1", ClientStatus::Running).await;
    wait_registrations(&store, "a2 registered", |r| of_alloc(r, "a2") == 1).await;
    agent.kill();
    wait_registrations(&store, "a2 deregistered with the heartbeat", |r| {
        r.is_empty()
    })
    .await;
    // And registered again when the node comes back.
    agent.revive().await;
    wait_registrations(&store, "a2 registered again", |r| of_alloc(r, "a2") == 1).await;
    term.end().await;
}
