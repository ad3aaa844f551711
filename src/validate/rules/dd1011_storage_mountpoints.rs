//! DD1011 storage-mountpoints: no mountpoint is used twice on one node.
//!
//! Per node, one hash map from mountpoint to its first use, over the partitions of every
//! device and then the logical volumes of every volume group. Mountpoints are compared without
//! a trailing `/`. Values that are not paths (`none`, as swap is written) are not mountpoints
//! and may repeat.

use std::collections::HashMap;

use crate::diag::{Finding, Severity};
use crate::model::Filesystem;
use crate::source::{At, Loc};
use crate::validate::{Context, Rule, RuleInfo};

pub struct StorageMountpoints;

static INFO: RuleInfo = RuleInfo {
    code: "DD1011",
    name: "storage-mountpoints",
    severity: Severity::Error,
    summary: "no mountpoint is used twice on one node",
    explanation: "\
Two filesystems mounted at one path on one node hide each other: the one mounted last wins, and
whatever was written to the first is invisible (or, for `/`, the node does not boot as
intended). Every mountpoint of a node's partitions and of all its logical volumes, across every
volume group, must be unique; every repeat is reported, pointing at the first use. Values that
are not absolute paths (such as `none` for swap) may repeat.",
    bad: r#"schema: drydock/BaremetalNode/v1
metadata: {schema: metadata/Document/v1, name: n2}
data:
  host_profile: base
  metadata: {boot_mac: '52:54:00:00:00:02'}
  storage:
    volume_groups:
      vg0:
        logical_volumes:
          - {name: log, size: 10%, filesystem: {mountpoint: /var}}
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
    volume_groups:
      vg0:
        logical_volumes:
          - {name: log, size: 10%, filesystem: {mountpoint: /var/log}}
  addressing:
    - {network: oob, address: 172.16.0.12}
    - {network: pxe, address: dhcp}
    - {network: mgmt, address: 172.16.2.12}
"#,
};

/// The mountpoint as compared: trimmed, without a trailing `/`; `None` if it is not a path.
fn normalized(m: &str) -> Option<&str> {
    let m = m.trim();
    if !m.starts_with('/') {
        return None;
    }
    let t = m.trim_end_matches('/');
    Some(if t.is_empty() { "/" } else { t })
}

impl Rule for StorageMountpoints {
    fn info(&self) -> &'static RuleInfo {
        &INFO
    }

    fn check(&self, cx: &Context, out: &mut Vec<Finding>) {
        for node in &cx.site.nodes {
            let config = &node.config;
            // (what, its name, what it is in, that one's name, filesystem)
            let partitions = config.devices.iter().flat_map(|d| {
                d.partitions
                    .iter()
                    .map(move |p| ("partition", &p.name.v, "device", &d.name.v, &p.filesystem))
            });
            let volumes = config.volume_groups.iter().flat_map(|vg| {
                vg.logical_volumes.iter().map(move |lv| {
                    (
                        "logical volume",
                        &lv.name.v,
                        "volume group",
                        &vg.name.v,
                        &lv.filesystem,
                    )
                })
            });
            let mut first: HashMap<&str, (Loc, String)> = HashMap::new();
            for (kind, name, in_kind, in_name, fs) in partitions.chain(volumes) {
                let Some(Filesystem {
                    mountpoint: Some(At { v, loc }),
                    ..
                }) = fs
                else {
                    continue;
                };
                let Some(key) = normalized(v) else { continue };
                let what = format!("{kind} `{name}` of {in_kind} `{in_name}`");
                match first.get(key) {
                    None => {
                        first.insert(key, (*loc, what));
                    }
                    Some((first_loc, first_what)) => out.push(
                        Finding::error(
                            INFO.code,
                            *loc,
                            format!("mountpoint `{v}` of {what} is already used by {first_what}"),
                        )
                        .label("mounted twice")
                        .related(*first_loc, "first mounted here")
                        .help("give each filesystem its own mountpoint, or remove one of them")
                        .node(&node.name.v),
                    ),
                }
            }
        }
    }
}
