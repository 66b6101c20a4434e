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

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use drover_store::Store;
use prometheus::{IntGauge, Registry};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::cluster::metrics::ClusterMetrics;
use crate::cluster::{ClusterView, Hooks, ObjectKey};
use crate::context::{Context, Fence, ServerOptions};
use crate::gc::metrics::GcMetrics;
use crate::lifecycle_controller::{self, Fleet};
use crate::periodic::metrics::PeriodicMetrics;
use crate::placement::metrics::PlacementMetrics;
use crate::runtime::{BackoffConfig, Controller, Metrics, WorkQueue};
use crate::{
    deployment_controller, drain, gc, gc_controller, job_controller, periodic,
    placement_controller, service_controller,
};

/// The election all servers campaign in.
pub const ELECTION: &str = "controllers";

/// Which controllers run (each can be switched off by flag).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Enabled {
    pub job: bool,
    pub placement: bool,
    pub lifecycle: bool,
    pub drain: bool,
    pub services: bool,
    pub deployments: bool,
    pub gc: bool,
    pub periodic: bool,
}

impl Default for Enabled {
    fn default() -> Self {
        Self {
            job: true,
            placement: true,
            lifecycle: true,
            drain: true,
            services: true,
            deployments: true,
            gc: true,
            periodic: true,
        }
    }
}

impl Enabled {
    /// The controller names, for flags and logs.
    pub const NAMES: [&'static str; 8] = [
        job_controller::NAME,
        placement_controller::NAME,
        lifecycle_controller::NAME,
        drain::NAME,
        service_controller::NAME,
        deployment_controller::NAME,
        gc_controller::NAME,
        periodic::NAME,
    ];

    /// Only the controllers called `names` (as in [`Enabled::NAMES`]).
    pub fn only(names: &[&str]) -> Enabled {
        let mut enabled = Enabled::default();
        for name in Enabled::NAMES {
            if !names.contains(&name) {
                enabled.disable(name);
            }
        }
        enabled
    }

    /// Switches off the controller called `name`; false if no such name.
    pub fn disable(&mut self, name: &str) -> bool {
        let flag = match name {
            n if n == job_controller::NAME => &mut self.job,
            n if n == placement_controller::NAME => &mut self.placement,
            n if n == lifecycle_controller::NAME => &mut self.lifecycle,
            n if n == drain::NAME => &mut self.drain,
            n if n == service_controller::NAME => &mut self.services,
            n if n == deployment_controller::NAME => &mut self.deployments,
            n if n == gc_controller::NAME => &mut self.gc,
            n if n == periodic::NAME => &mut self.periodic,
            _ => return false,
        };
        *flag = false;
        true
    }
}

/// Metrics of every controller, registered once per process and shared by
/// all terms.
#[derive(Clone)]
pub struct ControllerMetrics {
    job: Metrics,
    placement: Metrics,
    lifecycle: Metrics,
    drain: Metrics,
    services: Metrics,
    deployments: Metrics,
    gc: Metrics,
    /// Objects collected, pass duration, compacted revision.
    gc_stats: GcMetrics,
    periodic: Metrics,
    /// Launch times, successes and skips of periodic jobs.
    periodic_stats: PeriodicMetrics,
    /// Placed and failed placements, pass latency.
    placement_stats: PlacementMetrics,
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
        Ok(Self {
            job: Metrics::register(job_controller::NAME, registry)?,
            placement: Metrics::register(placement_controller::NAME, registry)?,
            lifecycle: Metrics::register(lifecycle_controller::NAME, registry)?,
            drain: Metrics::register(drain::NAME, registry)?,
            services: Metrics::register(service_controller::NAME, registry)?,
            deployments: Metrics::register(deployment_controller::NAME, registry)?,
            gc: Metrics::register(gc_controller::NAME, registry)?,
            gc_stats: GcMetrics::register(registry)?,
            periodic: Metrics::register(periodic::NAME, registry)?,
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
            enabled,
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
    let options = if options.deployments && !enabled.deployments {
        Arc::new(ServerOptions {
            deployments: false,
            ..(*options).clone()
        })
    } else {
        options
    };
    let backoff = BackoffConfig::default();
    let job_q = WorkQueue::<ObjectKey>::with_metrics(job_controller::NAME, backoff, metrics.job);
    let placement_q = WorkQueue::<ObjectKey>::with_metrics(
        placement_controller::NAME,
        backoff,
        metrics.placement,
    );
    let lifecycle_q =
        WorkQueue::<Fleet>::with_metrics(lifecycle_controller::NAME, backoff, metrics.lifecycle);
    let drain_q = WorkQueue::<String>::with_metrics(drain::NAME, backoff, metrics.drain);
    let services_q =
        WorkQueue::<ObjectKey>::with_metrics(service_controller::NAME, backoff, metrics.services);
    let deployments_q = WorkQueue::<ObjectKey>::with_metrics(
        deployment_controller::NAME,
        backoff,
        metrics.deployments,
    );
    let periodic_q =
        WorkQueue::<ObjectKey>::with_metrics(periodic::NAME, backoff, metrics.periodic);

    let cell: Arc<OnceLock<ClusterView>> = Arc::new(OnceLock::new());
    let mut hooks = Hooks::default();
    if enabled.job {
        job_controller::register_hooks(&job_q, cell.clone(), &mut hooks);
    }
    let queued = placement_controller::QueuedJobs::default();
    if enabled.placement {
        placement_controller::register_hooks(&placement_q, cell.clone(), &mut hooks, &queued);
    }
    // Created now, when leadership starts: every node gets a fresh grace.
    let tracker = enabled.lifecycle.then(|| {
        lifecycle_controller::register_hooks(
            store.keys().clone(),
            &options.lifecycle,
            &lifecycle_q,
            &mut hooks,
        )
    });
    if enabled.drain {
        drain::register_hooks(&drain_q, cell.clone(), &mut hooks);
    }
    if enabled.services {
        service_controller::register_hooks(&services_q, cell.clone(), &mut hooks);
    }
    if enabled.deployments {
        deployment_controller::register_hooks(&deployments_q, cell.clone(), &mut hooks);
    }
    if enabled.periodic {
        periodic::register_hooks(&periodic_q, cell.clone(), &mut hooks);
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
    tasks.spawn(metrics.cluster.clone().run(view.clone(), stop.clone()));
    if enabled.job {
        for key in job_controller::resync_keys(&view) {
            job_q.add(key);
        }
        let resync_view = view.clone();
        let controller = Controller::new(
            Arc::new(job_controller::JobController::new(ctx.clone())),
            job_q.clone(),
            options.job_workers,
        )
        .with_resync(
            options.resync,
            Arc::new(move || job_controller::resync_keys(&resync_view)),
        );
        tasks.spawn(controller.run(stop.clone()));
    }
    if enabled.placement {
        for key in placement_controller::resync_keys(&view) {
            placement_q.add(key);
        }
        let controller = placement_controller::controller(
            ctx.clone(),
            placement_q,
            queued,
            metrics.placement_stats.clone(),
        );
        tasks.spawn(controller.run(stop.clone()));
    }
    if let Some(tracker) = tracker {
        lifecycle_q.add(Fleet);
        let controller = Controller::new(
            Arc::new(lifecycle_controller::LifecycleController::new(
                ctx.clone(),
                tracker,
            )),
            lifecycle_q,
            1,
        )
        .with_resync(options.resync, Arc::new(lifecycle_controller::resync_keys));
        tasks.spawn(controller.run(stop.clone()));
    }
    if enabled.drain {
        for key in drain::resync_keys(&view) {
            drain_q.add(key);
        }
        let resync_view = view.clone();
        let controller = Controller::new(
            Arc::new(drain::DrainController::new(ctx.clone())),
            drain_q,
            2,
        )
        .with_resync(
            options.resync,
            Arc::new(move || drain::resync_keys(&resync_view)),
        );
        tasks.spawn(controller.run(stop.clone()));
    }
    if enabled.services {
        // Every allocation and every registration once: a new leader
        // deregisters what changed, or was orphaned, while none led.
        for key in service_controller::resync_keys(&view) {
            services_q.add(key);
        }
        let resync_view = view.clone();
        let controller = Controller::new(
            Arc::new(service_controller::ServiceController::new(ctx.clone())),
            services_q,
            2,
        )
        .with_resync(
            options.resync,
            Arc::new(move || service_controller::resync_keys(&resync_view)),
        );
        tasks.spawn(controller.run(stop.clone()));
    }
    if enabled.deployments {
        for key in deployment_controller::resync_keys(&view) {
            deployments_q.add(key);
        }
        let resync_view = view.clone();
        let controller = Controller::new(
            Arc::new(deployment_controller::DeploymentController::new(
                ctx.clone(),
            )),
            deployments_q,
            2,
        )
        .with_resync(
            options.resync,
            Arc::new(move || deployment_controller::resync_keys(&resync_view)),
        );
        tasks.spawn(controller.run(stop.clone()));
    }
    if enabled.gc {
        let queue = WorkQueue::<gc_controller::Pass>::with_metrics(
            gc_controller::NAME,
            backoff,
            metrics.gc,
        );
        queue.add(gc_controller::Pass);
        let reconciler = gc_controller::GcController::new(ctx.clone(), metrics.gc_stats.clone());
        let controller = Controller::new(Arc::new(reconciler), queue, 1);
        tasks.spawn(controller.run(stop.clone()));
    }
    tasks.spawn(gc::compaction::run(
        ctx.store.clone(),
        options.gc.compaction_interval,
        metrics.gc_stats.clone(),
        stop.clone(),
    ));
    if enabled.periodic {
        for key in periodic::resync_keys(&view) {
            periodic_q.add(key);
        }
        let resync_view = view.clone();
        let controller = Controller::new(
            Arc::new(periodic::PeriodicController::new(
                ctx.clone(),
                metrics.periodic_stats.clone(),
                options.periodic_children_kept,
            )),
            periodic_q,
            2,
        )
        .with_resync(
            options.resync,
            Arc::new(move || periodic::resync_keys(&resync_view)),
        );
        tasks.spawn(controller.run(stop.clone()));
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
        let enabled = Enabled::only(&[gc_controller::NAME, job_controller::NAME]);
        assert!(enabled.gc && enabled.job);
        assert!(!enabled.placement && !enabled.lifecycle && !enabled.drain);
        assert!(!enabled.services && !enabled.deployments && !enabled.periodic);
    }
}
