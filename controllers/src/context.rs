//! What every controller shell gets: the store, the cluster view, the leader
//! fence its writes carry, and the server's options.

use std::sync::Arc;
use std::time::Duration;

use drover_api_types::validate::JobLimits;
use drover_store::{Atomic, Election, Guard, Store};

use crate::cluster::ClusterView;
use crate::gc::Thresholds;
use crate::node_lifecycle::LifecycleConfig;
use crate::placement::PlacementOptions;

/// A guard that holds only while this server leads. Every controller write
/// carries it, so a deposed leader's late transaction fails instead of
/// racing its successor (a conflict, which the runtime retries and the next
/// read resolves).
#[derive(Clone)]
pub struct Fence(Arc<dyn Fn() -> Option<(String, Guard)> + Send + Sync>);

/// Returned when a write is attempted without leading.
#[derive(Debug, Clone, thiserror::Error)]
#[error("this server does not lead: refusing to write")]
pub struct NotLeader;

impl Fence {
    /// The fence of a running election.
    pub fn of(election: Arc<Election>) -> Self {
        Fence(Arc::new(move || election.fence()))
    }

    /// No fence: writes are unconditional. For tests of a single controller
    /// and for tools that run without an election.
    pub fn unfenced() -> Self {
        Fence(Arc::new(|| Some((String::new(), Guard::None))))
    }

    /// Adds the fence to `unit`, or fails when this server does not lead.
    pub fn guard(&self, unit: Atomic) -> Result<Atomic, NotLeader> {
        match (self.0)() {
            Some((key, guard)) if guard != Guard::None => Ok(unit.guard(key, guard)),
            Some(_) => Ok(unit),
            None => Err(NotLeader),
        }
    }
}

/// Transactions a controller keeps in flight when committing many
/// independent units (bindings, new allocations): one after another, the
/// round trips, not etcd, were the limit.
pub const COMMIT_IN_FLIGHT: usize = 4;

/// Server-wide options of the controllers.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    pub placement: PlacementOptions,
    pub lifecycle: LifecycleConfig,
    /// Safety-net resync of every controller.
    pub resync: Duration,
    /// Workers of the job controller (placement runs one, so that capacity
    /// decisions are serial).
    pub job_workers: usize,
    /// Service job versions roll out under deployments (off when the
    /// deployments controller is disabled: nothing would move them on).
    pub deployments: bool,
    /// Garbage collection and etcd compaction.
    pub gc: GcOptions,
    /// Finished children kept per periodic or parameterized parent (the
    /// periodic controller deletes older ones).
    pub periodic_children_kept: usize,
    /// How many allocations a job may ask for: a job over them (stored
    /// before they were lowered, or written around the API) is not
    /// planned at all.
    pub limits: JobLimits,
}

/// When the garbage collector runs and what it keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GcOptions {
    /// Time between passes.
    pub interval: Duration,
    pub thresholds: Thresholds,
    /// Time between etcd compactions; zero disables them.
    pub compaction_interval: Duration,
}

impl Default for GcOptions {
    fn default() -> Self {
        GcOptions {
            interval: Duration::from_secs(60),
            thresholds: Thresholds::default(),
            compaction_interval: Duration::from_secs(300),
        }
    }
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            placement: PlacementOptions::default(),
            lifecycle: LifecycleConfig::default(),
            resync: Duration::from_secs(60),
            job_workers: 4,
            deployments: true,
            gc: GcOptions::default(),
            periodic_children_kept: 5,
            limits: JobLimits::default(),
        }
    }
}

/// Everything a controller shell needs. Cheap to clone.
#[derive(Clone)]
pub struct Context {
    pub store: Store,
    pub view: ClusterView,
    pub fence: Fence,
    pub options: Arc<ServerOptions>,
}
