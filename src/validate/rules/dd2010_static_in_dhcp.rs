//! DD2010 static-in-dhcp: static addresses are not inside a DHCP range of their network.

use crate::diag::{Finding, Severity};
use crate::validate::{Context, Rule, RuleInfo};

pub struct StaticInDhcp;

static INFO: RuleInfo = RuleInfo {
    code: "DD2010",
    name: "static-in-dhcp",
    severity: Severity::Error,
    summary: "static addresses are not inside a DHCP range of their network",
    explanation: "TODO",
    bad: "",
    good: "",
};

impl Rule for StaticInDhcp {
    fn info(&self) -> &'static RuleInfo {
        &INFO
    }

    fn check(&self, _cx: &Context, _out: &mut Vec<Finding>) {}
}
