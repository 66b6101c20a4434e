//! Parent jobs (periodic and parameterized) and the child jobs they launch.
//!
//! A parent never runs itself: each periodic launch and each dispatch is a
//! child job named after its parent, as Nomad names them:
//! `<parent>/periodic-<unix>` and `<parent>/dispatch-<unix>-<8 hex>`. The
//! `/` is outside the job id alphabet, so no user's job can take a child's
//! name; the store encodes it inside its key segment, and URLs carry it as
//! `%2F` (`/v1/job/backup%2Fperiodic-1700000000`). Children launched by
//! older versions were named with `:` instead; they are still recognised.
//!
//! [`PeriodicLaunch`] is the periodic controller's record of a parent
//! (`jobs-periodic/<ns>/<name>`), written by that controller only.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::job::{Job, JobSpec};

/// Between a parent's id and the rest of a child's id.
pub const CHILD_SEPARATOR: char = '/';

/// What older versions wrote in place of [`CHILD_SEPARATOR`].
pub const LEGACY_CHILD_SEPARATOR: char = ':';

/// Annotation of a dispatched child: the idempotency token it was
/// dispatched with, so dispatching again with the token returns it.
pub const IDEMPOTENCY_ANNOTATION: &str = "drover.io/idempotency-token";

/// Largest dispatch payload accepted, decoded (Nomad's limit).
pub const MAX_PAYLOAD_BYTES: usize = 16 * 1024;

impl JobSpec {
    /// A periodic or parameterized job that is not itself a child: it
    /// launches children and never runs allocations of its own.
    pub fn is_parent(&self) -> bool {
        self.parent_id.is_none() && (self.periodic.is_some() || self.parameterized.is_some())
    }
}

/// `<parent>/periodic-<unix seconds>`.
pub fn periodic_child_name(parent: &str, launch: DateTime<Utc>) -> String {
    format!("{parent}{CHILD_SEPARATOR}periodic-{}", launch.timestamp())
}

/// `<parent>/dispatch-<unix seconds>-<suffix>` (`suffix`: 8 hex digits).
pub fn dispatch_child_name(parent: &str, at: DateTime<Utc>, suffix: &str) -> String {
    format!(
        "{parent}{CHILD_SEPARATOR}dispatch-{}-{suffix}",
        at.timestamp()
    )
}

/// The launch time a child's id carries (`periodic-<unix>` or
/// `dispatch-<unix>-…`), if it is one.
pub fn child_launch_time(name: &str) -> Option<DateTime<Utc>> {
    let (_, rest) = name.rsplit_once([CHILD_SEPARATOR, LEGACY_CHILD_SEPARATOR])?;
    let digits = rest
        .strip_prefix("periodic-")
        .or_else(|| rest.strip_prefix("dispatch-"))?;
    let seconds = digits.split('-').next()?.parse::<i64>().ok()?;
    DateTime::from_timestamp(seconds, 0)
}

/// Whether `name` is a child name of `parent` (this version's or an older
/// one's): `<parent>/periodic-<unix>` or `<parent>/dispatch-<unix>-<hex>`.
pub fn is_child_name(name: &str, parent: &str) -> bool {
    let Some(rest) = name
        .strip_prefix(parent)
        .and_then(|r| r.strip_prefix([CHILD_SEPARATOR, LEGACY_CHILD_SEPARATOR]))
    else {
        return false;
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if let Some(unix) = rest.strip_prefix("periodic-") {
        return digits(unix);
    }
    rest.strip_prefix("dispatch-")
        .and_then(|r| r.split_once('-'))
        .is_some_and(|(unix, suffix)| {
            digits(unix) && !suffix.is_empty() && suffix.bytes().all(|b| b.is_ascii_hexdigit())
        })
}

/// `parent` as the base of a new child: its own id, no schedule or
/// parameters (a child runs), `parent_id` set, a fresh identity at
/// version 0, no status.
pub fn child_of(parent: &Job, name: String, now: DateTime<Utc>, uid: String) -> Job {
    let mut child = parent.clone();
    child.metadata.name = name;
    child.metadata.uid = uid;
    child.metadata.creation_timestamp = Some(now);
    child.metadata.resource_version = 0;
    child.metadata.version = 0;
    child.metadata.annotations.clear();
    child.spec.periodic = None;
    child.spec.parameterized = None;
    child.spec.parent_id = Some(parent.metadata.name.clone());
    child.spec.stop = false;
    child.status = None;
    child
}

/// The periodic controller's record of one periodic parent.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct PeriodicLaunch {
    /// The schedule was evaluated up to here; a launch time after it and
    /// not after now is due. None: start from now (first sight, or the
    /// job was disabled or stopped), so nothing is backfilled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evaluated: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_launch: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub last_child: String,
    /// Of the most recently launched child that finished: `complete`,
    /// `failed` or `stopped`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub last_result: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_success: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_launch: Option<DateTime<Utc>>,
    /// Launches skipped because a child was still running
    /// (`prohibit_overlap`).
    pub skipped: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_skipped: Option<DateTime<Utc>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn child_names_carry_their_launch_time() {
        let t = DateTime::from_timestamp(1_700_000_000, 0).expect("time");
        let p = periodic_child_name("backup", t);
        assert_eq!(p, "backup/periodic-1700000000");
        assert_eq!(child_launch_time(&p), Some(t));
        let d = dispatch_child_name("render", t, "0a1b2c3d");
        assert_eq!(d, "render/dispatch-1700000000-0a1b2c3d");
        assert_eq!(child_launch_time(&d), Some(t));
        assert_eq!(child_launch_time("backup:periodic-1700000000"), Some(t));
        assert_eq!(child_launch_time("backup"), None);
        assert_eq!(child_launch_time("a/other-1"), None);
    }

    #[test]
    fn child_names_are_recognised_with_either_separator() {
        assert!(is_child_name("backup/periodic-1700000000", "backup"));
        assert!(is_child_name("backup:periodic-1700000000", "backup"));
        assert!(is_child_name(
            "render/dispatch-1700000000-0a1b2c3d",
            "render"
        ));
        for (name, parent) in [
            ("backup", "backup"),
            ("backup/periodic-", "backup"),
            ("backup/periodic-12a", "backup"),
            ("backup/other-1", "backup"),
            ("render/dispatch-1700000000-", "render"),
            ("render/dispatch-1700000000-xyz", "render"),
            ("backups/periodic-1", "backup"),
            ("backup/periodic-1/x", "backup"),
        ] {
            assert!(!is_child_name(name, parent), "{name}");
        }
    }
}
