//! Typed CRUD with optimistic concurrency, and batches, against real etcd.

use crate::common::{shared_store, widget, Widget};
use drover_store::{Atomic, Guard, StoreError, TxnLimits};

#[tokio::test]
async fn second_update_from_the_same_revision_conflicts() {
    let (_etcd, store) = shared_store().await;
    let created = store
        .create(&widget("default", "w1", 1))
        .await
        .expect("create");
    assert!(created.metadata.resource_version > 0);

    let mut first = created.clone();
    first.size = 2;
    let mut second = created.clone();
    second.size = 3;
    let first = store.update(&first).await.expect("first update wins");
    assert!(first.metadata.resource_version > created.metadata.resource_version);

    match store.update(&second).await {
        Err(StoreError::Conflict {
            key,
            expected,
            actual,
        }) => {
            assert_eq!(key, store.keys().object::<Widget>("default", "w1"));
            assert_eq!(expected, created.metadata.resource_version);
            assert_eq!(actual, Some(first.metadata.resource_version));
        }
        other => panic!("expected Conflict, got {other:?}"),
    }
    let stored: Widget = store
        .get("default", "w1")
        .await
        .expect("get")
        .expect("present");
    assert_eq!(stored.size, 2);
    assert_eq!(stored, first);
}

#[tokio::test]
async fn create_of_an_existing_key_fails_and_keeps_the_original() {
    let (_etcd, store) = shared_store().await;
    store
        .create(&widget("default", "dup", 1))
        .await
        .expect("create");
    match store.create(&widget("default", "dup", 9)).await {
        Err(StoreError::AlreadyExists { key }) => {
            assert_eq!(key, store.keys().object::<Widget>("default", "dup"))
        }
        other => panic!("expected AlreadyExists, got {other:?}"),
    }
    let stored: Widget = store
        .get("default", "dup")
        .await
        .expect("get")
        .expect("present");
    assert_eq!(stored.size, 1);
}

#[tokio::test]
async fn list_and_guarded_delete() {
    let (_etcd, store) = shared_store().await;
    let a = store.create(&widget("a", "x", 1)).await.expect("create");
    store.create(&widget("ab", "y", 2)).await.expect("create");
    let in_a = store.list::<Widget>(Some("a")).await.expect("list");
    assert_eq!(in_a.items, vec![a.clone()]);
    assert!(in_a.revision >= a.metadata.resource_version);
    assert_eq!(
        store.list::<Widget>(None).await.expect("list").items.len(),
        2
    );

    let stale = a.metadata.resource_version - 1;
    assert!(matches!(
        store.delete::<Widget>("a", "x", Some(stale)).await,
        Err(StoreError::Conflict { .. })
    ));
    assert!(store
        .delete::<Widget>("a", "x", Some(a.metadata.resource_version))
        .await
        .expect("delete"));
    assert!(!store
        .delete::<Widget>("a", "x", None)
        .await
        .expect("delete"));
    assert_eq!(store.get::<Widget>("a", "x").await.expect("get"), None);
    // A `/` in a segment is encoded: "a/b" is a namespace of its own, not
    // namespace "a" with a longer name.
    assert_eq!(store.get::<Widget>("a/b", "x").await.expect("get"), None);
    let slashed = store.create(&widget("a/b", "x", 3)).await.expect("create");
    assert_eq!(
        store.list::<Widget>(Some("a")).await.expect("list").items,
        Vec::<Widget>::new()
    );
    assert_eq!(
        store.get::<Widget>("a/b", "x").await.expect("get"),
        Some(slashed)
    );
    assert!(matches!(
        store.get::<Widget>("", "x").await,
        Err(StoreError::InvalidKey { .. })
    ));
}

#[tokio::test]
async fn batch_over_the_op_limit_is_split_and_every_key_lands() {
    let (_etcd, store) = shared_store().await;
    let prefix = format!("{}/batch/", store.keys().prefix());
    let mut batch = store.batch();
    for i in 0..300 {
        batch.put(format!("{prefix}{i:04}"), format!("v{i}").into_bytes());
    }
    assert_eq!(
        batch.plan().expect("plan"),
        vec![0..128, 128..256, 256..300]
    );
    let outcome = batch.commit(&store).await.expect("commit");
    assert_eq!((outcome.txns, outcome.applied), (3, 300));
    assert!(outcome.failed.is_empty());

    let list = store.list_raw(&prefix).await.expect("list");
    assert_eq!(list.items.len(), 300);
    for (i, kv) in list.items.iter().enumerate() {
        assert_eq!(kv.key, format!("{prefix}{i:04}"));
        assert_eq!(kv.value, format!("v{i}").into_bytes());
    }
    // Keys of one txn share its revision: three txns, three revisions.
    let mut revs: Vec<i64> = list.items.iter().map(|kv| kv.mod_revision).collect();
    revs.dedup();
    assert_eq!(revs.len(), 3);
    // The last txn's revision is the outcome's; the etcd may be shared with
    // other tests, so the store's revision can have moved on since.
    assert_eq!(revs.last().copied(), Some(outcome.revision));
    assert!(list.revision >= outcome.revision);
}

#[tokio::test]
async fn failed_guards_are_reported_and_the_rest_commits() {
    let (_etcd, store) = shared_store().await;
    let k = |s: &str| format!("{}/g/{s}", store.keys().prefix());
    store
        .put_raw(&k("taken"), b"old".to_vec(), Guard::None, None)
        .await
        .expect("put");
    let mut batch = store.batch();
    batch.create(&k("new1"), b"1".to_vec());
    batch.create(&k("taken"), b"2".to_vec());
    batch.update(&k("missing"), b"3".to_vec(), 5);
    batch.push(
        Atomic::new()
            .put(k("pair-a"), vec![])
            .put(k("pair-b"), vec![]),
    );
    let outcome = batch.commit(&store).await.expect("commit");
    assert_eq!(outcome.applied, 2);
    let failed: Vec<usize> = outcome.failed.iter().map(|(i, _)| *i).collect();
    assert_eq!(failed, vec![1, 2]);
    assert!(matches!(
        outcome.failed[0].1,
        StoreError::AlreadyExists { .. }
    ));
    assert!(matches!(
        outcome.failed[1].1,
        StoreError::Conflict {
            expected: 5,
            actual: None,
            ..
        }
    ));
    let list = store.list_raw(&k("")).await.expect("list");
    let keys: Vec<String> = list.items.iter().map(|kv| kv.key.clone()).collect();
    assert_eq!(keys, vec![k("new1"), k("pair-a"), k("pair-b"), k("taken")]);
    assert_eq!(list.items[3].value, b"old".to_vec());
}

#[tokio::test]
async fn atomic_commit_is_all_or_nothing() {
    let (_etcd, store) = shared_store().await;
    let k = |s: &str| format!("{}/atomic/{s}", store.keys().prefix());
    store
        .put_raw(&k("x"), b"old".to_vec(), Guard::None, None)
        .await
        .expect("put");
    let mut batch = store.batch();
    batch.put(k("a"), b"1".to_vec());
    batch.create(&k("x"), b"2".to_vec());
    assert!(matches!(
        batch.commit_atomic(&store).await,
        Err(StoreError::AlreadyExists { key }) if key == k("x")
    ));
    assert_eq!(store.get_raw(&k("a")).await.expect("get"), None);

    let mut too_big = drover_store::Batch::new(TxnLimits {
        max_ops: 4,
        max_bytes: 1 << 20,
    });
    for i in 0..5 {
        too_big.put(k(&format!("b{i}")), vec![]);
    }
    assert!(matches!(
        too_big.commit_atomic(&store).await,
        Err(StoreError::BatchUnitTooLarge {
            ops: 5,
            max_ops: 4,
            ..
        })
    ));
}

#[tokio::test]
async fn concurrent_commit_applies_every_unit_and_reports_failed_guards() {
    let (_etcd, store) = shared_store().await;
    let k = |s: String| format!("{}/cc/{s}", store.keys().prefix());
    store
        .put_raw(&k("taken-7".into()), b"old".to_vec(), Guard::None, None)
        .await
        .expect("put");
    let mut batch = store.batch();
    for i in 0..600 {
        batch.create(&k(format!("taken-{i}")), b"new".to_vec());
    }
    let outcome = batch.commit_concurrent(&store, 4).await.expect("commit");
    assert_eq!(outcome.applied, 599);
    let failed: Vec<usize> = outcome.failed.iter().map(|(i, _)| *i).collect();
    assert_eq!(failed, vec![7]);
    assert!(outcome.txns > 4, "600 units need several transactions");
    let list = store.list_raw(&k(String::new())).await.expect("list");
    assert_eq!(list.items.len(), 600);
    assert!(list
        .items
        .iter()
        .all(|kv| kv.mod_revision <= outcome.revision));
    let kept = store.get_raw(&k("taken-7".into())).await.expect("get");
    assert_eq!(kept.map(|kv| kv.value), Some(b"old".to_vec()));

    // Two writes to one key keep their order: the batch falls back to
    // committing one transaction after another.
    let mut batch = store.batch();
    for i in 0..300 {
        batch.put(k(format!("n-{i}")), b"x".to_vec());
    }
    batch.put(k("n-0".into()), b"last".to_vec());
    batch.commit_concurrent(&store, 4).await.expect("commit");
    let last = store.get_raw(&k("n-0".into())).await.expect("get");
    assert_eq!(last.map(|kv| kv.value), Some(b"last".to_vec()));
}

/// Statuses in the old layout (`allocations-status/<ns>/<id>`) move under
/// their node (or `_unbound`); one the agent already rewrote in the new
/// layout wins; a second run finds nothing to move.
#[tokio::test]
async fn old_layout_statuses_move_under_their_node() {
    use drover_api_types::alloc::{AllocationStatus, Binding, ClientStatus};
    use drover_store::Versioned;
    let (_etcd, store) = shared_store().await;
    let keys = store.keys().clone();
    let old = |id: &str| format!("{}/allocations-status/default/{id}", keys.prefix());
    let status = |client_status| {
        Versioned::new(AllocationStatus {
            client_status,
            ..Default::default()
        })
    };
    let bind = |node: &str| {
        Versioned::new(Binding {
            node_id: node.into(),
            ..Default::default()
        })
    };
    for (id, node) in [
        ("bound", Some("n1")),
        ("unbound", None),
        ("rewritten", Some("n2")),
    ] {
        store
            .put_at(&old(id), &status(ClientStatus::Running))
            .await
            .expect("old status");
        if let Some(node) = node {
            store
                .put_at(&keys.alloc_binding("default", id), &bind(node))
                .await
                .expect("binding");
        }
    }
    let newer = keys.alloc_status(Some("n2"), "default", "rewritten");
    store
        .put_at(&newer, &status(ClientStatus::Complete))
        .await
        .expect("new status");

    assert_eq!(store.migrate_status_layout().await.expect("migrate"), 3);
    for (id, wanted) in [
        ("bound", ClientStatus::Running),
        ("unbound", ClientStatus::Running),
        ("rewritten", ClientStatus::Complete),
    ] {
        let found = store
            .alloc_status_of("default", id)
            .await
            .expect("read")
            .unwrap_or_else(|| panic!("{id} moved"));
        assert_eq!(found.value.client_status, wanted, "{id}");
        assert!(store.get_raw(&old(id)).await.expect("read").is_none());
    }
    assert_eq!(store.migrate_status_layout().await.expect("again"), 0);
}
