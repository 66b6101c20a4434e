//! `drover kv get|put|delete|list`: the Consul-compatible KV store
//! (`/v1/kv/<key>`), as `consul kv` drives it. Values are bytes: `get`
//! prints them unchanged, `put -` reads them from stdin.

use std::io::{Read as _, Write as _};
use std::process::ExitCode;

use anyhow::Context as _;
use base64::Engine as _;
use reqwest::{Method, StatusCode};
use serde::Deserialize;

use super::client::{runtime, ApiArgs, Client};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: KvCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum KvCommand {
    /// Print a key's value (exact bytes), or with --recurse every `key:value` under a prefix.
    Get {
        key: String,
        #[arg(long)]
        recurse: bool,
    },
    /// Write a value (`-` reads it from stdin).
    Put {
        key: String,
        /// The value, or `-` for stdin.
        value: String,
        /// Only write if the key's modify index is still N (0: only if absent).
        #[arg(long)]
        cas: Option<u64>,
        /// Opaque flags stored with the value.
        #[arg(long)]
        flags: Option<u64>,
    },
    /// Delete a key, or with --recurse every key under a prefix.
    Delete {
        key: String,
        #[arg(long)]
        recurse: bool,
    },
    /// List the keys under a prefix, folding at `/` like a directory listing.
    List {
        #[arg(default_value = "")]
        prefix: String,
        /// Where to fold keys; empty lists every key.
        #[arg(long, default_value = "/")]
        separator: String,
    },
}

/// One entry of a recursive read.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Pair {
    key: String,
    value: Option<String>,
}

pub fn run(args: &Args, api: &ApiArgs) -> anyhow::Result<ExitCode> {
    let client = api.client()?;
    runtime()?.block_on(run_with(&client, &args.command))
}

/// A key as a URL path: each segment escaped, the `/` between kept.
fn key_path(key: &str) -> String {
    let segments: Vec<String> = key.split('/').map(super::client::segment).collect();
    format!("/v1/kv/{}", segments.join("/"))
}

async fn run_with(client: &Client, command: &KvCommand) -> anyhow::Result<ExitCode> {
    match command {
        KvCommand::Get {
            key,
            recurse: false,
        } => {
            let r = client
                .raw(Method::GET, &key_path(key), &[("raw", String::new())], None)
                .await?;
            let bytes = answer(r, key).await?;
            std::io::stdout()
                .write_all(&bytes)
                .context("writing the value")?;
        }
        KvCommand::Get { key, recurse: true } => {
            let r = client
                .raw(
                    Method::GET,
                    &key_path(key),
                    &[("recurse", String::new())],
                    None,
                )
                .await?;
            let pairs: Vec<Pair> = serde_json::from_slice(&answer(r, key).await?)
                .context("decoding the KV entries")?;
            print!("{}", recurse_lines(&pairs));
        }
        KvCommand::Put {
            key,
            value,
            cas,
            flags,
        } => {
            let body = if value == "-" {
                let mut buf = Vec::new();
                std::io::stdin()
                    .read_to_end(&mut buf)
                    .context("reading the value from stdin")?;
                buf
            } else {
                value.clone().into_bytes()
            };
            let mut query = Vec::new();
            if let Some(cas) = cas {
                query.push(("cas", cas.to_string()));
            }
            if let Some(flags) = flags {
                query.push(("flags", flags.to_string()));
            }
            let r = client
                .raw(Method::PUT, &key_path(key), &query, Some(body))
                .await?;
            if !written(&answer(r, key).await?) {
                anyhow::bail!("{}", cas_refused(key, cas.unwrap_or_default()));
            }
            println!("Success! Data written to: {key}");
        }
        KvCommand::Delete { key, recurse } => {
            let query = match recurse {
                true => vec![("recurse", String::new())],
                false => Vec::new(),
            };
            let r = client
                .raw(Method::DELETE, &key_path(key), &query, None)
                .await?;
            answer(r, key).await?;
            match recurse {
                true => println!("Success! Deleted keys with prefix: {key}"),
                false => println!("Success! Deleted key: {key}"),
            }
        }
        KvCommand::List { prefix, separator } => {
            let query = [("keys", String::new()), ("separator", separator.clone())];
            let r = client
                .raw(Method::GET, &key_path(prefix), &query, None)
                .await?;
            if r.status() == StatusCode::NOT_FOUND {
                return Ok(ExitCode::SUCCESS);
            }
            let keys: Vec<String> = serde_json::from_slice(&answer(r, prefix).await?)
                .context("decoding the key list")?;
            for key in keys {
                println!("{key}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The body of a successful answer; a 404 names the key, other errors
/// carry the server's (plain-text) message.
async fn answer(r: reqwest::Response, key: &str) -> anyhow::Result<Vec<u8>> {
    let status = r.status();
    let body = r.bytes().await.context("reading the answer")?.to_vec();
    if status == StatusCode::NOT_FOUND {
        anyhow::bail!("no key {key:?} (drover kv list shows the keys)");
    }
    if !status.is_success() {
        anyhow::bail!(
            "{}",
            super::client::api_error_message(status.as_u16(), &String::from_utf8_lossy(&body))
        );
    }
    Ok(body)
}

/// `true`/`false`, the answer to a write.
fn written(body: &[u8]) -> bool {
    serde_json::from_slice::<bool>(body).unwrap_or(false)
}

fn cas_refused(key: &str, cas: u64) -> String {
    match cas {
        0 => format!("not written: {key} already exists (--cas 0 writes only a new key)"),
        n => format!(
            "not written: {key} changed since index {n} (or is gone); read it again (drover kv get) and retry"
        ),
    }
}

/// `key:value` per line, as `consul kv get -recurse` prints them.
fn recurse_lines(pairs: &[Pair]) -> String {
    let mut out = String::new();
    for pair in pairs {
        let value = pair
            .value
            .as_deref()
            .and_then(|v| base64::engine::general_purpose::STANDARD.decode(v).ok())
            .unwrap_or_default();
        out.push_str(&format!(
            "{}:{}\n",
            pair.key,
            String::from_utf8_lossy(&value)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_become_escaped_paths() {
        assert_eq!(key_path("app/config"), "/v1/kv/app/config");
        assert_eq!(key_path("a b/c?d"), "/v1/kv/a%20b/c%3Fd");
        assert_eq!(key_path("app/"), "/v1/kv/app/");
        assert_eq!(key_path(""), "/v1/kv/");
    }

    #[test]
    fn recursive_reads_print_key_value_lines() {
        let pairs = [
            Pair {
                key: "a".into(),
                value: Some("aGk=".into()),
            },
            Pair {
                key: "b/".into(),
                value: None,
            },
        ];
        assert_eq!(recurse_lines(&pairs), "a:hi\nb/:\n");
        assert!(written(b"true"));
        assert!(!written(b"false"));
        assert!(cas_refused("k", 0).contains("already exists"));
        assert!(cas_refused("k", 9).contains("index 9"));
    }
}
