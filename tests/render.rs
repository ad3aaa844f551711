//! Deckhand rendering, rule by rule: each layering and substitution rule firing and not
//! firing, each rendering finding (DD005–DD009) with its location, provenance of rendered
//! values, and a property test that a design without layering renders to itself.

use drydock::design::render::{self, Mode, Raw};
use drydock::design::yaml::parse_documents;
use drydock::diag::{Finding, Severity};
use drydock::source::{FileId, Loc, SourceFile};
use proptest::prelude::*;
use serde_json::{Value, json};

const POLICY: &str = "schema: deckhand/LayeringPolicy/v1\nmetadata: {schema: metadata/Control/v1, name: policy}\ndata: {layerOrder: [global, type, site]}\n";

/// Render `text` (one file); the rendered documents as JSON and the findings, each with the
/// 1-based line it points at.
fn render_in(text: &str, mode: Mode) -> (Vec<Value>, Vec<(Finding, u32)>) {
    let roots = parse_documents(FileId(0), text).unwrap();
    let starts: Vec<usize> = roots.iter().map(|r| r.loc.start as usize).collect();
    let raws = roots
        .into_iter()
        .enumerate()
        .map(|(i, root)| {
            let end = starts.get(i + 1).copied().unwrap_or(text.len());
            Raw {
                root,
                span: Loc::new(FileId(0), starts[i], end - starts[i]),
            }
        })
        .collect();
    let out = render::render(raws, mode);
    let file = SourceFile::new("t.yaml".into(), text.to_string());
    let findings = out
        .findings
        .into_iter()
        .map(|f| {
            let line = file.line_col(f.loc.start).0;
            (f, line)
        })
        .collect();
    (
        out.docs.iter().map(|d| d.root.to_json()).collect(),
        findings,
    )
}

fn render(text: &str) -> (Vec<Value>, Vec<(Finding, u32)>) {
    render_in(text, Mode::Lenient)
}

/// The rendered data of the document named `name`.
fn data<'a>(docs: &'a [Value], name: &str) -> &'a Value {
    &docs
        .iter()
        .find(|d| d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no document {name} in {docs:#?}"))["data"]
}

fn names(docs: &[Value]) -> Vec<String> {
    docs.iter()
        .map(|d| d["metadata"]["name"].as_str().unwrap().to_string())
        .collect()
}

/// A document in `layer` with `meta` (YAML flow entries) and `data` (a flow mapping).
fn doc(schema: &str, name: &str, layer: &str, meta: &str, data: &str) -> String {
    format!(
        "---\nschema: {schema}\nmetadata:\n  schema: metadata/Document/v1\n  name: {name}\n  layeringDefinition: {{layer: {layer}{meta}}}\ndata: {data}\n"
    )
}

const HP: &str = "drydock/HostProfile/v1";

fn codes(f: &[(Finding, u32)]) -> Vec<&'static str> {
    f.iter().map(|(f, _)| f.code).collect()
}

// Layer order and abstract documents.

#[test]
fn abstract_documents_render_but_are_not_output() {
    let t = format!(
        "{POLICY}{}{}",
        doc(HP, "g", "global", ", abstract: true", "{a: 1}"),
        doc(
            HP,
            "s",
            "site",
            ", parentSelector: {n: g}, actions: [{method: merge, path: .}]",
            "{b: 2}"
        )
    )
    .replace("name: g\n", "name: g\n  labels: {n: g}\n");
    let (docs, f) = render(&t);
    assert!(f.is_empty(), "{f:#?}");
    assert_eq!(names(&docs), ["policy", "s"]);
    assert_eq!(data(&docs, "s"), &json!({"a": 1, "b": 2}));
}

#[test]
fn a_layer_not_in_the_policy_is_dd005_at_the_layer() {
    let t = format!("{POLICY}{}", doc(HP, "x", "region", "", "{}"));
    let (_, f) = render(&t);
    assert_eq!(codes(&f), ["DD005"]);
    assert_eq!(f[0].1, 9, "the `layer:` line");
    assert!(f[0].0.message.contains("region"));
    let (_, f) = render(&format!("{POLICY}{}", doc(HP, "x", "site", "", "{}")));
    assert!(f.is_empty());
}

#[test]
fn layering_without_a_policy_is_a_warning_lenient_and_an_error_strict() {
    let t = doc(
        HP,
        "s",
        "site",
        ", parentSelector: {n: g}, actions: [{method: merge, path: .}]",
        "{}",
    );
    let (_, f) = render(&t);
    assert_eq!(codes(&f), ["DD005"]);
    assert_eq!(f[0].0.severity, Severity::Warning);
    let (_, f) = render_in(&t, Mode::Strict);
    assert_eq!(f[0].0.severity, Severity::Error);
    // Documents that only say their layer (rendered output) need no policy.
    let (_, f) = render(&doc(HP, "s", "site", "", "{}"));
    assert!(f.is_empty(), "{f:#?}");
}

#[test]
fn duplicates_first_wins_and_are_dd005() {
    let t = format!(
        "{POLICY}{}{}",
        doc(HP, "x", "site", "", "{v: 1}"),
        doc(HP, "x", "site", "", "{v: 2}")
    );
    let (docs, f) = render(&t);
    assert_eq!(codes(&f), ["DD005"]);
    assert_eq!(f[0].1, 15, "the second document's name");
    assert_eq!(data(&docs, "x"), &json!({"v": 1}));
    assert_eq!(docs.len(), 2);
    // Same schema and name in two layers, without replacement: an error too.
    let t = format!(
        "{POLICY}{}{}",
        doc(HP, "x", "global", "", "{v: 1}"),
        doc(HP, "x", "site", "", "{v: 2}")
    );
    assert_eq!(codes(&render(&t).1), ["DD005"]);
}

// Parent selection.

fn labelled(schema: &str, name: &str, layer: &str, labels: &str, data: &str) -> String {
    doc(schema, name, layer, "", data).replace(
        &format!("name: {name}\n"),
        &format!("name: {name}\n  labels: {labels}\n"),
    )
}

const CHILD: &str = ", parentSelector: {role: cp}, actions: [{method: merge, path: .}]";

#[test]
fn the_parent_is_in_the_closest_higher_layer() {
    let t = format!(
        "{POLICY}{}{}{}",
        labelled(HP, "g", "global", "{role: cp}", "{a: global, b: global}"),
        labelled(HP, "t", "type", "{role: cp}", "{a: type}"),
        doc(HP, "s", "site", CHILD, "{c: site}")
    );
    let (docs, f) = render(&t);
    assert!(f.is_empty(), "{f:#?}");
    // t has no parent selector: only t's data, then the site's.
    assert_eq!(data(&docs, "s"), &json!({"a": "type", "c": "site"}));
}

#[test]
fn two_parents_in_one_layer_is_dd006() {
    let t = format!(
        "{POLICY}{}{}{}",
        labelled(HP, "g1", "global", "{role: cp}", "{a: 1}"),
        labelled(HP, "g2", "global", "{role: cp}", "{a: 2}"),
        doc(HP, "s", "site", CHILD, "{}")
    );
    let (docs, f) = render(&t);
    assert_eq!(codes(&f), ["DD006"]);
    assert_eq!(f[0].1, 25, "the parentSelector");
    assert_eq!(f[0].0.related.len(), 2);
    assert_eq!(data(&docs, "s"), &json!({"a": 1}), "the first is used");
}

#[test]
fn a_parent_of_another_schema_or_a_lower_layer_is_dd006() {
    let t = format!(
        "{POLICY}{}{}",
        labelled("drydock/Network/v1", "g", "global", "{role: cp}", "{a: 1}"),
        doc(HP, "s", "site", CHILD, "{}")
    );
    let (_, f) = render(&t);
    assert_eq!(codes(&f), ["DD006"]);
    assert!(f[0].0.message.contains("another schema"), "{f:#?}");
    let t = format!(
        "{POLICY}{}{}",
        doc(HP, "t", "type", CHILD, "{}"),
        labelled(HP, "s", "site", "{role: cp}", "{}"),
    );
    let (_, f) = render(&t);
    assert!(
        f.iter()
            .any(|(f, _)| f.message.contains("not in a higher layer")),
        "{f:#?}"
    );
}

#[test]
fn no_parent_with_actions_is_a_warning_without_actions_nothing() {
    let (docs, f) = render(&format!(
        "{POLICY}{}",
        doc(HP, "s", "site", CHILD, "{c: 1}")
    ));
    assert_eq!(codes(&f), ["DD006"]);
    assert_eq!(f[0].0.severity, Severity::Warning);
    assert_eq!(data(&docs, "s"), &json!({"c": 1}));
    let quiet = ", parentSelector: {role: cp}";
    let (_, f) = render(&format!(
        "{POLICY}{}",
        doc(HP, "s", "site", quiet, "{c: 1}")
    ));
    assert!(f.is_empty());
}

#[test]
fn a_parent_without_actions_gives_nothing() {
    let t = format!(
        "{POLICY}{}{}",
        labelled(HP, "g", "global", "{role: cp}", "{a: 1}"),
        doc(HP, "s", "site", ", parentSelector: {role: cp}", "{c: 1}")
    );
    let (docs, f) = render(&t);
    assert!(f.is_empty());
    assert_eq!(data(&docs, "s"), &json!({"c": 1}));
}

// Replacement.

#[test]
fn a_replacement_stands_in_for_its_parent_for_every_user() {
    let t = format!(
        "{POLICY}{}{}{}{}",
        labelled(HP, "x", "global", "{role: cp}", "{a: global, b: global}"),
        doc(HP, "x", "site", CHILD, "{a: replaced}")
            .replace("name: x\n", "name: x\n  replacement: true\n"),
        doc(HP, "child", "site", CHILD, "{c: 1}"),
        doc("pegleg/CommonAddresses/v1", "user", "site", "", "{}")
        .replace(
            "  layeringDefinition",
            "  substitutions:\n    - {src: {schema: drydock/HostProfile/v1, name: x, path: .a}, dest: {path: .a}}\n  layeringDefinition"
        ),
    );
    let (docs, f) = render(&t);
    assert!(f.is_empty(), "{f:#?}");
    // The replaced parent leaves the output: one `x`, the replacement.
    assert_eq!(names(&docs), ["policy", "x", "child", "user"]);
    assert_eq!(data(&docs, "x"), &json!({"a": "replaced", "b": "global"}));
    assert_eq!(
        data(&docs, "child"),
        &json!({"a": "replaced", "b": "global", "c": 1})
    );
    assert_eq!(data(&docs, "user"), &json!({"a": "replaced"}));
}

#[test]
fn replacement_mistakes_are_dd006() {
    // A replacement with another name.
    let t = format!(
        "{POLICY}{}{}",
        labelled(HP, "x", "global", "{role: cp}", "{a: 1}"),
        doc(HP, "y", "site", CHILD, "{}").replace("name: y\n", "name: y\n  replacement: true\n"),
    );
    assert_eq!(codes(&render(&t).1), ["DD006"]);
    // A child with its parent's name that is not a replacement.
    let t = format!(
        "{POLICY}{}{}",
        labelled(HP, "x", "global", "{role: cp}", "{a: 1}"),
        doc(HP, "x", "site", CHILD, "{}"),
    );
    assert!(codes(&render(&t).1).contains(&"DD006"));
}

// Actions.

#[test]
fn merge_replaces_lists_and_replace_and_delete_do_what_they_say() {
    let parent = labelled(
        HP,
        "g",
        "global",
        "{role: cp}",
        "{interfaces: {pxe: {networks: [pxe]}, bond0: {networks: [a, b]}}, storage: {sda: 1}, metadata: {owner_data: {a: 1, b: 2}}, gone: 1}",
    );
    let actions = ", parentSelector: {role: cp}, actions: [{method: merge, path: .interfaces}, {method: replace, path: .metadata.owner_data}, {method: delete, path: .gone}]";
    let t = format!(
        "{POLICY}{parent}{}",
        doc(
            HP,
            "s",
            "site",
            actions,
            "{interfaces: {bond0: {networks: [c]}}, metadata: {owner_data: {z: 9}}}"
        )
    );
    let (docs, f) = render(&t);
    assert!(f.is_empty(), "{f:#?}");
    assert_eq!(
        data(&docs, "s"),
        &json!({
            "interfaces": {"pxe": {"networks": ["pxe"]}, "bond0": {"networks": ["c"]}},
            "storage": {"sda": 1},
            "metadata": {"owner_data": {"z": 9}}
        })
    );
}

#[test]
fn action_failures_are_dd007_at_the_action() {
    let parent = labelled(HP, "g", "global", "{role: cp}", "{a: 1}");
    for (action, what) in [
        ("{method: replace, path: .missing}", "has no value"),
        ("{method: merge, path: .missing}", "has no value"),
        ("{method: delete, path: .missing}", "parent of"),
        ("{method: move, path: .a}", "unknown layering method"),
        ("{method: merge, path: '.a..b'}", "bad path"),
    ] {
        let meta = format!(", parentSelector: {{role: cp}}, actions: [{action}]");
        let (_, f) = render(&format!(
            "{POLICY}{parent}{}",
            doc(HP, "s", "site", &meta, "{b: null}")
        ));
        assert_eq!(codes(&f), ["DD007"], "{action}");
        assert!(f[0].0.message.contains(what), "{action}: {f:#?}");
        assert_eq!(f[0].1, 17, "{action}: the layeringDefinition line");
    }
    // replace of a null is an error too.
    let meta = ", parentSelector: {role: cp}, actions: [{method: replace, path: .b}]";
    let (_, f) = render(&format!(
        "{POLICY}{parent}{}",
        doc(HP, "s", "site", meta, "{b: null}")
    ));
    assert_eq!(codes(&f), ["DD007"]);
}

#[test]
fn delete_of_the_root_leaves_an_empty_map() {
    let parent = labelled(HP, "g", "global", "{role: cp}", "{a: 1}");
    let meta = ", parentSelector: {role: cp}, actions: [{method: delete, path: .}, {method: merge, path: .}]";
    let (docs, f) = render(&format!(
        "{POLICY}{parent}{}",
        doc(HP, "s", "site", meta, "{b: 2}")
    ));
    assert!(f.is_empty(), "{f:#?}");
    assert_eq!(data(&docs, "s"), &json!({"b": 2}));
}

// Substitutions.

fn with_subs(d: String, subs: &str) -> String {
    d.replace(
        "  layeringDefinition",
        &format!("  substitutions:\n{subs}  layeringDefinition"),
    )
}

const PASS: &str = "---\nschema: deckhand/Passphrase/v1\nmetadata: {schema: metadata/Document/v1, name: pw, storagePolicy: encrypted, layeringDefinition: {layer: site}}\ndata: s3cret\n";
const ADDR: &str = "---\nschema: pegleg/CommonAddresses/v1\nmetadata: {schema: metadata/Document/v1, name: addr, layeringDefinition: {layer: site}}\ndata: {dns: {servers: [8.8.8.8, 8.8.4.4]}, ntp: 'ntp1.example.com,ntp2.example.com', url: 'http://10.0.0.1:8080/path'}\n";

#[test]
fn path_substitution_creates_missing_parts_and_takes_a_passphrase_whole() {
    let subs = "    - {src: {schema: deckhand/Passphrase/v1, name: pw, path: .}, dest: {path: .oob.credential}}\n    - {src: {schema: pegleg/CommonAddresses/v1, name: addr, path: .dns.servers}, dest: [{path: '.list[2].servers'}, {path: .copy}]}\n";
    let t = format!(
        "{POLICY}{PASS}{ADDR}{}",
        with_subs(doc(HP, "s", "site", "", "{}"), subs)
    );
    let (docs, f) = render(&t);
    assert!(f.is_empty(), "{f:#?}");
    assert_eq!(
        data(&docs, "s"),
        &json!({
            "oob": {"credential": "s3cret"},
            "list": [{}, {}, {"servers": ["8.8.8.8", "8.8.4.4"]}],
            "copy": ["8.8.8.8", "8.8.4.4"]
        })
    );
}

#[test]
fn patterns_in_source_and_destination() {
    let subs = "    - {src: {schema: pegleg/CommonAddresses/v1, name: addr, path: .url, pattern: '^http://([0-9.]+):', match_group: 1}, dest: {path: .ip}}\n    - {src: {schema: pegleg/CommonAddresses/v1, name: addr, path: .ntp, pattern: '^([^,]+)'}, dest: {path: .cmd, pattern: NTP_SERVER}}\n    - {src: {schema: pegleg/CommonAddresses/v1, name: addr, path: .ntp, pattern: 'nomatch(x)', match_group: 1}, dest: {path: .whole}}\n";
    let d = with_subs(
        doc(
            HP,
            "s",
            "site",
            "",
            "{cmd: 'ntpdate NTP_SERVER && echo NTP_SERVER'}",
        ),
        subs,
    );
    let (docs, f) = render(&format!("{POLICY}{ADDR}{d}"));
    assert!(f.is_empty(), "{f:#?}");
    assert_eq!(
        data(&docs, "s"),
        &json!({
            "cmd": "ntpdate ntp1.example.com && echo ntp1.example.com",
            "ip": "10.0.0.1",
            "whole": "ntp1.example.com,ntp2.example.com"
        })
    );
}

#[test]
fn recurse_replaces_every_string_down_to_the_depth() {
    let sub = |depth: i64| {
        format!(
            "    - {{src: {{schema: deckhand/Passphrase/v1, name: pw, path: .}}, dest: {{path: .a, pattern: PW, recurse: {{depth: {depth}}}}}}}\n"
        )
    };
    let data_ = "{a: {x: 'u:PW', l: ['PW', {deep: 'PW!'}]}}";
    let (docs, f) = render(&format!(
        "{POLICY}{PASS}{}",
        with_subs(doc(HP, "s", "site", "", data_), &sub(-1))
    ));
    assert!(f.is_empty(), "{f:#?}");
    assert_eq!(
        data(&docs, "s"),
        &json!({"a": {"x": "u:s3cret", "l": ["s3cret", {"deep": "s3cret!"}]}})
    );
    let (docs, _) = render(&format!(
        "{POLICY}{PASS}{}",
        with_subs(doc(HP, "s", "site", "", data_), &sub(1))
    ));
    assert_eq!(
        data(&docs, "s"),
        &json!({"a": {"x": "u:s3cret", "l": ["PW", {"deep": "PW!"}]}})
    );
}

#[test]
fn root_destination_merges_top_level_keys() {
    let subs = "    - {src: {schema: pegleg/CommonAddresses/v1, name: addr, path: .dns}, dest: {path: .}}\n";
    let (docs, f) = render(&format!(
        "{POLICY}{ADDR}{}",
        with_subs(doc(HP, "s", "site", "", "{keep: 1, servers: old}"), subs)
    ));
    assert!(f.is_empty(), "{f:#?}");
    assert_eq!(
        data(&docs, "s"),
        &json!({"keep": 1, "servers": ["8.8.8.8", "8.8.4.4"]})
    );
}

#[test]
fn a_missing_source_is_a_warning_lenient_an_error_strict_at_the_entry() {
    let subs = "    - {src: {schema: deckhand/Passphrase/v1, name: nope, path: .}, dest: {path: .oob.credential}}\n";
    let t = format!(
        "{POLICY}{}",
        with_subs(doc(HP, "s", "site", "", "{a: 1}"), subs)
    );
    let (docs, f) = render(&t);
    assert_eq!(codes(&f), ["DD008"]);
    assert_eq!(f[0].0.severity, Severity::Warning);
    assert_eq!(f[0].1, 10, "the substitution entry");
    assert_eq!(data(&docs, "s"), &json!({"a": 1}), "skipped");
    let (_, f) = render_in(&t, Mode::Strict);
    assert_eq!(f[0].0.severity, Severity::Error);
    // A source without a value at the path, the same.
    let subs = "    - {src: {schema: pegleg/CommonAddresses/v1, name: addr, path: .nope}, dest: {path: .x}}\n";
    let (_, f) = render(&format!(
        "{POLICY}{ADDR}{}",
        with_subs(doc(HP, "s", "site", "", "{}"), subs)
    ));
    assert_eq!(codes(&f), ["DD008"]);
}

#[test]
fn abstract_documents_are_not_sources() {
    let subs =
        "    - {src: {schema: pegleg/CommonAddresses/v1, name: a, path: .x}, dest: {path: .x}}\n";
    let t = format!(
        "{POLICY}{}{}",
        doc(
            "pegleg/CommonAddresses/v1",
            "a",
            "global",
            ", abstract: true",
            "{x: 1}"
        ),
        with_subs(doc(HP, "s", "site", "", "{}"), subs)
    );
    assert_eq!(codes(&render(&t).1), ["DD008"]);
}

#[test]
fn destination_problems_are_dd008() {
    for (sub, what) in [
        ("{path: .n, pattern: X}", "not a string"),
        ("{path: .t, pattern: MISSING}", "not found"),
        ("{path: .t, pattern: '(['}", "not a regular expression"),
        ("{path: .t.deeper}", "cannot set"),
        ("{path: .nothing, pattern: X}", "nothing at"),
    ] {
        let subs = format!(
            "    - {{src: {{schema: deckhand/Passphrase/v1, name: pw, path: .}}, dest: {sub}}}\n"
        );
        let (_, f) = render(&format!(
            "{POLICY}{PASS}{}",
            with_subs(doc(HP, "s", "site", "", "{n: 1, t: text}"), &subs)
        ));
        assert_eq!(codes(&f), ["DD008"], "{sub}");
        assert!(f[0].0.message.contains(what), "{sub}: {f:#?}");
    }
}

#[test]
fn substitution_runs_after_layering_in_dependency_order() {
    // The site child substitutes from a document that itself is layered and substituted.
    let subs_a =
        "    - {src: {schema: deckhand/Passphrase/v1, name: pw, path: .}, dest: {path: .pw}}\n";
    let subs_s = "    - {src: {schema: pegleg/CommonAddresses/v1, name: a, path: .pw}, dest: {path: .from_a}}\n";
    let t = format!(
        "{POLICY}{}{}{}{PASS}",
        with_subs(doc(HP, "s", "site", CHILD, "{own: 1}"), subs_s),
        labelled(
            HP,
            "g",
            "global",
            "{role: cp}",
            "{inherited: 1, from_a: overwritten}"
        ),
        with_subs(
            doc("pegleg/CommonAddresses/v1", "a", "site", "", "{}"),
            subs_a
        ),
    );
    let (docs, f) = render(&t);
    assert!(f.is_empty(), "{f:#?}");
    assert_eq!(
        data(&docs, "s"),
        &json!({"inherited": 1, "from_a": "s3cret", "own": 1})
    );
}

#[test]
fn a_cycle_is_dd009_once() {
    let a = with_subs(
        doc("pegleg/CommonAddresses/v1", "a", "site", "", "{x: 1}"),
        "    - {src: {schema: pegleg/CommonAddresses/v1, name: b, path: .y}, dest: {path: .y}}\n",
    );
    let b = with_subs(
        doc("pegleg/CommonAddresses/v1", "b", "site", "", "{y: 1}"),
        "    - {src: {schema: pegleg/CommonAddresses/v1, name: a, path: .x}, dest: {path: .x}}\n",
    );
    let (docs, f) = render(&format!("{POLICY}{a}{b}"));
    assert_eq!(codes(&f), ["DD009"]);
    assert_eq!(f[0].1, 10, "the substitution that closes it");
    assert!(f[0].0.message.contains("`a` → `b` → `a`"), "{f:#?}");
    assert_eq!(docs.len(), 3, "still rendered, as written");
    let (_, f) = render(&format!(
        "{POLICY}{a}{}",
        doc("pegleg/CommonAddresses/v1", "b", "site", "", "{y: 1}")
    ));
    assert!(f.is_empty());
}

// Provenance.

#[test]
fn rendered_values_point_where_they_are_written() {
    let t = format!(
        "{POLICY}{}{}{PASS}",
        labelled(HP, "g", "global", "{role: cp}", "{mtu: 9000}"),
        with_subs(
            doc(HP, "s", "site", CHILD, "{own: 1}"),
            "    - {src: {schema: deckhand/Passphrase/v1, name: pw, path: .}, dest: {path: .oob.credential}}\n"
        ),
    );
    let roots = parse_documents(FileId(0), &t).unwrap();
    let starts: Vec<usize> = roots.iter().map(|r| r.loc.start as usize).collect();
    let raws: Vec<Raw> = roots
        .into_iter()
        .enumerate()
        .map(|(i, root)| Raw {
            root,
            span: Loc::new(
                FileId(0),
                starts[i],
                starts.get(i + 1).copied().unwrap_or(t.len()) - starts[i],
            ),
        })
        .collect();
    let out = render::render(raws, Mode::Lenient);
    let s = out
        .docs
        .iter()
        .find(|d| d.root.at(&["metadata", "name"]).unwrap().as_str() == Some("s"))
        .unwrap();
    let mtu = s.root.at(&["data", "mtu"]).unwrap();
    assert_eq!(
        &t[mtu.loc.start as usize..][..4],
        "9000",
        "in the global document"
    );
    let cred = s.root.at(&["data", "oob", "credential"]).unwrap();
    assert_eq!(&t[cred.loc.start as usize..][..6], "s3cret");
    assert!(out.provenance.is_secret(cred.loc));
    assert!(!out.provenance.is_secret(mtu.loc));
    let mut f = Finding::error("DD2003", mtu.loc, "mtu");
    out.provenance.annotate(&mut f);
    let msgs: Vec<&str> = f.related.iter().map(|r| r.message.as_str()).collect();
    assert!(msgs[0].contains("written in layer `global`"), "{msgs:?}");
    assert!(
        msgs[1].contains("inherited by drydock/HostProfile/v1 `s` (layer site)"),
        "{msgs:?}"
    );
    let mut f = Finding::error("DD4001", cred.loc, "cred");
    out.provenance.annotate(&mut f);
    assert!(
        f.related.iter().any(|r| r
            .message
            .contains("substituted from deckhand/Passphrase/v1 `pw`")),
        "{:?}",
        f.related
    );
}

// A design with no layering renders to itself.

fn plain_value() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        "[a-z]{1,8}".prop_map(|s| s),
        any::<i32>().prop_map(|i| i.to_string()),
        Just("true".to_string()),
        Just("null".to_string()),
        Just("'quoted text'".to_string()),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(|v| format!("[{}]", v.join(", "))),
            prop::collection::btree_map("[a-z]{1,6}", inner, 0..4).prop_map(|m| {
                let e: Vec<String> = m.into_iter().map(|(k, v)| format!("{k}: {v}")).collect();
                format!("{{{}}}", e.join(", "))
            }),
        ]
    })
}

proptest! {
    #[test]
    fn a_design_without_layering_renders_to_itself(values in prop::collection::vec(plain_value(), 1..6)) {
        let text: String = values
            .iter()
            .enumerate()
            .map(|(i, v)| format!("---\nschema: drydock/Network/v1\nmetadata: {{name: n{i}, labels: {{a: b}}}}\ndata: {{v: {v}}}\n"))
            .collect();
        let roots = parse_documents(FileId(0), &text).unwrap();
        let raws: Vec<Raw> = roots.iter().cloned().map(|root| Raw { span: root.loc, root }).collect();
        prop_assert!(!render::needed(&raws));
        let out = render::render(raws, Mode::Strict);
        prop_assert!(out.findings.is_empty());
        let back: Vec<_> = out.docs.into_iter().map(|d| d.root).collect();
        prop_assert_eq!(back, roots);
    }
}

#[test]
fn a_document_without_data_stays_without_it() {
    let t = format!(
        "{POLICY}---\nschema: {HP}\nmetadata: {{name: x, layeringDefinition: {{layer: site}}}}\n"
    );
    let (docs, f) = render(&t);
    assert!(f.is_empty());
    assert!(docs[1].get("data").is_none(), "{docs:#?}");
}

#[test]
fn documents_that_only_name_their_layer_render_to_themselves() {
    // Rendered output keeps each document's layer: nothing to do, and nothing is done.
    let t = format!(
        "{}{}",
        doc(HP, "a", "site", "", "{x: 1}"),
        doc(HP, "b", "global", "", "{y: 2}")
    );
    let roots = parse_documents(FileId(0), &t).unwrap();
    let raws: Vec<Raw> = roots
        .iter()
        .cloned()
        .map(|root| Raw {
            span: root.loc,
            root,
        })
        .collect();
    assert!(render::needed(&raws));
    assert!(!render::changes_anything(&raws));
    let out = render::render(raws, Mode::Strict);
    assert!(out.findings.is_empty());
    assert_eq!(
        out.docs.into_iter().map(|d| d.root).collect::<Vec<_>>(),
        roots
    );
    for extra in [
        ", abstract: true",
        ", parentSelector: {a: b}",
        ", actions: []",
    ] {
        let roots = parse_documents(FileId(0), &doc(HP, "a", "site", extra, "{}")).unwrap();
        let raws: Vec<Raw> = roots
            .into_iter()
            .map(|root| Raw {
                span: root.loc,
                root,
            })
            .collect();
        assert!(render::changes_anything(&raws), "{extra}");
    }
}
