//! The command line: argument parsing (clap) and one file per subcommand. Each subcommand
//! parses, calls into the library, renders, and returns an exit code. Only this module knows
//! about terminals and exit codes.

mod explain;
mod rules;
mod validate;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Exit codes shared by every subcommand.
pub mod exit {
    /// Success: no errors.
    pub const OK: u8 = 0;
    /// The design has errors.
    pub const FINDINGS: u8 = 1;
    /// drydock could not run: bad arguments, unreadable path.
    pub const USAGE: u8 = 2;
}

#[derive(Parser, Debug)]
#[command(
    name = "drydock",
    version,
    about = "Bare-metal sites from YAML design to deployed machines: validate, plan, apply"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Check site designs: schemas and every semantic rule
    Validate(validate::Args),
    /// List the validation rules
    Rules(rules::Args),
    /// Explain a rule, with a failing and a fixed example
    Explain(explain::Args),
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ColorChoice {
    #[default]
    Auto,
    Always,
    Never,
}

impl ColorChoice {
    fn enabled(self) -> bool {
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
            }
        }
    }
}

/// Run the command line; the binary's `main` is only this.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            });
        }
    };
    let code = match cli.command {
        Command::Validate(a) => validate::run(a),
        Command::Rules(a) => rules::run(a),
        Command::Explain(a) => explain::run(a),
    };
    ExitCode::from(code)
}

/// Print an error that stops drydock from running, with what to do next; returns exit 2.
fn usage_error(what: impl std::fmt::Display, help: &str) -> u8 {
    eprintln!("error: {what}\n  help: {help}");
    exit::USAGE
}
