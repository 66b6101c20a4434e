//! Controllers: the reconcile runtime and one module per controller.
//!
//! # Layout
//! Filled in by the controllers issue; this crate exists now so the workspace
//! boundaries of DESIGN.md are in place from the start.
