//! DD2002 ip-locality: static addresses and route gateways lie inside their network's CIDR.

use crate::diag::{Finding, Severity};
use crate::validate::{Context, Rule, RuleInfo};

pub struct IpLocality;

static INFO: RuleInfo = RuleInfo {
    code: "DD2002",
    name: "ip-locality",
    severity: Severity::Error,
    summary: "static addresses and route gateways lie inside their network's CIDR",
    explanation: "TODO",
    bad: "",
    good: "",
};

impl Rule for IpLocality {
    fn info(&self) -> &'static RuleInfo {
        &INFO
    }

    fn check(&self, _cx: &Context, _out: &mut Vec<Finding>) {}
}
