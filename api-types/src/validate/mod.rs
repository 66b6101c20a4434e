//! Semantic validation of a canonical job.

use crate::diagnostic::Diagnostic;
use crate::job::Job;

/// Every error and warning about `job`, each naming its object path.
pub fn validate(_job: &Job) -> Vec<Diagnostic> {
    Vec::new()
}
