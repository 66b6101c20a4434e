//! cli's integration tests, one binary so the dependency graph is
//! linked once; each module was a test binary of its own.

mod agent;
mod alloc_restart;
mod alloc_stats;
mod apply;
mod chaos;
mod checks;
mod cli_api;
mod cli_rollout;
mod common;
mod deployments;
mod discovery;
mod exec;
mod job_files;
mod kv;
mod logs;
mod metrics;
mod node_identity;
mod obs;
mod observability;
mod periodic;
mod pull;
mod server;
mod services;
mod task_lifecycle;
mod templates;
mod tls_acl;
mod ui_browser;
mod validate_inspect;
mod workload_policy;
