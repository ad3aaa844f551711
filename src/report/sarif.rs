//! SARIF 2.1.0 output, for GitHub code scanning and other SARIF consumers: one run, the rules
//! in `tool.driver.rules`, one result per finding with its physical location.

use serde_json::{Value, json};

use crate::diag::Severity;
use crate::report::Input;

pub fn render(input: &Input) -> String {
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
    let index = |code: &str| {
        crate::validate::all_rules()
            .iter()
            .position(|r| r.info().code == code)
    };
    let results: Vec<Value> = input
        .findings
        .iter()
        .map(|f| {
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
            if let Some(i) = index(f.code) {
                r["ruleIndex"] = json!(i);
            }
            let related: Vec<Value> = f
                .related
                .iter()
                .enumerate()
                .filter_map(|(n, rel)| input.position(rel.loc).map(|p| location(&p, Some((n, &rel.message)))))
                .collect();
            if !related.is_empty() {
                r["relatedLocations"] = json!(related);
            }
            if !f.nodes.is_empty() {
                r["properties"] = json!({"nodes": f.nodes});
            }
            r
        })
        .collect();
    let doc = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "drydock",
                "semanticVersion": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://example.invalid/drydock",
                "rules": rules,
            }},
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    });
    let mut s = serde_json::to_string_pretty(&doc).expect("plain data serializes");
    s.push('\n');
    s
}

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Note => "note",
    }
}

fn location(p: &crate::report::Position, related: Option<(usize, &str)>) -> Value {
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
