//! Controllers: the reconcile runtime and one folder per controller, each
//! the same shape — a pure core (decisions as data: no I/O, no clock, time
//! is an argument) and `controller.rs`, its thin async shell with the
//! controller's `DESCRIPTOR` (how the manager wires and runs it).
//!
//! # Layout
//! - [`job`]: the job controller — `reconcile/`, the core: for one task
//!   group, compare the desired count with the observed allocations and
//!   return a plan of named buckets (place, stop, reschedule, lost,
//!   disconnected, destructive update, migrate, canary, ignore), the group
//!   summary and the job status, which of an original back from a
//!   disconnected node and its replacement stays (`disconnect.reconcile`);
//!   `rollout`, the deployment a new service version rolls out under and
//!   what it allows (in-place updates, canaries, the update budget).
//! - [`placement`]: feasibility checks with reasons, scoring, one pass over
//!   a job's unplaced allocations (a replacement is lent the room of the one
//!   it replaces, so full clusters still roll out) within its namespace's
//!   quota; the shell binds them, one job at a time, and records why the
//!   rest wait.
//! - [`node_lifecycle`]: from heartbeat leases, which nodes become ready and
//!   which are marked down (after ttl + grace, a fresh grace after a leader
//!   change, rate limited, none at all on a suspected partition), and what a
//!   silent node's allocations become (`unknown` within
//!   `disconnect.lost_after`, the node `disconnected`; `lost` otherwise).
//! - [`node_jobs`]: each node's copies of the job versions its allocations
//!   run (what a node's etcd role lets it read), written when missing and
//!   deleted a grace period after nothing names them.
//! - [`drain`]: marks a draining node's allocations to migrate,
//!   `migrate.max_parallel` at a time, until the deadline.
//! - [`services`]: an allocation's wanted catalog entries (names, tags,
//!   addresses, checks interpolated) and the writes that get them there.
//! - [`deployments`]: a deployment's progress, promotion, failure and
//!   auto-revert.
//! - [`gc`]: which terminal allocations, finished jobs and deployments and
//!   old job versions may go; etcd compaction.
//! - [`periodic`]: launches the children of periodic jobs on schedule
//!   (cron, time zone, prohibit_overlap) and keeps at most N finished
//!   children of every periodic and parameterized parent.
//! - [`manager`]: every controller's descriptor in one list
//!   (`CONTROLLERS`), which run (`--disable-controller`), their metrics, and
//!   starting them all under one leadership.
//! - [`cluster`]: the in-memory view of etcd every controller reads (one
//!   informer per collection; split keys joined back into whole objects),
//!   and the mappers from a change to the keys a controller queues.
//! - [`context`]: what a controller shell gets: store, view, leader fence,
//!   server options.
//! - [`runtime`]: the keyed work queue and reconcile loop every controller
//!   runs on.
//! - [`error`]: the one error type every reconcile returns.
//! - [`versions`]: job versions as allocations run them (snapshots memoised).

pub mod cluster;
pub mod context;
pub mod deployments;
pub mod drain;
pub mod error;
pub mod gc;
pub mod job;
pub mod manager;
pub mod node_jobs;
pub mod node_lifecycle;
pub mod periodic;
pub mod placement;
pub mod runtime;
pub mod services;
pub mod versions;
