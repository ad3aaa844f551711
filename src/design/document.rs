//! Drydock documents: the envelope (`schema`/`metadata`/`data`, or the older
//! `apiVersion`/`kind`/`spec`) around each object, and the kinds drydock knows.
//!
//! This module recognises and unwraps documents and reports YAML traps; it does not check a
//! document's `data` (that is `schema`) nor resolve anything across documents (that is `model`).

use std::fmt;

use serde::Serialize;

use crate::design::yaml::{Map, Node, Value};
use crate::diag::Finding;
use crate::source::{At, FileId, Loc};

/// The kinds of drydock document.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Kind {
    Region,
    Rack,
    Network,
    NetworkLink,
    HardwareProfile,
    HostProfile,
    BaremetalNode,
    BootAction,
}

impl Kind {
    pub const ALL: [Kind; 8] = [
        Kind::Region,
        Kind::Rack,
        Kind::Network,
        Kind::NetworkLink,
        Kind::HardwareProfile,
        Kind::HostProfile,
        Kind::BaremetalNode,
        Kind::BootAction,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Region => "Region",
            Kind::Rack => "Rack",
            Kind::Network => "Network",
            Kind::NetworkLink => "NetworkLink",
            Kind::HardwareProfile => "HardwareProfile",
            Kind::HostProfile => "HostProfile",
            Kind::BaremetalNode => "BaremetalNode",
            Kind::BootAction => "BootAction",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which of the two document forms a document was written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Form {
    /// `schema: drydock/<Kind>/v1`, `metadata`, `data`.
    Envelope,
    /// `apiVersion: drydock/v1`, `kind`, `metadata`, `spec`.
    Legacy,
}

/// Index of a document in a design.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct DocId(pub u32);

/// One drydock document, unwrapped.
#[derive(Clone, Debug)]
pub struct Document {
    pub kind: Kind,
    pub name: At<String>,
    pub form: Form,
    pub file: FileId,
    /// The whole document, from its first to its last byte.
    pub span: Loc,
    pub labels: Vec<(At<String>, At<String>)>,
    /// The object itself (`data` or `spec`).
    pub data: Node,
    /// False when `data` failed its schema: the document is left out of the effective design.
    pub schema_valid: bool,
}

impl Document {
    pub fn display(&self) -> String {
        format!("{} {}", self.kind, self.name.v)
    }
}

/// What one YAML document turned out to be.
pub enum Classified {
    Drydock(Box<Document>),
    /// A document of another tool (`deckhand/…`, `promenade/…`): skipped.
    Foreign,
    /// Not usable; the findings say why.
    Invalid,
}

/// Recognise a document's envelope. Problems go to `out`.
pub fn classify(root: &Node, span: Loc, out: &mut Vec<Finding>) -> Classified {
    let Some(map) = root.as_map() else {
        out.push(
            Finding::error("DD000", root.loc, format!("a document must be a mapping, found a {}", root.type_name()))
                .help("start each document with `schema: drydock/<Kind>/v1`, then `metadata:` and `data:`"),
        );
        return Classified::Invalid;
    };
    if let Some(schema) = map.get("schema") {
        let Some(s) = schema.as_str() else {
            out.push(schema_not_string(schema));
            return Classified::Invalid;
        };
        let Some(rest) = s.strip_prefix("drydock/") else {
            return Classified::Foreign;
        };
        let mut parts = rest.split('/');
        let (kind, version) = (parts.next().unwrap_or(""), parts.next());
        let Some(k) = Kind::parse(kind) else {
            out.push(unknown_kind(schema.loc, kind));
            return Classified::Invalid;
        };
        if version != Some("v1") || parts.next().is_some() {
            out.push(
                Finding::error(
                    "DD000",
                    schema.loc,
                    format!("unsupported document schema `{s}`"),
                )
                .label("only v1 exists")
                .help(format!("write `schema: drydock/{k}/v1`")),
            );
            return Classified::Invalid;
        }
        unwrap(k, Form::Envelope, root, map, "data", span, out)
    } else if let Some(api) = map.get("apiVersion") {
        let Some(a) = api.as_str() else {
            out.push(schema_not_string(api));
            return Classified::Invalid;
        };
        if !a.starts_with("drydock/") {
            return Classified::Foreign;
        }
        if a != "drydock/v1" {
            out.push(
                Finding::error("DD000", api.loc, format!("unsupported apiVersion `{a}`"))
                    .help("write `apiVersion: drydock/v1`"),
            );
            return Classified::Invalid;
        }
        let Some(kind) = map.get("kind") else {
            out.push(
                Finding::error(
                    "DD001",
                    root.loc,
                    "document with `apiVersion: drydock/v1` has no `kind`",
                )
                .help("add `kind: <Kind>`, e.g. `kind: BaremetalNode`"),
            );
            return Classified::Invalid;
        };
        let Some(k) = kind.as_str().and_then(Kind::parse) else {
            out.push(unknown_kind(
                kind.loc,
                &kind.scalar_text().unwrap_or_default(),
            ));
            return Classified::Invalid;
        };
        unwrap(k, Form::Legacy, root, map, "spec", span, out)
    } else {
        out.push(
            Finding::error("DD000", root.loc, "not a drydock document: it has no `schema` key")
                .help("start the document with `schema: drydock/<Kind>/v1` (or `apiVersion: drydock/v1` and `kind:`)"),
        );
        Classified::Invalid
    }
}

fn schema_not_string(n: &Node) -> Finding {
    Finding::error(
        "DD000",
        n.loc,
        format!(
            "the document schema must be a string, found a {}",
            n.type_name()
        ),
    )
    .help("write `schema: drydock/<Kind>/v1`")
}

fn unknown_kind(loc: Loc, kind: &str) -> Finding {
    let kinds = Kind::ALL.map(Kind::as_str).join(", ");
    Finding::error(
        "DD000",
        loc,
        format!("unknown drydock document kind `{kind}`"),
    )
    .help(format!("the kinds are {kinds}"))
}

fn unwrap(
    kind: Kind,
    form: Form,
    root: &Node,
    map: &Map,
    data_key: &str,
    span: Loc,
    out: &mut Vec<Finding>,
) -> Classified {
    let meta = map.get("metadata");
    let name = meta.and_then(|m| m.get("name"));
    let name = match name {
        Some(n) => match n.scalar_text() {
            Some(t) if !t.is_empty() => At::new(t, n.loc),
            _ => {
                out.push(
                    Finding::error("DD001", n.loc, "`metadata.name` must be a non-empty string")
                        .help("give the document a name: `metadata: {name: <name>}`"),
                );
                return Classified::Invalid;
            }
        },
        None => {
            let loc = meta.map_or(root.loc, |m| m.loc);
            out.push(
                Finding::error(
                    "DD001",
                    loc,
                    format!("{kind} document has no `metadata.name`"),
                )
                .help("add `metadata:` with `schema: metadata/Document/v1` and `name: <name>`"),
            );
            return Classified::Invalid;
        }
    };
    let Some(data) = map.get(data_key) else {
        out.push(
            Finding::error(
                "DD001",
                name.loc,
                format!("{kind} `{}` has no `{data_key}`", name.v),
            )
            .help(format!(
                "add `{data_key}:` with the {kind}'s fields (see `drydock explain DD001`)"
            )),
        );
        return Classified::Invalid;
    };
    if !matches!(data.value, Value::Map(_)) {
        out.push(
            Finding::error(
                "DD001",
                data.loc,
                format!(
                    "`{data_key}` must be a mapping, found a {}",
                    data.type_name()
                ),
            )
            .help(format!("write the {kind}'s fields under `{data_key}:`")),
        );
        return Classified::Invalid;
    }
    let mut labels = Vec::new();
    if let Some(l) = meta.and_then(|m| m.get("labels")).and_then(Node::as_map) {
        for (k, v) in l.iter() {
            labels.push((
                At::new(k.name.clone(), k.loc),
                At::new(v.scalar_text().unwrap_or_default(), v.loc),
            ));
        }
    }
    Classified::Drydock(Box::new(Document {
        kind,
        name,
        form,
        file: span.file,
        span,
        labels,
        // The caller moves the tree in (`Document::data` is filled from the root by
        // `design::parse_file`): cloning every document's data doubled the load's allocations.
        data: Node::new(Value::Null, data.loc),
        schema_valid: true,
    }))
}

/// YAML traps in a document: duplicate keys, and values that YAML 1.1 tools (the old
/// implementation, and many tools in a design repo's pipeline) read differently. Warnings.
pub fn lint(root: &Node, text: &str, out: &mut Vec<Finding>) {
    root.walk(None, &mut |_, n| match &n.value {
        Value::Map(m) if m.len() > 1 => duplicate_keys(m, out),
        Value::Str(s) if is_plain(n, text) => {
            if is_yaml11_bool(s) {
                out.push(
                    Finding::warning(
                        "DD000",
                        n.loc,
                        format!("unquoted `{s}` is a string here but a boolean to YAML 1.1 tools"),
                    )
                    .help(format!(
                        "quote it (`'{s}'`) if you mean the string, or write `true`/`false`"
                    )),
                );
            } else if is_yaml11_sexagesimal(s) {
                // Only a MAC that YAML 1.1 really reads as a base-60 integer: one with a hex
                // letter, or a group over 59, stays a string there too.
                out.push(
                    Finding::warning(
                        "DD000",
                        n.loc,
                        "unquoted MAC address: YAML 1.1 tools may read it as a number",
                    )
                    .help(format!("quote it: `'{s}'`")),
                );
            }
        }
        _ => {}
    });
}

/// Whether a key names a secret (BMC credentials, passwords, API keys, tokens). Called for
/// every key of a design: it allocates nothing.
pub fn is_secret_key(key: &str) -> bool {
    const WORDS: [&str; 7] = [
        "credential",
        "password",
        "passwd",
        "secret",
        "token",
        "api_key",
        "apikey",
    ];
    let k = key.as_bytes();
    WORDS.iter().any(|w| {
        k.windows(w.len())
            .any(|win| win.eq_ignore_ascii_case(w.as_bytes()))
    })
}

/// Locations of secret values written in a document (not `env:`/`file:` references), so that
/// renderers can mask them in source snippets.
pub fn secrets(root: &Node, out: &mut Vec<Loc>) {
    root.walk(None, &mut |key, n| {
        if let Some(k) = key
            && is_secret_key(&k.name)
            && let Some(text) = n.scalar_text()
            && !text.starts_with("env:")
            && !text.starts_with("file:")
            && text != "!"
            && !text.is_empty()
        {
            out.push(n.loc);
        }
    });
}

fn duplicate_keys(m: &Map, out: &mut Vec<Finding>) {
    // Mappings in designs have a handful of keys: a linear look-back allocates nothing; a
    // big mapping gets a hash set.
    let big = m.len() > 16;
    let mut seen: std::collections::HashMap<&str, Loc> = std::collections::HashMap::new();
    for (i, (k, _)) in m.0.iter().enumerate() {
        let first = if big {
            seen.insert(k.name.as_str(), k.loc)
        } else {
            m.0[..i]
                .iter()
                .find(|(e, _)| e.name == k.name)
                .map(|(e, _)| e.loc)
        };
        if let Some(first) = first {
            out.push(
                Finding::warning(
                    "DD000",
                    k.loc,
                    format!(
                        "duplicate key `{}`: this value replaces the earlier one",
                        k.name
                    ),
                )
                .related(first, "first written here")
                .help("remove one of the two entries"),
            );
        }
    }
}

fn is_plain(n: &Node, text: &str) -> bool {
    !matches!(
        text.as_bytes().get(n.loc.start as usize),
        Some(b'\'' | b'"' | b'|' | b'>')
    )
}

/// Whether a colon-separated MAC is a base-60 integer to a YAML 1.1 reader: PyYAML's int
/// resolver, `[-+]?[1-9][0-9_]*(:[0-5]?[0-9])+`, on the six groups of a MAC (the first must not
/// start with `0`, every other one is decimal and at most 59).
pub fn is_yaml11_sexagesimal(s: &str) -> bool {
    if !crate::design::schema::is_mac(s) || !s.contains(':') {
        return false;
    }
    let groups: Vec<&str> = s.split(':').collect();
    groups.len() == 6
        && groups.iter().all(|g| g.bytes().all(|b| b.is_ascii_digit()))
        && !groups[0].starts_with('0')
        && groups[1..]
            .iter()
            .all(|g| g.parse::<u32>().is_ok_and(|v| v <= 59))
}

fn is_yaml11_bool(s: &str) -> bool {
    matches!(
        s,
        "yes" | "Yes" | "YES" | "no" | "No" | "NO" | "on" | "On" | "ON" | "off" | "Off" | "OFF"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::design::yaml::parse_documents;

    fn check(yaml: &str) -> (Option<Document>, Vec<Finding>) {
        let docs = parse_documents(FileId(0), yaml).unwrap();
        let mut out = Vec::new();
        lint(&docs[0], yaml, &mut out);
        let d = match classify(&docs[0], Loc::new(FileId(0), 0, yaml.len()), &mut out) {
            Classified::Drydock(d) => Some(*d),
            _ => None,
        };
        (d, out)
    }

    #[test]
    fn envelope_and_legacy_forms() {
        let (d, f) = check(
            "schema: drydock/Network/v1\nmetadata: {name: mgmt}\ndata: {cidr: 10.0.0.0/24}\n",
        );
        assert!(f.is_empty());
        let d = d.unwrap();
        assert_eq!(
            (d.kind, d.name.v.as_str(), d.form),
            (Kind::Network, "mgmt", Form::Envelope)
        );
        let (d, f) = check("apiVersion: drydock/v1\nkind: Rack\nmetadata: {name: r1}\nspec: {}\n");
        assert!(f.is_empty());
        assert_eq!(d.unwrap().form, Form::Legacy);
    }

    #[test]
    fn foreign_documents_are_skipped() {
        let docs = parse_documents(
            FileId(0),
            "schema: pegleg/SiteDefinition/v1\nmetadata: {}\ndata: {}\n",
        )
        .unwrap();
        assert!(matches!(
            classify(&docs[0], Loc::NONE, &mut vec![]),
            Classified::Foreign
        ));
    }

    #[test]
    fn unknown_kind_and_version() {
        let (_, f) = check("schema: drydock/Widget/v1\nmetadata: {name: x}\ndata: {}\n");
        assert_eq!(f[0].code, "DD000");
        assert!(f[0].message.contains("Widget"));
        let (_, f) = check("schema: drydock/Network/v2\nmetadata: {name: x}\ndata: {}\n");
        assert!(f[0].message.contains("v2"));
    }

    #[test]
    fn only_base_60_macs_are_traps() {
        assert!(is_yaml11_sexagesimal("52:54:00:12:34:56"));
        assert!(!is_yaml11_sexagesimal("52:54:00:ab:34:56"));
        assert!(!is_yaml11_sexagesimal("02:54:00:12:34:56"));
        assert!(!is_yaml11_sexagesimal("52:54:00:12:34:60"));
        assert!(!is_yaml11_sexagesimal("52-54-00-12-34-56"));
    }

    #[test]
    fn yaml_traps_are_warned() {
        let (_, f) = check(
            "schema: drydock/Network/v1\nmetadata: {name: x}\ndata:\n  a: yes\n  b: 'yes'\n  c: 52:54:00:00:00:01\n  d: '52:54:00:00:00:01'\n  e: 52:54:00:ab:00:01\n  g: 00:54:00:00:00:01\n  h: 52:54:00:00:00:61\n  a: 1\n",
        );
        let msgs: Vec<_> = f.iter().map(|f| f.message.as_str()).collect();
        assert_eq!(f.len(), 3, "{msgs:?}");
        assert!(f.iter().all(|f| f.code == "DD000" && !f.is_error()));
    }
}
