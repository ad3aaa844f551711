//! DD1009 storage-partitioning: devices have partitions or a volume group; partitions a
//! filesystem or a volume group; volume groups a physical volume.
//!
//! Per node, one pass over its devices and partitions that collects the volume groups they
//! back (a hash set), then one pass over its volume groups. A partition with neither a
//! filesystem nor a volume group is a raw partition and passes.

use std::collections::HashSet;

use crate::diag::{Finding, Severity};
use crate::source::At;
use crate::validate::{Context, Rule, RuleInfo};

pub struct StoragePartitioning;

static INFO: RuleInfo = RuleInfo {
    code: "DD1009",
    name: "storage-partitioning",
    severity: Severity::Error,
    summary: "devices have partitions or a volume group; partitions a filesystem or a volume group; volume groups a physical volume",
    explanation: "\
A physical device is either partitioned or used whole as a physical volume of one volume group:
exactly one of `partitions` and `volume_group`. A partition either holds a filesystem or is a
physical volume of a volume group, not both. Every volume group needs at least one physical
volume (a device or a partition), and every volume group a device or partition names must be
defined in `volume_groups`; otherwise the provisioner fails half-way through laying out the disks.
The old implementation rejected volume groups backed only by partitions; drydock accepts them.",
    bad: r#"schema: drydock/BaremetalNode/v1
metadata: {schema: metadata/Document/v1, name: n2}
data:
  host_profile: base
  metadata: {boot_mac: '52:54:00:00:00:02'}
  storage:
    volume_groups:
      vg1:
        logical_volumes:
          - {name: log, size: 10g, filesystem: {mountpoint: /var/log}}
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
  storage:
    physical_devices:
      sdb: {volume_group: vg1}
    volume_groups:
      vg1:
        logical_volumes:
          - {name: log, size: 10g, filesystem: {mountpoint: /var/log}}
  addressing:
    - {network: oob, address: 172.16.0.12}
    - {network: pxe, address: dhcp}
    - {network: mgmt, address: 172.16.2.12}
"#,
};

impl Rule for StoragePartitioning {
    fn info(&self) -> &'static RuleInfo {
        &INFO
    }

    fn check(&self, cx: &Context, out: &mut Vec<Finding>) {
        for node in &cx.site.nodes {
            let config = &node.config;
            // With a broken profile chain (DD002) the node has only its own storage here, so
            // references between devices and volume groups may point into the missing part.
            let complete = node.chain_error.is_none();
            // The volume groups that devices and partitions put themselves in.
            let mut pvs: Vec<&At<String>> = Vec::new();

            // `'!name'` entries left by a profile with nothing to remove them from are no devices.
            for dev in config.devices.iter().filter(|d| !d.name.v.starts_with('!')) {
                match (&dev.volume_group, dev.partitions.is_empty()) {
                    (Some(vg), false) => out.push(
                        Finding::error(
                            INFO.code,
                            vg.loc,
                            format!("device `{}` has both partitions and volume group `{}`", dev.name.v, vg.v),
                        )
                        .label("and partitions")
                        .related(dev.partitions[0].loc, "partitions start here")
                        .help("use the whole device as a physical volume (`volume_group`) or partition it, not both; a partition can be a physical volume too")
                        .node(&node.name.v),
                    ),
                    (None, true) => out.push(
                        Finding::error(INFO.code, dev.name.loc, format!("device `{}` has neither partitions nor a volume group", dev.name.v))
                            .label("unused device")
                            .help("give it `partitions`, or `volume_group` to use it whole as a physical volume; remove it if it is meant to be left alone")
                            .node(&node.name.v),
                    ),
                    _ => {}
                }
                pvs.extend(&dev.volume_group);
                for p in &dev.partitions {
                    if let Some(vg) = &p.volume_group {
                        pvs.push(vg);
                        if let Some(fs) = &p.filesystem {
                            out.push(
                                Finding::error(
                                    INFO.code,
                                    vg.loc,
                                    format!("partition `{}` has both a filesystem and volume group `{}`", p.name.v, vg.v),
                                )
                                .label("and a filesystem")
                                .related(fs.loc, "filesystem here")
                                .help("a partition holds a filesystem or is a physical volume, not both; put the filesystem on a logical volume of the group, or remove `volume_group`")
                                .node(&node.name.v),
                            );
                        }
                    }
                }
            }

            if !complete {
                continue;
            }
            let defined: HashSet<&str> = config
                .volume_groups
                .iter()
                .map(|vg| vg.name.v.as_str())
                .collect();
            let backed: HashSet<&str> = pvs.iter().map(|vg| vg.v.as_str()).collect();
            for vg in pvs
                .into_iter()
                .filter(|vg| !defined.contains(vg.v.as_str()))
            {
                let mut names: Vec<&str> = defined.iter().copied().collect();
                names.sort_unstable();
                let existing = if names.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", names.join(", "))
                };
                out.push(
                    Finding::error(INFO.code, vg.loc, format!("volume group `{}` is not defined", vg.v))
                        .label("no such volume group")
                        .help(format!(
                            "define it under `storage.volume_groups`, or name a volume group that exists{existing}"
                        ))
                        .node(&node.name.v),
                );
            }
            for vg in config
                .volume_groups
                .iter()
                .filter(|vg| !vg.name.v.starts_with('!'))
            {
                if !backed.contains(vg.name.v.as_str()) {
                    out.push(
                        Finding::error(
                            INFO.code,
                            vg.name.loc,
                            format!("volume group `{}` has no physical volume", vg.name.v),
                        )
                        .label("no device or partition is in it")
                        .help(format!(
                            "set `volume_group: {}` on a physical device or on a partition",
                            vg.name.v
                        ))
                        .node(&node.name.v),
                    );
                }
            }
        }
    }
}
