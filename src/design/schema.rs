//! JSON Schema validation of each document's `data`, offline, against the schemas in
//! `schemas/` (embedded at build time). Errors are mapped from JSON instance paths back to
//! the YAML location of the offending value. This module checks one document at a time and
//! knows nothing of other documents.

use std::sync::OnceLock;

use jsonschema::Validator;
use jsonschema::error::ValidationErrorKind;
use jsonschema::paths::LocationSegment;
use serde_json::Value as J;

use crate::design::document::Kind;
use crate::design::render::path::{self, Seg};
use crate::design::yaml::{Node, Value};
use crate::diag::Finding;

/// The schema text of a kind, as shipped in `schemas/<Kind>.json`.
pub fn schema_text(kind: Kind) -> &'static str {
    match kind {
        Kind::Region => include_str!("../../schemas/Region.json"),
        Kind::Rack => include_str!("../../schemas/Rack.json"),
        Kind::Network => include_str!("../../schemas/Network.json"),
        Kind::NetworkLink => include_str!("../../schemas/NetworkLink.json"),
        Kind::HardwareProfile => include_str!("../../schemas/HardwareProfile.json"),
        Kind::HostProfile => include_str!("../../schemas/HostProfile.json"),
        Kind::BaremetalNode => include_str!("../../schemas/BaremetalNode.json"),
        Kind::BootAction => include_str!("../../schemas/BootAction.json"),
    }
}

struct Compiled {
    json: J,
    validator: Validator,
}

fn compiled(kind: Kind) -> &'static Compiled {
    static ALL: OnceLock<Vec<Compiled>> = OnceLock::new();
    let all = ALL.get_or_init(|| {
        Kind::ALL
            .iter()
            .map(|&k| {
                // The schemas are part of the binary and covered by tests: a broken one is a
                // build defect, not a user error.
                let json: J =
                    serde_json::from_str(schema_text(k)).expect("embedded schema is JSON");
                let validator = jsonschema::options()
                    .offline()
                    .with_draft(jsonschema::Draft::Draft202012)
                    .should_validate_formats(true)
                    .with_format("drydock-ip", |s: &str| {
                        s.parse::<std::net::IpAddr>().is_ok()
                    })
                    .with_format("drydock-cidr", is_cidr)
                    .with_format("drydock-mac", is_mac)
                    .build(&json)
                    .expect("embedded schema compiles");
                Compiled { json, validator }
            })
            .collect()
    });
    &all[Kind::ALL
        .iter()
        .position(|&k| k == kind)
        .expect("every kind has a schema")]
}

fn is_cidr(s: &str) -> bool {
    match s.split_once('/') {
        Some((ip, len)) => match (ip.parse::<std::net::IpAddr>(), len.parse::<u8>()) {
            (Ok(std::net::IpAddr::V4(_)), Ok(l)) => l <= 32 && !len.starts_with('+'),
            (Ok(std::net::IpAddr::V6(_)), Ok(l)) => l <= 128 && !len.starts_with('+'),
            _ => false,
        },
        None => false,
    }
}

pub fn is_mac(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 17
        && b.iter().enumerate().all(|(i, c)| {
            if i % 3 == 2 {
                *c == b':' || *c == b'-'
            } else {
                c.is_ascii_hexdigit()
            }
        })
}

/// What a schema check did to a document.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// No violation.
    Valid,
    /// Violations below the top level: each offending value was removed from the data (and
    /// reported), the rest of the document is kept. One wrong value does not take a profile,
    /// and every node inheriting it, out of the design.
    Pruned,
    /// A violation at the top level (a required field missing): the document is left out.
    LeftOut,
}

/// Validate a document's data; every violation becomes a DD001 finding at its location, and
/// every offending value below the top level is removed from `data` (see [`Verdict`]).
pub fn check(
    kind: Kind,
    name: &str,
    data: &mut Node,
    data_key: &str,
    out: &mut Vec<Finding>,
) -> Verdict {
    let c = compiled(kind);
    let instance = data.to_json();
    let mut prune: Vec<Vec<Seg>> = Vec::new();
    let mut root_error = false;
    let mut findings = Vec::new();
    for e in c.validator.iter_errors(&instance) {
        let segs: Vec<LocationSegment> = e.instance_path().iter().collect();
        let (node, path) = locate(data, &segs, data_key);
        let mut f = describe(kind, &c.json, &e, node, &path);
        f.message = format!("{kind} `{name}`: {}", f.message);
        let at: Vec<Seg> = segs
            .iter()
            .map(|s| match s {
                LocationSegment::Property(p) => Seg::Key(p.to_string()),
                LocationSegment::Index(i) => Seg::Index(*i),
            })
            .collect();
        match e.kind() {
            ValidationErrorKind::AdditionalProperties { unexpected } => {
                for k in unexpected {
                    let mut p = at.clone();
                    p.push(Seg::Key(k.clone()));
                    prune.push(p);
                }
            }
            // A nested object without a required field is kept: the model reads what is there.
            ValidationErrorKind::Required { .. } if !at.is_empty() => {}
            _ if at.is_empty() => root_error = true,
            _ => prune.push(at),
        }
        findings.push(f);
    }
    if findings.is_empty() {
        return Verdict::Valid;
    }
    let label = if root_error {
        "the document is left out of the design until fixed"
    } else {
        "this value is ignored until fixed"
    };
    for f in &mut findings {
        f.label = Some(label.into());
    }
    out.extend(findings);
    if root_error {
        return Verdict::LeftOut;
    }
    // Deepest and last first, so that removing a list item does not shift the others.
    prune.sort();
    prune.dedup();
    for p in prune.into_iter().rev() {
        path::remove(data, &path::Path(p));
    }
    Verdict::Pruned
}

/// Follow a JSON instance path through the YAML tree; returns the deepest node reached and the
/// path in dotted form (`data.interfaces.pxe.networks[0]`).
fn locate<'a>(data: &'a Node, segs: &[LocationSegment], data_key: &str) -> (&'a Node, String) {
    let mut node = data;
    let mut path = data_key.to_string();
    for s in segs {
        let next = match s {
            LocationSegment::Property(p) => {
                path.push('.');
                path.push_str(p);
                node.get(p)
            }
            LocationSegment::Index(i) => {
                path.push_str(&format!("[{i}]"));
                node.as_seq().and_then(|s| s.get(*i))
            }
        };
        match next {
            Some(n) => node = n,
            None => break,
        }
    }
    (node, path)
}

/// The schema object that a keyword of `schema_path` belongs to.
fn schema_object<'a>(schema: &'a J, schema_path: &str) -> Option<&'a J> {
    let mut cur = schema;
    let segs: Vec<&str> = schema_path.split('/').filter(|s| !s.is_empty()).collect();
    for s in &segs[..segs.len().saturating_sub(1)] {
        let s = s.replace("~1", "/").replace("~0", "~");
        cur = match cur {
            J::Object(o) => {
                if s == "$ref" {
                    continue;
                }
                o.get(&s)?
            }
            J::Array(a) => a.get(s.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(cur)
}

fn describe(
    kind: Kind,
    schema: &J,
    e: &jsonschema::ValidationError,
    node: &Node,
    path: &str,
) -> Finding {
    // A secret's value never appears in a message, even when it is the offending value.
    let secret = path
        .rsplit('.')
        .next()
        .is_some_and(crate::design::document::is_secret_key);
    let shown = if secret {
        "<redacted>".to_string()
    } else {
        e.instance().to_string()
    };
    let obj = schema_object(schema, e.schema_path().as_str());
    let description = obj.and_then(|o| o.get("description")).and_then(J::as_str);
    let f = match e.kind() {
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            let allowed: Vec<&str> = obj
                .and_then(|o| o.get("properties"))
                .and_then(J::as_object)
                .map(|p| p.keys().map(String::as_str).collect())
                .unwrap_or_default();
            let key = unexpected.first().map(String::as_str).unwrap_or("");
            let loc = node
                .as_map()
                .and_then(|m| m.entry(key))
                .map_or(node.loc, |(k, _)| k.loc);
            let keys = unexpected
                .iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ");
            let mut f = Finding::error(
                "DD001",
                loc,
                format!("unknown key {keys} in `{path}` of {kind}"),
            );
            if !allowed.is_empty() {
                f = f.help(format!("the keys allowed here are: {}", allowed.join(", ")));
            }
            return f;
        }
        ValidationErrorKind::Required { property } => {
            let p = property.as_str().unwrap_or("?");
            Finding::error(
                "DD001",
                node.loc,
                format!("`{path}` of {kind} is missing the required field `{p}`"),
            )
            .help(format!("add `{p}:`"))
        }
        ValidationErrorKind::Type { kind: expected } => {
            let exp = type_name(expected);
            let mut f = Finding::error(
                "DD001",
                node.loc,
                format!(
                    "`{path}` must be {exp}, found {}",
                    article(node.type_name())
                ),
            );
            if exp.contains("string")
                && matches!(node.value, Value::Int(_) | Value::Float(_) | Value::Bool(_))
            {
                let v = if secret {
                    "<redacted>".to_string()
                } else {
                    node.scalar_text().unwrap_or_default()
                };
                f = f.help(format!("quote the value: '{v}'"));
            } else if matches!(node.value, Value::Null) {
                f = f.help("give it a value, or remove the key");
            }
            f
        }
        ValidationErrorKind::Enum { options } => {
            let opts = options
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|v| v.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default();
            Finding::error(
                "DD001",
                node.loc,
                format!("`{path}` has value {shown}, which is not allowed"),
            )
            .help(format!("use one of: {opts}"))
        }
        ValidationErrorKind::Format { format } => {
            let what = match format.as_str() {
                "drydock-ip" => "an IP address such as 10.0.0.10 or fd00::10",
                "drydock-cidr" => "a CIDR such as 10.0.0.0/24",
                "drydock-mac" => "a MAC address such as '52:54:00:12:34:56'",
                _ => format.as_str(),
            };
            Finding::error(
                "DD001",
                node.loc,
                format!("`{path}` is {shown}, not {what}"),
            )
            .help(format!("write {what}"))
        }
        _ if secret => Finding::error(
            "DD001",
            node.loc,
            format!("`{path}` is not valid (value redacted)"),
        ),
        _ => Finding::error("DD001", node.loc, format!("`{path}`: {e}")),
    };
    match (description, f.help.is_some()) {
        (Some(d), false) => f.help(d.to_string()),
        _ => f,
    }
}

fn article(t: &str) -> String {
    match t {
        "integer" | "array" => format!("an {t}"),
        "null" => "null".into(),
        _ => format!("a {t}"),
    }
}

fn type_name(k: &jsonschema::error::TypeKind) -> String {
    use jsonschema::error::TypeKind;
    match k {
        TypeKind::Single(t) => article(&t.to_string()),
        TypeKind::Multiple(ts) => {
            let names: Vec<String> = (*ts).into_iter().map(|t| article(&t.to_string())).collect();
            names.join(" or ")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_embedded_schema_compiles() {
        for k in Kind::ALL {
            let _ = compiled(k);
        }
    }

    #[test]
    fn cidr_and_mac_formats() {
        assert!(is_cidr("10.0.0.0/24"));
        assert!(is_cidr("fd00::/64"));
        assert!(!is_cidr("10.0.0.0/33"));
        assert!(!is_cidr("10.0.0.0"));
        assert!(is_mac("52:54:00:AA:bb:01"));
        assert!(!is_mac("52:54:00:AA:bb"));
    }
}
