//! store's integration tests, one binary so the dependency graph is
//! linked once; each module was a test binary of its own.

mod cluster_failover;
mod common;
mod lease_election;
mod reflector;
mod tls_auth;
mod typed;
mod watch;
