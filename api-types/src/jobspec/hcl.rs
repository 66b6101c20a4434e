//! Nomad HCL2 job files.

use crate::diagnostic::Diagnostic;
use crate::job::Job;

use super::ParseOptions;

/// Parses one Nomad job file into a (not yet canonicalized) job and warnings.
pub fn parse(
    file_name: &str,
    _source: &str,
    _options: &ParseOptions,
) -> Result<(Job, Vec<Diagnostic>), Vec<Diagnostic>> {
    Err(vec![Diagnostic::error(format!(
        "{file_name}: HCL job files are not supported yet"
    ))])
}
