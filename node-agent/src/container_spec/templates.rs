//! A task's `template` blocks → the files to write before its container
//! starts, and the variables of `env = true` templates.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{AgentPolicy, SpecError};
use crate::driver::RenderedFile;
use crate::task_env::{interpolate, Lookup, TaskContext};
use crate::template::{parse_env_file, render};

/// The largest `source` file a template reads.
pub const MAX_SOURCE_BYTES: u64 = 1 << 20;

/// The most a template may render to.
pub const MAX_RENDERED_BYTES: usize = 4 << 20;

/// Where a template's `source` is read from, and the root the read must
/// not leave: a relative source is in the task directory and may reach
/// the rest of its allocation (`../alloc/x`) but not beyond; an absolute
/// one only inside a directory the operator named.
fn source_path(
    policy: &AgentPolicy<'_>,
    alloc_root: &Path,
    task_root: &Path,
    source: &str,
) -> Result<(PathBuf, PathBuf), String> {
    if Path::new(source).is_absolute() {
        let path = lexical(Path::new(source));
        return policy
            .template_source_dirs
            .iter()
            .find(|dir| path.starts_with(dir))
            .map(|dir| (dir.clone(), path.clone()))
            .ok_or_else(|| {
                format!(
                    "source {source:?} is outside the task directory; the agent reads absolute sources only under a --template-source-dir"
                )
            });
    }
    let path = lexical(&task_root.join(source));
    if !path.starts_with(alloc_root) {
        return Err(format!("source {source:?} leaves the allocation directory"));
    }
    Ok((alloc_root.to_path_buf(), path))
}

/// `path` with `.` and `..` resolved by name (no file system access; the
/// read then refuses links).
fn lexical(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// The rendered files and the variables `env = true` templates define.
pub(super) fn render_all(
    ctx: &TaskContext<'_>,
    policy: &AgentPolicy<'_>,
    env: &BTreeMap<String, String>,
) -> Result<(Vec<RenderedFile>, BTreeMap<String, String>), SpecError> {
    let task = ctx.task;
    let lookup = Lookup {
        env,
        node: ctx.node,
        meta: &task.meta,
    };
    let alloc_root = policy.allocs_dir.join(&ctx.alloc.metadata.uid);
    let task_root = alloc_root.join(&task.name);
    let mut files = Vec::new();
    let mut vars = BTreeMap::new();
    for t in &task.templates {
        let fail = |message: String| SpecError::Template {
            task: task.name.clone(),
            destination: t.destination.clone(),
            message,
        };
        let text = if t.source.is_empty() {
            t.data.clone()
        } else {
            let source = interpolate(&t.source, &lookup);
            let (root, path) =
                source_path(policy, &alloc_root, &task_root, &source).map_err(fail)?;
            (policy.read_source)(&root, &path)
                .map_err(|e| fail(format!("reading source {}: {e}", path.display())))?
        };
        let contents = render(&text, &t.left_delimiter, &t.right_delimiter, &|name| {
            lookup.get(name)
        })
        .map_err(|e| fail(e.to_string()))?;
        if contents.len() > MAX_RENDERED_BYTES {
            return Err(fail(format!(
                "renders to {} bytes; a template renders to at most {MAX_RENDERED_BYTES}",
                contents.len()
            )));
        }
        let destination = interpolate(&t.destination, &lookup);
        let host_path = resolve_destination(&alloc_root, &task_root, &destination).map_err(fail)?;
        // A file in secrets/ is its task's alone unless `perms` says
        // otherwise: Nomad's default (0644, which every parsed template
        // carries) becomes 0600 there.
        let in_secrets = host_path.starts_with(task_root.join("secrets"));
        let perms = if t.perms.is_empty() { "644" } else { &t.perms };
        let declared_mode = u32::from_str_radix(perms, 8)
            .ok()
            .filter(|m| *m <= 0o7777)
            .ok_or_else(|| fail(format!("perms {perms:?} is not an octal file mode")))?;
        let mode = if in_secrets && declared_mode == 0o644 {
            0o600
        } else {
            declared_mode
        };
        if t.env {
            let parsed = parse_env_file(&contents).map_err(|e| {
                fail(format!(
                    "env = true, but the rendered text is not KEY=VALUE lines: {e}"
                ))
            })?;
            vars.extend(parsed);
        }
        files.push(RenderedFile {
            host_path: host_path.to_string_lossy().into_owned(),
            contents: contents.into_bytes(),
            mode,
            declared_mode,
        });
    }
    Ok((files, vars))
}

/// A dispatched job's payload, decoded, as the file its task's
/// `dispatch_payload` names under `local/` (Nomad's NOMAD_TASK_DIR).
pub(super) fn payload_file(
    ctx: &TaskContext<'_>,
    policy: &AgentPolicy<'_>,
) -> Result<Option<RenderedFile>, SpecError> {
    use base64::Engine;
    let (Some(target), Some(payload)) = (&ctx.task.dispatch_payload, &ctx.job.spec.payload) else {
        return Ok(None);
    };
    let destination = format!("local/{}", target.file);
    let fail = |message: String| SpecError::Template {
        task: ctx.task.name.clone(),
        destination: destination.clone(),
        message,
    };
    let contents = base64::engine::general_purpose::STANDARD
        .decode(payload)
        .map_err(|e| fail(format!("the dispatch payload is not base64: {e}")))?;
    let alloc_root = policy.allocs_dir.join(&ctx.alloc.metadata.uid);
    let task_root = alloc_root.join(&ctx.task.name);
    let host_path =
        resolve_destination(&alloc_root, &task_root.join("local"), &target.file).map_err(fail)?;
    Ok(Some(RenderedFile {
        host_path: host_path.to_string_lossy().into_owned(),
        contents,
        mode: 0o644,
        declared_mode: 0o644,
    }))
}

/// Where `destination` is on the node. As in Nomad it is relative to the
/// task directory, even when written absolute (`${NOMAD_TASK_DIR}/x` is
/// `/local/x`); `alloc/…` is the allocation's shared directory. `..` may
/// not climb out of the task directory.
fn resolve_destination(
    alloc_root: &Path,
    task_root: &Path,
    destination: &str,
) -> Result<PathBuf, String> {
    let mut parts: Vec<&str> = Vec::new();
    for part in destination.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err(format!(
                        "destination {destination:?} is outside the task directory; write a path under local/, secrets/ or alloc/"
                    ));
                }
            }
            part => parts.push(part),
        }
    }
    match parts.split_first() {
        None => Err(format!(
            "destination {destination:?} names a directory; write a file path such as \"local/app.conf\""
        )),
        Some((&"alloc", rest)) if !rest.is_empty() => {
            Ok(rest.iter().fold(alloc_root.join("alloc"), |p, part| p.join(part)))
        }
        Some(_) => Ok(parts.iter().fold(task_root.to_path_buf(), |p, part| p.join(part))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_are_relative_to_the_task_dir() {
        let (alloc, task) = (Path::new("/d/a1"), Path::new("/d/a1/web"));
        let at = |d: &str| resolve_destination(alloc, task, d);
        let path = |p: &str| Ok(PathBuf::from(p));
        assert_eq!(at("local/app.conf"), path("/d/a1/web/local/app.conf"));
        assert_eq!(at("/local/app.conf"), path("/d/a1/web/local/app.conf"));
        assert_eq!(at("./secrets//x.env"), path("/d/a1/web/secrets/x.env"));
        assert_eq!(at("alloc/shared/x"), path("/d/a1/alloc/shared/x"));
        assert_eq!(at("local/../alloc/x"), path("/d/a1/alloc/x"));
        assert_eq!(at("app.conf"), path("/d/a1/web/app.conf"));
        assert_eq!(
            at("../../etc/x"),
            Err("destination \"../../etc/x\" is outside the task directory; write a path under local/, secrets/ or alloc/".into())
        );
        assert!(at("local/../../x").is_err());
        assert!(at("/../x").is_err());
        assert!(at("local/..").is_err());
        assert!(at("alloc").is_ok(), "a file named alloc in the task dir");
    }
}
