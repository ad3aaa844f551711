//! DD2009 cidr-overlap: networks in one route domain do not overlap.

use crate::diag::{Finding, Severity};
use crate::validate::{Context, Rule, RuleInfo};

pub struct CidrOverlap;

static INFO: RuleInfo = RuleInfo {
    code: "DD2009",
    name: "cidr-overlap",
    severity: Severity::Error,
    summary: "networks in one route domain do not overlap",
    explanation: "TODO",
    bad: "",
    good: "",
};

impl Rule for CidrOverlap {
    fn info(&self) -> &'static RuleInfo {
        &INFO
    }

    fn check(&self, _cx: &Context, _out: &mut Vec<Finding>) {}
}
