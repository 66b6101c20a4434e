//! `drover completion bash|zsh|fish`: a completion script on stdout.

use std::process::ExitCode;

use clap::CommandFactory as _;
use clap_complete::Shell;

#[derive(Debug, clap::Args)]
#[command(after_help = "Load it in the current shell:\n  \
    bash: source <(drover completion bash)\n  \
    zsh:  source <(drover completion zsh)\n  \
    fish: drover completion fish | source")]
pub struct Args {
    /// The shell.
    #[arg(value_enum)]
    pub shell: Shell,
}

pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let mut command = super::Cli::command();
    clap_complete::generate(args.shell, &mut command, "drover", &mut std::io::stdout());
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    use super::*;

    #[test]
    fn scripts_name_the_user_commands() {
        for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut super::super::Cli::command(), "drover", &mut out);
            let text = String::from_utf8(out).expect("utf-8");
            for word in ["get", "describe", "delete", "completion"] {
                assert!(text.contains(word), "{shell}: no {word}");
            }
        }
    }
}
