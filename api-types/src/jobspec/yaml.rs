//! kubectl-style YAML manifests: `apiVersion: drover.io/v1`, `kind: Job`,
//! `metadata`, `spec`, several documents per file.
//!
//! Field names are the HCL attribute names (snake_case), so a Nomad user reads
//! a manifest as the job file they know.

use serde::Deserialize;

use crate::diagnostic::{did_you_mean, Diagnostic, Location};
use crate::job::Job;
use crate::meta::API_VERSION;

use super::Loaded;

/// Every job in a (multi-document) YAML manifest, not yet canonicalized.
pub fn parse(file_name: &str, source: &str) -> Result<Loaded, Vec<Diagnostic>> {
    let mut loaded = Loaded::default();
    let mut errors = Vec::new();
    for (index, document) in serde_yaml_ng::Deserializer::from_str(source).enumerate() {
        match Option::<Job>::deserialize(document) {
            Ok(Some(job)) => match check_kind(&job) {
                Ok(()) => loaded.jobs.push(job),
                Err(message) => errors
                    .push(Diagnostic::error(message).in_path(format!("document {}", index + 1))),
            },
            Ok(None) => {}
            Err(error) => {
                // After a syntax error the document stream cannot resync (it
                // would yield the same error forever), so stop at the first.
                errors.push(diagnostic_for(file_name, error));
                break;
            }
        }
    }
    if loaded.jobs.is_empty() && errors.is_empty() {
        errors.push(Diagnostic::error(format!(
            "{file_name}: no job found; a manifest starts with `apiVersion: {API_VERSION}` and `kind: Job`"
        )));
    }
    if errors.is_empty() {
        Ok(loaded)
    } else {
        Err(errors)
    }
}

/// The job as a YAML manifest that [`parse`] reads back to an equal job.
pub fn to_yaml(job: &Job) -> Result<String, serde_yaml_ng::Error> {
    serde_yaml_ng::to_string(job)
}

fn check_kind(job: &Job) -> Result<(), String> {
    if job.api_version != API_VERSION {
        return Err(format!(
            "apiVersion {:?} is not supported; use {API_VERSION:?}",
            job.api_version
        ));
    }
    if job.kind != "Job" {
        return Err(format!("kind {:?} is not supported; use \"Job\"", job.kind));
    }
    Ok(())
}

/// serde_yaml's message already starts with the field path
/// (`spec.groups[0]: …`); it becomes the diagnostic's path.
fn diagnostic_for(file_name: &str, error: serde_yaml_ng::Error) -> Diagnostic {
    let location = error.location().map(|l| Location {
        file: file_name.to_string(),
        line: l.line(),
        column: l.column(),
    });
    let full = strip_position(&error.to_string());
    let diagnostic = match full.split_once(": ") {
        Some((path, message)) if !path.contains(' ') => {
            Diagnostic::error(with_suggestion(message.to_string())).in_path(path)
        }
        _ => Diagnostic::error(with_suggestion(full)),
    };
    match location {
        Some(location) => diagnostic.at(location),
        None => diagnostic.in_path(file_name),
    }
}

/// serde_yaml appends "at line L column C"; the location is printed first
/// instead, so drop the tail.
fn strip_position(message: &str) -> String {
    match message.find(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

/// For serde's "unknown field `x`, expected one of `a`, `b`", adds the closest
/// expected name.
fn with_suggestion(message: String) -> String {
    let Some(rest) = message.strip_prefix("unknown field `") else {
        return message;
    };
    let Some((field, expected)) = rest.split_once('`') else {
        return message;
    };
    let candidates: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
    // With a likely fix at hand, the full list of fields is noise.
    match did_you_mean(field, candidates.iter().copied()) {
        Some(fix) => format!("unknown field `{field}` (did you mean {fix:?}?)"),
        None => message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = "apiVersion: drover.io/v1\nkind: Job\nmetadata:\n  name: web\nspec:\n  groups:\n  - name: web\n    tasks:\n    - name: web\n      driver: docker\n";

    #[test]
    fn parses_several_documents() {
        let source = format!(
            "{MINIMAL}---\n{}\n---\n",
            MINIMAL.replace("name: web\nspec", "name: api\nspec")
        );
        let loaded = parse("m.yaml", &source).map_err(|e| format!("{e:?}"));
        let names: Vec<String> = loaded
            .map(|l| l.jobs.into_iter().map(|j| j.metadata.name).collect())
            .unwrap_or_default();
        assert_eq!(names, ["web", "api"]);
    }

    #[test]
    fn unknown_field_has_location_path_and_suggestion() {
        let source = MINIMAL.replace("      driver: docker", "      drivr: docker");
        let errors = parse("m.yaml", &source).err().unwrap_or_default();
        assert_eq!(errors.len(), 1);
        let text = errors[0].to_string();
        assert_eq!(
            text,
            "m.yaml:10:7: error: spec.groups[0].tasks[0]: unknown field `drivr` (did you mean \"driver\"?)"
        );
    }

    #[test]
    fn wrong_kind_is_refused() {
        let source = MINIMAL.replace("kind: Job", "kind: Pod");
        let errors = parse("m.yaml", &source).err().unwrap_or_default();
        assert_eq!(errors.len(), 1);
        assert!(errors[0]
            .to_string()
            .contains("kind \"Pod\" is not supported"));
    }

    #[test]
    fn syntax_error_is_reported_once() {
        let errors = parse("m.yaml", "apiVersion: drover.io/v1\nkind: Job\n: [\n")
            .err()
            .unwrap_or_default();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].location.is_some());
    }

    #[test]
    fn empty_file_says_what_a_manifest_looks_like() {
        let errors = parse("m.yaml", "# nothing\n").err().unwrap_or_default();
        assert!(errors[0].to_string().contains("no job found"));
    }
}
