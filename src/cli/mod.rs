//! The command line: argument parsing (clap) and one file per subcommand. Each subcommand
//! parses, calls into the library, renders, and returns an exit code. Only this module knows
//! about terminals and exit codes.

mod apply;
pub mod design_args;
mod explain;
mod plan;
pub mod planfile;
mod progress;
mod render;
mod rules;
pub mod session;
mod status;
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
    /// More log output on stderr (-v: info, -vv: debug)
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    /// Log format
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    log_format: LogFormat,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum LogFormat {
    Text,
    Json,
}

fn init_logging(verbose: u8, format: LogFormat) {
    let level = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("DRYDOCK_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("drydock={level}")));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none())
        .with_target(false);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Check site designs: schemas and every semantic rule
    Validate(validate::Args),
    /// Print the rendered documents of a layered design (Deckhand layering and substitution)
    Render(render::Args),
    /// List the validation rules
    Rules(rules::Args),
    /// Explain a rule, with a failing and a fixed example
    Explain(explain::Args),
    /// Show what an apply would do to the site, and why
    Plan(plan::Args),
    /// Carry out a plan (or plan and carry it out), resuming where an earlier apply stopped
    Apply(apply::Args),
    /// Release nodes (power off, erase): plans DestroyNode for them and applies it
    Destroy(apply::DestroyArgs),
    /// Per node: provisioning state, last task, last error
    Status(status::StatusArgs),
    /// The task journal, with timings; with an ID, one task's steps
    Tasks(status::TasksArgs),
    /// Remove the site lock left by an apply (check that no apply is running first)
    ForceUnlock(status::UnlockArgs),
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
    // Like other Unix tools, end quietly when the reader of our output goes away
    // (`drydock tasks | head`) instead of failing to print.
    // SAFETY: called once at start-up, before any thread exists; restoring a default handler.
    #[cfg(unix)]
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
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
    init_logging(cli.verbose, cli.log_format);
    let code = match cli.command {
        Command::Validate(a) => validate::run(a),
        Command::Render(a) => render::run(a),
        Command::Rules(a) => rules::run(a),
        Command::Explain(a) => explain::run(a),
        Command::Plan(a) => plan::run(a),
        Command::Apply(a) => apply::run(a),
        Command::Destroy(a) => apply::destroy(a),
        Command::Status(a) => status::status(a),
        Command::Tasks(a) => status::tasks(a),
        Command::ForceUnlock(a) => status::force_unlock(a),
    };
    ExitCode::from(code)
}

/// Print an error that stops drydock from running, with what to do next; returns exit 2.
fn usage_error(what: impl std::fmt::Display, help: &str) -> u8 {
    eprintln!("error: {what}\n  help: {help}");
    exit::USAGE
}
