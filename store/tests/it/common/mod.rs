//! Helpers shared by the store's integration tests.

use drover_api_types::ObjectMeta;
use drover_store::{Store, StoreConfig};
// Shared by several test binaries; not every one waits.
#[allow(unused_imports)]
pub use drover_test_support::wait::within;
use drover_test_support::TestEtcd;
use serde::{Deserialize, Serialize};

/// A namespaced kind for tests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Widget {
    pub metadata: ObjectMeta,
    pub size: u32,
}
drover_api_types::impl_api_object!(Widget, "Widget", "widgets", namespaced = true);

pub fn widget(ns: &str, name: &str, size: u32) -> Widget {
    Widget {
        metadata: ObjectMeta {
            name: name.into(),
            namespace: ns.into(),
            ..ObjectMeta::default()
        },
        size,
    }
}

/// A config with short timeouts so reconnects in tests are quick.
pub fn config(endpoints: Vec<String>, prefix: &str) -> StoreConfig {
    let mut config = StoreConfig::new(endpoints, prefix);
    config.request_timeout_ms = 3_000;
    config.connect_timeout_ms = 1_000;
    config.keepalive_interval_ms = 1_000;
    config
}

/// A store on the shared (or a private) etcd under a unique prefix.
pub async fn shared_store() -> (TestEtcd, Store) {
    let etcd = TestEtcd::shared_or_spawn().await.expect("etcd for tests");
    let store = Store::connect(config(etcd.endpoints.clone(), &etcd.prefix))
        .await
        .expect("connect");
    (etcd, store)
}
