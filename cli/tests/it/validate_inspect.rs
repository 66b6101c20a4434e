//! `drover validate` and `drover inspect`, run as a user runs them.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const VALID_YAML: &str = "apiVersion: drover.io/v1
kind: Job
metadata:
  name: web
spec:
  datacenters: [dc1]
  groups:
  - name: web
    count: 2
    tasks:
    - name: web
      driver: docker
      config:
        image: nginx:1.22.1
";

const VALID_HCL: &str = r#"variable "image" {
  type    = string
  default = "nginx:1.22.1"
}

job "web" {
  datacenters = ["dc1"]
  group "web" {
    count = 2
    task "web" {
      driver = "docker"
      config {
        image = var.image
      }
    }
  }
}
"#;

fn drover(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_drover"))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run drover: {e}"))
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    path
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn path_str(path: &Path) -> &str {
    path.to_str().unwrap_or_default()
}

#[test]
fn validate_reports_ok_per_file_and_exits_zero() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let yaml = write(dir.path(), "web.yaml", VALID_YAML);
    let hcl = write(dir.path(), "web.nomad", VALID_HCL);
    let out = drover(&["validate", path_str(&yaml), path_str(&hcl)]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        format!("{}: ok\n{}: ok\n", yaml.display(), hcl.display())
    );
}

#[test]
fn validate_reports_location_and_exits_one_on_a_bad_file() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let good = write(dir.path(), "good.yaml", VALID_YAML);
    let bad = write(
        dir.path(),
        "bad.yaml",
        &VALID_YAML.replace("    count: 2", "    cuont: 2"),
    );
    let out = drover(&["validate", path_str(&good), path_str(&bad)]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stdout), format!("{}: ok\n", good.display()));
    let stderr = text(&out.stderr);
    assert!(
        stderr.starts_with(&format!("{}: invalid\n", bad.display())),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "{}:9:5: error: spec.groups[0]: unknown field `cuont` (did you mean \"count\"?)",
            bad.display()
        )),
        "{stderr}"
    );
}

#[test]
fn var_flag_reaches_the_job() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let hcl = write(dir.path(), "web.nomad", VALID_HCL);
    let out = drover(&[
        "inspect",
        "-o",
        "json",
        "--var",
        "image=nginx:1.25",
        path_str(&hcl),
    ]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    let job: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "inspect -o json must print JSON: {e}\n{}",
            text(&out.stdout)
        )
    });
    assert_eq!(
        job["spec"]["groups"][0]["tasks"][0]["config"]["image"],
        "nginx:1.25"
    );
}

#[test]
fn inspect_json_shows_defaults_and_yaml_round_trips() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let yaml = write(dir.path(), "web.yaml", VALID_YAML);
    let out = drover(&["inspect", "-o", "json", path_str(&yaml)]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    let job: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("inspect -o json must print JSON: {e}"));
    assert_eq!(job["metadata"]["namespace"], "default");
    assert_eq!(job["spec"]["priority"], 50);
    let task = &job["spec"]["groups"][0]["tasks"][0];
    assert_eq!(task["resources"]["cpu"], 100);
    assert_eq!(task["resources"]["memory"], 300);
    assert_eq!(task["kill_timeout"], "5s");
    assert_eq!(job["spec"]["groups"][0]["restart"]["attempts"], 2);
    assert_eq!(job["spec"]["groups"][0]["update"]["max_parallel"], 1);

    let out = drover(&["inspect", "-o", "yaml", path_str(&yaml)]);
    assert_eq!(out.status.code(), Some(0));
    let again = write(dir.path(), "again.yaml", &text(&out.stdout));
    let out2 = drover(&["inspect", "-o", "yaml", path_str(&again)]);
    assert_eq!(
        text(&out.stdout),
        text(&out2.stdout),
        "inspect output must be a fixed point"
    );
}

#[test]
fn inspect_refuses_an_invalid_file() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let bad = write(
        dir.path(),
        "bad.yaml",
        "apiVersion: drover.io/v1\nkind: Job\n: [\n",
    );
    let out = drover(&["inspect", path_str(&bad)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains(&format!("{}:", bad.display())),
        "{}",
        text(&out.stderr)
    );
    assert!(out.stdout.is_empty());
}
