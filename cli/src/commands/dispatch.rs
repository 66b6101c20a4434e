//! `drover dispatch JOB [--meta K=V]... [PAYLOAD_FILE|-]`: run a
//! parameterized job once with a payload and meta (`POST
//! /v1/job/{name}/dispatch`); prints the child job's id. The server checks
//! the payload and meta against the job's `parameterized` block.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::process::ExitCode;

use anyhow::Context as _;
use base64::Engine as _;
use drover_api::children::DispatchRequest;

use super::client::{runtime, ApiArgs};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The parameterized job's name.
    pub job: String,
    /// A file whose bytes are the payload, or `-` for standard input.
    pub payload: Option<String>,
    /// Meta for the child job (repeatable): KEY=VALUE.
    #[arg(long = "meta", value_name = "KEY=VALUE", value_parser = parse_meta)]
    pub meta: Vec<(String, String)>,
    /// Dispatching again with the same token returns the first child
    /// instead of creating another.
    #[arg(long)]
    pub idempotency_token: Option<String>,
}

fn parse_meta(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("{s:?} is not KEY=VALUE")),
    }
}

/// The request `args` describe, with the payload read.
fn request(args: &Args) -> anyhow::Result<DispatchRequest> {
    let payload = match args.payload.as_deref() {
        None => None,
        Some("-") => {
            let mut bytes = Vec::new();
            std::io::stdin()
                .read_to_end(&mut bytes)
                .context("reading the payload from standard input")?;
            Some(bytes)
        }
        Some(path) => {
            Some(std::fs::read(path).with_context(|| format!("reading the payload {path}"))?)
        }
    };
    Ok(DispatchRequest {
        payload: payload.map(|p| base64::engine::general_purpose::STANDARD.encode(p)),
        meta: args.meta.iter().cloned().collect::<BTreeMap<_, _>>(),
        idempotency_token: args.idempotency_token.clone(),
    })
}

pub fn run(args: &Args, api: &ApiArgs) -> anyhow::Result<ExitCode> {
    let client = api.client()?;
    let body = request(args)?;
    let child = runtime()?.block_on(client.dispatch(&args.job, &body))?;
    println!(
        "Dispatched job {:?} (a child of {:?})",
        child.job_id, args.job
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_is_key_equals_value() {
        assert_eq!(parse_meta("a=b=c"), Ok(("a".into(), "b=c".into())));
        assert_eq!(parse_meta("a="), Ok(("a".into(), String::new())));
        assert!(parse_meta("=b").is_err());
        assert!(parse_meta("ab").is_err());
    }
}
