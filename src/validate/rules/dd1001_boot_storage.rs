//! DD1001 boot-storage: a root filesystem of at least 20 GB and a /boot of at least 1 GB, with
//! absolute sizes.
//!
//! Per node, over its effective storage: one pass over its partitions and logical volumes. The
//! root filesystem is the partition named `root` or any partition or logical volume mounted at
//! `/`; the boot filesystem likewise `boot` or `/boot`. Sizes are compared in bytes, decimal
//! (20 GB is 20×10⁹ bytes, so `20g` passes and `19gib` does not).

use crate::diag::{Finding, Severity};
use crate::model::size::{Size, UNITS_HELP};
use crate::model::{BaremetalNode, Filesystem};
use crate::source::{At, Loc};
use crate::validate::{Context, Rule, RuleInfo};

pub struct BootStorage;

static INFO: RuleInfo = RuleInfo {
    code: "DD1001",
    name: "boot-storage",
    severity: Severity::Error,
    summary: "a root filesystem of at least 20 GB and a /boot of at least 1 GB, with absolute sizes",
    explanation: "\
Every node needs a root filesystem of at least 20 GB (decimal: `20g` passes, `19gib` does not)
and, when it has one, a boot partition of at least 1 GB; the operating system image does not fit
in less, and the deployment fails late, after the disks were wiped. The provisioner partitions
the disk before it knows how much space is left, so root and boot sizes must be absolute: a `%`
or `>` size, or one that does not parse, is an error. A node with no root filesystem at all is
an error.
The root filesystem is the partition named `root` or any partition or logical volume mounted at
`/` (the old implementation accepted only a partition named `root`); likewise the boot one is
the partition named `boot` or anything mounted at `/boot`.",
    bad: r#"schema: drydock/BaremetalNode/v1
metadata: {schema: metadata/Document/v1, name: n2}
data:
  host_profile: base
  metadata: {boot_mac: '52:54:00:00:00:02'}
  storage:
    physical_devices:
      disk1:
        partitions:
          - {name: root, size: 10g}
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
      disk1:
        partitions:
          - {name: root, size: 20g}
  addressing:
    - {network: oob, address: 172.16.0.12}
    - {network: pxe, address: dhcp}
    - {network: mgmt, address: 172.16.2.12}
"#,
};

/// Root or boot, with its minimum size.
#[derive(Clone, Copy)]
struct Target {
    what: &'static str,
    partition_name: &'static str,
    mountpoint: &'static str,
    min_bytes: u64,
    min_text: &'static str,
}

const ROOT: Target = Target {
    what: "root filesystem",
    partition_name: "root",
    mountpoint: "/",
    min_bytes: 20_000_000_000,
    min_text: "20 GB",
};

const BOOT: Target = Target {
    what: "boot filesystem",
    partition_name: "boot",
    mountpoint: "/boot",
    min_bytes: 1_000_000_000,
    min_text: "1 GB",
};

fn mounted_at(fs: Option<&Filesystem>, mountpoint: &str) -> bool {
    fs.and_then(|f| f.mountpoint.as_ref()).is_some_and(|m| {
        let m = m.v.trim();
        let m = if m.len() > 1 {
            m.trim_end_matches('/')
        } else {
            m
        };
        m == mountpoint
    })
}

/// Check one root or boot candidate: a partition or logical volume (`kind`, `name`) at `loc`.
fn check_size(
    t: Target,
    kind: &str,
    name: &At<String>,
    loc: Loc,
    size: Option<&At<String>>,
    node: &BaremetalNode,
    out: &mut Vec<Finding>,
) {
    let Some(size) = size else {
        out.push(
            Finding::error(
                INFO.code,
                loc,
                format!("{kind} `{}` holds the {} but has no size", name.v, t.what),
            )
            .label("no size")
            .help(format!(
                "give it an absolute size of at least {}, e.g. `size: 30g`",
                t.min_text
            ))
            .node(&node.name.v),
        );
        return;
    };
    match Size::parse(&size.v) {
        Err(e) => out.push(
            Finding::error(INFO.code, size.loc, format!("{} size does not parse: {e}", t.what))
                .label("not a size")
                .help(UNITS_HELP)
                .node(&node.name.v),
        ),
        Ok(s) if s.at_least || s.percent().is_some() => out.push(
            Finding::error(INFO.code, size.loc, format!("{} size `{}` is not an absolute size", t.what, size.v))
                .label(if s.at_least { "`>` size" } else { "share of the disk" })
                .help(format!(
                    "write an absolute size of at least {}, e.g. `30g`: the provisioner needs it before it \
                     knows how much space is left",
                    t.min_text
                ))
                .node(&node.name.v),
        ),
        Ok(s) => {
            let bytes = s.bytes().unwrap_or(0);
            if bytes < t.min_bytes {
                out.push(
                    Finding::error(
                        INFO.code,
                        size.loc,
                        format!("{} size `{}` is less than {}", t.what, size.v, t.min_text),
                    )
                    .label(format!("less than {}", t.min_text))
                    .help(format!("make it at least {} (`{}g` or more)", t.min_text, t.min_bytes / 1_000_000_000))
                    .node(&node.name.v),
                );
            }
        }
    }
}

impl Rule for BootStorage {
    fn info(&self) -> &'static RuleInfo {
        &INFO
    }

    fn check(&self, cx: &Context, out: &mut Vec<Finding>) {
        for node in &cx.site.nodes {
            let config = &node.config;
            let mut has_root = false;
            for dev in config.devices.iter() {
                for p in &dev.partitions {
                    for t in [ROOT, BOOT] {
                        if p.name.v == t.partition_name
                            || mounted_at(p.filesystem.as_ref(), t.mountpoint)
                        {
                            has_root |= t.mountpoint == "/";
                            check_size(t, "partition", &p.name, p.loc, p.size.as_ref(), node, out);
                        }
                    }
                }
            }
            for vg in config.volume_groups.iter() {
                for lv in &vg.logical_volumes {
                    for t in [ROOT, BOOT] {
                        if mounted_at(lv.filesystem.as_ref(), t.mountpoint) {
                            has_root |= t.mountpoint == "/";
                            check_size(
                                t,
                                "logical volume",
                                &lv.name,
                                lv.loc,
                                lv.size.as_ref(),
                                node,
                                out,
                            );
                        }
                    }
                }
            }
            // A node whose profile chain is broken has only its own storage here; DD002 reports
            // the chain, and the root is most likely in the missing profile.
            if has_root || node.chain_error.is_some() {
                continue;
            }
            let (loc, label) = match config.devices.first() {
                Some(d) => (d.name.loc, "no root filesystem on this node's devices"),
                None => (node.name.loc, "a node without storage"),
            };
            out.push(
                Finding::error(
                    INFO.code,
                    loc,
                    "no root filesystem: no partition is named `root` and nothing is mounted at `/`",
                )
                .label(label)
                .help(
                    "add a partition `{name: root, size: 30g, filesystem: {mountpoint: /}}`, or mount a \
                     partition or logical volume of at least 20 GB at `/`",
                )
                .node(&node.name.v),
            );
        }
    }
}
