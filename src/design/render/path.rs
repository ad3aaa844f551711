//! Deckhand paths (`.a.b[0].c`, `.`, `$.data.a`) and the three operations rendering needs on a
//! YAML tree: read, write (creating missing parts) and remove. Knows nothing of documents.

use crate::design::yaml::{Key, Map, Node, Value};
use crate::source::Loc;

/// One step of a path. Ordered by key, then index as a number (so that removing paths in
/// reverse order removes later list items first).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Seg {
    Key(String),
    Index(usize),
}

/// A parsed path; empty is the whole data (`.`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Path(pub Vec<Seg>);

impl Path {
    /// Parse a Deckhand path. A leading `$`, then a leading `.data`, are stripped; a missing
    /// leading `.` is assumed (one real site writes `a.b`). Keys are any text without `.` or
    /// `[`; an index is `[n]`.
    pub fn parse(text: &str) -> Result<Path, String> {
        let t = text.trim();
        let t = t.strip_prefix('$').unwrap_or(t);
        let t = if t.starts_with('.') || t.is_empty() {
            t.to_string()
        } else {
            format!(".{t}")
        };
        let t = match t.strip_prefix(".data") {
            Some(rest) if rest.is_empty() || rest.starts_with(['.', '[']) => rest.to_string(),
            _ => t,
        };
        if t.is_empty() || t == "." {
            return Ok(Path(Vec::new()));
        }
        let mut segs = Vec::new();
        let mut rest = t.as_str();
        while !rest.is_empty() {
            if let Some(r) = rest.strip_prefix('[') {
                let end = r
                    .find(']')
                    .ok_or_else(|| format!("`{text}`: `[` without `]`"))?;
                let i = r[..end]
                    .trim()
                    .parse::<usize>()
                    .map_err(|_| format!("`{text}`: `[{}]` is not a list index", &r[..end]))?;
                segs.push(Seg::Index(i));
                rest = &r[end + 1..];
            } else if let Some(r) = rest.strip_prefix('.') {
                let end = r.find(['.', '[']).unwrap_or(r.len());
                let key = &r[..end];
                if key.is_empty() {
                    return Err(format!("`{text}`: an empty key"));
                }
                segs.push(Seg::Key(key.to_string()));
                rest = &r[end..];
            } else {
                return Err(format!(
                    "`{text}`: expected `.key` or `[index]` at `{rest}`"
                ));
            }
        }
        Ok(Path(segs))
    }

    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Display for Path {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.is_empty() {
            return f.write_str(".");
        }
        for s in &self.0 {
            match s {
                Seg::Key(k) => write!(f, ".{k}")?,
                Seg::Index(i) => write!(f, "[{i}]")?,
            }
        }
        Ok(())
    }
}

fn child<'a>(n: &'a Node, s: &Seg) -> Option<&'a Node> {
    match s {
        Seg::Key(k) => n.get(k),
        Seg::Index(i) => n.as_seq()?.get(*i),
    }
}

fn child_mut<'a>(n: &'a mut Node, s: &Seg) -> Option<&'a mut Node> {
    match (s, &mut n.value) {
        (Seg::Key(k), Value::Map(m)) => {
            m.0.iter_mut()
                .rev()
                .find(|(e, _)| e.name == *k)
                .map(|(_, v)| v)
        }
        (Seg::Index(i), Value::Seq(items)) => items.get_mut(*i),
        _ => None,
    }
}

/// The value at `path`.
pub fn get<'a>(n: &'a Node, path: &Path) -> Option<&'a Node> {
    path.0.iter().try_fold(n, child)
}

/// The value at `path`, mutably.
pub fn get_mut<'a>(n: &'a mut Node, path: &Path) -> Option<&'a mut Node> {
    let mut cur = n;
    for s in &path.0 {
        cur = child_mut(cur, s)?;
    }
    Some(cur)
}

/// Set `path` to `value`, creating what is missing on the way: `{}` for a key, a list padded
/// with `{}` for an index (a null on the way counts as missing). Created nodes are located at
/// `at` (the action or substitution that made them). Fails when the path runs into a scalar
/// or a value of the other collection type.
pub fn set(n: &mut Node, path: &Path, value: Node, at: Loc) -> Result<(), String> {
    let Some((last, parents)) = path.0.split_last() else {
        *n = value;
        return Ok(());
    };
    let mut cur = n;
    for (i, s) in parents.iter().enumerate() {
        let next_is_index = matches!(path.0[i + 1], Seg::Index(_));
        let empty = || {
            if next_is_index {
                Node::new(Value::Seq(Vec::new()), at)
            } else {
                Node::new(Value::Map(Map::default()), at)
            }
        };
        cur = slot(cur, s, at, empty)?;
    }
    *slot(cur, last, at, || Node::new(Value::Null, at))? = value;
    Ok(())
}

/// The child at `s`, created with `make` when missing.
fn slot<'a>(
    n: &'a mut Node,
    s: &Seg,
    at: Loc,
    make: impl Fn() -> Node,
) -> Result<&'a mut Node, String> {
    if n.is_null() {
        n.value = match s {
            Seg::Key(_) => Value::Map(Map::default()),
            Seg::Index(_) => Value::Seq(Vec::new()),
        };
    }
    let kind = n.type_name();
    match (s, &mut n.value) {
        (Seg::Key(k), Value::Map(m)) => {
            let pos = m.0.iter().rposition(|(e, _)| e.name == *k);
            let pos = match pos {
                Some(p) => p,
                None => {
                    m.0.push((
                        Key {
                            name: k.clone(),
                            loc: at,
                        },
                        make(),
                    ));
                    m.0.len() - 1
                }
            };
            let v = &mut m.0[pos].1;
            if v.is_null() {
                *v = make();
            }
            Ok(v)
        }
        (Seg::Index(i), Value::Seq(items)) => {
            while items.len() <= *i {
                items.push(Node::new(Value::Map(Map::default()), at));
            }
            Ok(&mut items[*i])
        }
        (Seg::Key(k), _) => Err(format!("cannot set key `{k}` in a {kind}")),
        (Seg::Index(i), _) => Err(format!("cannot set index [{i}] in a {kind}")),
    }
}

/// Remove the value at `path`; whether there was one. The root cannot be removed.
pub fn remove(n: &mut Node, path: &Path) -> bool {
    let Some((last, parents)) = path.0.split_last() else {
        return false;
    };
    let Some(parent) = get_mut(n, &Path(parents.to_vec())) else {
        return false;
    };
    match (last, &mut parent.value) {
        (Seg::Key(k), Value::Map(m)) => {
            let before = m.0.len();
            m.0.retain(|(e, _)| e.name != *k);
            m.0.len() != before
        }
        (Seg::Index(i), Value::Seq(items)) if *i < items.len() => {
            items.remove(*i);
            true
        }
        _ => false,
    }
}

/// Deep-merge `child` into `base`: the child wins, maps recurse, lists and scalars are
/// replaced (never appended). Values keep their own locations.
pub fn deep_merge(base: &mut Node, child: &Node) {
    match (&mut base.value, &child.value) {
        (Value::Map(b), Value::Map(c)) => {
            for (k, v) in c.iter() {
                match b.0.iter().rposition(|(e, _)| e.name == k.name) {
                    Some(p) if b.0[p].1.as_map().is_some() && v.as_map().is_some() => {
                        deep_merge(&mut b.0[p].1, v)
                    }
                    Some(p) => b.0[p] = (k.clone(), v.clone()),
                    None => b.0.push((k.clone(), v.clone())),
                }
            }
        }
        _ => *base = child.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::design::yaml::parse_documents;
    use crate::source::FileId;

    fn tree(t: &str) -> Node {
        parse_documents(FileId(0), t).unwrap().remove(0)
    }

    #[test]
    fn paths_parse_like_deckhand() {
        let p = |t: &str| Path::parse(t).map(|p| p.to_string());
        assert_eq!(p(".").unwrap(), ".");
        assert_eq!(p("$").unwrap(), ".");
        assert_eq!(p(".data").unwrap(), ".");
        assert_eq!(p("$.data.a.b[0].c").unwrap(), ".a.b[0].c");
        assert_eq!(p("a.b").unwrap(), ".a.b");
        assert_eq!(p(".database").unwrap(), ".database");
        assert!(p(".a..b").is_err());
        assert!(p(".a[x]").is_err());
        assert!(p(".a[0").is_err());
    }

    #[test]
    fn set_creates_missing_parts() {
        let mut n = tree("a: 1\n");
        let v = Node::new(Value::Int(7), Loc::NONE);
        set(&mut n, &Path::parse(".b.c[2].d").unwrap(), v, Loc::NONE).unwrap();
        let c = get(&n, &Path::parse(".b.c").unwrap())
            .unwrap()
            .as_seq()
            .unwrap();
        assert_eq!(c.len(), 3);
        assert_eq!(c[0].as_map().map(|m| m.len()), Some(0));
        assert_eq!(c[2].get("d").unwrap().as_i64(), Some(7));
        assert!(
            set(
                &mut n,
                &Path::parse(".a.x").unwrap(),
                Node::new(Value::Null, Loc::NONE),
                Loc::NONE
            )
            .is_err()
        );
    }

    #[test]
    fn merge_replaces_lists_and_recurses_into_maps() {
        let mut base = tree("a: {x: 1, y: [1, 2]}\nb: 1\n");
        deep_merge(&mut base, &tree("a: {y: [3], z: 2}\nc: 3\n"));
        assert_eq!(
            base.to_json(),
            serde_json::json!({"a": {"x": 1, "y": [3], "z": 2}, "b": 1, "c": 3})
        );
    }

    #[test]
    fn remove_reports_whether_it_removed() {
        let mut n = tree("a: {b: 1}\nl: [1, 2]\n");
        assert!(remove(&mut n, &Path::parse(".a.b").unwrap()));
        assert!(!remove(&mut n, &Path::parse(".a.b").unwrap()));
        assert!(remove(&mut n, &Path::parse(".l[0]").unwrap()));
        assert_eq!(n.to_json(), serde_json::json!({"a": {}, "l": [2]}));
    }
}
