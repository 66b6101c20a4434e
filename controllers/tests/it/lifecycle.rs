//! The node lifecycle controller and the drainer against a real etcd, with
//! fake agents (heartbeat keys on leases). Run with
//! `scripts/test-etcd.sh cargo test -p drover-controllers --test it lifecycle::`.
//!
//! Timing: ttl 2 s, grace 2 s. A killed agent's last renewal is at most
//! ttl/3 old, so its key expires between 2/3·ttl and ttl after the kill, and
//! the node is marked down a grace after that.

use crate::common::lifecycle_fixtures as fixtures;

use std::time::{Duration, Instant};

use drover_api_types::alloc::ClientStatus;
use drover_api_types::job::MigrateStrategy;
use drover_api_types::node::{DrainStrategy, NodeScheduling, NodeState};
use drover_api_types::{mock, Job};
use drover_controllers::node_lifecycle::controller::LOST_DESCRIPTION;
use drover_store::Versioned;
use fixtures::*;

const TTL: Duration = Duration::from_secs(2);
const GRACE: Duration = Duration::from_secs(2);
const SLACK: Duration = Duration::from_secs(2);

async fn state(store: &drover_store::Store, id: &str) -> Option<NodeState> {
    node_status(store, id).await.map(|s| s.state)
}

async fn wait_state(store: &drover_store::Store, id: &str, want: NodeState, secs: u64) {
    eventually(secs, &format!("{id} {want:?}"), || async {
        (state(store, id).await == Some(want)).then_some(())
    })
    .await;
}

/// Polls for `window`, failing if any node of `ids` is down or any
/// allocation of `allocs` is lost at any moment.
async fn assert_nothing_down(
    store: &drover_store::Store,
    ids: &[&str],
    allocs: &[&str],
    window: Duration,
) {
    let until = Instant::now() + window;
    while Instant::now() < until {
        for id in ids {
            assert_ne!(
                state(store, id).await,
                Some(NodeState::Down),
                "{id} marked down"
            );
        }
        for a in allocs {
            let s = alloc_status(store, a).await.expect("status");
            assert_ne!(s.client_status, ClientStatus::Lost, "{a} marked lost");
        }
        tokio::time::sleep(POLL).await;
    }
}

#[tokio::test]
async fn registered_node_becomes_ready() {
    let (_etcd, store) = store().await;
    let ctl = start_lifecycle(&store, config()).await;
    let _agent = Agent::register(&store, "n1", TTL).await;
    wait_state(&store, "n1", NodeState::Ready, 10).await;
    let status = node_status(&store, "n1").await.expect("status");
    assert!(status.last_transition.is_some());
    assert_eq!(
        status.events.last().map(|e| e.message.as_str()),
        Some("Node registered")
    );
    ctl.stop().await;
}

#[tokio::test]
async fn killed_node_is_marked_down_after_ttl_and_grace_and_its_allocs_lost() {
    let (_etcd, store) = store().await;
    let ctl = start_lifecycle(&store, config()).await;
    let mut dead = Agent::register(&store, "dead", TTL).await;
    let _alive = Agent::register(&store, "alive", TTL).await;
    put_alloc(&store, "d-run", "web", "dead", ClientStatus::Running).await;
    put_alloc(&store, "d-pending", "web", "dead", ClientStatus::Pending).await;
    put_alloc(&store, "d-done", "web", "dead", ClientStatus::Complete).await;
    put_alloc(&store, "a-run", "web", "alive", ClientStatus::Running).await;
    wait_state(&store, "dead", NodeState::Ready, 10).await;
    wait_state(&store, "alive", NodeState::Ready, 10).await;

    let killed = Instant::now();
    dead.kill();
    wait_state(&store, "dead", NodeState::Down, 15).await;
    let took = killed.elapsed();
    println!("marked down {took:?} after the kill (ttl {TTL:?}, grace {GRACE:?})");
    assert!(took >= GRACE, "marked down too early: {took:?}");
    assert!(
        took <= TTL + GRACE + SLACK,
        "marked down too late: {took:?}"
    );

    for id in ["d-run", "d-pending"] {
        let lost = eventually(5, "allocation lost", || async {
            alloc_status(&store, id)
                .await
                .filter(|s| s.client_status == ClientStatus::Lost)
        })
        .await;
        assert_eq!(lost.client_description, LOST_DESCRIPTION);
    }
    let done = alloc_status(&store, "d-done").await.expect("status");
    assert_eq!(
        done.client_status,
        ClientStatus::Complete,
        "terminal allocations are left alone"
    );
    let other = alloc_status(&store, "a-run").await.expect("status");
    assert_eq!(other.client_status, ClientStatus::Running);
    assert_eq!(state(&store, "alive").await, Some(NodeState::Ready));
    let status = node_status(&store, "dead").await.expect("status");
    assert_eq!(
        status.events.last().map(|e| e.message.as_str()),
        Some("Node heartbeat missed")
    );
    ctl.stop().await;
}

#[tokio::test]
async fn heartbeat_gap_shorter_than_the_grace_marks_nothing_down() {
    let (_etcd, store) = store().await;
    let ctl = start_lifecycle(&store, config()).await;
    let mut flappy = Agent::register(&store, "flappy", TTL).await;
    let mut paused = Agent::register(&store, "paused", TTL).await;
    put_alloc(&store, "f1", "web", "flappy", ClientStatus::Running).await;
    put_alloc(&store, "p1", "web", "paused", ClientStatus::Running).await;
    wait_state(&store, "flappy", NodeState::Ready, 10).await;
    wait_state(&store, "paused", NodeState::Ready, 10).await;

    // "flappy" loses its lease and comes back within the grace.
    flappy.kill();
    eventually(5, "flappy's heartbeat to expire", || async {
        (!flappy.heartbeat_present().await).then_some(())
    })
    .await;
    let gone = Instant::now();
    // Meanwhile "paused" stops renewing for less than what is left of its
    // TTL (at least 2/3 of it): its key never expires.
    let lease = paused.pause();
    tokio::time::sleep(Duration::from_millis(800)).await;
    paused.resume(lease);
    flappy.revive().await;
    assert!(
        gone.elapsed() < GRACE,
        "the gap must be shorter than the grace"
    );
    assert!(
        paused.heartbeat_present().await,
        "paused lease did not expire"
    );

    assert_nothing_down(
        &store,
        &["flappy", "paused"],
        &["f1", "p1"],
        TTL + GRACE + SLACK,
    )
    .await;
    ctl.stop().await;
}

#[tokio::test]
async fn revived_node_becomes_ready_again() {
    let (_etcd, store) = store().await;
    let ctl = start_lifecycle(&store, config()).await;
    let mut agent = Agent::register(&store, "phoenix", TTL).await;
    wait_state(&store, "phoenix", NodeState::Ready, 10).await;
    agent.kill();
    wait_state(&store, "phoenix", NodeState::Down, 15).await;
    agent.revive().await;
    wait_state(&store, "phoenix", NodeState::Ready, 5).await;
    let status = node_status(&store, "phoenix").await.expect("status");
    assert_eq!(
        status.events.last().map(|e| e.message.as_str()),
        Some("Node heartbeat received")
    );
    ctl.stop().await;
}

#[tokio::test]
async fn new_leader_gives_every_node_a_fresh_grace() {
    let (_etcd, store) = store().await;
    let first = start_lifecycle(&store, config()).await;
    let mut agent = Agent::register(&store, "quiet", TTL).await;
    put_alloc(&store, "q1", "web", "quiet", ClientStatus::Running).await;
    wait_state(&store, "quiet", NodeState::Ready, 10).await;
    first.stop().await;

    // No leader while the node goes silent, long past its ttl + grace.
    agent.kill();
    eventually(5, "heartbeat to expire", || async {
        (!agent.heartbeat_present().await).then_some(())
    })
    .await;
    tokio::time::sleep(TTL + GRACE).await;

    let elected = Instant::now();
    let second = start_lifecycle(&store, config()).await;
    assert_nothing_down(
        &store,
        &["quiet"],
        &["q1"],
        (TTL + GRACE).saturating_sub(Duration::from_millis(300)),
    )
    .await;
    wait_state(&store, "quiet", NodeState::Down, 10).await;
    let took = elected.elapsed();
    println!("new leader marked the silent node down {took:?} after it started");
    assert!(
        took >= TTL + GRACE,
        "a new leader condemned a node too early: {took:?}"
    );
    assert!(took <= TTL + GRACE + SLACK, "{took:?}");
    second.stop().await;
}

/// The whole fleet silent at once is a suspected partition: nothing is
/// marked down. (The core counts only nodes past their deadline, and a
/// running leader sees staggered deadlines — leases expire up to ttl/3
/// apart — so the deterministic case is a new leader facing a fleet that
/// is already silent: every deadline is `leader_since + ttl + grace`.)
#[tokio::test]
async fn suspected_partition_marks_nothing_down() {
    let (_etcd, store) = store().await;
    let mut cfg = config();
    cfg.partition_min_fleet = 3;
    let first = start_lifecycle(&store, cfg.clone()).await;
    let mut agents = Vec::new();
    for id in ["p1", "p2", "p3"] {
        agents.push(Agent::register(&store, id, TTL).await);
        put_alloc(&store, &format!("{id}-a"), "web", id, ClientStatus::Running).await;
    }
    for id in ["p1", "p2", "p3"] {
        wait_state(&store, id, NodeState::Ready, 10).await;
    }
    first.stop().await;
    for a in &mut agents {
        a.kill();
    }
    for a in &agents {
        eventually(5, "heartbeat to expire", || async {
            (!a.heartbeat_present().await).then_some(())
        })
        .await;
    }
    let second = start_lifecycle(&store, cfg).await;
    assert_nothing_down(
        &store,
        &["p1", "p2", "p3"],
        &["p1-a", "p2-a", "p3-a"],
        TTL + GRACE + SLACK,
    )
    .await;
    second.stop().await;
}

fn job(name: &str, max_parallel: i64) -> Job {
    let mut group = mock::group("app", 3);
    group.migrate = Some(MigrateStrategy {
        max_parallel: Some(max_parallel),
        ..Default::default()
    });
    mock::job_of(name, drover_api_types::JobType::Service, vec![group])
}

#[tokio::test]
async fn drain_with_max_parallel_one_migrates_one_at_a_time_and_completes() {
    let (_etcd, store) = store().await;
    store.create(&job("web", 1)).await.expect("job");
    let _agent = Agent::register(&store, "drained", TTL).await;
    let _other = Agent::register(&store, "other", TTL).await;
    let ids = ["m1", "m2", "m3"];
    for id in ids {
        put_alloc(&store, id, "web", "drained", ClientStatus::Running).await;
    }
    put_alloc(&store, "elsewhere", "web", "other", ClientStatus::Running).await;
    let ctl = start_drain(&store).await;
    let admin = Versioned::new(NodeScheduling {
        ineligible: true,
        drain: Some(DrainStrategy {
            deadline: drover_api_types::Duration::from_secs(3600),
            ignore_system_jobs: false,
            started_at: Some(chrono::Utc::now()),
        }),
    });
    store
        .put_at(&store.keys().node_admin("drained"), &admin)
        .await
        .expect("start drain");

    let mut order = Vec::new();
    for _ in ids {
        // Exactly one marked, non-terminal allocation at a time.
        let marked = eventually(10, "the next allocation marked", || async {
            let mut in_flight = Vec::new();
            for id in ids {
                let spec = alloc_spec(&store, id).await;
                let status = alloc_status(&store, id).await.expect("status");
                if spec.spec.migrate && !status.client_status.is_terminal() {
                    in_flight.push(id);
                }
            }
            assert!(
                in_flight.len() <= 1,
                "more than max_parallel migrating: {in_flight:?}"
            );
            in_flight.pop()
        })
        .await;
        // Hold it a moment: nothing else may be marked meanwhile.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let marked_now = {
            let mut n = 0;
            for id in ids {
                let spec = alloc_spec(&store, id).await;
                let status = alloc_status(&store, id).await.expect("status");
                n += usize::from(spec.spec.migrate && !status.client_status.is_terminal());
            }
            n
        };
        assert_eq!(marked_now, 1);
        // The "job controller" stops it and the agent reports it complete.
        set_alloc_status(&store, marked, ClientStatus::Complete).await;
        order.push(marked);
    }
    let mut sorted = order.clone();
    sorted.sort();
    assert_eq!(sorted, ids, "every allocation migrated once");

    let done = eventually(10, "drain complete", || async {
        node_admin(&store, "drained")
            .await
            .filter(|a| a.value.drain.is_none())
    })
    .await;
    assert!(done.value.ineligible, "a drained node stays ineligible");
    let status = node_status(&store, "drained").await.expect("status");
    assert!(status.events.iter().any(|e| e.message == "drain complete"));
    assert!(
        !alloc_spec(&store, "elsewhere").await.spec.migrate,
        "other nodes untouched"
    );
    ctl.stop().await;
}

/// A group with `disconnect.lost_after = 4s` on a node that dies: the node
/// is `disconnected` (not down) and the group's allocation `unknown` while
/// another group's is lost at once; when lost_after runs out the waiting
/// one is lost too and the node down. A node revived within lost_after is
/// ready again, its allocation left for its agent to report.
#[tokio::test]
async fn lost_after_keeps_allocations_unknown_then_lost_and_the_node_disconnected_then_down() {
    let (_etcd, store) = store().await;
    let ctl = start_lifecycle(&store, config()).await;
    let mut patient = job("patient", 1);
    patient.spec.groups[0].disconnect = Some(drover_api_types::group::Disconnect {
        lost_after: Some(drover_api_types::Duration::from_secs(4)),
        ..Default::default()
    });
    for j in [&patient, &job("plain", 1)] {
        let key = store.keys().job("default", &j.metadata.name);
        store.put_at(&key, j).await.expect("put job");
    }
    let mut cut = Agent::register(&store, "cut", TTL).await;
    let mut back = Agent::register(&store, "back", TTL).await;
    put_alloc(&store, "waits", "patient", "cut", ClientStatus::Running).await;
    put_alloc(&store, "goes", "plain", "cut", ClientStatus::Running).await;
    put_alloc(&store, "returns", "patient", "back", ClientStatus::Running).await;
    wait_state(&store, "cut", NodeState::Ready, 10).await;
    wait_state(&store, "back", NodeState::Ready, 10).await;

    cut.kill();
    back.kill();
    wait_state(&store, "cut", NodeState::Disconnected, 15).await;
    let disconnected = Instant::now();
    // The node's state is written before its allocations' statuses.
    eventually(5, "the patient group's allocation unknown", || async {
        alloc_status(&store, "waits")
            .await
            .filter(|s| s.client_status == ClientStatus::Unknown)
    })
    .await;
    let lost = eventually(5, "the plain group's allocation lost", || async {
        alloc_status(&store, "goes")
            .await
            .filter(|s| s.client_status == ClientStatus::Lost)
    })
    .await;
    assert_eq!(lost.client_description, LOST_DESCRIPTION);

    wait_state(&store, "back", NodeState::Disconnected, 10).await;
    back.revive().await;
    wait_state(&store, "back", NodeState::Ready, 10).await;

    wait_state(&store, "cut", NodeState::Down, 10).await;
    let waited = disconnected.elapsed();
    println!("disconnected → down after {waited:?} (lost_after 4 s)");
    assert!(
        waited >= Duration::from_secs(3),
        "down too early: {waited:?}"
    );
    // The node's state is written before its allocations' (so nothing is
    // placed on it meanwhile): the allocation follows within a pass.
    let expired = eventually(5, "the waiting allocation lost", || async {
        alloc_status(&store, "waits")
            .await
            .filter(|s| s.client_status == ClientStatus::Lost)
    })
    .await;
    assert!(
        expired
            .client_description
            .contains("longer than lost_after (4s)"),
        "{expired:?}"
    );
    // The revived node's allocation is not lost: its agent reports it.
    let returned = alloc_status(&store, "returns").await.expect("status");
    assert_eq!(returned.client_status, ClientStatus::Unknown);
    assert_eq!(state(&store, "back").await, Some(NodeState::Ready));
    ctl.stop().await;
}
