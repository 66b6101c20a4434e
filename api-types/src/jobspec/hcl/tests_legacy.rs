//! Tests of the Nomad 0.x mappings onto the current model.

use super::tests::{errors, job};
use crate::group::Port;

const LEGACY: &str = r#"
job "db" {
  group "g" {
    task "mongo" {
      driver = "docker"
      config {
        image = "mongo:4"
        port_map {
          db = 27017
        }
      }
      resources {
        memory = 512
        network {
          mbits = 10
          port "db" {}
          port "admin" {
            static = 8081
          }
        }
      }
    }
  }
}
"#;

#[test]
fn task_network_moves_to_the_group_and_port_map_sets_to() {
    let (j, warnings) = job(LEGACY);
    let group = &j.spec.groups[0];
    let network = group.network.clone().unwrap_or_default();
    assert_eq!(network.mode, "host");
    assert_eq!(network.mbits, Some(10));
    assert_eq!(
        network.ports,
        [
            Port {
                label: "db".into(),
                to: Some(27017),
                ..Port::default()
            },
            Port {
                label: "admin".into(),
                static_port: Some(8081),
                ..Port::default()
            },
        ]
    );
    let config = &group.tasks[0].config;
    assert!(!config.contains_key("port_map"));
    assert_eq!(config["ports"], serde_json::json!(["db", "admin"]));
    assert_eq!(
        warnings,
        [
            "t.nomad:8:9: warning: job \"db\" group \"g\" task \"mongo\" config: \"port_map\" is deprecated (Nomad 0.x): mapped to the group network as port \"db\" { to = 27017 }",
            "t.nomad:14:9: warning: job \"db\" group \"g\" task \"mongo\" resources: \"network\" inside \"resources\" is deprecated (Nomad 0.x): its ports were moved to the group network",
        ]
    );
}

#[test]
fn port_map_for_an_unknown_label_warns() {
    let src = LEGACY.replace("db = 27017", "web = 80");
    let (_, warnings) = job(&src);
    assert!(
        warnings[0].ends_with(
            "port_map entry \"web\" matches no port of the group network and is ignored"
        ),
        "{warnings:?}"
    );
}

#[test]
fn legacy_ports_clashing_with_the_group_network_are_errors() {
    let src = LEGACY.replace(
        "  group \"g\" {\n",
        "  group \"g\" {\n    network {\n      port \"db\" {}\n    }\n",
    );
    let errs = errors(&src);
    assert!(
        errs[0].ends_with("port \"db\" is already declared by the group network or another task"),
        "{errs:?}"
    );
}

#[test]
fn client_disconnect_attributes_map_to_disconnect() {
    let src = "job \"j\" {\n  group \"g\" {\n    max_client_disconnect = \"1h\"\n    stop_after_client_disconnect = \"5m\"\n  }\n}\n";
    let (j, warnings) = job(src);
    let disconnect = j.spec.groups[0].disconnect.clone().unwrap_or_default();
    assert_eq!(
        disconnect.lost_after.map(|d| d.to_string()),
        Some("1h".into())
    );
    assert_eq!(
        disconnect.stop_on_client_after.map(|d| d.to_string()),
        Some("5m".into())
    );
    assert_eq!(
        warnings,
        [
            "t.nomad:3:5: warning: job \"j\" group \"g\": \"max_client_disconnect\" is deprecated: use disconnect { lost_after = \"1h\" }",
            "t.nomad:4:5: warning: job \"j\" group \"g\": \"stop_after_client_disconnect\" is deprecated: use disconnect { stop_on_client_after = \"5m\" }",
        ]
    );
}

#[test]
fn client_disconnect_attribute_and_block_conflict() {
    let src = "job \"j\" {\n  group \"g\" {\n    max_client_disconnect = \"1h\"\n    disconnect {\n      replace = true\n    }\n  }\n}\n";
    assert_eq!(
        errors(src),
        ["t.nomad:3:5: error: job \"j\" group \"g\": \"max_client_disconnect\" cannot be combined with a disconnect block: use disconnect { lost_after = \"1h\" }"]
    );
}
