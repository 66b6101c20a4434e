//! The apiserver: REST API, Consul-compatible catalog and KV, DNS, /metrics.
//!
//! # Layout
//! Filled in by the apiserver issue; this crate exists now so the workspace
//! boundaries of DESIGN.md are in place from the start.
