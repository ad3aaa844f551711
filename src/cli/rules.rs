//! `drydock rules`: the rule table.

use crate::validate;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Print the table as Markdown (as in README.md)
    #[arg(long)]
    markdown: bool,
}

pub fn run(a: Args) -> crate::cli::CliResult {
    out!("{}", table(a.markdown));
    Ok(crate::cli::exit::OK)
}

pub fn table(markdown: bool) -> String {
    let mut s = String::new();
    if markdown {
        s.push_str("| code | name | severity | checks |\n|---|---|---|---|\n");
    }
    for r in validate::all_rules() {
        let i = r.info();
        if markdown {
            s.push_str(&format!(
                "| {} | {} | {} | {} |\n",
                i.code,
                i.name,
                i.severity.as_str(),
                i.summary
            ));
        } else {
            s.push_str(&format!(
                "{:<7} {:<21} {:<8} {}\n",
                i.code,
                i.name,
                i.severity.as_str(),
                i.summary
            ));
        }
    }
    s
}
