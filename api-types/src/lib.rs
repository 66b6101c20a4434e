//! drover's object model, validation, and the jobspec parsers.
//!
//! # Layout
//! - [`meta`]: `ObjectMeta` and the `ApiObject` trait the store files objects by.
//! - [`job`], [`group`], [`task`]: the Job kind, as a user writes it.
//! - [`node`], [`alloc`], [`service`], [`deployment`]: the kinds controllers
//!   and agents write.
//! - [`namespace`]: namespaces as objects (name rules, the deleting mark).
//! - [`acl`]: ACL policies (Nomad's language), tokens, and what a caller
//!   may do.
//! - [`redact`]: registry credentials hidden from every read of a job.
//! - [`resolve`]: which object a short reference (id prefix, name) means.
//! - [`duration`]: Go-style durations (`"30s"`).
//! - [`defaults`]: Nomad's defaults and [`defaults::canonicalize`].
//! - [`diagnostic`]: errors and warnings with `file:line:col` or object path.
//! - [`jobspec`]: Nomad HCL and YAML job files → canonical, validated jobs.
//! - [`validate`]: semantic checks, each naming the object path and the fix.
//! - [`docker`]: the docker driver `config` keys the agent applies, and
//!   `volumes` entries with their Docker options.
//! - [`agent_file`]: `drover agent --config`: the docker plugin policy and
//!   host volumes of a Nomad client configuration.
//! - [`join`]: join tokens as stored, and the rule for spending one.
//! - [`host_access`]: what a docker task asks of its node beyond its
//!   allocation (privileged, host paths, host network or pid) and what an
//!   agent allows (published as driver attributes).
//! - [`diff`]: a field-level diff of two jobs, rendered as `nomad plan` does.
//! - [`update`]: whether a group's change updates its allocations in
//!   place or replaces them (shared by plan and the job reconciler).
//! - [`template`]: Nomad `template` blocks — the env-only subset of
//!   consul-template's language and `env = true` files; the agent renders
//!   with it, validation parses with it.
//! - [`task_env`]: a task's `NOMAD_*` variables and `${…}` interpolation,
//!   shared by the agent and the service registration controller.

pub mod acl;
pub mod agent_file;
pub mod alloc;
pub mod children;
pub mod defaults;
pub mod deployment;
pub mod diagnostic;
pub mod diff;
pub mod docker;
pub mod duration;
pub mod group;
pub mod host_access;
pub mod job;
pub mod jobspec;
pub mod join;
pub mod meta;
#[cfg(any(test, feature = "fixtures"))]
pub mod mock;
pub mod namespace;
pub mod node;
pub mod redact;
pub mod resolve;
pub mod server;
pub mod service;
pub mod task;
pub mod task_env;
pub mod template;
pub mod update;
pub mod validate;

/// The Nomad release whose job file format and runtime drover implements:
/// nodes report it as `attr.nomad.version`, which job files constrain on.
pub const NOMAD_VERSION: &str = "1.8.0";

pub use alloc::Allocation;
pub use deployment::Deployment;
pub use diagnostic::{Diagnostic, Location, Severity};
pub use duration::Duration;
pub use group::TaskGroup;
pub use job::{Job, JobSpec, JobType};
pub use meta::{ApiObject, ObjectMeta, API_VERSION, DEFAULT_NAMESPACE};
pub use node::Node;
pub use service::ServiceRegistration;
pub use task::Task;
pub use update::{job_update_kind, update_kind, UpdateKind};
