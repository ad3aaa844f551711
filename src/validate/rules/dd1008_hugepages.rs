//! DD1008 hugepages: kernel params hugepagesz and hugepages appear together or not at all.
//!
//! Per node, one pass over its effective kernel params. A param set to `false` or null is not
//! rendered, so it counts as absent.

use crate::diag::{Finding, Severity};
use crate::model::{KernelParam, ParamValue};
use crate::validate::{Context, Rule, RuleInfo};

pub struct Hugepages;

static INFO: RuleInfo = RuleInfo {
    code: "DD1008",
    name: "hugepages",
    severity: Severity::Error,
    summary: "kernel params hugepagesz and hugepages appear together or not at all",
    explanation: "\
The kernel reserves huge pages at boot from two parameters: `hugepagesz` (the page size) and
`hugepages` (how many). With only the size, nothing is reserved; with only the count, pages of
the default size (2 MB on x86) are reserved, not the 1 GB pages DPDK and NFV workloads usually
expect. Either way the node deploys and the workload fails later. Set both or neither; the
values can come from the hardware profile (`hardwareprofile:hugepages.<name>.size` and
`.count`). A param set to `false` or null is not rendered and counts as absent.",
    bad: r#"schema: drydock/BaremetalNode/v1
metadata: {schema: metadata/Document/v1, name: n2}
data:
  host_profile: base
  metadata: {boot_mac: '52:54:00:00:00:02'}
  platform:
    kernel_params: {hugepagesz: 'hardwareprofile:hugepages.dpdk.size'}
  addressing:
    - {network: oob, address: 172.16.0.12}
    - {network: pxe, address: dhcp}
    - {network: mgmt, address: 172.16.2.12}
"#,
    good: r#"schema: drydock/BaremetalNode/v1
metadata: {schema: metadata/Document/v1, name: n2}
data:
  host_profile: base
  metadata: {boot_mac: '52:54:00:00:00:02'}
  platform:
    kernel_params:
      hugepagesz: 'hardwareprofile:hugepages.dpdk.size'
      hugepages: 'hardwareprofile:hugepages.dpdk.count'
  addressing:
    - {network: oob, address: 172.16.0.12}
    - {network: pxe, address: dhcp}
    - {network: mgmt, address: 172.16.2.12}
"#,
};

impl Rule for Hugepages {
    fn info(&self) -> &'static RuleInfo {
        &INFO
    }

    fn check(&self, cx: &Context, out: &mut Vec<Finding>) {
        for node in &cx.site.nodes {
            let find = |key: &str| -> Option<&KernelParam> {
                node.config
                    .kernel_params
                    .iter()
                    .find(|p| p.key.v == key && p.value.v != ParamValue::Off)
            };
            let (size, count) = (find("hugepagesz"), find("hugepages"));
            let (present, missing, help) = match (size, count) {
                (Some(p), None) => (
                    p,
                    "hugepages",
                    "add `hugepages` with the number of pages (e.g. `hardwareprofile:hugepages.<name>.count`), or remove `hugepagesz`",
                ),
                (None, Some(p)) => (
                    p,
                    "hugepagesz",
                    "add `hugepagesz` with the page size (e.g. `hardwareprofile:hugepages.<name>.size`), or remove `hugepages`",
                ),
                _ => continue,
            };
            out.push(
                Finding::error(
                    INFO.code,
                    present.key.loc,
                    format!(
                        "kernel param `{}` is set without `{missing}`",
                        present.key.v
                    ),
                )
                .label(format!("no `{missing}`"))
                .help(help)
                .node(&node.name.v),
            );
        }
    }
}
