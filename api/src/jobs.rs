//! Registering a job: `POST /v1/jobs`.

use std::collections::BTreeMap;

use drover_api_types::Job;
use serde::{Deserialize, Serialize};

/// `POST /v1/jobs` body.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    pub job: Job,
    /// 0: the job must not exist; N: it must still be at index N.
    #[serde(default)]
    pub check_index: Option<i64>,
    /// The file the job was written in, kept beside the version it
    /// registers so it can be read back as written (Nomad's `Submission`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub submission: Option<Submission>,
}

/// The largest job file kept as submitted; the job itself is registered
/// either way. Larger files are not sent (the CLI says so) and refused by
/// the server.
pub const MAX_SUBMISSION_SOURCE: usize = 256 << 10;
/// The most bytes of variable files and the most `--var` flags kept.
pub const MAX_SUBMISSION_VARIABLES: usize = 64 << 10;
pub const MAX_SUBMISSION_FLAGS: usize = 256;

/// A job file as submitted, with the variables it was parsed with.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Submission {
    pub source: String,
    /// `hcl2` or `yaml`.
    pub format: String,
    /// `--var name=value` flags.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub variable_flags: BTreeMap<String, String>,
    /// The contents of `--var-file` files, one after the other.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub variables: String,
}

impl Submission {
    /// Why this submission cannot be kept, if it cannot.
    pub fn check(&self) -> Result<(), String> {
        if self.source.len() > MAX_SUBMISSION_SOURCE {
            return Err(format!(
                "the source is {} bytes; at most {MAX_SUBMISSION_SOURCE} are kept (send the job without it)",
                self.source.len()
            ));
        }
        if !matches!(self.format.as_str(), "hcl2" | "yaml") {
            return Err(format!("format {:?}: write hcl2 or yaml", self.format));
        }
        if self.variable_flags.len() > MAX_SUBMISSION_FLAGS {
            return Err(format!(
                "{} variable flags; at most {MAX_SUBMISSION_FLAGS}",
                self.variable_flags.len()
            ));
        }
        let flag_bytes: usize = self
            .variable_flags
            .iter()
            .map(|(k, v)| k.len() + v.len())
            .sum();
        if self.variables.len() + flag_bytes > MAX_SUBMISSION_VARIABLES {
            return Err(format!(
                "the variables are {} bytes; at most {MAX_SUBMISSION_VARIABLES} are kept",
                self.variables.len() + flag_bytes
            ));
        }
        Ok(())
    }
}

/// `GET /v1/job/{name}/submission?version=N`: a version's file as
/// submitted, credentials the job keeps secret replaced by `<redacted>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SubmissionResponse {
    pub namespace: String,
    pub job: String,
    pub version: u64,
    pub submission: Submission,
}

/// `POST /v1/jobs` answer.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct RegisterResponse {
    /// The job's index after the call (pass it as `check_index`).
    pub index: i64,
    pub version: u64,
    /// Whether anything was written.
    pub changed: bool,
}
