//! Controllers: the reconcile runtime and one module per controller.
//!
//! # Layout
//! - [`job_reconcile`]: the pure core of the job controller — for one task
//!   group, compare the desired count with the observed allocations and
//!   return a plan of named buckets (place, stop, reschedule, lost,
//!   destructive update, ignore), plus the group summary and the job status.
//!   No I/O, no clock: time is an argument.
//!
//! - [`cluster`]: the in-memory view of etcd every controller reads (one
//!   informer per collection; split keys joined back into whole objects).
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
//! - [`node_lifecycle`]: the pure core of the node lifecycle controller —
//!   from heartbeat leases, which nodes become ready and which are marked
//!   down (after ttl + grace, a fresh grace after a leader change, rate
//!   limited, none at all on a suspected partition); and which allocations
//!   of a down node are lost.
//! - [`periodic`]: the periodic controller — launches the children of
//!   periodic jobs on schedule (cron, time zone, prohibit_overlap) and keeps
//!   at most N finished children of every periodic and parameterized parent.
//!
//! - [`job_rollout`]: the job controller's side of deployments — creates
//!   the deployment of a new service job version and tells the pure core
//!   what it allows (in-place updates, canaries, the update budget).
//! - [`deployments`]: the pure core of the deployments controller.
//! - [`versions`]: job versions as allocations run them (snapshots memoised).
//!
//! Each `*_controller` module is the thin async shell of one controller.

pub mod cluster;
pub mod context;
pub mod deployment_controller;
pub mod deployments;
pub mod drain;
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
