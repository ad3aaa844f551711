//! GitHub Actions workflow commands: `::error file=…,line=…,col=…::message`, one per finding,
//! so findings show as annotations on the pull request's diff.

use crate::report::Input;

/// Escape a command's message (GitHub's rules: `%`, CR and LF).
fn data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escape a property value (also `:` and `,`).
fn prop(s: &str) -> String {
    data(s).replace(':', "%3A").replace(',', "%2C")
}

pub fn render(input: &Input) -> String {
    let mut out = String::new();
    for f in input.findings {
        let cmd = match f.severity {
            crate::diag::Severity::Error => "error",
            crate::diag::Severity::Warning => "warning",
            crate::diag::Severity::Note => "notice",
        };
        let name = crate::validate::info(f.code).map_or("", |i| i.name);
        let mut props = Vec::new();
        if let Some(p) = input.position(f.loc) {
            props.push(format!("file={}", prop(&p.file)));
            props.push(format!("line={}", p.line));
            props.push(format!("col={}", p.column));
            if p.end_line == p.line {
                props.push(format!("endColumn={}", p.end_column));
            }
        }
        props.push(format!("title={}", prop(&format!("{} {name}", f.code))));
        let mut msg = f.message.clone();
        if let Some(h) = &f.help {
            msg.push_str("\nhelp: ");
            msg.push_str(h);
        }
        out.push_str(&format!("::{cmd} {}::{}\n", props.join(","), data(&msg)));
    }
    out.push_str(&input.summary());
    out.push('\n');
    out
}
