//! apiserver's integration tests, one binary so the dependency graph is
//! linked once; each module was a test binary of its own.

mod acl;
mod cluster_api;
mod common;
mod consul_api;
mod consul_clients;
mod consul_synth;
mod dns;
mod jobs_api;
mod openapi;
mod rollout_api;
mod slow_clients;
mod submission_api;
mod ui;
