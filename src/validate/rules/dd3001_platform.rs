//! DD3001 platform: images and kernels are ones the provisioner offers.
//!
//! Per node, a look-up of its effective image and kernel in the catalogue of the provisioner
//! (`Options::catalog`, a handful of entries). Without a catalogue nothing is checked, and one
//! warning for the whole design says so. A node without an image or kernel gets the
//! provisioner's default, which is not checked either.

use crate::diag::{Finding, Severity};
use crate::source::Loc;
use crate::validate::{Context, Rule, RuleInfo};

pub struct Platform;

static INFO: RuleInfo = RuleInfo {
    code: "DD3001",
    name: "platform",
    severity: Severity::Error,
    summary: "images and kernels are ones the provisioner offers",
    explanation: "\
A node's `platform.image` and `platform.kernel` must be among those the provisioner offers
(MAAS: the boot resources its region has imported); otherwise deployment fails only when the
node is already commissioned and waiting. The list comes from the driver (the simulator's list
mirrors a stock MAAS region: Ubuntu LTS series such as `focal` or `ubuntu/focal`, and kernels
such as `ga-20.04` or `hwe-22.04`). When no driver can say which images and kernels exist,
nothing is checked and one warning says so.",
    bad: r#"schema: drydock/BaremetalNode/v1
metadata: {schema: metadata/Document/v1, name: n2}
data:
  host_profile: base
  metadata: {boot_mac: '52:54:00:00:00:02'}
  platform: {image: trusty}
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
  platform: {image: focal}
  addressing:
    - {network: oob, address: 172.16.0.12}
    - {network: pxe, address: dhcp}
    - {network: mgmt, address: 172.16.2.12}
"#,
};

impl Rule for Platform {
    fn info(&self) -> &'static RuleInfo {
        &INFO
    }

    fn check(&self, cx: &Context, out: &mut Vec<Finding>) {
        let Some(catalog) = &cx.options.catalog else {
            let any = cx
                .site
                .nodes
                .iter()
                .any(|n| n.config.image.is_some() || n.config.kernel.is_some());
            if any {
                out.push(
                    Finding::warning(
                        INFO.code,
                        Loc::NONE,
                        "images and kernels were not checked: no driver can say which ones the provisioner offers",
                    )
                    .help("validate with a driver that lists its images and kernels (the simulator does), or check them in the provisioner"),
                );
            }
            return;
        };
        for node in &cx.site.nodes {
            if let Some(image) = &node.config.image
                && !catalog.offers_image(&image.v)
            {
                out.push(
                    Finding::error(
                        INFO.code,
                        image.loc,
                        format!(
                            "image `{}` is not offered by the {}",
                            image.v, catalog.source
                        ),
                    )
                    .label("unknown image")
                    .help(format!("use one of: {}", catalog.images.join(", ")))
                    .node(&node.name.v),
                );
            }
            if let Some(kernel) = &node.config.kernel
                && !catalog.offers_kernel(&kernel.v)
            {
                out.push(
                    Finding::error(
                        INFO.code,
                        kernel.loc,
                        format!(
                            "kernel `{}` is not offered by the {}",
                            kernel.v, catalog.source
                        ),
                    )
                    .label("unknown kernel")
                    .help(format!("use one of: {}", catalog.kernels.join(", ")))
                    .node(&node.name.v),
                );
            }
        }
    }
}
