//! Table tests: job file fields to container spec.

use std::path::Path;

use drover_api_types::group::VolumeRequest;
use drover_api_types::node::HostVolume;
use drover_api_types::task::VolumeMount;
use drover_api_types::{Job, Node};
use serde_json::json;

use super::*;
use crate::task_env::TaskContext;
use drover_api_types::host_access::{HostAccess, HostPolicy};

fn fixture() -> (Job, drover_api_types::alloc::Allocation, Node) {
    crate::task_env::tests::fixture()
}

/// A node whose agent allows every host access: these tables are about
/// how fields become the spec (see [`on_a_default_node`] for refusals).
fn spec_with(
    config: serde_json::Value,
    edit: impl FnOnce(&mut Job, &mut Node),
) -> Result<ContainerSpec, SpecError> {
    let open = HostPolicy {
        allowed: HostAccess::ALL.into(),
        ..HostPolicy::default()
    };
    spec_under(&open, config, edit)
}

/// An agent started without any `--allow-*`/`--docker-*` flag.
fn on_a_default_node(config: serde_json::Value) -> Result<ContainerSpec, SpecError> {
    spec_under(&HostPolicy::default(), config, |_, _| {})
}

fn spec_under(
    host: &HostPolicy,
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
            host,
            pids_limit: Some(4096),
            template_source_dirs: &[std::path::PathBuf::from("/etc/templates")],
            read_source: &fake_source,
        },
    )
}

/// The node's files, for template sources, each under the root the read
/// may not leave.
fn fake_source(root: &Path, path: &Path) -> std::io::Result<String> {
    assert!(
        path.starts_with(root),
        "{} outside {}",
        path.display(),
        root.display()
    );
    match path.to_str() {
        Some("/etc/templates/app.tpl") => Ok("name={{ env \"NOMAD_TASK_NAME\" }}".into()),
        Some("/var/lib/drover/allocs/a1b2/nginx/local/in.tpl") => Ok("relative".into()),
        _ => Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "No such file or directory",
        )),
    }
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

/// A meta-only change moves an allocation in place: the hash without meta
/// must not see it, under either prefix (`NOMAD_META_*`, `DROVER_META_*`).
#[test]
fn a_meta_change_leaves_the_hash_without_meta_alone() {
    let base = spec_with(json!({"image": "busybox:1"}), |_, _| {}).expect("spec");
    let with_meta = spec_with(json!({"image": "busybox:1"}), |job, _| {
        job.spec.meta.insert("owner".into(), "ops".into());
    })
    .expect("spec");
    assert!(with_meta.env.contains_key("DROVER_META_owner"));
    assert_ne!(
        base.labels.get(labels::SPEC_HASH),
        with_meta.labels.get(labels::SPEC_HASH)
    );
    assert_eq!(
        base.labels.get(labels::SPEC_HASH_WITHOUT_META),
        with_meta.labels.get(labels::SPEC_HASH_WITHOUT_META)
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
            "task \"nginx\": config.volumes: volume \"nocolon\" is not \"/host/path:/container/path[:options]\"",
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
fn a_default_node_refuses_what_reaches_beyond_the_allocation() {
    let cases: Vec<(serde_json::Value, &str)> = vec![
        (
            json!({"image": "x", "privileged": true}),
            "task \"nginx\": privileged = true is not allowed on this node: privileged containers disabled (start its agent with --allow-privileged)",
        ),
        (
            json!({"image": "x", "volumes": ["/:/host"]}),
            "task \"nginx\": host path \"/:/host\" is not allowed on this node: volumes disabled (start its agent with --docker-volumes-enabled)",
        ),
        (
            json!({"image": "x", "volumes": ["/var/run/docker.sock:/var/run/docker.sock"]}),
            "volumes disabled",
        ),
        (
            json!({"image": "x", "volumes": ["../../../x:/x"]}),
            "volumes disabled",
        ),
        (
            json!({"image": "x", "mount": [{"source": "/etc", "target": "/e"}]}),
            "task \"nginx\": host path \"/etc\" is not allowed on this node: volumes disabled (start its agent with --docker-volumes-enabled)",
        ),
        (
            // Judged once expanded.
            json!({"image": "x", "volumes": ["${NOMAD_META_root}:/host"]}),
            "volumes disabled",
        ),
        (
            json!({"image": "x", "network_mode": "host"}),
            "task \"nginx\": network_mode = \"host\" is not allowed on this node: host network disabled (start its agent with --docker-allow-host-network)",
        ),
        (
            json!({"image": "x", "pid_mode": "host"}),
            "task \"nginx\": pid_mode = \"host\" is not allowed on this node: host pid namespace disabled (start its agent with --docker-allow-host-pid)",
        ),
        (
            json!({"image": "x", "network_mode": "container:etcd"}),
            "task \"nginx\": network_mode \"container:etcd\" names a container outside this allocation; only another task of the same allocation may be shared",
        ),
        (
            json!({"image": "x", "pid_mode": "container:nginx-a1b2"}),
            "task \"nginx\": pid_mode \"container:nginx-a1b2\" names a container outside this allocation; only another task of the same allocation may be shared",
        ),
    ];
    for (config, want) in cases {
        let err = spec_under(&HostPolicy::default(), config.clone(), |job, _| {
            job.spec.groups[0].tasks[0]
                .meta
                .insert("root".into(), "/".into());
        })
        .expect_err("refused");
        assert!(err.to_string().contains(want), "{config}: {err}");
    }
    // What stays in the allocation needs no leave.
    let inside = on_a_default_node(json!({
        "image": "x",
        "volumes": ["local/conf:/etc/app", "a/../b:/b", "../alloc/data:/data"],
        "mount": [{"source": "cache", "target": "/cache"}]
    }))
    .expect("spec");
    let sources: Vec<&str> = inside
        .mounts
        .iter()
        .skip(3)
        .map(|m| m.source.as_str())
        .collect();
    assert_eq!(
        sources,
        [
            "/var/lib/drover/allocs/a1b2/nginx/local/conf",
            "/var/lib/drover/allocs/a1b2/nginx/b",
            "/var/lib/drover/allocs/a1b2/alloc/data",
            "/var/lib/drover/allocs/a1b2/nginx/cache",
        ]
    );
    // Another task of the same allocation may share its namespaces.
    let shared = spec_under(
        &HostPolicy::default(),
        json!({"image": "x", "network_mode": "container:sidecar-a1b2"}),
        |job, _| {
            let mut sidecar = job.spec.groups[0].tasks[0].clone();
            sidecar.name = "sidecar".into();
            job.spec.groups[0].tasks.push(sidecar);
        },
    )
    .expect("a sibling's network");
    assert_eq!(
        shared.network_mode.as_deref(),
        Some("container:sidecar-a1b2")
    );
}

#[test]
fn containers_get_a_pids_limit_the_task_may_lower_its_user_and_a_read_only_root() {
    let plain = spec_with(json!({"image": "x"}), |_, _| {}).expect("spec");
    assert_eq!(plain.pids_limit, Some(4096), "the agent's limit");
    assert_eq!(
        (plain.user.as_deref(), plain.readonly_rootfs),
        (None, false)
    );
    let asked = spec_with(
        json!({"image": "x", "pids_limit": 20, "readonly_rootfs": true}),
        |job, _| job.spec.groups[0].tasks[0].user = "nobody".into(),
    )
    .expect("spec");
    assert_eq!(asked.pids_limit, Some(20));
    assert!(asked.readonly_rootfs);
    assert_eq!(asked.user.as_deref(), Some("nobody"));
    let higher = spec_with(json!({"image": "x", "pids_limit": 100000}), |_, _| {}).expect("spec");
    assert_eq!(higher.pids_limit, Some(4096), "a task only lowers it");
    let bad = spec_with(json!({"image": "x", "pids_limit": -1}), |_, _| {}).expect_err("refused");
    assert!(bad.to_string().contains("pids_limit"), "{bad}");

    // The agent's own limit is not in the hash: changing it (or upgrading
    // to an agent that has one) replaces no running container.
    let mut unlimited = plain.clone();
    unlimited.pids_limit = None;
    assert_eq!(spec_hash(&unlimited), spec_hash(&plain));
    assert_ne!(spec_hash(&asked), spec_hash(&plain));
}

#[test]
fn capabilities_stay_within_allow_caps_and_net_raw_goes_by_default() {
    let plain = on_a_default_node(json!({"image": "x"})).expect("spec");
    assert_eq!(plain.cap_drop_policy, ["NET_RAW"]);
    assert!(plain.cap_add.is_empty() && plain.cap_drop.is_empty());
    let asked =
        on_a_default_node(json!({"image": "x", "cap_add": ["chown"], "cap_drop": ["CAP_MKNOD"]}))
            .expect("spec");
    assert_eq!(
        (asked.cap_add.as_slice(), asked.cap_drop.as_slice()),
        (&["CHOWN".to_string()][..], &["MKNOD".to_string()][..])
    );
    let refused =
        on_a_default_node(json!({"image": "x", "cap_add": ["SYS_ADMIN"]})).expect_err("refused");
    assert_eq!(
        refused.to_string(),
        "task \"nginx\": cap_add \"SYS_ADMIN\" is not allowed on this node: capability not in allow_caps (start its agent with --docker-allow-caps)"
    );
    // Dropping net_raw by policy does not enter the hash: a container made
    // before (with it) is adopted as it is.
    let mut before = plain.clone();
    before.cap_drop_policy.clear();
    assert_eq!(spec_hash(&before), spec_hash(&plain));
    assert_ne!(spec_hash(&asked), spec_hash(&plain));
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

fn with_templates(
    templates: Vec<drover_api_types::task::Template>,
) -> Result<ContainerSpec, SpecError> {
    spec_with(
        json!({"image": "busybox:1", "args": ["${GREETING}"]}),
        |job, _| {
            job.spec.groups[0].tasks[0].templates = templates;
        },
    )
}

fn template(destination: &str, data: &str) -> drover_api_types::task::Template {
    drover_api_types::task::Template {
        destination: destination.into(),
        data: data.into(),
        ..Default::default()
    }
}

#[test]
fn templates_become_files_in_the_task_dirs() {
    use drover_api_types::task::Template;
    let spec = with_templates(vec![
        template("local/app.conf", "port={{ env \"NOMAD_ALLOC_INDEX\" }}\n"),
        Template {
            perms: "0600".into(),
            ..template("${NOMAD_SECRETS_DIR}/token", "t")
        },
        Template {
            source: "/etc/templates/app.tpl".into(),
            ..template("alloc/shared.conf", "")
        },
        Template {
            source: "local/in.tpl".into(),
            left_delimiter: "[[".into(),
            right_delimiter: "]]".into(),
            ..template("local/out", "")
        },
    ])
    .expect("spec");
    let files: Vec<(&str, &str, u32)> = spec
        .files
        .iter()
        .map(|f| {
            (
                f.host_path.as_str(),
                std::str::from_utf8(&f.contents).unwrap_or(""),
                f.mode,
            )
        })
        .collect();
    let root = "/var/lib/drover/allocs/a1b2";
    assert_eq!(
        files,
        vec![
            (&*format!("{root}/nginx/local/app.conf"), "port=2\n", 0o644),
            (&*format!("{root}/nginx/secrets/token"), "t", 0o600),
            (&*format!("{root}/alloc/shared.conf"), "name=nginx", 0o644),
            (&*format!("{root}/nginx/local/out"), "relative", 0o644),
        ]
    );
}

#[test]
fn env_templates_add_variables_that_override_the_task_env() {
    use drover_api_types::task::Template;
    let spec = spec_with(
        json!({"image": "busybox:1", "args": ["${GREETING}"]}),
        |job, _| {
            let task = &mut job.spec.groups[0].tasks[0];
            task.env.insert("GREETING".into(), "from env".into());
            task.templates = vec![Template {
                env: true,
                ..template(
                    "secrets/app.env",
                    "# vars\nGREETING=hi\nIDX=\"{{ env \"NOMAD_ALLOC_INDEX\" }}\"\n",
                )
            }];
        },
    )
    .expect("spec");
    assert_eq!(spec.env.get("GREETING").map(String::as_str), Some("hi"));
    assert_eq!(spec.env.get("IDX").map(String::as_str), Some("2"));
    assert_eq!(spec.cmd, Some(vec!["hi".to_string()]));
    assert_eq!(
        spec.files.len(),
        1,
        "the env file is written too, as in Nomad"
    );
}

#[test]
fn template_contents_are_in_the_hash_and_no_templates_change_nothing() {
    let hash = |s: &ContainerSpec| s.labels.get(labels::SPEC_HASH).cloned();
    let none = with_templates(vec![]).expect("spec");
    let plain = spec_with(
        json!({"image": "busybox:1", "args": ["${GREETING}"]}),
        |_, _| {},
    )
    .expect("spec");
    assert_eq!(hash(&none), hash(&plain));
    let a = with_templates(vec![template("local/a", "one")]).expect("spec");
    let b = with_templates(vec![template("local/a", "two")]).expect("spec");
    assert_ne!(hash(&a), hash(&b));
    assert_ne!(hash(&a), hash(&none));
}

#[test]
fn template_errors_name_the_task_and_the_template() {
    use drover_api_types::task::Template;
    let cases = vec![
        (
            template("local/app.conf", "a\nb\nc = {{ service \"db\" }}"),
            "task \"nginx\": template \"local/app.conf\": line 3, col 8: function \"service\" is not supported yet (drover renders env only; the catalog functions come with service registration)",
        ),
        (
            template("../../etc/x", "x"),
            "task \"nginx\": template \"../../etc/x\": destination \"../../etc/x\" is outside the task directory; write a path under local/, secrets/ or alloc/",
        ),
        (
            Template {
                source: "missing.tpl".into(),
                ..template("local/x", "")
            },
            "task \"nginx\": template \"local/x\": reading source /var/lib/drover/allocs/a1b2/nginx/missing.tpl: No such file or directory",
        ),
        (
            Template {
                source: "/etc/shadow".into(),
                ..template("local/x", "")
            },
            "task \"nginx\": template \"local/x\": source \"/etc/shadow\" is outside the task directory; the agent reads absolute sources only under a --template-source-dir",
        ),
        (
            Template {
                source: "/etc/templates/../shadow".into(),
                ..template("local/x", "")
            },
            "task \"nginx\": template \"local/x\": source \"/etc/templates/../shadow\" is outside the task directory; the agent reads absolute sources only under a --template-source-dir",
        ),
        (
            Template {
                source: "../../../x".into(),
                ..template("local/x", "")
            },
            "task \"nginx\": template \"local/x\": source \"../../../x\" leaves the allocation directory",
        ),
        (
            Template {
                env: true,
                ..template("local/x.env", "not an env file")
            },
            "task \"nginx\": template \"local/x.env\": env = true, but the rendered text is not KEY=VALUE lines: line 1: \"not an env file\" is not KEY=VALUE",
        ),
        (
            Template {
                perms: "rw".into(),
                ..template("local/x", "x")
            },
            "task \"nginx\": template \"local/x\": perms \"rw\" is not an octal file mode",
        ),
    ];
    for (t, want) in cases {
        let got = with_templates(vec![t])
            .map(|_| ())
            .map_err(|e| e.to_string());
        assert_eq!(got, Err(want.to_string()));
    }
}

#[test]
fn a_dispatch_payload_is_written_decoded_under_local_and_job_meta_reaches_the_env() {
    let spec = spec_with(json!({"image": "busybox:1"}), |job, _| {
        // "hi\0there": binary bytes survive.
        job.spec.payload = Some("aGkAdGhlcmU=".into());
        job.spec.meta.insert("scene".into(), "intro".into());
        job.spec.groups[0].tasks[0].dispatch_payload =
            Some(drover_api_types::task::DispatchPayload {
                file: "input.bin".into(),
            });
    })
    .expect("spec");
    let file = spec.files.last().expect("the payload file");
    assert_eq!(
        file.host_path,
        "/var/lib/drover/allocs/a1b2/nginx/local/input.bin"
    );
    assert_eq!(file.contents, b"hi\0there");
    assert!(
        spec.env.get("NOMAD_META_scene").map(String::as_str) == Some("intro"),
        "{:?}",
        spec.env
    );
    // No payload (not a dispatched child): no file.
    let plain = spec_with(json!({"image": "busybox:1"}), |job, _| {
        job.spec.groups[0].tasks[0].dispatch_payload =
            Some(drover_api_types::task::DispatchPayload {
                file: "input.bin".into(),
            });
    })
    .expect("spec");
    assert!(plain.files.is_empty());
}

#[test]
fn a_template_mounted_as_a_file_is_not_made_a_directory() {
    let spec = spec_with(
        json!({
            "image": "nginx",
            "volumes": [
                "local/site.conf:/etc/nginx/conf.d/default.conf:ro",
                "local/data:/data",
                "/srv/host:/host"
            ]
        }),
        |job, _| {
            job.spec.groups[0].tasks[0].templates = vec![template("local/site.conf", "server {}")];
        },
    )
    .expect("spec");
    let dirs = mount_dirs(&spec, "/var/lib/drover/allocs");
    let task = "/var/lib/drover/allocs/a1b2/nginx";
    assert!(
        !dirs.contains(&format!("{task}/local/site.conf")),
        "{dirs:?}"
    );
    assert!(dirs.contains(&format!("{task}/local")), "{dirs:?}");
    assert!(dirs.contains(&format!("{task}/local/data")), "{dirs:?}");
    assert!(
        !dirs.iter().any(|d| d == "/srv/host"),
        "operator paths: {dirs:?}"
    );
}

#[test]
fn volume_options_pid_mode_logs_and_cores_reach_the_spec() {
    let spec = spec_with(
        json!({
            "image": "x",
            "pid_mode": "host",
            "volumes": ["/a:/a:ro,rslave", "/b:/b:z"],
            "mount": [{"source": "/c", "target": "/c", "bind_options": {"propagation": "rshared"}}]
        }),
        |job, _| {
            let task = &mut job.spec.groups[0].tasks[0];
            task.logs.max_files = 3;
            task.logs.max_file_size = 7;
        },
    )
    .expect("spec");
    let mounts: Vec<(&str, bool, Vec<String>)> = spec
        .mounts
        .iter()
        .skip(3)
        .map(|m| (m.source.as_str(), m.read_only, m.options.clone()))
        .collect();
    assert_eq!(
        mounts,
        vec![
            ("/a", true, vec!["rslave".to_string()]),
            ("/b", false, vec!["z".to_string()]),
            ("/c", false, vec!["rshared".to_string()]),
        ]
    );
    assert_eq!(spec.pid_mode.as_deref(), Some("host"));
    let log = spec.log.clone().expect("log options");
    assert_eq!((log.max_files, log.max_file_size_mb), (3, 7));
    assert_eq!(spec.cpuset_cpus, None, "no cores reserved");

    let err = spec_with(
        json!({"image": "x", "volumes": ["/a:/a:ro,bogus"]}),
        |_, _| {},
    )
    .expect_err("unknown option");
    assert!(
        err.to_string().contains("unknown option \"bogus\""),
        "{err}"
    );

    let cores = spec_with(json!({"image": "x"}), |_, _| {});
    assert_eq!(cores.expect("spec").cpuset_cpus, None);
}

#[test]
fn a_template_in_secrets_is_the_tasks_alone_unless_perms_say_otherwise() {
    let spec = with_templates(vec![
        template("secrets/db.env", "PASSWORD=x"),
        template("local/app.conf", "x"),
        drover_api_types::task::Template {
            perms: "0640".into(),
            ..template("secrets/shared", "x")
        },
    ])
    .expect("spec");
    let modes: Vec<u32> = spec.files.iter().map(|f| f.mode).collect();
    assert_eq!(modes, [0o600, 0o644, 0o640]);
    // Hashed as declared: an agent upgrade that tightens secrets/ files
    // replaces no running container.
    let mut as_before = spec.clone();
    as_before.files[0].mode = 0o644;
    assert_eq!(spec_hash(&as_before), spec_hash(&spec));
}

/// A user's restart request makes a new container of the same spec: the
/// label carries its generation, the hashes do not see it, and a job
/// cannot set the label itself.
#[test]
fn a_restart_generation_is_a_label_outside_the_hashes() {
    let (mut job, mut alloc, node) = fixture();
    job.spec.groups[0].tasks[0].config = serde_json::from_value(json!({
        "image": "busybox:1",
        "labels": {(labels::RESTART_GENERATION): "99"}
    }))
    .expect("config");
    let make = |alloc: &drover_api_types::alloc::Allocation| {
        let group = &job.spec.groups[0];
        let ctx = TaskContext {
            job: &job,
            group,
            task: &group.tasks[0],
            alloc,
            node: &node,
        };
        container_spec(
            &ctx,
            &AgentPolicy {
                allocs_dir: Path::new("/var/lib/drover/allocs"),
                host: &HostPolicy::default(),
                pids_limit: None,
                template_source_dirs: &[],
                read_source: &fake_source,
            },
        )
        .expect("spec")
    };
    let before = make(&alloc);
    assert_eq!(before.labels.get(labels::RESTART_GENERATION), None);
    alloc.spec.restart = Some(drover_api_types::alloc::RestartRequest {
        generation: 4,
        ..Default::default()
    });
    let after = make(&alloc);
    assert_eq!(
        after
            .labels
            .get(labels::RESTART_GENERATION)
            .map(String::as_str),
        Some("4")
    );
    for hash in [labels::SPEC_HASH, labels::SPEC_HASH_WITHOUT_META] {
        assert_eq!(before.labels.get(hash), after.labels.get(hash), "{hash}");
    }
}
