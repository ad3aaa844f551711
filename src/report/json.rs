//! JSON output, format version 1 (documented in README.md, "JSON output"). Additive changes
//! keep the version; a removed or renamed field bumps it. Findings are serialized one by one
//! as they are written, so the output is never held as a tree in memory.

use serde::Serialize;

use crate::report::{Input, Position};

pub const FORMAT_VERSION: u32 = 1;

#[derive(Serialize)]
struct Output<'a> {
    version: u32,
    tool: Tool,
    summary: Summary,
    findings: Findings<'a>,
}

/// The findings, turned into their JSON form only while being written.
struct Findings<'a>(&'a Input<'a>);

impl Serialize for Findings<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let input = self.0;
        s.collect_seq(input.findings.iter().map(|f| finding(input, f)))
    }
}

#[derive(Serialize)]
struct Tool {
    name: &'static str,
    version: &'static str,
}

#[derive(Serialize)]
struct Summary {
    errors: usize,
    warnings: usize,
    notes: usize,
    files: usize,
    documents: usize,
    skipped_documents: usize,
    passed: bool,
}

#[derive(Serialize)]
struct JsonFinding<'a> {
    code: &'static str,
    rule: &'static str,
    severity: &'static str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    help: Option<&'a str>,
    location: Option<JsonPosition>,
    documents: Vec<JsonDoc<'a>>,
    nodes: &'a [String],
    related: Vec<JsonRelated<'a>>,
}

#[derive(Serialize)]
struct JsonPosition {
    file: String,
    line: u32,
    column: u32,
    end_line: u32,
    end_column: u32,
}

impl From<Position> for JsonPosition {
    fn from(p: Position) -> Self {
        JsonPosition {
            file: p.file,
            line: p.line,
            column: p.column,
            end_line: p.end_line,
            end_column: p.end_column,
        }
    }
}

#[derive(Serialize)]
struct JsonDoc<'a> {
    kind: &'static str,
    name: &'a str,
}

#[derive(Serialize)]
struct JsonRelated<'a> {
    message: &'a str,
    location: Option<JsonPosition>,
}

fn finding<'a>(input: &'a Input, f: &'a crate::diag::Finding) -> JsonFinding<'a> {
    JsonFinding {
        code: f.code,
        rule: crate::validate::info(f.code).map_or("", |i| i.name),
        severity: f.severity.as_str(),
        message: &f.message,
        help: f.help.as_deref(),
        location: input.position(f.loc).map(Into::into),
        documents: input
            .documents(f)
            .into_iter()
            .map(|d| JsonDoc {
                kind: d.kind.as_str(),
                name: &d.name.v,
            })
            .collect(),
        nodes: &f.nodes,
        related: f
            .related
            .iter()
            .map(|r| JsonRelated {
                message: &r.message,
                location: input.position(r.loc).map(Into::into),
            })
            .collect(),
    }
}

/// Write the JSON document to `w`.
pub fn render_to(input: &Input, w: &mut dyn std::io::Write) -> std::io::Result<()> {
    let out = Output {
        version: FORMAT_VERSION,
        tool: Tool {
            name: "drydock",
            version: env!("CARGO_PKG_VERSION"),
        },
        summary: Summary {
            errors: input.errors(),
            warnings: input.warnings(),
            notes: input.notes(),
            files: input.design.sources.len(),
            documents: input.design.documents.len(),
            skipped_documents: input.design.foreign,
            passed: input.errors() == 0 && !(input.deny_warnings && input.warnings() > 0),
        },
        findings: Findings(input),
    };
    serde_json::to_writer_pretty(&mut *w, &out).map_err(std::io::Error::other)?;
    w.write_all(b"\n")
}

pub fn render(input: &Input) -> String {
    let mut out = Vec::new();
    render_to(input, &mut out).expect("writing to memory");
    String::from_utf8(out).expect("JSON is UTF-8")
}
