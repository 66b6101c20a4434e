//! The controller manager: campaigns for leadership and, while leading, runs
//! every enabled controller on one fresh cluster view.
//!
//! A term starts when this server becomes leader: it builds the view (new
//! lists, read after the election, so never older than the previous leader's
//! last write), waits until every cache is ready, queues every key once, and
//! runs the controllers. The term ends when leadership is lost (or on
//! shutdown): the controllers stop taking keys, finish what they hold (their
//! writes are fenced, so a deposed leader's late write fails), and the view
//! is dropped. Losing leadership never touches running allocations.

mod descriptor;

use std::collections::BTreeSet;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use drover_store::Store;
use prometheus::{IntGauge, Registry};
use tokio::sync::watch;
use tokio::task::JoinSet;

pub use descriptor::{standard, Descriptor, Run, Start, Wiring};

use crate::cluster::metrics::ClusterMetrics;
use crate::cluster::{ClusterView, Hooks};
use crate::context::{Context, Fence, ServerOptions};
use crate::gc::metrics::GcMetrics;
use crate::periodic::metrics::PeriodicMetrics;
use crate::placement::metrics::PlacementMetrics;
use crate::runtime::Metrics;
use crate::{
    deployments, drain, gc, job, node_jobs, node_lifecycle, periodic, placement, services,
};

/// The election all servers campaign in.
pub const ELECTION: &str = "controllers";

/// Every controller, in the order a term wires them.
pub const CONTROLLERS: [&Descriptor; 9] = [
    &job::controller::DESCRIPTOR,
    &placement::controller::DESCRIPTOR,
    &node_jobs::controller::DESCRIPTOR,
    &node_lifecycle::controller::DESCRIPTOR,
    &drain::DESCRIPTOR,
    &services::controller::DESCRIPTOR,
    &deployments::controller::DESCRIPTOR,
    &gc::controller::DESCRIPTOR,
    &periodic::DESCRIPTOR,
];

/// The controller names, for flags and logs.
pub fn names() -> impl Iterator<Item = &'static str> {
    CONTROLLERS.iter().map(|d| d.name)
}

/// Which controllers run (each can be switched off by flag).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Enabled {
    off: BTreeSet<&'static str>,
}

impl Enabled {
    /// Only the controllers called `names` (as in [`names`]).
    pub fn only(names: &[&str]) -> Enabled {
        Enabled {
            off: self::names().filter(|n| !names.contains(n)).collect(),
        }
    }

    /// Switches off the controller called `name`; false if no such name.
    pub fn disable(&mut self, name: &str) -> bool {
        match names().find(|n| *n == name) {
            Some(known) => {
                self.off.insert(known);
                true
            }
            None => false,
        }
    }

    pub fn is_on(&self, name: &str) -> bool {
        !self.off.contains(name)
    }
}

/// Metrics of every controller, registered once per process and shared by
/// all terms.
#[derive(Clone)]
pub struct ControllerMetrics {
    /// Each controller's queue and reconcile metrics, in [`CONTROLLERS`] order.
    queues: Vec<Metrics>,
    /// Objects collected, pass duration, compacted revision.
    pub(crate) gc_stats: GcMetrics,
    /// Launch times, successes and skips of periodic jobs.
    pub(crate) periodic_stats: PeriodicMetrics,
    /// Placed and failed placements, pass latency.
    pub(crate) placement_stats: PlacementMetrics,
    /// Nodes, allocations and jobs by status, heartbeat expiries.
    cluster: ClusterMetrics,
    /// `drover_server_leader`: 1 while this server leads.
    leader: IntGauge,
}

impl ControllerMetrics {
    pub fn register(registry: &Registry) -> prometheus::Result<Self> {
        let leader = IntGauge::new(
            "drover_server_leader",
            "1 while this server leads (runs the controllers), else 0.",
        )?;
        registry.register(Box::new(leader.clone()))?;
        let queues = names()
            .map(|name| Metrics::register(name, registry))
            .collect::<prometheus::Result<Vec<_>>>()?;
        Ok(Self {
            queues,
            gc_stats: GcMetrics::register(registry)?,
            periodic_stats: PeriodicMetrics::register(registry)?,
            placement_stats: PlacementMetrics::register(registry)?,
            cluster: ClusterMetrics::register(registry)?,
            leader,
        })
    }
}

/// What a server runs with.
pub struct ServerConfig {
    pub options: ServerOptions,
    pub enabled: Enabled,
    pub metrics: ControllerMetrics,
    /// This server's name in the election.
    pub candidate: String,
    pub election_ttl: Duration,
    /// Mirrors whether this server leads (for the HTTP status route).
    pub leading: watch::Sender<bool>,
}

/// Runs a server's controllers: campaign as `config.candidate`, run a term
/// each time this server leads, until `shutdown` becomes true.
pub async fn run_server(store: Store, config: ServerConfig, mut shutdown: watch::Receiver<bool>) {
    let ServerConfig {
        options,
        enabled,
        metrics,
        candidate,
        election_ttl,
        leading: leading_out,
    } = config;
    let election = Arc::new(store.campaign(ELECTION, candidate.clone(), election_ttl));
    let mut leading = election.subscribe();
    let mirror = {
        let (mut rx, gauge) = (election.subscribe(), metrics.leader.clone());
        tokio::spawn(async move {
            loop {
                let now = *rx.borrow_and_update();
                gauge.set(i64::from(now));
                leading_out.send_replace(now);
                if rx.changed().await.is_err() {
                    break;
                }
            }
        })
    };
    let options = Arc::new(options);
    loop {
        tokio::select! {
            _ = shutdown.wait_for(|stop| *stop) => break,
            changed = leading.wait_for(|l| *l) => if changed.is_err() { break },
        }
        tracing::info!(%candidate, "leading: starting the controllers");
        let (stop_term, term_stopped) = watch::channel(false);
        let term = run_term(
            store.clone(),
            options.clone(),
            Fence::of(election.clone()),
            enabled.clone(),
            metrics.clone(),
            term_stopped,
        );
        tokio::pin!(term);
        let mut ended_by_shutdown = false;
        tokio::select! {
            _ = &mut term => {}
            _ = leading.wait_for(|l| !*l) => {
                tracing::warn!(%candidate, "lost leadership: stopping the controllers");
                let _ = stop_term.send(true);
                term.await;
            }
            _ = shutdown.wait_for(|stop| *stop) => {
                let _ = stop_term.send(true);
                term.await;
                ended_by_shutdown = true;
            }
        }
        if ended_by_shutdown {
            break;
        }
    }
    mirror.abort();
    metrics.leader.set(0);
    // Hand over now rather than after the lease TTL.
    match Arc::try_unwrap(election) {
        Ok(election) => {
            if let Err(e) = election.resign().await {
                tracing::warn!(error = %e, "resigning leadership failed");
            }
        }
        Err(_) => tracing::debug!("election still shared; it ends when dropped"),
    }
}

/// One leadership term: view, queues, controllers, until `stop`.
pub async fn run_term(
    store: Store,
    options: Arc<ServerOptions>,
    fence: Fence,
    enabled: Enabled,
    metrics: ControllerMetrics,
    stop: watch::Receiver<bool>,
) {
    // Without the deployments controller nothing would move a deployment
    // on: versions then roll out by max_parallel alone.
    let options = if options.deployments && !enabled.is_on(deployments::controller::NAME) {
        Arc::new(ServerOptions {
            deployments: false,
            ..(*options).clone()
        })
    } else {
        options
    };
    let cell: Arc<OnceLock<ClusterView>> = Arc::new(OnceLock::new());
    let mut hooks = Hooks::default();
    let mut starts: Vec<Start> = Vec::new();
    for (descriptor, queue_metrics) in CONTROLLERS.iter().zip(&metrics.queues) {
        if enabled.is_on(descriptor.name) {
            let mut wiring = Wiring {
                store: &store,
                options: &options,
                view: &cell,
                hooks: &mut hooks,
                metrics: &metrics,
                queue_metrics: queue_metrics.clone(),
            };
            starts.push((descriptor.wire)(&mut wiring));
        }
    }
    metrics.cluster.register_hooks(&mut hooks);
    let (view, _informers) = ClusterView::start(&store, hooks);
    let _ = cell.set(view.clone());
    let mut waiting = stop.clone();
    tokio::select! {
        _ = view.ready() => {}
        _ = waiting.wait_for(|s| *s) => return,
    }
    let ctx = Context {
        store,
        view: view.clone(),
        fence,
        options: options.clone(),
    };

    let mut tasks = JoinSet::new();
    tasks.spawn(metrics.cluster.clone().run(view, stop.clone()));
    tasks.spawn(gc::compaction::run(
        ctx.store.clone(),
        options.gc.compaction_interval,
        metrics.gc_stats.clone(),
        stop.clone(),
    ));
    for start in starts {
        tasks.spawn(start(ctx.clone(), stop.clone()));
    }
    while let Some(joined) = tasks.join_next().await {
        if let Err(e) = joined {
            tracing::error!(error = %e, "a controller task failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_runs_the_named_controllers() {
        let enabled = Enabled::only(&[gc::controller::NAME, job::controller::NAME]);
        let on: Vec<_> = names().filter(|n| enabled.is_on(n)).collect();
        assert_eq!(on, [job::controller::NAME, gc::controller::NAME]);
    }

    #[test]
    fn disabling_knows_the_names() {
        let mut enabled = Enabled::default();
        assert!(names().all(|n| enabled.is_on(n)));
        assert!(enabled.disable(drain::NAME));
        assert!(!enabled.is_on(drain::NAME));
        assert!(!enabled.disable("no-such-controller"));
        assert_eq!(names().count(), CONTROLLERS.len());
    }
}
