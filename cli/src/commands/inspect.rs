//! `drover inspect FILE -o json|yaml`: the parsed, canonical job.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use drover_api_types::jobspec::{load_file, yaml};

use super::jobfile::VarArgs;

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Format {
    Json,
    Yaml,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    vars: VarArgs,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value = "yaml")]
    output: Format,
    /// A job file: Nomad HCL (.nomad, .hcl) or a YAML manifest.
    #[arg(value_name = "FILE")]
    file: PathBuf,
}

pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let loaded = match load_file(&args.file, &args.vars.parse_options()) {
        Ok(loaded) => loaded,
        Err(diagnostics) => {
            for diagnostic in &diagnostics {
                eprintln!("{diagnostic}");
            }
            bail!("{} is not a valid job file", args.file.display());
        }
    };
    for warning in &loaded.warnings {
        eprintln!("{warning}");
    }
    match args.output {
        Format::Json => {
            // One job prints as an object, several (a multi-document YAML
            // manifest) as an array, so scripts can rely on the shape.
            let text = match loaded.jobs.as_slice() {
                [job] => serde_json::to_string_pretty(job),
                jobs => serde_json::to_string_pretty(jobs),
            }
            .context("encoding the job as JSON")?;
            println!("{text}");
        }
        Format::Yaml => {
            let documents = loaded
                .jobs
                .iter()
                .map(yaml::to_yaml)
                .collect::<Result<Vec<_>, _>>()
                .context("encoding the job as YAML")?;
            print!("{}", documents.join("---\n"));
        }
    }
    Ok(ExitCode::SUCCESS)
}
