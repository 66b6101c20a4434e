//! The wire contract of drover's HTTP API, in one place: every request and
//! answer body the server sends and the CLI (or any Rust client) reads, and
//! [`Client`], a typed async client. The objects themselves (jobs,
//! allocations, nodes, deployments) are `drover-api-types`; this crate is
//! what the API wraps them in.
//!
//! # Layout
//! - [`client`]: [`Client`] — the address, the namespace, the blocking-query
//!   index and the API's errors in one place; one method per endpoint.
//! - [`error`]: the API's error body (`{"error", "field"}`) and the client's error.
//! - [`views`]: allocations and nodes as the API answers them (joined from
//!   their stored parts; building a view is pure).
//! - [`deployments`], [`deployment_actions`]: deployments and what operators do to them.
//! - [`jobs`], [`job_actions`], [`plan`], [`versions`]: registering, stopping,
//!   scaling, planning a job; its versions and reverting.
//! - [`children`]: children of periodic and parameterized jobs.
//! - [`allocs`], [`nodes`], [`namespaces`]: stopping an allocation; draining
//!   a node; namespaces.
//! - [`events`]: one line of the event stream.
//! - [`acl`]: ACL bootstrap, policies and tokens.
//! - [`agent_logs`]: the URL a node's agent serves a task's logs at.
//! - [`exec`]: running a command in a task — Nomad's exec frames, the
//!   bounds of a command and a frame, the agent's URL (pure).
//! - [`ws`]: a WebSocket client over plain TCP or TLS (the exec's), and
//!   the rustls settings of [`client::TlsFiles`].
//! - [`operator`]: the metrics scrape token.
//! - [`stats`]: an allocation's recent CPU and memory — the agent's
//!   samples, the server's answer in Nomad's `AllocResourceUsage` shape
//!   (pure).

pub mod acl;
pub mod agent_logs;
pub mod allocs;
pub mod children;
pub mod client;
pub mod deployment_actions;
pub mod deployments;
pub mod error;
pub mod events;
pub mod exec;
pub mod job_actions;
pub mod jobs;
pub mod namespaces;
pub mod nodes;
pub mod operator;
pub mod plan;
pub mod stats;
pub mod versions;
pub mod views;
pub mod ws;

pub use client::{Client, Indexed};
pub use error::{ApiErrorBody, ClientError};
