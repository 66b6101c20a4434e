//! Nomad's defaults, in one place.
//!
//! Type-independent defaults are the `Default` impls below, so a field left out
//! of YAML (through `#[serde(default)]`) and of HCL (the decoder starts from
//! `Default`) gets the same value. Defaults that depend on the job type, and
//! the job → group → task inheritance of policies, are applied by
//! [`canonicalize`], which both parsers call last. Canonicalizing twice changes
//! nothing, which is what makes Job → YAML → Job lossless.

use crate::duration::Duration;
use crate::group::{EphemeralDisk, Network, Service, TaskGroup};
use crate::job::{
    Affinity, Constraint, Job, JobSpec, JobType, MigrateStrategy, Parameterized, Periodic,
    ReschedulePolicy, RestartPolicy, Spread, UpdateStrategy,
};
use crate::meta::{API_VERSION, DEFAULT_NAMESPACE};
use crate::task::{LogConfig, Resources, Task, Template};

pub const DEFAULT_CPU_MHZ: i64 = 100;
pub const DEFAULT_MEMORY_MB: i64 = 300;
pub const DEFAULT_KILL_TIMEOUT: Duration = Duration::from_secs(5);
pub const DEFAULT_PRIORITY: i64 = 50;
pub const DEFAULT_REGION: &str = "global";
pub const DEFAULT_NODE_POOL: &str = "default";
/// Nomad's weight for an affinity or spread that names none.
pub const DEFAULT_WEIGHT: i64 = 50;

impl Default for JobSpec {
    fn default() -> Self {
        JobSpec {
            job_type: JobType::Service,
            display_name: None,
            region: DEFAULT_REGION.into(),
            datacenters: vec!["*".into()],
            node_pool: DEFAULT_NODE_POOL.into(),
            priority: DEFAULT_PRIORITY,
            all_at_once: false,
            meta: Default::default(),
            constraints: Vec::new(),
            affinities: Vec::new(),
            spreads: Vec::new(),
            update: None,
            periodic: None,
            parameterized: None,
            reschedule: None,
            migrate: None,
            parent_id: None,
            payload: None,
            stop: false,
            groups: Vec::new(),
        }
    }
}

impl Default for Affinity {
    fn default() -> Self {
        Affinity {
            attribute: String::new(),
            operator: String::new(),
            value: String::new(),
            weight: DEFAULT_WEIGHT,
        }
    }
}

impl Default for Spread {
    fn default() -> Self {
        Spread {
            attribute: String::new(),
            weight: DEFAULT_WEIGHT,
            targets: Vec::new(),
        }
    }
}

impl Default for TaskGroup {
    fn default() -> Self {
        TaskGroup {
            name: String::new(),
            count: 1,
            constraints: Vec::new(),
            affinities: Vec::new(),
            spreads: Vec::new(),
            network: None,
            services: Vec::new(),
            volumes: Default::default(),
            restart: None,
            reschedule: None,
            migrate: None,
            update: None,
            ephemeral_disk: None,
            disconnect: None,
            shutdown_delay: None,
            stop_after_client_disconnect: None,
            meta: Default::default(),
            tasks: Vec::new(),
        }
    }
}

impl Default for Task {
    fn default() -> Self {
        Task {
            name: String::new(),
            driver: String::new(),
            user: String::new(),
            config: Default::default(),
            env: Default::default(),
            meta: Default::default(),
            resources: Resources::default(),
            services: Vec::new(),
            templates: Vec::new(),
            volume_mounts: Vec::new(),
            artifacts: Vec::new(),
            constraints: Vec::new(),
            affinities: Vec::new(),
            lifecycle: None,
            leader: false,
            kill_timeout: DEFAULT_KILL_TIMEOUT,
            kill_signal: String::new(),
            shutdown_delay: None,
            restart: None,
            logs: LogConfig::default(),
            dispatch_payload: None,
        }
    }
}

impl Default for Resources {
    fn default() -> Self {
        Resources {
            cpu: DEFAULT_CPU_MHZ,
            cores: None,
            memory: DEFAULT_MEMORY_MB,
            memory_max: None,
            disk: None,
        }
    }
}

/// Nomad's default log rotation: (max_files, max_file_size in MB).
pub const LOG_ROTATION: (i64, i64) = (10, 10);

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            max_files: LOG_ROTATION.0,
            max_file_size: LOG_ROTATION.1,
            disabled: false,
        }
    }
}

impl Default for Network {
    fn default() -> Self {
        Network {
            mode: "host".into(),
            ports: Vec::new(),
            hostname: None,
            mbits: None,
            dns: None,
        }
    }
}

impl Default for EphemeralDisk {
    fn default() -> Self {
        EphemeralDisk {
            size: 300,
            sticky: false,
            migrate: false,
        }
    }
}

impl Default for Service {
    fn default() -> Self {
        Service {
            name: String::new(),
            port: String::new(),
            tags: Vec::new(),
            canary_tags: Vec::new(),
            meta: Default::default(),
            canary_meta: Default::default(),
            address_mode: "auto".into(),
            address: String::new(),
            provider: "consul".into(),
            task: String::new(),
            enable_tag_override: false,
            on_update: String::new(),
            checks: Vec::new(),
        }
    }
}

impl Default for Template {
    fn default() -> Self {
        Template {
            source: String::new(),
            destination: String::new(),
            data: String::new(),
            change_mode: "restart".into(),
            change_signal: String::new(),
            splay: Duration::from_secs(5),
            perms: "0644".into(),
            left_delimiter: String::new(),
            right_delimiter: String::new(),
            env: false,
        }
    }
}

impl Default for Periodic {
    fn default() -> Self {
        Periodic {
            crons: Vec::new(),
            prohibit_overlap: false,
            time_zone: String::new(),
            enabled: true,
        }
    }
}

impl Default for Parameterized {
    fn default() -> Self {
        Parameterized {
            payload: "optional".into(),
            meta_required: Vec::new(),
            meta_optional: Vec::new(),
        }
    }
}

/// Restart defaults: service and system jobs keep trying for longer windows,
/// batch jobs get more attempts over a day.
pub fn default_restart(job_type: JobType) -> RestartPolicy {
    let (attempts, interval) = match job_type {
        JobType::Service | JobType::System => (2, Duration::from_secs(30 * 60)),
        JobType::Batch | JobType::Sysbatch => (3, Duration::from_secs(24 * 3600)),
    };
    RestartPolicy {
        attempts: Some(attempts),
        interval: Some(interval),
        delay: Some(Duration::from_secs(15)),
        mode: Some("fail".into()),
        render_templates: Some(false),
    }
}

/// Reschedule defaults; system jobs are never rescheduled (they follow nodes).
pub fn default_reschedule(job_type: JobType) -> Option<ReschedulePolicy> {
    match job_type {
        JobType::Service => Some(ReschedulePolicy {
            attempts: Some(0),
            interval: Some(Duration::ZERO),
            delay: Some(Duration::from_secs(30)),
            delay_function: Some("exponential".into()),
            max_delay: Some(Duration::from_secs(3600)),
            unlimited: Some(true),
        }),
        JobType::Batch => Some(ReschedulePolicy {
            attempts: Some(1),
            interval: Some(Duration::from_secs(24 * 3600)),
            delay: Some(Duration::from_secs(5)),
            delay_function: Some("constant".into()),
            max_delay: Some(Duration::ZERO),
            unlimited: Some(false),
        }),
        JobType::System | JobType::Sysbatch => None,
    }
}

/// Rolling-update defaults, for the job types that are updated in place of
/// running allocations (service and system).
pub fn default_update(job_type: JobType) -> Option<UpdateStrategy> {
    match job_type {
        JobType::Service | JobType::System => Some(UpdateStrategy {
            max_parallel: Some(1),
            health_check: Some("checks".into()),
            min_healthy_time: Some(Duration::from_secs(10)),
            healthy_deadline: Some(Duration::from_secs(300)),
            progress_deadline: Some(Duration::from_secs(600)),
            auto_revert: Some(false),
            auto_promote: Some(false),
            canary: Some(0),
            stagger: Some(Duration::from_secs(30)),
        }),
        JobType::Batch | JobType::Sysbatch => None,
    }
}

/// Migration on drain only applies to service jobs.
pub fn default_migrate(job_type: JobType) -> Option<MigrateStrategy> {
    (job_type == JobType::Service).then(|| MigrateStrategy {
        max_parallel: Some(1),
        health_check: Some("checks".into()),
        min_healthy_time: Some(Duration::from_secs(10)),
        healthy_deadline: Some(Duration::from_secs(300)),
    })
}

/// Fills every defaulted field and pushes job-level policies down into groups
/// (and group restart into tasks), the more specific level winning per field.
pub fn canonicalize(job: &mut Job) {
    if job.api_version.is_empty() {
        job.api_version = API_VERSION.into();
    }
    if job.kind.is_empty() {
        job.kind = "Job".into();
    }
    if job.metadata.namespace.is_empty() {
        job.metadata.namespace = DEFAULT_NAMESPACE.into();
    }
    let spec = &mut job.spec;
    if spec.region.is_empty() {
        spec.region = DEFAULT_REGION.into();
    }
    if spec.datacenters.is_empty() {
        spec.datacenters = vec!["*".into()];
    }
    if spec.node_pool.is_empty() {
        spec.node_pool = DEFAULT_NODE_POOL.into();
    }
    default_operators(&mut spec.constraints, &mut spec.affinities);
    let job_type = spec.job_type;
    for group in &mut spec.groups {
        default_operators(&mut group.constraints, &mut group.affinities);
        for task in &mut group.tasks {
            default_operators(&mut task.constraints, &mut task.affinities);
        }
        canonicalize_group(
            group,
            job_type,
            spec.update.as_ref(),
            spec.reschedule.as_ref(),
            spec.migrate.as_ref(),
        );
    }
}

/// An operator left out means equality, as in Nomad; writing it down makes
/// the canonical job say what placement will do.
fn default_operators(constraints: &mut [Constraint], affinities: &mut [Affinity]) {
    let operators = constraints
        .iter_mut()
        .map(|c| &mut c.operator)
        .chain(affinities.iter_mut().map(|a| &mut a.operator));
    for operator in operators.filter(|o| o.is_empty()) {
        *operator = "=".into();
    }
}

fn canonicalize_group(
    group: &mut TaskGroup,
    job_type: JobType,
    job_update: Option<&UpdateStrategy>,
    job_reschedule: Option<&ReschedulePolicy>,
    job_migrate: Option<&MigrateStrategy>,
) {
    let restart = merge_restart(group.restart.take(), Some(default_restart(job_type)));
    for task in &mut group.tasks {
        task.restart = merge_restart(task.restart.take(), restart.clone());
    }
    group.restart = restart;
    group.reschedule = merge_reschedule(
        merge_reschedule(group.reschedule.take(), job_reschedule.cloned()),
        default_reschedule(job_type),
    );
    group.update = merge_update(
        merge_update(group.update.take(), job_update.cloned()),
        default_update(job_type),
    );
    group.migrate = merge_migrate(
        merge_migrate(group.migrate.take(), job_migrate.cloned()),
        default_migrate(job_type),
    );
    if group.ephemeral_disk.is_none() {
        group.ephemeral_disk = Some(EphemeralDisk::default());
    }
}

/// Per-field merge: every `None` in `specific` is taken from `general`.
macro_rules! merge_fields {
    ($name:ident, $ty:ident, [$($field:ident),+]) => {
        fn $name(specific: Option<$ty>, general: Option<$ty>) -> Option<$ty> {
            match (specific, general) {
                (None, general) => general,
                (Some(s), None) => Some(s),
                (Some(s), Some(g)) => Some($ty {
                    $($field: s.$field.or(g.$field),)+
                }),
            }
        }
    };
}

merge_fields!(
    merge_restart,
    RestartPolicy,
    [attempts, interval, delay, mode, render_templates]
);
merge_fields!(
    merge_reschedule,
    ReschedulePolicy,
    [
        attempts,
        interval,
        delay,
        delay_function,
        max_delay,
        unlimited
    ]
);
merge_fields!(
    merge_update,
    UpdateStrategy,
    [
        max_parallel,
        health_check,
        min_healthy_time,
        healthy_deadline,
        progress_deadline,
        auto_revert,
        auto_promote,
        canary,
        stagger
    ]
);
merge_fields!(
    merge_migrate,
    MigrateStrategy,
    [
        max_parallel,
        health_check,
        min_healthy_time,
        healthy_deadline
    ]
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::Constraint;

    fn job_with_group(job_type: JobType) -> Job {
        Job {
            api_version: String::new(),
            kind: String::new(),
            metadata: Default::default(),
            spec: JobSpec {
                job_type,
                groups: vec![TaskGroup {
                    name: "g".into(),
                    tasks: vec![Task {
                        name: "t".into(),
                        ..Task::default()
                    }],
                    ..TaskGroup::default()
                }],
                ..JobSpec::default()
            },
            status: None,
        }
    }

    #[test]
    fn group_overrides_job_policy_field_by_field() {
        let mut job = job_with_group(JobType::Service);
        job.spec.update = Some(UpdateStrategy {
            max_parallel: Some(3),
            canary: Some(1),
            ..UpdateStrategy::default()
        });
        job.spec.groups[0].update = Some(UpdateStrategy {
            canary: Some(2),
            ..UpdateStrategy::default()
        });
        canonicalize(&mut job);
        let update = job.spec.groups[0].update.clone().unwrap_or_default();
        assert_eq!(update.canary, Some(2), "group wins");
        assert_eq!(
            update.max_parallel,
            Some(3),
            "job fills what the group left out"
        );
        assert_eq!(
            update.min_healthy_time,
            Some(Duration::from_secs(10)),
            "default fills the rest"
        );
    }

    #[test]
    fn defaults_follow_the_job_type() {
        let mut batch = job_with_group(JobType::Batch);
        canonicalize(&mut batch);
        let group = &batch.spec.groups[0];
        assert_eq!(group.restart.as_ref().and_then(|r| r.attempts), Some(3));
        assert_eq!(group.reschedule.as_ref().and_then(|r| r.attempts), Some(1));
        assert_eq!(group.update, None);
        assert_eq!(group.migrate, None);
        assert_eq!(
            group.tasks[0].restart, group.restart,
            "tasks inherit the group restart"
        );

        let mut system = job_with_group(JobType::System);
        canonicalize(&mut system);
        assert_eq!(system.spec.groups[0].reschedule, None);
        assert!(system.spec.groups[0].update.is_some());
    }

    #[test]
    fn canonicalize_is_idempotent_and_names_the_default_operator() {
        let mut job = job_with_group(JobType::Service);
        job.spec.constraints.push(Constraint {
            attribute: "${attr.kernel.name}".into(),
            operator: String::new(),
            value: "linux".into(),
        });
        canonicalize(&mut job);
        assert_eq!(job.spec.constraints[0].operator, "=");
        assert_eq!(job.metadata.namespace, DEFAULT_NAMESPACE);
        assert_eq!(job.api_version, API_VERSION);
        let once = job.clone();
        canonicalize(&mut job);
        assert_eq!(job, once);
    }
}
