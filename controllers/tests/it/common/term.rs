//! A leadership term (`run_term`) running only the controllers a test
//! names, on a store under the test's own etcd prefix.

use std::sync::Arc;

use drover_controllers::context::{Fence, ServerOptions};
use drover_controllers::manager::{run_term, ControllerMetrics, Enabled};
use drover_store::{Store, StoreConfig};
use drover_test_support::TestEtcd;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The test etcd (shared or spawned) and a store under a fresh prefix.
pub async fn store() -> (TestEtcd, Store) {
    let etcd = TestEtcd::shared_or_spawn().await.expect("etcd for tests");
    let mut config = StoreConfig::new(etcd.endpoints.clone(), &etcd.prefix);
    config.request_timeout_ms = 3_000;
    let store = Store::connect(config).await.expect("connect");
    (etcd, store)
}

pub struct Term {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Term {
    /// The controllers called `controllers`, with default options.
    pub fn start(store: &Store, controllers: &[&str]) -> Term {
        Term::start_with(store, ServerOptions::default(), controllers)
    }

    pub fn start_with(store: &Store, options: ServerOptions, controllers: &[&str]) -> Term {
        let metrics = ControllerMetrics::register(&prometheus::Registry::new()).expect("metrics");
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(run_term(
            store.clone(),
            Arc::new(options),
            Fence::unfenced(),
            Enabled::only(controllers),
            metrics,
            stopped,
        ));
        Term { stop, task }
    }

    /// Ends the term and waits for its controllers to stop.
    pub async fn end(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}
