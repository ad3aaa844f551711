//! What rendering did, kept for findings: every document read with its layer and parent, every
//! substitution with where its value came from and where it landed, and where secret-store
//! values are. `annotate` turns that into a finding's related locations ("written in layer
//! global", "inherited by … through its parentSelector", "substituted into …").

use crate::design::render::{Doc, Raw};
use crate::diag::Finding;
use crate::source::Loc;

/// One document as read.
#[derive(Clone, Debug)]
pub struct SourceDoc {
    pub schema: String,
    pub name: String,
    pub layer: Option<String>,
    /// The `layer:` value (the document itself when it has none).
    pub layer_loc: Loc,
    pub span: Loc,
    /// The document it layers on (the parent, or the parent's replacement).
    pub parent: Option<usize>,
    pub selector_loc: Loc,
    pub abstract_: bool,
    /// Whether it is one of the rendered (output) documents.
    pub output: bool,
}

/// A value copied by a substitution.
#[derive(Clone, Debug)]
pub struct Substituted {
    /// Where the value is written in the source document.
    pub value: Loc,
    /// The node it landed in (the value itself, or the string it was put into).
    pub written: Loc,
    pub dest_doc: usize,
    /// The `dest` entry of the substitution.
    pub entry: Loc,
    pub path: String,
    /// `schema `name`` of the source.
    pub source: String,
    pub secret: bool,
}

#[derive(Clone, Debug, Default)]
pub struct Provenance {
    /// Every document read, in input order (sorted by location).
    pub documents: Vec<SourceDoc>,
    children: Vec<Vec<usize>>,
    /// `(written, index)` of pattern substitutions, sorted.
    written: Vec<(Loc, usize)>,
    /// Sorted by `value`.
    pub substitutions: Vec<Substituted>,
    /// Sorted, merged: the data of secret-store documents, and strings a secret was put into.
    pub secret_spans: Vec<Loc>,
}

fn contains(outer: Loc, inner: Loc) -> bool {
    outer.file == inner.file
        && outer.start <= inner.start
        && inner.start + inner.len <= outer.start + outer.len.max(1)
}

impl Provenance {
    pub(super) fn record_documents(
        &mut self,
        raw: &[Raw],
        docs: &[Doc],
        parents: &[Option<usize>],
        replaced_by: &[Option<usize>],
    ) {
        self.documents = docs
            .iter()
            .zip(raw)
            .enumerate()
            .map(|(i, (d, r))| SourceDoc {
                schema: d.schema.clone(),
                name: d.name.clone(),
                layer: d.layer.clone(),
                layer_loc: d.layer_loc,
                span: r.span,
                parent: parents[i].filter(|_| !d.actions.is_empty()).map(|p| {
                    if d.replacement {
                        p
                    } else {
                        replaced_by[p].unwrap_or(p)
                    }
                }),
                selector_loc: d.selector_loc,
                abstract_: d.abstract_,
                output: !(d.dropped || d.abstract_ || replaced_by[i].is_some_and(|j| j != i)),
            })
            .collect();
        self.children = vec![Vec::new(); docs.len()];
        for (i, d) in self.documents.iter().enumerate() {
            if let Some(p) = d.parent
                && p != i
            {
                self.children[p].push(i);
            }
        }
        self.substitutions.sort_by_key(|s| s.value);
        self.written = self
            .substitutions
            .iter()
            .enumerate()
            .filter(|(_, x)| x.written != x.value)
            .map(|(i, x)| (x.written, i))
            .collect();
        self.written.sort();
        self.secret_spans.sort();
        self.secret_spans.dedup();
    }

    /// The document whose text holds `loc`.
    pub fn document_at(&self, loc: Loc) -> Option<usize> {
        if loc.is_none() {
            return None;
        }
        let i = self
            .documents
            .partition_point(|d| (d.span.file, d.span.start) <= (loc.file, loc.start));
        let i = i.checked_sub(1)?;
        contains(self.documents[i].span, loc).then_some(i)
    }

    /// Whether the value at `loc` came from the secret store (a Passphrase or another secret
    /// document, or a string a secret was substituted into).
    pub fn is_secret(&self, loc: Loc) -> bool {
        let i = self
            .secret_spans
            .partition_point(|s| (s.file, s.start) <= (loc.file, loc.start));
        // Spans can nest (a string inside a secret document's data): look back a little.
        self.secret_spans[..i]
            .iter()
            .rev()
            .take(8)
            .any(|s| contains(*s, loc) || *s == loc)
    }

    /// Add to a finding how its value arrived: the layer it is written in, the documents that
    /// inherit it through their parentSelector, the substitutions that copied it.
    pub fn annotate(&self, f: &mut Finding) {
        let Some(s) = self.document_at(f.loc) else {
            return;
        };
        let doc = &self.documents[s];
        if let Some(layer) = &doc.layer {
            let what = if doc.abstract_ { "abstract " } else { "" };
            f.related.push(crate::diag::Related {
                loc: doc.layer_loc,
                message: format!(
                    "written in layer `{layer}`, in {what}{} `{}`",
                    doc.schema, doc.name
                ),
            });
        }
        // Descendants, breadth first, a few of them.
        let mut queue: std::collections::VecDeque<usize> =
            self.children[s].iter().copied().collect();
        let mut shown = 0;
        let mut more = 0;
        while let Some(c) = queue.pop_front() {
            if shown < 3 {
                let d = &self.documents[c];
                let p = &self.documents[d.parent.unwrap_or(s)];
                f.related.push(crate::diag::Related {
                    loc: d.selector_loc,
                    message: format!(
                        "inherited by {} `{}`{} through its parentSelector (parent `{}`)",
                        d.schema,
                        d.name,
                        d.layer
                            .as_ref()
                            .map(|l| format!(" (layer {l})"))
                            .unwrap_or_default(),
                        p.name
                    ),
                });
                shown += 1;
            } else {
                more += 1;
            }
            queue.extend(self.children[c].iter().copied());
        }
        if more > 0
            && let Some(last) = f.related.last_mut()
        {
            last.message
                .push_str(&format!(" (and {more} more documents)"));
        }
        let i = self
            .substitutions
            .partition_point(|x| (x.value.file, x.value.start) <= (f.loc.file, f.loc.start));
        let mut subs: Vec<&Substituted> = self.substitutions[..i]
            .iter()
            .rev()
            .take(64)
            .filter(|x| contains(x.value, f.loc))
            .collect();
        // A finding on the destination string of a pattern substitution.
        let w = self.written.partition_point(|(l, _)| *l < f.loc);
        subs.extend(
            self.written[w..]
                .iter()
                .take_while(|(l, _)| *l == f.loc)
                .take(3)
                .map(|&(_, i)| &self.substitutions[i]),
        );
        for x in subs.into_iter().take(3) {
            let dest = &self.documents[x.dest_doc];
            f.related.push(crate::diag::Related {
                loc: x.entry,
                message: format!(
                    "substituted from {} into {} `{}` at {}",
                    x.source, dest.schema, dest.name, x.path
                ),
            });
        }
    }
}
