//! DD4002 oob-libvirt: libvirt nodes have a qemu+ssh libvirt_uri and a boot MAC.
//!
//! One pass over the nodes: O(n). The URI is not printed (it may carry a user name, or worse),
//! only its scheme.

use crate::diag::{Finding, Severity};
use crate::validate::{Context, Rule, RuleInfo};

pub struct OobLibvirt;

static INFO: RuleInfo = RuleInfo {
    code: "DD4002",
    name: "oob-libvirt",
    severity: Severity::Error,
    summary: "libvirt nodes have a qemu+ssh libvirt_uri and a boot MAC",
    explanation: "\
A node whose `oob.type` is `libvirt` is a virtual machine: drydock powers and boots it through
the libvirt daemon of its hypervisor, reached over SSH, so `oob.libvirt_uri` must be given and
use the `qemu+ssh` scheme (`qemu+ssh://user@hypervisor/system`). A virtual machine has no
hardware inventory to identify it by, so it is recognised by the MAC address of its boot
interface: `metadata.boot_mac` must be given on the node itself (it is not inherited).

The URI may come from a host profile; a missing one is reported at the `type: libvirt` value,
naming the nodes affected. The checks are the old implementation's.",
    bad: r#"schema: drydock/BaremetalNode/v1
metadata: {schema: metadata/Document/v1, name: n2}
data:
  host_profile: base
  oob: {type: libvirt, libvirt_uri: 'qemu:///system'}
  addressing:
    - {network: oob, address: 172.16.0.12}
    - {network: pxe, address: dhcp}
    - {network: mgmt, address: 172.16.2.12}
"#,
    good: r#"schema: drydock/BaremetalNode/v1
metadata: {schema: metadata/Document/v1, name: n2}
data:
  host_profile: base
  oob: {type: libvirt, libvirt_uri: 'qemu+ssh://virsh@hypervisor1/system'}
  metadata: {boot_mac: '52:54:00:00:00:02'}
  addressing:
    - {network: oob, address: 172.16.0.12}
    - {network: pxe, address: dhcp}
    - {network: mgmt, address: 172.16.2.12}
"#,
};

impl Rule for OobLibvirt {
    fn info(&self) -> &'static RuleInfo {
        &INFO
    }

    fn check(&self, cx: &Context, out: &mut Vec<Finding>) {
        for node in &cx.site.nodes {
            let c = &node.config;
            let Some(kind) = c.oob.kind.as_ref().filter(|k| k.v == "libvirt") else {
                continue;
            };
            let n = node.name.v.as_str();
            match c.oob.libvirt_uri.as_ref().filter(|u| !u.v.trim().is_empty()) {
                None => out.push(
                    Finding::error(INFO.code, kind.loc, "libvirt oob has no `libvirt_uri`")
                        .label("libvirt needs `libvirt_uri`")
                        .help("add `libvirt_uri: qemu+ssh://<user>@<hypervisor>/system` to `oob`, in the node or in its host profile")
                        .node(n),
                ),
                Some(uri) => {
                    // The scheme is what precedes the first `:`, as a URL parser reads it.
                    let scheme = uri.v.split_once(':').map(|(s, _)| s);
                    if scheme != Some("qemu+ssh") {
                        let msg = match scheme {
                            Some(s) if !s.is_empty() && !s.contains('/') => format!("libvirt_uri uses the scheme `{s}`, not `qemu+ssh`"),
                            _ => "libvirt_uri is not a `qemu+ssh://` URI".to_string(),
                        };
                        out.push(
                            Finding::error(INFO.code, uri.loc, msg)
                                .label("not qemu+ssh")
                                .help("drydock reaches the hypervisor over SSH: write `qemu+ssh://<user>@<hypervisor>/system`")
                                .node(n),
                        );
                    }
                }
            }
            if c.boot_mac.as_ref().is_none_or(|m| m.v.trim().is_empty()) {
                out.push(
                    Finding::error(INFO.code, node.name.loc, format!("libvirt node `{n}` has no `metadata.boot_mac`"))
                        .label("no boot MAC")
                        .related(kind.loc, "libvirt set here")
                        .help("add `metadata: {boot_mac: '<MAC of the VM's boot interface>'}` to the node itself (boot_mac is not inherited)")
                        .node(n),
                );
            }
        }
    }
}
