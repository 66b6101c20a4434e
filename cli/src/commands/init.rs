//! `drover init [--short] [FILE]`: write an example job to start from.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where to write it.
    #[arg(default_value = "example.nomad.hcl")]
    pub file: PathBuf,
    /// Without the comments.
    #[arg(long)]
    pub short: bool,
}

/// The commented example: a service with one nginx task.
pub const EXAMPLE: &str = include_str!("init/example.nomad.hcl");

/// The same job without comments (the example keeps its comments on
/// lines of their own, so dropping those lines is enough).
pub fn short_example() -> String {
    let mut out = String::new();
    for line in EXAMPLE.lines() {
        if line.trim_start().starts_with('#') {
            continue;
        }
        if line.trim().is_empty() && (out.is_empty() || out.ends_with("\n\n")) {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let text = if args.short {
        short_example()
    } else {
        EXAMPLE.to_string()
    };
    let path = &args.file;
    // create_new: never overwrite a file someone may have edited.
    let mut file = match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => anyhow::bail!(
            "{} already exists; remove it or name another file (drover init FILE)",
            path.display()
        ),
        Err(e) => return Err(e).with_context(|| format!("creating {}", path.display())),
    };
    file.write_all(text.as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;
    println!(
        "Example job file written to {}\nCheck it with `drover validate {0}`, run it with `drover apply -f {0}`.",
        path.display()
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use drover_api_types::jobspec::{load_str, ParseOptions};

    use super::*;

    fn load(name: &str, text: &str) -> drover_api_types::Job {
        match load_str(name, text, &ParseOptions::default()) {
            Ok(mut loaded) => {
                assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
                loaded.jobs.remove(0)
            }
            Err(errors) => panic!("{name} does not validate: {errors:?}"),
        }
    }

    #[test]
    fn both_examples_are_valid_jobs_and_the_same_job() {
        let long = load("example.nomad.hcl", EXAMPLE);
        let short = short_example();
        assert!(!short.contains('#'), "{short}");
        assert_eq!(load("short.nomad.hcl", &short), long);
        assert_eq!(long.metadata.name, "example");
        assert_eq!(long.spec.groups[0].count, 1);
        assert_eq!(long.spec.groups[0].tasks[0].driver, "docker");
    }

    #[test]
    fn the_file_is_written_once_and_never_overwritten() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("example.nomad.hcl");
        let args = Args {
            file: path.clone(),
            short: true,
        };
        run(&args).expect("first write");
        let written = std::fs::read_to_string(&path).expect("read");
        load("written.nomad.hcl", &written);
        std::fs::write(&path, "mine").expect("edit");
        let e = run(&args).expect_err("exists").to_string();
        assert!(e.contains("already exists"), "{e}");
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "mine");
    }
}
