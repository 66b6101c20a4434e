//! Feasibility: can this node run one more allocation of this group?
//!
//! Checks run in Nomad's order and the first failure is the reason:
//! node readiness (`node not ready`, `node ineligible`, `node draining`),
//! `datacenter` (job datacenters, `*` and globs), `node pool`, job
//! constraints, drivers (`missing driver "docker"`, `driver "docker"
//! unhealthy`), group then task constraints (`constraint <attribute>
//! <operator> <value>` as written), what docker tasks ask of the host
//! against what the node's agent allows (`driver.docker: volumes
//! disabled`), host volumes (`missing host volume "data"`),
//! `distinct_hosts`, `distinct_property <property>`, then the bin-pack
//! dimensions (see `resources`).

use drover_api_types::host_access::{asked_by, caps_asked, runtime_asked, HostPolicy};
use drover_api_types::job::{Constraint, ConstraintOperator};
use drover_api_types::node::NodeState;
use drover_api_types::{Job, Node, TaskGroup};

use super::attributes::resolve;
use super::operators::check_operator;
use super::resources::check_fit;
use super::{NodeUsage, PlacementOptions, Reason};

fn filtered(text: impl Into<String>) -> Reason {
    Reason::Filtered(text.into())
}

/// `Ok` when `node` can take one more allocation of `group`, else the first
/// failing check's reason.
pub fn feasible(
    node: &Node,
    job: &Job,
    group: &TaskGroup,
    usage: &NodeUsage,
    options: &PlacementOptions,
) -> Result<(), Reason> {
    if node.status.state != NodeState::Ready {
        return Err(filtered("node not ready"));
    }
    if node.scheduling.ineligible {
        return Err(filtered("node ineligible"));
    }
    if node.scheduling.drain.is_some() {
        return Err(filtered("node draining"));
    }
    if !datacenter_matches(&job.spec.datacenters, &node.spec.datacenter) {
        return Err(filtered("datacenter"));
    }
    if !pool_matches(&job.spec.node_pool, &node.spec.node_pool) {
        return Err(filtered("node pool"));
    }
    check_constraints(node, &job.spec.constraints)?;
    for task in &group.tasks {
        match node.spec.drivers.get(&task.driver) {
            Some(info) if info.detected && info.healthy => {}
            Some(info) if info.detected => {
                return Err(filtered(format!("driver {:?} unhealthy", task.driver)))
            }
            _ => return Err(filtered(format!("missing driver {:?}", task.driver))),
        }
    }
    check_constraints(node, &group.constraints)?;
    for task in &group.tasks {
        check_constraints(node, &task.constraints)?;
    }
    check_host_access(node, group)?;
    for volume in group.volumes.values() {
        let is_host = volume.volume_type.is_empty() || volume.volume_type == "host";
        if is_host && !node.spec.host_volumes.contains_key(&volume.source) {
            return Err(filtered(format!("missing host volume {:?}", volume.source)));
        }
    }
    let job_distinct = distinct(&job.spec.constraints, ConstraintOperator::DistinctHosts);
    let group_distinct = distinct(&group.constraints, ConstraintOperator::DistinctHosts);
    if job_distinct.iter().any(|c| enabled(c)) && usage.job_alloc_count() > 0
        || group_distinct.iter().any(|c| enabled(c)) && usage.group_alloc_count(&group.name) > 0
    {
        return Err(filtered("distinct_hosts"));
    }
    for constraint in distinct(&job.spec.constraints, ConstraintOperator::DistinctProperty) {
        check_distinct_property(node, constraint, &usage.job_property_counts)?;
    }
    for constraint in distinct(&group.constraints, ConstraintOperator::DistinctProperty) {
        check_distinct_property(node, constraint, &usage.group_property_counts)?;
    }
    check_fit(node, group, usage, options)
}

/// Whether the node's agent allows what the group's docker tasks ask of
/// the host (privileged, host paths, host network or pid): it publishes
/// that as driver attributes, and would refuse the task otherwise.
fn check_host_access(node: &Node, group: &TaskGroup) -> Result<(), Reason> {
    let asks: Vec<_> = group
        .tasks
        .iter()
        .map(|t| (asked_by(t), caps_asked(t), runtime_asked(t)))
        .filter(|(access, caps, runtime)| {
            !access.is_empty() || !caps.is_empty() || runtime.is_some()
        })
        .collect();
    if asks.is_empty() {
        return Ok(());
    }
    let policy = node
        .spec
        .drivers
        .get("docker")
        .map(|d| HostPolicy::from_attributes(&d.attributes))
        .unwrap_or_default();
    for (access, caps, runtime) in asks {
        if let Some(refused) = access.into_iter().find(|a| !policy.allows(*a)) {
            return Err(filtered(format!("driver.docker: {}", refused.disabled())));
        }
        if let Some(cap) = caps.into_iter().find(|c| !policy.allows_cap(c)) {
            return Err(filtered(format!(
                "driver.docker: capability {cap} not allowed"
            )));
        }
        if let Some(runtime) = runtime.filter(|r| !policy.allows_runtime(r)) {
            return Err(filtered(format!(
                "driver.docker: runtime {runtime} not allowed"
            )));
        }
    }
    Ok(())
}

/// Whether a job's datacenter list (globs with `*` and `?`; empty means
/// `*`) admits `datacenter`.
pub(super) fn datacenter_matches(patterns: &[String], datacenter: &str) -> bool {
    patterns.is_empty() || patterns.iter().any(|p| glob(p, datacenter))
}

fn pool_matches(job_pool: &str, node_pool: &str) -> bool {
    let or_default = |p: &str| if p.is_empty() { "default" } else { p }.to_string();
    let job_pool = or_default(job_pool);
    job_pool == "all" || job_pool == or_default(node_pool)
}

fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    // Classic two-pointer wildcard match with backtracking to the last `*`.
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

fn constraint_text(c: &Constraint) -> String {
    let op = if c.operator.is_empty() {
        "="
    } else {
        &c.operator
    };
    [c.attribute.as_str(), op, c.value.as_str()]
        .iter()
        .filter(|s| !s.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(" ")
}

fn check_constraints(node: &Node, constraints: &[Constraint]) -> Result<(), Reason> {
    for c in constraints {
        let lhs = resolve(node, &c.attribute);
        let rhs = resolve(node, &c.value);
        if !check_operator(&c.operator, lhs.as_deref(), rhs.as_deref()) {
            return Err(filtered(format!("constraint {}", constraint_text(c))));
        }
    }
    Ok(())
}

fn distinct(constraints: &[Constraint], op: ConstraintOperator) -> Vec<&Constraint> {
    constraints
        .iter()
        .filter(|c| c.operator() == Some(op))
        .collect()
}

/// `distinct_hosts` is on unless its value says `false`.
fn enabled(c: &Constraint) -> bool {
    !c.value.trim().eq_ignore_ascii_case("false")
}

fn check_distinct_property(
    node: &Node,
    constraint: &Constraint,
    counts: &std::collections::BTreeMap<String, std::collections::BTreeMap<String, u32>>,
) -> Result<(), Reason> {
    let reason = || filtered(format!("distinct_property {}", constraint.attribute));
    let limit = constraint.value.trim().parse::<u32>().unwrap_or(1).max(1);
    let Some(value) = resolve(node, &constraint.attribute) else {
        return Err(reason());
    };
    let used = counts
        .get(&constraint.attribute)
        .and_then(|by_value| by_value.get(&value))
        .copied()
        .unwrap_or(0);
    if used >= limit {
        return Err(reason());
    }
    Ok(())
}
