//! Host-profile inheritance, done on YAML trees: a child's `data` merged over its parent's by
//! Drydock's rules, keeping every value's source location. The result is lowered to the model
//! like any document. This module knows the merge policy of each field and nothing else.
//!
//! The rules (docs/format.md, "Inheritance"):
//! - scalar: the child's value wins; `'!'` (or `-1` for a number) unsets it; a null or absent
//!   child value inherits;
//! - list: the child's entries, then the parent's not removed by a child entry `'!x'`;
//! - map (owner_data, kernel_params, labels, oob): shallow, a key `'!key'` removes the parent's;
//! - named collections (interfaces, physical devices, volume groups, partitions, logical
//!   volumes): merged by name, entry by entry; `'!name'` removes the parent's entry; parent
//!   entries the child does not mention are kept.

use crate::design::yaml::{Key, Map, Node, Value};

/// How a field merges.
#[derive(Clone, Copy)]
enum Policy {
    Scalar,
    List,
    Map,
    /// Not inherited at all (`boot_mac`, `addressing`, `host_profile`).
    Own,
    Record(&'static [(&'static str, Policy)]),
    /// A mapping of named entries, each merged by the inner policy.
    Named(&'static Policy),
    /// A list of mappings named by their `name` field.
    NamedList(&'static Policy),
}

const FILESYSTEM: Policy = Policy::Record(&[]);
const PARTITION: Policy = Policy::Record(&[("labels", Policy::Map), ("filesystem", FILESYSTEM)]);
const DEVICE: Policy = Policy::Record(&[
    ("labels", Policy::Map),
    ("partitions", Policy::NamedList(&PARTITION)),
]);
const LOGICAL_VOLUME: Policy = Policy::Record(&[("filesystem", FILESYSTEM)]);
const VOLUME_GROUP: Policy =
    Policy::Record(&[("logical_volumes", Policy::NamedList(&LOGICAL_VOLUME))]);
const INTERFACE: Policy = Policy::Record(&[
    ("slaves", Policy::List),
    ("networks", Policy::List),
    ("sriov", Policy::Map),
    ("labels", Policy::Map),
]);
const HOST: Policy = Policy::Record(&[
    ("host_profile", Policy::Own),
    ("addressing", Policy::Own),
    ("oob", Policy::Map),
    (
        "metadata",
        Policy::Record(&[
            ("tags", Policy::List),
            ("owner_data", Policy::Map),
            ("boot_mac", Policy::Own),
        ]),
    ),
    (
        "platform",
        Policy::Record(&[("kernel_params", Policy::Map)]),
    ),
    (
        "storage",
        Policy::Record(&[
            ("physical_devices", Policy::Named(&DEVICE)),
            ("volume_groups", Policy::Named(&VOLUME_GROUP)),
        ]),
    ),
    ("interfaces", Policy::Named(&INTERFACE)),
]);

/// Merge a host profile's or node's `data` (`child`) over its parent profile's effective data.
pub fn merge_host(child: &Node, parent: &Node) -> Node {
    merge(child, parent, HOST)
}

/// The merged value of one top-level field of a host's `data`: `child` (the field as the
/// node or profile writes it) over `parent` (the parent profile's effective value). `None`
/// when the child unsets it.
pub fn merge_field(key: &str, child: &Node, parent: Option<&Node>) -> Option<Node> {
    let Policy::Record(fields) = HOST else {
        unreachable!("HOST is a record")
    };
    let policy = fields
        .iter()
        .find(|(n, _)| *n == key)
        .map_or(Policy::Scalar, |(_, p)| *p);
    if matches!(policy, Policy::Scalar) && is_unset(child) {
        return None;
    }
    Some(match parent {
        Some(p) if !p.is_null() => merge(child, p, policy),
        _ => child.clone(),
    })
}

fn is_unset(n: &Node) -> bool {
    matches!(&n.value, Value::Str(s) if s == "!") || matches!(n.value, Value::Int(-1))
}

fn removal(n: &Node) -> Option<&str> {
    n.as_str()
        .and_then(|s| s.strip_prefix('!'))
        .filter(|s| !s.is_empty())
}

fn merge(child: &Node, parent: &Node, policy: Policy) -> Node {
    match (policy, &child.value, &parent.value) {
        (Policy::Own, _, _) => child.clone(),
        (Policy::List, Value::Seq(c), Value::Seq(p)) => {
            let removed: Vec<&str> = c.iter().filter_map(removal).collect();
            let mut out: Vec<Node> = c.iter().filter(|n| removal(n).is_none()).cloned().collect();
            for n in p {
                let text = n.scalar_text();
                let gone = text.as_deref().is_some_and(|t| removed.contains(&t));
                let dup = out.iter().any(|o| o.value == n.value);
                if !gone && !dup {
                    out.push(n.clone());
                }
            }
            Node::new(Value::Seq(out), child.loc)
        }
        (Policy::Map, Value::Map(c), Value::Map(p)) => {
            merge_map(c, p, child.loc, |_| Policy::Scalar, false)
        }
        (Policy::Record(fields), Value::Map(c), Value::Map(p)) => merge_map(
            c,
            p,
            child.loc,
            |k| {
                fields
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map_or(Policy::Scalar, |(_, p)| *p)
            },
            false,
        ),
        (Policy::Named(inner), Value::Map(c), Value::Map(p)) => {
            merge_map(c, p, child.loc, |_| *inner, true)
        }
        (Policy::NamedList(inner), Value::Seq(c), Value::Seq(p)) => {
            merge_named_list(c, p, child.loc, *inner)
        }
        // Shapes that do not match (a schema error elsewhere) or a scalar: the child wins.
        _ => child.clone(),
    }
}

/// Merge two mappings. With `named`, a key `!name` in the child removes the parent's entry and
/// same-named entries merge by `policy`; otherwise a key `!key` removes, and values merge by the
/// per-key policy (a scalar child value wins, `'!'` unsets).
fn merge_map(
    c: &Map,
    p: &Map,
    loc: crate::source::Loc,
    policy: impl Fn(&str) -> Policy,
    named: bool,
) -> Node {
    let mut out: Vec<(Key, Node)> = Vec::with_capacity(c.len() + p.len());
    let removed = |name: &str| {
        c.iter()
            .any(|(k, _)| k.name.strip_prefix('!') == Some(name))
    };
    for (pk, pv) in p.iter() {
        if removed(&pk.name)
            || (!named
                && matches!(policy(&pk.name), Policy::Own)
                && c.get(&pk.name).is_none_or(|v| v.is_null()))
        {
            continue;
        }
        match c.entry(&pk.name) {
            // A null child value means "not given here": inherit.
            Some((_, cv)) if cv.is_null() => out.push((pk.clone(), pv.clone())),
            Some((ck, cv)) => {
                let pol = policy(&pk.name);
                // `'!'` unsets a scalar, and a value of a shallow map (an `oob` parameter).
                if !named && matches!(pol, Policy::Scalar) && is_unset(cv) {
                    continue;
                }
                out.push((ck.clone(), merge(cv, pv, pol)));
            }
            None => out.push((pk.clone(), pv.clone())),
        }
    }
    for (ck, cv) in c.iter() {
        if ck.name.starts_with('!') || p.get(&ck.name).is_some() {
            continue;
        }
        if !named && matches!(policy(&ck.name), Policy::Scalar) && is_unset(cv) {
            continue;
        }
        out.push((ck.clone(), cv.clone()));
    }
    Node::new(Value::Map(Map(out)), loc)
}

fn entry_name(n: &Node) -> Option<&str> {
    n.get("name").and_then(Node::as_str)
}

fn merge_named_list(c: &[Node], p: &[Node], loc: crate::source::Loc, inner: Policy) -> Node {
    let removed = |name: &str| {
        c.iter()
            .any(|n| entry_name(n).and_then(|s| s.strip_prefix('!')) == Some(name))
    };
    let mut out = Vec::with_capacity(c.len() + p.len());
    for pn in p {
        let Some(name) = entry_name(pn) else {
            out.push(pn.clone());
            continue;
        };
        if removed(name) {
            continue;
        }
        match c.iter().find(|n| entry_name(n) == Some(name)) {
            Some(cn) => out.push(merge(cn, pn, inner)),
            None => out.push(pn.clone()),
        }
    }
    for cn in c {
        let name = entry_name(cn);
        if name.is_some_and(|n| n.starts_with('!')) {
            continue;
        }
        if name.is_some() && p.iter().any(|pn| entry_name(pn) == name) {
            continue;
        }
        out.push(cn.clone());
    }
    Node::new(Value::Seq(out), loc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::design::yaml::parse_documents;
    use crate::source::FileId;

    fn check(child: &str, parent: &str, expected: &str) {
        let c = &parse_documents(FileId(0), child).unwrap()[0];
        let p = &parse_documents(FileId(1), parent).unwrap()[0];
        let e = &parse_documents(FileId(2), expected).unwrap()[0];
        assert_eq!(merge_host(c, p).to_json(), e.to_json());
    }

    #[test]
    fn scalars_child_wins_and_bang_unsets() {
        check(
            "hardware_profile: b\nprimary_network: '!'\n",
            "hardware_profile: a\nprimary_network: m\n",
            "hardware_profile: b\n",
        );
        check(
            "platform: {image: '!'}\n",
            "platform: {image: focal, kernel: k}\n",
            "platform: {kernel: k}\n",
        );
        check(
            "oob: {network: null}\n",
            "oob: {type: ipmi, network: oob}\n",
            "oob: {type: ipmi, network: oob}\n",
        );
    }

    #[test]
    fn lists_child_first_and_bang_removes() {
        check(
            "metadata: {tags: [c, '!a']}\n",
            "metadata: {tags: [a, b]}\n",
            "metadata: {tags: [c, b]}\n",
        );
    }

    #[test]
    fn maps_are_shallow_and_bang_key_removes() {
        check(
            "platform: {kernel_params: {a: 2, '!b': x}}\n",
            "platform: {kernel_params: {a: 1, b: 1, c: 1}}\n",
            "platform: {kernel_params: {a: 2, c: 1}}\n",
        );
    }

    #[test]
    fn named_entries_merge_by_name_and_every_parent_entry_is_kept() {
        // Regression: the old merge kept only the last parent interface.
        check(
            "interfaces: {bond0: {networks: [mgmt]}, '!pxe': {}, extra: {device_link: l}}\n",
            "interfaces: {pxe: {device_link: p}, bond0: {device_link: b, networks: [storage]}, oob: {device_link: o}}\n",
            "interfaces: {bond0: {device_link: b, networks: [mgmt, storage]}, oob: {device_link: o}, extra: {device_link: l}}\n",
        );
    }

    #[test]
    fn partitions_and_volume_groups_merge_by_name() {
        // Regression: merging same-named volume groups crashed the old implementation.
        check(
            "storage: {physical_devices: {sda: {partitions: [{name: root, size: 30g}, {name: '!boot'}]}}, volume_groups: {vg: {logical_volumes: [{name: b, size: 1g}]}}}\n",
            "storage: {physical_devices: {sda: {partitions: [{name: root, size: 20g, filesystem: {mountpoint: /}}, {name: boot, size: 1g}]}}, volume_groups: {vg: {vg_uuid: u, logical_volumes: [{name: a, size: 10%}]}}}\n",
            "storage: {physical_devices: {sda: {partitions: [{name: root, size: 30g, filesystem: {mountpoint: /}}]}}, volume_groups: {vg: {vg_uuid: u, logical_volumes: [{name: a, size: 10%}, {name: b, size: 1g}]}}}\n",
        );
    }

    #[test]
    fn boot_mac_and_addressing_are_not_inherited() {
        check(
            "metadata: {rack: r2}\n",
            "metadata: {rack: r1, boot_mac: 'aa:bb:cc:dd:ee:ff'}\n",
            "metadata: {rack: r2}\n",
        );
    }

    #[test]
    fn locations_survive_the_merge() {
        let c = &parse_documents(FileId(0), "platform: {image: focal}\n").unwrap()[0];
        let p = &parse_documents(FileId(1), "platform: {kernel: ga-20.04}\n").unwrap()[0];
        let m = merge_host(c, p);
        assert_eq!(m.at(&["platform", "kernel"]).unwrap().loc.file, FileId(1));
        assert_eq!(m.at(&["platform", "image"]).unwrap().loc.file, FileId(0));
    }
}
