//! `drover node drain NODE` and `drover node eligibility NODE`: the two
//! operator levers on a node (`POST /v1/node/{id}/drain|eligibility`).
//! NODE is an id, a unique id prefix or a name.

use drover_api::nodes::{DrainRequest, JoinTokenRequest, SchedulingResponse};
use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::process::ExitCode;

use anyhow::Context as _;

use super::client::{runtime, ApiArgs};
use super::output::short_id;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: NodeCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum NodeCommand {
    /// Move a node's allocations elsewhere and take no new ones
    /// (`--disable` ends a drain and makes the node eligible again).
    Drain(DrainArgs),
    /// Let a node take new allocations, or stop it taking them (what
    /// runs there keeps running).
    Eligibility(EligibilityArgs),
    /// Join tokens: what a new agent trades (`drover agent --join-token`)
    /// for its own etcd credentials, which reach only its own keys.
    #[command(name = "join-token", subcommand)]
    JoinToken(JoinTokenCommand),
}

#[derive(Debug, clap::Subcommand)]
pub enum JoinTokenCommand {
    /// Make a join token (management token needed when ACLs are on).
    Create(JoinTokenCreateArgs),
}

#[derive(Debug, clap::Args)]
pub struct JoinTokenCreateArgs {
    /// How long the token is good for (at most 168h).
    #[arg(long, default_value = "1h", value_parser = super::cluster_args::parse_duration)]
    pub ttl: std::time::Duration,
    /// How many nodes may join with it.
    #[arg(long, default_value_t = 1)]
    pub uses: u32,
    #[arg(long, default_value = "")]
    pub description: String,
}

#[derive(Debug, clap::Args)]
pub struct DrainArgs {
    /// Node id, unique id prefix or name.
    pub node: String,
    /// Start draining (the default).
    #[arg(long, conflicts_with = "disable")]
    pub enable: bool,
    /// Stop draining.
    #[arg(long)]
    pub disable: bool,
    /// After this, what is still on the node is stopped regardless of its
    /// migrate policy (`0` for no deadline).
    #[arg(long, default_value = "1h", conflicts_with = "disable")]
    pub deadline: String,
    /// Stop everything now, ignoring migrate policies.
    #[arg(long, conflicts_with_all = ["disable", "deadline"])]
    pub force: bool,
    /// Leave system jobs' allocations on the node.
    #[arg(long = "ignore-system", conflicts_with = "disable")]
    pub ignore_system: bool,
    /// With --disable: keep the node ineligible.
    #[arg(long, requires = "disable")]
    pub keep_ineligible: bool,
    /// Do not ask for confirmation.
    #[arg(short = 'y', long = "yes")]
    pub yes: bool,
}

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("to").required(true).args(["enable", "disable"])))]
pub struct EligibilityArgs {
    /// Node id, unique id prefix or name.
    pub node: String,
    /// Eligible for new allocations.
    #[arg(long)]
    pub enable: bool,
    /// Ineligible for new allocations.
    #[arg(long)]
    pub disable: bool,
}

pub fn run(args: &Args, api: &ApiArgs) -> anyhow::Result<ExitCode> {
    let client = api.client()?;
    let (node, answer) = match &args.command {
        NodeCommand::Drain(d) => {
            if !d.disable && !d.yes && !confirm(&d.node)? {
                eprintln!("Not draining.");
                return Ok(ExitCode::FAILURE);
            }
            let request = drain_request(d);
            (
                &d.node,
                runtime()?.block_on(client.drain(&d.node, &request))?,
            )
        }
        NodeCommand::Eligibility(e) => (
            &e.node,
            runtime()?.block_on(client.eligibility(&e.node, e.enable))?,
        ),
        NodeCommand::JoinToken(JoinTokenCommand::Create(c)) => {
            let most = drover_api_types::join::MAX_JOIN_TOKEN_TTL_SECS;
            anyhow::ensure!(
                c.ttl.as_secs() <= most,
                "--ttl {}s: a join token lives at most {}h (7 days)",
                c.ttl.as_secs(),
                most / 3600
            );
            let request = JoinTokenRequest {
                ttl_seconds: Some(c.ttl.as_secs().max(1)),
                uses: Some(c.uses),
                description: c.description.clone(),
            };
            let made = runtime()?.block_on(client.create_join_token(&request))?;
            println!("{}", made.secret);
            eprintln!(
                "Join token for {} node(s), good until {}. On each new node:\n  drover agent --join-token <token> --addr <server URL> ...\nIt is shown once; only its hash is kept.",
                made.uses,
                made.expires_at.to_rfc3339()
            );
            return Ok(ExitCode::SUCCESS);
        }
    };
    println!("{}", describe_change(node, &answer));
    Ok(ExitCode::SUCCESS)
}

pub fn drain_request(d: &DrainArgs) -> DrainRequest {
    if d.disable {
        return DrainRequest {
            enable: false,
            keep_ineligible: d.keep_ineligible,
            ..DrainRequest::default()
        };
    }
    DrainRequest {
        enable: true,
        deadline: Some(d.deadline.clone()),
        force: d.force,
        ignore_system_jobs: d.ignore_system,
        keep_ineligible: false,
    }
}

/// Asks on a terminal; elsewhere (scripts, CI) only `-y` drains.
fn confirm(node: &str) -> anyhow::Result<bool> {
    if !std::io::stdin().is_terminal() {
        anyhow::bail!("draining node {node:?} moves its allocations; pass -y to confirm");
    }
    eprint!("Drain node {node:?}? Its allocations move to other nodes. [y/N] ");
    std::io::stderr().flush().context("writing the prompt")?;
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the answer")?;
    Ok(matches!(line.trim(), "y" | "Y" | "yes" | "Yes"))
}

/// One line on what the node's scheduling is now.
pub fn describe_change(asked: &str, answer: &SchedulingResponse) -> String {
    let s = &answer.scheduling;
    let state = match (&s.drain, s.ineligible) {
        (Some(d), _) => format!(
            "draining (deadline {}{}); ineligible for new allocations",
            d.deadline,
            if d.ignore_system_jobs {
                ", system jobs stay"
            } else {
                ""
            }
        ),
        (None, true) => "not draining; ineligible for new allocations".to_string(),
        (None, false) => "not draining; eligible for new allocations".to_string(),
    };
    let unchanged = if answer.changed { "" } else { " (unchanged)" };
    format!(
        "node {asked} ({}): {state}{unchanged}",
        short_id(&answer.node_id)
    )
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;
    use drover_api_types::node::{DrainStrategy, NodeScheduling};

    use super::*;

    #[derive(Debug, clap::Parser)]
    struct Cli {
        #[command(flatten)]
        args: Args,
    }

    fn parse(argv: &[&str]) -> Result<NodeCommand, clap::Error> {
        Cli::try_parse_from(std::iter::once("node").chain(argv.iter().copied()))
            .map(|c| c.args.command)
    }

    #[test]
    fn drain_flags_become_the_request() {
        let Ok(NodeCommand::Drain(d)) = parse(&["drain", "n1", "--deadline", "30m", "-y"]) else {
            panic!("drain");
        };
        let request = drain_request(&d);
        assert!(request.enable && !request.force && !request.ignore_system_jobs);
        assert_eq!(request.deadline.as_deref(), Some("30m"));
        let Ok(NodeCommand::Drain(d)) = parse(&["drain", "n1", "--disable", "--keep-ineligible"])
        else {
            panic!("disable");
        };
        let request = drain_request(&d);
        assert!(!request.enable && request.keep_ineligible && request.deadline.is_none());
        assert!(parse(&["drain", "n1", "--enable", "--disable"]).is_err());
        assert!(parse(&["drain", "n1", "--keep-ineligible"]).is_err());
    }

    #[test]
    fn eligibility_needs_a_direction() {
        assert!(parse(&["eligibility", "n1"]).is_err());
        assert!(parse(&["eligibility", "n1", "--enable", "--disable"]).is_err());
        let Ok(NodeCommand::Eligibility(e)) = parse(&["eligibility", "n1", "--disable"]) else {
            panic!("eligibility");
        };
        assert!(e.disable && !e.enable);
    }

    #[test]
    fn the_change_is_told_in_one_line() {
        let mut answer = SchedulingResponse {
            node_id: "0a1b2c3d4e5f".into(),
            index: 7,
            changed: true,
            scheduling: NodeScheduling {
                ineligible: true,
                drain: Some(DrainStrategy {
                    deadline: drover_api_types::Duration::parse("1h").expect("1h"),
                    ..Default::default()
                }),
            },
        };
        assert_eq!(
            describe_change("sim-1", &answer),
            "node sim-1 (0a1b2c3d): draining (deadline 1h); ineligible for new allocations"
        );
        answer.changed = false;
        answer.scheduling.drain = None;
        answer.scheduling.ineligible = false;
        assert_eq!(
            describe_change("sim-1", &answer),
            "node sim-1 (0a1b2c3d): not draining; eligible for new allocations (unchanged)"
        );
    }
}
