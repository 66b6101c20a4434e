//! What registering a job means (pure): check the submitted job, enforce
//! `check_index`, and decide the version to store. A job whose spec did
//! not change keeps its version and is not written again, so applying the
//! same file twice is a no-op.

use chrono::{DateTime, Utc};
use drover_api_types::defaults::canonicalize;
use drover_api_types::diagnostic::Severity;
use drover_api_types::validate::{validate_within, JobLimits};
use drover_api_types::Job;

use super::error::ApiError;

/// The outcome of a registration.
#[derive(Debug, Clone, PartialEq)]
pub enum Registration {
    /// Store this job (its `metadata.version` is the new version).
    Write(Box<Job>),
    /// The stored job already has this spec.
    Unchanged,
}

/// Checks `submitted` (validation errors are a 400 naming the first
/// failing object, with every error in the message) and decides against
/// `existing` (read at its `resource_version`). `check_index`: 0 means the
/// job must not exist yet; N means it must still be at revision N. Under
/// the default limits: the tests' shorthand for [`decide_within`].
#[cfg(test)]
pub fn decide(
    existing: Option<&Job>,
    submitted: Job,
    namespace: &str,
    check_index: Option<i64>,
    now: DateTime<Utc>,
) -> Result<Registration, ApiError> {
    let limits = JobLimits::default();
    decide_within(existing, submitted, namespace, check_index, now, &limits)
}

/// Checks and decides a registration under the server's own [`JobLimits`].
pub fn decide_within(
    existing: Option<&Job>,
    mut submitted: Job,
    namespace: &str,
    check_index: Option<i64>,
    now: DateTime<Utc>,
    limits: &JobLimits,
) -> Result<Registration, ApiError> {
    if submitted.metadata.namespace.is_empty() {
        submitted.metadata.namespace = namespace.to_string();
    } else if submitted.metadata.namespace != namespace {
        return Err(ApiError::bad_request(format!(
            "the job is in namespace {:?} but the request addresses {namespace:?}",
            submitted.metadata.namespace
        ))
        .at("metadata.namespace"));
    }
    canonicalize(&mut submitted);
    let errors: Vec<_> = validate_within(&submitted, limits)
        .into_iter()
        .filter(|d| d.severity == Severity::Error)
        .collect();
    if let Some(first) = errors.first() {
        let message = errors
            .iter()
            .map(|d| format!("{}: {}", d.path, d.message))
            .collect::<Vec<_>>()
            .join("\n");
        return Err(ApiError::bad_request(message).at(first.path.clone()));
    }
    let current_index = existing.map_or(0, |j| j.metadata.resource_version);
    if let Some(expected) = check_index {
        if expected != current_index {
            let now_is = match existing {
                Some(_) => format!("the job is at index {current_index}"),
                None => "the job does not exist".to_string(),
            };
            return Err(ApiError::conflict(format!(
                "check-index {expected} is stale: {now_is}; run plan again and pass the index it prints"
            ))
            .at("check_index"));
        }
    }
    submitted.status = None;
    let meta = &mut submitted.metadata;
    meta.resource_version = 0;
    match existing {
        Some(old) => {
            if old.spec == submitted.spec
                && old.metadata.labels == meta.labels
                && old.metadata.annotations == meta.annotations
            {
                return Ok(Registration::Unchanged);
            }
            meta.uid = old.metadata.uid.clone();
            meta.creation_timestamp = old.metadata.creation_timestamp;
            meta.version = old.metadata.version + 1;
            meta.resource_version = old.metadata.resource_version;
        }
        None => {
            meta.uid = uuid::Uuid::new_v4().to_string();
            meta.creation_timestamp = Some(now);
            meta.version = 0;
        }
    }
    meta.submit_time = Some(now);
    Ok(Registration::Write(Box::new(submitted)))
}

#[cfg(test)]
mod tests;
