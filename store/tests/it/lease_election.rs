//! Leases and leader election against a real etcd.

use std::net::SocketAddr;
use std::time::Duration;

use crate::common::{config, shared_store, within};
use drover_store::{Guard, LeaseState, Store};
use drover_test_support::{EtcdProcess, TcpProxy};
use tokio::time::Instant;

const TTL: Duration = Duration::from_secs(2);

#[tokio::test]
async fn lease_lives_while_kept_alive_and_expires_when_keepalive_stops() {
    let (_etcd, store) = shared_store().await;
    let key = format!("{}/leased", store.keys().prefix());
    let lease = store.lease(TTL).await.expect("lease");
    store
        .put_raw(&key, b"x".to_vec(), Guard::None, Some(lease.id()))
        .await
        .expect("put");

    // Twice the TTL with keepalive: still there.
    tokio::time::sleep(TTL * 2).await;
    assert!(lease.is_alive());
    assert_eq!(
        store.get_raw(&key).await.expect("get").map(|kv| kv.lease),
        Some(lease.id())
    );

    let id = lease.id();
    let stopped = Instant::now();
    drop(lease);
    within(10, "lease expiry", async {
        while store.get_raw(&key).await.expect("get").is_some() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    let gone_after = stopped.elapsed();
    assert!(
        gone_after >= Duration::from_millis(900),
        "expired too early: {gone_after:?}"
    );
    assert_eq!(store.lease_time_to_live(id).await.expect("ttl"), None);
}

#[tokio::test]
async fn revoke_deletes_attached_keys_at_once() {
    let (_etcd, store) = shared_store().await;
    let key = format!("{}/revoked", store.keys().prefix());
    let lease = store.lease(Duration::from_secs(30)).await.expect("lease");
    store
        .put_raw(&key, b"x".to_vec(), Guard::None, Some(lease.id()))
        .await
        .expect("put");
    lease.revoke().await.expect("revoke");
    assert_eq!(store.get_raw(&key).await.expect("get"), None);
}

#[tokio::test]
async fn lease_is_lost_when_etcd_is_unreachable_past_the_ttl() {
    let mut etcd = EtcdProcess::start().await.expect("etcd");
    let store = Store::connect(config(vec![etcd.endpoint()], "/lost"))
        .await
        .expect("connect");
    let lease = store.lease(TTL).await.expect("lease");
    let mut state = lease.state();
    etcd.stop();
    let started = Instant::now();
    within(6, "lease lost", state.wait_for(|s| *s == LeaseState::Lost))
        .await
        .expect("state");
    assert!(started.elapsed() <= TTL + Duration::from_millis(200));
}

#[tokio::test]
async fn leadership_hands_over_when_the_leader_is_dropped() {
    let (_etcd, store) = shared_store().await;
    let first = store.campaign("ctl", "one", TTL);
    let mut one = first.subscribe();
    within(10, "first leader", one.wait_for(|l| *l))
        .await
        .expect("leader");
    let second = store.campaign("ctl", "two", TTL);
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(first.is_leader());
    assert!(!second.is_leader());
    assert_eq!(
        store.leader("ctl").await.expect("leader"),
        Some("one".to_string())
    );

    let mut two = second.subscribe();
    let dropped = Instant::now();
    drop(first);
    within(10, "handover", two.wait_for(|l| *l))
        .await
        .expect("leader");
    assert!(
        dropped.elapsed() < TTL,
        "handover took {:?}",
        dropped.elapsed()
    );
    assert_eq!(
        store.leader("ctl").await.expect("leader"),
        Some("two".to_string())
    );

    second.resign().await.expect("resign");
    assert_eq!(store.leader("ctl").await.expect("leader"), None);
}

#[tokio::test]
async fn a_partitioned_leader_steps_down_before_the_other_takes_over() {
    let etcd = EtcdProcess::start().await.expect("etcd");
    let target: SocketAddr = format!("127.0.0.1:{}", etcd.client_port())
        .parse()
        .expect("addr");
    let proxy = TcpProxy::start(target).await.expect("proxy");
    let cut_off = Store::connect(config(vec![proxy.endpoint()], "/el"))
        .await
        .expect("connect");
    let direct = Store::connect(config(vec![etcd.endpoint()], "/el"))
        .await
        .expect("connect");

    let first = cut_off.campaign("ctl", "one", TTL);
    within(10, "first leader", first.subscribe().wait_for(|l| *l))
        .await
        .expect("leader");
    let second = direct.campaign("ctl", "two", TTL);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!second.is_leader());

    proxy.cut();
    let cut_at = Instant::now();
    // Sample both flags until the second leads: never both at once.
    let took_over = loop {
        let (a, b) = (first.is_leader(), second.is_leader());
        assert!(!(a && b), "two leaders at {:?}", cut_at.elapsed());
        if b {
            break cut_at.elapsed();
        }
        assert!(
            cut_at.elapsed() < TTL * 4,
            "no handover after {:?}",
            cut_at.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert!(!first.is_leader());
    assert!(
        took_over <= TTL + Duration::from_millis(1500),
        "handover took {took_over:?}"
    );
}

#[tokio::test]
async fn a_deposed_leaders_fenced_write_fails() {
    let (_etcd, store) = shared_store().await;
    let key = format!("{}/fenced", store.keys().prefix());
    let first = store.campaign("fence", "one", TTL);
    within(10, "first leader", first.subscribe().wait_for(|l| *l))
        .await
        .expect("leader");
    let (fence_key, fence) = first.fence().expect("a leader has a fence");

    let write = |value: &'static str| {
        let mut batch = store.batch();
        batch.push(
            drover_store::Atomic::new()
                .guard(fence_key.clone(), fence)
                .put(key.clone(), value.as_bytes().to_vec()),
        );
        batch
    };
    write("while leading")
        .commit_atomic(&store)
        .await
        .expect("the leader's fenced write lands");

    // The key is taken over by someone else: the old fence no longer holds.
    let second = store.campaign("fence", "two", TTL);
    first.resign().await.expect("resign");
    within(10, "second leader", second.subscribe().wait_for(|l| *l))
        .await
        .expect("leader");
    let late = write("after losing").commit_atomic(&store).await;
    assert!(late.is_err(), "a stale fence must fail, got {late:?}");
    let kv = store.get_raw(&key).await.expect("get").expect("present");
    assert_eq!(kv.value, b"while leading");
    assert_ne!(second.fence().map(|f| f.1), Some(fence));
}
