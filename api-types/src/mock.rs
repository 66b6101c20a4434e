//! Objects for tests and benchmarks, the way Nomad's `mock` package has
//! `mock.Job()`, `mock.Node()` and `mock.Alloc()`: each a complete, valid
//! object with plain values, which a test changes where it matters to it
//! instead of spelling out every field. Built for tests and the `fixtures`
//! feature (other crates' tests, the benchmarks); never in the product.

use crate::alloc::{AllocationSpec, DesiredStatus};
use crate::defaults::canonicalize;
use crate::node::{DriverInfo, NodeResources, NodeSpec};
use crate::task::{DriverConfig, Resources};
use crate::{Allocation, Job, JobType, Node, ObjectMeta, Task, TaskGroup};

/// A docker task `name` running `busybox:1` (change `config.image` for
/// another): 100 MHz, 64 MB.
pub fn task(name: &str) -> Task {
    let mut config = DriverConfig::new();
    config.insert("image".into(), serde_json::json!("busybox:1"));
    Task {
        name: name.into(),
        driver: "docker".into(),
        config,
        resources: Resources {
            cpu: 100,
            memory: 64,
            ..Default::default()
        },
        ..Default::default()
    }
}

/// Group `name` with `count` allocations of one [`task`] called `server`.
pub fn group(name: &str, count: i64) -> TaskGroup {
    TaskGroup {
        name: name.into(),
        count,
        tasks: vec![task("server")],
        ..Default::default()
    }
}

/// A service job `name` in namespace `default` and datacenter `dc1` with
/// one [`group`] `app` of `count`, as the server stores it (defaults
/// filled in).
pub fn job(name: &str, count: i64) -> Job {
    job_of(name, JobType::Service, vec![group("app", count)])
}

/// A job of `job_type` with `groups`, in `default` and `dc1`, defaults
/// filled in.
pub fn job_of(name: &str, job_type: JobType, groups: Vec<TaskGroup>) -> Job {
    let mut job = Job::named(name);
    job.metadata.namespace = crate::DEFAULT_NAMESPACE.into();
    job.spec.job_type = job_type;
    job.spec.datacenters = vec!["dc1".into()];
    job.spec.groups = groups;
    canonicalize(&mut job);
    job
}

/// A ready node `id` (also its name) in `dc1`, pool `default`: 4 cores,
/// 4000 MHz, 8 GB, a healthy docker driver, address 127.0.0.1.
pub fn node(id: &str) -> Node {
    let mut spec = NodeSpec {
        datacenter: "dc1".into(),
        node_pool: "default".into(),
        address: "127.0.0.1".into(),
        resources: NodeResources {
            cpu: 4000,
            cores: 4,
            memory: 8192,
            disk: 0,
        },
        min_dynamic_port: 20000,
        max_dynamic_port: 32000,
        ..Default::default()
    };
    spec.drivers.insert(
        "docker".into(),
        DriverInfo {
            detected: true,
            healthy: true,
            ..Default::default()
        },
    );
    Node {
        metadata: ObjectMeta {
            name: id.into(),
            uid: id.into(),
            ..Default::default()
        },
        spec,
        ..Default::default()
    }
}

/// Allocation `index` of `job`'s group `group`, id `id`, to run (unbound).
pub fn alloc(job: &Job, group: &str, index: u32, id: &str) -> Allocation {
    Allocation {
        metadata: ObjectMeta {
            name: format!("{}.{group}[{index}]", job.metadata.name),
            namespace: job.metadata.namespace.clone(),
            uid: id.into(),
            ..Default::default()
        },
        spec: AllocationSpec {
            job_id: job.metadata.name.clone(),
            job_version: job.metadata.version,
            task_group: group.into(),
            index,
            desired_status: DesiredStatus::Run,
            ..Default::default()
        },
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::validate;

    #[test]
    fn the_mock_job_is_valid_and_named_as_asked() {
        let job = job("web", 3);
        assert!(validate(&job).is_empty(), "{:?}", validate(&job));
        assert_eq!(job.spec.groups[0].count, 3);
        assert_eq!(job.metadata.namespace, "default");
        let a = alloc(&job, "app", 2, "a2");
        assert_eq!(a.metadata.name, "web.app[2]");
        assert_eq!(a.spec.job_id, "web");
        let n = node("n1");
        assert!(n.spec.drivers["docker"].healthy);
        assert_eq!(n.metadata.uid, "n1");
    }
}
