//! Watch streams against a real etcd: resume after an outage, re-list after
//! compaction.

use std::net::SocketAddr;
use std::time::Duration;

use crate::common::{config, within};
use drover_store::watch::{Change, RawEvent};
use drover_store::{Guard, RawWatcher, Store, Versioned, WatchEvent, WatchMachine};
use drover_test_support::{EtcdProcess, TcpProxy, TestEtcd};
use futures::StreamExt;

async fn next_raw(w: &mut RawWatcher) -> RawEvent {
    within(30, "a watch event", w.next())
        .await
        .expect("watch stream ended")
}

/// Puts `n` keys through a fresh client, returning each write's revision.
async fn put_many(endpoint: &str, prefix: &str, start: usize, n: usize) -> Vec<i64> {
    let store = Store::connect(config(vec![endpoint.to_string()], prefix))
        .await
        .expect("connect writer");
    let mut revs = Vec::new();
    for i in start..start + n {
        let key = format!("{prefix}/w/{i:03}");
        let rev = store
            .put_raw(&key, format!("{i}").into_bytes(), Guard::None, None)
            .await
            .expect("put");
        revs.push(rev);
    }
    revs
}

fn change_revision(ev: &RawEvent) -> i64 {
    match ev {
        RawEvent::Change(c) => c.revision(),
        RawEvent::Restarted { .. } | RawEvent::Synced { .. } => {
            panic!("expected a change: {ev:?}")
        }
    }
}

/// The next change, checking that each is followed by its `Synced`.
async fn next_change(w: &mut RawWatcher) -> RawEvent {
    let change = next_raw(w).await;
    let revision = change_revision(&change);
    assert_eq!(next_raw(w).await, RawEvent::Synced { revision });
    change
}

#[tokio::test]
async fn watch_resumes_after_etcd_restart_without_gaps_or_repeats() {
    let mut etcd = EtcdProcess::start().await.expect("etcd");
    let prefix = "/resume";
    let store = Store::connect(config(vec![etcd.endpoint()], prefix))
        .await
        .expect("connect");
    let mut watcher = store.watch_raw(&format!("{prefix}/w/"));
    let RawEvent::Restarted { kvs, revision } = next_raw(&mut watcher).await else {
        panic!("first event must be Restarted");
    };
    assert!(kvs.is_empty());

    let mut expected = put_many(&etcd.endpoint(), prefix, 0, 5).await;
    let mut seen = Vec::new();
    for _ in 0..5 {
        seen.push(change_revision(&next_change(&mut watcher).await));
    }

    etcd.stop();
    tokio::time::sleep(Duration::from_millis(300)).await;
    etcd.restart().await.expect("restart etcd");
    // Written while the watcher is still reconnecting...
    expected.extend(put_many(&etcd.endpoint(), prefix, 5, 5).await);
    tokio::time::sleep(Duration::from_secs(1)).await;
    // ...and after it is back.
    expected.extend(put_many(&etcd.endpoint(), prefix, 10, 5).await);
    for _ in 0..10 {
        seen.push(change_revision(&next_change(&mut watcher).await));
    }
    assert_eq!(seen, expected);
    assert!(expected.windows(2).all(|w| w[1] == w[0] + 1));
    assert_eq!(expected[0], revision + 1);

    // Nothing is replayed afterwards.
    let extra = tokio::time::timeout(Duration::from_millis(700), watcher.next()).await;
    assert!(extra.is_err(), "unexpected extra event {extra:?}");
}

#[tokio::test]
async fn compaction_past_a_disconnected_watcher_relists_the_full_state() {
    let etcd = EtcdProcess::start().await.expect("etcd");
    let target: SocketAddr = format!("127.0.0.1:{}", etcd.client_port())
        .parse()
        .expect("addr");
    let proxy = TcpProxy::start(target).await.expect("proxy");
    let prefix = "/compact";
    let writer = Store::connect(config(vec![etcd.endpoint()], prefix))
        .await
        .expect("writer");
    let reader = Store::connect(config(vec![proxy.endpoint()], prefix))
        .await
        .expect("reader");
    let k = |s: &str| format!("{prefix}/o/{s}");
    for name in ["a", "b", "c"] {
        writer
            .put_at(&k(name), &Versioned::new(format!("{name}0")))
            .await
            .expect("put");
    }

    let mut watcher = reader.watch_prefix::<Versioned<String>>(&k(""));
    let first = within(30, "initial list", watcher.next())
        .await
        .expect("open")
        .expect("ok");
    let WatchEvent::Restarted { objects, .. } = first else {
        panic!("expected Restarted, got {first:?}");
    };
    let names: Vec<&str> = objects.iter().map(|(_, v)| v.value.as_str()).collect();
    assert_eq!(names, vec!["a0", "b0", "c0"]);
    let d_rev = writer
        .put_at(&k("d"), &Versioned::new("d0".to_string()))
        .await
        .expect("put");
    let applied = within(30, "d", watcher.next())
        .await
        .expect("open")
        .expect("ok");
    assert_eq!(
        applied,
        WatchEvent::Applied {
            key: k("d"),
            object: Versioned {
                value: "d0".into(),
                revision: d_rev
            }
        }
    );

    // The write's Synced marker follows it.
    let synced = within(30, "synced", watcher.next())
        .await
        .expect("open")
        .expect("ok");
    assert_eq!(synced, WatchEvent::Synced { revision: d_rev });

    // The consumer falls off the network; history moves on and is compacted.
    proxy.cut();
    writer
        .put_at(&k("a"), &Versioned::new("a1".to_string()))
        .await
        .expect("put");
    writer
        .delete_raw(&k("b"), Guard::None)
        .await
        .expect("delete");
    let e_rev = writer
        .put_at(&k("e"), &Versioned::new("e0".to_string()))
        .await
        .expect("put");
    etcd.compact(e_rev).await.expect("compact");
    proxy.restore();

    let relisted = within(30, "re-list", watcher.next())
        .await
        .expect("open")
        .expect("ok");
    let WatchEvent::Restarted { objects, revision } = relisted else {
        panic!("expected Restarted after compaction, got {relisted:?}");
    };
    assert!(revision >= e_rev);
    let state: Vec<(String, String)> = objects.into_iter().map(|(key, v)| (key, v.value)).collect();
    let want: Vec<(String, String)> = [("a", "a1"), ("c", "c0"), ("d", "d0"), ("e", "e0")]
        .iter()
        .map(|(n, v)| (k(n), v.to_string()))
        .collect();
    assert_eq!(state, want);

    // And it keeps watching from there.
    let f_rev = writer
        .put_at(&k("f"), &Versioned::new("f0".to_string()))
        .await
        .expect("put");
    let next = within(30, "f", watcher.next())
        .await
        .expect("open")
        .expect("ok");
    assert_eq!(
        next,
        WatchEvent::Applied {
            key: k("f"),
            object: Versioned {
                value: "f0".into(),
                revision: f_rev
            }
        }
    );
}

#[tokio::test]
async fn resuming_from_a_compacted_revision_relists() {
    let etcd = TestEtcd::shared_or_spawn().await.expect("etcd");
    let store = Store::connect(config(etcd.endpoints.clone(), &etcd.prefix))
        .await
        .expect("connect");
    let key = format!("{}/r/x", etcd.prefix);
    let old = store
        .put_raw(&key, b"1".to_vec(), Guard::None, None)
        .await
        .expect("put");
    let new = store
        .put_raw(&key, b"2".to_vec(), Guard::None, None)
        .await
        .expect("put");
    let mut client = etcd.client().await.expect("client");
    client.compact(new, None).await.expect("compact");

    let mut watcher = store.watch_raw_with(
        &format!("{}/r/", etcd.prefix),
        WatchMachine::resume_from(old - 1),
    );
    match next_raw(&mut watcher).await {
        RawEvent::Restarted { kvs, revision } => {
            assert!(revision >= new);
            assert_eq!(kvs.len(), 1);
            assert_eq!(
                (kvs[0].value.as_slice(), kvs[0].mod_revision),
                (&b"2"[..], new)
            );
        }
        other @ (RawEvent::Change(Change::Put(_) | Change::Delete { .. })
        | RawEvent::Synced { .. }) => {
            panic!("expected Restarted, got {other:?}")
        }
    }
}
