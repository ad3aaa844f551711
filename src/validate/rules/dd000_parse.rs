//! DD000 parse: YAML syntax, unreadable or non-UTF-8 files, unknown drydock kinds or versions; duplicate keys and YAML 1.1 traps (warnings).
//!
//! Its findings are produced while loading, before any model exists: unreadable, binary and
//! non-UTF-8 files and YAML syntax errors in `design::mod` (`load`, `read`, `parse_file`), the
//! envelope (unknown kind or version, a document that is not a mapping) and the YAML traps
//! (duplicate keys, unquoted MACs, bare `yes`/`no`/`on`/`off`) in `design::document`. This
//! file holds the rule's description only.

use crate::diag::{Finding, Severity};
use crate::validate::{Context, Rule, RuleInfo};

pub struct Parse;

static INFO: RuleInfo = RuleInfo {
    code: "DD000",
    name: "parse",
    severity: Severity::Error,
    summary: "YAML syntax, unreadable or non-UTF-8 files, unknown drydock kinds or versions; duplicate keys and YAML 1.1 traps (warnings)",
    explanation: "\
Every design file must be readable UTF-8 text and valid YAML; a file that is not yields no
documents at all (errors). Every document with a `schema: drydock/<Kind>/v1` (or
`apiVersion: drydock/v1` and `kind:`) must name a kind drydock knows and version `v1` (errors:
the document is not read). Documents of other tools (`deckhand/...`, `pegleg/...`) are skipped
without a finding.

Warnings, because the design still loads but other tools may read it differently:
- a key written twice in one mapping: the last value wins, as YAML 1.1 loaders did;
- an unquoted MAC address (`52:54:00:12:34:56`): drydock reads YAML 1.2, where it is a string,
  but YAML 1.1 tools, the old implementation among them, read it as a base-60 number;
- a bare `yes`, `no`, `on` or `off`: a string in YAML 1.2, a boolean in YAML 1.1.
Quote such values; the help line shows how.

The old implementation failed on these only later, with a schema error, or not at all; it also
crashed on empty documents, which drydock skips.",
    bad: r#"schema: drydock/BaremetalNode/v2
metadata: {schema: metadata/Document/v1, name: n3}
data:
  host_profile: base
  metadata:
    boot_mac: 52:54:00:00:00:03
  addressing:
    - {network: oob, address: 172.16.0.13}
    - {network: pxe, address: dhcp}
    - {network: mgmt, address: 172.16.2.13}
"#,
    good: r#"schema: drydock/BaremetalNode/v1
metadata: {schema: metadata/Document/v1, name: n3}
data:
  host_profile: base
  metadata:
    boot_mac: '52:54:00:00:00:03'
  addressing:
    - {network: oob, address: 172.16.0.13}
    - {network: pxe, address: dhcp}
    - {network: mgmt, address: 172.16.2.13}
"#,
};

impl Rule for Parse {
    fn info(&self) -> &'static RuleInfo {
        &INFO
    }

    /// Nothing to do here: DD000 findings are reported while loading, in `design::mod` and
    /// `design::document`, and `validate` passes them on.
    fn check(&self, _cx: &Context, _out: &mut Vec<Finding>) {}
}
