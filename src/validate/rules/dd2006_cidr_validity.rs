//! DD2006 cidr-validity: CIDRs have no host bits set.

use crate::diag::{Finding, Severity};
use crate::validate::{Context, Rule, RuleInfo};

pub struct CidrValidity;

static INFO: RuleInfo = RuleInfo {
    code: "DD2006",
    name: "cidr-validity",
    severity: Severity::Error,
    summary: "CIDRs have no host bits set",
    explanation: "TODO",
    bad: "",
    good: "",
};

impl Rule for CidrValidity {
    fn info(&self) -> &'static RuleInfo {
        &INFO
    }

    fn check(&self, _cx: &Context, _out: &mut Vec<Finding>) {}
}
