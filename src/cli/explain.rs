//! `drydock explain CODE`: a rule's explanation, a failing example and the fixed one.

use crate::cli::{CliError, CliResult};
use crate::validate;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Rule code (DD2005) or name (duplicate-ips)
    code: String,
}

pub fn run(a: Args) -> CliResult {
    let Some(r) = validate::all_rules().iter().find(|r| {
        let i = r.info();
        i.code.eq_ignore_ascii_case(&a.code) || i.name.eq_ignore_ascii_case(&a.code)
    }) else {
        return Err(CliError::new(
            format!("unknown rule `{}`", a.code),
            "`drydock rules` lists the rule codes",
        ));
    };
    out!("{}", text(r.info()));
    Ok(crate::cli::exit::OK)
}

pub fn text(i: &validate::RuleInfo) -> String {
    let indent = |s: &str| s.lines().map(|l| format!("    {l}\n")).collect::<String>();
    format!(
        "{} {} ({})\n\n{}\n\n{}\n\nFails:\n\n{}\nPasses:\n\n{}",
        i.code,
        i.name,
        i.severity.as_str(),
        i.summary,
        i.explanation.trim_end(),
        indent(i.bad),
        indent(i.good)
    )
}
