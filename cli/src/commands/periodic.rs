//! `drover periodic force JOB`: launch a periodic job's child now
//! (`POST /v1/job/{name}/periodic/force`), whatever its schedule and
//! `prohibit_overlap` say; the periodic controller counts it as the latest
//! launch.

use std::process::ExitCode;

use super::client::{runtime, ApiArgs};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub action: Action,
}

#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// Launch a child of the periodic job now and print its id.
    Force(ForceArgs),
}

#[derive(Debug, clap::Args)]
pub struct ForceArgs {
    /// The periodic job's name.
    pub job: String,
}

pub fn run(args: &Args, api: &ApiArgs) -> anyhow::Result<ExitCode> {
    let Action::Force(args) = &args.action;
    let client = api.client()?;
    let child = runtime()?.block_on(client.force_periodic(&args.job))?;
    println!(
        "Launched job {:?} (a child of {:?})",
        child.job_id, args.job
    );
    Ok(ExitCode::SUCCESS)
}
