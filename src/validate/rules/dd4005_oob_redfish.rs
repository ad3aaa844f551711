//! DD4005 oob-redfish: Redfish nodes have an account, a credential and a static address on the OOB network.
//!
//! The same checks as DD4001 for `oob.type: redfish` (shared in `dd4001_oob_ipmi`). New in
//! drydock: every help line says so and names `--skip DD4005`.

use super::dd4001_oob_ipmi::check_bmc;
use crate::diag::{Finding, Severity};
use crate::validate::{Context, Rule, RuleInfo};

pub struct OobRedfish;

static INFO: RuleInfo = RuleInfo {
    code: "DD4005",
    name: "oob-redfish",
    severity: Severity::Error,
    summary: "Redfish nodes have an account, a credential and a static address on the OOB network",
    explanation: "\
drydock manages a node whose `oob.type` is `redfish` through the Redfish API of its BMC, at the
node's static address on `oob.network`, logging in with `oob.account` and `oob.credential`.
Without any of these the node cannot be powered or booted, so each missing one is an error, as
is an OOB network on which the node has no address or only a `dhcp` one. The fields may come
from a host profile; a missing one is reported at the `type: redfish` value, naming the nodes
affected.

A credential is either a reference, `env:NAME` or `file:/path`, or the literal password; a
literal password is accepted but is a warning, because the secret sits in the design
repository. drydock never prints a credential's value.

This rule is new in drydock: the old implementation checked IPMI nodes (DD4001) but not
Redfish ones, so a design it accepted may fail here. `--skip DD4005` turns the rule off while
migrating.",
    bad: r#"schema: drydock/BaremetalNode/v1
metadata: {schema: metadata/Document/v1, name: n2}
data:
  host_profile: base
  oob: {type: redfish, credential: '!'}
  metadata: {boot_mac: '52:54:00:00:00:02'}
  addressing:
    - {network: oob, address: dhcp}
    - {network: pxe, address: dhcp}
    - {network: mgmt, address: 172.16.2.12}
"#,
    good: r#"schema: drydock/BaremetalNode/v1
metadata: {schema: metadata/Document/v1, name: n2}
data:
  host_profile: base
  oob: {type: redfish}
  metadata: {boot_mac: '52:54:00:00:00:02'}
  addressing:
    - {network: oob, address: 172.16.0.12}
    - {network: pxe, address: dhcp}
    - {network: mgmt, address: 172.16.2.12}
"#,
};

impl Rule for OobRedfish {
    fn info(&self) -> &'static RuleInfo {
        &INFO
    }

    fn check(&self, cx: &Context, out: &mut Vec<Finding>) {
        let note = "DD4005 is new in drydock (the old implementation did not check Redfish nodes); `--skip DD4005` turns it off while migrating";
        check_bmc(cx, INFO.code, "redfish", Some(note), out);
    }
}
