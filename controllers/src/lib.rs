//! Controllers: the reconcile runtime and one module per controller.
//!
//! # Layout
//! - [`job_reconcile`]: the pure core of the job controller — for one task
//!   group, compare the desired count with the observed allocations and
//!   return a plan of named buckets (place, stop, reschedule, lost,
//!   disconnected, destructive update, migrate, canary, ignore), plus the
//!   group summary and the job status; which of an original back from a
//!   disconnected node and its replacement stays (`disconnect.reconcile`).
//!   No I/O, no clock: time is an argument. [`job_controller`] is its shell.
//! - [`cluster`]: the in-memory view of etcd every controller reads (one
//!   informer per collection; split keys joined back into whole objects),
//!   and the mappers from a change to the keys a controller queues.
//! - [`context`]: what a controller shell gets: store, view, leader fence,
//!   server options.
//! - [`runtime`]: the keyed work queue and reconcile loop every controller
//!   runs on.
//! - [`placement`]: the pure core of placement — feasibility checks with
//!   reasons, and scoring; a replacement is lent the room the allocation
//!   it replaces holds (bound there once that one is terminal), so full
//!   clusters still roll out.
//! - [`gc`]: the pure core of garbage collection — which terminal
//!   allocations, finished jobs and deployments and old job versions may
//!   go — and etcd compaction; [`gc_controller`] is its shell.
//! - [`placement_controller`]: the shell of [`placement`] — binds
//!   unplaced allocations, one job at a time, and records why the rest
//!   wait.
//! - [`node_lifecycle`]: the pure core of the node lifecycle controller —
//!   from heartbeat leases, which nodes become ready and which are marked
//!   down (after ttl + grace, a fresh grace after a leader change, rate
//!   limited, none at all on a suspected partition); and what a silent
//!   node's allocations become (`unknown` within `disconnect.lost_after`,
//!   the node `disconnected`; `lost` otherwise). [`lifecycle_controller`] is
//!   its shell.
//! - [`drain`]: the drainer — marks a draining node's allocations to
//!   migrate, `migrate.max_parallel` at a time, until the deadline.
//! - [`services`]: the pure core of service registration — an allocation's
//!   wanted catalog entries (names, tags, addresses, checks interpolated);
//!   [`service_controller`] is its shell.
//! - [`manager`]: every controller's descriptor in one list
//!   (`CONTROLLERS`), which run (`--disable-controller`), their metrics, and
//!   starting them all under one leadership.
//! - [`error`]: the one error type every reconcile returns.
//! - [`periodic`]: the periodic controller — launches the children of
//!   periodic jobs on schedule (cron, time zone, prohibit_overlap) and keeps
//!   at most N finished children of every periodic and parameterized parent.
//!
//! - [`job_rollout`]: the job controller's side of deployments — creates
//!   the deployment of a new service job version and tells the pure core
//!   what it allows (in-place updates, canaries, the update budget).
//! - [`deployments`]: the pure core of the deployments controller;
//!   [`deployment_controller`] is its shell.
//! - [`versions`]: job versions as allocations run them (snapshots memoised).
//!
//! Each `*_controller` module is the thin async shell of one controller.

pub mod cluster;
pub mod context;
pub mod deployment_controller;
pub mod deployments;
pub mod drain;
pub mod error;
pub mod gc;
pub mod gc_controller;
pub mod job_controller;
pub mod job_reconcile;
pub mod job_rollout;
pub mod lifecycle_controller;
pub mod manager;
pub mod node_lifecycle;
pub mod periodic;
pub mod placement;
pub mod placement_controller;
pub mod runtime;
pub mod service_controller;
pub mod services;
pub mod versions;
