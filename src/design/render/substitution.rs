//! Substitution: a value copied from a source document (by schema and name, rendered first)
//! into a destination path, whole or into a pattern, as Deckhand does. A value from the secret
//! store (a Passphrase, a key, an encrypted document) is recorded as such.

use regex::{NoExpand, Regex};

use crate::design::render::path::{self, Path};
use crate::design::render::provenance::Substituted;
use crate::design::render::{
    Dest, Doc, Mode, Provenance, SECRET_SCHEMAS, Subst, describe, finding,
};
use crate::design::yaml::{Node, Value};
use crate::diag::{Finding, Severity};

pub(super) struct Context<'a> {
    pub mode: Mode,
    pub provenance: &'a mut Provenance,
    pub findings: &'a mut Vec<Finding>,
}

impl Context<'_> {
    /// A substitution that cannot be made because its value is missing: skipped with a
    /// warning when lenient, an error when strict.
    fn missing(&mut self, s: &Subst, msg: String) {
        let (severity, help) = match self.mode {
            Mode::Lenient => (
                Severity::Warning,
                "add the source document to the site, or correct `src`; the value is left as written (with --strict this is an error)",
            ),
            Mode::Strict => (
                Severity::Error,
                "add the source document to the site, or correct `src`",
            ),
        };
        self.findings
            .push(finding("DD008", severity, s.loc, msg, help).label("not substituted"));
    }

    fn error(&mut self, loc: crate::source::Loc, msg: String, help: &str) {
        self.findings
            .push(finding("DD008", Severity::Error, loc, msg, help).label("not substituted"));
    }
}

fn compile(cx: &mut Context, pattern: &str, loc: crate::source::Loc, d: &Doc) -> Option<Regex> {
    match Regex::new(pattern) {
        Ok(r) => Some(r),
        Err(e) => {
            let first = e.to_string();
            let first = first.lines().last().unwrap_or("");
            cx.error(
                loc,
                format!(
                    "substitution of {}: pattern `{pattern}` is not a regular expression ({first})",
                    describe(d)
                ),
                "write a regular expression (Python-style; look-around is not supported)",
            );
            None
        }
    }
}

/// Apply substitution `s` of document `d` (index `di`) to its data. `source` is the source
/// document with its rendered data, when there is one.
pub(super) fn apply(
    cx: &mut Context,
    d: &Doc,
    di: usize,
    s: &Subst,
    source: Option<(&Doc, &Node)>,
    data: &mut Node,
) {
    let Some((src_doc, src_data)) = source else {
        cx.missing(
            s,
            format!(
                "substitution source {} `{}` of {} is not in the site",
                s.schema,
                s.name,
                describe(d)
            ),
        );
        return;
    };
    let value = if src_data.as_map().is_some() {
        let p = match Path::parse(&s.path) {
            Ok(p) => p,
            Err(e) => {
                cx.error(
                    s.loc,
                    format!("substitution of {}: bad source path {e}", describe(d)),
                    "a path is `.` or `.key.key[index]`",
                );
                return;
            }
        };
        path::get(src_data, &p).cloned()
    } else {
        // A Passphrase's data is the string itself.
        Some(src_data.clone())
    };
    let Some(mut value) = value.filter(|v| !v.is_null()) else {
        cx.missing(
            s,
            format!(
                "substitution source {} has no value at {}",
                describe(src_doc),
                s.path
            ),
        );
        return;
    };
    if let Some(pattern) = &s.pattern {
        let Some(re) = compile(cx, pattern, s.loc, d) else {
            return;
        };
        if let Some(text) = value.scalar_text()
            && let Some(m) = re.captures(&text).and_then(|c| c.get(s.match_group))
        {
            value = Node::new(Value::Str(m.as_str().to_string()), value.loc);
        }
    }
    let secret = src_doc.encrypted || SECRET_SCHEMAS.contains(&src_doc.schema.as_str());
    let replacement = value
        .scalar_text()
        .unwrap_or_else(|| value.to_json().to_string());
    for dest in &s.dests {
        let p = match Path::parse(&dest.path) {
            Ok(p) => p,
            Err(e) => {
                cx.error(
                    dest.loc,
                    format!(
                        "substitution into {}: bad destination path {e}",
                        describe(d)
                    ),
                    "a path is `.` or `.key.key[index]`",
                );
                continue;
            }
        };
        let written = match &dest.pattern {
            None => set_whole(cx, d, dest, &p, &value, data),
            Some(pattern) => {
                let Some(re) = compile(cx, pattern, dest.loc, d) else {
                    continue;
                };
                into_pattern(cx, d, s, dest, &p, &re, pattern, &replacement, data)
            }
        };
        if let Some(at) = written {
            if secret {
                cx.provenance.secret_spans.push(at);
            }
            cx.provenance.substitutions.push(Substituted {
                value: value.loc,
                written: at,
                dest_doc: di,
                entry: dest.loc,
                path: p.to_string(),
                source: format!("{} `{}`", src_doc.schema, src_doc.name),
                secret,
            });
        }
    }
}

/// Set the whole value at the destination; where it landed.
fn set_whole(
    cx: &mut Context,
    d: &Doc,
    dest: &Dest,
    p: &Path,
    value: &Node,
    data: &mut Node,
) -> Option<crate::source::Loc> {
    if p.is_root() {
        match (&mut data.value, &value.value) {
            // `.` with a map: its top-level keys are merged in, shallowly.
            (Value::Map(m), Value::Map(v)) => {
                for (k, val) in v.iter() {
                    match m.0.iter().rposition(|(e, _)| e.name == k.name) {
                        Some(i) => m.0[i] = (k.clone(), val.clone()),
                        None => m.0.push((k.clone(), val.clone())),
                    }
                }
            }
            _ => *data = value.clone(),
        }
        return Some(value.loc);
    }
    match path::set(data, p, value.clone(), dest.loc) {
        Ok(()) => Some(value.loc),
        Err(e) => {
            cx.error(
                dest.loc,
                format!("substitution into {} at {p}: {e}", describe(d)),
                "the destination path must lead through maps and lists of the document's data",
            );
            None
        }
    }
}

/// Replace `pattern` in the string(s) at the destination with the value; where it landed.
#[allow(clippy::too_many_arguments)]
fn into_pattern(
    cx: &mut Context,
    d: &Doc,
    s: &Subst,
    dest: &Dest,
    p: &Path,
    re: &Regex,
    pattern: &str,
    replacement: &str,
    data: &mut Node,
) -> Option<crate::source::Loc> {
    let Some(target) = path::get_mut(data, p) else {
        cx.error(
            dest.loc,
            format!(
                "substitution into {}: nothing at {p} to replace `{pattern}` in",
                describe(d)
            ),
            "a pattern substitution needs a string at the destination path that holds the pattern",
        );
        return None;
    };
    let at = target.loc;
    let replaced = match dest.recurse {
        Some(depth) => recurse(target, pattern, replacement, depth),
        None => match &mut target.value {
            Value::Str(t) => {
                let hit = re.is_match(t);
                if hit {
                    *t = re.replace_all(t, NoExpand(replacement)).into_owned();
                }
                hit
            }
            _ => {
                let kind = target.type_name();
                cx.error(
                    dest.loc,
                    format!("substitution into {} at {p}: the destination is a {kind}, not a string", describe(d)),
                    "a pattern substitution replaces text inside a string; use `recurse` for strings below a map or list",
                );
                return None;
            }
        },
    };
    if !replaced {
        cx.missing(
            s,
            format!(
                "substitution into {} at {p}: the pattern `{pattern}` is not found there",
                describe(d)
            ),
        );
        return None;
    }
    Some(at)
}

/// Replace the literal `pattern` in every string under `n`, down to `depth` levels (0: `n`
/// itself, -1: all); whether anything was replaced.
fn recurse(n: &mut Node, pattern: &str, replacement: &str, depth: i64) -> bool {
    match &mut n.value {
        Value::Str(t) if t.contains(pattern) => {
            *t = t.replace(pattern, replacement);
            true
        }
        _ if depth == 0 => false,
        Value::Seq(items) => items.iter_mut().fold(false, |hit, i| {
            recurse(i, pattern, replacement, depth - 1) | hit
        }),
        Value::Map(m) => m.0.iter_mut().fold(false, |hit, (_, v)| {
            recurse(v, pattern, replacement, depth - 1) | hit
        }),
        _ => false,
    }
}
