//! DD4001 oob-ipmi: IPMI nodes have an account, a credential, an OOB network and a static address on it.
//!
//! Also home of [`check_bmc`], which DD4005 (oob-redfish) shares: both drivers reach a BMC at
//! the node's static address on its OOB network with an account and a credential. One pass
//! over the nodes, with each node's addresses scanned once: O(n). A credential's value is
//! never put in a finding, not even a prefix of it.

use crate::diag::{Finding, Severity};
use crate::model::{AddressValue, BaremetalNode};
use crate::source::At;
use crate::validate::{Context, Rule, RuleInfo};

pub struct OobIpmi;

static INFO: RuleInfo = RuleInfo {
    code: "DD4001",
    name: "oob-ipmi",
    severity: Severity::Error,
    summary: "IPMI nodes have an account, a credential, an OOB network and a static address on it",
    explanation: "\
drydock powers and boots a node whose `oob.type` is `ipmi` through its BMC: it logs in with
`oob.account` and `oob.credential` at the node's static address on `oob.network`. Without any
of these the node cannot be managed, so each missing one is an error, as is an OOB network on
which the node has no address or only a `dhcp` one (the BMC address must be known in advance).
The fields may come from a host profile; a missing one is reported at the `type: ipmi` value,
naming the nodes affected.

A credential is written either as a reference, `env:NAME` (an environment variable of the
drydock process) or `file:/path` (a file on its host), or as the literal password. A literal
password is accepted, as Drydock designs have them, but it is a warning: the secret sits in
the design repository. A credential substituted from the secret store (a
`deckhand/Passphrase/v1` document, see DD008) is not a literal. drydock never prints a
credential's value.

The old implementation crashed when one of the parameters was missing; drydock reports each.",
    bad: r#"schema: drydock/BaremetalNode/v1
metadata: {schema: metadata/Document/v1, name: n2}
data:
  host_profile: base
  oob: {account: '!'}
  metadata: {boot_mac: '52:54:00:00:00:02'}
  addressing:
    - {network: pxe, address: dhcp}
    - {network: mgmt, address: 172.16.2.12}
"#,
    good: r#"schema: drydock/BaremetalNode/v1
metadata: {schema: metadata/Document/v1, name: n2}
data:
  host_profile: base
  oob: {account: root}
  metadata: {boot_mac: '52:54:00:00:00:02'}
  addressing:
    - {network: oob, address: 172.16.0.12}
    - {network: pxe, address: dhcp}
    - {network: mgmt, address: 172.16.2.12}
"#,
};

impl Rule for OobIpmi {
    fn info(&self) -> &'static RuleInfo {
        &INFO
    }

    fn check(&self, cx: &Context, out: &mut Vec<Finding>) {
        check_bmc(cx, INFO.code, "ipmi", None, out);
    }
}

/// Whether a credential names where the secret is (`env:NAME`, `file:/path`) rather than
/// being the secret.
pub(super) fn is_reference(credential: &str) -> bool {
    credential.starts_with("env:") || credential.starts_with("file:")
}

/// The checks shared by the BMC drivers, for the nodes whose `oob.type` is `driver`. `note` is
/// appended to every help line (DD4005 says it is new).
pub(super) fn check_bmc(
    cx: &Context,
    code: &'static str,
    driver: &str,
    note: Option<&str>,
    out: &mut Vec<Finding>,
) {
    let with_note = |help: String| match note {
        Some(n) => format!("{help}; {n}"),
        None => help,
    };
    for node in &cx.site.nodes {
        let oob = &node.config.oob;
        let Some(kind) = oob.kind.as_ref().filter(|k| k.v == driver) else {
            continue;
        };
        let n = node.name.v.as_str();
        let needs = format!("{driver} needs `account`, `credential` and `network`");
        let missing = |field: &str, help: String| {
            Finding::error(code, kind.loc, format!("{driver} oob has no `{field}`"))
                .label(needs.clone())
                .help(with_note(help))
                .node(n)
        };
        // An empty string is as good as missing, and so is the `'!'` unset marker (the merge
        // removes it, but a node without a profile keeps it as written).
        let given = |v: &Option<At<String>>| {
            v.as_ref()
                .filter(|v| !matches!(v.v.trim(), "" | "!"))
                .cloned()
        };
        if given(&oob.account).is_none() {
            out.push(missing(
                "account",
                "add `account: <BMC user>` to `oob`, in the node or in its host profile".into(),
            ));
        }
        let credential = oob
            .credential
            .as_ref()
            .map(|c| At::new(c.v.expose().unwrap_or_default().to_string(), c.loc));
        match given(&credential) {
            None => out.push(missing(
                "credential",
                "add `credential: env:NAME` (the BMC password in an environment variable) or `credential: file:/path` to `oob`".into(),
            )),
            // A value substituted from the secret store (a Passphrase) is not written in the
            // design: not a literal.
            Some(c) if !is_reference(&c.v) && !cx.design.from_secret_store(c.loc) => out.push(
                Finding::warning(code, c.loc, "literal BMC credential: the secret is stored in the design repository")
                    .label("value not shown")
                    .help(with_note(
                        "keep the password out of the design: put it in an environment variable or a file and write `credential: env:NAME` or `credential: file:/path` (a literal credential is accepted for compatibility with Drydock designs)".into(),
                    ))
                    .node(n),
            ),
            Some(_) => {}
        }
        let Some(network) = given(&oob.network) else {
            out.push(missing("network", "add `network: <oob network>` to `oob`; the node's static address on it is the BMC address".into()));
            continue;
        };
        // An unknown network is DD002's finding.
        if cx.site.network(&network.v).is_none() {
            continue;
        }
        static_address(node, &network, code, driver, &with_note, out);
    }
}

fn static_address(
    node: &BaremetalNode,
    network: &At<String>,
    code: &'static str,
    driver: &str,
    with_note: &dyn Fn(String) -> String,
    out: &mut Vec<Finding>,
) {
    let n = node.name.v.as_str();
    let on_net = node.addressing.iter().filter(|a| a.network.v == network.v);
    let mut dhcp = None;
    for a in on_net {
        match a.address.v {
            AddressValue::Static(_) => return,
            AddressValue::Dhcp => dhcp = dhcp.or(Some(a)),
        }
    }
    let f = match dhcp {
        Some(a) => Finding::error(
            code,
            a.address.loc,
            format!(
                "the address on oob network `{}` is dhcp, but the {driver} BMC needs a static one",
                network.v
            ),
        )
        .label("dhcp")
        .related(network.loc, "oob network set here")
        .help(with_note(format!(
            "give the node a static address on `{}`: the BMC address must be known in advance",
            network.v
        ))),
        None => Finding::error(
            code,
            node.name.loc,
            format!(
                "node `{n}` has no static address on oob network `{}`",
                network.v
            ),
        )
        .label("no BMC address")
        .related(network.loc, "oob network set here")
        .help(with_note(format!(
            "add `{{network: {}, address: <BMC address>}}` to the node's `addressing`",
            network.v
        ))),
    };
    out.push(f.node(n));
}
