//! The node agent: fingerprint, heartbeat lease, one worker per allocation and
//! the Docker driver.
//!
//! # Layout
//! Filled in by the node agent issue; this crate exists now so the workspace
//! boundaries of DESIGN.md are in place from the start.
