//! `drover delete job NAME [--purge]`: stop a job (`DELETE /v1/job/{name}`);
//! with `--purge` the job is also removed once its allocations have stopped.

use drover_api::jobs::RegisterResponse;
use std::process::ExitCode;

use super::client::{runtime, ApiArgs};
use super::get::Kind;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only `job` can be deleted.
    #[arg(value_parser = Kind::parse, value_name = "KIND")]
    pub kind: Kind,
    /// The job's name.
    pub name: String,
    /// Also remove the job (and its versions) once its allocations have stopped.
    #[arg(long)]
    pub purge: bool,
}

pub fn run(args: &Args, api: &ApiArgs) -> anyhow::Result<ExitCode> {
    if args.kind != Kind::Jobs {
        anyhow::bail!(
            "drover delete {}: only jobs can be deleted (allocations are stopped by their job; \
             nodes leave by draining: drover node drain NODE)",
            args.kind.plural()
        );
    }
    let client = api.client()?;
    let stopped = runtime()?.block_on(client.stop_job(&args.name, args.purge))?;
    println!(
        "{}",
        message(&args.name, client.namespace(), args.purge, &stopped)
    );
    Ok(ExitCode::SUCCESS)
}

fn message(name: &str, namespace: &str, purge: bool, s: &RegisterResponse) -> String {
    let what = match (purge, s.changed) {
        (true, _) => "stopped; it is purged once its allocations have stopped",
        (false, true) => "stopped (its allocations are being stopped; `--purge` removes the job)",
        (false, false) => "was already stopped",
    };
    format!(
        "job {name:?} in namespace {namespace:?} {what} (version {}, index {})",
        s.version, s.index
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_says_what_happened() {
        let s = |changed| RegisterResponse {
            index: 42,
            version: 3,
            changed,
        };
        assert_eq!(
            message("web", "default", false, &s(true)),
            "job \"web\" in namespace \"default\" stopped (its allocations are being stopped; \
             `--purge` removes the job) (version 3, index 42)"
        );
        assert!(message("web", "default", false, &s(false)).contains("already stopped"));
        assert!(message("web", "default", true, &s(false)).contains("purged once"));
    }

    #[test]
    fn only_jobs_are_deleted() {
        #[derive(Debug, clap::Parser)]
        struct Cli {
            #[command(flatten)]
            args: Args,
            #[command(flatten)]
            api: ApiArgs,
        }
        use clap::Parser as _;
        let cli = Cli::try_parse_from(["delete", "job", "web", "--purge"]).expect("parse");
        assert!(cli.args.purge && cli.args.kind == Kind::Jobs);
        let cli = Cli::try_parse_from(["delete", "node", "n1"]).expect("parse");
        let e = run(&cli.args, &cli.api).expect_err("nodes").to_string();
        assert!(e.contains("only jobs can be deleted"), "{e}");
    }
}
