//! `drover scale JOB GROUP COUNT`: set one group's count (`POST
//! /v1/job/{name}/scale`). A new job version; a count change updates in
//! place, so running allocations are kept and only the difference is
//! placed or stopped.

use drover_api::job_actions::ScaleRequest;
use drover_api::jobs::RegisterResponse;
use std::process::ExitCode;

use super::client::{runtime, ApiArgs};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The job's name.
    pub job: String,
    /// The task group.
    pub group: String,
    /// How many allocations the group should run.
    pub count: i64,
    /// Only if the job is still at this index.
    #[arg(long = "check-index")]
    pub check_index: Option<i64>,
    /// Why (recorded in the server's log).
    #[arg(short = 'm', long)]
    pub message: Option<String>,
}

pub fn run(args: &Args, api: &ApiArgs) -> anyhow::Result<ExitCode> {
    let client = api.client()?;
    let body = ScaleRequest {
        group: args.group.clone(),
        count: args.count,
        message: args.message.clone(),
        check_index: args.check_index,
    };
    let r = runtime()?.block_on(client.scale(&args.job, &body))?;
    println!("{}", message(args, &r));
    Ok(ExitCode::SUCCESS)
}

fn message(args: &Args, r: &RegisterResponse) -> String {
    let (job, group, count) = (&args.job, &args.group, args.count);
    match r.changed {
        true => format!(
            "job {job:?} group {group:?} scaled to {count}: version {} (index {})",
            r.version, r.index
        ),
        false => format!(
            "job {job:?} group {group:?} is already at count {count} (version {})",
            r.version
        ),
    }
}
