//! Writing rendered documents back as a YAML stream: block style, keys in document order,
//! strings quoted wherever a YAML 1.1 or 1.2 reader could take them for something else, so
//! that drydock (or any YAML tool) reads back exactly the same values. Secrets are written as
//! a placeholder unless asked. This module only writes text.

use std::fmt::Write;

use crate::design::yaml::{Node, Value};

/// What to print instead of a secret.
pub const SECRET_PLACEHOLDER: &str = "<secret: drydock render --show-secrets prints it>";

/// Writes nodes; `secret` says whether a value (by its key, if any) must be hidden.
pub struct Emitter<'a> {
    pub secret: &'a dyn Fn(Option<&str>, &Node) -> bool,
    pub out: String,
}

impl Emitter<'_> {
    /// One document, after a `---` line and `comment` lines.
    pub fn document(&mut self, comment: &[String], root: &Node) {
        self.out.push_str("---\n");
        for c in comment {
            let _ = writeln!(self.out, "# {c}");
        }
        match &root.value {
            Value::Map(m) if !m.is_empty() => self.map_body(root, 0, None),
            Value::Seq(items) if !items.is_empty() => self.seq_body(items, 0),
            _ => {
                self.scalar_or_flow(None, root);
                self.out.push('\n');
            }
        }
    }

    fn indent(&mut self, n: usize) {
        self.out.extend(std::iter::repeat_n(' ', n));
    }

    /// The entries of a non-empty map, each on its own line at `indent`; `first_inline` means
    /// the first line is already indented (a list item's `- `).
    fn map_body(&mut self, n: &Node, indent: usize, first_inline: Option<()>) {
        let Value::Map(m) = &n.value else { return };
        for (i, (k, v)) in m.iter().enumerate() {
            if i > 0 || first_inline.is_none() {
                self.indent(indent);
            }
            self.out.push_str(&key(&k.name));
            self.out.push(':');
            self.value(Some(&k.name), v, indent);
        }
    }

    /// A value after `key:` or `-`: on the same line for scalars and empty collections, on
    /// the next lines otherwise.
    fn value(&mut self, key: Option<&str>, v: &Node, indent: usize) {
        match &v.value {
            Value::Map(m) if !m.is_empty() && !(self.secret)(key, v) => {
                self.out.push('\n');
                self.map_body(v, indent + 2, None);
            }
            Value::Seq(items) if !items.is_empty() && !(self.secret)(key, v) => {
                self.out.push('\n');
                self.seq_body(items, indent);
            }
            Value::Str(text) if literal_block(text) && !(self.secret)(key, v) => {
                // Scripts and profiles stay readable: a literal block, as they are written.
                let chomp = if !text.ends_with('\n') {
                    "-"
                } else if text.ends_with("\n\n") {
                    "+"
                } else {
                    ""
                };
                let _ = writeln!(self.out, " |{chomp}");
                for line in text.strip_suffix('\n').unwrap_or(text).split('\n') {
                    if !line.is_empty() {
                        self.indent(indent + 2);
                        self.out.push_str(line);
                    }
                    self.out.push('\n');
                }
            }
            _ => {
                self.out.push(' ');
                self.scalar_or_flow(key, v);
                self.out.push('\n');
            }
        }
    }

    /// The items of a non-empty list, each `- ` at `indent`.
    fn seq_body(&mut self, items: &[Node], indent: usize) {
        for item in items {
            self.indent(indent);
            self.out.push('-');
            match &item.value {
                Value::Map(m) if !m.is_empty() && !(self.secret)(None, item) => {
                    self.out.push(' ');
                    self.map_body(item, indent + 2, Some(()));
                }
                _ => self.value(None, item, indent + 2),
            }
        }
    }

    fn scalar_or_flow(&mut self, key: Option<&str>, v: &Node) {
        if (self.secret)(key, v) {
            self.out.push_str(&quote(SECRET_PLACEHOLDER));
            return;
        }
        let s = match &v.value {
            Value::Null => "null".to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Int(i) => i.to_string(),
            Value::Float(f) if f.is_nan() => ".nan".into(),
            Value::Float(f) if f.is_infinite() => {
                if *f > 0.0 {
                    ".inf".into()
                } else {
                    "-.inf".into()
                }
            }
            // `{:?}` keeps a `.0`, so a float reads back as a float.
            Value::Float(f) => format!("{f:?}"),
            Value::Str(s) => string(s),
            Value::Seq(_) => "[]".into(),
            Value::Map(_) => "{}".into(),
        };
        self.out.push_str(&s);
    }
}

/// A key: plain when safe, quoted otherwise.
fn key(k: &str) -> String {
    if plain_safe(k) {
        k.to_string()
    } else {
        quote(k)
    }
}

/// A string value: plain when no reader could take it for anything else, a double-quoted
/// JSON-style string when it holds line breaks or control characters, single-quoted otherwise.
fn string(s: &str) -> String {
    if plain_safe(s) {
        s.to_string()
    } else {
        quote(s)
    }
}

/// Whether a string reads back the same from a literal block: it has a line break, no other
/// control character but tabs, a first line that does not start with a space, and no line
/// of blanks only (a block would drop them).
fn literal_block(s: &str) -> bool {
    s.contains('\n')
        && !s.chars().any(|c| c.is_control() && c != '\n' && c != '\t')
        && !s.starts_with([' ', '\t', '\n'])
        && s.split('\n')
            .all(|l| l.is_empty() || !l.chars().all(|c| c == ' ' || c == '\t'))
        && !s.ends_with([' ', '\t'])
}

fn quote(s: &str) -> String {
    if s.chars().any(|c| c.is_control()) {
        // JSON string syntax is YAML double-quoted syntax.
        serde_json::to_string(s).unwrap_or_else(|_| "''".into())
    } else {
        format!("'{}'", s.replace('\'', "''"))
    }
}

/// Whether a string can be written plain and read back as the same string by YAML 1.1 and
/// 1.2 readers alike: letters, digits and `_./-`, starting with a letter, `_` or `/`, and not
/// one of the words either version reads as a boolean or null.
fn plain_safe(s: &str) -> bool {
    let mut chars = s.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    (first.is_ascii_alphabetic() || first == '_' || first == '/')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '/' | '-'))
        && !matches!(
            s.to_ascii_lowercase().as_str(),
            "true" | "false" | "yes" | "no" | "on" | "off" | "y" | "n" | "null"
        )
        && !s.ends_with('.')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::design::yaml::parse_documents;
    use crate::source::FileId;

    fn round_trip(text: &str) {
        let docs = parse_documents(FileId(0), text).unwrap();
        let mut e = Emitter {
            secret: &|_, _| false,
            out: String::new(),
        };
        for d in &docs {
            e.document(&["a comment".into()], d);
        }
        let back = parse_documents(FileId(0), &e.out).unwrap();
        let json = |d: &[Node]| d.iter().map(Node::to_json).collect::<Vec<_>>();
        assert_eq!(json(&back), json(&docs), "{}", e.out);
    }

    #[test]
    fn values_read_back_the_same() {
        round_trip(
            "a: 1\nb: 1.0\nc: 'yes'\nd: '52:54:00:12:34:56'\ne: \"multi\\nline\\n\"\nf: []\ng: {}\nh: [1, [2, 3], {x: y}, []]\ni: {j: {k: null}}\n'key with: colon': true\nl: \"it's\"\nm: '0x1f'\nn: ''\no: '-'\np: 'a: b'\nq: '#x'\nr: ' lead'\n",
        );
        round_trip("---\n- 1\n- a\n---\nplain\n");
        round_trip(
            "a: \"line one\\n  indented\\n\\nlast\\n\"\nb: \"no newline\\nat end\"\nc: \"two\\n\\n\"\nd: [\"x\\ny\\n\"]\ne: \" lead\\nx\"\nf: \"blank\\n   \\nline\"\n",
        );
    }

    #[test]
    fn secrets_are_placeholders() {
        let docs =
            parse_documents(FileId(0), "oob: {credential: hunter2, account: root}\n").unwrap();
        let mut e = Emitter {
            secret: &|k, _| k == Some("credential"),
            out: String::new(),
        };
        e.document(&[], &docs[0]);
        assert!(!e.out.contains("hunter2"), "{}", e.out);
        assert!(e.out.contains(SECRET_PLACEHOLDER));
        assert!(e.out.contains("account: root"));
    }
}
