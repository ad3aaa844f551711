//! DD1010 storage-sizing: sizes parse, and percentages add up to at most 99% per device and per
//! volume group.
//!
//! Per node, one pass over its partitions (summed per device) and one over its logical volumes
//! (summed per volume group). Absolute sizes are not summed: the device sizes are only known
//! once the hardware is, so that check belongs to the provisioner.

use crate::diag::{Finding, Severity};
use crate::model::size::{Size, UNITS_HELP};
use crate::source::{At, Loc};
use crate::validate::{Context, Rule, RuleInfo};

pub struct StorageSizing;

static INFO: RuleInfo = RuleInfo {
    code: "DD1010",
    name: "storage-sizing",
    severity: Severity::Error,
    summary: "sizes parse, and percentages add up to at most 99% per device and per volume group",
    explanation: "\
Every partition and logical volume size must parse: a whole number and a unit (`30g`, `500mb`,
`1TiB`, `10%`, `>100g`; a unit is all lower or all upper case). A `N%` size is that share of its
device (for partitions) or its volume group (for logical volumes), and the shares of one device
or one volume group add up to at most 99%: the rest holds the partition table and LVM metadata,
and the provisioner fails on a layout that does not fit.
The old implementation summed the logical volumes of all volume groups together (so two groups
at 60% each were rejected) and crashed when a sum went over 99%.",
    bad: r#"schema: drydock/BaremetalNode/v1
metadata: {schema: metadata/Document/v1, name: n2}
data:
  host_profile: base
  metadata: {boot_mac: '52:54:00:00:00:02'}
  storage:
    physical_devices:
      sdb:
        partitions:
          - {name: images, size: 60%, filesystem: {mountpoint: /srv/images}}
          - {name: backups, size: 50%, filesystem: {mountpoint: /srv/backups}}
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
      sdb:
        partitions:
          - {name: images, size: 60%, filesystem: {mountpoint: /srv/images}}
          - {name: backups, size: 39%, filesystem: {mountpoint: /srv/backups}}
  addressing:
    - {network: oob, address: 172.16.0.12}
    - {network: pxe, address: dhcp}
    - {network: mgmt, address: 172.16.2.12}
"#,
};

/// The percentages of one device or volume group.
#[derive(Default)]
struct Shares {
    total: u64,
    locs: Vec<(Loc, u64)>,
}

impl Shares {
    /// Parse `size`; report it if it does not parse, add it if it is a percentage.
    fn add(&mut self, size: &At<String>, node: &str, out: &mut Vec<Finding>) {
        match Size::parse(&size.v) {
            Err(e) => out.push(
                Finding::error(INFO.code, size.loc, format!("{e}"))
                    .label("not a size")
                    .help(UNITS_HELP)
                    .node(node),
            ),
            Ok(s) => {
                if let Some(p) = s.percent() {
                    self.total = self.total.saturating_add(p);
                    self.locs.push((size.loc, p));
                }
            }
        }
    }

    fn report(
        self,
        name: &At<String>,
        what: &str,
        parts: &str,
        node: &str,
        out: &mut Vec<Finding>,
    ) {
        if self.total <= 99 {
            return;
        }
        let mut f = Finding::error(
            INFO.code,
            name.loc,
            format!(
                "the {parts} of {what} `{}` take {}%, more than 99%",
                name.v, self.total
            ),
        )
        .label(format!("{}% in total", self.total));
        for (loc, p) in self.locs {
            f = f.related(loc, format!("{p}%"));
        }
        out.push(
            f.help(format!(
                "lower the percentages so they add up to at most 99% of the {what} (the rest holds its metadata), or give some {parts} absolute sizes"
            ))
            .node(node),
        );
    }
}

impl Rule for StorageSizing {
    fn info(&self) -> &'static RuleInfo {
        &INFO
    }

    fn check(&self, cx: &Context, out: &mut Vec<Finding>) {
        for node in &cx.site.nodes {
            let n = node.name.v.as_str();
            for dev in node.config.devices.iter() {
                let mut shares = Shares::default();
                for size in dev.partitions.iter().filter_map(|p| p.size.as_ref()) {
                    shares.add(size, n, out);
                }
                shares.report(&dev.name, "device", "partitions", n, out);
            }
            for vg in node.config.volume_groups.iter() {
                let mut shares = Shares::default();
                for size in vg.logical_volumes.iter().filter_map(|lv| lv.size.as_ref()) {
                    shares.add(size, n, out);
                }
                shares.report(&vg.name, "volume group", "logical volumes", n, out);
            }
        }
    }
}
