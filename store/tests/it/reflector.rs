//! The reflector cache against a real etcd.

use crate::common::{shared_store, widget, within, Widget};

#[tokio::test]
async fn cache_is_gated_until_listed_and_then_matches_etcd() {
    let (_etcd, store) = shared_store().await;
    for i in 0..50 {
        store
            .create(&widget("default", &format!("w{i:02}"), i))
            .await
            .expect("create");
    }
    let reflector = store.reflector::<Widget>(&store.keys().kind_prefix::<Widget>(None));
    // The task has not run yet on this single-threaded runtime.
    assert!(!reflector.is_ready());
    assert!(reflector.is_empty());
    within(10, "readiness", reflector.wait_ready()).await;
    let listed = store.list::<Widget>(None).await.expect("list");
    assert_eq!(reflector.list(), listed.items);
    assert_eq!(reflector.len(), 50);

    // Changes flow in.
    let mut w3: Widget = store
        .get("default", "w03")
        .await
        .expect("get")
        .expect("w03");
    w3.size = 300;
    store.update(&w3).await.expect("update");
    store
        .delete::<Widget>("default", "w07", None)
        .await
        .expect("delete");
    let last = store
        .create(&widget("other", "new", 1))
        .await
        .expect("create");
    let rev = last.metadata.resource_version;
    within(10, "cache to catch up", async {
        while reflector.revision() < rev {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    })
    .await;
    let listed = store.list::<Widget>(None).await.expect("list");
    assert_eq!(reflector.list(), listed.items);
    assert_eq!(reflector.len(), 50);
    let key = store.keys().object::<Widget>("default", "w03");
    assert_eq!(reflector.get(&key).map(|w| w.size), Some(300));
    assert_eq!(
        reflector.get(&store.keys().object::<Widget>("default", "w07")),
        None
    );
}
