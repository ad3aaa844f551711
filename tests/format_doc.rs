//! `docs/format.md` against `schemas/`: every field of every kind's schema is in the kind's
//! table and every row is a field, with the same `required` mark, the same default, and a type
//! that names the schema's type and every enumerated value. So the reference cannot drift.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

const KINDS: [&str; 8] = [
    "Region",
    "Network",
    "NetworkLink",
    "HardwareProfile",
    "HostProfile",
    "BaremetalNode",
    "BootAction",
    "Rack",
];

/// What the table must say of a field.
#[derive(Debug, PartialEq)]
struct Field {
    required: bool,
    default: Option<String>,
    /// Words the type column must contain.
    words: Vec<String>,
}

fn resolve<'a>(schema: &'a Value, mut node: &'a Value) -> &'a Value {
    while let Some(r) = node.get("$ref").and_then(Value::as_str) {
        let name = r.strip_prefix("#/$defs/").expect("local refs only");
        node = &schema["$defs"][name];
    }
    node
}

fn words(schema: &Value, node: &Value) -> Vec<String> {
    let node = resolve(schema, node);
    let mut w = Vec::new();
    if let Some(any) = node.get("anyOf").and_then(Value::as_array) {
        for a in any {
            w.extend(words(schema, a));
        }
    }
    let types: Vec<&str> = match node.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    for t in types {
        w.push(
            match t {
                "object" if node.get("properties").is_some() => "mapping",
                "object" => "map",
                "array" => "list",
                t => t,
            }
            .to_string(),
        );
    }
    for e in node
        .get("enum")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        w.push(format!(
            "`{}`",
            e.as_str().map_or_else(|| e.to_string(), str::to_string)
        ));
    }
    if let Some(f) = node.get("format").and_then(Value::as_str) {
        w.push(f.trim_start_matches("drydock-").to_string());
    }
    w
}

fn walk(schema: &Value, node: &Value, path: &str, out: &mut BTreeMap<String, Field>) {
    let node = resolve(schema, node);
    let required: Vec<&str> = node
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    for (k, v) in node
        .get("properties")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let p = if path.is_empty() {
            k.clone()
        } else {
            format!("{path}.{k}")
        };
        let rv = resolve(schema, v);
        out.insert(
            p.clone(),
            Field {
                required: required.contains(&k.as_str()),
                default: rv.get("default").map(|d| format!("`{d}`")),
                words: words(schema, v),
            },
        );
        children(schema, rv, &p, out);
    }
}

fn children(schema: &Value, rv: &Value, p: &str, out: &mut BTreeMap<String, Field>) {
    if rv.get("properties").is_some() {
        walk(schema, rv, p, out);
    }
    let entry = |seg: String, it: &Value, out: &mut BTreeMap<String, Field>| {
        out.insert(
            seg.clone(),
            Field {
                required: false,
                default: None,
                words: vec!["mapping".into()],
            },
        );
        walk(schema, it, &seg, out);
    };
    if let Some(ap) = rv.get("additionalProperties").filter(|a| a.is_object()) {
        let apr = resolve(schema, ap);
        if apr.get("properties").is_some() {
            entry(format!("{p}.<name>"), apr, out);
        }
    }
    if let Some(it) = rv.get("items") {
        let it = resolve(schema, it);
        if it.get("properties").is_some() {
            entry(format!("{p}[]"), it, out);
        }
    }
}

/// The rows of each kind's table: field → (type, required, default).
fn tables(doc: &str) -> BTreeMap<String, BTreeMap<String, (String, String, String)>> {
    let mut out: BTreeMap<String, BTreeMap<String, (String, String, String)>> = BTreeMap::new();
    let mut kind: Option<String> = None;
    for line in doc.lines() {
        if let Some(h) = line.strip_prefix("### ") {
            kind = KINDS.contains(&h.trim()).then(|| h.trim().to_string());
            continue;
        }
        let (Some(k), Some(row)) = (&kind, line.strip_prefix("| `")) else {
            continue;
        };
        let cells: Vec<&str> = row.split(" | ").collect();
        let field = cells[0].trim_end_matches('`').to_string();
        out.entry(k.clone()).or_default().insert(
            field,
            (
                cells.get(1).unwrap_or(&"").to_string(),
                cells.get(2).unwrap_or(&"").trim().to_string(),
                cells.get(3).unwrap_or(&"").trim().to_string(),
            ),
        );
    }
    out
}

#[test]
fn the_format_reference_matches_the_schemas() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let doc = std::fs::read_to_string(root.join("docs/format.md")).unwrap();
    let tables = tables(&doc);
    for kind in KINDS {
        let schema: Value = serde_json::from_str(
            &std::fs::read_to_string(root.join(format!("schemas/{kind}.json"))).unwrap(),
        )
        .unwrap();
        let mut fields = BTreeMap::new();
        walk(&schema, &schema, "", &mut fields);
        let rows = tables
            .get(kind)
            .unwrap_or_else(|| panic!("docs/format.md has no table for {kind}"));
        let missing: Vec<&String> = fields.keys().filter(|f| !rows.contains_key(*f)).collect();
        let extra: Vec<&String> = rows.keys().filter(|f| !fields.contains_key(*f)).collect();
        assert!(
            missing.is_empty(),
            "{kind}: fields missing from docs/format.md: {missing:?}"
        );
        assert!(
            extra.is_empty(),
            "{kind}: rows of docs/format.md that are no field: {extra:?}"
        );
        for (name, f) in &fields {
            let (ty, required, default) = &rows[name];
            assert_eq!(required == "yes", f.required, "{kind} `{name}`: required");
            assert_eq!(
                default.as_str(),
                f.default.as_deref().unwrap_or(""),
                "{kind} `{name}`: default"
            );
            for w in &f.words {
                assert!(
                    ty.contains(w.as_str()),
                    "{kind} `{name}`: type `{ty}` does not say {w}"
                );
            }
        }
    }
}

#[test]
fn the_readme_does_not_send_readers_outside_the_repository() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    assert!(readme.contains("docs/format.md"));
    for doc in ["README.md", "ARCHITECTURE.md", "docs/format.md"] {
        let text = std::fs::read_to_string(root.join(doc)).unwrap();
        assert!(
            !text.contains("../shared"),
            "{doc} links outside the repository"
        );
    }
}
