//! SARIF 2.1.0 output, for GitHub code scanning and other SARIF consumers: one run, the rules
//! in `tool.driver.rules`, one result per finding with its physical location and related
//! locations. Results are serialized one by one as they are written: a SARIF tree of 100,000
//! findings took gigabytes.

use serde::Serialize;
use serde_json::{Value, json};

use crate::diag::{Finding, Severity};
use crate::report::{Input, Position};

#[derive(Serialize)]
struct Log<'a> {
    #[serde(rename = "$schema")]
    schema: &'static str,
    version: &'static str,
    runs: [Run<'a>; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Run<'a> {
    tool: Value,
    column_kind: &'static str,
    results: Results<'a>,
}

struct Results<'a>(&'a Input<'a>);

impl Serialize for Results<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let input = self.0;
        s.collect_seq(input.findings.iter().map(|f| result(input, f)))
    }
}

fn rule_index(code: &str) -> Option<usize> {
    crate::validate::all_rules()
        .iter()
        .position(|r| r.info().code == code)
}

fn result(input: &Input, f: &Finding) -> Value {
    let mut text = f.message.clone();
    if let Some(h) = &f.help {
        text.push_str("\nhelp: ");
        text.push_str(h);
    }
    let mut r = json!({
        "ruleId": f.code,
        "level": level(f.severity),
        "message": {"text": text},
        "locations": input.position(f.loc).map(|p| vec![location(&p, None)]).unwrap_or_default(),
    });
    if let Some(i) = rule_index(f.code) {
        r["ruleIndex"] = json!(i);
    }
    let related: Vec<Value> = f
        .related
        .iter()
        .enumerate()
        .filter_map(|(n, rel)| {
            input
                .position(rel.loc)
                .map(|p| location(&p, Some((n, &rel.message))))
        })
        .collect();
    if !related.is_empty() {
        r["relatedLocations"] = json!(related);
    }
    if !f.nodes.is_empty() {
        r["properties"] = json!({"nodes": f.nodes});
    }
    r
}

/// Write the SARIF log to `w`.
pub fn render_to(input: &Input, w: &mut dyn std::io::Write) -> std::io::Result<()> {
    let rules: Vec<Value> = crate::validate::all_rules()
        .iter()
        .map(|r| {
            let i = r.info();
            json!({
                "id": i.code,
                "name": i.name,
                "shortDescription": {"text": i.summary},
                "fullDescription": {"text": i.explanation},
                "help": {"text": format!("{}\n\nRun `drydock explain {}` for examples.", i.explanation, i.code)},
                "defaultConfiguration": {"level": level(i.severity)},
            })
        })
        .collect();
    let log = Log {
        schema: "https://json.schemastore.org/sarif-2.1.0.json",
        version: "2.1.0",
        runs: [Run {
            // No `informationUri`: it is optional, and drydock has no public home page to
            // name; each rule's `help` says to run `drydock explain CODE`.
            tool: json!({"driver": {
                "name": "drydock",
                "semanticVersion": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }}),
            column_kind: "unicodeCodePoints",
            results: Results(input),
        }],
    };
    serde_json::to_writer_pretty(&mut *w, &log).map_err(std::io::Error::other)?;
    w.write_all(b"\n")
}

pub fn render(input: &Input) -> String {
    let mut out = Vec::new();
    render_to(input, &mut out).expect("writing to memory");
    String::from_utf8(out).expect("JSON is UTF-8")
}

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Note => "note",
    }
}

fn location(p: &Position, related: Option<(usize, &str)>) -> Value {
    let mut l = json!({
        "physicalLocation": {
            "artifactLocation": {"uri": p.file},
            "region": {
                "startLine": p.line,
                "startColumn": p.column,
                "endLine": p.end_line,
                "endColumn": p.end_column,
            },
        },
    });
    if let Some((id, msg)) = related {
        l["id"] = json!(id);
        l["message"] = json!({"text": msg});
    }
    l
}
