//! What a reconcile can fail with, shared by every controller. The runtime
//! logs the error and retries the key with backoff; the retry re-reads
//! everything, so no error needs handling beyond saying what happened.

use drover_store::StoreError;

use crate::context::NotLeader;

#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// This server no longer leads: its fenced writes fail.
    #[error(transparent)]
    NotLeader(#[from] NotLeader),
    /// Writes lost a race with a concurrent change.
    #[error("{what}: {failed} write(s) conflicted with a concurrent change; re-reading")]
    Conflict { what: String, failed: usize },
    /// The cache did not show this reconcile's own writes in time; going on
    /// without them could act twice.
    #[error("the {cache} cache did not reach revision {revision} in time; retrying")]
    CatchUp { cache: &'static str, revision: i64 },
    #[error("encoding {what}: {source}")]
    Encode {
        what: String,
        #[source]
        source: serde_json::Error,
    },
    /// Another error, with what was being done (e.g. which job).
    #[error("{what}: {source}")]
    During {
        what: String,
        #[source]
        source: Box<ReconcileError>,
    },
}

impl ReconcileError {
    pub fn conflict(what: impl Into<String>, failed: usize) -> Self {
        ReconcileError::Conflict {
            what: what.into(),
            failed,
        }
    }

    /// This error, saying what was being done when it happened.
    pub fn during(self, what: impl Into<String>) -> Self {
        ReconcileError::During {
            what: what.into(),
            source: Box::new(self),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_say_what_and_how_many() {
        let e = ReconcileError::conflict("drain of node n1", 2);
        assert_eq!(
            e.to_string(),
            "drain of node n1: 2 write(s) conflicted with a concurrent change; re-reading"
        );
        let e = ReconcileError::CatchUp {
            cache: "allocations",
            revision: 42,
        }
        .during("job default/web");
        assert_eq!(
            e.to_string(),
            "job default/web: the allocations cache did not reach revision 42 in time; retrying"
        );
    }
}
