//! `drover operator …`: cluster-wide settings an operator holds.
//!
//! - `drover operator scrape-token [--rotate]` prints the token Prometheus
//!   presents to the agents' `/metrics` (`GET /v1/operator/scrape-token`,
//!   made on first use; `--rotate` replaces it: the new one works at once,
//!   the old one is refused within 10 s). A management token is needed when ACLs
//!   are on.

use std::process::ExitCode;

use super::client::{runtime, ApiArgs};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: OperatorCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum OperatorCommand {
    /// Print the token metrics scrapers present to the agents' /metrics
    /// (Authorization: Bearer); write it where Prometheus reads its
    /// `credentials_file`.
    #[command(name = "scrape-token")]
    ScrapeToken(ScrapeTokenArgs),
}

#[derive(Debug, clap::Args)]
pub struct ScrapeTokenArgs {
    /// Replace the token: the old one is refused within 10 s.
    #[arg(long)]
    pub rotate: bool,
}

pub fn run(args: &Args, api: &ApiArgs) -> anyhow::Result<ExitCode> {
    let client = api.client()?;
    match &args.command {
        OperatorCommand::ScrapeToken(a) => {
            let answer = if a.rotate {
                runtime()?.block_on(client.rotate_scrape_token())?
            } else {
                runtime()?.block_on(client.scrape_token())?
            };
            println!("{}", answer.token);
            if a.rotate {
                eprintln!("The scrape token was replaced; the old one is refused within 10 s. Give the new one to every scraper.");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
