//! DD1006 bond-rational: bond options fit the bonding mode.
//!
//! One pass over the links. Defaults (mon_rate 100, up_delay and down_delay 200) come from the
//! model, so an 802.3ad bond that sets only `mon_rate: 500` is caught too.

use crate::diag::{Finding, Severity};
use crate::model::{Bonding, NetworkLink};
use crate::source::{At, Loc};
use crate::validate::{Context, Rule, RuleInfo};

pub struct BondRational;

static INFO: RuleInfo = RuleInfo {
    code: "DD1006",
    name: "bond-rational",
    severity: Severity::Error,
    summary: "bond options fit the bonding mode",
    explanation: "\
An 802.3ad (LACP) bond needs `up_delay` and `down_delay` of at least `mon_rate` (defaults 200,
200 and 100 ms): the kernel only looks at the link every `mon_rate` ms, so a shorter delay is
silently rounded and slaves flap. `active-backup` and `balance-rr` bonds have no transmit hash
and no LACP rate: `hash` or `peer_rate` on them is an error, because the operator expects load
balancing that does not happen. Bond options on a link whose bonding is `disabled` (the default)
are ignored: a warning, since the link was probably meant to be a bond.
The old implementation crashed on every active-backup link and never checked balance-rr.",
    bad: r#"schema: drydock/NetworkLink/v1
metadata: {schema: metadata/Document/v1, name: data-link}
data:
  bonding: {mode: active-backup, hash: layer3+4}
  mtu: 9000
  trunking: {mode: 802.1q}
  allowed_networks: [mgmt]
"#,
    good: r#"schema: drydock/NetworkLink/v1
metadata: {schema: metadata/Document/v1, name: data-link}
data:
  bonding: {mode: active-backup}
  mtu: 9000
  trunking: {mode: 802.1q}
  allowed_networks: [mgmt]
"#,
};

/// `up_delay` or `down_delay` of an 802.3ad bond shorter than its `mon_rate`.
fn check_delay(
    link: &NetworkLink,
    b: &Bonding,
    key: &str,
    value: i64,
    written: Option<&At<i64>>,
    out: &mut Vec<Finding>,
) {
    let mon_rate = b.mon_rate();
    if value >= mon_rate {
        return;
    }
    // Point at the delay when it is written, else at the mon_rate that makes the default too short.
    let loc = written
        .map(|w| w.loc)
        .or(b.mon_rate.as_ref().map(|m| m.loc))
        .unwrap_or(b.loc);
    let mut f = Finding::error(
        INFO.code,
        loc,
        format!(
            "{key} {value} ms of 802.3ad bond `{}` is less than its mon_rate {mon_rate} ms",
            link.name.v
        ),
    )
    .label(format!("less than mon_rate {mon_rate}"))
    .help(format!(
        "set {key} to at least mon_rate ({mon_rate}), or lower mon_rate"
    ));
    if let (Some(_), Some(m)) = (written, &b.mon_rate) {
        f = f.related(m.loc, "mon_rate set here");
    }
    out.push(f);
}

impl Rule for BondRational {
    fn info(&self) -> &'static RuleInfo {
        &INFO
    }

    fn check(&self, cx: &Context, out: &mut Vec<Finding>) {
        for link in &cx.site.links {
            let b = &link.bonding;
            let mode_loc = b.mode.as_ref().map_or(b.loc, |m| m.loc);
            match b.mode() {
                "802.3ad" => {
                    check_delay(link, b, "up_delay", b.up_delay(), b.up_delay.as_ref(), out);
                    check_delay(
                        link,
                        b,
                        "down_delay",
                        b.down_delay(),
                        b.down_delay.as_ref(),
                        out,
                    );
                }
                mode @ ("active-backup" | "balance-rr") => {
                    for (key, v) in [("hash", &b.hash), ("peer_rate", &b.peer_rate)] {
                        let Some(v) = v else { continue };
                        out.push(
                            Finding::error(
                                INFO.code,
                                v.loc,
                                format!("{key} `{}` is set on {mode} bond `{}`, which has none", v.v, link.name.v),
                            )
                            .label(format!("not used by {mode}"))
                            .related(mode_loc, "bonding mode set here")
                            .help(format!(
                                "remove {key}; it applies only to 802.3ad bonds (use mode 802.3ad for LACP with a transmit hash)"
                            )),
                        );
                    }
                }
                "disabled" => {
                    let options: [(&str, Option<Loc>); 5] = [
                        ("hash", b.hash.as_ref().map(|v| v.loc)),
                        ("peer_rate", b.peer_rate.as_ref().map(|v| v.loc)),
                        ("mon_rate", b.mon_rate.as_ref().map(|v| v.loc)),
                        ("up_delay", b.up_delay.as_ref().map(|v| v.loc)),
                        ("down_delay", b.down_delay.as_ref().map(|v| v.loc)),
                    ];
                    for (key, loc) in options {
                        let Some(loc) = loc else { continue };
                        let mut f = Finding::warning(
                            INFO.code,
                            loc,
                            format!("bond option {key} is ignored: bonding of link `{}` is disabled", link.name.v),
                        )
                        .label("ignored")
                        .help("remove the option, or set a bonding mode (802.3ad, active-backup or balance-rr)");
                        if let Some(m) = &b.mode {
                            f = f.related(m.loc, "bonding disabled here");
                        }
                        out.push(f);
                    }
                }
                // Any other mode is a schema error (DD001).
                _ => {}
            }
        }
    }
}
