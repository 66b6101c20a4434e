//! The leader's cluster gauges and heartbeat expiry counter against a real
//! etcd, with a fake agent: counts follow the view, an expired lease is
//! counted, and a term's end empties the gauges. Run with
//! `scripts/test-etcd.sh cargo test -p drover-controllers --test it cluster_metrics::`.

use crate::common::lifecycle_fixtures as fixtures;

use std::time::Duration;

use drover_api_types::alloc::ClientStatus;
use drover_controllers::cluster::metrics::ClusterMetrics;
use drover_controllers::cluster::{ClusterView, Hooks};
use fixtures::*;
use tokio::sync::watch;

const TTL: Duration = Duration::from_secs(2);

fn gauge(vec: &prometheus::IntGaugeVec, label: &str) -> i64 {
    vec.with_label_values(&[label]).get()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gauges_follow_the_view_and_expiries_are_counted() {
    let (_etcd, store) = store().await;
    let metrics = ClusterMetrics::register(&prometheus::Registry::new()).expect("register");
    let mut hooks = Hooks::default();
    metrics.register_hooks(&mut hooks);
    let (view, _handle) = ClusterView::start(&store, hooks);
    view.ready().await;
    let lifecycle = start_lifecycle(&store, config()).await;

    let mut agent = Agent::register(&store, "m1", TTL).await;
    put_alloc(&store, "a1", "web", "m1", ClientStatus::Running).await;
    put_alloc(&store, "a2", "web", "m1", ClientStatus::Failed).await;
    eventually(10, "a ready node and its allocations counted", || async {
        metrics.refresh(&view);
        (gauge(&metrics.nodes, "ready") == 1
            && gauge(&metrics.allocations, "running") == 1
            && gauge(&metrics.allocations, "failed") == 1)
            .then_some(())
    })
    .await;
    assert_eq!(gauge(&metrics.nodes, "down"), 0);
    assert_eq!(metrics.heartbeats_expired.get(), 0);

    agent.kill();
    eventually(10, "the expiry counted", || async {
        (metrics.heartbeats_expired.get() == 1).then_some(())
    })
    .await;
    // Down, and its running allocation lost (the failed one stays failed).
    eventually(10, "the node counted down", || async {
        metrics.refresh(&view);
        (gauge(&metrics.nodes, "down") == 1
            && gauge(&metrics.nodes, "ready") == 0
            && gauge(&metrics.allocations, "lost") == 1
            && gauge(&metrics.allocations, "running") == 0)
            .then_some(())
    })
    .await;
    assert_eq!(gauge(&metrics.allocations, "failed"), 1);

    // A term's end: a standby reports no cluster series.
    let (stop, stopped) = watch::channel(false);
    let run = tokio::spawn(metrics.clone().run(view.clone(), stopped));
    tokio::time::sleep(POLL).await;
    assert_eq!(gauge(&metrics.allocations, "lost"), 1);
    let _ = stop.send(true);
    run.await.expect("the refresh loop ends");
    let registry = prometheus::Registry::new();
    registry
        .register(Box::new(metrics.allocations.clone()))
        .expect("register the gauge alone");
    let families = registry.gather();
    assert!(
        families.iter().all(|f| f.get_metric().is_empty()),
        "{families:?}"
    );
    lifecycle.stop().await;
}
