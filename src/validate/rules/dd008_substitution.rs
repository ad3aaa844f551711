//! DD008 substitution: substitutions find their source and a value at its path, and a place to put it.
//!
//! Its findings are produced while rendering, before any model exists, in `design::render`;
//! this file holds the rule's description only.

use crate::diag::{Finding, Severity};
use crate::validate::{Context, Rule, RuleInfo};

pub struct Substitution;

static INFO: RuleInfo = RuleInfo {
    code: "DD008",
    name: "substitution",
    severity: Severity::Error,
    summary: "substitutions find their source and a value at its path, and a place to put it",
    explanation: "\
`metadata.substitutions` copy values from other documents (found by `src.schema` and
`src.name`, and rendered first) into this one: the source's data at `src.path` (for a
Passphrase, whose data is a string, the string itself), optionally cut down by the regular
expression `src.pattern` (group `match_group`). It lands at `dest.path` (missing maps and list
entries are created), or in place of `dest.pattern` inside the string there (with `recurse`,
in every string below it that holds the pattern). `dest` may be a list.

A missing source document, or no value at `src.path`, is a warning and the substitution is
skipped, as Pegleg renders by default; with `--strict` it is an error. So is a destination
pattern that is not found. A malformed path or regular expression, or a destination that is
not a string for a pattern, is an error.

A value substituted from the secret store (`deckhand/Passphrase/v1` and the other secret
documents, or any encrypted document) is a secret: it is never printed, and it is not the
`literal credential` that DD4001 and DD4005 warn about.",
    bad: r#"schema: drydock/BaremetalNode/v1
metadata:
  schema: metadata/Document/v1
  name: n2
  substitutions:
    - src: {schema: deckhand/Passphrase/v1, name: n2-ipmi-password, path: .}
      dest: {path: .oob.credential}
data:
  host_profile: base
  metadata: {boot_mac: '52:54:00:00:00:02'}
  addressing:
    - {network: oob, address: 172.16.0.12}
    - {network: pxe, address: dhcp}
    - {network: mgmt, address: 172.16.2.12}
"#,
    good: r#"schema: deckhand/Passphrase/v1
metadata: {schema: metadata/Document/v1, name: n2-ipmi-password, storagePolicy: encrypted}
data: correct-horse-battery-staple
---
schema: drydock/BaremetalNode/v1
metadata:
  schema: metadata/Document/v1
  name: n2
  substitutions:
    - src: {schema: deckhand/Passphrase/v1, name: n2-ipmi-password, path: .}
      dest: {path: .oob.credential}
data:
  host_profile: base
  metadata: {boot_mac: '52:54:00:00:00:02'}
  addressing:
    - {network: oob, address: 172.16.0.12}
    - {network: pxe, address: dhcp}
    - {network: mgmt, address: 172.16.2.12}
"#,
};

impl Rule for Substitution {
    fn info(&self) -> &'static RuleInfo {
        &INFO
    }

    /// Nothing to do here: DD008 findings are reported while rendering, in
    /// `design::render`, and `validate` passes them on.
    fn check(&self, _cx: &Context, _out: &mut Vec<Finding>) {}
}
