//! `make chaos`: faults injected into a live fleet of real processes — a
//! 3-member etcd, 2 servers, 4 agents on the local Docker — each scenario
//! asserting its outcome from Docker's own container ids and start times.
//! Every scenario ends with no spurious restart, never more running than
//! the job's count, nothing lost that was not on a lost node, and every
//! server still up. The figures (failover, replacement seconds) are
//! printed as `chaos: …` lines.
//!
//! The scenarios are `#[ignore]`d in a plain `cargo test`: they take
//! minutes and want the machine to themselves, so `make chaos` (and
//! `make test`, after the rest) runs them one at a time.

use crate::common;

mod fleet;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use crate::common::web_job;
use drover_api_types::node::NodeState;
use drover_api_types::Job;
use drover_test_support::wait::eventually;
use fleet::{secs, Fleet, GRACE_SECS, TTL_SECS};

/// The workload every scenario watches: one web server per node.
const COUNT: usize = 4;

fn web(count: usize) -> Job {
    let mut job = web_job();
    job.spec.groups[0].count = i64::try_from(count).unwrap_or(1);
    job
}

async fn fleet_running_web() -> Fleet {
    let fleet = Fleet::start().await;
    fleet.run_job(&web(COUNT), COUNT).await;
    fleet
}

fn none() -> BTreeSet<String> {
    BTreeSet::new()
}

/// 1. etcd all down for 30 s: nothing restarts, no server exits, and the
/// fleet carries on afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "chaos: run by make chaos"]
async fn etcd_all_down_for_30s_restarts_nothing() {
    let mut fleet = fleet_running_web().await;
    let before = fleet.containers();
    let watch = fleet.watch_running();
    for member in 0..fleet.etcd.len() {
        fleet.etcd.kill(member);
    }
    tokio::time::sleep(Duration::from_secs(30)).await;
    let back = Instant::now();
    fleet.etcd.restart_stopped().await.expect("etcd back");
    eventually(60, "a server leading again", || async {
        fleet.leader().await
    })
    .await;
    println!(
        "chaos: etcd back -> a server leads again in {} s",
        secs(back)
    );
    fleet.until_running("web", COUNT).await;
    watch.assert_within(COUNT, 0);
    fleet.assert_invariants(&before, &none(), &none()).await;
}

/// 2. The leader killed: the standby leads, nothing restarts.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "chaos: run by make chaos"]
async fn the_leader_killed_a_standby_takes_over_and_nothing_restarts() {
    let mut fleet = fleet_running_web().await;
    let before = fleet.containers();
    let watch = fleet.watch_running();
    let leader = eventually(30, "a leader", || async { fleet.leader().await }).await;
    let killed = Instant::now();
    fleet.kill_server(leader);
    let next = eventually(60, "the standby leading", || async {
        fleet.leader().await.filter(|l| *l != leader)
    })
    .await;
    println!(
        "chaos: leader killed -> server {next} leads in {} s",
        secs(killed)
    );
    // A new job is still placed by the new leader.
    let mut other = web(1);
    other.metadata.name = "after-failover".into();
    fleet.run_job(&other, 1).await;
    watch.assert_within(COUNT + 1, 0);
    fleet.assert_invariants(&before, &none(), &none()).await;
    fleet.start_server(leader);
}

/// 3. An agent killed and back within the grace: its node stays up and its
/// containers are adopted, not restarted.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "chaos: run by make chaos"]
async fn an_agent_killed_and_back_within_the_grace_restarts_nothing() {
    let mut fleet = fleet_running_web().await;
    let before = fleet.containers();
    let watch = fleet.watch_running();
    let node = fleet.agents[1].node_id.clone();
    fleet.kill_agent(1);
    tokio::time::sleep(Duration::from_secs(TTL_SECS)).await;
    fleet.start_agent(1);
    let until = Instant::now() + Duration::from_secs(TTL_SECS + GRACE_SECS);
    while Instant::now() < until {
        assert_ne!(fleet.node_state(&node).await, Some(NodeState::Down));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    watch.assert_within(COUNT, 0);
    fleet.assert_invariants(&before, &none(), &none()).await;
}

/// 4. A node lost with its containers: its allocations run elsewhere, the
/// others are untouched.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "chaos: run by make chaos"]
async fn a_node_lost_with_its_containers_is_replaced_elsewhere() {
    let mut fleet = fleet_running_web().await;
    let before = fleet.containers();
    let watch = fleet.watch_running();
    let node = fleet.agents[2].node_id.clone();
    let on_node = before.values().filter(|c| c.node == node).count();
    let lost_at = Instant::now();
    fleet.lose_node(2);
    eventually(60, "the lost node marked down", || async {
        (fleet.node_state(&node).await == Some(NodeState::Down)).then_some(())
    })
    .await;
    println!("chaos: node lost -> marked down in {} s", secs(lost_at));
    fleet.until_running("web", COUNT).await;
    println!(
        "chaos: node lost -> its {on_node} allocation(s) running elsewhere in {} s",
        secs(lost_at)
    );
    watch.assert_within(COUNT, 0);
    fleet
        .assert_invariants(&before, &BTreeSet::from([node]), &none())
        .await;
}

/// 5. A blip of 0.8 × (ttl + grace) between one agent and every etcd
/// member: the node stays up, nothing restarts.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "chaos: run by make chaos"]
async fn a_blip_of_four_fifths_of_ttl_plus_grace_restarts_nothing() {
    let fleet = fleet_running_web().await;
    let before = fleet.containers();
    let watch = fleet.watch_running();
    let node = fleet.agents[0].node_id.clone();
    let blip = Duration::from_secs(TTL_SECS + GRACE_SECS) * 4 / 5;
    fleet.cut_agent_0();
    let cut = Instant::now();
    while cut.elapsed() < blip {
        assert_ne!(fleet.node_state(&node).await, Some(NodeState::Down));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    fleet.restore_agent_0();
    while cut.elapsed() < blip + Duration::from_secs(GRACE_SECS) {
        assert_ne!(
            fleet.node_state(&node).await,
            Some(NodeState::Down),
            "marked down {} s into a {blip:?} blip",
            secs(cut)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    watch.assert_within(COUNT, 0);
    fleet.assert_invariants(&before, &none(), &none()).await;
}

/// 6. One etcd member killed (the raft leader, the harshest): API reads
/// keep answering, nothing restarts.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "chaos: run by make chaos"]
async fn one_etcd_member_killed_loses_no_reads_and_restarts_nothing() {
    let mut fleet = fleet_running_web().await;
    let before = fleet.containers();
    let watch = fleet.watch_running();
    let member = fleet.etcd.leader().await.expect("an etcd leader");
    fleet.etcd.kill(member);
    let killed = Instant::now();
    let url = fleet.any_server_url();
    let mut failed = 0;
    for _ in 0..30 {
        if common::get_json(&url, "/v1/jobs").await.is_none() {
            failed += 1;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!(
        "chaos: etcd leader killed -> {failed} of 30 API reads failed over {} s",
        secs(killed)
    );
    assert_eq!(failed, 0, "API reads failed with one etcd member down");
    // Writes go on too: a new job is placed.
    let mut other = web(1);
    other.metadata.name = "one-member-down".into();
    fleet.run_job(&other, 1).await;
    watch.assert_within(COUNT + 1, 0);
    fleet.assert_invariants(&before, &none(), &none()).await;
}

/// 7. A rollout while a node dies: it completes on the nodes left, never
/// with more running than the count.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "chaos: run by make chaos"]
async fn a_rollout_survives_a_node_dying_mid_way() {
    let mut fleet = fleet_running_web().await;
    let before = fleet.containers();
    let watch = fleet.watch_running();
    let mut updated = web(COUNT);
    updated.spec.groups[0].tasks[0]
        .env
        .insert("VERSION".into(), "2".into());
    // Through the API, as a user would: a new version.
    let registered = reqwest::Client::new()
        .post(format!("{}/v1/jobs", fleet.any_server_url()))
        .json(&serde_json::json!({ "job": updated }))
        .send()
        .await
        .expect("register the update");
    assert_eq!(registered.status().as_u16(), 200);
    let started = Instant::now();
    // Mid-way: one replacement has run.
    eventually(120, "the rollout under way", || async {
        let running = fleet.running("web").await;
        running
            .iter()
            .any(|a| a.spec.job_version >= 1)
            .then_some(())
    })
    .await;
    let node = fleet.agents[3].node_id.clone();
    fleet.lose_node(3);
    eventually(180, "every allocation on the new version", || async {
        let running = fleet.running("web").await;
        (running.len() == COUNT && running.iter().all(|a| a.spec.job_version >= 1)).then_some(())
    })
    .await;
    println!(
        "chaos: rollout with a node lost mid-way -> {COUNT}/{COUNT} on the new version in {} s",
        secs(started)
    );
    watch.assert_within(COUNT, 1);
    let replaced: BTreeSet<String> = before.keys().cloned().collect();
    fleet
        .assert_invariants(&before, &BTreeSet::from([node]), &replaced)
        .await;
}

/// 8. A poison job (a huge count, through the API and written straight
/// into etcd) and a filter bomb: refused, every server stays up, the
/// fleet goes on placing.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "chaos: run by make chaos"]
async fn a_poison_job_and_a_filter_bomb_take_no_server_down() {
    let fleet = fleet_running_web().await;
    let before = fleet.containers();
    let url = fleet.any_server_url();
    let mut poison = web(1);
    poison.metadata.name = "poison".into();
    poison.spec.groups[0].count = 1_000_000_000;
    let client = reqwest::Client::new();
    let refused = client
        .post(format!("{url}/v1/jobs"))
        .json(&serde_json::json!({ "job": poison }))
        .send()
        .await
        .expect("register");
    assert_eq!(refused.status().as_u16(), 400);
    // Around the API: straight into etcd.
    let key = fleet.store.keys().job("default", "poison");
    fleet.store.put_at(&key, &poison).await.expect("put poison");
    let bomb = format!(
        "{}Service.ID == \"x\"{}",
        "(".repeat(2000),
        ")".repeat(2000)
    );
    let answer = client
        .get(format!("{url}/v1/health/service/web"))
        .query(&[("filter", bomb.as_str())])
        .send()
        .await
        .expect("filter bomb");
    assert_eq!(answer.status().as_u16(), 400);
    tokio::time::sleep(Duration::from_secs(5)).await;
    let mut other = web(1);
    other.metadata.name = "after-poison".into();
    fleet.run_job(&other, 1).await;
    assert!(fleet.running("poison").await.is_empty());
    fleet.assert_invariants(&before, &none(), &none()).await;
}
