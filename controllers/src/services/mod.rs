//! The pure core of the service registration controller: from a job's
//! services, one allocation (spec, binding, status) and its node, the
//! registrations the catalog should hold for it
//! ([`desired_registrations`]); and from those and the existing ones, the
//! puts and deletes that converge them ([`plan`]). No I/O, no clock.
//!
//! Rules, as Nomad registers services:
//! - an allocation's services are registered while its desired status is
//!   `run`, its agent reports it `running` and its node is alive (heartbeat
//!   present, not marked down) and its job is not stopped; otherwise they
//!   are all deregistered. A task service also needs its task running; a
//!   group service follows the allocation.
//! - address: the port's `host_ip` (the node's address when empty) and the
//!   published host port; `address_mode = "driver"` (or `"alloc"`) takes the
//!   container's IP the agent reports (`TaskState.driver_ip`; the service
//!   waits until it is known and the task runs) and the container port
//!   (`to`, or the host port when `to` is 0). An explicit `address` wins.
//!   `port` is a label of the group network or a literal number (or empty:
//!   port 0).
//! - service name, tags, meta values and address are interpolated
//!   (`${NOMAD_*}`, `${attr.*}`, `${node.*}`, `${meta.*}`) in the
//!   environment of the task the service belongs to (a group service's
//!   `task`, else the group's first task), as the agent does for its checks.
//! - checks: the agent's latest result per check, matched by
//!   [`check_id`](drover_api_types::service::check_id).
//! - `provider` `consul`, `nomad` or empty: all register here.
//! - a canary allocation (until promoted) registers `canary_tags` instead of
//!   `tags` when there are any, and `canary_meta` over `meta`.

pub mod controller;
mod desired;
mod plan;
#[cfg(test)]
mod tests;

pub use controller::{ServiceController, DESCRIPTOR, NAME};
pub use desired::{desired_registrations, registration_id, should_register, AllocInputs, Desired};
pub use plan::{needs_write, plan, Plan, CHECK_UPDATE_INTERVAL};
