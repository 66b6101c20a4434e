//! `drover agent --config FILE`: the part of a Nomad client configuration
//! drover applies — the docker plugin's workload policy and host volumes —
//! so an operator can bring the file they have. Every other setting is
//! named in a warning with the flag that sets it, never silently dropped.
//!
//! ```hcl
//! client {
//!   host_volume "pgdata" {
//!     path      = "/mnt/pg"
//!     read_only = false
//!   }
//! }
//! plugin "docker" {
//!   config {
//!     allow_privileged   = false
//!     allow_caps         = ["chown", "net_bind_service", "setuid", "setgid"]
//!     pids_limit         = 2048
//!     volumes { enabled = false }
//!     allow_runtimes     = ["runc", "nvidia"]
//!     # drover's own:
//!     allow_host_network = false
//!     allow_host_pid     = false
//!     allow_host_ipc     = false
//!     allow_devices      = false
//!   }
//! }
//! ```

use std::collections::BTreeMap;

use serde_json::Value;

use crate::node::HostVolume;

/// The largest config file read.
pub const MAX_FILE_BYTES: usize = 256 * 1024;

/// What a config file sets; `None` where it says nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AgentFile {
    pub allow_privileged: Option<bool>,
    pub volumes_enabled: Option<bool>,
    pub allow_host_network: Option<bool>,
    pub allow_host_pid: Option<bool>,
    pub allow_caps: Option<Vec<String>>,
    pub allow_runtimes: Option<Vec<String>>,
    pub allow_host_ipc: Option<bool>,
    pub allow_devices: Option<bool>,
    pub pids_limit: Option<i64>,
    pub host_volumes: BTreeMap<String, HostVolume>,
    /// Settings in the file drover does not apply, each with what to do.
    pub warnings: Vec<String>,
}

/// Nomad settings with a `drover agent` flag of their own.
const BY_FLAG: [(&str, &str); 9] = [
    ("datacenter", "--datacenter"),
    ("data_dir", "--data-dir"),
    ("name", "--node-name"),
    ("bind_addr", "--http-addr"),
    ("log_level", "--log-level"),
    ("client.node_class", "--node-class"),
    ("client.node_pool", "--node-pool"),
    ("client.meta", "--meta"),
    ("client.network_interface", "--address"),
];

/// Parses `text` (read from `file`); a syntax error names `file` and where.
pub fn parse(file: &str, text: &str) -> Result<AgentFile, String> {
    if text.len() > MAX_FILE_BYTES {
        return Err(format!(
            "{file}: {} bytes; a config file is at most {MAX_FILE_BYTES}",
            text.len()
        ));
    }
    let value: Value = hcl::from_str(text).map_err(|e| format!("{file}: {e}"))?;
    let mut out = AgentFile::default();
    let Value::Object(top) = value else {
        return Ok(out);
    };
    for (key, value) in &top {
        match key.as_str() {
            "client" => client(&mut out, value, file)?,
            "plugin" => plugins(&mut out, value, file)?,
            other => out.warnings.push(unapplied(other)),
        }
    }
    Ok(out)
}

fn unapplied(path: &str) -> String {
    match BY_FLAG.iter().find(|(key, _)| *key == path) {
        Some((_, flag)) => format!("{path} is not read from the config file; give {flag}"),
        None => format!("{path} is not applied by drover's agent; it is ignored"),
    }
}

/// Blocks HCL turned into an object, or a list of them when repeated.
fn blocks(value: &Value) -> Vec<&serde_json::Map<String, Value>> {
    match value {
        Value::Object(map) => vec![map],
        Value::Array(items) => items.iter().filter_map(Value::as_object).collect(),
        _ => Vec::new(),
    }
}

fn client(out: &mut AgentFile, value: &Value, file: &str) -> Result<(), String> {
    for block in blocks(value) {
        for (key, value) in block {
            match key.as_str() {
                "host_volume" => host_volumes(out, value, file)?,
                other => out.warnings.push(unapplied(&format!("client.{other}"))),
            }
        }
    }
    Ok(())
}

fn host_volumes(out: &mut AgentFile, value: &Value, file: &str) -> Result<(), String> {
    for labelled in blocks(value) {
        for (name, body) in labelled {
            for volume in blocks(body) {
                let path = volume.get("path").and_then(Value::as_str).ok_or_else(|| {
                    format!("{file}: client host_volume {name:?}: path is missing; give the host directory")
                })?;
                if !path.starts_with('/') {
                    return Err(format!(
                        "{file}: client host_volume {name:?}: path {path:?} must be absolute"
                    ));
                }
                let read_only = bool_at(volume, "read_only", file)?.unwrap_or(false);
                out.host_volumes.insert(
                    name.clone(),
                    HostVolume {
                        path: path.to_string(),
                        read_only,
                    },
                );
            }
        }
    }
    Ok(())
}

fn plugins(out: &mut AgentFile, value: &Value, file: &str) -> Result<(), String> {
    for labelled in blocks(value) {
        for (name, body) in labelled {
            if name != "docker" {
                out.warnings.push(format!(
                    "plugin {name:?} is not a driver drover runs; it is ignored"
                ));
                continue;
            }
            for plugin in blocks(body) {
                for (key, value) in plugin {
                    if key == "config" {
                        for config in blocks(value) {
                            docker(out, config, file)?;
                        }
                    } else {
                        out.warnings
                            .push(unapplied(&format!("plugin.docker.{key}")));
                    }
                }
            }
        }
    }
    Ok(())
}

fn bool_at(
    map: &serde_json::Map<String, Value>,
    key: &str,
    file: &str,
) -> Result<Option<bool>, String> {
    match map.get(key) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(other) => Err(format!("{file}: {key} must be true or false, not {other}")),
    }
}

/// A list of strings, or the error naming `key` and what it must hold.
fn names(value: &Value, file: &str, key: &str, what: &str) -> Result<Vec<String>, String> {
    value
        .as_array()
        .and_then(|items| {
            items
                .iter()
                .map(|c| c.as_str().map(str::to_string))
                .collect()
        })
        .ok_or_else(|| format!("{file}: {key} must be a list of {what}"))
}

fn docker(
    out: &mut AgentFile,
    config: &serde_json::Map<String, Value>,
    file: &str,
) -> Result<(), String> {
    for (key, value) in config {
        match key.as_str() {
            "allow_privileged" => out.allow_privileged = bool_at(config, key, file)?,
            "allow_host_network" => out.allow_host_network = bool_at(config, key, file)?,
            "allow_host_pid" => out.allow_host_pid = bool_at(config, key, file)?,
            "allow_host_ipc" => out.allow_host_ipc = bool_at(config, key, file)?,
            "allow_devices" => out.allow_devices = bool_at(config, key, file)?,
            "allow_runtimes" => {
                out.allow_runtimes = Some(names(value, file, key, "runtime names")?);
            }
            "volumes" => {
                for volumes in blocks(value) {
                    out.volumes_enabled = bool_at(volumes, "enabled", file)?;
                    for other in volumes.keys().filter(|k| *k != "enabled") {
                        out.warnings
                            .push(unapplied(&format!("plugin.docker.config.volumes.{other}")));
                    }
                }
            }
            "allow_caps" => {
                out.allow_caps = Some(names(value, file, key, "capability names")?);
            }
            "pids_limit" => {
                out.pids_limit = Some(value.as_i64().filter(|n| *n >= 0).ok_or_else(|| {
                    format!("{file}: pids_limit must be a whole number, 0 for none")
                })?);
            }
            other => out
                .warnings
                .push(unapplied(&format!("plugin.docker.config.{other}"))),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nomad_client_file_gives_the_policy_and_host_volumes() {
        let text = r#"
datacenter = "dc2"
client {
  enabled = true
  node_class = "db"
  host_volume "pgdata" {
    path      = "/mnt/pg"
    read_only = true
  }
}
plugin "docker" {
  config {
    allow_privileged = true
    allow_caps       = ["chown", "sys_time"]
    pids_limit       = 2048
    volumes {
      enabled = true
    }
    allow_host_network = true
    gc { image = false }
  }
}
plugin "raw_exec" {
  config { enabled = true }
}
"#;
        let file = parse("client.hcl", text).expect("parses");
        assert_eq!(file.allow_privileged, Some(true));
        assert_eq!(file.volumes_enabled, Some(true));
        assert_eq!(file.allow_host_network, Some(true));
        assert_eq!(file.allow_host_pid, None);
        assert_eq!(
            file.allow_caps,
            Some(vec!["chown".into(), "sys_time".into()])
        );
        assert_eq!(file.pids_limit, Some(2048));
        assert_eq!(
            file.host_volumes.get("pgdata"),
            Some(&HostVolume {
                path: "/mnt/pg".into(),
                read_only: true
            })
        );
        for want in [
            "datacenter is not read from the config file; give --datacenter",
            "client.node_class is not read from the config file; give --node-class",
            "client.enabled is not applied by drover's agent; it is ignored",
            "plugin.docker.config.gc is not applied by drover's agent; it is ignored",
            "plugin \"raw_exec\" is not a driver drover runs; it is ignored",
        ] {
            assert!(
                file.warnings.iter().any(|w| w == want),
                "{want}: {:?}",
                file.warnings
            );
        }
    }

    #[test]
    fn mistakes_are_errors_that_name_the_file() {
        for (text, want) in [
            (
                "plugin \"docker\" {\n  config {\n    allow_privileged = \"yes\"\n  }\n}\n",
                "allow_privileged must be true or false",
            ),
            (
                "client {\n  host_volume \"x\" {\n    read_only = true\n  }\n}\n",
                "path is missing",
            ),
            (
                "client {\n  host_volume \"x\" {\n    path = \"rel\"\n  }\n}\n",
                "must be absolute",
            ),
            (
                "plugin \"docker\" {\n  config {\n    pids_limit = -3\n  }\n}\n",
                "pids_limit must be",
            ),
            ("client {\n", "client.hcl"),
        ] {
            let e = parse("client.hcl", text).expect_err(text);
            assert!(
                e.starts_with("client.hcl") && e.contains(want),
                "{text}: {e}"
            );
        }
        let huge = "# x\n".repeat(MAX_FILE_BYTES);
        assert!(parse("client.hcl", &huge).is_err());
    }
}
