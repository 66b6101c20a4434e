//! Which registrations one allocation should have right now.

use std::collections::BTreeMap;

use drover_api_types::alloc::{
    Allocation, AssignedPort, ClientStatus, DesiredStatus, TaskRunState,
};
use drover_api_types::group::Service;
use drover_api_types::node::NodeState;
use drover_api_types::service::{
    check_id, CheckStatus, ServiceRegistration, ServiceRegistrationSpec,
};
use drover_api_types::task_env::{interpolate, task_env, Lookup, TaskContext};
use drover_api_types::{Job, Node, Task, TaskGroup};

/// What one allocation's registrations are computed from.
pub struct AllocInputs<'a> {
    /// Whole: spec, binding and status.
    pub alloc: &'a Allocation,
    /// The job version the allocation runs (`None`: gone).
    pub job: Option<&'a Job>,
    /// The node it is bound to (`None`: unbound or gone).
    pub node: Option<&'a Node>,
    /// The node's heartbeat key is present and it is not marked down.
    pub node_alive: bool,
}

/// An allocation's wanted registrations, and the services that could not be
/// registered (with why) for the shell to log.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Desired {
    pub registrations: Vec<ServiceRegistration>,
    pub problems: Vec<String>,
}

/// Whether the allocation's services belong in the catalog at all: it is
/// meant to run, its agent says it runs, and its node is alive. A node that
/// stopped heartbeating is deregistered at once, before the lifecycle
/// controller marks its allocations lost. An allocation that waits, unknown,
/// for its disconnected node (`disconnect.lost_after`) is listed again: it
/// may well still serve behind the broken network, and its entries are
/// critical with their node (`serfHealth`), so `?passing` leaves them out.
pub fn should_register(inputs: &AllocInputs<'_>) -> bool {
    let alloc = inputs.alloc;
    let Some(node) = inputs.node else {
        return false;
    };
    let serves = match alloc.status.client_status {
        ClientStatus::Running => inputs.node_alive,
        ClientStatus::Unknown => node.status.state == NodeState::Disconnected,
        _ => false,
    };
    alloc.spec.desired_status == DesiredStatus::Run && alloc.binding.is_some() && serves
}

/// The registrations `inputs` call for, keyed by nothing: each carries its
/// namespace and id in `metadata`. Spec fields only; `creation_timestamp`
/// and revisions are the plan's business.
pub fn desired_registrations(inputs: &AllocInputs<'_>) -> Desired {
    let mut out = Desired::default();
    if !should_register(inputs) {
        return out;
    }
    let (alloc, Some(job), Some(node)) = (inputs.alloc, inputs.job, inputs.node) else {
        return out;
    };
    // A stopped job's instances leave the catalog before the job controller
    // and the agent get round to stopping them, so no traffic is sent to
    // containers about to be killed.
    if job.spec.stop {
        return out;
    }
    let Some(group) = job
        .spec
        .groups
        .iter()
        .find(|g| g.name == alloc.spec.task_group)
    else {
        return out;
    };
    let first = group.tasks.first().map(|t| t.name.as_str());
    for service in &group.services {
        // A group service follows (and is interpolated as) its `task`, the
        // first task when unset: the agent runs its checks in that task too.
        let owner = if service.task.is_empty() {
            first
        } else {
            Some(service.task.as_str())
        };
        let Some(task) = owner.and_then(|o| group.tasks.iter().find(|t| t.name == o)) else {
            out.problems.push(format!(
                "group service {:?}: task {:?} is not in the group",
                service.name, service.task
            ));
            continue;
        };
        let env = Env::new(job, group, task, alloc, node);
        push(&mut out, env.registration(service, None));
    }
    for task in &group.tasks {
        let running = alloc
            .status
            .task_states
            .get(&task.name)
            .is_some_and(|s| s.state == TaskRunState::Running);
        if task.services.is_empty() || !running {
            continue;
        }
        let env = Env::new(job, group, task, alloc, node);
        for service in &task.services {
            push(&mut out, env.registration(service, Some(&task.name)));
        }
    }
    out
}

fn push(out: &mut Desired, result: Result<Option<ServiceRegistration>, String>) {
    match result {
        Ok(Some(r)) => out.registrations.push(r),
        Ok(None) => {}
        Err(problem) => out.problems.push(problem),
    }
}

/// One task's interpolation environment and the allocation around it.
struct Env<'a> {
    task: &'a Task,
    alloc: &'a Allocation,
    node: &'a Node,
    vars: BTreeMap<String, String>,
}

impl<'a> Env<'a> {
    fn new(
        job: &'a Job,
        group: &'a TaskGroup,
        task: &'a Task,
        alloc: &'a Allocation,
        node: &'a Node,
    ) -> Self {
        let vars = task_env(&TaskContext {
            job,
            group,
            task,
            alloc,
            node,
        });
        Env {
            task,
            alloc,
            node,
            vars,
        }
    }

    fn expand(&self, s: &str) -> String {
        let lookup = Lookup {
            env: &self.vars,
            node: self.node,
            meta: &self.task.meta,
        };
        interpolate(s, &lookup)
    }

    /// The registration of `service` (`task`: the task of a task service;
    /// `None` for a group service). `Ok(None)` when it must wait (the
    /// container's IP is not reported yet); `Err` when it cannot be built.
    fn registration(
        &self,
        service: &Service,
        task: Option<&str>,
    ) -> Result<Option<ServiceRegistration>, String> {
        let name = self.expand(&service.name);
        let Some((address, port)) = self.address(service, &name)? else {
            return Ok(None);
        };
        // A canary (until promoted) registers with `canary_tags` instead of
        // `tags` when it has any, and `canary_meta` over `meta`, as Nomad does.
        let alloc = self.alloc;
        let canary = alloc.spec.canary;
        let tag_source = if canary && !service.canary_tags.is_empty() {
            &service.canary_tags
        } else {
            &service.tags
        };
        let tags = tag_source.iter().map(|t| self.expand(t)).collect();
        let canary_meta = service.canary_meta.iter().filter(|_| canary);
        let meta = service
            .meta
            .iter()
            .chain(canary_meta)
            .map(|(k, v)| (k.clone(), self.expand(v)))
            .collect();
        let binding = alloc.binding.as_ref();
        let spec = ServiceRegistrationSpec {
            service_name: name.clone(),
            tags,
            meta,
            address,
            port,
            node_id: self.node.metadata.uid.clone(),
            node_name: binding
                .map(|b| b.node_name.clone())
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| self.node.metadata.name.clone()),
            datacenter: self.node.spec.datacenter.clone(),
            job_id: alloc.spec.job_id.clone(),
            alloc_id: alloc.metadata.uid.clone(),
            task: task.unwrap_or_default().to_string(),
            checks: self.checks(service, &name),
        };
        let mut reg = ServiceRegistration {
            metadata: Default::default(),
            spec,
        };
        reg.metadata.namespace = alloc.metadata.namespace.clone();
        reg.metadata.name = registration_id(
            &alloc.metadata.uid,
            task.unwrap_or("group"),
            &name,
            &service.port,
        );
        reg.metadata.uid = reg.metadata.name.clone();
        Ok(Some(reg))
    }

    /// `(address, port)`: see the module header for the rules.
    fn address(&self, service: &Service, name: &str) -> Result<Option<(String, u16)>, String> {
        let assigned: Option<&AssignedPort> = self
            .alloc
            .binding
            .as_ref()
            .and_then(|b| b.ports.get(&service.port));
        let literal = || service.port.parse::<u16>().ok();
        if assigned.is_none() && literal().is_none() && !service.port.is_empty() {
            return Err(format!(
                "service {name:?}: port {:?} is not a port of the group network, nor a number",
                service.port
            ));
        }
        let driver = matches!(service.address_mode.as_str(), "driver" | "alloc");
        let port = match (assigned, driver) {
            (Some(p), true) if p.to > 0 => p.to,
            (Some(p), _) => p.value,
            (None, _) => literal().unwrap_or(0),
        };
        if !service.address.is_empty() {
            return Ok(Some((self.expand(&service.address), port)));
        }
        if driver {
            // Only a running container's IP: a dead or restarting task's
            // last IP may already belong to another container.
            let ip = self
                .alloc
                .status
                .task_states
                .get(&self.task.name)
                .filter(|s| s.state == TaskRunState::Running)
                .map(|s| s.driver_ip.as_str())
                .unwrap_or_default();
            return Ok((!ip.is_empty()).then(|| (ip.to_string(), port)));
        }
        let host_ip = assigned.map(|p| p.host_ip.as_str()).unwrap_or_default();
        let address = if host_ip.is_empty() {
            &self.node.spec.address
        } else {
            host_ip
        };
        Ok(Some((address.to_string(), port)))
    }

    /// The agent's latest result of each of the service's checks, in the
    /// service's order, matched by check id. A check the agent has not
    /// reported yet is left out rather than guessed.
    fn checks(&self, service: &Service, service_name: &str) -> Vec<CheckStatus> {
        let reported = &self.alloc.status.checks;
        service
            .checks
            .iter()
            .enumerate()
            .filter_map(|(index, check)| {
                let check_name = if check.name.is_empty() {
                    String::new()
                } else {
                    self.expand(&check.name)
                };
                let id = check_id(service_name, &check_name, index);
                reported.iter().find(|c| c.check_id == id).cloned()
            })
            .collect()
    }
}

/// `_drover-<alloc>-<task|group>-<service>-<port>`, with every character
/// that may not appear in a key segment (or a DNS label's neighbourhood:
/// `/`, whitespace, `${`) replaced by `_`. An empty port is `0`.
pub fn registration_id(alloc_id: &str, owner: &str, service: &str, port: &str) -> String {
    let port = if port.is_empty() { "0" } else { port };
    let raw = format!("_drover-{alloc_id}-{owner}-{service}-{port}");
    raw.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect()
}
