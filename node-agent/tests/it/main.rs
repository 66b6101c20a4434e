//! node-agent's integration tests, one binary so the dependency graph is
//! linked once; each module was a test binary of its own.

mod docker;
mod heartbeat;
mod pinned_mounts;
mod simulate;
