//! `drover validate FILE...`: `FILE: ok` plus warnings, or the errors.

use std::path::PathBuf;
use std::process::ExitCode;

use drover_api_types::jobspec::load_file;

use super::jobfile::VarArgs;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    vars: VarArgs,
    /// Job files: Nomad HCL (.nomad, .hcl) or YAML manifests (.yaml).
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
}

/// Exit 0 when every file is valid, 1 otherwise. Every file is checked, so
/// one run reports every problem.
pub fn run(args: &Args) -> ExitCode {
    let options = args.vars.parse_options();
    let mut all_valid = true;
    for file in &args.files {
        match load_file(file, &options) {
            Ok(loaded) => {
                println!("{}: ok", file.display());
                for warning in &loaded.warnings {
                    println!("  {warning}");
                }
            }
            Err(diagnostics) => {
                all_valid = false;
                eprintln!("{}: invalid", file.display());
                for diagnostic in &diagnostics {
                    eprintln!("  {diagnostic}");
                }
            }
        }
    }
    if all_valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
