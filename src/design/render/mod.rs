//! Deckhand rendering: layered documents (global → type → site) and substitutions turned into
//! the concrete documents that get deployed, as Airship's Deckhand engine does it (the rules
//! are in `docs/format.md`, "Layered repositories").
//!
//! Every value keeps the location where it was written: a value inherited from the global
//! layer points into the global file, a substituted value into its source document. What
//! rendering did (parents, substitutions, secret sources) is kept in [`Provenance`] so that a
//! finding can say how a value arrived. Rendering problems are findings (DD005–DD009). This
//! module reads no file and knows no drydock kind: it works on YAML trees of any schema.

pub mod emit;
mod layering;
pub mod path;
mod provenance;
mod substitution;

use std::collections::HashMap;

use crate::design::yaml::{Node, Value};
use crate::diag::{Finding, Severity};
use crate::source::Loc;

pub use provenance::Provenance;

/// The layering policy's schema.
pub const LAYERING_POLICY: &str = "deckhand/LayeringPolicy/v1";

/// Schemas whose data is a secret from the secret store.
pub const SECRET_SCHEMAS: [&str; 4] = [
    "deckhand/Passphrase/v1",
    "deckhand/PrivateKey/v1",
    "deckhand/CertificateKey/v1",
    "deckhand/CertificateAuthorityKey/v1",
];

/// How strictly to render.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    /// A substitution whose source is missing is skipped, with a warning (Pegleg's default).
    #[default]
    Lenient,
    /// A missing substitution source is an error.
    Strict,
}

/// One YAML document as read, with the span of its text.
#[derive(Clone, Debug)]
pub struct Raw {
    pub root: Node,
    pub span: Loc,
}

/// What rendering produced.
#[derive(Debug, Default)]
pub struct Output {
    /// The concrete documents (neither abstract nor replaced), in input order, each with the
    /// span of the document it was rendered from.
    pub docs: Vec<Raw>,
    pub findings: Vec<Finding>,
    pub provenance: Provenance,
}

/// Whether a set of documents needs rendering: it holds a LayeringPolicy, or a document with
/// a `layeringDefinition` or `substitutions`. A plain design renders to itself.
pub fn needed(docs: &[Raw]) -> bool {
    docs.iter().any(|d| {
        d.root.get("schema").and_then(Node::as_str) == Some(LAYERING_POLICY)
            || d.root.get("metadata").is_some_and(|m| {
                m.get("layeringDefinition").is_some() || m.get("substitutions").is_some()
            })
    })
}

/// Whether rendering could change anything: a LayeringPolicy, or a document with a parent
/// selector, actions, substitutions, `abstract` or `replacement`. A design that needs
/// rendering but has none of these (rendered output, which keeps each document's layer)
/// renders to itself, and is not rendered at all.
pub fn changes_anything(docs: &[Raw]) -> bool {
    docs.iter().any(|d| {
        d.root.get("schema").and_then(Node::as_str) == Some(LAYERING_POLICY)
            || d.root.get("metadata").is_some_and(|m| {
                m.get("substitutions").is_some()
                    || m.get("replacement").is_some()
                    || m.get("layeringDefinition").is_some_and(|l| {
                        l.get("parentSelector").is_some()
                            || l.get("actions").is_some()
                            || l.get("abstract").and_then(Node::as_bool) == Some(true)
                    })
            })
    })
}

/// A layering action of a document.
#[derive(Clone, Debug)]
struct Action {
    method: String,
    path: String,
    loc: Loc,
}

/// One destination of a substitution.
#[derive(Clone, Debug)]
struct Dest {
    path: String,
    pattern: Option<String>,
    /// `recurse.depth`: 0 is the target itself, -1 unlimited.
    recurse: Option<i64>,
    loc: Loc,
}

#[derive(Clone, Debug)]
struct Subst {
    schema: String,
    name: String,
    path: String,
    pattern: Option<String>,
    match_group: usize,
    dests: Vec<Dest>,
    loc: Loc,
}

/// A document's rendering metadata.
#[derive(Clone, Debug)]
struct Doc {
    schema: String,
    name: String,
    name_loc: Loc,
    layer: Option<String>,
    layer_loc: Loc,
    /// Index of the layer in the policy's order (0 is the top).
    rank: Option<usize>,
    abstract_: bool,
    replacement: bool,
    control: bool,
    encrypted: bool,
    labels: Vec<(String, String)>,
    selector: Vec<(String, String)>,
    selector_loc: Loc,
    actions: Vec<Action>,
    substitutions: Vec<Subst>,
    /// Dropped: a later duplicate of (schema, layer, name).
    dropped: bool,
}

fn text(n: Option<&Node>) -> Option<String> {
    n.and_then(Node::scalar_text)
}

fn pairs(n: Option<&Node>) -> Vec<(String, String)> {
    n.and_then(Node::as_map)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.name.clone(), v.scalar_text().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default()
}

fn finding(code: &'static str, severity: Severity, loc: Loc, msg: String, help: &str) -> Finding {
    Finding::new(code, severity, loc, msg).help(help)
}

/// A document's description for messages: `drydock/HostProfile/v1 cp-global (layer global)`.
fn describe(d: &Doc) -> String {
    match &d.layer {
        Some(l) => format!("{} `{}` (layer {l})", d.schema, d.name),
        None => format!("{} `{}`", d.schema, d.name),
    }
}

impl Doc {
    fn read(root: &Node, out: &mut Vec<Finding>) -> Doc {
        let meta = root.get("metadata");
        let ld = meta.and_then(|m| m.get("layeringDefinition"));
        let name_node = meta.and_then(|m| m.get("name"));
        let mut d = Doc {
            schema: text(root.get("schema")).unwrap_or_default(),
            name: text(name_node).unwrap_or_default(),
            name_loc: name_node.map_or(root.loc, |n| n.loc),
            layer: text(ld.and_then(|l| l.get("layer"))),
            layer_loc: ld.and_then(|l| l.get("layer")).map_or(root.loc, |n| n.loc),
            rank: None,
            abstract_: ld.and_then(|l| l.get("abstract")).and_then(Node::as_bool) == Some(true),
            replacement: meta
                .and_then(|m| m.get("replacement"))
                .and_then(Node::as_bool)
                == Some(true),
            control: text(meta.and_then(|m| m.get("schema"))).as_deref()
                == Some("metadata/Control/v1"),
            encrypted: text(meta.and_then(|m| m.get("storagePolicy"))).as_deref()
                == Some("encrypted"),
            labels: pairs(meta.and_then(|m| m.get("labels"))),
            selector: pairs(ld.and_then(|l| l.get("parentSelector"))),
            selector_loc: ld
                .and_then(|l| l.get("parentSelector"))
                .map_or(root.loc, |n| n.loc),
            actions: Vec::new(),
            substitutions: Vec::new(),
            dropped: false,
        };
        for a in ld
            .and_then(|l| l.get("actions"))
            .and_then(Node::as_seq)
            .unwrap_or(&[])
        {
            match (text(a.get("method")), text(a.get("path"))) {
                (Some(method), Some(path)) => d.actions.push(Action {
                    method,
                    path,
                    loc: a.loc,
                }),
                _ => out.push(finding(
                    "DD007",
                    Severity::Error,
                    a.loc,
                    format!(
                        "layering action of {} needs a `method` and a `path`",
                        describe(&d)
                    ),
                    "write `{method: merge, path: .}` (methods: merge, replace, delete)",
                )),
            }
        }
        for s in meta
            .and_then(|m| m.get("substitutions"))
            .and_then(Node::as_seq)
            .unwrap_or(&[])
        {
            if let Some(sub) = Subst::read(s, &d, out) {
                d.substitutions.push(sub);
            }
        }
        d
    }
}

impl Subst {
    fn read(s: &Node, d: &Doc, out: &mut Vec<Finding>) -> Option<Subst> {
        let bad = |out: &mut Vec<Finding>, what: &str| {
            out.push(finding(
                "DD008",
                Severity::Error,
                s.loc,
                format!("substitution of {} {what}", describe(d)),
                "write `{src: {schema, name, path}, dest: {path}}` (see `drydock explain DD008`)",
            ));
            None
        };
        let src = s.get("src");
        let (Some(schema), Some(name)) = (
            text(src.and_then(|x| x.get("schema"))),
            text(src.and_then(|x| x.get("name"))),
        ) else {
            return bad(out, "needs `src.schema` and `src.name`");
        };
        let dests: Vec<&Node> = match s.get("dest") {
            Some(n) => match &n.value {
                Value::Seq(items) => items.iter().collect(),
                _ => vec![n],
            },
            None => return bad(out, "needs a `dest`"),
        };
        let mut ds = Vec::new();
        for dn in dests {
            let Some(path) = text(dn.get("path")) else {
                return bad(out, "needs `dest.path`");
            };
            ds.push(Dest {
                path,
                pattern: text(dn.get("pattern")),
                recurse: dn
                    .get("recurse")
                    .and_then(|r| r.get("depth"))
                    .and_then(Node::as_i64),
                loc: dn.loc,
            });
        }
        Some(Subst {
            schema,
            name,
            path: text(src.and_then(|x| x.get("path"))).unwrap_or_else(|| ".".into()),
            pattern: text(src.and_then(|x| x.get("pattern"))),
            match_group: src
                .and_then(|x| x.get("match_group"))
                .and_then(Node::as_i64)
                .map_or(0, |g| g.max(0) as usize),
            dests: ds,
            loc: s.loc,
        })
    }
}

/// Render every document. Never fails: each problem is a finding, and the document it is
/// about renders as far as it can.
pub fn render(raw: Vec<Raw>, mode: Mode) -> Output {
    let mut out = Output::default();
    let mut docs: Vec<Doc> = raw
        .iter()
        .map(|r| Doc::read(&r.root, &mut out.findings))
        .collect();
    layering::assign_layers(&raw, &mut docs, mode, &mut out.findings);
    let parents = layering::select_parents(&docs, &mut out.findings);
    layering::unique_names(&docs, &parents, &mut out.findings);
    let replaced_by = layering::replacements(&docs, &parents, &mut out.findings);

    // Substitution sources: concrete documents by (schema, name); a replacement stands for
    // the document it replaces.
    let mut by_name: HashMap<(&str, &str), usize> = HashMap::new();
    for (i, d) in docs.iter().enumerate() {
        if d.dropped || d.abstract_ {
            continue;
        }
        let key = (d.schema.as_str(), d.name.as_str());
        match by_name.get(&key) {
            Some(&j) if docs[j].replacement || !d.replacement => {}
            _ => {
                by_name.insert(key, i);
            }
        }
    }
    let resolve = |i: usize| replaced_by[i].unwrap_or(i);

    // Dependencies: the parent (or its replacement) and every substitution source.
    let n = docs.len();
    let mut deps: Vec<Vec<(usize, Loc)>> = vec![Vec::new(); n];
    for (i, d) in docs.iter().enumerate() {
        if let Some(p) = parents[i] {
            let p = if d.replacement { p } else { resolve(p) };
            if p != i {
                deps[i].push((p, d.selector_loc));
            }
        }
        for s in &d.substitutions {
            if let Some(&src) = by_name.get(&(s.schema.as_str(), s.name.as_str())) {
                deps[i].push((resolve(src), s.loc));
            }
        }
    }
    let order = order(&docs, &deps, &mut out.findings);

    // Secret-store values, located where they are written (before data moves below).
    for (i, d) in docs.iter().enumerate() {
        if (d.encrypted || SECRET_SCHEMAS.contains(&d.schema.as_str()))
            && let Some(data) = raw[i].root.get("data")
        {
            out.provenance.secret_spans.push(data.loc);
        }
    }
    out.provenance
        .record_documents(&raw, &docs, &parents, &replaced_by);

    // Each document's data is moved out, rendered, and kept for the documents that depend on
    // it; nothing is copied except a parent's data for a child that layers on it.
    let mut raw = raw;
    let mut rendered: Vec<Option<Node>> = vec![None; n];
    let mut had_data = vec![false; n];
    let null = Node::new(Value::Null, Loc::NONE);
    let mut cx = substitution::Context {
        mode,
        provenance: &mut out.provenance,
        findings: &mut out.findings,
    };
    for &i in &order {
        let d = &docs[i];
        let at = raw[i].root.loc;
        let own = match &mut raw[i].root.value {
            Value::Map(m) => m.take("data"),
            _ => None,
        };
        had_data[i] = own.is_some();
        let own = own.unwrap_or_else(|| Node::new(Value::Map(Default::default()), at));
        let mut data = match parents[i] {
            Some(p) if !d.actions.is_empty() => {
                let p = if d.replacement { p } else { resolve(p) };
                let base = rendered[p]
                    .clone()
                    .or_else(|| raw[p].root.get("data").cloned())
                    .unwrap_or_else(|| Node::new(Value::Map(Default::default()), own.loc));
                layering::apply(d, base, &own, cx.findings)
            }
            _ => own,
        };
        for s in &d.substitutions {
            let source = by_name
                .get(&(s.schema.as_str(), s.name.as_str()))
                .map(|&j| resolve(j))
                .map(|j| {
                    let data = rendered[j]
                        .as_ref()
                        .or_else(|| raw[j].root.get("data"))
                        .unwrap_or(&null);
                    (&docs[j], data)
                });
            substitution::apply(&mut cx, d, i, s, source, &mut data);
        }
        rendered[i] = Some(data);
    }

    for (i, (r, d)) in raw.into_iter().zip(&docs).enumerate() {
        let replaced = replaced_by[i].is_some_and(|j| j != i);
        if d.dropped || d.abstract_ || replaced {
            continue;
        }
        let mut root = r.root;
        // A document written without `data` stays without it unless rendering gave it some.
        let gave = had_data[i] || !d.actions.is_empty() || !d.substitutions.is_empty();
        if let (Value::Map(m), Some(data), true) = (&mut root.value, rendered[i].take(), gave) {
            match m.0.iter_mut().rev().find(|(k, _)| k.name == "data") {
                Some((_, v)) => *v = data,
                None => m.0.push((
                    crate::design::yaml::Key {
                        name: "data".into(),
                        loc: data.loc,
                    },
                    data,
                )),
            }
        }
        out.docs.push(Raw { root, span: r.span });
    }
    out
}

/// Documents in dependency order (Kahn's algorithm, ties in input order). Documents on a
/// cycle are reported once per cycle (DD009) and rendered last, as written.
fn order(docs: &[Doc], deps: &[Vec<(usize, Loc)>], out: &mut Vec<Finding>) -> Vec<usize> {
    let n = docs.len();
    let mut indegree = vec![0usize; n];
    let mut users: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, ds) in deps.iter().enumerate() {
        for &(d, _) in ds {
            indegree[i] += 1;
            users[d].push(i);
        }
    }
    let mut ready: std::collections::BinaryHeap<std::cmp::Reverse<usize>> = (0..n)
        .filter(|&i| indegree[i] == 0)
        .map(std::cmp::Reverse)
        .collect();
    let mut order = Vec::with_capacity(n);
    while let Some(std::cmp::Reverse(i)) = ready.pop() {
        order.push(i);
        for &u in &users[i] {
            indegree[u] -= 1;
            if indegree[u] == 0 {
                ready.push(std::cmp::Reverse(u));
            }
        }
    }
    if order.len() == n {
        return order;
    }
    // What is left is on a cycle or depends on one: walk dependencies from each until a
    // document repeats, and report that cycle.
    let mut reported = vec![false; n];
    for start in (0..n).filter(|&i| indegree[i] > 0) {
        if reported[start] {
            continue;
        }
        let mut path = vec![start];
        let mut cur = start;
        while let Some(&(next, _)) = deps[cur].iter().find(|(d, _)| indegree[*d] > 0) {
            if let Some(pos) = path.iter().position(|&p| p == next) {
                let cycle = &path[pos..];
                if !cycle.iter().any(|&c| reported[c]) {
                    let names: Vec<String> = cycle
                        .iter()
                        .chain(std::iter::once(&next))
                        .map(|&c| format!("`{}`", docs[c].name))
                        .collect();
                    let first = cycle[0];
                    let loc = deps[first]
                        .iter()
                        .find(|(d, _)| cycle.contains(d))
                        .map_or(docs[first].name_loc, |(_, l)| *l);
                    let mut f = finding(
                        "DD009",
                        Severity::Error,
                        loc,
                        format!("documents depend on each other in a cycle: {}", names.join(" → ")),
                        "break the cycle: a document cannot be its own parent or substitution source, directly or through others",
                    )
                    .label("closes the cycle");
                    for &c in &cycle[1..] {
                        f = f.related(
                            docs[c].name_loc,
                            format!("`{}` is on the cycle", docs[c].name),
                        );
                    }
                    out.push(f);
                }
                for &c in cycle {
                    reported[c] = true;
                }
                break;
            }
            path.push(next);
            cur = next;
        }
        reported[start] = true;
    }
    let mut rest: Vec<usize> = (0..n).filter(|&i| indegree[i] > 0).collect();
    rest.sort_unstable();
    order.extend(rest);
    order
}
