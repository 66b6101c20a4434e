//! The valid base job the unit tests mutate, and how they read the result.

use crate::defaults::canonicalize;
use crate::duration::Duration;
use crate::group::{Check, Network, Port, Service, TaskGroup};
use crate::job::{Job, JobSpec, JobType};
use crate::meta::ObjectMeta;
use crate::task::Task;

/// A small, valid, canonical service job: group "api" with port "web",
/// task "api" (docker) registering service "billing-api" with an HTTP check.
pub(super) fn base_job() -> Job {
    job_of_type(JobType::Service)
}

pub(super) fn job_of_type(job_type: JobType) -> Job {
    let mut job = raw_job(job_type);
    canonicalize(&mut job);
    job
}

/// The base job before canonicalization, to set policies as a user would.
pub(super) fn raw_job(job_type: JobType) -> Job {
    let mut config = serde_json::Map::new();
    config.insert("image".into(), "billing:1.2".into());
    config.insert("ports".into(), serde_json::json!(["web"]));
    let check = Check {
        name: "alive".into(),
        check_type: "http".into(),
        path: "/health".into(),
        interval: Duration::from_secs(10),
        timeout: Duration::from_secs(2),
        ..Check::default()
    };
    let service = Service {
        name: "billing-api".into(),
        port: "web".into(),
        checks: vec![check],
        ..Service::default()
    };
    let task = Task {
        name: "api".into(),
        driver: "docker".into(),
        config,
        services: vec![service],
        ..Task::default()
    };
    let network = Network {
        mode: "bridge".into(),
        ports: vec![Port {
            label: "web".into(),
            to: Some(8080),
            ..Port::default()
        }],
        ..Network::default()
    };
    let group = TaskGroup {
        name: "api".into(),
        network: Some(network),
        tasks: vec![task],
        ..TaskGroup::default()
    };
    Job {
        api_version: String::new(),
        kind: String::new(),
        metadata: ObjectMeta {
            name: "billing".into(),
            ..ObjectMeta::default()
        },
        spec: JobSpec {
            job_type,
            datacenters: vec!["dc1".into()],
            groups: vec![group],
            ..JobSpec::default()
        },
        status: None,
    }
}

/// Every diagnostic of `validate(job)`, as `Display` prints it.
pub(super) fn messages(job: &Job) -> Vec<String> {
    super::validate(job)
        .iter()
        .map(ToString::to_string)
        .collect()
}

/// The group "api" of the base job.
pub(super) fn group(job: &mut Job) -> &mut TaskGroup {
    &mut job.spec.groups[0]
}

/// The task "api" of the base job.
pub(super) fn task(job: &mut Job) -> &mut Task {
    &mut job.spec.groups[0].tasks[0]
}

/// Path prefixes of the base job, for expected messages.
pub(super) const GROUP: &str = "job \"billing\" group \"api\"";
pub(super) const TASK: &str = "job \"billing\" group \"api\" task \"api\"";
pub(super) const SERVICE: &str =
    "job \"billing\" group \"api\" task \"api\" service \"billing-api\"";

/// Asserts that mutating the base job with `mutate` yields exactly `expected`.
pub(super) fn assert_diags(mutate: impl FnOnce(&mut Job), expected: &[&str]) {
    let mut job = base_job();
    mutate(&mut job);
    assert_eq!(messages(&job), expected);
}

#[test]
fn base_jobs_of_every_type_are_clean() {
    for job_type in [
        JobType::Service,
        JobType::Batch,
        JobType::System,
        JobType::Sysbatch,
    ] {
        let job = job_of_type(job_type);
        assert_eq!(messages(&job), Vec::<String>::new(), "{job_type:?}");
    }
}
