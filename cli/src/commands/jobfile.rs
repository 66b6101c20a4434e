//! Flags shared by every command that reads job files (`--var`, `--var-file`).

use std::path::PathBuf;

use drover_api_types::jobspec::ParseOptions;

#[derive(Debug, Clone, clap::Args)]
pub struct VarArgs {
    /// Set an HCL variable: --var name=value (repeatable; later wins).
    #[arg(long = "var", value_name = "NAME=VALUE", value_parser = parse_var)]
    pub vars: Vec<(String, String)>,
    /// Read HCL variables from a file (HCL `name = value` or JSON; repeatable).
    #[arg(long = "var-file", value_name = "FILE")]
    pub var_files: Vec<PathBuf>,
}

impl VarArgs {
    /// Flags first, then files, then `NOMAD_VAR_*` from the environment.
    pub fn parse_options(&self) -> ParseOptions {
        ParseOptions {
            vars: self.vars.clone(),
            var_files: self.var_files.clone(),
            ..ParseOptions::default()
        }
        .with_env_vars()
    }
}

fn parse_var(raw: &str) -> Result<(String, String), String> {
    match raw.split_once('=') {
        Some((name, value)) if !name.trim().is_empty() => {
            Ok((name.trim().to_string(), value.to_string()))
        }
        _ => Err(format!("expected NAME=VALUE, got {raw:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn var_flag_splits_on_the_first_equals() {
        assert_eq!(
            parse_var("image=nginx:1=2"),
            Ok(("image".into(), "nginx:1=2".into()))
        );
        assert!(parse_var("novalue").is_err());
        assert!(parse_var("=x").is_err());
    }
}
