//! controllers's integration tests, one binary so the dependency graph is
//! linked once; each module was a test binary of its own.

mod cluster_metrics;
mod common;
mod deployments;
mod full_cluster;
mod gc;
mod jobs;
mod lifecycle;
mod placement;
mod services;
