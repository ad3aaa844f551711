//! DD009 render-cycle: documents do not depend on each other in a cycle through parents and substitutions.
//!
//! Its findings are produced while rendering, before any model exists, in `design::render`;
//! this file holds the rule's description only.

use crate::diag::{Finding, Severity};
use crate::validate::{Context, Rule, RuleInfo};

pub struct RenderCycle;

static INFO: RuleInfo = RuleInfo {
    code: "DD009",
    name: "render-cycle",
    severity: Severity::Error,
    summary: "documents do not depend on each other in a cycle through parents and substitutions",
    explanation: "\
Rendering goes in dependency order: a document after its parent (or the parent's replacement)
and after every source of its substitutions. Documents that depend on each other in a cycle
cannot be rendered: the cycle is an error, reported once at the dependency that closes it,
naming the documents on it, and those documents are left as written.",
    bad: r#"schema: pegleg/CommonAddresses/v1
metadata:
  schema: metadata/Document/v1
  name: addresses-a
  substitutions:
    - src: {schema: pegleg/CommonAddresses/v1, name: addresses-b, path: .dns}
      dest: {path: .dns}
data: {ntp: 172.16.2.1}
---
schema: pegleg/CommonAddresses/v1
metadata:
  schema: metadata/Document/v1
  name: addresses-b
  substitutions:
    - src: {schema: pegleg/CommonAddresses/v1, name: addresses-a, path: .ntp}
      dest: {path: .ntp}
data: {dns: 172.16.2.1}
"#,
    good: r#"schema: pegleg/CommonAddresses/v1
metadata:
  schema: metadata/Document/v1
  name: addresses-a
  substitutions:
    - src: {schema: pegleg/CommonAddresses/v1, name: addresses-b, path: .dns}
      dest: {path: .dns}
data: {ntp: 172.16.2.1}
---
schema: pegleg/CommonAddresses/v1
metadata:
  schema: metadata/Document/v1
  name: addresses-b
data: {dns: 172.16.2.1}
"#,
};

impl Rule for RenderCycle {
    fn info(&self) -> &'static RuleInfo {
        &INFO
    }

    /// Nothing to do here: DD009 findings are reported while rendering, in
    /// `design::render`, and `validate` passes them on.
    fn check(&self, _cx: &Context, _out: &mut Vec<Finding>) {}
}
