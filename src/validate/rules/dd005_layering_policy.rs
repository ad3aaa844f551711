//! DD005 layering-policy: layered documents have a LayeringPolicy and a layer it lists; no two documents share a schema and name.
//!
//! Its findings are produced while rendering, before any model exists, in `design::render`;
//! this file holds the rule's description only.

use crate::diag::{Finding, Severity};
use crate::validate::{Context, Rule, RuleInfo};

pub struct LayeringPolicy;

static INFO: RuleInfo = RuleInfo {
    code: "DD005",
    name: "layering-policy",
    severity: Severity::Error,
    summary: "layered documents have a LayeringPolicy and a layer it lists; no two documents share a schema and name",
    explanation: "\
A layered repository (Airship's global → type → site) has one `deckhand/LayeringPolicy/v1`
document whose `layerOrder` lists the layers, top first. Every document's
`metadata.layeringDefinition.layer` must be one of them: a document in an unknown layer cannot
be placed, and is an error. Layered documents without any LayeringPolicy are a warning
(`--strict`: an error): layering is skipped, so parents are not applied. That is what reading
one layer's directory on its own gives; collect the whole site instead (`--site NAME` from the
repository root).

A document is identified by its schema, layer and name: a second one is an error, and the first
one is used. Among documents that are not `replacement: true` (and not `metadata/Control`
documents) the schema and name must be unique across layers too.

Deckhand fails the whole render on any of these; drydock reports each at its place and renders
the rest.",
    bad: r#"schema: deckhand/LayeringPolicy/v1
metadata: {schema: metadata/Control/v1, name: layering-policy}
data: {layerOrder: [global, type, site]}
---
schema: drydock/Network/v1
metadata:
  schema: metadata/Document/v1
  name: storage
  layeringDefinition: {abstract: false, layer: region}
data: {cidr: 172.16.3.0/24}
"#,
    good: r#"schema: deckhand/LayeringPolicy/v1
metadata: {schema: metadata/Control/v1, name: layering-policy}
data: {layerOrder: [global, type, site]}
---
schema: drydock/Network/v1
metadata:
  schema: metadata/Document/v1
  name: storage
  layeringDefinition: {abstract: false, layer: site}
data: {cidr: 172.16.3.0/24}
"#,
};

impl Rule for LayeringPolicy {
    fn info(&self) -> &'static RuleInfo {
        &INFO
    }

    /// Nothing to do here: DD005 findings are reported while rendering, in
    /// `design::render`, and `validate` passes them on.
    fn check(&self, _cx: &Context, _out: &mut Vec<Finding>) {}
}
