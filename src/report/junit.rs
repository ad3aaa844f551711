//! JUnit XML output: one test suite, one test case per rule that ran. A rule with error
//! findings (or warnings, under `--deny-warnings`) fails, listing each finding with its
//! location; warnings otherwise go to the case's `system-out`.

use crate::report::Input;

fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            // Characters XML 1.0 cannot carry at all.
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\r' | '\t') => o.push('\u{FFFD}'),
            c => o.push(c),
        }
    }
    o
}

pub fn render(input: &Input) -> String {
    let mut cases = String::new();
    let mut failures = 0;
    for &code in input.rules_run {
        let name = crate::validate::info(code).map_or("", |i| i.name);
        let mine: Vec<_> = input.findings.iter().filter(|f| f.code == code).collect();
        let failing: Vec<_> = mine
            .iter()
            .filter(|f| f.is_error() || (input.deny_warnings && f.is_warning()))
            .collect();
        let line = |f: &crate::diag::Finding| {
            let at = input.position(f.loc).map_or(String::new(), |p| {
                format!("{}:{}:{}: ", p.file, p.line, p.column)
            });
            format!("{at}{}: {}", f.severity.as_str(), f.message)
        };
        cases.push_str(&format!(
            "    <testcase classname=\"drydock.rules\" name=\"{code} {name}\">\n"
        ));
        if !failing.is_empty() {
            failures += 1;
            let text: Vec<String> = failing.iter().map(|f| line(f)).collect();
            cases.push_str(&format!(
                "      <failure message=\"{}\" type=\"{code}\">{}</failure>\n",
                esc(&format!("{} finding(s) of {code} {name}", failing.len())),
                esc(&text.join("\n"))
            ));
        }
        let rest: Vec<String> = mine
            .iter()
            .filter(|f| !(f.is_error() || (input.deny_warnings && f.is_warning())))
            .map(|f| line(f))
            .collect();
        if !rest.is_empty() {
            cases.push_str(&format!(
                "      <system-out>{}</system-out>\n",
                esc(&rest.join("\n"))
            ));
        }
        cases.push_str("    </testcase>\n");
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"drydock\" tests=\"{n}\" failures=\"{failures}\">\n  <testsuite name=\"drydock validate\" tests=\"{n}\" failures=\"{failures}\" errors=\"0\" skipped=\"0\">\n{cases}  </testsuite>\n</testsuites>\n",
        n = input.rules_run.len()
    )
}
