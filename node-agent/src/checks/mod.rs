//! Service health checks, as Consul runs them for Nomad: what to probe
//! (derived from the job's services, the allocation's ports and the
//! node's address), how results turn into a status (`passing`, `warning`,
//! `critical`, with `success_before_passing` / `failures_before_critical`),
//! and when `check_restart` restarts the task. Pure; the probes and their
//! timers live in [`run`].

pub mod run;

use std::time::Duration;

use chrono::{DateTime, Utc};
use drover_api_types::group::{Check, CheckRestart, Service};
use drover_api_types::service::{check_id, CheckStatus};

use crate::task_env::{interpolate, task_env, Lookup, TaskContext};

pub const PASSING: &str = "passing";
pub const WARNING: &str = "warning";
pub const CRITICAL: &str = "critical";

/// Consul's defaults when the job leaves them out.
const DEFAULT_INTERVAL: Duration = Duration::from_secs(10);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

/// What one probe does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    Http {
        url: String,
        method: String,
        headers: Vec<(String, String)>,
        body: String,
        tls_skip_verify: bool,
    },
    Tcp {
        addr: String,
    },
    /// Run in the task's container; exit 0 passes, 1 warns, else critical.
    Script {
        task: String,
        command: Vec<String>,
    },
}

/// One check of one service of an allocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckSpec {
    /// Stable within the allocation: `<service>/<check name or index>`.
    pub id: String,
    pub name: String,
    pub service: String,
    /// The task whose restart `check_restart` triggers.
    pub task: String,
    pub probe: Probe,
    pub interval: Duration,
    pub timeout: Duration,
    pub initial: String,
    pub success_before_passing: u32,
    pub failures_before_critical: u32,
    pub restart: Option<CheckRestart>,
}

/// Why a check cannot be built (the task fails with this message).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckError {
    #[error("service {service:?} check {check:?}: port {port:?} is not a port of the group network, nor a number")]
    UnknownPort {
        service: String,
        check: String,
        port: String,
    },
    #[error("service {service:?} check {check:?}: type {kind:?} is not supported (use http, tcp or script)")]
    UnsupportedType {
        service: String,
        check: String,
        kind: String,
    },
    #[error("service {service:?} check {check:?}: a script check needs a command")]
    NoCommand { service: String, check: String },
}

/// The checks of `ctx.task`'s services, and of the group's services whose
/// checks run against this task (a group service with `task` set to it;
/// when unset, the group's first main task: a group service's http and
/// tcp checks probe the group's port whatever the task, and are run — and
/// counted for health — while the group's main tasks run, never tied to a
/// lifecycle hook that has finished. Script checks name their task, which
/// validation requires).
pub fn checks_for(ctx: &TaskContext<'_>) -> Result<Vec<CheckSpec>, CheckError> {
    let env = task_env(ctx);
    let lookup = Lookup {
        env: &env,
        node: ctx.node,
        meta: &ctx.task.meta,
    };
    let expand = |s: &str| interpolate(s, &lookup);
    let first_task = ctx
        .group
        .tasks
        .iter()
        .find(|t| t.lifecycle.is_none())
        .or_else(|| ctx.group.tasks.first())
        .map(|t| t.name.as_str());
    let group_services = ctx.group.services.iter().filter(|s| {
        let owner = if s.task.is_empty() {
            first_task
        } else {
            Some(s.task.as_str())
        };
        owner == Some(ctx.task.name.as_str())
    });
    let mut out = Vec::new();
    for service in ctx.task.services.iter().chain(group_services) {
        let name = expand(&service.name);
        for (index, check) in service.checks.iter().enumerate() {
            out.push(check_spec(ctx, service, &name, index, check, &expand)?);
        }
    }
    Ok(out)
}

fn check_spec(
    ctx: &TaskContext<'_>,
    service: &Service,
    service_name: &str,
    index: usize,
    check: &Check,
    expand: &dyn Fn(&str) -> String,
) -> Result<CheckSpec, CheckError> {
    let check_name = if check.name.is_empty() {
        format!("service: {service_name:?} check")
    } else {
        expand(&check.name)
    };
    let port_label = if check.port.is_empty() {
        &service.port
    } else {
        &check.port
    };
    let address = || -> Result<String, CheckError> {
        host_address(ctx, port_label).ok_or_else(|| CheckError::UnknownPort {
            service: service_name.to_string(),
            check: check_name.clone(),
            port: port_label.clone(),
        })
    };
    let probe = match check.check_type.as_str() {
        "http" => {
            let scheme = if check.protocol.is_empty() {
                "http"
            } else {
                check.protocol.as_str()
            };
            let path = expand(&check.path);
            let path = if path.starts_with('/') {
                path
            } else {
                format!("/{path}")
            };
            let mut headers: Vec<(String, String)> = check
                .header
                .iter()
                .flat_map(|(k, vs)| vs.iter().map(move |v| (k.clone(), v.clone())))
                .collect();
            headers.sort();
            Probe::Http {
                url: format!("{scheme}://{}{path}", address()?),
                method: if check.method.is_empty() {
                    "GET".into()
                } else {
                    check.method.to_ascii_uppercase()
                },
                headers,
                body: check.body.clone(),
                tls_skip_verify: check.tls_skip_verify,
            }
        }
        "tcp" => Probe::Tcp { addr: address()? },
        "script" => {
            if check.command.is_empty() {
                return Err(CheckError::NoCommand {
                    service: service_name.to_string(),
                    check: check_name,
                });
            }
            let task = if check.task.is_empty() {
                ctx.task.name.clone()
            } else {
                check.task.clone()
            };
            Probe::Script {
                task,
                command: std::iter::once(&check.command)
                    .chain(&check.args)
                    .map(|s| expand(s))
                    .collect(),
            }
        }
        other => {
            return Err(CheckError::UnsupportedType {
                service: service_name.to_string(),
                check: check_name,
                kind: other.to_string(),
            })
        }
    };
    let positive = |n: Option<i64>| n.unwrap_or(0).clamp(0, i64::from(u32::MAX)) as u32;
    Ok(CheckSpec {
        id: check_id(
            service_name,
            if check.name.is_empty() {
                ""
            } else {
                &check_name
            },
            index,
        ),
        name: check_name,
        service: service_name.to_string(),
        task: ctx.task.name.clone(),
        probe,
        interval: nonzero(check.interval.as_std(), DEFAULT_INTERVAL),
        timeout: nonzero(check.timeout.as_std(), DEFAULT_TIMEOUT),
        initial: match check.initial_status.as_str() {
            PASSING | WARNING => check.initial_status.clone(),
            _ => CRITICAL.into(),
        },
        success_before_passing: positive(check.success_before_passing),
        failures_before_critical: positive(check.failures_before_critical),
        restart: check.check_restart.clone().filter(|r| r.limit > 0),
    })
}

fn nonzero(d: Duration, default: Duration) -> Duration {
    if d.is_zero() {
        default
    } else {
        d
    }
}

/// `<node address>:<host port>` for a port label (or a literal number).
fn host_address(ctx: &TaskContext<'_>, label: &str) -> Option<String> {
    let node_ip = &ctx.node.spec.address;
    if let Some(port) = ctx.alloc.binding.as_ref().and_then(|b| b.ports.get(label)) {
        let ip = if port.host_ip.is_empty() {
            node_ip
        } else {
            &port.host_ip
        };
        return Some(format!("{ip}:{}", port.value));
    }
    label
        .parse::<u16>()
        .ok()
        .filter(|p| *p > 0)
        .map(|p| format!("{node_ip}:{p}"))
}

/// What one probe found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub status: &'static str,
    pub output: String,
}

/// An HTTP answer's status as Consul reads it: 2xx passes, 429 (Too Many
/// Requests) warns, anything else is critical.
pub fn http_status(code: u16) -> &'static str {
    match code {
        200..=299 => PASSING,
        429 => WARNING,
        _ => CRITICAL,
    }
}

/// A script's exit code as Consul reads it.
pub fn exit_status(code: i64) -> &'static str {
    match code {
        0 => PASSING,
        1 => WARNING,
        _ => CRITICAL,
    }
}

/// A check's running state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckState {
    pub status: CheckStatus,
    consecutive_ok: u32,
    consecutive_bad: u32,
    /// Failures counted toward `check_restart` (after its grace).
    restart_failures: u32,
}

impl CheckState {
    pub fn new(spec: &CheckSpec) -> CheckState {
        CheckState {
            status: CheckStatus {
                check_id: spec.id.clone(),
                name: spec.name.clone(),
                status: spec.initial.clone(),
                output: String::new(),
                updated_at: None,
            },
            consecutive_ok: 0,
            consecutive_bad: 0,
            restart_failures: 0,
        }
    }

    /// Folds in one probe result. Returns true when `check_restart` says
    /// the task must restart now (the counter starts over).
    /// `task_started` is when the task (re)started: failures within the
    /// grace after it do not count.
    pub fn observe(
        &mut self,
        spec: &CheckSpec,
        outcome: Outcome,
        now: DateTime<Utc>,
        task_started: Option<DateTime<Utc>>,
    ) -> bool {
        let good = outcome.status == PASSING;
        if good {
            self.consecutive_ok = self.consecutive_ok.saturating_add(1);
            self.consecutive_bad = 0;
        } else {
            self.consecutive_bad = self.consecutive_bad.saturating_add(1);
            self.consecutive_ok = 0;
        }
        // Consul's thresholds: the status moves once that many results in
        // a row agree (0 and 1 both mean at once).
        let status = if good {
            if self.consecutive_ok >= spec.success_before_passing.max(1) {
                PASSING
            } else {
                self.status.status.as_str()
            }
        } else if self.consecutive_bad >= spec.failures_before_critical.max(1) {
            outcome.status
        } else {
            self.status.status.as_str()
        }
        .to_string();
        self.status.status = status;
        self.status.output = outcome.output;
        self.status.updated_at = Some(now);

        let Some(rule) = &spec.restart else {
            return false;
        };
        let counts = match self.status.status.as_str() {
            CRITICAL => true,
            WARNING => !rule.ignore_warnings,
            _ => false,
        };
        let grace = chrono::Duration::from_std(rule.grace.as_std()).unwrap_or_default();
        let in_grace = task_started.is_some_and(|t| now < t + grace);
        if !counts {
            self.restart_failures = 0;
            return false;
        }
        if in_grace {
            return false;
        }
        self.restart_failures += 1;
        if i64::from(self.restart_failures) >= rule.limit {
            self.restart_failures = 0;
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests;
