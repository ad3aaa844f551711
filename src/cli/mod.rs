//! The command line: argument parsing (clap) and one file per subcommand. Each subcommand
//! parses, calls into the library, renders, and returns an exit code. Only this module knows
//! about terminals and exit codes.

mod explain;
mod plan;
pub mod planfile;
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
    /// Show what an apply would do to the site, and why
    Plan(plan::Args),
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
        Command::Plan(a) => plan::run(a),
    };
    ExitCode::from(code)
}

/// Print an error that stops drydock from running, with what to do next; returns exit 2.
fn usage_error(what: impl std::fmt::Display, help: &str) -> u8 {
    eprintln!("error: {what}\n  help: {help}");
    exit::USAGE
}

/// A plan made from the command line's design and state directory.
pub struct Planned {
    pub paths: Vec<std::path::PathBuf>,
    pub state_dir: std::path::PathBuf,
    pub design: crate::design::Design,
    pub site: crate::validate::Valid<crate::model::Site>,
    pub plan: crate::plan::Plan,
}

/// The default state directory of a site: `.drydock/<site>` in the current directory.
pub fn default_state_dir(site: &str) -> std::path::PathBuf {
    let safe: String = site
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    std::path::Path::new(".drydock").join(if safe.is_empty() { "site".into() } else { safe })
}

/// Load and validate the design (printing its diagnostics and returning exit 1 if it has
/// errors), observe the site, and plan. Shared by `plan` and `apply`.
pub fn prepare_plan(
    paths: &[std::path::PathBuf],
    state: Option<&std::path::Path>,
    targets: &[String],
    target_mode: plan::TargetMode,
    destroy_removed: bool,
    color: ColorChoice,
) -> Result<Planned, u8> {
    let target = plan::target_filter(targets, target_mode)
        .map_err(|e| usage_error(e, "see `drydock plan --help` for target forms"))?;
    let design = crate::design::load(paths)
        .map_err(|e| usage_error(e, "give the path of a design file or directory"))?;
    if design.sources.is_empty() {
        return Err(usage_error(
            "no design files (*.yaml, *.yml) found",
            "point drydock at the directory that holds the site's YAML documents",
        ));
    }
    let options = crate::validate::Options {
        catalog: Some(crate::driver::sim::Simulator::catalog()),
        ..Default::default()
    };
    let report = crate::validate::validate(&design, &options);
    let errors = report.errors();
    let findings = report.findings.clone();
    let site = match report.into_valid() {
        Ok(s) => s,
        Err(_) => {
            let input = crate::report::Input {
                design: &design,
                findings: &findings,
                rules_run: &[],
                deny_warnings: false,
            };
            let on = color.enabled();
            eprint!(
                "{}",
                crate::report::human::render(
                    &input,
                    &crate::report::human::Style {
                        color: on,
                        unicode: on,
                        width: 100
                    }
                )
            );
            eprintln!(
                "error: the design has {} — fix it before planning\n  help: `drydock validate` shows the same diagnostics",
                crate::report::plural(errors, "error")
            );
            return Err(exit::FINDINGS);
        }
    };
    let site_name = site
        .region()
        .map_or("site", |r| r.name.v.as_str())
        .to_string();
    let state_dir = state
        .map(std::path::Path::to_path_buf)
        .unwrap_or_else(|| default_state_dir(&site_name));
    let sim = crate::driver::sim::Simulator::new(&state_dir);
    let observed = crate::observe::gather(&site, &sim).map_err(|e| {
        eprintln!(
            "error: cannot observe the site: {e}\n  help: check the state directory {}",
            state_dir.display()
        );
        exit::FINDINGS
    })?;
    if let Some(f) = &target {
        let any = site.nodes.iter().any(|n| f.matches(&site, n));
        if !any {
            eprintln!("warning: --target selects no node of the design");
        }
    }
    let plan_options = crate::plan::Options {
        destroy_removed,
        target,
        target_args: targets.to_vec(),
        design_hash: design.content_hash(),
    };
    let plan = crate::plan::plan(&site, &observed, &plan_options);
    Ok(Planned {
        paths: paths.to_vec(),
        state_dir,
        design,
        site,
        plan,
    })
}
