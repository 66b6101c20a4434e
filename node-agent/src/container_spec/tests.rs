//! Table tests: job file fields to container spec.

use std::path::Path;

use drover_api_types::group::VolumeRequest;
use drover_api_types::node::HostVolume;
use drover_api_types::task::VolumeMount;
use drover_api_types::{Job, Node};
use serde_json::json;

use super::*;
use crate::task_env::TaskContext;

fn fixture() -> (Job, drover_api_types::alloc::Allocation, Node) {
    crate::task_env::tests::fixture()
}

fn spec_with(
    config: serde_json::Value,
    edit: impl FnOnce(&mut Job, &mut Node),
) -> Result<ContainerSpec, SpecError> {
    let (mut job, alloc, mut node) = fixture();
    if let serde_json::Value::Object(map) = config {
        job.spec.groups[0].tasks[0].config = map;
    }
    edit(&mut job, &mut node);
    let group = &job.spec.groups[0];
    let ctx = TaskContext {
        job: &job,
        group,
        task: &group.tasks[0],
        alloc: &alloc,
        node: &node,
    };
    container_spec(
        &ctx,
        &AgentPolicy {
            allocs_dir: Path::new("/var/lib/drover/allocs"),
            allow_privileged: false,
        },
    )
}

#[test]
fn a_typical_docker_task() {
    let spec = spec_with(
        json!({
            "image": "nginx:${NOMAD_META_team_name}",
            "command": "nginx",
            "args": ["-g", "daemon off;", "-p", "${NOMAD_PORT_http}"],
            "ports": ["http"],
            "volumes": ["/srv/www:/usr/share/nginx/html:ro", "cache:/var/cache"],
            "labels": {"team": "${NOMAD_META_team_name}"},
            "hostname": "${NOMAD_ALLOC_NAME}"
        }),
        |_, _| {},
    )
    .expect("spec");
    assert_eq!(spec.name, "nginx-a1b2");
    assert_eq!(spec.image, "nginx:edge");
    assert_eq!(
        spec.cmd,
        Some(vec![
            "nginx".into(),
            "-g".into(),
            "daemon off;".into(),
            "-p".into(),
            "80".into()
        ])
    );
    assert_eq!(spec.entrypoint, None);
    assert_eq!(
        spec.ports,
        vec![
            PortPublish {
                host_ip: "127.0.0.2".into(),
                host_port: 23456,
                container_port: 80,
                protocol: "tcp".into()
            },
            PortPublish {
                host_ip: "127.0.0.2".into(),
                host_port: 23456,
                container_port: 80,
                protocol: "udp".into()
            },
        ]
    );
    let mounts: Vec<(&str, &str, bool)> = spec
        .mounts
        .iter()
        .map(|m| (m.source.as_str(), m.target.as_str(), m.read_only))
        .collect();
    assert_eq!(
        mounts,
        vec![
            ("/var/lib/drover/allocs/a1b2/alloc", "/alloc", false),
            ("/var/lib/drover/allocs/a1b2/nginx/local", "/local", false),
            (
                "/var/lib/drover/allocs/a1b2/nginx/secrets",
                "/secrets",
                false
            ),
            ("/srv/www", "/usr/share/nginx/html", true),
            (
                "/var/lib/drover/allocs/a1b2/nginx/cache",
                "/var/cache",
                false
            ),
        ]
    );
    // memory_max is the hard limit, memory the reservation; cpu the shares.
    assert_eq!(spec.memory_limit, Some(512 * 1024 * 1024));
    assert_eq!(spec.memory_reservation, Some(256 * 1024 * 1024));
    assert_eq!(spec.cpu_shares, Some(500));
    assert_eq!(spec.hostname.as_deref(), Some("web.frontend[2]"));
    assert_eq!(spec.labels.get("team").map(String::as_str), Some("edge"));
    assert_eq!(
        spec.labels.get(labels::ALLOC_ID).map(String::as_str),
        Some("a1b2")
    );
    assert_eq!(
        spec.labels.get(labels::NODE_ID).map(String::as_str),
        Some("node-1")
    );
    assert_eq!(
        spec.labels.get(labels::TASK).map(String::as_str),
        Some("nginx")
    );
    assert_eq!(
        spec.env.get("NOMAD_ADDR_http").map(String::as_str),
        Some("127.0.0.2:23456")
    );
    assert_eq!(spec.labels.get(labels::SPEC_HASH), Some(&spec_hash(&spec)));
}

#[test]
fn the_hash_changes_with_the_spec_and_only_with_it() {
    let base = spec_with(json!({"image": "busybox:1"}), |_, _| {}).expect("spec");
    let same = spec_with(json!({"image": "busybox:1"}), |_, _| {}).expect("spec");
    assert_eq!(
        base.labels.get(labels::SPEC_HASH),
        same.labels.get(labels::SPEC_HASH)
    );
    let other = spec_with(json!({"image": "busybox:2"}), |_, _| {}).expect("spec");
    assert_ne!(
        base.labels.get(labels::SPEC_HASH),
        other.labels.get(labels::SPEC_HASH)
    );
    let more_memory = spec_with(json!({"image": "busybox:1"}), |job, _| {
        job.spec.groups[0].tasks[0].resources.memory_max = Some(1024);
    })
    .expect("spec");
    assert_ne!(
        base.labels.get(labels::SPEC_HASH),
        more_memory.labels.get(labels::SPEC_HASH)
    );
}

#[test]
fn memory_without_memory_max_is_the_hard_limit() {
    let spec = spec_with(json!({"image": "busybox:1"}), |job, _| {
        job.spec.groups[0].tasks[0].resources.memory_max = None;
    })
    .expect("spec");
    assert_eq!(spec.memory_limit, Some(256 * 1024 * 1024));
    assert_eq!(spec.memory_reservation, None);
}

#[test]
fn named_host_volumes_mount_from_the_node() {
    let spec = spec_with(json!({"image": "busybox:1"}), |job, node| {
        let group = &mut job.spec.groups[0];
        group.volumes.insert(
            "data".into(),
            VolumeRequest {
                source: "pgdata".into(),
                ..Default::default()
            },
        );
        group.tasks[0].volume_mounts.push(VolumeMount {
            volume: "data".into(),
            destination: "/var/lib/postgresql".into(),
            read_only: true,
            ..Default::default()
        });
        node.spec.host_volumes.insert(
            "pgdata".into(),
            HostVolume {
                path: "/mnt/pg".into(),
                read_only: false,
            },
        );
    })
    .expect("spec");
    let last = spec.mounts.last().expect("a mount");
    assert_eq!(
        (last.source.as_str(), last.target.as_str(), last.read_only),
        ("/mnt/pg", "/var/lib/postgresql", true)
    );
}

#[test]
fn bad_configs_say_what_to_change() {
    let cases: Vec<(serde_json::Value, &str)> = vec![
        (json!({}), "task \"nginx\": the docker driver needs config.image"),
        (json!({"image": 5}), "task \"nginx\": config.image must be a string"),
        (json!({"image": "x", "args": {"a": 1}}), "task \"nginx\": config.args must be a list of strings"),
        (
            json!({"image": "x", "ports": ["admin"]}),
            "task \"nginx\": config.ports names \"admin\", which the group network does not define or placement did not assign",
        ),
        (
            json!({"image": "x", "volumes": ["nocolon"]}),
            "task \"nginx\": config.volumes must be entries like \"/host/path:/container/path[:ro]\"",
        ),
        (
            json!({"image": "x", "privileged": true}),
            "task \"nginx\": privileged containers are not allowed on this node (start the agent with --allow-privileged)",
        ),
    ];
    for (config, want) in cases {
        let err = spec_with(config.clone(), |_, _| {}).expect_err("an error");
        assert_eq!(err.to_string(), want, "{config}");
    }
    let missing_volume = spec_with(json!({"image": "x"}), |job, _| {
        job.spec.groups[0].tasks[0].volume_mounts.push(VolumeMount {
            volume: "data".into(),
            destination: "/d".into(),
            ..Default::default()
        });
    })
    .expect_err("an error");
    assert_eq!(
        missing_volume.to_string(),
        "task \"nginx\": volume_mount \"data\": the group has no such volume"
    );
}

#[test]
fn pull_options_come_from_auth_auth_soft_fail_and_force_pull() {
    let spec = spec_with(
        json!({
            "image": "registry.example.com/team/app:1",
            "auth": {"username": "${NOMAD_META_team_name}", "password": "s3cret",
                     "server_address": "registry.example.com"},
            "auth_soft_fail": true,
            "force_pull": true
        }),
        |_, _| {},
    )
    .expect("spec");
    let auth = spec.pull.auth.clone().expect("auth");
    assert_eq!(auth.username.as_deref(), Some("edge"));
    assert_eq!(auth.password.as_deref(), Some("s3cret"));
    assert_eq!(auth.server_address.as_deref(), Some("registry.example.com"));
    assert!(spec.pull.auth_soft_fail && spec.pull.force);

    // Credentials are not what the container is: they leave the hash alone.
    let without = spec_with(
        json!({"image": "registry.example.com/team/app:1"}),
        |_, _| {},
    )
    .expect("spec");
    assert_eq!(without.pull, PullOptions::default());
    assert_eq!(
        spec.labels.get(labels::SPEC_HASH),
        without.labels.get(labels::SPEC_HASH)
    );

    let err = spec_with(json!({"image": "x", "auth": "user:pass"}), |_, _| {})
        .expect_err("auth must be a block");
    assert!(
        err.to_string().contains("config.auth must be a block"),
        "{err}"
    );
}
