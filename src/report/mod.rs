//! Rendering validation results for people and for CI: human (miette), JSON (versioned),
//! SARIF 2.1.0, JUnit XML and GitHub workflow commands. Renderers take the findings and the
//! design they point into and return text; they decide nothing about exit codes.

pub mod github;
pub mod human;
pub mod json;
pub mod junit;
pub mod sarif;

use std::path::Path;

use crate::design::{Design, Document};
use crate::diag::Finding;
use crate::source::Loc;

pub use crate::diag::{list_names, plural};

/// What every renderer needs.
pub struct Input<'a> {
    pub design: &'a Design,
    pub findings: &'a [Finding],
    /// The rule codes that ran (for JUnit's one test case per rule).
    pub rules_run: &'a [&'static str],
    /// Warnings count as failures (`--deny-warnings`).
    pub deny_warnings: bool,
}

/// A resolved location: file path (as given on the command line), 1-based line and column of
/// the start and of the end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    pub file: String,
    pub line: u32,
    pub column: u32,
    pub end_line: u32,
    pub end_column: u32,
}

impl Input<'_> {
    pub fn position(&self, loc: Loc) -> Option<Position> {
        let f = self
            .design
            .sources
            .get(loc.file)
            .filter(|_| !loc.is_none())?;
        let (line, column) = f.line_col(loc.start);
        let (end_line, end_column) = f.line_col(loc.start + loc.len);
        Some(Position {
            file: display_path(&f.path),
            line,
            column,
            end_line,
            end_column,
        })
    }

    /// The documents a finding is about: the one its value is written in, and the documents
    /// of the nodes it affects.
    pub fn documents(&self, f: &Finding) -> Vec<&Document> {
        let mut docs: Vec<&Document> = self.design.document_at(f.loc).into_iter().collect();
        let mut seen: std::collections::HashSet<*const Document> =
            docs.iter().map(|d| *d as *const Document).collect();
        for n in &f.nodes {
            if let Some(d) = self.design.node_document(n)
                && seen.insert(d as *const Document)
            {
                docs.push(d);
            }
        }
        docs
    }

    /// Whether the finding's value is written outside the node it affects (inherited).
    pub fn inherited(&self, f: &Finding) -> bool {
        !f.nodes.is_empty()
            && self.design.document_at(f.loc).is_none_or(|d| {
                d.kind != crate::design::Kind::BaremetalNode
                    || f.nodes.len() > 1
                    || d.name.v != f.nodes[0]
            })
    }

    pub fn errors(&self) -> usize {
        self.findings.iter().filter(|f| f.is_error()).count()
    }

    pub fn warnings(&self) -> usize {
        self.findings.iter().filter(|f| f.is_warning()).count()
    }

    pub fn notes(&self) -> usize {
        self.findings.len() - self.errors() - self.warnings()
    }

    /// `3 errors, 1 warning in 2 files` (and the documents of other tools skipped).
    pub fn summary(&self) -> String {
        let files = self.design.sources.len();
        let mut s = format!(
            "{}, {} in {}",
            plural(self.errors(), "error"),
            plural(self.warnings(), "warning"),
            plural(files, "file")
        );
        if self.notes() > 0 {
            s = s.replacen(
                " in ",
                &format!(", {} in ", plural(self.notes(), "note")),
                1,
            );
        }
        s.push_str(&format!(
            " ({} checked",
            plural(self.design.documents.len(), "document")
        ));
        if self.design.foreign > 0 {
            s.push_str(&format!(", {} of other tools skipped", self.design.foreign));
        }
        s.push(')');
        s
    }
}

/// Paths are shown as given (relative stays relative), with `/` separators.
pub fn display_path(p: &Path) -> String {
    p.to_string_lossy().replace('\\', "/")
}
