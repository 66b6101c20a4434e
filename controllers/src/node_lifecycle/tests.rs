//! Table tests for node lifecycle decisions and lost-allocation selection.

use chrono::{DateTime, Duration as ChronoDuration, TimeZone, Utc};
use drover_api_types::alloc::{Allocation, Binding, ClientStatus, DesiredStatus};
use drover_api_types::ObjectMeta;

use super::*;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .single()
        .expect("valid time")
}

fn at(secs: i64) -> DateTime<Utc> {
    t0() + ChronoDuration::seconds(secs)
}

fn node(id: &str, state: NodeState, alive: bool, last_seen: i64) -> NodeObservation {
    NodeObservation {
        node_id: id.into(),
        state,
        last_transition: None,
        alive,
        last_seen: at(last_seen),
    }
}

fn ready_fleet(n: usize) -> Vec<NodeObservation> {
    (0..n)
        .map(|i| node(&format!("n{i:02}"), NodeState::Ready, true, 0))
        .collect()
}

fn ids(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// Leader since t0 - 1h, so the leader grace never binds unless asked.
fn old_leader() -> DateTime<Utc> {
    at(-3600)
}

/// (name, state, alive, last_seen, now, mark_ready, mark_down, next_check)
type Case = (
    &'static str,
    NodeState,
    bool,
    i64,
    i64,
    bool,
    bool,
    Option<i64>,
);

#[test]
fn single_node_table() {
    use NodeState::*;
    let cases: Vec<Case> = vec![
        (
            "lease present, ready: nothing",
            Ready,
            true,
            0,
            100,
            false,
            false,
            None,
        ),
        (
            "lease present, initializing → ready",
            Initializing,
            true,
            0,
            1,
            true,
            false,
            None,
        ),
        (
            "returning down node → ready",
            Down,
            true,
            0,
            500,
            true,
            false,
            None,
        ),
        (
            "returning disconnected → ready",
            Disconnected,
            true,
            0,
            5,
            true,
            false,
            None,
        ),
        (
            "gone, within ttl",
            Ready,
            false,
            100,
            105,
            false,
            false,
            Some(120),
        ),
        (
            "gone, within grace",
            Ready,
            false,
            100,
            119,
            false,
            false,
            Some(120),
        ),
        (
            "gone, at deadline → down",
            Ready,
            false,
            100,
            120,
            false,
            true,
            None,
        ),
        (
            "gone, long past → down",
            Ready,
            false,
            100,
            1000,
            false,
            true,
            None,
        ),
        (
            "gone, already down: nothing",
            Down,
            false,
            0,
            1000,
            false,
            false,
            None,
        ),
        (
            "gone, initializing past deadline → down",
            Initializing,
            false,
            0,
            20,
            false,
            true,
            None,
        ),
    ];
    for (name, state, alive, seen, now, ready, down, next) in cases {
        // Two healthy peers keep the fleet above the partition threshold.
        let mut nodes = vec![node("a", state, alive, seen)];
        nodes.push(node("b", Ready, true, now));
        nodes.push(node("c", Ready, true, now));
        let plan = decide(&nodes, at(now), &LifecycleConfig::default(), old_leader());
        let want_ready = if ready { ids(&["a"]) } else { vec![] };
        let want_down = if down { ids(&["a"]) } else { vec![] };
        assert_eq!(plan.mark_ready, want_ready, "{name}");
        assert_eq!(plan.mark_down, want_down, "{name}");
        assert!(plan.deferred_down.is_empty(), "{name}");
        assert!(!plan.suspected_partition, "{name}");
        assert_eq!(plan.next_check, next.map(at), "{name}");
    }
}

#[test]
fn gap_shorter_than_grace_marks_nothing() {
    let cfg = LifecycleConfig::default();
    // A lease gone for every gap below ttl + grace (20s): zero downs.
    for gap in [0, 1, 10, 15, 19] {
        let mut nodes = ready_fleet(4);
        nodes[0].alive = false;
        let plan = decide(&nodes, at(gap), &cfg, old_leader());
        assert!(plan.mark_down.is_empty(), "gap {gap}");
        assert_eq!(plan.next_check, Some(at(20)), "gap {gap}");
    }
    // And the lease came back within the gap: it is alive, nothing to do.
    let plan = decide(&ready_fleet(4), at(15), &cfg, old_leader());
    assert_eq!(plan, LifecyclePlan::default());
}

#[test]
fn fresh_leader_gives_every_node_a_fresh_grace() {
    let cfg = LifecycleConfig::default();
    let leader_since = at(1000);
    let mut nodes = ready_fleet(4);
    // Dead long before this leader took over; never seen alive by it.
    nodes[0].alive = false;
    nodes[0].last_seen = leader_since;
    nodes[1].alive = false;
    nodes[1].last_seen = at(-5000);
    for now in [1000, 1005, 1019] {
        let plan = decide(&nodes, at(now), &cfg, leader_since);
        assert!(plan.mark_down.is_empty(), "now {now}");
        assert!(!plan.suspected_partition, "now {now}");
        assert_eq!(plan.next_check, Some(at(1020)), "now {now}");
    }
    let plan = decide(&nodes, at(1020), &cfg, leader_since);
    // Oldest last_seen first.
    assert_eq!(plan.mark_down, ids(&["n00", "n01"]));
}

#[test]
fn rate_limit_defers_the_excess_oldest_first() {
    let cfg = LifecycleConfig {
        max_down_per_interval: 2,
        ..LifecycleConfig::default()
    };
    let mut nodes = ready_fleet(10);
    for (i, seen) in [(3, 30), (4, 10), (5, 20), (6, 40)] {
        nodes[i].alive = false;
        nodes[i].last_seen = at(seen);
    }
    let plan = decide(&nodes, at(100), &cfg, old_leader());
    assert_eq!(plan.mark_down, ids(&["n04", "n05"]));
    assert_eq!(plan.deferred_down, ids(&["n03", "n06"]));
    assert!(!plan.suspected_partition);
    assert_eq!(plan.next_check, Some(at(160)));

    // Next pass: the two marked 10s ago still spend the budget.
    for i in [4, 5] {
        nodes[i].state = NodeState::Down;
        nodes[i].last_transition = Some(at(100));
    }
    let plan = decide(&nodes, at(110), &cfg, old_leader());
    assert!(plan.mark_down.is_empty());
    assert_eq!(plan.deferred_down, ids(&["n03", "n06"]));
    assert_eq!(plan.next_check, Some(at(160)));

    // Once the window has passed, the budget is back.
    let plan = decide(&nodes, at(160), &cfg, old_leader());
    assert_eq!(plan.mark_down, ids(&["n03", "n06"]));
    assert!(plan.deferred_down.is_empty());
}

#[test]
fn more_than_half_at_once_is_a_suspected_partition() {
    let cfg = LifecycleConfig::default();
    // (fleet, gone, suspected)
    let cases = [
        (10, 5, false),
        (10, 6, true),
        (20, 11, true),
        // Below `partition_min_fleet` (10) the guard does not apply: in a
        // three-node cluster two dead machines are plausible.
        (4, 3, false),
        (3, 2, false),
        (2, 2, false),
    ];
    for (fleet, gone, suspected) in cases {
        let mut nodes = ready_fleet(fleet);
        for n in nodes.iter_mut().take(gone) {
            n.alive = false;
        }
        let plan = decide(&nodes, at(100), &cfg, old_leader());
        let label = format!("{gone}/{fleet}");
        assert_eq!(plan.suspected_partition, suspected, "{label}");
        if suspected {
            assert!(plan.mark_down.is_empty(), "{label}");
            assert_eq!(plan.deferred_down.len(), gone, "{label}");
            assert_eq!(plan.next_check, Some(at(110)), "{label}");
        } else {
            assert_eq!(plan.mark_down.len(), gone, "{label}");
        }
    }
}

#[test]
fn nodes_still_within_their_grace_count_towards_a_partition() {
    // Leases expire up to ttl/3 apart, so when a whole fleet goes silent the
    // first node passes its deadline before the others: the fraction must
    // count every silent node, not only those already due.
    let cfg = LifecycleConfig::default();
    let mut nodes = ready_fleet(10);
    for n in nodes.iter_mut().take(2) {
        n.alive = false;
        n.last_seen = at(70);
    }
    for n in nodes.iter_mut().skip(2).take(4) {
        n.alive = false;
        n.last_seen = at(95);
    }
    let plan = decide(&nodes, at(100), &cfg, old_leader());
    assert!(plan.suspected_partition);
    assert!(plan.mark_down.is_empty());
    assert_eq!(plan.deferred_down, ids(&["n00", "n01"]));
}

#[test]
fn returning_node_is_marked_ready_while_others_go_down() {
    let mut nodes = ready_fleet(4);
    nodes[0].state = NodeState::Down;
    nodes[1].alive = false;
    let plan = decide(&nodes, at(100), &LifecycleConfig::default(), old_leader());
    assert_eq!(plan.mark_ready, ids(&["n00"]));
    assert_eq!(plan.mark_down, ids(&["n01"]));
}

fn alloc(id: &str, node: Option<&str>, desired: DesiredStatus, client: ClientStatus) -> Allocation {
    let mut a = Allocation {
        metadata: ObjectMeta {
            uid: id.into(),
            ..Default::default()
        },
        ..Default::default()
    };
    a.spec.desired_status = desired;
    a.status.client_status = client;
    a.binding = node.map(|n| Binding {
        node_id: n.into(),
        ..Default::default()
    });
    a
}

fn silent(allocs: &[Allocation], lost_after: Option<u64>) -> Vec<SilentAlloc<'_>> {
    allocs
        .iter()
        .map(|alloc| SilentAlloc {
            alloc,
            lost_after: lost_after.map(Duration::from_secs),
        })
        .collect()
}

fn lost_ids(plan: &SilentPlan) -> Vec<String> {
    plan.lost.iter().map(|(id, _)| id.clone()).collect()
}

#[test]
fn without_lost_after_every_live_allocation_of_the_node_is_lost() {
    use ClientStatus::*;
    use DesiredStatus::*;
    let allocs = vec![
        alloc("run-running", Some("dead"), Run, Running),
        alloc("run-pending", Some("dead"), Run, Pending),
        alloc("run-unknown", Some("dead"), Run, Unknown),
        alloc("stop-running", Some("dead"), Stop, Running),
        alloc("evict-running", Some("dead"), Evict, Running),
        alloc("run-complete", Some("dead"), Run, Complete),
        alloc("run-failed", Some("dead"), Run, Failed),
        alloc("run-lost", Some("dead"), Run, Lost),
        alloc("other-node", Some("alive"), Run, Running),
        alloc("unbound", None, Run, Pending),
    ];
    let plan = silent_allocs("dead", at(0), &silent(&allocs, None), at(100));
    assert_eq!(
        lost_ids(&plan),
        ids(&[
            "evict-running",
            "run-pending",
            "run-running",
            "run-unknown",
            "stop-running"
        ])
    );
    assert!(plan.lost.iter().all(|(_, why)| why == LOST_HEARTBEAT));
    assert!(plan.unknown.is_empty());
    assert!(!plan.waits());
    assert_eq!(
        silent_allocs("nowhere", at(0), &silent(&allocs, None), at(100)),
        SilentPlan::default()
    );
}

#[test]
fn within_lost_after_allocations_wait_unknown_then_are_lost() {
    use ClientStatus::*;
    use DesiredStatus::*;
    let allocs = vec![
        alloc("running", Some("cut"), Run, Running),
        alloc("already-unknown", Some("cut"), Run, Unknown),
        alloc("stopping", Some("cut"), Stop, Running),
    ];
    // 10 s into a 60 s lost_after: unknown (once), the node waits until 60.
    let plan = silent_allocs("cut", at(0), &silent(&allocs, Some(60)), at(10));
    assert_eq!(plan.unknown, ids(&["running"]));
    assert_eq!(lost_ids(&plan), ids(&["stopping"]));
    assert_eq!(plan.next_check, Some(at(60)));
    assert!(plan.waits());
    // At 60 s they run out: lost, saying why; nothing waits any more.
    let plan = silent_allocs("cut", at(0), &silent(&allocs, Some(60)), at(60));
    assert!(plan.unknown.is_empty());
    assert_eq!(
        lost_ids(&plan),
        ids(&["already-unknown", "running", "stopping"])
    );
    assert_eq!(
        plan.lost[0].1,
        "node disconnected longer than lost_after (1m)"
    );
    assert!(!plan.waits());
}

#[test]
fn each_allocation_waits_as_long_as_its_own_group_says() {
    use ClientStatus::*;
    use DesiredStatus::*;
    let allocs = [
        alloc("short", Some("cut"), Run, Running),
        alloc("long", Some("cut"), Run, Running),
        alloc("none", Some("cut"), Run, Running),
    ];
    let input = vec![
        SilentAlloc {
            alloc: &allocs[0],
            lost_after: Some(Duration::from_secs(30)),
        },
        SilentAlloc {
            alloc: &allocs[1],
            lost_after: Some(Duration::from_secs(3600)),
        },
        SilentAlloc {
            alloc: &allocs[2],
            lost_after: None,
        },
    ];
    let plan = silent_allocs("cut", at(0), &input, at(45));
    assert_eq!(plan.unknown, ids(&["long"]));
    assert_eq!(lost_ids(&plan), ids(&["none", "short"]));
    assert_eq!(plan.next_check, Some(at(3600)));
}

#[test]
fn a_disconnected_node_is_gone_for_the_rate_limit_and_the_partition_guard() {
    let mut nodes = ready_fleet(10);
    // Four of ten already disconnected: they are not candidates again, and
    // the six left are the fleet a partition is measured against.
    for n in nodes.iter_mut().take(4) {
        n.state = NodeState::Disconnected;
        n.alive = false;
        n.last_transition = Some(at(90));
    }
    let config = LifecycleConfig {
        max_down_per_interval: 5,
        ..LifecycleConfig::default()
    };
    nodes[4].alive = false;
    let plan = decide(&nodes, at(100), &config, old_leader());
    assert_eq!(plan.mark_down, ids(&["n04"]));
    assert!(!plan.suspected_partition);
    // The four disconnected spent four of the five marks in the window.
    nodes[5].alive = false;
    let plan = decide(&nodes, at(100), &config, old_leader());
    assert_eq!(plan.mark_down, ids(&["n04"]));
    assert_eq!(plan.deferred_down, ids(&["n05"]));
}
