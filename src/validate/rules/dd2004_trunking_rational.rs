//! DD2004 trunking-rational: several networks on a link need 802.1q; an untrunked link has an untagged default network.

use crate::diag::{Finding, Severity};
use crate::validate::{Context, Rule, RuleInfo};

pub struct TrunkingRational;

static INFO: RuleInfo = RuleInfo {
    code: "DD2004",
    name: "trunking-rational",
    severity: Severity::Error,
    summary: "several networks on a link need 802.1q; an untrunked link has an untagged default network",
    explanation: "TODO",
    bad: "",
    good: "",
};

impl Rule for TrunkingRational {
    fn info(&self) -> &'static RuleInfo {
        &INFO
    }

    fn check(&self, _cx: &Context, _out: &mut Vec<Finding>) {}
}
