use axum::http::StatusCode;
use drover_api_types::jobspec::{parse_str, ParseOptions};

use super::*;

fn job(src: &str) -> Job {
    let loaded = parse_str("job.nomad", src, &ParseOptions::default()).expect("parse");
    loaded.jobs.into_iter().next().expect("one job")
}

const RENDER: &str = r#"
job "render" {
  type = "batch"
  parameterized {
    payload       = "required"
    meta_required = ["scene"]
    meta_optional = ["quality"]
  }
  group "g" {
    task "t" {
      driver = "docker"
      config { image = "busybox" }
      dispatch_payload { file = "input.json" }
    }
  }
}
"#;

const BACKUP: &str = r#"
job "backup" {
  type = "batch"
  periodic {
    crons            = ["*/5 * * * *"]
    prohibit_overlap = true
  }
  group "g" {
    task "t" {
      driver = "docker"
      config { image = "busybox" }
    }
  }
}
"#;

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_700_000_000, 0).expect("time")
}

fn request(payload: Option<&[u8]>, meta: &[(&str, &str)]) -> DispatchRequest {
    DispatchRequest {
        payload: payload.map(|p| base64::engine::general_purpose::STANDARD.encode(p)),
        meta: meta
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        idempotency_token: None,
    }
}

#[test]
fn dispatch_creates_a_child_with_payload_and_meta() {
    let parent = job(RENDER);
    let req = request(Some(b"{\"frames\": 3}"), &[("scene", "intro")]);
    let child = dispatch_child(&parent, &req, now(), "0badcafe").expect("dispatched");
    assert_eq!(child.metadata.name, "render/dispatch-1700000000-0badcafe");
    assert_eq!(child.spec.parent_id.as_deref(), Some("render"));
    assert!(child.spec.parameterized.is_none(), "a child runs");
    assert!(!child.spec.is_parent());
    assert_eq!(child.spec.meta["scene"], "intro");
    let payload = child.spec.payload.expect("payload");
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(payload)
        .expect("base64");
    assert_eq!(decoded, b"{\"frames\": 3}");
}

#[test]
fn dispatch_refuses_what_parameterized_does_not_allow() {
    let parent = job(RENDER);
    let cases: &[(DispatchRequest, &str, &str)] = &[
        (
            request(None, &[("scene", "a")]),
            "payload",
            "requires a payload",
        ),
        (request(Some(b"x"), &[]), "meta", "requires meta scene"),
        (
            request(Some(b"x"), &[("scene", "a"), ("colour", "red")]),
            "meta",
            "does not accept meta colour; allowed: scene, quality",
        ),
        (
            request(Some(&[b'x'; MAX_PAYLOAD_BYTES + 1]), &[("scene", "a")]),
            "payload",
            "at most 16384",
        ),
    ];
    for (req, field, text) in cases {
        let e = dispatch_child(&parent, req, now(), "00000000").expect_err("refused");
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        assert_eq!(e.field.as_deref(), Some(*field), "{e}");
        assert!(e.message.contains(text), "{e}");
    }
    let mut forbidden = parent.clone();
    if let Some(p) = forbidden.spec.parameterized.as_mut() {
        p.payload = "forbidden".into();
    }
    let e = dispatch_child(
        &forbidden,
        &request(Some(b"x"), &[("scene", "a")]),
        now(),
        "0",
    )
    .expect_err("forbidden");
    assert!(e.message.contains("forbids a payload"), "{e}");
    let bad = DispatchRequest {
        payload: Some("not base64!".into()),
        ..Default::default()
    };
    let e = dispatch_child(&parent, &bad, now(), "0").expect_err("bad base64");
    assert!(e.message.contains("not base64"), "{e}");
}

#[test]
fn only_parameterized_jobs_dispatch_and_only_periodic_ones_force() {
    let e = dispatch_child(&job(BACKUP), &request(None, &[]), now(), "0").expect_err("periodic");
    assert_eq!(e.status, StatusCode::BAD_REQUEST);
    assert!(e.message.contains("not parameterized"), "{e}");
    let e = forced_child(&job(RENDER), now()).expect_err("parameterized");
    assert_eq!(e.status, StatusCode::BAD_REQUEST);
    assert!(e.message.contains("not periodic"), "{e}");
    let child = forced_child(&job(BACKUP), now()).expect("forced");
    assert_eq!(child.metadata.name, "backup/periodic-1700000000");
    assert!(child.spec.periodic.is_none());
    assert_eq!(child.metadata.version, 0);
}
