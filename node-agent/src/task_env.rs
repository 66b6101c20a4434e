//! A task's runtime environment lives in [`drover_api_types::task_env`],
//! shared with the service registration controller; re-exported here so the
//! agent's modules keep one import path.

pub use drover_api_types::task_env::*;

#[cfg(test)]
pub(crate) mod tests {
    use drover_api_types::alloc::{Allocation, AssignedPort, Binding};
    use drover_api_types::{Job, Node, Task, TaskGroup};

    /// The same fixture as api-types' own tests (test code is not shared
    /// across crates): a job `web`, group `frontend`, task `nginx`, an
    /// allocation with port `http` 23456 → 80 on node `node-1`.
    pub(crate) fn fixture() -> (Job, Allocation, Node) {
        let mut job = Job {
            api_version: drover_api_types::API_VERSION.into(),
            kind: "Job".into(),
            metadata: Default::default(),
            spec: Default::default(),
            status: None,
        };
        job.metadata.name = "web".into();
        job.metadata.namespace = "default".into();
        job.spec.region = "global".into();
        let mut group = TaskGroup {
            name: "frontend".into(),
            ..Default::default()
        };
        let mut task = Task {
            name: "nginx".into(),
            driver: "docker".into(),
            ..Default::default()
        };
        task.resources.cpu = 500;
        task.resources.memory = 256;
        task.resources.memory_max = Some(512);
        task.meta.insert("team-name".into(), "edge".into());
        task.env
            .insert("LISTEN".into(), "${NOMAD_ADDR_http}".into());
        task.env
            .insert("KERNEL".into(), "${attr.kernel.name}".into());
        task.env
            .insert("WHERE".into(), "${node.datacenter}/${meta.rack}".into());
        task.env.insert("TYPO".into(), "${NOMAD_PORT_htp}".into());
        group.tasks.push(task);
        job.spec.groups.push(group);
        let mut alloc = Allocation::default();
        alloc.metadata.uid = "a1b2".into();
        alloc.metadata.name = "web.frontend[2]".into();
        alloc.spec.index = 2;
        let mut binding = Binding::default();
        binding.ports.insert(
            "http".into(),
            AssignedPort {
                host_ip: "127.0.0.2".into(),
                value: 23456,
                to: 80,
            },
        );
        alloc.binding = Some(binding);
        let mut node = Node::default();
        node.metadata.uid = "node-1".into();
        node.spec.datacenter = "dc1".into();
        node.spec.address = "127.0.0.2".into();
        node.spec
            .attributes
            .insert("kernel.name".into(), "linux".into());
        node.spec.meta.insert("rack".into(), "r7".into());
        (job, alloc, node)
    }
}
