//! Namespaces as objects (`namespaces/<name>`): a job can be registered
//! only into one that exists (`default` always does). Deleting one is
//! refused while jobs live in it; it is marked `deleting` first, so a
//! registration racing the deletion either lands before the check (and
//! the deletion is refused) or is refused itself.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Namespace {
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Being deleted: registrations into it are refused.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deleting: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_time: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modify_time: Option<DateTime<Utc>>,
}

/// The longest namespace name.
pub const MAX_NAME_LEN: usize = 128;

/// Why `name` cannot name a namespace, if it cannot.
pub fn invalid_name(name: &str) -> Option<String> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
        && name != "*";
    (!ok).then(|| {
        format!("namespace {name:?} must be 1 to {MAX_NAME_LEN} letters, digits, '-' or '_'")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_plain() {
        assert!(invalid_name("web-prod_2").is_none());
        for bad in ["", "*", "a/b", "a b", "é"] {
            assert!(invalid_name(bad).is_some(), "{bad:?}");
        }
        assert!(invalid_name(&"x".repeat(MAX_NAME_LEN + 1)).is_some());
    }
}
