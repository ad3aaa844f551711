//! DD2008 range-in-cidr: address ranges lie inside their network's CIDR and start <= end.

use crate::diag::{Finding, Severity};
use crate::validate::{Context, Rule, RuleInfo};

pub struct RangeInCidr;

static INFO: RuleInfo = RuleInfo {
    code: "DD2008",
    name: "range-in-cidr",
    severity: Severity::Error,
    summary: "address ranges lie inside their network's CIDR and start <= end",
    explanation: "TODO",
    bad: "",
    good: "",
};

impl Rule for RangeInCidr {
    fn info(&self) -> &'static RuleInfo {
        &INFO
    }

    fn check(&self, _cx: &Context, _out: &mut Vec<Finding>) {}
}
