//! Findings: what validation reports, each with a stable rule code, a severity, a location and
//! a hint. Rendering lives in `report`; this module only holds the data.

use serde::Serialize;

use crate::source::Loc;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    /// Informational: worth knowing, never a failure (`--deny-warnings` ignores notes).
    Note,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "note",
        }
    }
}

/// A secondary location a finding points at ("first assigned here").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Related {
    pub loc: Loc,
    pub message: String,
}

/// One problem found in a design.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// The rule's stable code, e.g. `DD2005`.
    pub code: &'static str,
    pub severity: Severity,
    /// What is wrong, lowercase, no trailing period.
    pub message: String,
    /// Where the offending value is written.
    pub loc: Loc,
    /// Text printed under the underlined value.
    pub label: Option<String>,
    /// Other places that explain the finding.
    pub related: Vec<Related>,
    /// How to fix it.
    pub help: Option<String>,
    /// The nodes the finding affects, when the value is written in a profile they inherit.
    pub nodes: Vec<String>,
}

impl Finding {
    pub fn new(
        code: &'static str,
        severity: Severity,
        loc: Loc,
        message: impl Into<String>,
    ) -> Finding {
        Finding {
            code,
            severity,
            message: message.into(),
            loc,
            label: None,
            related: Vec::new(),
            help: None,
            nodes: Vec::new(),
        }
    }

    pub fn error(code: &'static str, loc: Loc, message: impl Into<String>) -> Finding {
        Finding::new(code, Severity::Error, loc, message)
    }

    pub fn warning(code: &'static str, loc: Loc, message: impl Into<String>) -> Finding {
        Finding::new(code, Severity::Warning, loc, message)
    }

    pub fn help(mut self, help: impl Into<String>) -> Finding {
        self.help = Some(help.into());
        self
    }

    pub fn label(mut self, label: impl Into<String>) -> Finding {
        self.label = Some(label.into());
        self
    }

    pub fn related(mut self, loc: Loc, message: impl Into<String>) -> Finding {
        self.related.push(Related {
            loc,
            message: message.into(),
        });
        self
    }

    pub fn node(mut self, node: &str) -> Finding {
        self.nodes.push(node.to_string());
        self
    }

    pub fn note(code: &'static str, loc: Loc, message: impl Into<String>) -> Finding {
        Finding::new(code, Severity::Note, loc, message)
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    pub fn is_warning(&self) -> bool {
        self.severity == Severity::Warning
    }
}

/// Merge findings that differ only in the node they affect (one value written in a profile,
/// inherited by many nodes, is one finding naming every node), then sort by location.
pub fn consolidate(mut findings: Vec<Finding>) -> Vec<Finding> {
    use std::collections::HashMap;
    let mut index: HashMap<(&'static str, Loc, String, Severity), usize> = HashMap::new();
    let mut out: Vec<Finding> = Vec::with_capacity(findings.len());
    for f in findings.drain(..) {
        let key = (f.code, f.loc, f.message.clone(), f.severity);
        match index.get(&key) {
            Some(&i) => {
                let nodes = f.nodes;
                out[i].nodes.extend(nodes);
            }
            None => {
                index.insert(key, out.len());
                out.push(f);
            }
        }
    }
    for f in &mut out {
        f.nodes.sort();
        f.nodes.dedup();
    }
    out.sort_by(|a, b| {
        (a.loc.is_none(), a.loc.file, a.loc.start, a.code).cmp(&(
            b.loc.is_none(),
            b.loc.file,
            b.loc.start,
            b.code,
        ))
    });
    out
}

/// `1 error`, `3 errors`.
pub fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// `a, b, c and 4 more`.
pub fn list_names(names: &[String], max: usize) -> String {
    let shown: Vec<&str> = names.iter().take(max).map(String::as_str).collect();
    let mut s = shown.join(", ");
    if names.len() > max {
        s.push_str(&format!(" and {} more", names.len() - max));
    }
    s
}
