//! How the manager knows a controller: a [`Descriptor`] names it and wires
//! it into a term, in two steps. Before the term's view starts, `wire`
//! makes the controller's queue and hooks it to what the controller
//! watches; once the view is ready, the [`Start`] it returned queues every
//! key once and runs the controller until the term ends. Adding a
//! controller is one descriptor in its own module and one line in
//! [`super::CONTROLLERS`].

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};

use drover_store::Store;
use tokio::sync::watch;

use super::ControllerMetrics;
use crate::cluster::{ClusterView, Hooks};
use crate::context::{Context, ServerOptions};
use crate::runtime::{BackoffConfig, Controller, Metrics, Reconcile, WorkQueue};

pub struct Descriptor {
    /// For flags (`--disable-controller`), logs and metrics labels.
    pub name: &'static str,
    pub wire: fn(&mut Wiring<'_>) -> Start,
}

/// What a controller is wired with, before the term's view starts.
pub struct Wiring<'a> {
    pub store: &'a Store,
    pub options: &'a ServerOptions,
    /// Filled once the view is started: hooks read it, and do nothing
    /// before it is there (the term queues every key once it is).
    pub view: &'a Arc<OnceLock<ClusterView>>,
    pub hooks: &'a mut Hooks,
    pub metrics: &'a ControllerMetrics,
    /// The controller's own queue and reconcile metrics.
    pub queue_metrics: Metrics,
}

impl Wiring<'_> {
    /// A fresh queue (each term starts empty) on the controller's metrics.
    pub fn queue<K: Clone + Eq + std::hash::Hash>(&self, name: &'static str) -> WorkQueue<K> {
        WorkQueue::with_metrics(name, BackoffConfig::default(), self.queue_metrics.clone())
    }
}

/// Hooks a queue to the changes that concern its controller.
pub type RegisterHooks<K> = fn(&WorkQueue<K>, Arc<OnceLock<ClusterView>>, &mut Hooks);

/// A controller's loop, until the term's stop signal.
pub type Run = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Once the view is ready: queue the first keys, build the controller.
pub type Start = Box<dyn FnOnce(Context, watch::Receiver<bool>) -> Run + Send>;

/// The usual shape: one queue fed by `register` hooks, every key of
/// `resync` queued at the start and again every `options.resync`, and
/// `workers` workers on the reconciler `build` makes.
pub fn standard<R: Reconcile>(
    wiring: &mut Wiring<'_>,
    name: &'static str,
    register: RegisterHooks<R::Key>,
    resync: fn(&ClusterView) -> Vec<R::Key>,
    workers: usize,
    build: impl FnOnce(Context) -> R + Send + 'static,
) -> Start {
    let queue = wiring.queue::<R::Key>(name);
    register(&queue, wiring.view.clone(), wiring.hooks);
    Box::new(move |ctx: Context, stop| {
        for key in resync(&ctx.view) {
            queue.add(key);
        }
        let (view, period) = (ctx.view.clone(), ctx.options.resync);
        let controller = Controller::new(Arc::new(build(ctx)), queue, workers)
            .with_resync(period, Arc::new(move || resync(&view)));
        Box::pin(controller.run(stop))
    })
}
