//! Layering: each document's layer from the LayeringPolicy, its parent chosen by labels, the
//! replacement documents, and the layering actions (`merge`, `replace`, `delete`) applied to a
//! copy of the parent's rendered data. Substitution is `substitution`'s.

use std::collections::HashMap;

use crate::design::render::path::{self, Path};
use crate::design::render::{Doc, LAYERING_POLICY, Mode, Raw, describe, finding};
use crate::design::yaml::{Map, Node, Value};
use crate::diag::{Finding, Severity};

/// Give every layered document its rank in the policy's `layerOrder`; report documents in
/// unknown layers, a missing policy, and duplicate documents (the first one wins).
pub(super) fn assign_layers(raw: &[Raw], docs: &mut [Doc], mode: Mode, out: &mut Vec<Finding>) {
    let policy = raw
        .iter()
        .find(|r| r.root.get("schema").and_then(Node::as_str) == Some(LAYERING_POLICY));
    let order: Vec<String> = policy
        .and_then(|p| p.root.at(&["data", "layerOrder"]))
        .and_then(Node::as_seq)
        .map(|s| s.iter().filter_map(Node::scalar_text).collect())
        .unwrap_or_default();
    match policy {
        None => {
            if let Some(d) = docs
                .iter()
                .find(|d| !d.selector.is_empty() || !d.actions.is_empty() || d.abstract_)
            {
                let severity = match mode {
                    Mode::Lenient => Severity::Warning,
                    Mode::Strict => Severity::Error,
                };
                out.push(finding(
                    "DD005",
                    severity,
                    d.selector_loc,
                    format!(
                        "{} is layered, but there is no {LAYERING_POLICY} document: layering is skipped",
                        describe(d)
                    ),
                    "add the repository's LayeringPolicy (it lists `layerOrder: [global, type, site]`), or collect the site with `--site NAME` from the repository root",
                ));
            }
        }
        Some(p) if order.is_empty() => out.push(finding(
            "DD005",
            Severity::Error,
            p.root.get("data").map_or(p.root.loc, |d| d.loc),
            "the LayeringPolicy has no `layerOrder`".into(),
            "write `data: {layerOrder: [global, type, site]}`",
        )),
        Some(_) => {
            for d in docs.iter_mut() {
                let Some(layer) = &d.layer else { continue };
                d.rank = order.iter().position(|l| l == layer);
                if d.rank.is_none() {
                    out.push(
                        finding(
                            "DD005",
                            Severity::Error,
                            d.layer_loc,
                            format!(
                                "{} is in layer `{layer}`, which the LayeringPolicy does not list ({})",
                                describe(d),
                                order.join(", ")
                            ),
                            "use one of the policy's layers, or add this one to its `layerOrder`",
                        )
                        .label("unknown layer"),
                    );
                }
            }
        }
    }
    duplicates(docs, out);
}

/// (schema, layer, name) identifies a document: a later duplicate is dropped.
fn duplicates(docs: &mut [Doc], out: &mut Vec<Finding>) {
    let mut ids: HashMap<(String, Option<String>, String), usize> = HashMap::new();
    for i in 0..docs.len() {
        let d = &docs[i];
        if d.name.is_empty() || d.schema.is_empty() {
            continue;
        }
        let id = (d.schema.clone(), d.layer.clone(), d.name.clone());
        if let Some(&first) = ids.get(&id) {
            out.push(
                finding(
                    "DD005",
                    Severity::Error,
                    d.name_loc,
                    format!("{} is defined twice: the first one is used", describe(d)),
                    "remove or rename one of the two documents",
                )
                .related(docs[first].name_loc, "first defined here"),
            );
            docs[i].dropped = true;
            continue;
        }
        ids.insert(id, i);
    }
}

/// (schema, name) is unique among documents that are neither replacements nor
/// `metadata/Control`. A child that has its parent's name is DD006's to report, not this.
pub(super) fn unique_names(docs: &[Doc], parents: &[Option<usize>], out: &mut Vec<Finding>) {
    let mut names: HashMap<(&str, &str), usize> = HashMap::new();
    for (i, d) in docs.iter().enumerate() {
        if d.name.is_empty() || d.schema.is_empty() || d.dropped || d.replacement || d.control {
            continue;
        }
        match names.get(&(d.schema.as_str(), d.name.as_str())) {
            Some(&first) if parents[i] != Some(first) && parents[first] != Some(i) => out.push(
                finding(
                    "DD005",
                    Severity::Error,
                    d.name_loc,
                    format!(
                        "{} has the schema and name of {}, and is not a replacement",
                        describe(d),
                        describe(&docs[first])
                    ),
                    "rename one of them, or mark the lower one `replacement: true` (its parent must then be the other)",
                )
                .related(docs[first].name_loc, "the other document"),
            ),
            Some(_) => {}
            None => {
                names.insert((d.schema.as_str(), d.name.as_str()), i);
            }
        }
    }
}

/// Each document's parent: among the documents whose labels hold every pair of its
/// `parentSelector`, the one in the closest higher layer.
pub(super) fn select_parents(docs: &[Doc], out: &mut Vec<Finding>) -> Vec<Option<usize>> {
    let mut by_label: HashMap<(&str, &str), Vec<usize>> = HashMap::new();
    for (i, d) in docs.iter().enumerate() {
        if d.rank.is_some() && !d.dropped {
            for (k, v) in &d.labels {
                by_label.entry((k, v)).or_default().push(i);
            }
        }
    }
    let mut parents = vec![None; docs.len()];
    for (i, d) in docs.iter().enumerate() {
        let Some(rank) = d.rank else { continue };
        if d.selector.is_empty() || d.dropped {
            continue;
        }
        // The shortest posting list, filtered by the other pairs.
        let Some(postings) = d
            .selector
            .iter()
            .map(|(k, v)| by_label.get(&(k.as_str(), v.as_str())))
            .collect::<Option<Vec<_>>>()
        else {
            no_parent(d, out);
            continue;
        };
        let shortest = postings
            .iter()
            .min_by_key(|p| p.len())
            .expect("a selector pair");
        let candidates: Vec<usize> = shortest
            .iter()
            .copied()
            .filter(|&c| c != i && d.selector.iter().all(|p| docs[c].labels.contains(p)))
            .collect();
        if candidates.is_empty() {
            no_parent(d, out);
            continue;
        }
        let selector = d
            .selector
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut valid = Vec::new();
        for &c in &candidates {
            let p = &docs[c];
            if p.schema != d.schema {
                out.push(
                    finding(
                        "DD006",
                        Severity::Error,
                        d.selector_loc,
                        format!(
                            "parentSelector {{{selector}}} of {} selects {}, of another schema",
                            describe(d),
                            describe(p)
                        ),
                        "a parent has the child's schema: make the selector's labels select only documents of this schema",
                    )
                    .related(p.name_loc, "selected here"),
                );
            } else if p.rank.is_none_or(|r| r >= rank) {
                out.push(
                    finding(
                        "DD006",
                        Severity::Error,
                        d.selector_loc,
                        format!(
                            "parentSelector {{{selector}}} of {} selects {}, which is not in a higher layer",
                            describe(d),
                            describe(p)
                        ),
                        "a parent is in a layer above the child's (LayeringPolicy order): change the labels of one of them",
                    )
                    .related(p.name_loc, "selected here"),
                );
            } else {
                valid.push(c);
            }
        }
        let Some(closest) = valid.iter().filter_map(|&c| docs[c].rank).max() else {
            continue;
        };
        let in_layer: Vec<usize> = valid
            .into_iter()
            .filter(|&c| docs[c].rank == Some(closest))
            .collect();
        if in_layer.len() > 1 {
            let mut f = finding(
                "DD006",
                Severity::Error,
                d.selector_loc,
                format!(
                    "parentSelector {{{selector}}} of {} selects {} documents in layer `{}`: a parent must be unique",
                    describe(d),
                    in_layer.len(),
                    docs[in_layer[0]].layer.as_deref().unwrap_or("")
                ),
                "make the selector (or the candidates' labels) pick exactly one document; the first is used",
            );
            for &c in &in_layer {
                f = f.related(docs[c].name_loc, "a candidate");
            }
            out.push(f);
        }
        parents[i] = Some(in_layer[0]);
    }
    parents
}

fn no_parent(d: &Doc, out: &mut Vec<Finding>) {
    // Without actions nothing would be inherited anyway: Deckhand renders such a child as it
    // is, silently. With actions (or as a replacement) it is almost surely a mistake.
    if d.actions.is_empty() && !d.replacement {
        return;
    }
    let severity = if d.replacement {
        Severity::Error
    } else {
        Severity::Warning
    };
    out.push(
        finding(
            "DD006",
            severity,
            d.selector_loc,
            format!(
                "parentSelector of {} matches no document: it renders as written, without its parent",
                describe(d)
            ),
            "check the selector's labels against the parent's `metadata.labels` (and that the parent's file is part of the site)",
        )
        .label("no parent"),
    );
}

/// `replaced_by[p] == Some(r)`: document `r` replaces its parent `p`.
pub(super) fn replacements(
    docs: &[Doc],
    parents: &[Option<usize>],
    out: &mut Vec<Finding>,
) -> Vec<Option<usize>> {
    let mut replaced_by = vec![None; docs.len()];
    for (i, d) in docs.iter().enumerate() {
        let Some(p) = parents[i] else {
            if d.replacement && !d.dropped && d.selector.is_empty() {
                out.push(finding(
                    "DD006",
                    Severity::Error,
                    d.name_loc,
                    format!("{} is a replacement but has no parentSelector", describe(d)),
                    "a replacement needs a parent of the same schema and name: add a parentSelector for it",
                ));
            }
            continue;
        };
        let parent = &docs[p];
        let same = parent.schema == d.schema && parent.name == d.name;
        if !d.replacement {
            if same {
                out.push(
                    finding(
                        "DD006",
                        Severity::Error,
                        d.name_loc,
                        format!("{} has its parent's name but is not a replacement", describe(d)),
                        "rename the child, or mark it `replacement: true` to stand in for its parent",
                    )
                    .related(parent.name_loc, "the parent"),
                );
            }
            continue;
        }
        let problem = if !same {
            Some(format!(
                "replacement {} must have its parent's schema and name, but the parent is {}",
                describe(d),
                describe(parent)
            ))
        } else if parent.replacement {
            Some(format!(
                "{} replaces a replacement: only one level of replacement is allowed",
                describe(d)
            ))
        } else if replaced_by[p].is_some() {
            Some(format!("{} is replaced twice", describe(parent)))
        } else {
            None
        };
        match problem {
            Some(msg) => out.push(
                finding(
                    "DD006",
                    Severity::Error,
                    d.name_loc,
                    msg,
                    "a replacement stands in for one parent of the same schema and name, one level deep",
                )
                .related(parent.name_loc, "the parent"),
            ),
            None => replaced_by[p] = Some(i),
        }
    }
    replaced_by
}

/// The layering actions of `d`, in order, on a copy of its parent's data (`base`), taking
/// values from the child's own data.
pub(super) fn apply(d: &Doc, mut base: Node, own: &Node, out: &mut Vec<Finding>) -> Node {
    for a in &d.actions {
        let path = match Path::parse(&a.path) {
            Ok(p) => p,
            Err(e) => {
                out.push(finding(
                    "DD007",
                    Severity::Error,
                    a.loc,
                    format!("layering action of {}: bad path {e}", describe(d)),
                    "a path is `.` or `.key.key[index]`",
                ));
                continue;
            }
        };
        let fail = |out: &mut Vec<Finding>, msg: String, help: &str| {
            out.push(
                finding("DD007", Severity::Error, a.loc, msg, help).label("action not applied"),
            );
        };
        match a.method.as_str() {
            "replace" => match path::get(own, &path) {
                Some(v) if !v.is_null() => {
                    if let Err(e) = path::set(&mut base, &path, v.clone(), a.loc) {
                        fail(
                            out,
                            format!("replace {path} in {}: {e}", describe(d)),
                            "check the path against the parent's data",
                        );
                    }
                }
                _ => fail(
                    out,
                    format!("replace {path}: {} has no value at {path}", describe(d)),
                    "write the value at that path in this document, or remove the action",
                ),
            },
            "merge" => match path::get(own, &path) {
                Some(v) => {
                    let merged = match path::get_mut(&mut base, &path) {
                        Some(b) if b.as_map().is_some() && v.as_map().is_some() => {
                            path::deep_merge(b, v);
                            Ok(())
                        }
                        _ => path::set(&mut base, &path, v.clone(), a.loc),
                    };
                    if let Err(e) = merged {
                        fail(
                            out,
                            format!("merge {path} in {}: {e}", describe(d)),
                            "check the path against the parent's data",
                        );
                    }
                }
                None => fail(
                    out,
                    format!("merge {path}: {} has no value at {path}", describe(d)),
                    "write the value at that path in this document, or remove the action",
                ),
            },
            "delete" => {
                if path.is_root() {
                    base = Node::new(Value::Map(Map::default()), own.loc);
                } else if !path::remove(&mut base, &path) {
                    fail(
                        out,
                        format!(
                            "delete {path}: the parent of {} has no value at {path}",
                            describe(d)
                        ),
                        "remove the action, or correct its path",
                    );
                }
            }
            other => fail(
                out,
                format!("unknown layering method `{other}` in {}", describe(d)),
                "the methods are merge, replace and delete",
            ),
        }
    }
    base.loc = own.loc;
    base
}
