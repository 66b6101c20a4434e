//! End-to-end tests of the HCL parser: job files in, jobs and diagnostics out.

use std::path::PathBuf;

use super::parse;
use crate::job::Job;
use crate::jobspec::ParseOptions;

pub(super) fn job_with(src: &str, options: &ParseOptions) -> (Job, Vec<String>) {
    match parse("t.nomad", src, options) {
        Ok((job, warnings)) => (job, warnings.iter().map(ToString::to_string).collect()),
        Err(errors) => panic!("should parse:\n{}", strings(&errors).join("\n")),
    }
}

pub(super) fn job(src: &str) -> (Job, Vec<String>) {
    job_with(src, &ParseOptions::default())
}

pub(super) fn errors_with(src: &str, options: &ParseOptions) -> Vec<String> {
    match parse("t.nomad", src, options) {
        Ok(_) => panic!("should fail:\n{src}"),
        Err(errors) => strings(&errors),
    }
}

pub(super) fn errors(src: &str) -> Vec<String> {
    errors_with(src, &ParseOptions::default())
}

fn strings(diags: &[crate::diagnostic::Diagnostic]) -> Vec<String> {
    diags.iter().map(ToString::to_string).collect()
}

/// A job around one task body.
fn task(body: &str) -> String {
    format!("job \"j\" {{\n  group \"g\" {{\n    task \"t\" {{\n      driver = \"docker\"\n{body}\n    }}\n  }}\n}}\n")
}

const VARS: &str = r#"
variable "tag" {
  default = "1.0"
}
variable "replicas" {
  type    = number
  default = 1
}
variable "dcs" {
  type    = list(string)
  default = ["dc1"]
}
variable "labels" {
  type    = map(string)
  default = {}
}
job "web" {
  datacenters = var.dcs
  meta        = var.labels
  group "g" {
    count = var.replicas
    task "t" {
      driver = "docker"
      config {
        image = "nginx:${var.tag}"
      }
    }
  }
}
"#;

fn temp_file(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("drover-hcl-tests-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join(name);
    let _ = std::fs::write(&path, text);
    path
}

fn image(job: &Job) -> String {
    job.spec.groups[0].tasks[0].config["image"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn variable_defaults_apply() {
    let (job, warnings) = job(VARS);
    assert_eq!(image(&job), "nginx:1.0");
    assert_eq!(job.spec.groups[0].count, 1);
    assert_eq!(job.spec.datacenters, ["dc1"]);
    assert!(warnings.is_empty(), "{warnings:?}");
}

#[test]
fn cli_vars_beat_var_files_beat_environment() {
    let hcl_file = temp_file("prod.hcl", "tag = \"2.0\"\nreplicas = 4\n");
    let json_file = temp_file("prod.json", "{\"tag\": \"3.0\"}");
    let env = vec![
        ("tag".to_string(), "env".to_string()),
        ("replicas".into(), "2".into()),
    ];
    let only_env = ParseOptions {
        env_vars: env.clone(),
        ..ParseOptions::default()
    };
    let (j, _) = job_with(VARS, &only_env);
    assert_eq!((image(&j), j.spec.groups[0].count), ("nginx:env".into(), 2));
    let files = ParseOptions {
        env_vars: env.clone(),
        var_files: vec![hcl_file.clone(), json_file.clone()],
        ..ParseOptions::default()
    };
    let (j, _) = job_with(VARS, &files);
    assert_eq!((image(&j), j.spec.groups[0].count), ("nginx:3.0".into(), 4));
    let cli = ParseOptions {
        vars: vec![("tag".into(), "4.0".into()), ("tag".into(), "5.0".into())],
        env_vars: env,
        var_files: vec![hcl_file, json_file],
        ..ParseOptions::default()
    };
    let (j, _) = job_with(VARS, &cli);
    assert_eq!(image(&j), "nginx:5.0", "the later --var wins");
}

#[test]
fn cli_values_are_converted_to_the_declared_type() {
    let options = ParseOptions {
        vars: vec![
            ("replicas".into(), "3".into()),
            ("dcs".into(), r#"["a", "b"]"#.into()),
            ("labels".into(), r#"{ team = "web" }"#.into()),
        ],
        ..ParseOptions::default()
    };
    let (j, _) = job_with(VARS, &options);
    assert_eq!(j.spec.groups[0].count, 3);
    assert_eq!(j.spec.datacenters, ["a", "b"]);
    assert_eq!(j.spec.meta.get("team").map(String::as_str), Some("web"));
    let bad = ParseOptions {
        vars: vec![("replicas".into(), "three".into())],
        ..ParseOptions::default()
    };
    assert_eq!(
        errors_with(VARS, &bad),
        ["error: variable \"replicas\": invalid value from --var: a number is required, got \"three\""]
    );
}

#[test]
fn undeclared_values_error_on_the_cli_and_warn_in_var_files() {
    let cli = ParseOptions {
        vars: vec![("tags".into(), "x".into())],
        ..ParseOptions::default()
    };
    assert_eq!(
        errors_with(VARS, &cli),
        ["error: --var tags=…: the job file declares no variable \"tags\" (did you mean \"tag\"?)"]
    );
    let file = temp_file("extra.hcl", "tag = \"9\"\nunused = 1\n");
    let options = ParseOptions {
        var_files: vec![file.clone()],
        ..ParseOptions::default()
    };
    let (j, warnings) = job_with(VARS, &options);
    assert_eq!(image(&j), "nginx:9");
    let expected = format!(
        "{}:2:1: warning: variable \"unused\" is set but the job file does not declare it; it is ignored",
        file.display()
    );
    assert_eq!(warnings, [expected]);
}

#[test]
fn missing_variable_says_how_to_set_it() {
    let src = "variable \"image\" {}\njob \"j\" {}\n";
    assert_eq!(
        errors(src),
        ["t.nomad:1:10: error: variable \"image\": no value given: set it with --var image=<value>, in a --var-file, or with the environment variable NOMAD_VAR_image"]
    );
}

#[test]
fn validation_failure_shows_the_error_message() {
    let src = r#"
variable "port" {
  type    = number
  default = 80
  validation {
    condition     = var.port > 1024
    error_message = "Use an unprivileged port."
  }
}
job "j" {}
"#;
    assert_eq!(
        errors(src),
        ["t.nomad:6:21: error: variable \"port\": invalid value: Use an unprivileged port."]
    );
}

#[test]
fn locals_refer_to_variables_and_each_other_in_any_order() {
    let src = r#"
variable "env" {
  default = "prod"
}
locals {
  full = "${local.prefix}-${var.env}"
}
locals {
  prefix = upper("web")
}
job "j" {
  meta = { name = local.full }
}
"#;
    let (j, _) = job(src);
    assert_eq!(
        j.spec.meta.get("name").map(String::as_str),
        Some("WEB-prod")
    );
    let cycle = "locals {\n  a = local.b\n  b = local.a\n}\njob \"j\" {}\n";
    let errs = errors(cycle);
    assert_eq!(errs.len(), 2, "{errs:?}");
    assert!(errs[0].contains("cycle"), "{errs:?}");
}

#[test]
fn runtime_references_are_kept_and_bare_traversals_quoted() {
    let src = r#"
variable "dc" {
  default = "dc1"
}
job "j" {
  constraint {
    attribute = attr.kernel.name
    value     = "linux"
  }
  constraint {
    attribute = "${node.datacenter}"
    value     = "${var.dc}"
  }
  group "g" {
    task "t" {
      driver = "docker"
      env {
        NAME = "prefix-${NOMAD_ALLOC_INDEX}-${var.dc}"
        HOST = "${attr.unique.hostname}"
        META = "${meta.rack}"
      }
    }
  }
}
"#;
    let (j, _) = job(src);
    let c = &j.spec.constraints;
    assert_eq!(c[0].attribute, "${attr.kernel.name}");
    assert_eq!(
        (c[1].attribute.as_str(), c[1].value.as_str()),
        ("${node.datacenter}", "dc1")
    );
    let env = &j.spec.groups[0].tasks[0].env;
    assert_eq!(env["NAME"], "prefix-${NOMAD_ALLOC_INDEX}-dc1");
    assert_eq!(env["HOST"], "${attr.unique.hostname}");
    assert_eq!(env["META"], "${meta.rack}");
}

#[test]
fn strings_for_numbers_and_bools_are_accepted() {
    let src = "job \"j\" {\n  priority = \"70\"\n  update {\n    auto_revert = \"true\"\n  }\n  group \"g\" {\n    count = \"3\"\n  }\n}\n";
    let (j, warnings) = job(src);
    assert_eq!(j.spec.priority, 70);
    assert_eq!(j.spec.update.and_then(|u| u.auto_revert), Some(true));
    assert_eq!(j.spec.groups[0].count, 3);
    assert!(warnings.is_empty());
}

#[test]
fn a_single_string_for_a_list_warns() {
    let (j, warnings) = job("job \"j\" {\n  datacenters = \"dc1\"\n}\n");
    assert_eq!(j.spec.datacenters, ["dc1"]);
    assert_eq!(
        warnings,
        ["t.nomad:2:17: warning: job \"j\": \"datacenters\" should be a list: write datacenters = [\"dc1\"]"]
    );
}

#[test]
fn mount_blocks_and_mounts_attribute_give_the_same_config() {
    let blocks = task("config {\n  image = \"x\"\n  mount {\n    type = \"bind\"\n    source = \"a\"\n    target = \"/a\"\n  }\n  ulimit {\n    nofile = \"1024\"\n  }\n}");
    let attribute = task("config {\n  image = \"x\"\n  mounts = [{ type = \"bind\", source = \"a\", target = \"/a\" }]\n  ulimit = { nofile = \"1024\" }\n}");
    let (a, _) = job(&blocks);
    let (b, _) = job(&attribute);
    let config = &a.spec.groups[0].tasks[0].config;
    assert_eq!(config, &b.spec.groups[0].tasks[0].config);
    assert_eq!(
        serde_json::Value::Object(config.clone()).to_string(),
        r#"{"image":"x","mount":[{"type":"bind","source":"a","target":"/a"}],"ulimit":{"nofile":"1024"}}"#
    );
}

#[test]
fn config_keeps_numbers_and_nests_blocks() {
    let src = task("config {\n  image = \"x\"\n  shm_size = 64\n  logging {\n    type = \"json-file\"\n    config {\n      max-size = \"10m\"\n    }\n  }\n  auth {\n    username = \"u\"\n  }\n}");
    let (j, _) = job(&src);
    let config = serde_json::Value::Object(j.spec.groups[0].tasks[0].config.clone());
    assert_eq!(config["shm_size"], 64);
    assert_eq!(config["logging"]["config"]["max-size"], "10m");
    assert_eq!(config["auth"]["username"], "u");
}

#[test]
fn unsupported_features_warn_by_name() {
    let src = "job \"j\" {\n  vault {\n    policies = [\"x\"]\n  }\n  group \"g\" {\n    consul {}\n  }\n}\n";
    let (_, warnings) = job(src);
    assert_eq!(
        warnings,
        [
            "t.nomad:2:3: warning: job \"j\": \"vault\" blocks are not supported by drover yet and are ignored",
            "t.nomad:6:5: warning: job \"j\" group \"g\": \"consul\" blocks are not supported by drover yet and are ignored",
        ]
    );
}

#[test]
fn unknown_names_are_errors_with_suggestions() {
    let src = "job \"web\" {\n  group \"api\" {\n    cont = 2\n    tsk \"api\" {}\n  }\n}\n";
    assert_eq!(
        errors(src),
        [
            "t.nomad:3:5: error: job \"web\" group \"api\": unknown attribute \"cont\" (did you mean \"count\"?)",
            "t.nomad:4:5: error: job \"web\" group \"api\": unknown block \"tsk\" (did you mean \"task\"?)",
        ]
    );
}

#[test]
fn syntax_errors_have_a_location() {
    let errs = errors("job \"j\" {\n  group \"g\" {\n    count = [1, 2\n  }\n}\n");
    assert_eq!(errs, ["t.nomad:4:3: error: syntax error: expected `]`"]);
}

#[test]
fn type_errors_have_a_location_and_the_expectation() {
    let errs = errors(&task("kill_timeout = 5\nleader = \"yes\""));
    assert_eq!(
        errs,
        [
            "t.nomad:5:16: error: job \"j\" group \"g\" task \"t\": \"kill_timeout\" must be a duration such as \"30s\" or \"5m\", got 5",
            "t.nomad:6:10: error: job \"j\" group \"g\" task \"t\": \"leader\" must be true or false, got \"yes\"",
        ]
    );
}

#[test]
fn exactly_one_job_per_file() {
    assert_eq!(
        errors("variable \"x\" {\n  default = 1\n}\n"),
        ["error: t.nomad: no job found: a job file holds one job \"<name>\" { … } block"]
    );
    assert_eq!(
        errors("job \"a\" {}\njob \"b\" {}\n"),
        ["t.nomad:2:1: error: a job file holds exactly one job block; this one has 2"]
    );
}

#[test]
fn constraint_shorthands_and_periodic_cron() {
    let src = r#"
job "j" {
  type = "batch"
  constraint {
    distinct_hosts = true
  }
  constraint {
    distinct_property = "${meta.rack}"
    value             = "2"
  }
  constraint {
    attribute = "${attr.os.version}"
    semver    = ">= 22.04"
  }
  periodic {
    cron = "@daily"
  }
}
"#;
    let (j, _) = job(src);
    let ops: Vec<(&str, &str, &str)> = j
        .spec
        .constraints
        .iter()
        .map(|c| (c.attribute.as_str(), c.operator.as_str(), c.value.as_str()))
        .collect();
    assert_eq!(
        ops,
        [
            ("", "distinct_hosts", "true"),
            ("${meta.rack}", "distinct_property", "2"),
            ("${attr.os.version}", "semver", ">= 22.04"),
        ]
    );
    assert_eq!(
        j.spec.periodic.map(|p| p.crons),
        Some(vec!["@daily".to_string()])
    );
}

#[test]
fn job_label_namespace_and_name() {
    let (j, _) = job("job \"web\" {\n  namespace = \"prod\"\n  name = \"Web frontend\"\n}\n");
    assert_eq!(j.metadata.name, "web");
    assert_eq!(j.metadata.namespace, "prod");
    assert_eq!(j.spec.display_name.as_deref(), Some("Web frontend"));
}

#[test]
fn check_headers_accept_block_and_map() {
    let service = |header: &str| {
        format!("job \"j\" {{\n  group \"g\" {{\n    service {{\n      name = \"s\"\n      check {{\n        type = \"http\"\n        {header}\n      }}\n    }}\n  }}\n}}\n")
    };
    let (a, _) = job(&service("header {\n X-A = [\"1\", \"2\"]\n }"));
    let (b, _) = job(&service("header = { X-A = [\"1\", \"2\"] }"));
    let header = |j: &Job| j.spec.groups[0].services[0].checks[0].header.clone();
    assert_eq!(header(&a), header(&b));
    assert_eq!(header(&a)["X-A"], ["1", "2"]);
}
