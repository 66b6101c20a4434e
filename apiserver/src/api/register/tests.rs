use super::*;
use drover_api_types::jobspec::{parse_str, ParseOptions};

const WEB: &str = r#"
job "web" {
  datacenters = ["dc1"]
  group "front" {
    count = 2
    task "nginx" {
      driver = "docker"
      config { image = "nginx:1.22.1" }
    }
  }
}
"#;

fn job() -> Job {
    let loaded = parse_str("web.nomad", WEB, &ParseOptions::default()).expect("parse");
    loaded.jobs.into_iter().next().expect("one job")
}

fn stored(mut j: Job, version: u64, revision: i64) -> Job {
    j.metadata.namespace = "default".into();
    j.metadata.uid = "uid-1".into();
    j.metadata.version = version;
    j.metadata.resource_version = revision;
    j
}

fn written(r: Registration) -> Job {
    match r {
        Registration::Write(j) => *j,
        Registration::Unchanged => panic!("expected a write"),
    }
}

#[test]
fn a_new_job_gets_version_0_a_uid_and_the_namespace() {
    let j = written(decide(None, job(), "default", None, Utc::now()).expect("ok"));
    assert_eq!(j.metadata.version, 0);
    assert_eq!(j.metadata.namespace, "default");
    assert!(!j.metadata.uid.is_empty());
    assert_eq!(j.metadata.resource_version, 0, "created, not updated");
}

#[test]
fn the_same_spec_is_unchanged_and_a_new_one_bumps_the_version() {
    let old = stored(job(), 3, 40);
    assert_eq!(
        decide(Some(&old), job(), "default", None, Utc::now()).expect("ok"),
        Registration::Unchanged
    );
    let mut changed = job();
    changed.spec.groups[0].count = 5;
    let j = written(decide(Some(&old), changed, "default", None, Utc::now()).expect("ok"));
    assert_eq!(j.metadata.version, 4);
    assert_eq!(j.metadata.uid, "uid-1");
    assert_eq!(
        j.metadata.resource_version, 40,
        "guarded by the read revision"
    );
}

#[test]
fn a_stale_check_index_is_refused_and_a_current_one_accepted() {
    let old = stored(job(), 1, 40);
    let mut changed = job();
    changed.spec.groups[0].count = 5;
    let e =
        decide(Some(&old), changed.clone(), "default", Some(39), Utc::now()).expect_err("stale");
    assert_eq!(e.status, axum::http::StatusCode::CONFLICT);
    assert!(
        e.message
            .contains("check-index 39 is stale: the job is at index 40"),
        "{e}"
    );
    assert!(decide(Some(&old), changed.clone(), "default", Some(40), Utc::now()).is_ok());
    // 0: only if the job does not exist yet.
    assert!(decide(Some(&old), changed.clone(), "default", Some(0), Utc::now()).is_err());
    assert!(decide(None, changed, "default", Some(0), Utc::now()).is_ok());
}

#[test]
fn an_invalid_job_is_refused_naming_what_fails() {
    let mut bad = job();
    bad.spec.groups[0].count = -1;
    let e = decide(None, bad, "default", None, Utc::now()).expect_err("invalid");
    assert_eq!(e.status, axum::http::StatusCode::BAD_REQUEST);
    assert!(
        e.field
            .as_deref()
            .is_some_and(|f| f.contains("group \"front\"")),
        "{e:?}"
    );
}

#[test]
fn a_namespace_mismatch_is_refused() {
    let mut other = job();
    other.metadata.namespace = "prod".into();
    let e = decide(None, other, "default", None, Utc::now()).expect_err("mismatch");
    assert_eq!(e.field.as_deref(), Some("metadata.namespace"));
}
