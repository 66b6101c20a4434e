//! Nomad HCL2 job files, accepted unchanged.
//!
//! hcl-edit parses the file, keeping the byte span of every attribute and
//! block so each diagnostic points at `file:line:col`; hcl-rs evaluates the
//! expressions. The pipeline:
//!
//! 1. [`vars`]: `variable` blocks get their values (`--var`, var-files,
//!    environment, default) and are validated; `locals` are evaluated.
//! 2. [`decode`], [`task`], [`service`], [`policies`]: each block is read
//!    through a [`body::Reader`] checked against its table in [`schema`];
//!    driver `config` blocks, which have no schema, through [`config`].
//! 3. [`legacy`]: Nomad 0.x syntax is mapped onto the current model.
//!
//! Expressions go through [`eval`], which keeps runtime references such as
//! `${attr.kernel.name}` as text for the client to interpolate later.

mod body;
mod config;
mod decode;
mod eval;
mod funcs;
mod funcs_collections;
mod legacy;
mod policies;
mod schema;
mod service;
mod task;
mod types;
mod vars;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_legacy;

use std::path::Path;

use crate::diagnostic::{Diagnostic, Location};
use crate::job::Job;

use super::{FileAccess, ParseOptions};
use body::{Decoder, Reader};
use eval::{Evaluator, Files};

/// Parses one Nomad job file into a (not yet canonicalized) job and warnings.
///
/// `file()` paths are relative to the directory of `file_name`.
pub fn parse(
    file_name: &str,
    source: &str,
    options: &ParseOptions,
) -> Result<(Job, Vec<Diagnostic>), Vec<Diagnostic>> {
    let body = hcl_edit::parser::parse_body(source)
        .map_err(|e| vec![syntax_error(file_name, source, &e)])?;
    let files = match options.files {
        FileAccess::Local => Files::Under(Path::new(file_name).parent().map(Path::to_path_buf)),
        FileAccess::Refused => Files::Refused,
    };
    let mut d = Decoder {
        file: file_name,
        source,
        eval: Evaluator::new(files),
        errors: Vec::new(),
        warnings: Vec::new(),
    };
    let top = Reader::open(&mut d, &body, &schema::FILE, String::new());
    vars::evaluate(&mut d, &top, options);
    if d.errors.is_empty() {
        vars::locals(&mut d, &top);
    }
    if !d.errors.is_empty() {
        return Err(finish(d).1);
    }
    let jobs = top.labeled(&mut d, "job");
    let job = match jobs.as_slice() {
        [(name, block)] => Some(decode::job(&mut d, name.clone(), block)),
        [] => {
            if top.blocks("job").next().is_none() {
                d.errors.push(Diagnostic::error(format!(
                    "{file_name}: no job found: a job file holds one job \"<name>\" {{ … }} block"
                )));
            }
            None
        }
        [_, (_, extra), ..] => {
            let message = format!(
                "a job file holds exactly one job block; this one has {}",
                jobs.len()
            );
            d.error(hcl_edit::Span::span(&extra.ident), "", message);
            None
        }
    };
    match (job, finish(d)) {
        (Some(job), (true, warnings)) => Ok((job, warnings)),
        (_, (_, diagnostics)) => Err(diagnostics),
    }
}

/// Whether decoding succeeded, with the diagnostics in file order: on
/// failure the errors, then the warnings.
fn finish(d: Decoder) -> (bool, Vec<Diagnostic>) {
    let Decoder {
        mut errors,
        mut warnings,
        ..
    } = d;
    errors.sort_by(|a, b| a.location.cmp(&b.location));
    warnings.sort_by(|a, b| a.location.cmp(&b.location));
    if errors.is_empty() {
        (true, warnings)
    } else {
        errors.extend(warnings);
        (false, errors)
    }
}

/// hcl-edit's error, without its ASCII-art excerpt, at the right column.
pub(crate) fn syntax_error(
    file: &str,
    source: &str,
    error: &hcl_edit::parser::Error,
) -> Diagnostic {
    const ANY_VALUE: &str = "expected `\"`, `[`, `{`, `-`, `!`, `(`, `_`, `<`, letter or digit";
    let message = error.message().replace(ANY_VALUE, "expected a value");
    let location = Location::from_offset(file, source, error.location().offset());
    Diagnostic::error(format!("syntax error: {message}")).at(location)
}
