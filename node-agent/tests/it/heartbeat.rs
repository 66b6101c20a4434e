//! Node registration and the heartbeat lease against a real etcd, and the
//! fingerprint of this machine. Run with
//! `scripts/test-etcd.sh cargo test -p drover-node-agent --test it heartbeat::`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use drover_api_types::node::{DriverInfo, Heartbeat};
use drover_api_types::Node;
use drover_node_agent::fingerprint::{self, Fingerprint};
use drover_node_agent::heartbeat::{node_object, ConnectionState, NodeAgentConfig, Registration};
use drover_store::{Kv, Store, StoreConfig, Versioned};
use drover_test_support::wait::eventually;
use drover_test_support::{TcpProxy, TestEtcd};

const TTL: Duration = Duration::from_secs(2);

fn config(endpoints: Vec<String>, prefix: &str) -> StoreConfig {
    let mut config = StoreConfig::new(endpoints, prefix);
    config.request_timeout_ms = 1_000;
    config.connect_timeout_ms = 500;
    config.keepalive_interval_ms = 500;
    config
}

/// A store straight to etcd (the observer) and one through a proxy that
/// can be cut (the agent's).
async fn stores() -> (TestEtcd, TcpProxy, Store, Store) {
    let etcd = TestEtcd::shared_or_spawn().await.expect("etcd for tests");
    let target: SocketAddr = etcd.endpoints[0]
        .trim_start_matches("http://")
        .parse()
        .expect("etcd address");
    let proxy = TcpProxy::start(target).await.expect("proxy");
    let observer = Store::connect(config(etcd.endpoints.clone(), &etcd.prefix))
        .await
        .expect("connect");
    let agent = Store::connect(config(vec![proxy.endpoint()], &etcd.prefix))
        .await
        .expect("connect through proxy");
    (etcd, proxy, observer, agent)
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("drover-hb-{name}-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn drivers(healthy: bool) -> BTreeMap<String, DriverInfo> {
    let info = DriverInfo {
        detected: true,
        healthy,
        health_description: if healthy {
            "Healthy"
        } else {
            "Docker is not running"
        }
        .into(),
        ..Default::default()
    };
    [("docker".to_string(), info)].into_iter().collect()
}

fn test_node(healthy: bool) -> Node {
    let fp = Fingerprint::default();
    let id = uuid::Uuid::new_v4().to_string();
    let cfg = NodeAgentConfig {
        name: format!("hb-{id}"),
        ..Default::default()
    };
    node_object(&id, &cfg, &fp, drivers(healthy))
}

async fn heartbeat_kv(store: &Store, id: &str) -> Option<Kv> {
    store
        .get_raw(&store.keys().node_heartbeat(id))
        .await
        .expect("read heartbeat")
}

async fn stored_node(store: &Store, id: &str) -> Option<Node> {
    store
        .get_raw(&store.keys().node(id))
        .await
        .expect("read node")
        .map(|kv| kv.decode::<Node>().expect("decode node"))
}

#[tokio::test]
async fn registration_writes_the_node_and_a_leased_heartbeat_that_stays() {
    let (_etcd, _proxy, observer, agent) = stores().await;
    let node = test_node(true);
    let id = node.metadata.uid.clone();
    let reg = Registration::start(agent, node.clone(), TTL).await;
    let mut conn = reg.connection();
    tokio::time::timeout(
        Duration::from_secs(10),
        conn.wait_for(|c| *c == ConnectionState::Connected),
    )
    .await
    .expect("connected in time")
    .expect("connection state");

    let stored = stored_node(&observer, &id).await.expect("node written");
    assert_eq!(stored.spec, node.spec);
    assert_eq!(stored.metadata.name, node.metadata.name);
    let kv = heartbeat_kv(&observer, &id).await.expect("heartbeat key");
    assert_ne!(kv.lease, 0, "heartbeat attached to a lease");
    assert_eq!(Some(kv.lease), reg.lease_id());
    let hb = kv
        .decode::<Versioned<Heartbeat>>()
        .expect("decode heartbeat");
    assert_eq!(hb.value.ttl_seconds, 2);

    // Kept alive for well over the TTL.
    let started = Instant::now();
    while started.elapsed() < TTL * 3 + Duration::from_millis(500) {
        let kv = heartbeat_kv(&observer, &id).await;
        assert!(kv.is_some(), "heartbeat gone after {:?}", started.elapsed());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(*reg.connection().borrow(), ConnectionState::Connected);

    // A clean stop without revoke leaves the key to expire; with revoke it
    // goes at once.
    reg.shutdown(true).await;
    assert!(heartbeat_kv(&observer, &id).await.is_none());
    assert!(
        stored_node(&observer, &id).await.is_some(),
        "the node stays"
    );
}

#[tokio::test]
async fn a_lease_lost_in_a_partition_is_granted_again() {
    let (_etcd, proxy, observer, agent) = stores().await;
    let node = test_node(true);
    let id = node.metadata.uid.clone();
    let reg = Registration::start(agent, node, TTL).await;
    let first = eventually(10, "first heartbeat", || async {
        heartbeat_kv(&observer, &id).await.map(|kv| kv.lease)
    })
    .await;

    proxy.cut();
    let cut_at = Instant::now();
    let mut conn = reg.connection();
    eventually(10, "heartbeat to expire in the partition", || async {
        heartbeat_kv(&observer, &id).await.is_none().then_some(())
    })
    .await;
    let expired_after = cut_at.elapsed();
    tokio::time::timeout(
        Duration::from_secs(5),
        conn.wait_for(|c| *c == ConnectionState::Reconnecting),
    )
    .await
    .expect("reconnecting reported")
    .expect("connection state");
    // Stay cut for 2×TTL in all.
    tokio::time::sleep((TTL * 2).saturating_sub(cut_at.elapsed())).await;

    proxy.restore();
    let restored_at = Instant::now();
    let second = eventually(15, "heartbeat registered again", || async {
        heartbeat_kv(&observer, &id).await.map(|kv| kv.lease)
    })
    .await;
    let back_after = restored_at.elapsed();
    assert_ne!(first, second, "a new lease");
    tokio::time::timeout(
        Duration::from_secs(5),
        conn.wait_for(|c| *c == ConnectionState::Connected),
    )
    .await
    .expect("connected again")
    .expect("connection state");
    eprintln!(
        "heartbeat expired {expired_after:?} after the cut; back {back_after:?} after restore"
    );
    assert!(back_after < Duration::from_secs(5), "took {back_after:?}");

    // The new lease is kept alive too.
    tokio::time::sleep(TTL * 2).await;
    assert_eq!(
        heartbeat_kv(&observer, &id).await.map(|kv| kv.lease),
        Some(second)
    );
    reg.shutdown(true).await;
}

#[tokio::test]
async fn update_node_publishes_driver_health() {
    let (_etcd, _proxy, observer, agent) = stores().await;
    let node = test_node(true);
    let id = node.metadata.uid.clone();
    let reg = Registration::start(agent, node.clone(), TTL).await;
    eventually(10, "node registered", || async {
        stored_node(&observer, &id)
            .await
            .filter(|n| n.spec.drivers["docker"].healthy)
    })
    .await;

    let mut unhealthy = node.clone();
    unhealthy.spec.drivers = drivers(false);
    unhealthy.spec.attributes.remove("driver.docker");
    reg.update_node(unhealthy);
    let stored = eventually(5, "unhealthy driver published", || async {
        stored_node(&observer, &id)
            .await
            .filter(|n| !n.spec.drivers["docker"].healthy)
    })
    .await;
    assert_eq!(
        stored.spec.drivers["docker"].health_description,
        "Docker is not running"
    );
    assert!(!stored.spec.attributes.contains_key("driver.docker"));
    assert!(heartbeat_kv(&observer, &id).await.is_some());
    reg.shutdown(false).await;
    // Without revoke the heartbeat outlives the agent until its TTL.
    assert!(heartbeat_kv(&observer, &id).await.is_some());
}

/// An agent that starts while etcd is unreachable keeps trying and
/// registers once it is back; the registration reports Reconnecting meanwhile.
#[tokio::test]
async fn an_agent_started_while_etcd_is_unreachable_registers_when_it_returns() {
    let (_etcd, proxy, observer, agent) = stores().await;
    proxy.cut();
    let node = test_node(true);
    let id = node.metadata.uid.clone();
    let reg = Registration::start(agent, node, TTL).await;
    tokio::time::sleep(TTL * 2).await;
    assert_eq!(*reg.connection().borrow(), ConnectionState::Reconnecting);
    assert!(stored_node(&observer, &id).await.is_none());
    assert_eq!(reg.lease_id(), None);
    // Every failed attempt counts (drover_agent_heartbeat_failures_total).
    let failed_while_away = *reg.failures().borrow();
    assert!(failed_while_away >= 1, "{failed_while_away}");

    proxy.restore();
    let restored_at = Instant::now();
    eventually(15, "registered after restore", || async {
        heartbeat_kv(&observer, &id).await.map(|_| ())
    })
    .await;
    let back_after = restored_at.elapsed();
    assert!(stored_node(&observer, &id).await.is_some());
    let mut conn = reg.connection();
    tokio::time::timeout(
        Duration::from_secs(5),
        conn.wait_for(|c| *c == ConnectionState::Connected),
    )
    .await
    .expect("connected")
    .expect("connection state");
    eprintln!("registered {back_after:?} after etcd became reachable");
    // Connected again: no more failures counted.
    let failures = *reg.failures().borrow();
    tokio::time::sleep(TTL).await;
    assert_eq!(*reg.failures().borrow(), failures);
    assert!(back_after < Duration::from_secs(5), "took {back_after:?}");
    reg.shutdown(true).await;
}

#[test]
fn node_id_is_stable_per_data_dir() {
    let a = temp_dir("a");
    let b = temp_dir("b");
    let first = fingerprint::node_id(&a).expect("node id");
    let again = fingerprint::node_id(&a).expect("node id again");
    let other = fingerprint::node_id(&b).expect("other node id");
    assert_eq!(first, again);
    assert_ne!(first, other);
    assert!(a.join(fingerprint::NODE_ID_FILE).exists());
    std::fs::remove_dir_all(a).ok();
    std::fs::remove_dir_all(b).ok();
}

#[test]
fn fingerprint_of_this_machine() {
    let dir = temp_dir("fp");
    let fp = fingerprint::read(&dir, None).expect("fingerprint");
    let a = &fp.attributes;
    eprintln!("{a:#?}\n{:?}", fp.resources);
    let cores: u64 = a["cpu.numcores"].parse().expect("cores");
    assert!(cores >= 1);
    let memory: u64 = a["memory.totalbytes"].parse().expect("memory");
    assert!(memory > 0);
    assert_eq!(a["kernel.name"], "linux");
    assert!(!a["unique.hostname"].is_empty());
    assert!(!a["kernel.version"].is_empty());
    assert!(
        a["unique.storage.bytestotal"]
            .parse::<u64>()
            .expect("total")
            > 0
    );
    assert!(fp.resources.cpu > 0 && fp.resources.memory > 0);
    assert!(a["unique.network.ip-address"]
        .parse::<std::net::IpAddr>()
        .is_ok());

    let given = fingerprint::read(&dir, Some("10.9.8.7".parse().expect("ip"))).expect("fp");
    assert_eq!(given.attributes["unique.network.ip-address"], "10.9.8.7");
    std::fs::remove_dir_all(dir).ok();
}
