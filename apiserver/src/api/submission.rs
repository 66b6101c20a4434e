//! A job version's file as submitted (Nomad's job submission): `drover
//! apply` and the UI's editor send the HCL or YAML they parsed, with its
//! variables, beside the job; it is kept under `jobs-sources/` with the
//! version it registered and read back by `GET /v1/job/{name}/submission`.
//!
//! The job's registry credentials never leave the server in a read (see
//! `drover_api_types::redact`), so they are taken out of the file and its
//! variables before it is stored ([`scrub`]): a file read back and applied
//! again gets them from the stored job, as a job read back does.

use std::collections::HashMap;

use axum::extract::{Path, State};
use drover_api_types::acl::Capability;
use drover_api_types::redact::REDACTED;
use drover_api_types::Job;
use drover_store::keys::collections as c;
use drover_store::Store;

use super::error::{ApiError, ApiResult};
use super::extract::ApiQuery;
use super::openapi as schema;
use super::query::{Indexed, ReadOptions};
use super::route::{Need, Route, Routes};
use super::ApiState;
pub use drover_api::jobs::{Submission, SubmissionResponse};

pub(crate) fn routes() -> Routes {
    Routes::new("jobs").add(
        Route::get(
            "/v1/job/{name}/submission",
            "A job version's file as submitted (version: the latest when absent), credentials redacted",
        )
        .blocking()
        .query(&["version"])
        .answers(schema::one::<SubmissionResponse>)
        .needs(Need::Namespace(Capability::ReadJob)),
        read,
    )
}

/// The registry credentials `job` carries (the values a read redacts).
pub fn secrets(job: &Job) -> Vec<String> {
    let mut redacted = job.clone();
    drover_api_types::redact::job(&mut redacted);
    let mut out = Vec::new();
    for (group, kept) in job.spec.groups.iter().zip(&redacted.spec.groups) {
        for (task, hidden) in group.tasks.iter().zip(&kept.tasks) {
            collect_changed(
                &serde_json::Value::Object(task.config.clone()),
                &serde_json::Value::Object(hidden.config.clone()),
                &mut out,
            );
        }
    }
    out.retain(|s| !s.is_empty() && s != REDACTED);
    out.sort();
    out.dedup();
    out
}

/// The strings of `full` that `redacted` replaced.
fn collect_changed(full: &serde_json::Value, redacted: &serde_json::Value, out: &mut Vec<String>) {
    use serde_json::Value;
    match (full, redacted) {
        (Value::String(a), Value::String(b)) if a != b => out.push(a.clone()),
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in a {
                if let Some(w) = b.get(k) {
                    collect_changed(v, w, out);
                }
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            for (v, w) in a.iter().zip(b) {
                collect_changed(v, w, out);
            }
        }
        _ => {}
    }
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// `text` with each of `secrets` replaced by `<redacted>` where it stands
/// as a whole token (not inside a longer word), so a short secret does not
/// garble identifiers that contain it (pure).
pub fn scrub(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_string();
    for secret in secrets {
        let mut result = String::with_capacity(out.len());
        let mut rest = out.as_str();
        while let Some(at) = rest.find(secret.as_str()) {
            let before = rest[..at].chars().next_back();
            let after = rest[at + secret.len()..].chars().next();
            let bounded = !before.is_some_and(is_word) && !after.is_some_and(is_word);
            result.push_str(&rest[..at]);
            result.push_str(if bounded { REDACTED } else { secret });
            rest = &rest[at + secret.len()..];
        }
        result.push_str(rest);
        out = result;
    }
    out
}

/// `submission` as kept for `job` (pure): checked against its bounds and
/// with the job's credentials taken out.
pub fn kept(submission: &Submission, job: &Job) -> ApiResult<Submission> {
    submission
        .check()
        .map_err(|e| ApiError::bad_request(e).at("submission"))?;
    let secrets = secrets(job);
    Ok(Submission {
        source: scrub(&submission.source, &secrets),
        format: submission.format.clone(),
        variable_flags: submission
            .variable_flags
            .iter()
            .map(|(k, v)| (k.clone(), scrub(v, &secrets)))
            .collect(),
        variables: scrub(&submission.variables, &secrets),
    })
}

/// The stored file of version `version`, if it was submitted with one.
pub async fn stored(
    store: &Store,
    ns: &str,
    name: &str,
    version: u64,
) -> ApiResult<Option<Submission>> {
    let key = store.keys().job_source(ns, name, version);
    let Some(kv) = store.get_raw(&key).await? else {
        return Ok(None);
    };
    match serde_json::from_slice(&kv.value) {
        Ok(submission) => Ok(Some(submission)),
        Err(e) => {
            tracing::warn!(key = %key, error = %e, "an undecodable job source");
            Ok(None)
        }
    }
}

async fn read(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    ApiQuery(query): ApiQuery<HashMap<String, String>>,
) -> ApiResult<Indexed<SubmissionResponse>> {
    let options = ReadOptions::parse(&query)?;
    options
        .block(&state.feed, &[c::JOBS, c::JOBS_SOURCES])
        .await;
    let ns = options.namespace_or_default();
    let store = &state.store;
    let revision = store.current_revision().await?;
    let version = match query.get("version") {
        Some(v) => v.parse::<u64>().map_err(|_| {
            ApiError::bad_request(format!("version {v:?}: write a version number")).at("version")
        })?,
        None => {
            let job = store.get::<Job>(ns, &name).await?.ok_or_else(|| {
                ApiError::not_found(format!("job {name:?} not found in namespace {ns:?}"))
            })?;
            job.metadata.version
        }
    };
    let submission = stored(store, ns, &name, version).await?.ok_or_else(|| {
        ApiError::not_found(format!(
            "job {name:?} version {version} in namespace {ns:?} has no file as submitted \
             (it was registered without one: through the API, by a scale or stop, or by a controller)"
        ))
    })?;
    Ok(Indexed(
        revision,
        SubmissionResponse {
            namespace: ns.to_string(),
            job: name,
            version,
            submission,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn with_password(password: &str) -> Job {
        let mut job = drover_api_types::mock::job("web", 1);
        job.spec.groups[0].tasks[0].config.insert(
            "auth".into(),
            json!({"username": "ci", "password": password}),
        );
        job
    }

    #[test]
    fn the_credentials_are_found_and_nothing_else() {
        assert_eq!(secrets(&with_password("hunter22")), vec!["hunter22"]);
        assert!(secrets(&drover_api_types::mock::job("web", 1)).is_empty());
        // A job sent back redacted carries the marker, not a secret.
        assert!(secrets(&with_password(REDACTED)).is_empty());
    }

    #[test]
    fn a_secret_is_replaced_where_it_stands_alone() {
        let secrets = vec!["pw".to_string()];
        let source = "password = \"pw\"\npwd = 1\nx: pw\nupw";
        assert_eq!(
            scrub(source, &secrets),
            "password = \"<redacted>\"\npwd = 1\nx: <redacted>\nupw"
        );
        assert_eq!(scrub("", &secrets), "");
        assert_eq!(scrub("pw", &secrets), REDACTED);
        // Multi-byte text around it stays whole.
        assert_eq!(scrub("é pw é", &secrets), "é <redacted> é");
    }

    #[test]
    fn a_kept_submission_has_no_credential_and_its_bounds_hold() {
        let job = with_password("s3cret-pass");
        let submission = Submission {
            source: "auth { password = \"s3cret-pass\" }".into(),
            format: "hcl2".into(),
            variable_flags: [("pw".to_string(), "s3cret-pass".to_string())].into(),
            variables: "pw = \"s3cret-pass\"".into(),
        };
        let kept = kept(&submission, &job).expect("kept");
        let text = serde_json::to_string(&kept).expect("json");
        assert!(!text.contains("s3cret-pass"), "{text}");
        assert!(kept.source.contains(REDACTED));

        let huge = Submission {
            source: "x".repeat(drover_api::jobs::MAX_SUBMISSION_SOURCE + 1),
            ..submission.clone()
        };
        assert!(super::kept(&huge, &job).is_err());
        let odd = Submission {
            format: "toml".into(),
            ..submission
        };
        assert!(super::kept(&odd, &job).is_err());
    }
}
