//! A YAML document as a tree of values that keep their source location.
//!
//! serde-saphyr does the parsing (YAML 1.2, budgets against alias bombs and deep nesting,
//! multi-document files); this module only shapes its output into [`Node`]s whose every value,
//! key included, carries a [`Loc`]. It does not know what a drydock document is.

use std::cell::Cell;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

use crate::source::{FileId, Loc};

/// A YAML value with its location.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub loc: Loc,
    pub value: Value,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Map),
}

/// A mapping key with its location.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Key {
    pub name: String,
    pub loc: Loc,
}

/// A mapping, in source order. Duplicate keys are kept as written (so that they can be
/// reported); every lookup returns the last one, which is what YAML 1.1 loaders did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Map(pub Vec<(Key, Node)>);

impl Map {
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|(_, v)| v)
    }

    pub fn entry(&self, key: &str) -> Option<&(Key, Node)> {
        self.0.iter().rev().find(|(k, _)| k.name == key)
    }

    /// Entries with duplicates removed (the last one of each key wins, at its own position).
    pub fn iter(&self) -> impl Iterator<Item = &(Key, Node)> {
        let n = self.0.len();
        self.0
            .iter()
            .enumerate()
            .filter(move |(i, (k, _))| {
                // Maps in designs are small; the quadratic look-ahead only runs past 16 entries
                // when a duplicate exists, which is rare and reported.
                n < 2 || !self.0[i + 1..].iter().any(|(k2, _)| k2.name == k.name)
            })
            .map(|(_, e)| e)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Node {
    pub fn new(value: Value, loc: Loc) -> Node {
        Node { loc, value }
    }

    pub fn as_map(&self) -> Option<&Map> {
        match &self.value {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.value {
            Value::Seq(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match &self.value {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match &self.value {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.value, Value::Null)
    }

    /// `self[key]` for a mapping, `None` otherwise.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?.get(key)
    }

    /// The value at a path of keys.
    pub fn at(&self, path: &[&str]) -> Option<&Node> {
        path.iter().try_fold(self, |n, k| n.get(k))
    }

    /// A scalar rendered as text (numbers and booleans as YAML writes them).
    pub fn scalar_text(&self) -> Option<String> {
        match &self.value {
            Value::Str(s) => Some(s.clone()),
            Value::Int(i) => Some(i.to_string()),
            Value::Float(f) => Some(f.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    /// A short name of the value's type, for messages.
    pub fn type_name(&self) -> &'static str {
        match self.value {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Int(_) => "integer",
            Value::Float(_) => "number",
            Value::Str(_) => "string",
            Value::Seq(_) => "sequence",
            Value::Map(_) => "mapping",
        }
    }

    /// The JSON form of this value (for JSON Schema validation). Duplicate keys: last wins.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.value {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
            Value::Str(s) => J::String(s.clone()),
            Value::Seq(s) => J::Array(s.iter().map(Node::to_json).collect()),
            Value::Map(m) => {
                let mut o = serde_json::Map::with_capacity(m.len());
                for (k, v) in &m.0 {
                    o.insert(k.name.clone(), v.to_json());
                }
                J::Object(o)
            }
        }
    }

    /// Visit this node and every node below it, with the key it is stored under (if any).
    pub fn walk<'a>(&'a self, key: Option<&'a Key>, f: &mut impl FnMut(Option<&'a Key>, &'a Node)) {
        f(key, self);
        match &self.value {
            Value::Seq(s) => s.iter().for_each(|n| n.walk(None, f)),
            Value::Map(m) => m.0.iter().for_each(|(k, v)| v.walk(Some(k), f)),
            _ => {}
        }
    }
}

thread_local! {
    // The file being parsed on this thread. serde's `Deserialize` has no context argument, and
    // threading the file id through a seed for every nested value would double this module.
    static CURRENT_FILE: Cell<FileId> = const { Cell::new(FileId(0)) };
}

/// An error from the YAML parser, with the location it gives.
#[derive(Debug)]
pub struct ParseError {
    pub message: String,
    pub loc: Loc,
}

/// Documents larger than this are refused before parsing, with a clear message.
pub const MAX_FILE_BYTES: usize = 64 * 1024 * 1024;

/// Stack size for threads that parse: a debug build of the recursive deserializer needs about
/// 0.5 MiB per nesting level, and the budget allows 64 levels. Only touched pages cost memory.
pub const PARSER_STACK_BYTES: usize = 64 << 20;

/// Run `f` on a thread with a stack big enough for [`parse_documents`] at the deepest nesting
/// the budget allows.
pub fn on_parser_stack<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .stack_size(PARSER_STACK_BYTES)
            .spawn_scoped(s, f)
            .expect("spawning a parser thread")
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e))
    })
}

/// Parse every document of one file. Call it on a thread with [`PARSER_STACK_BYTES`] of stack. Empty documents are skipped by serde-saphyr.
pub fn parse_documents(file: FileId, text: &str) -> Result<Vec<Node>, ParseError> {
    let mut opts = serde_saphyr::Options::default();
    opts.strict_booleans = true; // YAML 1.2: `yes` and `on` are strings
    opts.duplicate_keys = serde_saphyr::DuplicateKeyPolicy::PassThrough;
    opts.merge_keys = serde_saphyr::MergeKeyPolicy::Merge;
    opts.with_snippet = false;
    if let Some(b) = opts.budget.as_mut() {
        // Big rendered sites live in one file; the default budget (250k nodes) is for configs.
        b.max_events = 50_000_000;
        b.max_nodes = 20_000_000;
        b.max_documents = 1_000_000;
        b.max_total_scalar_bytes = MAX_FILE_BYTES;
        b.max_depth = 64;
        b.flow_nesting_limit = 64;
    }
    CURRENT_FILE.with(|c| c.set(file));
    serde_saphyr::from_str_multiple_with_options::<Node, Vec<Node>>(text, opts).map_err(|e| {
        // Errors carry line and column, not always a byte offset: compute it from the text.
        let loc = e
            .location()
            .filter(|l| l.line() > 0)
            .map_or(Loc::new(file, 0, 0), |l| match l.span().byte_offset() {
                Some(o) => Loc::new(file, o as usize, 0),
                None => Loc::new(
                    file,
                    offset_of(text, l.line() as usize, l.column() as usize),
                    0,
                ),
            });
        ParseError {
            message: clean_message(&e),
            loc,
        }
    })
}

/// Byte offset of a 1-based line and (character) column.
fn offset_of(text: &str, line: usize, col: usize) -> usize {
    let start: usize = text
        .split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum();
    let rest = text.get(start..).unwrap_or("");
    start
        + rest
            .char_indices()
            .nth(col.saturating_sub(1))
            .map_or(rest.len(), |(i, _)| i)
}

fn clean_message(e: &serde_saphyr::Error) -> String {
    // serde-saphyr appends " at line L column C" to some messages; drydock prints the location
    // itself, so strip it.
    let m = e.to_string();
    let m = match m.find(" at line ") {
        Some(i) => m[..i].to_string(),
        None => m,
    };
    m.lines().next().unwrap_or("").trim().to_string()
}

fn loc_of(l: &serde_saphyr::Location) -> Loc {
    let file = CURRENT_FILE.with(|c| c.get());
    let span = l.span();
    match (span.byte_offset(), span.byte_len()) {
        (Some(o), Some(len)) => Loc::new(file, o as usize, len as usize),
        _ => Loc::new(file, 0, 0),
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Node, D::Error> {
        let s = Spanned::<Value>::deserialize(d)?;
        Ok(Node {
            loc: loc_of(&s.referenced),
            value: s.value,
        })
    }
}

struct KeyText(String);

impl<'de> Deserialize<'de> for KeyText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<KeyText, D::Error> {
        let v = Value::deserialize(d)?;
        let n = Node::new(v, Loc::NONE);
        match n.scalar_text() {
            Some(t) => Ok(KeyText(t)),
            None if n.is_null() => Ok(KeyText(String::new())),
            None => Err(de::Error::custom("a mapping key must be a scalar")),
        }
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(i64::try_from(v).map_or(Value::Float(v as f64), Value::Int))
    }
    fn visit_i128<E>(self, v: i128) -> Result<Value, E> {
        Ok(i64::try_from(v).map_or(Value::Float(v as f64), Value::Int))
    }
    fn visit_u128<E>(self, v: u128) -> Result<Value, E> {
        Ok(i64::try_from(v).map_or(Value::Float(v as f64), Value::Int))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::Str(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::Str(v))
    }
    fn visit_bytes<E>(self, v: &[u8]) -> Result<Value, E> {
        Ok(Value::Str(String::from_utf8_lossy(v).into_owned()))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Value::deserialize(d)
    }
    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Value::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Value, A::Error> {
        let mut v = Vec::with_capacity(a.size_hint().unwrap_or(0).min(1024));
        while let Some(n) = a.next_element::<Node>()? {
            v.push(n);
        }
        Ok(Value::Seq(v))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Value, A::Error> {
        let mut m = Vec::with_capacity(a.size_hint().unwrap_or(0).min(1024));
        while let Some(k) = a.next_key::<Spanned<KeyText>>()? {
            let key = Key {
                name: k.value.0,
                loc: loc_of(&k.referenced),
            };
            let v = a.next_value::<Node>()?;
            m.push((key, v));
        }
        Ok(Value::Map(Map(m)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(t: &str) -> Vec<Node> {
        parse_documents(FileId(3), t).unwrap()
    }

    #[test]
    fn values_keep_their_locations() {
        let text = "a: 1\nb:\n  - x\n  - 'y'\nc: {d: true}\n";
        let docs = parse(text);
        assert_eq!(docs.len(), 1);
        let b = docs[0].get("b").unwrap().as_seq().unwrap();
        assert_eq!(&text[b[1].loc.start as usize..][..3], "'y'");
        assert_eq!(b[1].loc.file, FileId(3));
        let (k, _) = docs[0].as_map().unwrap().entry("c").unwrap();
        assert_eq!(k.loc.start, text.find("c:").unwrap() as u32);
        let d = docs[0].at(&["c", "d"]).unwrap();
        assert_eq!(d.as_bool(), Some(true));
        assert_eq!(&text[d.loc.start as usize..][..4], "true");
    }

    #[test]
    fn several_documents_and_empty_ones() {
        let docs = parse("---\na: 1\n---\n---\nb: 2\n...\n");
        assert_eq!(docs.len(), 2);
    }

    #[test]
    fn yaml_1_2_typing() {
        let docs = parse("a: yes\nb: 52:54:00:12:34:56\nc: '100'\nd: 100\n");
        assert_eq!(docs[0].get("a").unwrap().as_str(), Some("yes"));
        assert_eq!(
            docs[0].get("b").unwrap().as_str(),
            Some("52:54:00:12:34:56")
        );
        assert_eq!(docs[0].get("c").unwrap().as_str(), Some("100"));
        assert_eq!(docs[0].get("d").unwrap().as_i64(), Some(100));
    }

    #[test]
    fn duplicate_keys_are_kept_and_last_wins() {
        let docs = parse("a: 1\na: 2\n");
        let m = docs[0].as_map().unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!(m.get("a").unwrap().as_i64(), Some(2));
        assert_eq!(m.iter().count(), 1);
    }

    #[test]
    fn syntax_error_has_a_location() {
        let e = parse_documents(FileId(0), "a: [1, 2\nb: 3\n").unwrap_err();
        assert!(!e.message.is_empty());
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        on_parser_stack(|| {
            let t = "[".repeat(10_000);
            assert!(parse_documents(FileId(0), &t).is_err());
            let t = (0..200)
                .map(|i| format!("{}k:\n", "  ".repeat(i)))
                .collect::<String>();
            assert!(parse_documents(FileId(0), &t).is_err());
            let t = (0..60)
                .map(|i| format!("{}k:\n", "  ".repeat(i)))
                .collect::<String>();
            assert!(parse_documents(FileId(0), &t).is_ok());
        });
    }
}
