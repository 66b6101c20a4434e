//! `drover periodic force JOB`: launch a periodic job's child now
//! (`POST /v1/job/{name}/periodic/force`), whatever its schedule and
//! `prohibit_overlap` say; the periodic controller counts it as the latest
//! launch.

use std::process::ExitCode;

use drover_apiserver::api::children::ChildResponse;

use super::client::{runtime, segment, ApiArgs, Client};

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
    let client = Client::new(api)?;
    let path = format!("/v1/job/{}/periodic/force", segment(&args.job));
    let child: ChildResponse =
        runtime()?.block_on(client.post(&path, &[], &serde_json::json!({})))?;
    println!(
        "Launched job {:?} (a child of {:?})",
        child.job_id, args.job
    );
    Ok(ExitCode::SUCCESS)
}
