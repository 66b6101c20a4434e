//! The node agent: fingerprint, heartbeat lease, one worker per allocation and
//! the Docker driver.
//!
//! # Layout
//! - [`driver`]: the container driver — [`driver::ContainerSpec`] (what to
//!   create) and [`driver::Observed`] (what Docker shows), and the bollard
//!   shell in `driver::docker`.
//! - [`fingerprint`]: what this machine is (Nomad's attribute names),
//!   resources, and the node id kept in the data dir.
//! - [`gc`]: when finished allocations' containers and directories go
//!   (pure), and the registry workers report to.
//! - [`heartbeat`]: node registration and the lease that never gives up.
//! - [`task_env`]: the `NOMAD_*`/`DROVER_*` runtime variables and `${…}`
//!   interpolation (pure).
//! - [`task_state`]: task states and events in the allocation status, and
//!   the client status derived from them (pure).
//! - `template`: Nomad `template` blocks — the env-only subset of
//!   consul-template's language, and `env = true` files (pure; it lives in
//!   `drover_api_types::template`, so validation parses templates too).
//! - [`checks`]: service health checks — what to probe, thresholds,
//!   `check_restart` (pure) — and their timers and probes (`checks::run`).
//! - [`container_spec`]: a task of an allocation → the container to create
//!   (pure), with a stable spec hash.
//! - [`confined`]: reading and writing files under a directory containers
//!   can write to, never following a link out of it.
//! - [`secrets_tmpfs`]: a task's `secrets/` mounted as a tmpfs (unmounted
//!   before its allocation's directory is removed).
//! - [`pinned_mounts`]: mount sources inside what containers can write,
//!   bind-mounted by the agent onto a path of its own before Docker sees
//!   them, so a link swapped in cannot redirect the mount.
//! - [`actions`]: desired tasks + observed containers → what to do to
//!   Docker (pure): keep, create, replace, report an exit, stop, remove.
//! - [`lifecycle`]: the order of prestart, main, poststart and poststop
//!   tasks within an allocation (pure).
//! - [`restart`]: the restart policy after a task exits (pure).
//! - [`user_restart`]: a user's restart of running tasks — which
//!   containers it is due on, and one under way across an agent restart
//!   (pure).
//! - [`disconnect`]: when an agent out of contact with the servers stops an
//!   allocation itself (`disconnect.stop_on_client_after`; pure).
//! - [`worker`]: one worker per allocation — desired vs Docker through
//!   [`actions`], restarts, task events, the allocation status.
//! - [`agent`]: `drover agent` — identity, fingerprint, registration, the
//!   assignment watch, the workers, driver health, the orphan sweep.
//! - [`http`]: the agent's own HTTP API (task logs, exec, `/metrics`),
//!   served by `drover_serve` (plain or TLS, as the server's API).
//! - [`exec`]: an exec session — a Docker exec relayed over the
//!   WebSocket the server opened, in Nomad's exec frames.
//! - [`metrics`]: the agent's metrics — counters, what workers report,
//!   Docker stats sampled on a timer; stale series removed.
//! - [`simulate`]: many simulated nodes in one process, without Docker, for
//!   tests and the scheduling benchmark (`drover agent --simulate N`).

pub mod actions;
pub mod agent;
pub mod checks;
pub mod confined;
pub mod container_spec;
pub mod disconnect;
pub mod driver;
pub mod exec;
pub mod fingerprint;
pub mod gc;
pub mod heartbeat;
pub mod http;
pub mod lifecycle;
pub mod metrics;
pub mod pinned_mounts;
pub mod restart;
pub mod secrets_tmpfs;
pub mod simulate;
pub mod task_env;
pub mod task_state;
pub use drover_api_types::template;
pub mod user_restart;
pub mod worker;
