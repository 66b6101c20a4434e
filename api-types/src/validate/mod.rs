//! Semantic validation of a canonical job.
//!
//! [`validate`] walks the job once and collects every error and warning; each
//! diagnostic names the object it is about (`job "web" group "api" task
//! "api" service "web-api"`) in [`Diagnostic::path`] and says what to change
//! in its message. The job is expected to be canonical
//! ([`crate::defaults::canonicalize`]), so policies are filled in and
//! inherited; a policy inherited unchanged from the job is reported once, at
//! the job.
//!
//! # Layout
//! - this file: the walk, the [`Report`] collector, shared message helpers.
//! - [`names`]: job, namespace, group and task names; duplicates.
//! - [`constraints`]: constraints, affinities, spreads, version constraints.
//! - [`network`]: network mode, ports, and every reference to a port label.
//! - [`services`]: services and their checks.
//! - [`resources`]: task resources, logs, ephemeral disk.
//! - [`tasks`]: driver and its config, lifecycle, templates, artifacts,
//!   volumes and mounts.
//! - [`policies`]: restart, reschedule, update, migrate, disconnect.
//! - [`periodic`]: periodic (cron, time zone), parameterized, dispatch payload.

mod constraints;
mod names;
mod network;
pub mod periodic;
mod policies;
mod resources;
mod services;
mod tasks;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod testutil;

use crate::diagnostic::{suggestion_suffix, Diagnostic};
use crate::group::TaskGroup;
use crate::job::{Job, JobType};
use crate::task::Task;

pub use constraints::{parse_version_constraint, VersionClause, VersionOp};
pub use periodic::parse_cron;

/// Every error and warning about `job`, each naming its object path, under
/// the default [`JobLimits`].
pub fn validate(job: &Job) -> Vec<Diagnostic> {
    validate_within(job, &JobLimits::default())
}

/// How many allocations one job may ask for. Every allocation is an object
/// in etcd and in each server's memory, so the count a job file names is
/// bounded before anything is planned: one job with `count = 1000000000`
/// must be refused, not take down every server that tries to reconcile it.
/// The server's `--max-group-count` and `--max-job-allocations` set them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobLimits {
    /// The largest `count` of one group.
    pub max_group_count: u64,
    /// The largest sum of the groups' counts (canaries aside).
    pub max_job_allocations: u64,
}

impl JobLimits {
    /// Defaults that a fleet of a few thousand nodes never meets by
    /// accident (Nomad sets none; its scheduler slows down well before).
    pub const DEFAULT_MAX_GROUP_COUNT: u64 = 10_000;
    pub const DEFAULT_MAX_JOB_ALLOCATIONS: u64 = 30_000;

    /// The problem with `job`'s counts under these limits, if any
    /// (`None`: within them). The controllers ask this too, for jobs
    /// that reached etcd some other way or before the limits were lowered.
    /// A stopped job places nothing, so its counts do not matter: a job
    /// over the limits can always be stopped and purged.
    pub fn exceeded_by(&self, job: &Job) -> Option<String> {
        if job.spec.stop {
            return None;
        }
        job.spec
            .groups
            .iter()
            .find_map(|g| {
                self.group_problem(g)
                    .map(|p| format!("group {:?}: {p}", g.name))
            })
            .or_else(|| self.total_problem(job))
    }

    fn group_problem(&self, group: &TaskGroup) -> Option<String> {
        let count = u64::try_from(group.count).unwrap_or(0);
        (count > self.max_group_count).then(|| {
            format!(
                "count {count} is over the limit of {} per group; split the \
                 work over several groups or jobs, or raise the server's \
                 --max-group-count",
                self.max_group_count
            )
        })
    }

    fn total_problem(&self, job: &Job) -> Option<String> {
        let total = job
            .spec
            .groups
            .iter()
            .map(|g| u64::try_from(g.count).unwrap_or(0))
            .fold(0u64, u64::saturating_add);
        (total > self.max_job_allocations).then(|| {
            format!(
                "the groups' counts add up to {total}, over the limit of {} \
                 allocations per job; split the job, or raise the server's \
                 --max-job-allocations",
                self.max_job_allocations
            )
        })
    }
}

impl Default for JobLimits {
    fn default() -> Self {
        JobLimits {
            max_group_count: Self::DEFAULT_MAX_GROUP_COUNT,
            max_job_allocations: Self::DEFAULT_MAX_JOB_ALLOCATIONS,
        }
    }
}

/// [`validate`] under the given limits (a server's own).
pub fn validate_within(job: &Job, limits: &JobLimits) -> Vec<Diagnostic> {
    let mut report = Report::default();
    let path = format!("job {:?}", job.metadata.name);
    validate_job(&mut report, job, &path);
    let inherited = policies::Inherited::of(job);
    for (index, group) in job.spec.groups.iter().enumerate() {
        let group_path = child(&path, "group", &group.name, index);
        validate_group(&mut report, job, &inherited, group, &group_path);
        if let Some(problem) = limits.group_problem(group).filter(|_| !job.spec.stop) {
            report.error(&group_path, problem);
        }
    }
    // The total only once no group is over its own limit: one cause, one
    // error.
    let group_over = job
        .spec
        .groups
        .iter()
        .any(|g| limits.group_problem(g).is_some());
    if let Some(problem) = limits
        .total_problem(job)
        .filter(|_| !group_over && !job.spec.stop)
    {
        report.error(&path, problem);
    }
    report.diagnostics
}

/// Collects diagnostics in the order the walk meets them.
#[derive(Debug, Default)]
pub(crate) struct Report {
    pub(crate) diagnostics: Vec<Diagnostic>,
}

impl Report {
    pub(crate) fn error(&mut self, path: &str, message: impl Into<String>) {
        self.diagnostics
            .push(Diagnostic::error(message).in_path(path));
    }

    pub(crate) fn warning(&mut self, path: &str, message: impl Into<String>) {
        self.diagnostics
            .push(Diagnostic::warning(message).in_path(path));
    }

    /// Reports `value` unless it is one of `allowed`.
    pub(crate) fn one_of(&mut self, path: &str, field: &str, value: &str, allowed: &[&str]) {
        if !allowed.contains(&value) {
            self.error(path, not_one_of(field, value, allowed));
        }
    }
}

/// `mode "fial" is not valid; use one of: "fail", "delay" (did you mean "fail"?)`.
pub(crate) fn not_one_of(field: &str, value: &str, allowed: &[&str]) -> String {
    format!(
        "{field} {value:?} is not valid; use one of: {}{}",
        quoted_list(allowed.iter().copied()),
        suggestion_suffix(value, allowed.iter().copied())
    )
}

/// `"a", "b", "c"`.
pub(crate) fn quoted_list<S: AsRef<str>>(items: impl IntoIterator<Item = S>) -> String {
    items
        .into_iter()
        .map(|s| format!("{:?}", s.as_ref()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `<parent> <kind> "<name>"`, or `<parent> <kind>[<index>]` for a nameless one.
pub(crate) fn child(parent: &str, kind: &str, name: &str, index: usize) -> String {
    if name.is_empty() {
        format!("{parent} {kind}[{index}]")
    } else {
        format!("{parent} {kind} {name:?}")
    }
}

/// `<parent> <kind>[<index>]`.
pub(crate) fn indexed(parent: &str, kind: &str, index: usize) -> String {
    format!("{parent} {kind}[{index}]")
}

/// The largest job, as stored (JSON), that registers: a registration
/// writes the job and its version snapshot in one etcd request, and etcd
/// refuses a request over 1.5 MiB by default.
pub const MAX_JOB_BYTES: usize = 512 * 1024;

fn validate_job(report: &mut Report, job: &Job, path: &str) {
    let spec = &job.spec;
    names::validate_job_names(report, job, path);
    let size = serde_json::to_vec(job).map_or(0, |bytes| bytes.len());
    if size > MAX_JOB_BYTES {
        report.error(
            path,
            format!(
                "the job is {} KiB as stored; a job may be at most {} KiB \
                 (etcd takes 1.5 MiB per write, and a registration writes the job \
                 and its version snapshot together): move large data out of the \
                 job, into the image or a host volume",
                size.div_ceil(1024),
                MAX_JOB_BYTES / 1024
            ),
        );
    }
    if !(1..=100).contains(&spec.priority) {
        report.error(
            path,
            format!(
                "priority {} is out of range; use a value from 1 to 100",
                spec.priority
            ),
        );
    }
    if spec.region.trim().is_empty() {
        report.error(path, "region is empty; set a region such as \"global\"");
    }
    for (index, dc) in spec.datacenters.iter().enumerate() {
        if dc.trim().is_empty() {
            report.error(
                path,
                format!("datacenters[{index}] is empty; name a datacenter or use \"*\""),
            );
        }
    }
    if spec.groups.is_empty() {
        report.error(path, "the job has no group; add at least one group");
    }
    constraints::validate_placement(
        report,
        path,
        &spec.constraints,
        &spec.affinities,
        &spec.spreads,
        spec.job_type,
    );
    policies::validate_job_policies(report, job, path);
    periodic::validate_periodic(report, job, path);
    names::duplicate_names(
        report,
        path,
        "group",
        spec.groups.iter().map(|g| g.name.as_str()),
    );
}

fn validate_group(
    report: &mut Report,
    job: &Job,
    inherited: &policies::Inherited,
    group: &TaskGroup,
    path: &str,
) {
    let job_type = job.spec.job_type;
    names::validate_object_name(report, path, "group", &group.name);
    validate_count(report, path, group.count, job_type);
    constraints::validate_placement(
        report,
        path,
        &group.constraints,
        &group.affinities,
        &group.spreads,
        job_type,
    );
    let ports = network::validate_network(report, path, group.network.as_ref());
    tasks::validate_group_volumes(report, path, group);
    let task_names: Vec<&str> = group.tasks.iter().map(|t| t.name.as_str()).collect();
    services::validate_services(
        report,
        path,
        &group.services,
        &ports,
        services::Owner::Group(&task_names),
    );
    policies::validate_group_policies(report, job, inherited, group, path);
    resources::validate_group_disk(report, path, group);
    tasks::validate_group_tasks(report, path, group);
    for (index, task) in group.tasks.iter().enumerate() {
        let task_path = child(path, "task", &task.name, index);
        validate_task(report, job, group, &ports, task, &task_path);
    }
}

fn validate_count(report: &mut Report, path: &str, count: i64, job_type: JobType) {
    if count < 0 {
        report.error(path, format!("count {count} is negative; use 0 or more"));
    } else if count > 1 && matches!(job_type, JobType::System | JobType::Sysbatch) {
        report.error(
            path,
            format!(
                "{} jobs should not have a count greater than 1 (got {count}): they run one allocation on every eligible node; remove count",
                job_type.as_str()
            ),
        );
    }
}

fn validate_task(
    report: &mut Report,
    job: &Job,
    group: &TaskGroup,
    ports: &network::Ports,
    task: &Task,
    path: &str,
) {
    names::validate_object_name(report, path, "task", &task.name);
    tasks::validate_task(report, path, group, ports, task);
    resources::validate_task_resources(report, path, task);
    services::validate_services(report, path, &task.services, ports, services::Owner::Task);
    constraints::validate_placement(
        report,
        path,
        &task.constraints,
        &task.affinities,
        &[],
        job.spec.job_type,
    );
    policies::validate_task_restart(report, group, task, path);
    periodic::validate_dispatch_payload(report, job, task, path);
}
