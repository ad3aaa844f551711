//! DD007 layering-action: layering actions have a known method, a valid path, and the value they need.
//!
//! Its findings are produced while rendering, before any model exists, in `design::render`;
//! this file holds the rule's description only.

use crate::diag::{Finding, Severity};
use crate::validate::{Context, Rule, RuleInfo};

pub struct LayeringAction;

static INFO: RuleInfo = RuleInfo {
    code: "DD007",
    name: "layering-action",
    severity: Severity::Error,
    summary: "layering actions have a known method, a valid path, and the value they need",
    explanation: "\
A child's `layeringDefinition.actions` run in order on a copy of its parent's rendered data:
`merge P` deep-merges the child's value at P (maps recurse; lists and scalars are replaced,
never appended), `replace P` puts the child's value at P in place of the parent's, `delete P`
removes P from the parent's data (`.` leaves `{}`). A path is `.` (all of `data`) or
`.key.key[index]`; a leading `.data` or `$` is ignored.

Errors: an unknown method or a malformed path; `merge` or `replace` of a path where the child
has no value (`replace` of a null too); `delete` of a path the parent does not have. The action
is not applied; the others are.",
    bad: r#"schema: deckhand/LayeringPolicy/v1
metadata: {schema: metadata/Control/v1, name: layering-policy}
data: {layerOrder: [global, type, site]}
---
schema: drydock/Network/v1
metadata:
  schema: metadata/Document/v1
  name: storage-global
  labels: {network: storage}
  layeringDefinition: {abstract: true, layer: global}
data: {cidr: 172.16.3.0/24, vlan: '300'}
---
schema: drydock/Network/v1
metadata:
  schema: metadata/Document/v1
  name: storage
  layeringDefinition:
    abstract: false
    layer: site
    parentSelector: {network: storage}
    actions: [{method: merge, path: .}, {method: replace, path: .dns}]
data: {vlan: '301'}
"#,
    good: r#"schema: deckhand/LayeringPolicy/v1
metadata: {schema: metadata/Control/v1, name: layering-policy}
data: {layerOrder: [global, type, site]}
---
schema: drydock/Network/v1
metadata:
  schema: metadata/Document/v1
  name: storage-global
  labels: {network: storage}
  layeringDefinition: {abstract: true, layer: global}
data: {cidr: 172.16.3.0/24, vlan: '300'}
---
schema: drydock/Network/v1
metadata:
  schema: metadata/Document/v1
  name: storage
  layeringDefinition:
    abstract: false
    layer: site
    parentSelector: {network: storage}
    actions: [{method: merge, path: .}, {method: replace, path: .dns}]
data: {vlan: '301', dns: {domain: storage.example.com, servers: 172.16.3.1}}
"#,
};

impl Rule for LayeringAction {
    fn info(&self) -> &'static RuleInfo {
        &INFO
    }

    /// Nothing to do here: DD007 findings are reported while rendering, in
    /// `design::render`, and `validate` passes them on.
    fn check(&self, _cx: &Context, _out: &mut Vec<Finding>) {}
}
