//! Flags shared by every command that reads job files (`--var`, `--var-file`),
//! and how `-f FILE|DIR|-` becomes jobs: every input is loaded and
//! validated before anything is sent, so one bad file registers nothing.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use drover_api::jobs::Submission;
use drover_api_types::jobspec::{load_str, ParseOptions, Syntax};
use drover_api_types::Job;

#[derive(Debug, Clone, clap::Args)]
pub struct VarArgs {
    /// Set an HCL variable: --var name=value (repeatable; later wins).
    #[arg(long = "var", value_name = "NAME=VALUE", value_parser = parse_var)]
    pub vars: Vec<(String, String)>,
    /// Read HCL variables from a file (HCL `name = value` or JSON; repeatable).
    #[arg(long = "var-file", value_name = "FILE")]
    pub var_files: Vec<PathBuf>,
}

impl VarArgs {
    /// Flags first, then files, then `NOMAD_VAR_*` from the environment.
    pub fn parse_options(&self) -> ParseOptions {
        ParseOptions {
            vars: self.vars.clone(),
            var_files: self.var_files.clone(),
            ..ParseOptions::default()
        }
        .with_env_vars()
    }
}

/// One input: a file, or standard input (`-`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    File(PathBuf),
    Stdin,
}

impl Source {
    pub fn display(&self) -> String {
        match self {
            Source::File(path) => path.display().to_string(),
            Source::Stdin => "<stdin>".to_string(),
        }
    }
}

/// What a directory contributes: job files by their extension (a README or
/// a var file beside them is not a job).
const JOB_EXTENSIONS: [&str; 5] = ["nomad", "hcl", "yaml", "yml", "json"];

/// `-f` arguments → sources: `-` is stdin (once), a directory is its job
/// files in name order (not recursive, like `kubectl apply -f DIR`).
pub fn collect(inputs: &[PathBuf]) -> anyhow::Result<Vec<Source>> {
    let mut sources = Vec::new();
    for input in inputs {
        if input.as_os_str() == "-" {
            if sources.contains(&Source::Stdin) {
                anyhow::bail!("-f - (standard input) can be given only once");
            }
            sources.push(Source::Stdin);
        } else if input.is_dir() {
            let found = job_files_in(input)?;
            if found.is_empty() {
                anyhow::bail!(
                    "{}: no job files (*.nomad, *.hcl, *.yaml, *.yml, *.json)",
                    input.display()
                );
            }
            sources.extend(found.into_iter().map(Source::File));
        } else {
            sources.push(Source::File(input.clone()));
        }
    }
    Ok(sources)
}

fn job_files_in(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let entries = std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))?;
    let mut files = Vec::new();
    for entry in entries {
        let path = entry
            .with_context(|| format!("reading {}", dir.display()))?
            .path();
        let is_job = path.is_file()
            && path
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| JOB_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()));
        if is_job {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// A job and the input it came from.
#[derive(Debug, Clone)]
pub struct SourcedJob {
    pub source: String,
    pub job: Job,
    /// The file as written, to keep with the version it registers (`None`
    /// when it holds several jobs or is too large to keep).
    pub submission: Option<Submission>,
}

/// The file `name` as the server keeps it: its text, syntax and the
/// variables it was parsed with (`--var` flags, `--var-file` contents).
/// `None`, with a note on stderr, when it is larger than the server keeps.
fn submission_of(name: &str, text: &str, options: &ParseOptions) -> Option<Submission> {
    let format = match Syntax::detect(name, text) {
        Syntax::Hcl => "hcl2",
        Syntax::Yaml => "yaml",
    };
    let mut variables = String::new();
    for file in &options.var_files {
        if let Ok(contents) = std::fs::read_to_string(file) {
            variables.push_str(&contents);
            if !variables.ends_with('\n') {
                variables.push('\n');
            }
        }
    }
    let submission = Submission {
        source: text.to_string(),
        format: format.to_string(),
        variable_flags: options.vars.iter().cloned().collect(),
        variables,
    };
    match submission.check() {
        Ok(()) => Some(submission),
        Err(why) => {
            eprintln!("{name}: not kept as submitted ({why}); the job is registered all the same");
            None
        }
    }
}

/// Every job of every source, or every problem of every source as
/// `file:line:col` lines (`source: invalid` first). Warnings go to stderr.
pub fn load_all(
    sources: &[Source],
    options: &ParseOptions,
    stdin: &mut dyn Read,
) -> Result<Vec<SourcedJob>, Vec<String>> {
    let mut jobs = Vec::new();
    let mut problems = Vec::new();
    for source in sources {
        let name = source.display();
        let read = match source {
            Source::File(path) => {
                std::fs::read_to_string(path).map_err(|e| format!("{name}: cannot read it: {e}"))
            }
            Source::Stdin => {
                let mut text = String::new();
                stdin
                    .read_to_string(&mut text)
                    .map(|_| text)
                    .map_err(|e| format!("{name}: cannot read standard input: {e}"))
            }
        };
        let text = match read {
            Ok(text) => text,
            Err(problem) => {
                problems.push(problem);
                continue;
            }
        };
        match load_str(&name, &text, options) {
            Ok(loaded) => {
                for warning in &loaded.warnings {
                    eprintln!("{name}: {warning}");
                }
                if loaded.jobs.is_empty() {
                    problems.push(format!("{name}: no job in it"));
                }
                // A file of one job is kept as written; one of several
                // would not read back as any one of them.
                let submission = match loaded.jobs.len() {
                    1 => submission_of(&name, &text, options),
                    _ => None,
                };
                jobs.extend(loaded.jobs.into_iter().map(|job| SourcedJob {
                    source: name.clone(),
                    job,
                    submission: submission.clone(),
                }));
            }
            Err(diagnostics) => {
                problems.push(format!("{name}: invalid"));
                problems.extend(diagnostics.iter().map(|d| format!("  {d}")));
            }
        }
    }
    let mut seen = std::collections::BTreeMap::new();
    for sourced in &jobs {
        let key = (&sourced.job.metadata.namespace, &sourced.job.metadata.name);
        if let Some(first) = seen.insert(key, &sourced.source) {
            problems.push(format!(
                "{}: job {:?} is also in {first}; a job can be applied once per run",
                sourced.source, sourced.job.metadata.name
            ));
        }
    }
    if problems.is_empty() {
        Ok(jobs)
    } else {
        Err(problems)
    }
}

fn parse_var(raw: &str) -> Result<(String, String), String> {
    match raw.split_once('=') {
        Some((name, value)) if !name.trim().is_empty() => {
            Ok((name.trim().to_string(), value.to_string()))
        }
        _ => Err(format!("expected NAME=VALUE, got {raw:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_gives_its_job_files_in_name_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        for name in [
            "b.nomad",
            "a.yaml",
            "c.hcl",
            "d.json",
            "e.yml",
            "README.md",
            "vars.txt",
        ] {
            std::fs::write(dir.path().join(name), "").expect("write");
        }
        std::fs::create_dir(dir.path().join("sub.nomad")).expect("mkdir");
        let sources = collect(&[dir.path().to_path_buf()]).expect("collect");
        let names: Vec<String> = sources
            .iter()
            .map(|s| match s {
                Source::File(p) => p.file_name().expect("name").to_string_lossy().into(),
                Source::Stdin => "-".into(),
            })
            .collect();
        assert_eq!(names, ["a.yaml", "b.nomad", "c.hcl", "d.json", "e.yml"]);
    }

    #[test]
    fn dash_is_stdin_once_and_an_empty_directory_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let sources = collect(&["-".into(), "x.nomad".into()]).expect("collect");
        assert_eq!(sources, [Source::Stdin, Source::File("x.nomad".into())]);
        assert!(collect(&["-".into(), "-".into()]).is_err());
        let err = collect(&[dir.path().to_path_buf()]).expect_err("empty dir");
        assert!(err.to_string().contains("no job files"), "{err}");
    }

    const JOB: &str = r#"job "web" {
  datacenters = ["dc1"]
  group "front" {
    task "web" {
      driver = "docker"
      config { image = "nginx" }
    }
  }
}
"#;

    #[test]
    fn stdin_is_loaded_like_a_file() {
        let mut stdin = JOB.as_bytes();
        let jobs = load_all(&[Source::Stdin], &ParseOptions::default(), &mut stdin).expect("valid");
        assert_eq!(jobs.len(), 1);
        assert_eq!(jobs[0].source, "<stdin>");
        assert_eq!(jobs[0].job.metadata.name, "web");
    }

    #[test]
    fn one_bad_file_fails_the_whole_load_with_positions() {
        let dir = tempfile::tempdir().expect("tempdir");
        let good = dir.path().join("good.nomad");
        let bad = dir.path().join("bad.nomad");
        std::fs::write(&good, JOB).expect("write");
        std::fs::write(&bad, JOB.replace("datacenters", "datacentres")).expect("write");
        let sources = [Source::File(good.clone()), Source::File(bad.clone())];
        let problems =
            load_all(&sources, &ParseOptions::default(), &mut std::io::empty()).expect_err("bad");
        assert_eq!(problems[0], format!("{}: invalid", bad.display()));
        assert!(
            problems[1].contains(&format!("{}:2:", bad.display())),
            "{problems:?}"
        );
        let twice = [Source::File(good.clone()), Source::File(good)];
        let problems =
            load_all(&twice, &ParseOptions::default(), &mut std::io::empty()).expect_err("dup");
        assert!(problems[0].contains("also in"), "{problems:?}");
    }

    #[test]
    fn var_flag_splits_on_the_first_equals() {
        assert_eq!(
            parse_var("image=nginx:1=2"),
            Ok(("image".into(), "nginx:1=2".into()))
        );
        assert!(parse_var("novalue").is_err());
        assert!(parse_var("=x").is_err());
    }
}
