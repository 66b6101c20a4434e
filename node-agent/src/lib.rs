//! The node agent: fingerprint, heartbeat lease, one worker per allocation and
//! the Docker driver.
//!
//! # Layout
//! - [`simulate`]: many simulated nodes in one process, without Docker, for
//!   tests and the scheduling benchmark (`drover agent --simulate N`).
//!
//! The real agent comes with the node agent issue.

pub mod simulate;
