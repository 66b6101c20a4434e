//! Helpers shared by the store's integration tests.
#![allow(dead_code)]

use std::future::Future;
use std::time::Duration;

use drover_api_types::ObjectMeta;
use drover_store::{Store, StoreConfig};
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

/// Awaits `fut` or fails the test after `secs` seconds.
pub async fn within<T>(secs: u64, what: &str, fut: impl Future<Output = T>) -> T {
    match tokio::time::timeout(Duration::from_secs(secs), fut).await {
        Ok(v) => v,
        Err(_) => panic!("timed out after {secs}s waiting for {what}"),
    }
}
