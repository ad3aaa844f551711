//! `drydock validate PATH...`: load, validate, render, exit 0 / 1 / 2.

use std::io::Write;
use std::path::PathBuf;

use crate::cli::design_args::{self, DesignArgs};
use crate::cli::{CliError, CliResult, ColorChoice, exit};
use crate::report;
use crate::validate::{self, Catalog, Options};

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Format {
    /// Diagnostics with source snippets, for people
    #[default]
    Human,
    /// Versioned JSON (see README, "JSON output")
    Json,
    /// SARIF 2.1.0, for code-scanning uploads
    Sarif,
    /// JUnit XML, one test case per rule
    Junit,
    /// GitHub Actions workflow commands (annotations)
    Github,
}

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Design files or directories (read recursively: *.yaml, *.yml)
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
    /// Exit 1 on warnings too
    #[arg(long)]
    deny_warnings: bool,
    /// Run only this rule (repeatable)
    #[arg(long = "rule", value_name = "CODE")]
    rules: Vec<String>,
    /// Do not run this rule (repeatable), e.g. while migrating to a new rule
    #[arg(long = "skip", value_name = "CODE")]
    skip: Vec<String>,
    /// Print only errors (human format)
    #[arg(long, short)]
    quiet: bool,
    /// Colour in human output
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    color: ColorChoice,
    #[command(flatten)]
    design: DesignArgs,
    /// Check images and kernels (DD3001) against this provisioner's catalogue (a MAAS's
    /// imported boot resources with --provisioner maas)
    #[command(flatten)]
    provisioner: crate::cli::session::ProvisionerArgs,
}

pub fn run(a: Args) -> CliResult {
    for code in a.rules.iter().chain(&a.skip) {
        if validate::rule(code).is_none() {
            return Err(CliError::new(
                format!("unknown rule `{code}`"),
                "`drydock rules` lists the rule codes",
            ));
        }
    }
    let design = design_args::load(&a.paths, &a.design.options())?;
    let options = Options {
        only: a.rules.clone(),
        skip: a.skip.clone(),
        catalog: Some(match a.provisioner.kind() {
            crate::cli::session::ProvisionerKind::Sim => Catalog::simulator(),
            _ => a.provisioner.catalog()?,
        }),
    };
    let result = validate::validate(&design, &options);
    let rules_run: Vec<&'static str> = validate::all_rules()
        .iter()
        .map(|r| r.info().code)
        .filter(|c| {
            (a.rules.is_empty() || a.rules.iter().any(|r| r.eq_ignore_ascii_case(c)))
                && !a.skip.iter().any(|s| s.eq_ignore_ascii_case(c))
        })
        .collect();
    let shown: Vec<_> = if a.quiet && a.format == Format::Human {
        result
            .findings
            .iter()
            .filter(|f| f.is_error())
            .cloned()
            .collect()
    } else {
        result.findings.clone()
    };
    let input = report::Input {
        design: &design,
        findings: &shown,
        rules_run: &rules_run,
        deny_warnings: a.deny_warnings,
    };
    let text = match a.format {
        Format::Human => {
            let color = a.color.enabled();
            let width = terminal_width();
            let mut t = report::human::render(
                &input,
                &report::human::Style {
                    color,
                    unicode: color,
                    width,
                },
            );
            if a.quiet && result.errors() == 0 {
                t.clear();
            }
            t
        }
        // The two formats that get big are written as they are made.
        Format::Json | Format::Sarif => {
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            let _ = match a.format {
                Format::Json => report::json::render_to(&input, &mut out),
                _ => report::sarif::render_to(&input, &mut out),
            };
            let _ = out.flush();
            String::new()
        }
        Format::Junit => report::junit::render(&input),
        Format::Github => report::github::render(&input),
    };
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
    let failed = result.errors() > 0 || (a.deny_warnings && result.warnings() > 0);
    // The process ends here: freeing a 10,000-node design's trees one by one costs more than
    // a tenth of the run, and the OS reclaims it all at once anyway.
    std::mem::forget(result);
    std::mem::forget(design);
    Ok(if failed { exit::ERROR } else { exit::OK })
}

fn terminal_width() -> usize {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(100)
}
