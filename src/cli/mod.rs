//! The command line: argument parsing (clap) and one file per subcommand. Each subcommand
//! parses, calls into the library, renders, and returns an exit code. Only this module knows
//! about terminals and exit codes.

/// Print to standard output, ignoring a reader that went away (`drydock tasks | head`): the
/// command goes on and ends normally. drydock keeps SIGPIPE ignored (Rust's default), because a
/// BMC or provisioner that closes its socket must not kill an apply.
macro_rules! out {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout().lock(), $($t)*);
    }};
}

/// `out!` with a newline.
macro_rules! outln {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($t)*);
    }};
}

/// `outln!` for lines that carry text from design files or peers: terminal control
/// characters in it are escaped (`source::printable`).
macro_rules! outln_clean {
    ($($t:tt)*) => {{
        let line = format!($($t)*);
        outln!("{}", $crate::source::printable(&line));
    }};
}

mod apply;
pub mod boot_service;
pub mod design_args;
pub mod error;
mod explain;
mod plan;
pub mod planfile;
mod progress;
mod pxe_config;
mod render;
mod rules;
mod serve;
pub mod session;
mod signals;
mod state;
mod status;
mod token;
mod validate;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub use error::{CliError, CliResult};

/// Exit codes shared by every subcommand (Terraform's contract: an error is never 2).
pub mod exit {
    /// Success: no errors (for `plan --detailed-exitcode`: and no changes).
    pub const OK: u8 = 0;
    /// Any error: findings in the design, a failed apply, bad arguments, an unreadable path
    /// or state.
    pub const ERROR: u8 = 1;
    /// `plan --detailed-exitcode`: the plan has changes.
    pub const CHANGES: u8 = 2;
    /// The apply was cancelled by Ctrl-C (SIGINT); SIGTERM gives 143 and SIGHUP 129 (128 + the
    /// signal's number).
    pub const CANCELLED: u8 = 130;
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
    #[command(
        after_help = "Exit codes: 0 no errors (warnings allowed unless --deny-warnings); 1 errors found, or drydock could not run (bad arguments, a path that does not exist, no design files)."
    )]
    Validate(validate::Args),
    /// Print the rendered documents of a layered design (Deckhand layering and substitution)
    #[command(
        after_help = "Exit codes: 0 rendered; 1 rendering or loading errors, or bad arguments."
    )]
    Render(render::Args),
    /// List the validation rules
    #[command(after_help = "Exit codes: 0; 1 on bad arguments.")]
    Rules(rules::Args),
    /// Explain a rule, with a failing and a fixed example
    #[command(after_help = "Exit codes: 0; 1 for an unknown rule or bad arguments.")]
    Explain(explain::Args),
    /// Show what an apply would do to the site, and why
    #[command(
        after_help = "Exit codes: 0 success (with --detailed-exitcode: and nothing to do); 2 only with --detailed-exitcode: the plan has changes; 1 any error (a mistyped path or flag, an invalid design, an unreadable or damaged state)."
    )]
    Plan(plan::Args),
    /// Carry out a plan (or plan and carry it out), resuming where an earlier apply stopped
    #[command(
        after_help = "Exit codes: 0 every node done (or nothing to do); 1 some node failed, or any error; 130 cancelled by Ctrl-C (SIGINT), 143 by SIGTERM, 129 by SIGHUP."
    )]
    Apply(apply::Args),
    /// Release nodes (power off, erase): plans DestroyNode for them and applies it
    #[command(
        after_help = "Exit codes: as apply: 0 done; 1 failed or any error; 130/143/129 cancelled by SIGINT/SIGTERM/SIGHUP."
    )]
    Destroy(apply::DestroyArgs),
    /// Per node: provisioning state, last task, last error
    #[command(
        after_help = "Exit codes: 0; 1 on any error (no state at that path, a damaged state, an invalid design)."
    )]
    Status(status::StatusArgs),
    /// The task journal, with timings; with --task ID, one task's steps
    #[command(
        after_help = "Exit codes: 0; 1 on any error (no state at that path, a damaged state, no or several tasks matching --task)."
    )]
    Tasks(status::TasksArgs),
    /// Remove the site lock left by an apply whose process is gone (refused while it runs)
    #[command(
        after_help = "Exit codes: 0 removed (or there was none); 1 the holder is alive on this host (use --force only if you know it is wedged), or any error."
    )]
    ForceUnlock(status::UnlockArgs),
    /// Check, back up or rebuild the state directory
    #[command(subcommand)]
    State(state::StateCommand),
    /// Run the operator API and dashboard (--tokens), the PXE boot service (--boot-config),
    /// or both, until stopped
    #[command(
        after_help = "Exit codes: 0 stopped by SIGINT or SIGTERM (a running task is left for the next start or leader; SIGHUP reloads the boot service's design); 1 could not start (bad settings, a held lock, an unreachable database, the address in use, the boot service already running)."
    )]
    Serve(serve::Args),
    /// Print the dnsmasq (or conman) configuration the PXE provisioner runs for a design
    #[command(
        after_help = "Exit codes: 0 printed; 1 an invalid design or boot config, or bad arguments."
    )]
    PxeConfig(pxe_config::Args),
    /// Make an API token for `serve --tokens` (prints the token, and the line for the file)
    #[command(after_help = "Exit codes: 0; 1 on a bad name.")]
    Token(token::Args),
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
                exit::ERROR
            } else {
                exit::OK
            });
        }
    };
    init_logging(cli.verbose, cli.log_format);
    let result = match cli.command {
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
        Command::State(c) => state::run(c),
        Command::Serve(a) => serve::run(a),
        Command::PxeConfig(a) => pxe_config::run(a),
        Command::Token(a) => token::run(a),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprint!("{}", e.render());
            ExitCode::from(e.code)
        }
    }
}
