//! `drover acl …`: bootstrap ACLs, write policies, make tokens
//! (`/v1/acl/…`; docs/acl.md).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use drover_api::acl::{PolicyRequest, TokenRequest, TokenView};
use drover_api_types::acl::TokenType;

use super::client::{runtime, ApiArgs};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub action: Action,
}

#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// Create the first management token (once). Keep its secret safe:
    /// it is shown only now.
    Bootstrap,
    /// ACL policies: apply, list, info, delete.
    #[command(subcommand)]
    Policy(PolicyAction),
    /// ACL tokens: create, list, info, self, delete.
    #[command(subcommand)]
    Token(TokenAction),
}

#[derive(Debug, clap::Subcommand)]
pub enum PolicyAction {
    /// Create or replace policy NAME from FILE (Nomad's policy language).
    Apply {
        name: String,
        file: PathBuf,
        #[arg(long, default_value = "")]
        description: String,
    },
    List,
    Info {
        name: String,
    },
    Delete {
        name: String,
    },
}

#[derive(Debug, clap::Subcommand)]
pub enum TokenAction {
    /// Create a token; its secret is shown only now.
    Create {
        #[arg(long, default_value = "")]
        name: String,
        /// A policy the token carries (repeatable).
        #[arg(long = "policy")]
        policies: Vec<String>,
        /// `client` (policies) or `management` (anything).
        #[arg(long = "type", default_value = "client", value_parser = parse_type)]
        token_type: TokenType,
        /// How long it lives (`24h`); forever by default.
        #[arg(long)]
        ttl: Option<String>,
    },
    List,
    /// A token by accessor id (or a unique prefix).
    Info {
        accessor: String,
    },
    /// The token this command sends.
    #[command(name = "self")]
    Own,
    Delete {
        accessor: String,
    },
}

fn parse_type(s: &str) -> Result<TokenType, String> {
    [TokenType::Client, TokenType::Management]
        .into_iter()
        .find(|t| t.name() == s)
        .ok_or_else(|| format!("{s:?}: a token is client or management"))
}

fn print_token(t: &TokenView) {
    println!("Accessor ID  = {}", t.accessor_id);
    if let Some(secret) = &t.secret_id {
        println!("Secret ID    = {secret}");
    }
    println!("Name         = {}", t.name);
    println!("Type         = {}", t.token_type.name());
    println!("Policies     = {}", t.policies.join(", "));
    println!("Create Time  = {}", t.create_time.to_rfc3339());
    match t.expiration_time {
        Some(at) => println!("Expiry Time  = {}", at.to_rfc3339()),
        None => println!("Expiry Time  = <none>"),
    }
}

pub fn run(args: &Args, api: &ApiArgs) -> anyhow::Result<ExitCode> {
    let client = api.client()?;
    let rt = runtime()?;
    match &args.action {
        Action::Bootstrap => {
            let token = rt.block_on(client.acl_bootstrap())?;
            print_token(&token);
            eprintln!(
                "\nKeep the Secret ID: it is not shown again. Use it with --token or DROVER_TOKEN."
            );
        }
        Action::Policy(PolicyAction::Apply {
            name,
            file,
            description,
        }) => {
            let rules = std::fs::read_to_string(file)
                .with_context(|| format!("reading {}", file.display()))?;
            let body = PolicyRequest {
                description: description.clone(),
                rules,
            };
            let written = rt.block_on(client.put_acl_policy(name, &body))?;
            for warning in &written.warnings {
                eprintln!("{warning}");
            }
            println!("Policy {name:?} written");
        }
        Action::Policy(PolicyAction::List) => {
            let policies = rt.block_on(client.acl_policies())?;
            if policies.is_empty() {
                println!("No policies");
            }
            println!("{:<24} DESCRIPTION", "NAME");
            for p in policies {
                println!("{:<24} {}", p.name, p.description);
            }
        }
        Action::Policy(PolicyAction::Info { name }) => {
            let p = rt.block_on(client.acl_policy(name))?;
            println!("Name        = {}", p.name);
            println!("Description = {}", p.description);
            println!("Rules:\n{}", p.rules.trim_end());
        }
        Action::Policy(PolicyAction::Delete { name }) => {
            rt.block_on(client.delete_acl_policy(name))?;
            println!("Policy {name:?} deleted");
        }
        Action::Token(TokenAction::Create {
            name,
            policies,
            token_type,
            ttl,
        }) => {
            let ttl = ttl
                .as_deref()
                .map(drover_api_types::Duration::parse)
                .transpose()
                .map_err(|e| anyhow::anyhow!("--ttl: {e}"))?;
            let body = TokenRequest {
                name: name.clone(),
                token_type: *token_type,
                policies: policies.clone(),
                ttl,
            };
            print_token(&rt.block_on(client.create_acl_token(&body))?);
        }
        Action::Token(TokenAction::List) => {
            let tokens = rt.block_on(client.acl_tokens())?;
            println!(
                "{:<38} {:<20} {:<11} POLICIES",
                "ACCESSOR ID", "NAME", "TYPE"
            );
            for t in tokens {
                let kind = t.token_type.name();
                println!(
                    "{:<38} {:<20} {:<11} {}",
                    t.accessor_id,
                    t.name,
                    kind,
                    t.policies.join(",")
                );
            }
        }
        Action::Token(TokenAction::Info { accessor }) => {
            print_token(&rt.block_on(client.acl_token(accessor))?)
        }
        Action::Token(TokenAction::Own) => print_token(&rt.block_on(client.acl_token_self())?),
        Action::Token(TokenAction::Delete { accessor }) => {
            let t = rt.block_on(client.delete_acl_token(accessor))?;
            println!("Token {} deleted", t.accessor_id);
        }
    }
    Ok(ExitCode::SUCCESS)
}
