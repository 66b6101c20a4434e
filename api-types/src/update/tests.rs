use super::*;
use crate::jobspec::{parse_str, ParseOptions};

const WEB: &str = r#"
job "web" {
  datacenters = ["dc1", "dc2"]
  meta { team = "a" }
  group "front" {
    count = 2
    network {
      port "http" { to = 8080 }
    }
    service {
      name = "front"
      port = "http"
      tags = ["v1"]
      check {
        type     = "http"
        path     = "/health"
        interval = "10s"
        timeout  = "2s"
      }
    }
    task "nginx" {
      driver = "docker"
      config { image = "nginx:1.22.1" }
      env { MODE = "prod" }
      meta { owner = "ops" }
      resources {
        cpu    = 100
        memory = 64
      }
    }
    task "sidecar" {
      driver = "docker"
      config { image = "envoy:1" }
    }
  }
}
"#;

fn job() -> Job {
    let loaded = parse_str("web.nomad", WEB, &ParseOptions::default()).expect("parse");
    loaded.jobs.into_iter().next().expect("one job")
}

fn group() -> TaskGroup {
    job().spec.groups.into_iter().next().expect("one group")
}

fn task<'a>(g: &'a mut TaskGroup, name: &str) -> &'a mut crate::Task {
    g.tasks.iter_mut().find(|t| t.name == name).expect("task")
}

type Change = fn(&mut TaskGroup);

#[test]
fn in_place_changes() {
    let table: &[(&str, Change)] = &[
        ("nothing", |_| {}),
        ("count", |g| g.count = 7),
        ("group meta", |g| {
            g.meta.insert("k".into(), "v".into());
        }),
        ("task meta", |g| {
            task(g, "nginx").meta.insert("owner".into(), "dev".into());
        }),
        ("service tags", |g| g.services[0].tags = vec!["v2".into()]),
        ("canary tags", |g| {
            g.services[0].canary_tags = vec!["c".into()]
        }),
        ("service meta", |g| {
            g.services[0].meta.insert("k".into(), "v".into());
        }),
        ("checks", |g| g.services[0].checks[0].path = "/ready".into()),
        ("no checks", |g| g.services[0].checks.clear()),
        ("update", |g| g.update = None),
        ("migrate", |g| g.migrate = None),
        ("reschedule", |g| g.reschedule = None),
        ("group restart", |g| g.restart = None),
        ("task restart", |g| task(g, "nginx").restart = None),
        ("task order", |g| g.tasks.reverse()),
    ];
    for (what, change) in table {
        let mut new = group();
        change(&mut new);
        assert_eq!(update_kind(&group(), &new), UpdateKind::InPlace, "{what}");
    }
}

#[test]
fn destructive_changes_name_the_first_field() {
    let table: &[(&str, Change, &str)] = &[
        (
            "image",
            |g| {
                task(g, "nginx")
                    .config
                    .insert("image".into(), "nginx:1.23".into());
            },
            "tasks[nginx].config.image",
        ),
        (
            "env",
            |g| {
                task(g, "nginx").env.insert("MODE".into(), "dev".into());
            },
            "tasks[nginx].env.MODE",
        ),
        (
            "resources",
            |g| task(g, "nginx").resources.memory = 128,
            "tasks[nginx].resources.memory",
        ),
        (
            "a task added",
            |g| {
                let mut t = g.tasks[0].clone();
                t.name = "extra".into();
                g.tasks.push(t);
            },
            "tasks[extra]",
        ),
        (
            "a task removed",
            |g| {
                g.tasks.retain(|t| t.name != "sidecar");
            },
            "tasks[sidecar]",
        ),
        (
            "ports",
            |g| {
                if let Some(n) = g.network.as_mut() {
                    n.ports[0].to = Some(9090);
                }
            },
            "network.ports[http].to",
        ),
        (
            "service port",
            |g| g.services[0].port = "9999".into(),
            "services[front].port",
        ),
        (
            "constraint",
            |g| {
                g.constraints.push(crate::job::Constraint {
                    attribute: "${attr.kernel.name}".into(),
                    operator: "=".into(),
                    value: "linux".into(),
                })
            },
            "constraints",
        ),
        (
            "templates",
            |g| {
                let t = crate::task::Template {
                    destination: "local/x".into(),
                    data: "x".into(),
                    change_mode: "restart".into(),
                    splay: crate::Duration::default(),
                    perms: "0644".into(),
                    source: String::new(),
                    change_signal: String::new(),
                    left_delimiter: String::new(),
                    right_delimiter: String::new(),
                    env: false,
                };
                task(g, "sidecar").templates.push(t);
            },
            "tasks[sidecar].templates",
        ),
    ];
    for (what, change, field) in table {
        let mut new = group();
        change(&mut new);
        let kind = update_kind(&group(), &new);
        assert_eq!(kind.field(), Some(*field), "{what}: {kind}");
        assert!(kind.is_destructive(), "{what}");
    }
}

#[test]
fn in_place_and_destructive_together_is_destructive() {
    let mut new = group();
    new.count = 9;
    new.services[0].tags.push("x".into());
    task(&mut new, "sidecar")
        .config
        .insert("image".into(), "envoy:2".into());
    assert_eq!(
        update_kind(&group(), &new).field(),
        Some("tasks[sidecar].config.image")
    );
}

#[test]
fn job_level_fields() {
    type JobChange = fn(&mut Job);
    let table: &[(&str, JobChange, Option<&str>)] = &[
        (
            "job meta",
            |j| {
                j.spec.meta.insert("team".into(), "b".into());
            },
            None,
        ),
        ("priority", |j| j.spec.priority = 90, None),
        (
            "datacenters reordered",
            |j| j.spec.datacenters.reverse(),
            None,
        ),
        (
            "a datacenter added",
            |j| j.spec.datacenters.push("dc3".into()),
            Some("datacenters"),
        ),
        (
            "node pool",
            |j| j.spec.node_pool = "gpu".into(),
            Some("node_pool"),
        ),
        (
            "job constraint",
            |j| {
                j.spec.constraints.push(crate::job::Constraint {
                    attribute: "${node.class}".into(),
                    operator: "=".into(),
                    value: "big".into(),
                })
            },
            Some("constraints"),
        ),
        (
            "group image",
            |j| {
                j.spec.groups[0].tasks[0]
                    .config
                    .insert("image".into(), "nginx:2".into());
            },
            Some("tasks[nginx].config.image"),
        ),
        ("group removed", |j| j.spec.groups.clear(), Some("groups")),
    ];
    for (what, change, field) in table {
        let mut new = job();
        change(&mut new);
        let kind = job_update_kind(&job(), &new, "front");
        assert_eq!(kind.field(), *field, "{what}: {kind}");
    }
}

#[test]
fn renders_for_plan() {
    assert_eq!(UpdateKind::InPlace.to_string(), "in-place update");
    let d = UpdateKind::Destructive {
        field: "tasks[a].env.X".into(),
    };
    assert_eq!(d.to_string(), "destructive update (tasks[a].env.X changed)");
}
