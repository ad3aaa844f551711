//! DD001 schema: every document against its kind's JSON schema: types, enums, required fields, closed objects.
//!
//! Its findings are produced while loading: `design::schema` checks each document's `data`
//! against `schemas/<Kind>.json` and maps every violation back to its YAML location, and
//! `design::document` reports a missing `metadata.name`, `data` or `kind`. This file holds the
//! rule's description only.

use crate::diag::{Finding, Severity};
use crate::validate::{Context, Rule, RuleInfo};

pub struct Schema;

static INFO: RuleInfo = RuleInfo {
    code: "DD001",
    name: "schema",
    severity: Severity::Error,
    summary: "every document against its kind's JSON schema: types, enums, required fields, closed objects",
    explanation: "\
Each document's `data` (or `spec`) is checked against its kind's JSON schema (`schemas/` in the
source, the fields in docs/format.md): value types, enumerations (`oob.type`, bonding `mode`, ...),
the required fields, and unknown keys in the objects that are closed (every kind's top level,
`bonding`, `trunking`, `dns`, ranges, routes, `platform`, partitions, boot-action assets,
`node_filter`, ...). Every violation is reported at the value (an unknown key at the key), with
the allowed keys or values in the help line.

Watch the types: a `vlan` is a string (`vlan: '100'`), and an interface or other named entry
set to null is an error rather than an empty entry.

A document that fails its schema is left out of the effective design; the other rules still
run on the rest, and a reference to a left-out document says so. The old implementation
checked enumerations at ingest (reported as its DD000) and ran no rule at all after any ingest
error.",
    bad: r#"schema: drydock/Network/v1
metadata: {schema: metadata/Document/v1, name: mgmt}
data:
  cidr: 172.16.2.0/24
  vlan: 100
  gateway: 172.16.2.1
  mtu: 9000
  ranges:
    - {type: static, start: 172.16.2.10, end: 172.16.2.200}
  routes:
    - {subnet: 0.0.0.0/0, gateway: 172.16.2.1, metric: 10}
  dns: {domain: example.com, servers: '172.16.2.1'}
"#,
    good: r#"schema: drydock/Network/v1
metadata: {schema: metadata/Document/v1, name: mgmt}
data:
  cidr: 172.16.2.0/24
  vlan: '100'
  mtu: 9000
  ranges:
    - {type: static, start: 172.16.2.10, end: 172.16.2.200}
  routes:
    - {subnet: 0.0.0.0/0, gateway: 172.16.2.1, metric: 10}
  dns: {domain: example.com, servers: '172.16.2.1'}
"#,
};

impl Rule for Schema {
    fn info(&self) -> &'static RuleInfo {
        &INFO
    }

    /// Nothing to do here: DD001 findings are reported while loading, in `design::schema` and
    /// `design::document`, and `validate` passes them on.
    fn check(&self, _cx: &Context, _out: &mut Vec<Finding>) {}
}
