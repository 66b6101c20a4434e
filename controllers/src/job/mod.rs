//! The job controller: from each job's desired groups and its observed
//! allocations, the allocations it should have.
//!
//! - [`reconcile`]: the pure core — for one task group, a plan of named
//!   buckets (place, stop, reschedule, lost, disconnected, destructive
//!   update, migrate, canary, ignore), the group summary and the job status.
//! - [`controller`]: the shell — reads the view, commits the plan, fenced.
//! - [`rollout`]: the deployment a new version rolls out under, and which
//!   allocations are outdated.

pub mod controller;
pub mod reconcile;
pub mod rollout;

pub use controller::{JobController, DESCRIPTOR, NAME};
