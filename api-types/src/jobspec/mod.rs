//! Job files in, canonical and validated [`Job`]s out.
//!
//! Two syntaxes produce the same `Job`: Nomad HCL2 job files, unchanged
//! ([`hcl`]), and kubectl-style YAML manifests ([`yaml`]). [`load`] picks the
//! syntax from the file name, parses, canonicalizes (Nomad's defaults) and
//! validates, returning either jobs with warnings or every error found.

pub mod hcl;
pub mod yaml;

use std::path::{Path, PathBuf};

use crate::defaults::canonicalize;
use crate::diagnostic::Diagnostic;
use crate::job::Job;
use crate::validate::validate;

/// Inputs to a job file beyond its text: HCL variable values.
#[derive(Debug, Clone, Default)]
pub struct ParseOptions {
    /// `--var name=value`, in the order given (later wins).
    pub vars: Vec<(String, String)>,
    /// `--var-file`: HCL (`name = value`) or JSON files.
    pub var_files: Vec<PathBuf>,
    /// Variables from the environment (`NOMAD_VAR_name`), lowest precedence.
    pub env_vars: Vec<(String, String)>,
    /// Whether `file()` and `fileexists()` may read the local disk. A
    /// server parsing a job someone pasted (the web UI's editor) says no:
    /// the disk is the server's, not the author's.
    pub files: FileAccess,
}

/// What a job file's `file()` may read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum FileAccess {
    /// Files relative to the job file's directory, as `nomad run` reads them.
    #[default]
    Local,
    /// Nothing: `file()` is an error that says why.
    Refused,
}

impl ParseOptions {
    /// Reads `NOMAD_VAR_*` and `DROVER_VAR_*` from the process environment.
    pub fn with_env_vars(mut self) -> Self {
        self.env_vars = std::env::vars()
            .filter_map(|(k, v)| {
                let name = k
                    .strip_prefix("NOMAD_VAR_")
                    .or_else(|| k.strip_prefix("DROVER_VAR_"))?;
                Some((name.to_string(), v))
            })
            .collect();
        self
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syntax {
    Hcl,
    Yaml,
}

impl Syntax {
    /// `.nomad`, `.hcl` and `.nomad.hcl` are HCL; `.yaml`, `.yml` and `.json`
    /// are YAML (JSON being YAML); anything else is sniffed from its content.
    pub fn detect(file_name: &str, source: &str) -> Syntax {
        let lower = file_name.to_ascii_lowercase();
        if lower.ends_with(".nomad") || lower.ends_with(".hcl") {
            return Syntax::Hcl;
        }
        if lower.ends_with(".yaml") || lower.ends_with(".yml") || lower.ends_with(".json") {
            return Syntax::Yaml;
        }
        let looks_yaml = source
            .lines()
            .map(str::trim)
            .any(|l| l.starts_with("apiVersion:") || l.starts_with("kind:") || l == "---");
        if looks_yaml {
            Syntax::Yaml
        } else {
            Syntax::Hcl
        }
    }
}

/// Jobs parsed from one file, with the warnings met on the way.
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    pub jobs: Vec<Job>,
    pub warnings: Vec<Diagnostic>,
}

/// Parses `source` (named `file_name` in messages) without validating it.
/// The jobs are canonicalized.
pub fn parse_str(
    file_name: &str,
    source: &str,
    options: &ParseOptions,
) -> Result<Loaded, Vec<Diagnostic>> {
    let mut loaded = match Syntax::detect(file_name, source) {
        Syntax::Hcl => hcl::parse(file_name, source, options).map(|(job, warnings)| Loaded {
            jobs: vec![job],
            warnings,
        })?,
        Syntax::Yaml => yaml::parse(file_name, source)?,
    };
    loaded.jobs.iter_mut().for_each(canonicalize);
    Ok(loaded)
}

/// Parses, canonicalizes and validates. On failure, every error (parse errors
/// stop early; semantic errors are all collected) plus the warnings.
pub fn load_str(
    file_name: &str,
    source: &str,
    options: &ParseOptions,
) -> Result<Loaded, Vec<Diagnostic>> {
    let mut loaded = parse_str(file_name, source, options)?;
    let mut errors = Vec::new();
    for job in &loaded.jobs {
        for diagnostic in validate(job) {
            if diagnostic.is_error() {
                errors.push(diagnostic);
            } else {
                loaded.warnings.push(diagnostic);
            }
        }
    }
    if errors.is_empty() {
        Ok(loaded)
    } else {
        errors.extend(loaded.warnings);
        Err(errors)
    }
}

/// [`load_str`] on a file read from disk.
pub fn load_file(path: &Path, options: &ParseOptions) -> Result<Loaded, Vec<Diagnostic>> {
    let name = path.display().to_string();
    let source = std::fs::read_to_string(path)
        .map_err(|e| vec![Diagnostic::error(format!("cannot read {name}: {e}"))])?;
    load_str(&name, &source, options)
}
