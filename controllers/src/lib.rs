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
//!   reasons, and scoring.
//! - [`node_lifecycle`]: the pure core of the node lifecycle controller —
//!   from heartbeat leases, which nodes become ready and which are marked
//!   down (after ttl + grace, a fresh grace after a leader change, rate
//!   limited, none at all on a suspected partition); and which allocations
//!   of a down node are lost.
//! - [`periodic`]: the periodic controller — launches the children of
//!   periodic jobs on schedule (cron, time zone, prohibit_overlap) and keeps
//!   at most N finished children of every periodic and parameterized parent.
//!
//! The async shells that commit plans come with the rest of the controllers
//! issue.

pub mod cluster;
pub mod context;
pub mod drain;
pub mod job_controller;
pub mod job_reconcile;
pub mod lifecycle_controller;
pub mod manager;
pub mod node_lifecycle;
pub mod periodic;
pub mod placement;
pub mod placement_controller;
pub mod runtime;
pub mod service_controller;
pub mod services;
