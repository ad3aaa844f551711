//! DD1006 bond-rational: bond options fit the bonding mode.

use crate::diag::{Finding, Severity};
use crate::validate::{Context, Rule, RuleInfo};

pub struct BondRational;

static INFO: RuleInfo = RuleInfo {
    code: "DD1006",
    name: "bond-rational",
    severity: Severity::Error,
    summary: "bond options fit the bonding mode",
    explanation: "TODO",
    bad: "",
    good: "",
};

impl Rule for BondRational {
    fn info(&self) -> &'static RuleInfo {
        &INFO
    }

    fn check(&self, _cx: &Context, _out: &mut Vec<Finding>) {}
}
