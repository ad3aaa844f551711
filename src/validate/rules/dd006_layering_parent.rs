//! DD006 layering-parent: a layered document's parentSelector picks exactly one parent, of its schema, in a higher layer.
//!
//! Its findings are produced while rendering, before any model exists, in `design::render`;
//! this file holds the rule's description only.

use crate::diag::{Finding, Severity};
use crate::validate::{Context, Rule, RuleInfo};

pub struct LayeringParent;

static INFO: RuleInfo = RuleInfo {
    code: "DD006",
    name: "layering-parent",
    severity: Severity::Error,
    summary: "a layered document's parentSelector picks exactly one parent, of its schema, in a higher layer",
    explanation: "\
A child names its parent by labels: `layeringDefinition.parentSelector` lists label pairs, and
the documents whose `metadata.labels` hold all of them are the candidates. The parent is the
candidate in the closest higher layer. Errors: a candidate of another schema, a candidate not
in a higher layer, two candidates in the closest layer (the first is used), a replacement
without a parent of its own schema and name (or a replacement of a replacement), and a child
that has its parent's name without being `replacement: true`.

A selector that matches nothing on a document with layering actions is a warning: Deckhand
renders such a document as written, silently, so its parent's values are quietly missing. A
selector without actions inherits nothing anyway and is not reported.",
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
data: {cidr: 172.16.3.0/24}
---
schema: drydock/Network/v1
metadata:
  schema: metadata/Document/v1
  name: storage-global-v2
  labels: {network: storage}
  layeringDefinition: {abstract: true, layer: global}
data: {cidr: 172.16.4.0/24}
---
schema: drydock/Network/v1
metadata:
  schema: metadata/Document/v1
  name: storage
  layeringDefinition:
    abstract: false
    layer: site
    parentSelector: {network: storage}
    actions: [{method: merge, path: .}]
data: {}
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
data: {cidr: 172.16.3.0/24}
---
schema: drydock/Network/v1
metadata:
  schema: metadata/Document/v1
  name: storage-global-v2
  labels: {network: storage-v2}
  layeringDefinition: {abstract: true, layer: global}
data: {cidr: 172.16.4.0/24}
---
schema: drydock/Network/v1
metadata:
  schema: metadata/Document/v1
  name: storage
  layeringDefinition:
    abstract: false
    layer: site
    parentSelector: {network: storage}
    actions: [{method: merge, path: .}]
data: {}
"#,
};

impl Rule for LayeringParent {
    fn info(&self) -> &'static RuleInfo {
        &INFO
    }

    /// Nothing to do here: DD006 findings are reported while rendering, in
    /// `design::render`, and `validate` passes them on.
    fn check(&self, _cx: &Context, _out: &mut Vec<Finding>) {}
}
