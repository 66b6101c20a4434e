use super::*;
use crate::jobspec::{parse_str, ParseOptions};

const WEB: &str = r#"
job "web" {
  datacenters = ["dc1"]
  group "front" {
    count = 2
    task "nginx" {
      driver = "docker"
      config { image = "nginx:1.22.1" }
      service {
        name = "http"
        port = "http"
      }
    }
  }
  group "back" {
    task "api" {
      driver = "docker"
      config { image = "api:1" }
    }
  }
}
"#;

fn job() -> Job {
    let loaded = parse_str("web.nomad", WEB, &ParseOptions::default()).expect("parse");
    loaded.jobs.into_iter().next().expect("one job")
}

fn group<'a>(d: &'a JobDiff, name: &str) -> &'a GroupDiff {
    d.groups.iter().find(|g| g.name == name).expect("group")
}

#[test]
fn the_same_job_has_no_diff() {
    let d = diff_jobs(Some(&job()), &job());
    assert!(d.is_empty(), "{d:#?}");
    assert!(d.fields.is_empty() && d.objects.is_empty());
    assert!(d.groups.iter().all(|g| g.diff_type == DiffType::None));
    assert_eq!(d.groups.len(), 2, "every group is listed");
}

#[test]
fn a_new_job_is_added_down_to_its_fields() {
    let d = diff_jobs(None, &job());
    assert_eq!(d.diff_type, DiffType::Added);
    assert!(d.fields.iter().all(|f| f.diff_type == DiffType::Added));
    let front = group(&d, "front");
    assert_eq!(front.diff_type, DiffType::Added);
    let count = front
        .fields
        .iter()
        .find(|f| f.name == "count")
        .expect("count");
    assert_eq!(
        (count.old.as_deref(), count.new.as_deref()),
        (None, Some("2"))
    );
    assert_eq!(front.tasks[0].diff_type, DiffType::Added);
    let text = d.render();
    assert!(text.starts_with("+ Job: \"web\"\n"), "{text}");
    assert!(text.contains("  + datacenters: \"[\"dc1\"]\"\n"), "{text}");
    assert!(
        !text.contains("name: \"front\""),
        "the header names it: {text}"
    );
    assert!(
        !text.contains("name: \"nginx\""),
        "the header names it: {text}"
    );
}

#[test]
fn an_edited_count_is_one_field_in_its_group() {
    let mut new = job();
    new.spec.groups[0].count = 3;
    let d = diff_jobs(Some(&job()), &new);
    assert_eq!(d.diff_type, DiffType::Edited);
    assert!(d.fields.is_empty());
    let front = group(&d, "front");
    assert_eq!(front.diff_type, DiffType::Edited);
    assert_eq!(
        front.fields,
        vec![FieldDiff {
            diff_type: DiffType::Edited,
            name: "count".into(),
            old: Some("2".into()),
            new: Some("3".into()),
        }]
    );
    assert_eq!(group(&d, "back").diff_type, DiffType::None);
    let text = d.render();
    assert!(text.contains("~ Job: \"web\"\n"), "{text}");
    assert!(text.contains("  ~ Group: \"front\"\n"), "{text}");
    assert!(text.contains("    ~ count: \"2\" => \"3\"\n"), "{text}");
    assert!(text.contains("    Group: \"back\"\n"), "{text}");
}

#[test]
fn job_fields_added_deleted_and_edited() {
    let old = job();
    let mut new = job();
    new.spec.datacenters = vec!["dc1".into(), "dc2".into()];
    new.spec.meta.insert("owner".into(), "ops".into());
    new.spec.stop = true;
    new.metadata.annotations.insert("a".into(), "b".into());
    let d = diff_jobs(Some(&old), &new);
    let field = |name: &str| d.fields.iter().find(|f| f.name == name).expect(name);
    assert_eq!(field("datacenters").diff_type, DiffType::Edited);
    assert_eq!(
        field("datacenters").new.as_deref(),
        Some(r#"["dc1","dc2"]"#)
    );
    assert_eq!(field("stop").diff_type, DiffType::Edited);
    let meta = d.objects.iter().find(|o| o.name == "meta").expect("meta");
    assert_eq!(meta.diff_type, DiffType::Added);
    assert_eq!(meta.fields[0].name, "owner");
    assert!(d.objects.iter().any(|o| o.name == "annotations"));
    // And back: what was added is deleted.
    let back = diff_jobs(Some(&new), &old);
    let meta = back
        .objects
        .iter()
        .find(|o| o.name == "meta")
        .expect("meta");
    assert_eq!(meta.diff_type, DiffType::Deleted);
    assert_eq!(meta.fields[0].diff_type, DiffType::Deleted);
    assert!(back
        .render()
        .contains("  - meta {\n    - owner: \"ops\"\n    }\n"));
}

#[test]
fn groups_and_tasks_are_matched_by_name_not_position() {
    let old = job();
    let mut new = job();
    new.spec.groups.reverse();
    assert!(diff_jobs(Some(&old), &new).is_empty());
    new.spec.groups.retain(|g| g.name != "back");
    let mut extra = new.spec.groups[0].tasks[0].clone();
    extra.name = "sidecar".into();
    new.spec.groups[0].tasks.push(extra);
    let d = diff_jobs(Some(&old), &new);
    assert_eq!(group(&d, "back").diff_type, DiffType::Deleted);
    let front = group(&d, "front");
    assert_eq!(front.diff_type, DiffType::Edited);
    let sidecar = front
        .tasks
        .iter()
        .find(|t| t.name == "sidecar")
        .expect("task");
    assert_eq!(sidecar.diff_type, DiffType::Added);
    let text = d.render();
    assert!(text.contains("  - Group: \"back\"\n"), "{text}");
    assert!(text.contains("    + Task: \"sidecar\"\n"), "{text}");
}

#[test]
fn nested_task_fields_and_named_services() {
    let mut new = job();
    let task = &mut new.spec.groups[0].tasks[0];
    task.config
        .insert("image".into(), serde_json::json!("nginx:1.23"));
    task.services[0].port = "https".into();
    let d = diff_jobs(Some(&job()), &new);
    let nginx = &group(&d, "front").tasks[0];
    assert_eq!(nginx.diff_type, DiffType::Edited);
    let config = nginx
        .objects
        .iter()
        .find(|o| o.name == "config")
        .expect("config");
    assert_eq!(config.fields[0].old.as_deref(), Some("nginx:1.22.1"));
    let service = nginx
        .objects
        .iter()
        .find(|o| o.name == "services[http]")
        .expect("service by name");
    assert_eq!(service.diff_type, DiffType::Edited);
    assert_eq!(service.fields[0].name, "port");
    let text = d.render();
    assert!(
        text.contains(
            "      ~ config {\n        ~ image: \"nginx:1.22.1\" => \"nginx:1.23\"\n        }\n"
        ),
        "{text}"
    );
}

#[test]
fn unnamed_objects_compare_as_multisets() {
    let mut old = job();
    let constraint = |value: &str| crate::job::Constraint {
        attribute: "${attr.kernel.name}".into(),
        operator: "=".into(),
        value: value.into(),
    };
    old.spec.constraints = vec![constraint("linux"), constraint("a")];
    let mut new = old.clone();
    new.spec.constraints.reverse();
    assert!(diff_jobs(Some(&old), &new).is_empty());
    new.spec.constraints[0] = constraint("b");
    let d = diff_jobs(Some(&old), &new);
    let kinds: Vec<DiffType> = d.objects.iter().map(|o| o.diff_type).collect();
    assert_eq!(kinds, vec![DiffType::Deleted, DiffType::Added], "{d:#?}");
    assert!(d.objects.iter().all(|o| o.name == "constraints"));
}

#[test]
fn the_diff_round_trips_as_json() {
    let mut new = job();
    new.spec.groups[0].count = 3;
    let d = diff_jobs(Some(&job()), &new);
    let json = serde_json::to_string(&d).expect("serialize");
    assert!(json.contains(r#""type":"edited""#), "{json}");
    let back: JobDiff = serde_json::from_str(&json).expect("deserialize");
    assert_eq!(back, d);
}
