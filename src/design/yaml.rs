//! A YAML document as a tree of values that keep their source location.
//!
//! serde-saphyr's parser does the parsing (YAML 1.2, multi-document files); this module shapes
//! its events into [`Node`]s whose every value, key included, carries a [`Loc`], with limits on
//! depth and alias expansion. It does not know what a drydock document is.

use std::collections::HashMap;

use serde_saphyr::granit_parser::{Event, Marker, Parser, ScalarStyle, Span, Tag};

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
        // Design mappings have a handful of keys: a look-ahead costs nothing there. A big
        // mapping gets the index of each key's last entry instead of a quadratic scan.
        let last: Option<std::collections::HashMap<&str, usize>> = (self.0.len() > 16).then(|| {
            self.0
                .iter()
                .enumerate()
                .map(|(i, (k, _))| (k.name.as_str(), i))
                .collect()
        });
        self.0
            .iter()
            .enumerate()
            .filter(move |(i, (k, _))| match &last {
                Some(last) => last.get(k.name.as_str()) == Some(i),
                None => !self.0[i + 1..].iter().any(|(k2, _)| k2.name == k.name),
            })
            .map(|(_, e)| e)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Take the value of `key` out (the last one written), leaving null in its place.
    pub fn take(&mut self, key: &str) -> Option<Node> {
        let (_, v) = self.0.iter_mut().rev().find(|(k, _)| k.name == key)?;
        let loc = v.loc;
        Some(std::mem::replace(v, Node::new(Value::Null, loc)))
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

/// An error from the YAML parser, with the location it gives.
#[derive(Debug)]
pub struct ParseError {
    pub message: String,
    pub loc: Loc,
}

/// A YAML syntax error put in a person's words: what is wrong, where to fix it (which may be
/// earlier than where the parser stopped) and how. Indentation mistakes, the most common ones
/// in hand-written designs, are found by following the indentation of the lines up to the
/// error; other errors keep the parser's words.
pub fn explain(text: &str, file: FileId, e: &ParseError) -> (String, Loc, String) {
    let base = e.loc.start as usize;
    let indentation = [
        "mapping values are not allowed",
        "did not find expected key",
        "did not find expected '-'",
        "block mapping",
        "block collection",
    ];
    if indentation.iter().any(|m| e.message.contains(m)) {
        let line = text.as_bytes()[..base.min(text.len())]
            .iter()
            .filter(|b| **b == b'\n')
            .count();
        if let Some((n, msg, help)) = indentation_problem(text, line) {
            let start: usize = text.split_inclusive('\n').take(n).map(str::len).sum();
            let indent = text[start..].bytes().take_while(|b| *b == b' ').count();
            return (msg, Loc::new(file, start + indent, 0), help);
        }
    }
    (
        format!("YAML syntax error: {}", e.message),
        e.loc,
        "fix the YAML syntax; no document of this file was read".into(),
    )
}

/// The first line up to `last` (0-based) whose indentation fits no line above it: the
/// line's index, the message and the help.
fn indentation_problem(text: &str, last: usize) -> Option<(usize, String, String)> {
    struct Prev<'a> {
        indent: usize,
        n: usize,
        /// Its value is still to come on the next lines (`key:`, `-`).
        opens: bool,
        /// For a list item `- key: v`, where the item's other keys go.
        item_keys: Option<usize>,
        content: &'a str,
    }
    let mut levels: Vec<usize> = Vec::new();
    let mut prev: Option<Prev> = None;
    let mut block_scalar: Option<usize> = None;
    for (n, raw) in text.lines().enumerate().take(last + 1) {
        let line = raw.trim_end();
        let indent = line.bytes().take_while(|b| *b == b' ').count();
        let content = &line[indent..];
        if content.is_empty() || content.starts_with('#') {
            continue;
        }
        if let Some(b) = block_scalar {
            if indent > b {
                continue;
            }
            block_scalar = None;
        }
        if content == "---" || content.starts_with("--- ") || content == "..." {
            levels.clear();
            prev = None;
            continue;
        }
        // Flow collections over several lines, tabs, quotes with colons: not followed here.
        if content.contains(['[', '{', '"', '\'', '\t']) && !balanced(content) {
            return None;
        }
        if let Some(p) = &prev {
            if indent > p.indent {
                if let Some(k) = p.item_keys.filter(|&k| !p.opens && k != indent) {
                    return Some((
                        n,
                        format!(
                            "line {} is indented by {indent} spaces, but the keys of the list item on line {} start at {k}",
                            n + 1,
                            p.n + 1
                        ),
                        format!(
                            "indent line {} by {k} spaces, under the item's first key",
                            n + 1
                        ),
                    ));
                }
                if !p.opens && p.item_keys != Some(indent) {
                    let key = p
                        .content
                        .split(':')
                        .next()
                        .unwrap_or(p.content)
                        .trim_start_matches("- ");
                    return Some((
                        n,
                        format!(
                            "line {} is indented more than line {} above it, but `{key}` there already has a value",
                            n + 1,
                            p.n + 1
                        ),
                        format!(
                            "indent line {} like line {} if it is the next key, or, if it belongs under `{key}`, remove the value after `{key}:`",
                            n + 1,
                            p.n + 1
                        ),
                    ));
                }
                levels.push(indent);
            } else {
                let open: Vec<String> = levels.iter().map(|l| l.to_string()).collect();
                while levels.last().is_some_and(|&l| l > indent) {
                    levels.pop();
                }
                if levels.last() != Some(&indent) {
                    let spaces = if indent == 1 { "space" } else { "spaces" };
                    return Some((
                        n,
                        format!(
                            "line {} is indented by {indent} {spaces}, which lines up with no line above it (the levels above are at {} spaces)",
                            n + 1,
                            open.join(", ")
                        ),
                        format!(
                            "indent line {} by exactly as many spaces as the key it follows (YAML counts spaces: a mapping's keys line up)",
                            n + 1
                        ),
                    ));
                }
            }
        } else {
            levels.push(indent);
        }
        let item = content == "-" || content.starts_with("- ");
        let body = if item {
            content[1..].trim_start()
        } else {
            content
        };
        let value = body.split_once(": ").map(|(_, v)| v.trim());
        let opens = content == "-" || body.ends_with(':');
        if matches!(value, Some(v) if v.starts_with('|') || v.starts_with('>')) {
            block_scalar = Some(indent);
        }
        let item_keys = item.then(|| indent + (content.len() - body.len()));
        if let Some(k) = item_keys {
            levels.push(k);
        }
        prev = Some(Prev {
            indent,
            n,
            opens,
            item_keys,
            content,
        });
    }
    None
}

/// Whether brackets and quotes close on the line.
fn balanced(s: &str) -> bool {
    let (mut depth, mut quote) = (0i32, None);
    for c in s.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '[' | '{') => depth += 1,
            (None, ']' | '}') => depth -= 1,
            (None, '\t') => return false,
            _ => {}
        }
    }
    depth == 0 && quote.is_none()
}

/// Files larger than this are refused before parsing, with a clear message.
pub const MAX_FILE_BYTES: usize = 64 * 1024 * 1024;

/// Deeper nesting than this is an error (designs nest about 8 levels).
pub const MAX_DEPTH: usize = 64;

/// Parse every document of one file into trees. Empty documents are skipped.
///
/// This builds trees from the events of serde-saphyr's own YAML parser (`granit_parser`,
/// re-exported by serde-saphyr) rather than through serde with `Spanned<T>`: the serde layer
/// tripled the parse time of a 10,000-node site (465 ms against 138 ms for 5 MB). The builder
/// is iterative, so nesting cannot overflow the stack; it resolves plain scalars by the YAML
/// 1.2 core schema, expands aliases and `<<` merge keys, and bounds depth and alias expansion.
pub fn parse_documents(file: FileId, text: &str) -> Result<Vec<Node>, ParseError> {
    parse_documents_at(file, text, 0)
}

/// [`parse_documents`] on a piece of a file that starts at byte `base` of it (see
/// [`split_documents`]): every location is of the whole file.
pub fn parse_documents_at(file: FileId, text: &str, base: usize) -> Result<Vec<Node>, ParseError> {
    Builder {
        file,
        text,
        base,
        anchors: HashMap::new(),
        nodes: 0,
        budget: text.len() + 1_000_000,
    }
    .run()
}

/// Split a file into pieces of at least `min` bytes that end at document boundaries, so that
/// the pieces can be parsed apart (in parallel) with every location exact. A boundary is a line
/// that starts with `---` followed by a space, a tab or the end of the line: YAML forbids such
/// a line inside any scalar, so it always starts a document, and anchors do not cross
/// documents. A file with directives (`%YAML`, `%TAG`, which apply to the next document) is
/// one piece.
pub fn split_documents(text: &str, min: usize) -> Vec<(usize, usize)> {
    if text.len() < 2 * min || text.starts_with('%') || text.contains("\n%") {
        return vec![(0, text.len())];
    }
    let bytes = text.as_bytes();
    let mut pieces = Vec::new();
    let mut start = 0;
    let mut from = min;
    while from < text.len() {
        // The next line start at or after `from` that is a document marker.
        let Some(rel) = text[from..].find("\n---") else {
            break;
        };
        let at = from + rel + 1;
        if matches!(bytes.get(at + 3), None | Some(b' ' | b'\t' | b'\n' | b'\r')) {
            if text.len() - at < min {
                break;
            }
            pieces.push((start, at));
            start = at;
            from = at + min;
        } else {
            from = at + 3;
        }
    }
    pieces.push((start, text.len()));
    pieces
}

struct Builder<'t> {
    file: FileId,
    /// Where `text` starts in its file.
    base: usize,
    text: &'t str,
    anchors: HashMap<usize, Node>,
    /// Values built so far, and how many may be (aliases can multiply a small text).
    nodes: usize,
    budget: usize,
}

/// A collection being built.
enum Open {
    Seq {
        loc: Loc,
        anchor: usize,
        items: Vec<Node>,
    },
    Map {
        loc: Loc,
        anchor: usize,
        entries: Vec<(Key, Node)>,
        key: Option<Key>,
        merges: Vec<Node>,
    },
}

impl Builder<'_> {
    fn loc(&self, span: &Span) -> Loc {
        let start = offset(self.text, &span.start);
        let end = offset(self.text, &span.end).max(start);
        Loc::new(self.file, self.base + start, end - start)
    }

    fn error(&self, message: impl Into<String>, at: &Marker) -> ParseError {
        ParseError {
            message: message.into(),
            loc: Loc::new(self.file, self.base + offset(self.text, at), 0),
        }
    }

    fn run(mut self) -> Result<Vec<Node>, ParseError> {
        let mut parser = Parser::new_from_str(self.text);
        let mut docs = Vec::new();
        let mut stack: Vec<Open> = Vec::new();
        let mut root: Option<Node> = None;
        while let Some(ev) = parser.next_event() {
            let (ev, span) = ev.map_err(|e| self.error(e.info(), e.marker()))?;
            let done: Node = match ev {
                Event::StreamStart | Event::StreamEnd => continue,
                Event::DocumentStart(..) => {
                    root = None;
                    self.anchors.clear();
                    continue;
                }
                Event::DocumentEnd => {
                    if let Some(r) = root.take() {
                        docs.push(r);
                    }
                    continue;
                }
                Event::Alias(id) => match self.anchors.get(&id) {
                    Some(n) => {
                        self.nodes += count(n);
                        n.clone()
                    }
                    None => return Err(self.error("alias to an unknown anchor", &span.start)),
                },
                Event::Scalar(v, style, anchor, tag) => {
                    let loc = self.loc(&span);
                    let value = resolve(&v, style, tag.as_deref());
                    self.anchor(anchor, Node::new(value, loc))
                }
                Event::SequenceStart(_, anchor, _) => {
                    if stack.len() >= MAX_DEPTH {
                        return Err(self.error(
                            format!("nesting deeper than {MAX_DEPTH} levels"),
                            &span.start,
                        ));
                    }
                    stack.push(Open::Seq {
                        loc: self.loc(&span).start_only(),
                        anchor,
                        items: Vec::new(),
                    });
                    continue;
                }
                Event::MappingStart(_, anchor, _) => {
                    if stack.len() >= MAX_DEPTH {
                        return Err(self.error(
                            format!("nesting deeper than {MAX_DEPTH} levels"),
                            &span.start,
                        ));
                    }
                    stack.push(Open::Map {
                        loc: self.loc(&span).start_only(),
                        anchor,
                        entries: Vec::new(),
                        key: None,
                        merges: Vec::new(),
                    });
                    continue;
                }
                Event::SequenceEnd | Event::MappingEnd => match stack.pop() {
                    Some(Open::Seq { loc, anchor, items }) => {
                        let loc = loc.through(items.last().map(|n| n.loc));
                        self.anchor(anchor, Node::new(Value::Seq(items), loc))
                    }
                    Some(Open::Map {
                        loc,
                        anchor,
                        mut entries,
                        merges,
                        ..
                    }) => {
                        let loc = loc.through(entries.last().map(|(_, v)| v.loc));
                        merge_keys(&mut entries, merges);
                        self.anchor(anchor, Node::new(Value::Map(Map(entries)), loc))
                    }
                    None => continue,
                },
                _ => continue,
            };
            self.nodes += 1;
            if self.nodes > self.budget {
                return Err(self.error(
                    "too many values: is an alias expanded over and over?",
                    &span.start,
                ));
            }
            match stack.last_mut() {
                None => root = Some(done),
                Some(Open::Seq { items, .. }) => items.push(done),
                Some(Open::Map {
                    entries,
                    key,
                    merges,
                    ..
                }) => match key.take() {
                    None => {
                        let loc = done.loc;
                        // A string key is moved, not copied: keys are half the scalars.
                        let name = match done.value {
                            Value::Str(s) => s,
                            Value::Null => String::new(),
                            ref v => match Node::new(v.clone(), loc).scalar_text() {
                                Some(t) => t,
                                None => {
                                    return Err(
                                        self.error("a mapping key must be a scalar", &span.start)
                                    );
                                }
                            },
                        };
                        *key = Some(Key { name, loc });
                    }
                    Some(k) if k.name == "<<" && !matches!(done.value, Value::Str(_)) => {
                        merges.push(done)
                    }
                    Some(k) => entries.push((k, done)),
                },
            }
        }
        Ok(docs
            .into_iter()
            .filter(|d| !(d.is_null() && d.loc.len == 0))
            .collect())
    }

    fn anchor(&mut self, id: usize, n: Node) -> Node {
        if id != 0 {
            self.anchors.insert(id, n.clone());
        }
        n
    }
}

impl Loc {
    /// Where a collection starts; its length is set when it ends (see [`Loc::through`]).
    fn start_only(self) -> Loc {
        Loc { len: 0, ..self }
    }

    /// This location extended to the end of `last` (a collection's last child), so that a
    /// collection spans its whole text; renderers cut it at the end of its first line.
    fn through(self, last: Option<Loc>) -> Loc {
        match last {
            Some(l) if l.file == self.file && l.start + l.len > self.start => Loc {
                len: l.start + l.len - self.start,
                ..self
            },
            _ => self,
        }
    }
}

fn count(n: &Node) -> usize {
    match &n.value {
        Value::Seq(s) => 1 + s.iter().map(count).sum::<usize>(),
        Value::Map(m) => 1 + m.0.iter().map(|(_, v)| count(v)).sum::<usize>(),
        _ => 1,
    }
}

/// `<<: *base` (or a list of them): the merged mappings' entries whose keys the mapping does
/// not write itself, earlier merges winning, as YAML 1.1 merge keys do.
fn merge_keys(entries: &mut Vec<(Key, Node)>, merges: Vec<Node>) {
    for m in merges {
        let sources: Vec<Node> = match m.value {
            Value::Seq(s) => s,
            _ => vec![m],
        };
        for src in sources {
            if let Value::Map(Map(src)) = src.value {
                for (k, v) in src {
                    if !entries.iter().any(|(e, _)| e.name == k.name) {
                        entries.push((k, v));
                    }
                }
            }
        }
    }
}

fn offset(text: &str, m: &Marker) -> usize {
    m.byte_offset()
        .unwrap_or_else(|| offset_of(text, m.line(), m.col() + 1))
        .min(text.len())
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

/// A scalar's value: quoted and block scalars are strings; plain ones are resolved by the
/// YAML 1.2 core schema (so `yes`, `on` and `52:54:00:12:34:56` stay strings). A `!!str`,
/// `!!int`, `!!float`, `!!bool` or `!!null` tag forces the type where the text allows it.
fn resolve(v: &str, style: ScalarStyle, tag: Option<&Tag>) -> Value {
    let core = tag.filter(|t| t.is_yaml_core_schema()).map(|t| t.suffix());
    match core {
        Some("str") => return Value::Str(v.to_string()),
        Some("int") => return int(v).map_or_else(|| Value::Str(v.to_string()), Value::Int),
        Some("float") => {
            return float(v)
                .or_else(|| v.parse().ok())
                .map_or_else(|| Value::Str(v.to_string()), Value::Float);
        }
        Some("bool") => return boolean(v).map_or_else(|| Value::Str(v.to_string()), Value::Bool),
        Some("null") => return Value::Null,
        _ => {}
    }
    if style != ScalarStyle::Plain || tag.is_some() {
        return Value::Str(v.to_string());
    }
    if matches!(v, "" | "~" | "null" | "Null" | "NULL") {
        return Value::Null;
    }
    if let Some(b) = boolean(v) {
        return Value::Bool(b);
    }
    if let Some(i) = int(v) {
        return Value::Int(i);
    }
    if let Some(f) = float(v) {
        return Value::Float(f);
    }
    Value::Str(v.to_string())
}

fn boolean(v: &str) -> Option<bool> {
    match v {
        "true" | "True" | "TRUE" => Some(true),
        "false" | "False" | "FALSE" => Some(false),
        _ => None,
    }
}

fn int(v: &str) -> Option<i64> {
    if let Some(o) = v.strip_prefix("0o") {
        return i64::from_str_radix(o, 8)
            .ok()
            .filter(|_| o.bytes().all(|c| c.is_ascii_digit()));
    }
    if let Some(h) = v.strip_prefix("0x") {
        return i64::from_str_radix(h, 16)
            .ok()
            .filter(|_| h.bytes().all(|c| c.is_ascii_hexdigit()));
    }
    let digits = v.strip_prefix(['-', '+']).unwrap_or(v);
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    // Beyond i64 it is read as a float, as other loaders do.
    v.parse::<i64>().ok()
}

fn float(v: &str) -> Option<f64> {
    match v {
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => return Some(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => return Some(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Some(f64::NAN),
        _ => {}
    }
    // [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
    let b = v.strip_prefix(['-', '+']).unwrap_or(v).as_bytes();
    let mut i = 0;
    let int_digits = b.iter().take_while(|c| c.is_ascii_digit()).count();
    i += int_digits;
    let mut frac_digits = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        frac_digits = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        i += frac_digits;
    }
    if int_digits == 0 && frac_digits == 0 {
        return None;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'-' | b'+')) {
            i += 1;
        }
        let e = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        if e == 0 {
            return None;
        }
        i += e;
    }
    if i != b.len() {
        return None;
    }
    v.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(t: &str) -> Vec<Node> {
        parse_documents(FileId(3), t).unwrap()
    }

    #[test]
    fn offsets_of_lines_and_columns() {
        let t = "ab\ncdé\nx";
        assert_eq!(offset_of(t, 2, 3), 5);
        assert_eq!(offset_of(t, 3, 1), 8);
        assert_eq!(offset_of(t, 9, 1), 9);
    }

    #[test]
    fn pieces_parse_to_the_same_trees_as_the_whole() {
        let mut text = String::from("a: 0\n");
        for i in 1..400 {
            text.push_str(&format!("---\nk{i}: |\n  text {i}\n  ---x\nl: [1, 2]\n"));
        }
        text.push_str("--- \nlast: true\n...\n");
        let pieces = split_documents(&text, 1000);
        assert!(pieces.len() > 3, "{pieces:?}");
        assert_eq!(pieces.first().unwrap().0, 0);
        assert_eq!(pieces.last().unwrap().1, text.len());
        let mut parts = Vec::new();
        for (a, b) in pieces {
            parts.extend(parse_documents_at(FileId(1), &text[a..b], a).unwrap());
        }
        assert_eq!(parts, parse_documents(FileId(1), &text).unwrap());
        assert_eq!(split_documents("%YAML 1.2\n---\na: 1\n", 1), [(0, 19)]);
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
    fn indentation_mistakes_are_explained_at_the_line_to_fix() {
        let check = |t: &str, line: usize, words: &str| {
            let e = parse_documents(FileId(0), t).unwrap_err();
            let (msg, loc, help) = explain(t, FileId(0), &e);
            let at = t[..loc.start as usize].matches('\n').count() + 1;
            assert_eq!(at, line, "{msg} / {}", e.message);
            assert!(msg.contains(words), "{msg}");
            assert!(!help.is_empty());
        };
        check(
            "data:\n  cidr: x\n   mtu: 1\n",
            3,
            "indented more than line 2",
        );
        check(
            "data:\n  dns: a\n    domain: b\n",
            3,
            "`dns` there already has a value",
        );
        check(
            "data:\n  ranges:\n    - type: s\n     start: x\n",
            4,
            "list item on line 3 start at 6",
        );
        check("data:\n  cidr: x\n mtu: 1\n", 3, "lines up with no line");
        // A block scalar's lines are its text, not keys.
        check(
            "a: |\n   text\n     more\nb: 1\n  c: 2\n",
            5,
            "`b` there already has a value",
        );
        // Not an indentation problem: the parser's words stay.
        let t = "a: [1, 2\nb: 3\n";
        let e = parse_documents(FileId(0), t).unwrap_err();
        assert!(explain(t, FileId(0), &e).0.starts_with("YAML syntax error"));
    }

    #[test]
    fn syntax_error_has_a_location() {
        let e = parse_documents(FileId(0), "a: [1, 2\nb: 3\n").unwrap_err();
        assert!(!e.message.is_empty());
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let t = "[".repeat(100_000);
        assert!(parse_documents(FileId(0), &t).is_err());
        let t = (0..200)
            .map(|i| format!("{}k:\n", "  ".repeat(i)))
            .collect::<String>();
        assert!(parse_documents(FileId(0), &t).is_err());
        let t = (0..60)
            .map(|i| format!("{}k:\n", "  ".repeat(i)))
            .collect::<String>();
        assert!(parse_documents(FileId(0), &t).is_ok());
    }

    #[test]
    fn alias_bombs_are_bounded() {
        let mut t = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let p = i - 1;
            t.push_str(&format!("a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"));
        }
        let e = parse_documents(FileId(0), &t).unwrap_err();
        assert!(e.message.contains("too many values"));
    }

    #[test]
    fn aliases_and_merge_keys() {
        let docs = parse("base: &b {x: 1, y: 2}\nc:\n  <<: *b\n  y: 3\nd: *b\n");
        assert_eq!(docs[0].at(&["c", "x"]).unwrap().as_i64(), Some(1));
        assert_eq!(docs[0].at(&["c", "y"]).unwrap().as_i64(), Some(3));
        assert_eq!(docs[0].at(&["d", "y"]).unwrap().as_i64(), Some(2));
    }

    #[test]
    fn core_schema_scalars() {
        let docs = parse(
            "a: ~\nb: 1.5\nc: -3\nd: 0x1f\ne: !!str 12\nf: True\ng: 1e3\nh: 1.2.3\ni: '1'\nj: 99999999999999999999\n",
        );
        let d = &docs[0];
        assert!(d.get("a").unwrap().is_null());
        assert_eq!(d.get("b").unwrap().value, Value::Float(1.5));
        assert_eq!(d.get("c").unwrap().as_i64(), Some(-3));
        assert_eq!(d.get("d").unwrap().as_i64(), Some(31));
        assert_eq!(d.get("e").unwrap().as_str(), Some("12"));
        assert_eq!(d.get("f").unwrap().as_bool(), Some(true));
        assert_eq!(d.get("g").unwrap().value, Value::Float(1000.0));
        assert_eq!(d.get("h").unwrap().as_str(), Some("1.2.3"));
        assert_eq!(d.get("i").unwrap().as_str(), Some("1"));
        assert!(matches!(d.get("j").unwrap().value, Value::Float(_)));
    }
}
